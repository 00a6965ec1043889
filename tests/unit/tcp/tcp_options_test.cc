// Options and loss recovery: timestamps and PAWS (RFC 7323), window scaling (RFC 7323), SACK
// (RFC 2018, RFC 6675), fast retransmit and NewReno (RFC 5681, RFC 6582), SYN cookies.
#include <cerrno>

#include "tcp_harness.h"

namespace demi::net::tcp::test {
namespace {

using F = wire::TcpFlags;

// A peer SYN that offers everything.
wire::TcpRepr full_syn(const TcpTest& t, uint32_t isn, uint32_t tsval, uint8_t ws = 7) {
  (void)t;
  wire::TcpRepr r;
  r.src_port = 49500;
  r.dst_port = 80;
  r.seq = wire::SeqNumber{isn};
  r.flags = F::SYN;
  r.window = 65535;
  r.mss = 1460;
  r.window_scale = ws;
  r.sack_permitted = true;
  r.timestamps = wire::TcpTimestamps{tsval, 0};
  return r;
}

class TcpOptionsTest : public TcpTest {
 protected:
  static constexpr uint32_t kPeerTs = 5000;
  // ESTABLISHED with timestamps, SACK and window scaling (the peer's shift 7).
  SocketId established_full() { return established(full_syn(*this, kRemoteIsn, kPeerTs)); }
  // A segment from the peer with timestamps.
  wire::TcpRepr tseg(uint8_t flags, uint32_t seq, uint32_t ack, uint32_t tsval, uint16_t window = 1000) {
    wire::TcpRepr r = seg(flags, seq, ack, window);
    r.timestamps = wire::TcpTimestamps{tsval, last_tsval};
    return r;
  }
  uint32_t last_tsval = 0;
};

// =========================================================================================
// Timestamps and PAWS (RFC 7323)
// =========================================================================================

TEST_F(TcpOptionsTest, rfc7323_3_2_timestamps_are_negotiated_and_echoed) {
  SocketId s = established_full();
  ASSERT_TRUE(syn_ack.h.timestamps);
  EXPECT_EQ(syn_ack.h.timestamps->tsecr, kPeerTs);
  EXPECT_TRUE(layer().info(s)->timestamps);
  ASSERT_TRUE(send(s, "ts"));
  Sent d = next();
  ASSERT_TRUE(d.h.timestamps);
  EXPECT_EQ(d.h.timestamps->tsecr, kPeerTs + 1);  // the ACK that completed the handshake
  EXPECT_EQ(layer().info(s)->snd_mss, 1460u - 12u);
}

TEST_F(TcpOptionsTest, rfc7323_5_3_paws_drops_an_old_timestamp_and_acks) {
  SocketId s = established_full();
  inject(tseg(F::ACK, rseq, lseq, kPeerTs + 10), "new");
  Sent a = next();
  EXPECT_EQ(a.h.ack.raw(), rseq + 3);
  inject(tseg(F::ACK, rseq + 3, lseq, kPeerTs + 5), "old");  // TSval went backwards
  expect(F::ACK, lseq, rseq + 3);
  EXPECT_EQ(layer().readable(s), 3u);
  EXPECT_EQ(layer().counters().drop_paws, 1u);
}

TEST_F(TcpOptionsTest, rfc7323_5_3_paws_does_not_apply_to_rst) {
  SocketId s = established_full();
  wire::TcpRepr r = seg(F::RST, rseq);
  inject(r);
  EXPECT_EQ(state(s), TcpState::Closed);
}

TEST_F(TcpOptionsTest, rfc7323_3_2_segment_without_timestamps_is_dropped) {
  SocketId s = established_full();
  inject(seg(F::ACK, rseq, lseq), "nots");
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().readable(s), 0u);
  EXPECT_EQ(layer().counters().drop_no_timestamp, 1u);
}

TEST_F(TcpOptionsTest, rfc7323_4_rtt_is_measured_from_tsecr_even_for_retransmissions) {
  SocketId s = established_full();
  ASSERT_TRUE(send(s, "abc"));
  Sent first = next();
  advance(200ms);
  Sent again = next();  // retransmitted: Karn forbids timing it, the echoed timestamp does not lie
  advance(50ms);
  last_tsval = again.h.timestamps->tsval;
  inject(tseg(F::ACK, rseq, lseq + 3, kPeerTs + 2));
  EXPECT_EQ(layer().info(s)->srtt, 6250us);  // samples 0 and 50 ms: 7/8 * 0 + 50 / 8
  (void)first;
}

TEST_F(TcpOptionsTest, rfc7323_4_3_ts_recent_is_the_oldest_unacknowledged_timestamp) {
  cfg.delayed_ack_enabled = true;
  established_full();
  inject(tseg(F::ACK, rseq, lseq, kPeerTs + 10), std::string(1000, 'a'));
  inject(tseg(F::ACK, rseq + 1000, lseq, kPeerTs + 20), std::string(1000, 'b'));
  Sent a = next();  // every second segment
  ASSERT_TRUE(a.h.timestamps);
  EXPECT_EQ(a.h.timestamps->tsecr, kPeerTs + 10);
}

// =========================================================================================
// Window scaling (RFC 7323 2)
// =========================================================================================

TEST_F(TcpOptionsTest, rfc7323_2_window_scale_is_negotiated_both_ways) {
  SocketId s = established_full();
  ASSERT_TRUE(syn_ack.h.window_scale);
  EXPECT_EQ(*syn_ack.h.window_scale, 3);
  EXPECT_EQ(syn_ack.h.window, 65535);  // a SYN's window is never scaled
  auto info = layer().info(s);
  EXPECT_EQ(info->snd_wscale, 7);
  EXPECT_EQ(info->rcv_wscale, 3);
  // The peer's ACK said window 65535 << 7.
  EXPECT_EQ(info->snd_wnd, 65535u << 7);
  inject(tseg(F::ACK, rseq, lseq, kPeerTs + 3), "x");
  Sent a = next();
  EXPECT_EQ(a.h.window, (256 * 1024 - 1) >> 3);  // the free buffer, scaled down
}

TEST_F(TcpOptionsTest, rfc7323_2_2_no_scaling_unless_both_sides_offer) {
  wire::TcpRepr syn = full_syn(*this, kRemoteIsn, kPeerTs);
  syn.window_scale.reset();
  SocketId s = established(syn);
  EXPECT_FALSE(syn_ack.h.window_scale);
  EXPECT_EQ(layer().info(s)->rcv_wscale, 0);
  EXPECT_EQ(layer().info(s)->snd_wscale, 0);
}

TEST_F(TcpOptionsTest, rfc7323_2_3_shift_above_14_is_treated_as_14) {
  SocketId s = established(full_syn(*this, kRemoteIsn, kPeerTs, 15));
  EXPECT_EQ(layer().info(s)->snd_wscale, 14);
}

TEST_F(TcpOptionsTest, active_open_applies_scale_from_syn_ack) {
  SocketId s = syn_sent();
  wire::TcpRepr sa = seg(F::SYN | F::ACK, kRemoteIsn, lseq, 1000);
  sa.window_scale = 4;
  inject(sa);
  next();
  EXPECT_EQ(layer().info(s)->snd_wnd, 1000u);  // unscaled in the SYN,ACK
  inject(seg(F::ACK, rseq, lseq, 1000));
  EXPECT_EQ(layer().info(s)->snd_wnd, 16000u);
}

// =========================================================================================
// SACK generation (RFC 2018)
// =========================================================================================

TEST_F(TcpOptionsTest, rfc2018_4_sack_blocks_for_out_of_order_data_most_recent_first) {
  established_full();
  inject(tseg(F::ACK, rseq + 100, lseq, kPeerTs + 1), std::string(100, 'b'));
  Sent a = next();
  ASSERT_EQ(a.h.sack_count, 1);
  EXPECT_EQ(a.h.sack[0].left.raw(), rseq + 100);
  EXPECT_EQ(a.h.sack[0].right.raw(), rseq + 200);
  inject(tseg(F::ACK, rseq + 300, lseq, kPeerTs + 2), std::string(100, 'd'));
  Sent b = next();
  ASSERT_EQ(b.h.sack_count, 2);
  EXPECT_EQ(b.h.sack[0].left.raw(), rseq + 300);  // the newest first
  EXPECT_EQ(b.h.sack[1].left.raw(), rseq + 100);
  // Filling the first hole: the cumulative ACK moves, one block is left.
  inject(tseg(F::ACK, rseq, lseq, kPeerTs + 3), std::string(100, 'a'));
  Sent c = next();
  EXPECT_EQ(c.h.ack.raw(), rseq + 200);
  ASSERT_EQ(c.h.sack_count, 1);
  EXPECT_EQ(c.h.sack[0].left.raw(), rseq + 300);
}

TEST_F(TcpOptionsTest, rfc2018_3_at_most_three_sack_blocks_beside_timestamps) {
  established_full();
  for (uint32_t i = 0; i < 5; ++i) {
    inject(tseg(F::ACK, rseq + 100 + 200 * i, lseq, kPeerTs + 1 + i), std::string(100, 'x'));
    next();
  }
  inject(tseg(F::ACK, rseq + 2000, lseq, kPeerTs + 9), std::string(10, 'y'));
  Sent a = next();
  EXPECT_EQ(a.h.sack_count, 3);
  EXPECT_EQ(a.h.sack[0].left.raw(), rseq + 2000);
}

// Found by the simulator (loss5 seed 7): a full-sized data segment that also carried SACK
// blocks was larger than the MTU, IPv4 refused it, and every retransmission of it failed the same
// way until the connection timed out.
TEST_F(TcpOptionsTest, rfc6691_sack_blocks_shorten_a_full_sized_data_segment) {
  SocketId s = established_full();
  // A hole in the peer's data: our ACKs carry a SACK block from now on.
  inject(tseg(F::ACK, rseq + 100, lseq, kPeerTs + 1), std::string(100, 'b'));
  Sent dup = next();
  ASSERT_EQ(dup.h.sack_count, 1);
  const uint32_t mss = 1460;  // what both sides announced (MTU 1500)
  ASSERT_TRUE(send(s, std::string(3 * mss, 'x')));
  uint32_t seq = lseq;
  std::size_t total = 0;
  while (!sent_nothing()) {
    Sent d = next();
    const std::size_t options = d.h.header_len - 20;
    EXPECT_LE(d.payload.size() + options, mss) << "data + options beyond the MSS";
    EXPECT_EQ(d.h.seq.raw(), seq);
    EXPECT_EQ(d.h.sack_count, 1);
    seq += static_cast<uint32_t>(d.payload.size());
    total += d.payload.size();
  }
  EXPECT_EQ(total, 3u * mss);
  EXPECT_EQ(net.frames.size(), 0u);
}

// catnip.tcp.max_out_of_order = 0 (the default): the receiver keeps as many out-of-order
// segments as its buffer holds. A bound of 64 dropped the rest of a window behind a hole (591 of
// the 1046 retransmissions of demi-simbench goodput --cc cubic were such segments).
TEST_F(TcpOptionsTest, out_of_order_queue_holds_what_the_receive_buffer_holds) {
  SocketId s = established_full();
  const uint32_t mss = 1448;
  // The first segment is lost; 120 follow it (174 KB, within the 256 KiB window).
  for (uint32_t i = 1; i <= 120; ++i) {
    inject(tseg(F::ACK, rseq + i * mss, lseq, kPeerTs + i), std::string(mss, 'o'));
    next();
  }
  EXPECT_EQ(layer().info(s)->out_of_order, 120u);
  EXPECT_EQ(layer().counters().drop_ooo_full, 0u);
  inject(tseg(F::ACK, rseq, lseq, kPeerTs + 200), std::string(mss, 'i'));
  EXPECT_EQ(next().h.ack.raw(), rseq + 121 * mss);
  EXPECT_EQ(read(s).size(), 121u * mss);
}

TEST_F(TcpOptionsTest, max_out_of_order_bounds_the_queue_when_set) {
  cfg.max_out_of_order = 10;
  SocketId s = established_full();
  const uint32_t mss = 1448;
  for (uint32_t i = 1; i <= 20; ++i) {
    inject(tseg(F::ACK, rseq + i * mss, lseq, kPeerTs + i), std::string(mss, 'o'));
    next();
  }
  EXPECT_EQ(layer().info(s)->out_of_order, 10u);
  EXPECT_EQ(layer().counters().drop_ooo_full, 10u);
}

TEST_F(TcpOptionsTest, sack_not_sent_unless_negotiated) {
  established();
  inject(seg(F::ACK, rseq + 100, lseq), "later");
  Sent a = next();
  EXPECT_EQ(a.h.sack_count, 0);
}

// =========================================================================================
// SACK loss recovery (RFC 6675)
// =========================================================================================

TEST_F(TcpOptionsTest, rfc6675_sack_recovery_retransmits_only_the_hole) {
  SocketId s = established_full();
  const uint32_t mss = 1448;
  ASSERT_TRUE(send(s, std::string(5 * mss, 's')));
  for (int i = 0; i < 5; ++i) next();
  // Segment 1 is lost; 2..5 arrive and are SACKed, one ACK each.
  uint32_t ts = kPeerTs + 2;
  for (uint32_t k = 2; k <= 4; ++k) {
    wire::TcpRepr a = tseg(F::ACK, rseq, lseq, ts++, 1000);
    a.sack_count = 1;
    a.sack[0] = wire::SackBlock{wire::SeqNumber{lseq + mss}, wire::SeqNumber{lseq + k * mss}};
    inject(a);
  }
  Sent r = next();
  EXPECT_EQ(r.h.seq.raw(), lseq);
  EXPECT_EQ(r.payload.size(), mss);
  EXPECT_EQ(cc_calls.losses, 1);
  EXPECT_EQ(layer().info(s)->sack_recoveries, 1u);
  EXPECT_TRUE(sent_nothing());  // nothing else is lost
  // The retransmission arrives: everything is acknowledged, recovery ends.
  inject(tseg(F::ACK, rseq, lseq + 5 * mss, ts++, 1000));
  EXPECT_EQ(cc_calls.recovery_ends, 1);
  EXPECT_EQ(layer().info(s)->send_queued, 0u);
}

TEST_F(TcpOptionsTest, rfc6675_sack_recovery_retransmits_several_holes) {
  SocketId s = established_full();
  const uint32_t mss = 1448;
  ASSERT_TRUE(send(s, std::string(8 * mss, 's')));
  for (int i = 0; i < 8; ++i) next();
  // Segments 1 and 3 lost; 2, 4..8 SACKed.
  wire::TcpRepr a = tseg(F::ACK, rseq, lseq, kPeerTs + 2, 1000);
  a.sack_count = 2;
  a.sack[0] = wire::SackBlock{wire::SeqNumber{lseq + 3 * mss}, wire::SeqNumber{lseq + 8 * mss}};
  a.sack[1] = wire::SackBlock{wire::SeqNumber{lseq + mss}, wire::SeqNumber{lseq + 2 * mss}};
  inject(a);
  // More than 2 * SMSS SACKed above both holes: both are lost (IsLost), both go out.
  Sent r1 = next();
  Sent r2 = next();
  EXPECT_EQ(r1.h.seq.raw(), lseq);
  EXPECT_EQ(r2.h.seq.raw(), lseq + 2 * mss);
  EXPECT_TRUE(sent_nothing());
  (void)s;
}

// A window of 160 segments with every other one lost: 80 SACKed ranges. The scoreboard must hold
// them all: with room for 32, it forgot the highest ranges, counted them in pipe as still in the
// network and never retransmitted the holes between them, and recovery waited for the RTO.
TEST_F(TcpOptionsTest, rfc6675_recovery_repairs_every_hole_of_a_large_window) {
  cc_window = 1 << 30;
  SocketId s = established_full();
  const uint32_t mss = 1448;
  constexpr uint32_t kSegments = 160;
  ASSERT_TRUE(send(s, std::string(kSegments * mss, 'w')));
  for (uint32_t i = 0; i < kSegments; ++i) next();
  EXPECT_TRUE(sent_nothing());
  // Segments 0, 2, 4, ... are lost; each odd one arrives and is SACKed, its ACK carrying the
  // newest range first and the two before it, as a receiver does.
  uint32_t ts = kPeerTs + 1;
  std::vector<uint32_t> retransmitted;
  for (uint32_t k = 1; k < kSegments; k += 2) {
    wire::TcpRepr a = tseg(F::ACK, rseq, lseq, ts++, 65535);
    a.sack_count = 0;
    for (uint32_t j = k; j >= 1 && a.sack_count < 3; j -= 2) {
      a.sack[a.sack_count++] = wire::SackBlock{wire::SeqNumber{lseq + j * mss}, wire::SeqNumber{lseq + (j + 1) * mss}};
      if (j < 2) break;
    }
    inject(a);
    while (!sent_nothing()) retransmitted.push_back((next().h.seq.raw() - lseq) / mss);
  }
  // Every hole below the highest SACKed range is repaired once, in order, without a timeout.
  std::vector<uint32_t> holes;
  for (uint32_t k = 0; k + 1 < kSegments; k += 2) holes.push_back(k);
  EXPECT_EQ(retransmitted, holes);
  EXPECT_EQ(layer().info(s)->timeouts, 0u);
}

// The retransmission of a hole is lost too. RFC 6675 alone keeps counting it in pipe and never
// picks it again (it lies below HighRxt): the connection waits for the RTO. Data sent after it
// arriving says it is lost (RFC 8985 6.2's reasoning): it goes again at once.
TEST_F(TcpOptionsTest, lost_retransmission_is_sent_again_once_later_data_is_sacked) {
  SocketId s = established_full();
  const uint32_t mss = 1448;
  ASSERT_TRUE(send(s, std::string(10 * mss, 'a')));
  for (int i = 0; i < 10; ++i) next();
  uint32_t ts = kPeerTs + 1;
  auto sack_ack = [&](uint32_t right_segments, uint32_t left_segment = 1) {
    wire::TcpRepr a = tseg(F::ACK, rseq, lseq, ts++, 65535);
    a.sack_count = 1;
    a.sack[0] =
        wire::SackBlock{wire::SeqNumber{lseq + left_segment * mss}, wire::SeqNumber{lseq + right_segments * mss}};
    inject(a);
  };
  // Segment 0 is lost, 1..9 arrive: recovery retransmits 0.
  for (uint32_t k = 2; k <= 10; ++k) sack_ack(k);
  Sent r = next();
  EXPECT_EQ(r.h.seq.raw(), lseq);
  EXPECT_TRUE(sent_nothing());
  // New data goes out during recovery (RFC 6675 NextSeg rule 2): segments 10..14.
  ASSERT_TRUE(send(s, std::string(5 * mss, 'b')));
  for (uint32_t k = 10; k < 15; ++k) EXPECT_EQ(next().h.seq.raw(), lseq + k * mss);
  EXPECT_TRUE(sent_nothing());
  // 10 and 11 arrive: not yet enough to call the retransmission lost.
  sack_ack(11);
  sack_ack(12);
  EXPECT_TRUE(sent_nothing());
  // 12 arrives too: three segments sent after the retransmission were delivered, it was not.
  sack_ack(13);
  Sent again = next();
  EXPECT_EQ(again.h.seq.raw(), lseq);
  EXPECT_EQ(again.payload.size(), mss);
  EXPECT_EQ(layer().info(s)->lost_retransmits, 1u);
  EXPECT_EQ(layer().info(s)->timeouts, 0u);
  // Only once: more SACKs of later data do not send it a third time.
  sack_ack(14);
  sack_ack(15);
  EXPECT_TRUE(sent_nothing());
  inject(tseg(F::ACK, rseq, lseq + 15 * mss, ts++, 65535));
  EXPECT_EQ(cc_calls.recovery_ends, 1);
}

TEST(SackScoreboard, holds_as_many_blocks_as_its_capacity) {
  SackScoreboard sb(128);
  const wire::SeqNumber una{0};
  const wire::SeqNumber nxt{200 * 100};
  for (uint32_t i = 0; i < 100; ++i) {
    const std::array<wire::SackBlock, 1> b = {
        wire::SackBlock{wire::SeqNumber{(2 * i + 1) * 100}, wire::SeqNumber{(2 * i + 2) * 100}}};
    EXPECT_TRUE(sb.update(b, una, nxt));
  }
  EXPECT_EQ(sb.blocks(), 100u);
  EXPECT_EQ(sb.high_sacked(una).raw(), 200u * 100);
  // Every hole has at least 3 ranges above it but the last two: pipe counts only those two.
  EXPECT_EQ(sb.pipe(una, nxt, una, 100), 200u);
  wire::SeqNumber seq;
  uint32_t len = 0;
  ASSERT_TRUE(sb.next_lost(wire::SeqNumber{19000}, una, 100, seq, len));  // 5 ranges above it
  EXPECT_EQ(seq.raw(), 19000u);
  EXPECT_FALSE(sb.next_lost(wire::SeqNumber{19500}, una, 100, seq, len));  // 2 ranges above 19600
  // Full: a range above everything held is forgotten, one below evicts the highest.
  SackScoreboard small(2);
  const std::array<wire::SackBlock, 3> three = {wire::SackBlock{wire::SeqNumber{100}, wire::SeqNumber{200}},
                                                wire::SackBlock{wire::SeqNumber{300}, wire::SeqNumber{400}},
                                                wire::SackBlock{wire::SeqNumber{500}, wire::SeqNumber{600}}};
  small.update(three, una, nxt);
  EXPECT_EQ(small.blocks(), 2u);
  EXPECT_EQ(small.high_sacked(una).raw(), 400u);
}

TEST(SackScoreboard, merges_blocks_and_answers_rfc6675_queries) {
  SackScoreboard sb;
  const wire::SeqNumber una{1000};
  const wire::SeqNumber nxt{1000 + 10 * 100};
  std::array<wire::SackBlock, 2> b = {wire::SackBlock{wire::SeqNumber{1300}, wire::SeqNumber{1400}},
                                      wire::SackBlock{wire::SeqNumber{1100}, wire::SeqNumber{1200}}};
  EXPECT_TRUE(sb.update(b, una, nxt));
  EXPECT_EQ(sb.blocks(), 2u);
  EXPECT_FALSE(sb.update(b, una, nxt));  // nothing new
  std::array<wire::SackBlock, 1> c = {wire::SackBlock{wire::SeqNumber{1200}, wire::SeqNumber{1300}}};
  EXPECT_TRUE(sb.update(c, una, nxt));
  EXPECT_EQ(sb.blocks(), 1u);  // 1100-1400 merged
  EXPECT_TRUE(sb.is_sacked(wire::SeqNumber{1250}));
  EXPECT_FALSE(sb.is_sacked(wire::SeqNumber{1050}));
  // 300 bytes SACKed above 1000 > (3 - 1) * 100: lost.
  EXPECT_TRUE(sb.is_lost(wire::SeqNumber{1000}, 100));
  EXPECT_FALSE(sb.is_lost(wire::SeqNumber{1000}, 200));
  // pipe with mss 100: [1000,1100) lost (not counted), [1400,2000) not lost: 600.
  EXPECT_EQ(sb.pipe(una, nxt, una, 100), 600u);
  // ... plus what was retransmitted below HighRxt.
  EXPECT_EQ(sb.pipe(una, nxt, wire::SeqNumber{1100}, 100), 700u);
  wire::SeqNumber seq;
  uint32_t len = 0;
  ASSERT_TRUE(sb.next_lost(una, una, 100, seq, len));
  EXPECT_EQ(seq.raw(), 1000u);
  EXPECT_EQ(len, 100u);
  EXPECT_FALSE(sb.next_lost(wire::SeqNumber{1100}, una, 100, seq, len));
  sb.advance(wire::SeqNumber{1400});
  EXPECT_TRUE(sb.empty());
  // Blocks outside (SND.UNA, SND.NXT] are ignored (D-SACK, bogus).
  std::array<wire::SackBlock, 2> bad = {wire::SackBlock{wire::SeqNumber{500}, wire::SeqNumber{900}},
                                        wire::SackBlock{wire::SeqNumber{1900}, wire::SeqNumber{2500}}};
  EXPECT_FALSE(sb.update(bad, wire::SeqNumber{1400}, nxt));
}

// =========================================================================================
// Fast retransmit and NewReno (RFC 5681 3.2, RFC 6582), without SACK
// =========================================================================================

TEST_F(TcpTest, rfc5681_3_2_three_duplicate_acks_trigger_fast_retransmit) {
  SocketId s = established();
  ASSERT_TRUE(send(s, std::string(6 * 1460, 'f')));
  for (int i = 0; i < 6; ++i) next();
  inject(seg(F::ACK, rseq, lseq + 1460));  // new data acknowledged
  for (int i = 0; i < 2; ++i) inject(seg(F::ACK, rseq, lseq + 1460));
  EXPECT_TRUE(sent_nothing());
  inject(seg(F::ACK, rseq, lseq + 1460));  // the third duplicate
  Sent r = next();
  EXPECT_EQ(r.h.seq.raw(), lseq + 1460);
  EXPECT_EQ(cc_calls.losses, 1);
  EXPECT_EQ(layer().info(s)->fast_retransmits, 1u);
}

TEST_F(TcpTest, rfc3042_limited_transmit_sends_new_data_on_the_first_two_duplicate_acks) {
  cc_window = 4 * 1460;
  SocketId s = established();
  ASSERT_TRUE(send(s, std::string(8 * 1460, 'l')));
  for (int i = 0; i < 4; ++i) next();
  EXPECT_TRUE(sent_nothing());  // cwnd-limited
  inject(seg(F::ACK, rseq, lseq));
  EXPECT_EQ(next().h.seq.raw(), lseq + 4 * 1460);
  inject(seg(F::ACK, rseq, lseq));
  EXPECT_EQ(next().h.seq.raw(), lseq + 5 * 1460);
  EXPECT_TRUE(sent_nothing());
  inject(seg(F::ACK, rseq, lseq));
  EXPECT_EQ(next().h.seq.raw(), lseq);  // the third: fast retransmit
}

TEST_F(TcpTest, rfc5681_duplicate_ack_must_not_carry_data_or_change_the_window) {
  SocketId s = established();
  ASSERT_TRUE(send(s, std::string(4 * 1460, 'f')));
  for (int i = 0; i < 4; ++i) next();
  for (uint16_t w = 0; w < 3; ++w) inject(seg(F::ACK, rseq, lseq, static_cast<uint16_t>(60000 + w)));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().info(s)->fast_retransmits, 0u);
}

