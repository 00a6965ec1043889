// CUBIC (RFC 9438): the decrease, the cubic curve, the Reno-friendly region, fast convergence,
// timeouts and idle periods. The rules it shares with NewReno are in common_rules_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "ack_clock.h"
#include "net/tcp/congestion/cubic.h"

namespace demi::net::tcp::test {
namespace {

constexpr uint32_t kMss = 1000;

// A CUBIC sender with `segments` of window, in slow start (no loss yet).
Cubic grown_to(uint32_t segments) {
  Cubic cc(kMss);
  AckClock clock{cc, kMss, 10ms};
  clock.ack_segments(segments - cc.cwnd() / kMss);
  EXPECT_EQ(cc.cwnd(), segments * kMss);
  return cc;
}

double segments(double bytes) {
  return bytes / kMss;
}

TEST(Cubic, name) {
  EXPECT_EQ(Cubic(kMss).name(), "cubic");
}

TEST(Cubic, rfc9438_4_3_alpha_cubic) {
  // 3 * (1 - 0.7) / (1 + 0.7) = 0.9 / 1.7
  EXPECT_NEAR(Cubic::kAlpha, 0.529411764705882, 1e-12);
}

TEST(Cubic, rfc9438_4_6_loss_multiplies_the_window_by_beta) {
  Cubic cc = grown_to(100);
  cc.on_loss(100 * kMss, at(1));
  EXPECT_EQ(cc.ssthresh(), 70 * kMss);
  EXPECT_EQ(cc.cwnd(), 70 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
  EXPECT_EQ(cc.w_max(), 100.0 * kMss);  // the first loss: no fast convergence
  EXPECT_EQ(cc.cwnd_prior(), 100.0 * kMss);
  // The congestion avoidance stage, and the curve's clock, start when recovery ends.
  EXPECT_FALSE(cc.epoch_started());
  cc.on_recovery_end(at(1.2));
  EXPECT_TRUE(cc.epoch_started());
  EXPECT_EQ(cc.t_epoch(), at(1.2));
  EXPECT_EQ(cc.cwnd(), 70 * kMss);
}

TEST(Cubic, rfc9438_4_6_decrease_uses_flightsize) {
  Cubic cc = grown_to(100);
  cc.on_loss(50 * kMss, at(1));
  EXPECT_EQ(cc.ssthresh(), 35 * kMss);
  EXPECT_EQ(cc.cwnd(), 35 * kMss);
  EXPECT_EQ(cc.w_max(), 100.0 * kMss);  // W_max is the window, whatever was in flight
}

// The worked example of the following tests: W_max = 288 segments, so that after the decrease
// cwnd_epoch = 0.7 * 288 = 201.6 and K = cbrt((288 - 201.6) / 0.4) = cbrt(216) = 6 s exactly.
// W_cubic(t) = 0.4 (t - 6)^3 + 288, in segments:
//   t:  0      1    2      3      4      5      6    7      8      9      10
//   W:  201.6  238  262.4  277.2  284.8  287.6  288  288.4  291.2  298.8  313.6
constexpr double kW[] = {201.6, 238.0, 262.4, 277.2, 284.8, 287.6, 288.0, 288.4, 291.2, 298.8, 313.6};

// W_max = 288 segments, loss at t = 1 s, recovery over at 1.1 s; RTT 100 ms.
Cubic after_loss_at_288() {
  Cubic cc = grown_to(288);
  cc.on_loss(288 * kMss, at(1.0));
  cc.on_recovery_end(at(1.1));
  return cc;
}

TEST(Cubic, rfc9438_4_2_k_and_the_curve_by_hand) {
  Cubic cc = after_loss_at_288();
  EXPECT_EQ(cc.cwnd(), 201600u);
  EXPECT_DOUBLE_EQ(cc.cwnd_epoch(), 201600.0);
  EXPECT_NEAR(cc.k(), 6.0, 1e-9);
  for (int t = 0; t <= 10; ++t) {
    EXPECT_NEAR(segments(cc.w_cubic(t)), kW[t], 1e-6) << "t = " << t;
  }
}

TEST(Cubic, rfc9438_4_4_the_window_follows_the_cubic_curve) {
  Cubic cc = after_loss_at_288();
  AckClock clock{cc, kMss, 100ms, at(1.1)};
  // RTT * W is large here (28.8 segment-seconds): W_est (about +0.53 segment per RTT) stays
  // far below the curve, so the window is the curve's. Each ACK moves cwnd 1/cwnd of the way to
  // W_cubic(t + RTT), so over a round trip cwnd lags that target by about one RTT and lands on
  // W_cubic(t) itself: within 0.1 segment with this driver, half a segment is the margin.
  for (int t = 1; t <= 10; ++t) {
    clock.rounds(10);
    const double w = segments(cc.cwnd());
    EXPECT_NEAR(w, kW[t], 0.5) << "t = " << t;
    EXPECT_LT(segments(cc.w_est()), w);
    // Below W_max the curve is concave, above it convex (at t = K itself cwnd sits at W_max).
    if (t != 6) {
      EXPECT_EQ(cc.region(), t < 6 ? Cubic::Region::Concave : Cubic::Region::Convex) << "t = " << t;
    }
  }
}

TEST(Cubic, rfc9438_4_4_reaches_w_max_at_k_and_not_before) {
  Cubic cc = after_loss_at_288();
  AckClock clock{cc, kMss, 100ms, at(1.1)};
  for (int r = 1; r <= 60; ++r) {
    clock.round();
    EXPECT_LE(cc.cwnd(), 288u * kMss) << "round " << r;
  }
  // t = K = 6 s: the plateau at W_max.
  EXPECT_NEAR(segments(cc.cwnd()), 288.0, 0.5);
  // Past K the curve turns convex and probes for more.
  clock.rounds(10);
  EXPECT_GT(cc.cwnd(), 288u * kMss);
}

TEST(Cubic, rfc9438_4_2_target_is_capped_at_one_and_a_half_cwnd) {
  // A window far below a distant W_max, long after the epoch began: W_cubic(t + RTT) is huge,
  // and one RTT may grow the window by at most half (slow start's rate is twice).
  Cubic cc = grown_to(1000);
  cc.on_loss(1000 * kMss, at(0));
  cc.on_recovery_end(at(0));
  AckClock clock{cc, kMss, 10ms, at(0)};
  clock.round();                    // one sample for the smoothed RTT
  cc.on_timeout(20 * kMss, at(1));  // cwnd 1 SMSS, ssthresh 14 segments, W_max forgotten
  clock.now = at(1);
  clock.rounds(4);  // slow start to 14 segments
  ASSERT_FALSE(cc.in_slow_start());
  clock.now = at(100);  // W_cubic(100 s) = 0.4 * 100^3 segments above cwnd_epoch
  const uint32_t before = cc.cwnd();
  clock.round();
  EXPECT_LE(cc.cwnd(), before + before / 2 + kMss);
  EXPECT_GE(cc.cwnd(), before + before / 3);
}

TEST(Cubic, rfc9438_4_3_reno_friendly_region_dominates_at_small_rtt_times_w) {
  // W_max = 20 segments, RTT 1 ms: K = cbrt(6 / 0.4) = 2.47 s = 2466 RTTs, while Reno grows by
  // a segment every millisecond. W_est rises by alpha_cubic = 0.529 segment per RTT from 14 to
  // cwnd_prior = 20 (6 / 0.529 = 11.3 RTTs), then by 1 per RTT: after 100 RTTs,
  // W_est = 20 + (100 - 11.3) = 108.7 segments, while W_cubic(0.1 s) = 0.4 (0.1 - 2.466)^3 + 20
  // = 14.7.
  Cubic cc = grown_to(20);
  cc.on_loss(20 * kMss, at(1));
  cc.on_recovery_end(at(1));
  EXPECT_NEAR(cc.k(), 2.466212, 1e-6);
  AckClock clock{cc, kMss, 1ms, at(1)};
  clock.rounds(100);
  EXPECT_EQ(cc.region(), Cubic::Region::RenoFriendly);
  EXPECT_NEAR(segments(cc.w_cubic(0.1)), 14.7, 0.05);
  EXPECT_NEAR(segments(cc.cwnd()), 108.7, 2.0);
  EXPECT_NEAR(cc.cwnd(), cc.w_est(), 1.0);
}

TEST(Cubic, rfc9438_4_3_alpha_is_below_one_until_w_est_reaches_cwnd_prior) {
  Cubic cc = grown_to(20);
  cc.on_loss(20 * kMss, at(1));
  cc.on_recovery_end(at(1));
  AckClock clock{cc, kMss, 1ms, at(1)};
  clock.rounds(5);  // 14 + 5 * 0.529 = 16.6 segments
  EXPECT_NEAR(segments(cc.w_est()), 16.6, 0.15);
}

TEST(Cubic, rfc9438_4_7_fast_convergence_lowers_w_max_when_losses_come_early) {
  Cubic cc = after_loss_at_288();
  AckClock clock{cc, kMss, 100ms, at(1.1)};
  clock.rounds(20);  // t = 2 s, cwnd near 262.4 segments, short of W_max = 288
  const double cwnd = cc.cwnd();
  ASSERT_LT(cwnd, 288.0 * kMss);
  cc.on_loss(cc.cwnd(), clock.now);
  // W_max = cwnd * (1 + 0.7) / 2, and the next K counts from there.
  EXPECT_NEAR(cc.w_max(), cwnd * 0.85, 1.0);
  EXPECT_EQ(cc.cwnd(), static_cast<uint32_t>(cwnd) * 7 / 10);
  cc.on_recovery_end(clock.now);
  const double k = std::cbrt((0.85 - 0.7) * segments(cwnd) / 0.4);
  EXPECT_NEAR(cc.k(), k, 1e-3);
  EXPECT_LT(cc.k(), 6.0);
}

TEST(Cubic, rfc9438_4_7_no_fast_convergence_past_w_max) {
  Cubic cc = after_loss_at_288();
  AckClock clock{cc, kMss, 100ms, at(1.1)};
  clock.rounds(80);  // t = 8 s: convex, above 288 segments
  const double cwnd = cc.cwnd();
  ASSERT_GT(cwnd, 288.0 * kMss);
  cc.on_loss(cc.cwnd(), clock.now);
  EXPECT_NEAR(cc.w_max(), cwnd, 1.0);  // cwnd() drops the fraction of a byte
}

TEST(Cubic, rfc9438_4_8_timeout_then_a_stage_with_k_zero) {
  Cubic cc = grown_to(100);
  cc.on_timeout(100 * kMss, at(1));
  EXPECT_EQ(cc.cwnd(), kMss);
  EXPECT_EQ(cc.ssthresh(), 70 * kMss);
  EXPECT_EQ(cc.w_max(), 0.0);
  AckClock clock{cc, kMss, 50ms, at(1)};
  while (cc.in_slow_start()) {
    clock.round();
  }
  // The first congestion avoidance stage after the timeout: K = 0, W_max = cwnd_epoch, and
  // W_est starts at cwnd_epoch too; the curve is convex from its start.
  EXPECT_TRUE(cc.epoch_started());
  EXPECT_EQ(cc.k(), 0.0);
  EXPECT_EQ(cc.w_max(), cc.cwnd_epoch());
  EXPECT_GE(cc.cwnd_epoch(), 70.0 * kMss);
  // W_cubic(t) = cwnd_epoch + 0.4 t^3 segments starts flat, so for a while W_est (alpha_cubic
  // per RTT up to cwnd_prior = 100 segments, then 1 per RTT) is ahead: Reno-friendly. The
  // cubic term wins after about 5 s (0.4 t^3 = 0.53 t / 50 ms); at 8 s it is
  // 0.4 * 512 = 204.8 segments above cwnd_epoch, W_est only about 140 above.
  clock.rounds(40);  // 2 s
  EXPECT_EQ(cc.region(), Cubic::Region::RenoFriendly);
  clock.rounds(120);  // 8 s
  EXPECT_EQ(cc.region(), Cubic::Region::Convex);
  EXPECT_NEAR(segments(cc.cwnd()), segments(cc.cwnd_epoch()) + 204.8, 10.0);
  EXPECT_GT(cc.cwnd(), cc.w_est());
}

TEST(Cubic, rfc5681_4_1_idle_restart_shrinks_window_and_restarts_the_epoch) {
  Cubic cc = after_loss_at_288();
  ASSERT_TRUE(cc.epoch_started());
  cc.on_idle_restart(at(5));
  EXPECT_EQ(cc.cwnd(), 10 * kMss);
  EXPECT_FALSE(cc.epoch_started());
  EXPECT_EQ(cc.w_max(), 288.0 * kMss);  // what the path held is still known
}

TEST(Cubic, rfc9438_5_8_idle_time_does_not_count_in_t) {
  // A window no larger than IW survives an idle restart: then t_epoch slides by the idle time.
  Cubic cc = grown_to(12);
  cc.on_loss(12 * kMss, at(1));  // cwnd 8.4 segments < IW = 10
  cc.on_recovery_end(at(1.1));
  cc.on_ack(kMss, 8 * kMss, 10ms, at(1.2));
  const sched::Instant epoch = cc.t_epoch();
  const uint32_t cwnd = cc.cwnd();
  cc.on_idle_restart(at(4.2));  // idle since the ACK at 1.2 s
  EXPECT_EQ(cc.t_epoch(), epoch + 3s);
  EXPECT_EQ(cc.cwnd(), cwnd);
}

TEST(Cubic, set_mss_keeps_the_curve_in_segments) {
  Cubic cc = after_loss_at_288();
  const double k = cc.k();
  cc.set_mss(2000);
  EXPECT_EQ(cc.cwnd(), 2u * 201600u);
  EXPECT_DOUBLE_EQ(cc.w_max(), 2.0 * 288000.0);
  EXPECT_EQ(cc.k(), k);
  EXPECT_NEAR(cc.w_cubic(1.0) / 2000.0, 238.0, 1e-6);
}

TEST(Cubic, srtt_smooths_samples_and_ignores_missing_ones) {
  Cubic cc(kMss);
  cc.on_ack(kMss, kMss, 80ms, at(0.1));
  EXPECT_EQ(cc.srtt(), 80ms);
  cc.on_ack(kMss, kMss, sched::Duration::zero(), at(0.2));  // Karn: no sample
  EXPECT_EQ(cc.srtt(), 80ms);
  cc.on_ack(kMss, kMss, 160ms, at(0.3));
  EXPECT_EQ(cc.srtt(), 90ms);  // 7/8 * 80 + 1/8 * 160
}

}  // namespace
}  // namespace demi::net::tcp::test
