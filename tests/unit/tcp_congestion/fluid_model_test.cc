// Both controllers on a fluid model of one bottleneck: a link of fixed capacity with a drop-tail
// buffer. Each round trip the sender's whole window is in flight; what exceeds the link's
// bandwidth-delay product waits in the buffer (lengthening the RTT), and a window larger than
// BDP + buffer loses its excess, which the sender detects as one congestion event. This is not
// TCP (the connection's tests and the simulator do that), but it is enough to see that the
// controllers fill a link and how fast they come back after a loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ack_clock.h"
#include "net/tcp/congestion/congestion_control.h"

namespace demi::net::tcp::test {
namespace {

double seconds(sched::Duration d) {
  return std::chrono::duration<double>(d).count();
}
sched::Duration duration(double s) {
  return std::chrono::duration_cast<sched::Duration>(std::chrono::duration<double>(s));
}

struct Path {
  double capacity;  // bytes per second
  sched::Duration base_rtt;
  double buffer;  // bytes
  double bdp() const { return capacity * seconds(base_rtt); }
  // The RTT with `window` bytes in flight: the base RTT plus the standing queue.
  sched::Duration rtt(double window) const {
    const double queue = std::clamp(window - bdp(), 0.0, buffer);
    return base_rtt + duration(queue / capacity);
  }
};

struct FluidRun {
  double utilisation = 0.0;  // bytes delivered / (capacity * time)
  int congestion_events = 0;
  std::vector<uint32_t> cwnd;  // at the start of each round
  std::vector<double> time;    // of each round, seconds since the run began
};

// Runs `cc` on `path` from `start` for `length`; the receiver ACKs every second segment.
FluidRun run_fluid(CongestionControl& cc, const Path& path, uint32_t mss, sched::Instant start,
                   sched::Duration length) {
  FluidRun run;
  sched::Instant now = start;
  const sched::Instant end = start + length;
  double delivered = 0.0;
  const uint32_t per_ack = 2 * mss;
  while (now < end) {
    const uint32_t window = cc.cwnd();
    run.cwnd.push_back(window);
    run.time.push_back(seconds(now - start));
    const double w = static_cast<double>(window);
    const sched::Duration rtt = path.rtt(w);
    if (w > path.bdp() + path.buffer) {
      // The link ran full for this round and dropped the excess. Duplicate ACKs tell the sender
      // one RTT later; recovery takes another round, in which the reduced window goes out.
      ++run.congestion_events;
      delivered += path.capacity * seconds(rtt);
      now += rtt;
      cc.on_loss(window, now);
      const double w2 = static_cast<double>(cc.cwnd());
      const sched::Duration rtt2 = path.rtt(w2);
      delivered += std::min(w2, path.capacity * seconds(rtt2));
      now += rtt2;
      cc.on_recovery_end(now);
      continue;
    }
    const uint32_t acks = std::max<uint32_t>(1, window / per_ack);
    for (uint32_t i = 0; i < acks; ++i) {
      cc.on_ack(per_ack, window, rtt, now + rtt * (i + 1) / acks);
    }
    delivered += w;  // at most BDP + buffer: the link keeps up within this RTT
    now += rtt;
  }
  run.utilisation = delivered / (path.capacity * seconds(now - start));
  return run;
}

// Grows `cc` in slow start to just past `window` bytes, as a sender that is about to overflow
// the path: the common starting point for comparing recoveries.
void grow_past(CongestionControl& cc, double window, uint32_t mss, sched::Instant now) {
  while (static_cast<double>(cc.cwnd()) <= window) {
    cc.on_ack(mss, cc.cwnd(), sched::Duration::zero(), now);
  }
}

// Seconds from the start of `run` until cwnd is back to `fraction` of its first value (the
// window that overflowed), or nullopt if it never is.
std::optional<double> time_to_regain(const FluidRun& run, double fraction) {
  const double target = fraction * static_cast<double>(run.cwnd.front());
  for (std::size_t i = 1; i < run.cwnd.size(); ++i) {
    if (static_cast<double>(run.cwnd[i]) >= target) {
      return run.time[i];
    }
  }
  return std::nullopt;
}

constexpr uint32_t kMss = 1460;

std::unique_ptr<CongestionControl> make(const std::string& name) {
  return make_congestion_control(name, kMss, sched::Instant{});
}

TEST(FluidModel, both_controllers_keep_a_moderate_path_busy) {
  // 100 Mbit/s, 10 ms: BDP = 125000 bytes, about 86 segments. Many sawtooth cycles in 60 s.
  for (const double buffer_bdps : {1.0, 0.5, 0.125}) {
    const Path path{12.5e6, 10ms, 0.0};
    const Path p{path.capacity, path.base_rtt, buffer_bdps * path.bdp()};
    for (const std::string name : {"newreno", "cubic"}) {
      auto cc = make(name);
      const FluidRun run = run_fluid(*cc, p, kMss, sched::Instant{}, 60s);
      std::printf("[ fluid    ] %-7s 100 Mbit/s 10 ms, buffer %.3f BDP: utilisation %.3f, %d congestion events\n",
                  name.c_str(), buffer_bdps, run.utilisation, run.congestion_events);
      EXPECT_GT(run.utilisation, 0.6) << name << ", buffer " << buffer_bdps << " BDP";
      EXPECT_LE(run.utilisation, 1.0 + 1e-9) << name;
      EXPECT_GE(run.congestion_events, 5) << name << ": the link was never filled";
    }
  }
}

TEST(FluidModel, cubic_recovers_faster_on_a_long_fat_path) {
  // 1 Gbit/s, 100 ms: BDP = 12.5 MB, about 8560 segments; buffer BDP / 4. Both senders start by
  // overflowing it at W = 1.25 BDP (about 10700 segments), and then run for 60 s.
  // By hand: NewReno halves and adds one segment per RTT, so it needs 0.45 W = 4800 RTTs
  // (480 s) to regain 95% of W. CUBIC drops to 0.7 W with K = cbrt(0.3 W / 0.4) = 20 s, and
  // W_cubic(t) = 0.95 W when (K - t)^3 = 0.05 W / 0.4, t = 20 - 11 = 9 s.
  const Path base{125e6, 100ms, 0.0};
  const Path path{base.capacity, base.base_rtt, base.bdp() / 4.0};
  FluidRun runs[2];
  const std::string names[2] = {"newreno", "cubic"};
  for (int i = 0; i < 2; ++i) {
    auto cc = make(names[i]);
    grow_past(*cc, path.bdp() + path.buffer, kMss, sched::Instant{});
    runs[i] = run_fluid(*cc, path, kMss, sched::Instant{}, 60s);
    const auto t95 = time_to_regain(runs[i], 0.95);
    std::printf("[ fluid    ] %-7s 1 Gbit/s 100 ms: utilisation %.3f, 95%% of W regained after %s s\n",
                names[i].c_str(), runs[i].utilisation, t95 ? std::to_string(*t95).c_str() : "> 60");
  }
  const FluidRun& reno = runs[0];
  const FluidRun& cubic = runs[1];
  EXPECT_FALSE(time_to_regain(reno, 0.95).has_value());
  const auto cubic_t95 = time_to_regain(cubic, 0.95);
  ASSERT_TRUE(cubic_t95.has_value());
  EXPECT_NEAR(*cubic_t95, 9.0, 1.5);
  // The window (and with it the link) stays fuller: NewReno averages about two thirds of the link.
  EXPECT_GT(cubic.utilisation, 0.9);
  EXPECT_GT(cubic.utilisation, reno.utilisation + 0.15);
  EXPECT_GT(reno.utilisation, 0.6);
}

TEST(FluidModel, a_run_replays_exactly) {
  // Time comes only from the arguments: the same inputs give the same windows, bit for bit.
  const Path path{12.5e6, 10ms, 62500.0};
  auto a = make("cubic");
  auto b = make("cubic");
  const FluidRun ra = run_fluid(*a, path, kMss, sched::Instant{}, 20s);
  const FluidRun rb = run_fluid(*b, path, kMss, sched::Instant{}, 20s);
  EXPECT_EQ(ra.cwnd, rb.cwnd);
  EXPECT_EQ(ra.utilisation, rb.utilisation);
}

}  // namespace
}  // namespace demi::net::tcp::test
