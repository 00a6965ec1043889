// The RFC 5681 rules NewReno and CUBIC share: initial window, slow start with byte counting,
// the retransmission timeout, idle restart and SMSS changes. Each test runs on both.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "ack_clock.h"
#include "net/tcp/congestion/congestion_control.h"
#include "net/tcp/congestion/window_rules.h"

namespace demi::net::tcp::test {
namespace {

constexpr uint32_t kInfinite = UINT32_MAX;

class CommonRules : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<CongestionControl> make(uint32_t mss) {
    auto cc = make_congestion_control(GetParam(), mss, sched::Instant{});
    EXPECT_NE(cc, nullptr);
    return cc;
  }
};

INSTANTIATE_TEST_SUITE_P(Controllers, CommonRules, ::testing::Values("newreno", "cubic"),
                         [](const auto& param_info) { return param_info.param; });

// RFC 6928 2: IW = min(10 * MSS, max(2 * MSS, 14600)).
static_assert(window_rules::initial_window(1460) == 14600);
static_assert(window_rules::initial_window(536) == 5360);
static_assert(window_rules::initial_window(4000) == 14600);
static_assert(window_rules::initial_window(9000) == 18000);

TEST_P(CommonRules, rfc6928_2_initial_window_for_several_mss) {
  struct Case {
    uint32_t mss, iw;
  };
  // 10 segments up to an MSS of 1460, then 14600 bytes, then 2 segments from an MSS of 7300.
  for (const Case c : {Case{100, 1000}, Case{536, 5360}, Case{1000, 10000}, Case{1460, 14600}, Case{1461, 14600},
                       Case{4000, 14600}, Case{7300, 14600}, Case{8960, 17920}, Case{9000, 18000}}) {
    auto cc = make(c.mss);
    EXPECT_EQ(cc->cwnd(), c.iw) << "mss " << c.mss;
    // RFC 5681 3.1: ssthresh starts arbitrarily high, so the connection starts in slow start.
    EXPECT_EQ(cc->ssthresh(), kInfinite);
    EXPECT_TRUE(cc->in_slow_start());
  }
}

TEST_P(CommonRules, rfc5681_3_1_slow_start_doubles_per_rtt) {
  auto cc = make(1000);
  AckClock clock{*cc, 1000, 50ms};
  uint32_t expected = 10000;
  for (int r = 0; r < 6; ++r) {
    clock.round();
    expected *= 2;
    EXPECT_EQ(cc->cwnd(), expected) << "round " << r;
  }
}

TEST_P(CommonRules, rfc3465_2_2_delayed_acks_still_double_the_window) {
  // With an ACK every second segment, L = 2 * SMSS lets each ACK count both segments.
  auto cc = make(1000);
  AckClock clock{*cc, 1000, 50ms};
  clock.segments_per_ack = 2;
  clock.rounds(4);
  EXPECT_EQ(cc->cwnd(), 160000u);
}

TEST_P(CommonRules, rfc3465_2_2_abc_limits_a_stretch_ack_to_two_smss) {
  auto cc = make(1000);
  cc->on_ack(10 * 1000, 10000, 10ms, at(0.01));
  EXPECT_EQ(cc->cwnd(), 12000u);  // not 20000
  cc->on_ack(500, 12000, 10ms, at(0.02));
  EXPECT_EQ(cc->cwnd(), 12500u);  // a partial segment counts its bytes
  cc->on_ack(0, 12500, 10ms, at(0.03));
  EXPECT_EQ(cc->cwnd(), 12500u);  // nothing acknowledged, nothing grows
}

TEST_P(CommonRules, rfc3465_2_2_stretch_acks_grow_by_half_per_rtt) {
  // Four segments per ACK, two counted: the window grows 1.5 times per round trip.
  auto cc = make(1000);
  cc->on_timeout(32000, at(0));  // ssthresh high enough, cwnd = 1 SMSS
  cc->on_ack(7000, 1000, 10ms, at(0.01));
  ASSERT_EQ(cc->cwnd(), 3000u);
  cc->on_ack(1000, 3000, 10ms, at(0.02));
  ASSERT_EQ(cc->cwnd(), 4000u);
  AckClock clock{*cc, 1000, 10ms, at(0.02)};
  clock.segments_per_ack = 4;
  clock.round();  // 1 ACK of 4 segments
  EXPECT_EQ(cc->cwnd(), 6000u);
}

TEST_P(CommonRules, rfc5681_3_1_slow_start_stops_at_ssthresh) {
  auto cc = make(1000);
  cc->on_timeout(40000, at(0));
  const uint32_t ssthresh = cc->ssthresh();  // 20000 (NewReno) or 28000 (CUBIC)
  AckClock clock{*cc, 1000, 20ms};
  int round = 0;
  for (; cc->in_slow_start(); ++round) {
    clock.round();
  }
  // Doubling from 1 SMSS reaches ssthresh in the 5th round; the ACKs of that round after the
  // crossing count in congestion avoidance, which adds at most about one SMSS.
  EXPECT_EQ(round, 5);
  EXPECT_GE(cc->cwnd(), ssthresh);
  EXPECT_LE(cc->cwnd(), ssthresh + 1000);
  // From there the window grows linearly, about one SMSS per RTT, not doubling.
  const uint32_t before = cc->cwnd();
  clock.rounds(10);
  EXPECT_GE(cc->cwnd(), before + 8000);
  EXPECT_LE(cc->cwnd(), before + 12000);
  EXPECT_EQ(cc->ssthresh(), ssthresh);
}

TEST_P(CommonRules, rfc5681_3_1_timeout_leaves_one_smss) {
  auto cc = make(1460);
  AckClock clock{*cc, 1460, 30ms};
  clock.rounds(3);
  ASSERT_EQ(cc->cwnd(), 8u * 14600u);
  cc->on_timeout(cc->cwnd(), clock.now);
  EXPECT_EQ(cc->cwnd(), 1460u);  // the loss window
  EXPECT_TRUE(cc->in_slow_start());
  // NewReno halves FlightSize; CUBIC multiplies by beta_cubic (RFC 9438 4.8).
  const uint32_t ssthresh = GetParam() == "newreno" ? 8 * 14600 / 2 : 8 * 14600 * 7 / 10;
  EXPECT_EQ(cc->ssthresh(), ssthresh);
}

TEST_P(CommonRules, rfc5681_3_1_repeated_timeout_holds_ssthresh) {
  auto cc = make(1000);
  cc->on_timeout(100000, at(1));
  const uint32_t ssthresh = cc->ssthresh();
  // The retransmission itself times out: ssthresh stays (FlightSize is now one segment).
  cc->on_timeout(1000, at(2));
  EXPECT_EQ(cc->ssthresh(), ssthresh);
  EXPECT_EQ(cc->cwnd(), 1000u);
  // New data acknowledged: a later timeout is a new event.
  cc->on_ack(1000, 1000, 10ms, at(3));
  cc->on_timeout(20000, at(4));
  EXPECT_LT(cc->ssthresh(), ssthresh);
  EXPECT_EQ(cc->ssthresh(), GetParam() == "newreno" ? 10000u : 14000u);
}

TEST_P(CommonRules, rfc5681_3_1_ssthresh_is_at_least_two_smss) {
  auto cc = make(1000);
  cc->on_loss(1500, at(1));
  EXPECT_EQ(cc->ssthresh(), 2000u);
  EXPECT_EQ(cc->cwnd(), 2000u);
  cc->on_timeout(1000, at(2));
  EXPECT_EQ(cc->ssthresh(), 2000u);
}

TEST_P(CommonRules, rfc5681_4_1_idle_restart_shrinks_to_initial_window) {
  auto cc = make(1000);
  AckClock clock{*cc, 1000, 10ms};
  clock.rounds(3);
  ASSERT_EQ(cc->cwnd(), 80000u);
  const uint32_t ssthresh = cc->ssthresh();
  cc->on_idle_restart(clock.now + 5s);
  EXPECT_EQ(cc->cwnd(), 10000u);  // RW = min(IW, cwnd)
  EXPECT_EQ(cc->ssthresh(), ssthresh);
}

TEST_P(CommonRules, rfc5681_4_1_idle_restart_keeps_a_smaller_window) {
  auto cc = make(1000);
  cc->on_timeout(100000, at(1));
  cc->on_ack(1000, 1000, 10ms, at(1.01));
  cc->on_ack(1000, 2000, 10ms, at(1.02));
  ASSERT_EQ(cc->cwnd(), 3000u);
  cc->on_idle_restart(at(10));
  EXPECT_EQ(cc->cwnd(), 3000u);
}

TEST_P(CommonRules, set_mss_before_any_ack_gives_the_new_initial_window) {
  // The controller is often made before the handshake settled the MSS.
  auto cc = make(536);
  ASSERT_EQ(cc->cwnd(), 5360u);
  cc->set_mss(1460);
  EXPECT_EQ(cc->cwnd(), 14600u);
  cc->set_mss(9000);
  EXPECT_EQ(cc->cwnd(), 18000u);
  EXPECT_EQ(cc->ssthresh(), kInfinite);
}

TEST_P(CommonRules, set_mss_later_keeps_the_window_in_segments) {
  auto cc = make(1000);
  AckClock clock{*cc, 1000, 10ms};
  clock.rounds(2);
  cc->on_loss(40000, clock.now);
  const uint32_t cwnd = cc->cwnd();
  const uint32_t ssthresh = cc->ssthresh();
  // A smaller path MTU: same number of segments, fewer bytes.
  cc->set_mss(500);
  EXPECT_EQ(cc->cwnd(), cwnd / 2);
  EXPECT_EQ(cc->ssthresh(), ssthresh / 2);
  cc->set_mss(500);  // no change, no effect
  EXPECT_EQ(cc->cwnd(), cwnd / 2);
  cc->set_mss(1000);
  EXPECT_EQ(cc->cwnd(), cwnd);
  EXPECT_EQ(cc->ssthresh(), ssthresh);
}

TEST_P(CommonRules, set_mss_never_leaves_less_than_one_segment) {
  auto cc = make(1000);
  cc->on_timeout(10000, at(1));
  ASSERT_EQ(cc->cwnd(), 1000u);
  cc->set_mss(1460);
  EXPECT_EQ(cc->cwnd(), 1460u);
  EXPECT_GE(cc->ssthresh(), 2u * 1460u);
}

TEST_P(CommonRules, cwnd_is_capped_so_that_inflation_cannot_overflow) {
  auto cc = make(65535);
  for (int i = 0; i < 20000; ++i) {
    cc->on_ack(2 * 65535, cc->cwnd(), 1ms, at(0.001 * i));
  }
  // About 8200 ACKs reach the cap in slow start; the rest count in congestion avoidance there.
  EXPECT_EQ(cc->cwnd(), window_rules::kMaxCwnd);
  EXPECT_FALSE(cc->in_slow_start() && cc->cwnd() < window_rules::kMaxCwnd);
}

TEST_P(CommonRules, a_zero_mss_is_treated_as_one_byte) {
  auto cc = make(0);
  EXPECT_EQ(cc->cwnd(), 10u);
  cc->on_loss(0, at(1));
  EXPECT_EQ(cc->cwnd(), 2u);
}

}  // namespace
}  // namespace demi::net::tcp::test
