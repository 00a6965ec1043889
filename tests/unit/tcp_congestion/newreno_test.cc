// NewReno (RFC 5681, RFC 6582): congestion avoidance and the window on loss and recovery. The
// rules it shares with CUBIC are in common_rules_test.cc.
#include <gtest/gtest.h>

#include <cstdint>

#include "ack_clock.h"
#include "net/tcp/congestion/newreno.h"

namespace demi::net::tcp::test {
namespace {

constexpr uint32_t kMss = 1000;

// A NewReno sender with `segments` of window, in slow start (no loss yet).
NewReno grown_to(uint32_t segments) {
  NewReno cc(kMss);
  AckClock clock{cc, kMss, 10ms};
  clock.ack_segments(segments - cc.cwnd() / kMss);
  EXPECT_EQ(cc.cwnd(), segments * kMss);
  return cc;
}

TEST(NewReno, name) {
  EXPECT_EQ(NewReno(kMss).name(), "newreno");
}

TEST(NewReno, rfc5681_3_1_congestion_avoidance_grows_one_smss_per_rtt) {
  NewReno cc = grown_to(100);
  cc.on_loss(100 * kMss, at(1));
  cc.on_recovery_end(at(1.05));
  ASSERT_EQ(cc.cwnd(), 50 * kMss);
  ASSERT_FALSE(cc.in_slow_start());
  AckClock clock{cc, kMss, 50ms, at(1.05)};
  for (uint32_t r = 1; r <= 20; ++r) {
    clock.round();
    EXPECT_EQ(cc.cwnd(), (50 + r) * kMss) << "round " << r;  // byte counting: exactly 1 SMSS
  }
  EXPECT_EQ(cc.ssthresh(), 50 * kMss);
}

TEST(NewReno, rfc3465_2_1_byte_counting_is_not_slowed_by_delayed_acks) {
  // SMSS * SMSS / cwnd per ACK would grow half as fast with an ACK every other segment;
  // counting bytes still gives about one SMSS per RTT.
  NewReno cc = grown_to(100);
  cc.on_loss(100 * kMss, at(1));
  AckClock clock{cc, kMss, 50ms, at(1)};
  clock.segments_per_ack = 2;
  clock.rounds(20);
  EXPECT_GE(cc.cwnd(), 69 * kMss);
  EXPECT_LE(cc.cwnd(), 70 * kMss);
}

TEST(NewReno, rfc5681_3_2_fast_retransmit_halves_the_flight) {
  NewReno cc = grown_to(64);
  cc.on_loss(64 * kMss, at(1));
  EXPECT_EQ(cc.ssthresh(), 32 * kMss);
  // cwnd = ssthresh: the connection adds the 3 * SMSS of RFC 6582 3.2 step 3 itself.
  EXPECT_EQ(cc.cwnd(), 32 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
}

TEST(NewReno, rfc5681_3_2_halves_flightsize_not_cwnd) {
  // An application-limited sender had less in flight than cwnd allowed.
  NewReno cc = grown_to(64);
  cc.on_loss(20 * kMss, at(1));
  EXPECT_EQ(cc.ssthresh(), 10 * kMss);
  EXPECT_EQ(cc.cwnd(), 10 * kMss);
}

TEST(NewReno, rfc6582_3_2_step_6_full_ack_leaves_cwnd_at_ssthresh) {
  NewReno cc = grown_to(40);
  cc.on_loss(40 * kMss, at(1));
  cc.on_recovery_end(at(1.1));
  EXPECT_EQ(cc.cwnd(), 20 * kMss);
  EXPECT_EQ(cc.ssthresh(), 20 * kMss);
  // Congestion avoidance counts from an empty byte counter.
  cc.on_ack(19 * kMss, 20 * kMss, 10ms, at(1.2));
  EXPECT_EQ(cc.cwnd(), 20 * kMss);
  cc.on_ack(kMss, 20 * kMss, 10ms, at(1.21));
  EXPECT_EQ(cc.cwnd(), 21 * kMss);
}

TEST(NewReno, rfc5681_3_1_timeout_then_slow_start_to_half_the_old_flight) {
  NewReno cc = grown_to(64);
  cc.on_timeout(64 * kMss, at(1));
  EXPECT_EQ(cc.cwnd(), kMss);
  EXPECT_EQ(cc.ssthresh(), 32 * kMss);
  AckClock clock{cc, kMss, 10ms, at(1)};
  clock.rounds(5);  // 1, 2, 4, 8, 16 -> 32
  EXPECT_EQ(cc.cwnd(), 32 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
  clock.round();
  EXPECT_EQ(cc.cwnd(), 33 * kMss);
}

TEST(NewReno, a_loss_clears_partial_byte_count) {
  NewReno cc = grown_to(20);
  cc.on_loss(20 * kMss, at(1));  // cwnd 10 segments
  cc.on_ack(9 * kMss, 10 * kMss, 10ms, at(1.1));
  cc.on_loss(10 * kMss, at(1.2));  // cwnd 5 segments; the 9 counted segments are forgotten
  cc.on_ack(4 * kMss, 5 * kMss, 10ms, at(1.3));
  EXPECT_EQ(cc.cwnd(), 5 * kMss);
  cc.on_ack(kMss, 5 * kMss, 10ms, at(1.4));
  EXPECT_EQ(cc.cwnd(), 6 * kMss);
}

}  // namespace
}  // namespace demi::net::tcp::test