TEST_F(TcpTest, rfc6582_partial_ack_retransmits_the_next_hole) {
  SocketId s = established();
  ASSERT_TRUE(send(s, std::string(6 * 1460, 'n')));
  for (int i = 0; i < 6; ++i) next();
  // Segments 1 and 3 lost.
  for (int i = 0; i < 3; ++i) inject(seg(F::ACK, rseq, lseq));
  EXPECT_EQ(next().h.seq.raw(), lseq);
  // The retransmission fills hole 1; the ACK stops at hole 3: a partial ACK.
  inject(seg(F::ACK, rseq, lseq + 2 * 1460));
  Sent r = next();
  EXPECT_EQ(r.h.seq.raw(), lseq + 2 * 1460);
  EXPECT_EQ(cc_calls.recovery_ends, 0);
  inject(seg(F::ACK, rseq, lseq + 6 * 1460));
  EXPECT_EQ(cc_calls.recovery_ends, 1);
  (void)s;
}

// =========================================================================================
// SYN cookies
// =========================================================================================

TEST_F(TcpOptionsTest, syn_cookie_when_the_syn_queue_is_full) {
  cfg.syn_queue_max = 1;
  SocketId l = listener();
  inject(seg(F::SYN, 100));  // fills the SYN queue
  next();
  wire::TcpRepr syn = full_syn(*this, 7000, 42);
  syn.src_port = 40000;
  inject(syn);
  Sent c = next();
  EXPECT_TRUE(c.only(F::SYN | F::ACK));
  EXPECT_EQ(c.h.ack.raw(), 7001u);
  EXPECT_EQ(layer().counters().syn_cookies_sent, 1u);
  EXPECT_EQ(layer().connections(), 2u);  // the listener and the first half-open one: no state
  // Options ride in the TSval's low bits.
  ASSERT_TRUE(c.h.timestamps);
  EXPECT_EQ(c.h.timestamps->tsecr, 42u);
  ASSERT_TRUE(c.h.window_scale);
  EXPECT_TRUE(c.h.sack_permitted);
  // The ACK that completes the handshake creates the connection.
  wire::TcpRepr ack = seg(F::ACK, 7001, c.h.seq.raw() + 1, 100);
  ack.src_port = 40000;
  ack.timestamps = wire::TcpTimestamps{43, c.h.timestamps->tsval};
  inject(ack, "payload");
  Sent a = next();
  EXPECT_EQ(a.h.ack.raw(), 7001u + 7);
  auto conn = layer().try_accept(l);
  ASSERT_TRUE(conn);
  EXPECT_EQ(state(*conn), TcpState::Established);
  EXPECT_EQ(read(*conn), "payload");
  auto info = layer().info(*conn);
  EXPECT_TRUE(info->syn_cookie);
  EXPECT_TRUE(info->sack);
  EXPECT_TRUE(info->timestamps);
  EXPECT_EQ(info->snd_wscale, 7);
  EXPECT_EQ(info->snd_wnd, 100u << 7);
  EXPECT_EQ(info->snd_mss, 1460u - 12u);
  EXPECT_EQ(count(TcpState::Listen, TcpState::Established, TransitionCause::SynCookie), 1u);
}

