// HyStart++ (RFC 9406) on its own, and in both controllers' initial slow start.
#include <gtest/gtest.h>

#include <cstdint>

#include "ack_clock.h"
#include "net/tcp/congestion/cubic.h"
#include "net/tcp/congestion/hystart.h"
#include "net/tcp/congestion/newreno.h"

namespace demi::net::tcp::test {
namespace {

constexpr uint32_t kMss = 1000;
using Phase = HyStartPlusPlus::Phase;
using Verdict = HyStartPlusPlus::Verdict;

// One round of `segments` ACKs (one segment each) with the same RTT sample; the last verdict.
Verdict round(HyStartPlusPlus& h, uint32_t segments, sched::Duration rtt) {
  Verdict v = Verdict::Grow;
  for (uint32_t i = 0; i < segments; ++i) v = h.on_ack(kMss, segments * kMss, rtt);
  return v;
}

TEST(HyStartPlusPlus, rfc9406_4_2_rtt_threshold_is_an_eighth_of_the_min_rtt_within_4_and_16_ms) {
  EXPECT_EQ(HyStartPlusPlus::rtt_threshold(10ms), 4ms);
  EXPECT_EQ(HyStartPlusPlus::rtt_threshold(80ms), 10ms);
  EXPECT_EQ(HyStartPlusPlus::rtt_threshold(500ms), 16ms);
}

TEST(HyStartPlusPlus, off_means_standard_slow_start) {
  HyStartPlusPlus h(false);
  EXPECT_EQ(round(h, 10, 10ms), Verdict::Grow);
  EXPECT_EQ(round(h, 20, 50ms), Verdict::Grow);
  EXPECT_EQ(h.phase(), Phase::Off);
}

TEST(HyStartPlusPlus, rfc9406_4_2_a_steady_rtt_stays_in_slow_start) {
  HyStartPlusPlus h(true);
  for (uint32_t n = 10; n < 1000; n *= 2) EXPECT_EQ(round(h, n, 10ms), Verdict::Grow);
  EXPECT_EQ(h.phase(), Phase::SlowStart);
}

TEST(HyStartPlusPlus, rfc9406_4_2_an_rtt_rise_enters_css_then_congestion_avoidance) {
  HyStartPlusPlus h(true);
  round(h, 10, 10ms);
  round(h, 20, 10ms);
  // 3 ms more is below the 4 ms threshold.
  EXPECT_EQ(round(h, 40, 13ms), Verdict::Grow);
  // 4 ms above the previous round's minimum (13 ms): CSS, once N_RTT_SAMPLE samples were taken.
  HyStartPlusPlus::Verdict v = Verdict::Grow;
  for (uint32_t i = 0; i < HyStartPlusPlus::kNRttSample - 1; ++i) v = h.on_ack(kMss, 80 * kMss, 17ms);
  EXPECT_EQ(v, Verdict::Grow);
  EXPECT_EQ(h.on_ack(kMss, 80 * kMss, 17ms), Verdict::GrowCss);
  EXPECT_EQ(h.phase(), Phase::Css);
  EXPECT_EQ(h.css_baseline_min_rtt(), 17ms);
  for (uint32_t i = HyStartPlusPlus::kNRttSample; i < 80; ++i)
    EXPECT_EQ(h.on_ack(kMss, 80 * kMss, 17ms), Verdict::GrowCss);
  // CSS_ROUNDS rounds later (the round CSS began in ends first), congestion avoidance.
  for (uint32_t r = 1; r < HyStartPlusPlus::kCssRounds; ++r) EXPECT_EQ(round(h, 90, 18ms), Verdict::GrowCss) << r;
  EXPECT_EQ(h.on_ack(kMss, 90 * kMss, 18ms), Verdict::Exit);
  EXPECT_EQ(h.phase(), Phase::Done);
  EXPECT_EQ(round(h, 90, 30ms), Verdict::Grow);  // standard from now on
}

TEST(HyStartPlusPlus, rfc9406_4_2_an_rtt_below_the_baseline_during_css_resumes_slow_start) {
  HyStartPlusPlus h(true);
  round(h, 10, 10ms);
  EXPECT_EQ(round(h, 20, 20ms), Verdict::GrowCss);
  EXPECT_EQ(round(h, 30, 12ms), Verdict::Grow);
  EXPECT_EQ(h.phase(), Phase::SlowStart);
}

TEST(HyStartPlusPlus, rfc9406_4_3_a_loss_ends_it) {
  HyStartPlusPlus h(true);
  round(h, 10, 10ms);
  h.stop();
  EXPECT_EQ(round(h, 20, 40ms), Verdict::Grow);
  EXPECT_EQ(h.phase(), Phase::Done);
}

// A sender whose RTT grows with the window beyond `bdp` segments: the queue fills.
template <typename Cc>
void slow_start_into_a_queue(Cc& cc, uint32_t bdp, int rounds) {
  sched::Instant now{};
  const sched::Duration base = 10ms;
  for (int r = 0; r < rounds && cc.in_slow_start(); ++r) {
    const uint32_t flight = cc.cwnd();
    const uint32_t segs = flight / kMss;
    for (uint32_t i = 0; i < segs; ++i) {
      // The i-th segment of the round waits behind max(0, i + segs - bdp) others... roughly the
      // queue the previous round left, growing as this round's burst adds to it.
      const uint32_t queued = segs + i > bdp ? segs + i - bdp : 0;
      const sched::Duration rtt = base + queued * 100us;
      cc.on_ack(kMss, flight, rtt, now + rtt * (i + 1) / segs);
    }
    now += base;
  }
}

TEST(HyStartPlusPlus, newreno_leaves_slow_start_before_doubling_past_the_queue) {
  NewReno plain(kMss);
  NewReno hy(kMss, true);
  slow_start_into_a_queue(plain, 100, 12);
  slow_start_into_a_queue(hy, 100, 12);
  EXPECT_TRUE(plain.in_slow_start());  // nothing but a loss would stop it
  EXPECT_GT(plain.cwnd(), 10000 * kMss);
  EXPECT_FALSE(hy.in_slow_start());
  EXPECT_LT(hy.cwnd(), 1024 * kMss);  // CSS began at 256 segments and grew a quarter as fast
  EXPECT_EQ(hy.hystart().phase(), Phase::Done);
  // Congestion avoidance from there: one SMSS per round.
  const uint32_t w = hy.cwnd();
  AckClock clock{hy, kMss, 10ms, at(10)};
  clock.round();
  EXPECT_EQ(hy.cwnd(), w + kMss);
}

TEST(HyStartPlusPlus, cubic_leaves_slow_start_into_congestion_avoidance_with_k_zero) {
  Cubic hy(kMss, true);
  slow_start_into_a_queue(hy, 100, 12);
  EXPECT_FALSE(hy.in_slow_start());
  EXPECT_EQ(hy.hystart().phase(), Phase::Done);
  // RFC 9438 4.10: no loss, so W_max is the window at the start of congestion avoidance, K = 0.
  EXPECT_TRUE(hy.epoch_started());
  EXPECT_EQ(hy.k(), 0.0);
  EXPECT_EQ(hy.w_max(), hy.cwnd_epoch());
}

TEST(HyStartPlusPlus, a_loss_in_slow_start_ends_it_in_both_controllers) {
  NewReno n(kMss, true);
  Cubic c(kMss, true);
  n.on_loss(10 * kMss, at(0.1));
  c.on_loss(10 * kMss, at(0.1));
  EXPECT_EQ(n.hystart().phase(), Phase::Done);
  EXPECT_EQ(c.hystart().phase(), Phase::Done);
  Cubic t(kMss, true);
  t.on_timeout(10 * kMss, at(0.1));
  EXPECT_EQ(t.hystart().phase(), Phase::Done);
}

}  // namespace
}  // namespace demi::net::tcp::test