TEST_F(TcpTest, syn_cookie_without_timestamps_drops_window_scale_and_sack) {
  cfg.syn_queue_max = 0;
  SocketId l = listener();
  wire::TcpRepr syn = seg(F::SYN, 7000);
  syn.mss = 1300;
  syn.window_scale = 5;
  syn.sack_permitted = true;
  inject(syn);
  Sent c = next();
  EXPECT_FALSE(c.h.window_scale);
  EXPECT_FALSE(c.h.sack_permitted);
  inject(seg(F::ACK, 7001, c.h.seq.raw() + 1, 100));
  auto conn = layer().try_accept(l);
  ASSERT_TRUE(conn);
  auto info = layer().info(*conn);
  EXPECT_FALSE(info->sack);
  EXPECT_EQ(info->snd_wscale, 0);
  EXPECT_EQ(info->snd_mss, 1220u);  // the largest table entry not above 1300
}

TEST_F(TcpTest, bad_syn_cookie_gets_rst) {
  cfg.syn_queue_max = 0;
  SocketId l = listener();
  inject(seg(F::SYN, 7000));
  Sent c = next();
  inject(seg(F::ACK, 7001, c.h.seq.raw() + 2));
  expect(F::RST, c.h.seq.raw() + 2);
  EXPECT_EQ(layer().try_accept(l).error(), EAGAIN);
  EXPECT_EQ(layer().counters().syn_cookies_rejected, 1u);
}

TEST_F(TcpTest, syn_cookie_expires) {
  cfg.syn_queue_max = 0;
  SocketId l = listener();
  inject(seg(F::SYN, 7000));
  Sent c = next();
  advance(200s);
  inject(seg(F::ACK, 7001, c.h.seq.raw() + 1));
  expect(F::RST, c.h.seq.raw() + 1);
  EXPECT_EQ(layer().try_accept(l).error(), EAGAIN);
}

}  // namespace
}  // namespace demi::net::tcp::test
