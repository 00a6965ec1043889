// One banner per state of RFC 9293 Figure 5: each test builds a socket in that state, feeds
// one segment (or makes one call) and checks the exact reply and the state after it.
#include <array>
#include <cerrno>

#include "net/wire/bytes.h"
#include "tcp_harness.h"

namespace demi::net::tcp::test {
namespace {

using F = wire::TcpFlags;

// =========================================================================================
// CLOSED (no connection)
// =========================================================================================

TEST_F(TcpTest, rfc9293_3_10_7_1_segment_with_ack_to_closed_port_gets_rst_seq_ack) {
  inject(seg(F::ACK, 100, 5000), "abc");
  expect(F::RST, 5000);
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().counters().drop_no_connection, 1u);
}

TEST_F(TcpTest, rfc9293_3_10_7_1_segment_without_ack_to_closed_port_gets_rst_ack) {
  inject(seg(F::SYN, 100));
  expect(F::RST | F::ACK, 0, 101);
  inject(seg(F::FIN, 200), "hello");
  expect(F::RST | F::ACK, 0, 206);
}

TEST_F(TcpTest, rfc9293_3_10_7_1_rst_to_closed_port_is_dropped) {
  inject(seg(F::RST, 100));
  inject(seg(F::RST | F::ACK, 100, 7));
  EXPECT_TRUE(sent_nothing());
}

TEST_F(TcpTest, bad_checksum_is_counted_and_dropped) {
  listener();
  inject(seg(F::SYN, 100), {}, /*corrupt=*/true);
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().counters().drop_bad_checksum, 1u);
}

// =========================================================================================
// LISTEN
// =========================================================================================

TEST_F(TcpTest, rfc9293_3_10_7_2_rst_in_listen_is_ignored) {
  SocketId l = listener();
  inject(seg(F::RST, 100));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(l), TcpState::Listen);
}

TEST_F(TcpTest, rfc9293_3_10_7_2_ack_in_listen_gets_rst) {
  cfg.syn_cookies = false;
  SocketId l = listener();
  inject(seg(F::ACK, 100, 777));
  expect(F::RST, 777);
  EXPECT_EQ(state(l), TcpState::Listen);
}

TEST_F(TcpTest, rfc9293_3_10_7_2_syn_in_listen_answers_syn_ack_and_enters_syn_received) {
  SocketId l = listener();
  inject(seg(F::SYN, kRemoteIsn));
  Sent sa = next();
  EXPECT_TRUE(sa.only(F::SYN | F::ACK));
  EXPECT_EQ(sa.h.ack.raw(), kRemoteIsn + 1);
  ASSERT_TRUE(sa.h.mss);
  EXPECT_EQ(*sa.h.mss, 1460);
  // The peer offered no options: none are answered.
  EXPECT_FALSE(sa.h.window_scale);
  EXPECT_FALSE(sa.h.sack_permitted);
  EXPECT_FALSE(sa.h.timestamps);
  EXPECT_EQ(state(l), TcpState::Listen);
  EXPECT_EQ(layer().try_accept(l).error(), EAGAIN);
  EXPECT_EQ(count(TcpState::Listen, TcpState::SynReceived, TransitionCause::RcvSyn), 1u);
}

TEST_F(TcpTest, rfc9293_3_10_7_2_segment_without_syn_ack_or_rst_in_listen_is_dropped) {
  listener();
  inject(seg(0, 100), "data");
  inject(seg(F::FIN, 100));
  EXPECT_TRUE(sent_nothing());
}

TEST_F(TcpTest, listen_backlog_full_drops_syn) {
  SocketId l = listener(1);
  inject(seg(F::SYN, kRemoteIsn));
  Sent sa = next();
  inject(seg(F::ACK, kRemoteIsn + 1, sa.h.seq.raw() + 1));
  // One established connection waits for accept; the backlog is 1.
  auto r = seg(F::SYN, 5000);
  r.src_port = 40000;
  inject(r);
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().counters().syn_dropped, 1u);
  EXPECT_TRUE(layer().try_accept(l));
}

TEST_F(TcpTest, rfc6528_isn_differs_per_connection_and_moves_with_time) {
  listener();
  inject(seg(F::SYN, 1));
  const uint32_t a = next().h.seq.raw();
  auto r = seg(F::SYN, 1);
  r.src_port = 40001;
  advance(1ms);
  inject(r);
  const uint32_t b = next().h.seq.raw();
  EXPECT_NE(a, b);
}

TEST_F(TcpTest, listener_close_aborts_half_open_children) {
  SocketId l = syn_received();
  EXPECT_EQ(layer().close(l), 0);
  expect(F::RST, lseq);
  EXPECT_EQ(count(TcpState::Listen, TcpState::Closed, TransitionCause::Close), 1u);
  EXPECT_EQ(count(TcpState::SynReceived, TcpState::Closed, TransitionCause::Abort), 1u);
  EXPECT_EQ(layer().connections(), 0u);
}

// =========================================================================================
// SYN-SENT
// =========================================================================================

TEST_F(TcpTest, connect_sends_syn_with_all_options) {
  syn_sent();
  ASSERT_TRUE(our_syn.h.mss);
  EXPECT_EQ(*our_syn.h.mss, 1460);
  ASSERT_TRUE(our_syn.h.window_scale);
  EXPECT_EQ(*our_syn.h.window_scale, 3);  // 256 KiB receive buffer: 262144 >> 3 fits 16 bits
  EXPECT_TRUE(our_syn.h.sack_permitted);
  ASSERT_TRUE(our_syn.h.timestamps);
  EXPECT_EQ(our_syn.h.timestamps->tsecr, 0u);
  EXPECT_EQ(our_syn.h.window, 65535);
}

TEST_F(TcpTest, connect_status_is_in_progress_in_syn_sent) {
  SocketId s = syn_sent();
  EXPECT_EQ(layer().connect_status(s), EINPROGRESS);
  EXPECT_EQ(layer().connect(s, kRemoteAddr, kRemotePort), EALREADY);
  EXPECT_EQ(read(s), "<error 11>");  // EAGAIN
}

TEST_F(TcpTest, rfc9293_3_10_7_3_unacceptable_ack_in_syn_sent_gets_rst) {
  SocketId s = syn_sent();
  inject(seg(F::SYN | F::ACK, kRemoteIsn, local_isn));  // acknowledges nothing we sent
  expect(F::RST, local_isn);
  inject(seg(F::ACK, kRemoteIsn, local_isn + 100));
  expect(F::RST, local_isn + 100);
  EXPECT_EQ(state(s), TcpState::SynSent);
}

TEST_F(TcpTest, rfc9293_3_10_7_3_rst_with_acceptable_ack_in_syn_sent_refuses) {
  SocketId s = syn_sent();
  inject(seg(F::RST | F::ACK, 0, lseq));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::Closed);
  EXPECT_EQ(layer().connect_status(s), ECONNREFUSED);
  EXPECT_EQ(count(TcpState::SynSent, TcpState::Closed, TransitionCause::RcvRst), 1u);
}

TEST_F(TcpTest, rfc9293_3_10_7_3_rst_without_ack_in_syn_sent_is_dropped) {
  SocketId s = syn_sent();
  inject(seg(F::RST, 0));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::SynSent);
}

TEST_F(TcpTest, rfc9293_3_10_7_3_syn_ack_establishes_and_is_acked) {
  SocketId s = syn_sent();
  auto sa = seg(F::SYN | F::ACK, kRemoteIsn, lseq, 1000);
  sa.mss = 1200;
  inject(sa);
  expect(F::ACK, lseq, rseq);
  EXPECT_EQ(state(s), TcpState::Established);
  EXPECT_EQ(layer().connect_status(s), 0);
  auto info = layer().info(s);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->snd_mss, 1200u);
  EXPECT_EQ(info->snd_wnd, 1000u);
  EXPECT_FALSE(info->timestamps);
  EXPECT_FALSE(info->sack);
  EXPECT_EQ(info->rcv_wscale, 0);  // the peer did not scale: neither do we
}

TEST_F(TcpTest, rfc9293_3_10_7_3_segment_without_syn_or_rst_in_syn_sent_is_dropped) {
  SocketId s = syn_sent();
  inject(seg(F::ACK, kRemoteIsn, lseq));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::SynSent);
}

TEST_F(TcpTest, rfc9293_3_5_simultaneous_open) {
  SocketId s = syn_sent();
  inject(seg(F::SYN, kRemoteIsn));
  expect(F::SYN | F::ACK, local_isn, rseq);
  EXPECT_EQ(state(s), TcpState::SynReceived);
  EXPECT_EQ(layer().connect_status(s), EINPROGRESS);
  inject(seg(F::ACK, rseq, lseq));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::Established);
  EXPECT_EQ(layer().connect_status(s), 0);
  EXPECT_EQ(count(TcpState::SynSent, TcpState::SynReceived, TransitionCause::RcvSyn), 1u);
  EXPECT_EQ(count(TcpState::SynReceived, TcpState::Established, TransitionCause::RcvAck), 1u);
}

TEST_F(TcpTest, rfc6298_syn_retransmitted_with_backoff_then_etimedout) {
  cfg.syn_retries = 2;
  SocketId s = syn_sent();
  advance(999ms);
  EXPECT_TRUE(sent_nothing());
  advance(1ms);
  expect(F::SYN, local_isn);
  advance(1999ms);
  EXPECT_TRUE(sent_nothing());
  advance(1ms);
  expect(F::SYN, local_isn);
  advance(4s);
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::Closed);
  EXPECT_EQ(layer().connect_status(s), ETIMEDOUT);
  EXPECT_EQ(count(TcpState::SynSent, TcpState::Closed, TransitionCause::Timeout), 1u);
}

TEST_F(TcpTest, host_unreachable_fails_syn_sent_with_ehostunreach) {
  SocketId s = syn_sent();
  layer().host_unreachable(kRemoteAddr);
  EXPECT_EQ(state(s), TcpState::Closed);
  EXPECT_EQ(layer().connect_status(s), EHOSTUNREACH);
  EXPECT_EQ(count(TcpState::SynSent, TcpState::Closed, TransitionCause::Unreachable), 1u);
}

TEST_F(TcpTest, host_unreachable_on_send_fails_connect_at_once) {
  auto s = layer().open();
  net.fail_next = EHOSTUNREACH;
  EXPECT_EQ(layer().connect(*s, kRemoteAddr, kRemotePort), EHOSTUNREACH);
  EXPECT_EQ(layer().connect_status(*s), EHOSTUNREACH);
}

TEST_F(TcpTest, close_in_syn_sent_deletes_the_connection) {
  SocketId s = syn_sent();
  EXPECT_EQ(layer().close(s), 0);
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().connections(), 0u);
  EXPECT_EQ(count(TcpState::SynSent, TcpState::Closed, TransitionCause::Close), 1u);
}

TEST_F(TcpTest, data_sent_in_syn_sent_goes_after_the_handshake) {
  SocketId s = syn_sent();
  EXPECT_EQ(*send(s, "early"), 5u);
  EXPECT_TRUE(sent_nothing());
  inject(seg(F::SYN | F::ACK, kRemoteIsn, lseq));
  expect(F::ACK, lseq, rseq, "early");
}

// =========================================================================================
// SYN-RECEIVED
// =========================================================================================

TEST_F(TcpTest, rfc9293_3_10_7_4_rst_in_syn_received) {
  SocketId l = syn_received();
  inject(seg(F::RST, rseq));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(l), TcpState::Listen);
  EXPECT_EQ(layer().try_accept(l).error(), EAGAIN);
  EXPECT_EQ(count(TcpState::SynReceived, TcpState::Closed, TransitionCause::RcvRst), 1u);
  EXPECT_EQ(layer().connections(), 1u);  // only the listener is left
}

TEST_F(TcpTest, rfc9293_3_10_7_4_ack_in_syn_received_establishes) {
  SocketId l = syn_received();
  inject(seg(F::ACK, rseq, lseq));
  EXPECT_TRUE(sent_nothing());
  auto c = layer().try_accept(l);
  ASSERT_TRUE(c);
  EXPECT_EQ(state(*c), TcpState::Established);
  auto remote = layer().remote_address(*c);
  ASSERT_TRUE(remote);
  EXPECT_EQ(remote->addr, kRemoteAddr);
  EXPECT_EQ(remote->port, kRemotePort);
  EXPECT_EQ(count(TcpState::SynReceived, TcpState::Established, TransitionCause::RcvAck), 1u);
}

TEST_F(TcpTest, rfc9293_3_10_7_4_bad_ack_in_syn_received_gets_rst) {
  SocketId l = syn_received();
  inject(seg(F::ACK, rseq, lseq - 1));  // acknowledges nothing new
  expect(F::RST, lseq - 1);
  inject(seg(F::ACK, rseq, lseq + 1000));  // acknowledges what was never sent
  expect(F::RST, lseq + 1000);
  EXPECT_EQ(layer().try_accept(l).error(), EAGAIN);
  // The half-open connection is still there: the right ACK completes it.
  inject(seg(F::ACK, rseq, lseq));
  EXPECT_TRUE(layer().try_accept(l));
}

TEST_F(TcpTest, duplicate_syn_in_syn_received_resends_syn_ack) {
  syn_received();
  inject(seg(F::SYN, kRemoteIsn));
  expect(F::SYN | F::ACK, local_isn, rseq);
}

TEST_F(TcpTest, syn_ack_retransmitted_on_timeout_then_given_up) {
  cfg.syn_retries = 1;
  SocketId l = syn_received();
  advance(1s);
  expect(F::SYN | F::ACK, local_isn, rseq);
  advance(2s);
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(count(TcpState::SynReceived, TcpState::Closed, TransitionCause::Timeout), 1u);
  EXPECT_EQ(layer().connections(), 1u);
  EXPECT_EQ(state(l), TcpState::Listen);
}

TEST_F(TcpTest, ack_with_fin_in_syn_received_goes_to_close_wait) {
  SocketId l = syn_received();
  inject(seg(F::ACK | F::FIN, rseq, lseq));
  expect(F::ACK, lseq, rseq + 1);
  auto c = layer().try_accept(l);
  ASSERT_TRUE(c);
  EXPECT_EQ(state(*c), TcpState::CloseWait);
  EXPECT_EQ(read(*c), "");  // EOF
}

TEST_F(TcpTest, ack_with_data_in_syn_received_delivers_it) {
  SocketId l = syn_received();
  inject(seg(F::ACK | F::PSH, rseq, lseq), "hello");
  expect(F::ACK, lseq, rseq + 5);
  auto c = layer().try_accept(l);
  ASSERT_TRUE(c);
  EXPECT_EQ(read(*c), "hello");
}

// =========================================================================================
// ESTABLISHED
// =========================================================================================

TEST_F(TcpTest, established_receives_in_order_data_zero_copy) {
  SocketId s = established();
  inject(seg(F::ACK | F::PSH, rseq, lseq), "abcdef");
  expect(F::ACK, lseq, rseq + 6);
  std::vector<mem::BufRef> out;
  auto n = layer().recv(s, 4, out);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].block(), last_injected);  // the receive buffer itself, not a copy
  EXPECT_EQ(to_string(out), "abcd");
  EXPECT_EQ(read(s), "ef");
  EXPECT_EQ(read(s), "<error 11>");
}

TEST_F(TcpTest, established_sends_data_with_ack_and_psh) {
  SocketId s = established();
  EXPECT_EQ(*send(s, "hello"), 5u);
  Sent d = expect(F::ACK | F::PSH, lseq, rseq, "hello");
  EXPECT_TRUE(d.has(F::PSH));
  inject(seg(F::ACK, rseq, lseq + 5));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().info(s)->send_queued, 0u);
}

TEST_F(TcpTest, send_is_zero_copy_for_large_buffers) {
  SocketId s = established();
  const std::string big(1000, 'x');
  mem::BufRef b = buf(big);
  const mem::Block* block = b.block();
  ASSERT_TRUE(layer().send(s, std::span<const mem::BufRef>(&b, 1)));
  Sent d = next();
  EXPECT_EQ(d.payload.size(), big.size());
  EXPECT_TRUE(d.payload == big);
  ASSERT_EQ(d.payload_blocks.size(), 1u);
  EXPECT_EQ(d.payload_blocks[0], block);
  EXPECT_EQ(block->refs, 2u);  // ours and the send queue's (until the peer acknowledges it)
  inject(seg(F::ACK, rseq, lseq + 1000));
  EXPECT_EQ(block->refs, 1u);
}

TEST_F(TcpTest, large_send_is_cut_into_mss_segments) {
  SocketId s = established();
  std::string big;
  for (int i = 0; i < 5000; ++i) big.push_back(static_cast<char>('a' + i % 26));
  EXPECT_EQ(*send(s, big), 5000u);
  std::string got;
  uint32_t seq = lseq;
  for (int i = 0; i < 4; ++i) {
    Sent d = next();
    EXPECT_EQ(d.h.seq.raw(), seq);
    EXPECT_LE(d.payload.size(), 1460u);
    seq += static_cast<uint32_t>(d.payload.size());
    got += d.payload;
  }
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big);
}

TEST_F(TcpTest, many_small_buffers_are_copied_into_the_header_buffer) {
  SocketId s = established();
  std::vector<mem::BufRef> pieces;
  std::string all;
  for (int i = 0; i < 10; ++i) {
    std::string p(200, static_cast<char>('0' + i));
    all += p;
    pieces.push_back(buf(p));
  }
  ASSERT_TRUE(layer().send(s, pieces));
  Sent a = next();
  Sent b = next();
  EXPECT_EQ(a.payload + b.payload, all);
  EXPECT_EQ(a.payload.size(), 1460u);
  EXPECT_TRUE(a.payload_blocks.empty());  // 8 pieces: more than a frame carries, so copied
}

// A push is taken whole while the queue holds less than the send buffer (so the queue holds at
// most the buffer plus one push), and refused whole (EAGAIN) once the buffer is full.
TEST_F(TcpTest, send_is_all_or_nothing) {
  cfg.send_buffer = 1000;
  SocketId s = established();
  inject(seg(F::ACK, rseq, lseq, 0));  // a closed window keeps the data queued
  EXPECT_EQ(*send(s, std::string(600, 'a')), 600u);
  EXPECT_EQ(*send(s, std::string(500, 'b')), 500u);  // 600 < 1000: room, so taken whole
  EXPECT_EQ(layer().info(s)->send_queued, 1100u);
  auto r = send(s, std::string(1, 'c'));
  EXPECT_EQ(r.error(), EAGAIN);  // full: not even one byte
  EXPECT_EQ(layer().info(s)->send_queued, 1100u);
}

TEST_F(TcpTest, rfc9293_3_10_7_4_unacceptable_segment_gets_ack) {
  SocketId s = established();
  inject(seg(F::ACK, rseq + 300000, lseq), "far");
  expect(F::ACK, lseq, rseq);
  inject(seg(F::ACK, rseq - 10, lseq), "old");
  expect(F::ACK, lseq, rseq);
  EXPECT_EQ(state(s), TcpState::Established);
}

TEST_F(TcpTest, rfc9293_3_10_7_4_segment_without_ack_is_dropped) {
  SocketId s = established();
  inject(seg(F::PSH, rseq, 0), "noack");
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().readable(s), 0u);
}

TEST_F(TcpTest, icmp_port_unreachable_refuses_a_connection_in_syn_sent) {
  SocketId s = syn_sent();
  std::array<std::byte, 8> quoted{};
  wire::store_be16(quoted, 0, kLocalPort);
  wire::store_be16(quoted, 2, kRemotePort);
  wire::store_be32(quoted, 4, local_isn);
  IcmpError e;
  e.error = ECONNREFUSED;
  e.original.src_addr = kLocalAddr;
  e.original.dst_addr = kRemoteAddr;
  e.original.protocol = wire::kProtocolTcp;
  e.transport = quoted;
  wire::store_be32(quoted, 4, local_isn + 5);  // RFC 5927: a sequence number we never sent
  layer().icmp_error(e);
  EXPECT_EQ(state(s), TcpState::SynSent);
  wire::store_be32(quoted, 4, local_isn);
  layer().icmp_error(e);
  EXPECT_EQ(state(s), TcpState::Closed);
  EXPECT_EQ(layer().connect_status(s), ECONNREFUSED);
}

TEST_F(TcpTest, rfc1191_fragmentation_needed_lowers_the_mss) {
  SocketId s = established();
  ASSERT_TRUE(send(s, std::string(3000, 'p')));
  EXPECT_EQ(next().payload.size(), 1460u);
  std::array<std::byte, 8> quoted{};
  wire::store_be16(quoted, 0, kLocalPort);
  wire::store_be16(quoted, 2, kRemotePort);
  wire::store_be32(quoted, 4, lseq);
  IcmpError e;
  e.error = EMSGSIZE;
  e.next_hop_mtu = 1000;
  e.original.src_addr = kLocalAddr;
  e.original.dst_addr = kRemoteAddr;
  e.transport = quoted;
  layer().icmp_error(e);
  EXPECT_EQ(layer().info(s)->snd_mss, 960u);
  drain();
  advance(200ms);  // the lost segment goes again, cut to the new size
  Sent r = next();
  EXPECT_EQ(r.h.seq.raw(), lseq);
  EXPECT_EQ(r.payload.size(), 960u);
}

TEST_F(TcpTest, data_received_before_a_reset_can_still_be_read) {
  SocketId s = established();
  inject(seg(F::ACK, rseq, lseq), "last");
  next();
  inject(seg(F::RST, rseq + 4));
  EXPECT_EQ(read(s), "last");
  EXPECT_EQ(read(s), "<error 104>");
}

TEST_F(TcpTest, rfc5961_3_2_rst_at_rcv_nxt_resets) {
  SocketId s = established();
  inject(seg(F::RST, rseq));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::Closed);
  EXPECT_EQ(layer().connect_status(s), ECONNRESET);
  EXPECT_EQ(read(s), "<error 104>");
  EXPECT_EQ(send(s, "x").error(), ECONNRESET);
  EXPECT_EQ(count(TcpState::Established, TcpState::Closed, TransitionCause::RcvRst), 1u);
}

TEST_F(TcpTest, rfc5961_3_2_rst_in_window_gets_challenge_ack) {
  SocketId s = established();
  inject(seg(F::RST, rseq + 100));
  expect(F::ACK, lseq, rseq);
  EXPECT_EQ(state(s), TcpState::Established);
  EXPECT_EQ(layer().counters().challenge_acks, 1u);
}

TEST_F(TcpTest, rfc5961_3_2_rst_outside_window_is_dropped) {
  SocketId s = established();
  inject(seg(F::RST, rseq + 1'000'000));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::Established);
}

TEST_F(TcpTest, rfc5961_4_2_syn_in_established_gets_challenge_ack) {
  SocketId s = established();
  inject(seg(F::SYN, rseq + 5));
  expect(F::ACK, lseq, rseq);
  inject(seg(F::SYN, rseq - 5000));  // outside the window: an ACK too
  expect(F::ACK, lseq, rseq);
  EXPECT_EQ(state(s), TcpState::Established);
}

TEST_F(TcpTest, rfc5961_5_2_ack_of_unsent_data_is_dropped_with_an_ack) {
  SocketId s = established();
  inject(seg(F::ACK, rseq, lseq + 10), "data");
  expect(F::ACK, lseq, rseq);
  EXPECT_EQ(layer().readable(s), 0u);
  EXPECT_EQ(layer().counters().drop_bad_ack, 1u);
}

TEST_F(TcpTest, rfc5961_5_2_ack_older_than_max_window_is_dropped) {
  SocketId s = established();
  inject(seg(F::ACK, rseq, lseq - 70000), "data");
  expect(F::ACK, lseq, rseq);
  EXPECT_EQ(layer().readable(s), 0u);
}

TEST_F(TcpTest, rfc5961_7_challenge_acks_are_rate_limited) {
  cfg.challenge_ack_limit = 2;
  established();
  for (int i = 0; i < 5; ++i) inject(seg(F::SYN, rseq + 1));
  next();
  next();
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(layer().counters().challenge_acks_limited, 3u);
  advance(1s);
  inject(seg(F::SYN, rseq + 1));
  expect(F::ACK, lseq, rseq);
}

TEST_F(TcpTest, rfc9293_3_10_7_4_fin_moves_established_to_close_wait) {
  SocketId s = established();
  inject(seg(F::ACK | F::FIN, rseq, lseq), "bye");
  expect(F::ACK, lseq, rseq + 4);
  EXPECT_EQ(state(s), TcpState::CloseWait);
  EXPECT_EQ(read(s), "bye");
  EXPECT_EQ(read(s), "");
  EXPECT_EQ(count(TcpState::Established, TcpState::CloseWait, TransitionCause::RcvFin), 1u);
}

TEST_F(TcpTest, out_of_order_data_is_kept_and_delivered_when_the_hole_fills) {
  SocketId s = established();
  inject(seg(F::ACK, rseq + 3, lseq), "def");
  expect(F::ACK, lseq, rseq);
  EXPECT_EQ(layer().readable(s), 0u);
  inject(seg(F::ACK, rseq, lseq), "abc");
  expect(F::ACK, lseq, rseq + 6);
  EXPECT_EQ(read(s), "abcdef");
}

TEST_F(TcpTest, overlapping_retransmission_delivers_each_byte_once) {
  SocketId s = established();
  inject(seg(F::ACK, rseq, lseq), "abc");
  next();
  inject(seg(F::ACK, rseq + 1, lseq), "bcdef");
  expect(F::ACK, lseq, rseq + 6);
  EXPECT_EQ(read(s), "abcdef");
}

TEST_F(TcpTest, fin_out_of_order_is_held_until_the_data_before_it) {
  SocketId s = established();
  inject(seg(F::ACK | F::FIN, rseq + 3, lseq), "def");
  expect(F::ACK, lseq, rseq);
  EXPECT_EQ(state(s), TcpState::Established);
  inject(seg(F::ACK, rseq, lseq), "abc");
  expect(F::ACK, lseq, rseq + 7);
  EXPECT_EQ(state(s), TcpState::CloseWait);
  EXPECT_EQ(read(s), "abcdef");
  EXPECT_EQ(read(s), "");
}

TEST_F(TcpTest, rfc2525_2_17_close_with_unread_data_sends_rst) {
  SocketId s = established();
  inject(seg(F::ACK, rseq, lseq), "unread");
  next();
  EXPECT_EQ(layer().close(s), 0);
  expect(F::RST, lseq);
  EXPECT_EQ(layer().connections(), 1u);  // the listener
}

TEST_F(TcpTest, rfc9293_3_10_5_abort_sends_rst) {
  SocketId s = established();
  EXPECT_EQ(layer().abort(s), 0);
  expect(F::RST, lseq);
  EXPECT_EQ(count(TcpState::Established, TcpState::Closed, TransitionCause::Abort), 1u);
  EXPECT_EQ(layer().send(s, {}).error(), EBADF);
}

TEST_F(TcpTest, linger_zero_close_aborts) {
  SocketId s = established();
  EXPECT_EQ(layer().set_linger(s, sched::Duration::zero()), 0);
  EXPECT_EQ(layer().close(s), 0);
  expect(F::RST, lseq);
}

TEST_F(TcpTest, events_are_notified_on_data) {
  SocketId s = established();
  bool woke = false;
  auto waiter = [](sched::WaitQueue& q, bool& flag) -> sched::Task {
    co_await q.wait();
    flag = true;
  };
  sched.spawn(waiter(layer().events(s), woke));
  sched.run_once();
  EXPECT_FALSE(woke);
  inject(seg(F::ACK, rseq, lseq), "x");
  sched.run_once();
  EXPECT_TRUE(woke);
}

// =========================================================================================
// FIN-WAIT-1
// =========================================================================================

TEST_F(TcpTest, close_sends_fin_after_queued_data) {
  SocketId s = established();
  EXPECT_EQ(*send(s, "last words"), 10u);
  next();
  EXPECT_EQ(layer().close(s), 0);
  expect(F::FIN | F::ACK, lseq + 10, rseq);
  EXPECT_EQ(count(TcpState::Established, TcpState::FinWait1, TransitionCause::Close), 1u);
}

TEST_F(TcpTest, fin_rides_on_the_last_data_segment) {
  SocketId s = established();
  inject(seg(F::ACK, rseq, lseq, 0));  // closed window: the data waits
  EXPECT_EQ(*send(s, "tail"), 4u);
  EXPECT_EQ(layer().shutdown_write(s), 0);
  EXPECT_TRUE(sent_nothing());
  inject(seg(F::ACK, rseq, lseq, 1000));
  expect(F::FIN | F::ACK, lseq, rseq, "tail");
}

TEST_F(TcpTest, rfc9293_3_10_7_4_ack_of_fin_moves_fin_wait_1_to_fin_wait_2) {
  SocketId s = fin_wait_1();
  inject(seg(F::ACK, rseq, lseq + 1));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::FinWait2);
  EXPECT_EQ(count(TcpState::FinWait1, TcpState::FinWait2, TransitionCause::RcvAck), 1u);
}

TEST_F(TcpTest, rfc9293_3_10_7_4_fin_in_fin_wait_1_is_simultaneous_close) {
  SocketId s = closing();
  EXPECT_EQ(count(TcpState::FinWait1, TcpState::Closing, TransitionCause::RcvFin), 1u);
  inject(seg(F::ACK, rseq, lseq + 1));
  EXPECT_EQ(state(s), TcpState::TimeWait);
  EXPECT_EQ(count(TcpState::Closing, TcpState::TimeWait, TransitionCause::RcvAck), 1u);
}

TEST_F(TcpTest, fin_with_ack_of_our_fin_goes_through_fin_wait_2_to_time_wait) {
  SocketId s = fin_wait_1();
  inject(seg(F::ACK | F::FIN, rseq, lseq + 1));
  expect(F::ACK, lseq + 1, rseq + 1);
  EXPECT_EQ(state(s), TcpState::TimeWait);
}

TEST_F(TcpTest, send_after_shutdown_is_epipe) {
  SocketId s = fin_wait_1();
  EXPECT_EQ(send(s, "more").error(), EPIPE);
}

TEST_F(TcpTest, fin_is_retransmitted_on_timeout) {
  fin_wait_1();
  advance(1s);
  expect(F::FIN | F::ACK, lseq, rseq);
}

// =========================================================================================
// FIN-WAIT-2
// =========================================================================================

TEST_F(TcpTest, rfc9293_3_10_7_4_fin_in_fin_wait_2_enters_time_wait) {
  SocketId s = time_wait();
  EXPECT_EQ(count(TcpState::FinWait2, TcpState::TimeWait, TransitionCause::RcvFin), 1u);
  EXPECT_EQ(state(s), TcpState::TimeWait);
}

TEST_F(TcpTest, half_close_still_receives_in_fin_wait_2) {
  SocketId s = fin_wait_2();
  inject(seg(F::ACK, rseq, lseq), "still talking");
  expect(F::ACK, lseq, rseq + 13);
  EXPECT_EQ(read(s), "still talking");
}

TEST_F(TcpTest, orphaned_fin_wait_2_times_out) {
  cfg.fin_wait_2_timeout = 10s;
  SocketId s = fin_wait_2();
  EXPECT_EQ(layer().close(s), 0);
  advance(10s);
  EXPECT_EQ(count(TcpState::FinWait2, TcpState::Closed, TransitionCause::Timeout), 1u);
  EXPECT_EQ(layer().connections(), 1u);
}

TEST_F(TcpTest, data_after_close_in_fin_wait_2_resets) {
  SocketId s = fin_wait_2();
  EXPECT_EQ(layer().close(s), 0);
  inject(seg(F::ACK, rseq, lseq), "nobody reads this");
  expect(F::RST, lseq);
  EXPECT_EQ(count(TcpState::FinWait2, TcpState::Closed, TransitionCause::Abort), 1u);
}

// =========================================================================================
// CLOSE-WAIT and LAST-ACK
// =========================================================================================

TEST_F(TcpTest, close_wait_can_still_send) {
  SocketId s = close_wait();
  EXPECT_EQ(*send(s, "reply"), 5u);
  expect(F::ACK | F::PSH, lseq, rseq, "reply");
}

TEST_F(TcpTest, close_in_close_wait_sends_fin_and_enters_last_ack) {
  last_ack();
  EXPECT_EQ(count(TcpState::CloseWait, TcpState::LastAck, TransitionCause::Close), 1u);
}

TEST_F(TcpTest, rfc9293_3_10_7_4_ack_of_fin_in_last_ack_closes) {
  SocketId s = last_ack();
  inject(seg(F::ACK, rseq, lseq + 1));
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(state(s), TcpState::Closed);
  EXPECT_EQ(layer().connect_status(s), 0);
  EXPECT_EQ(layer().close(s), 0);
  EXPECT_EQ(layer().connections(), 1u);
  EXPECT_EQ(count(TcpState::LastAck, TcpState::Closed, TransitionCause::RcvAck), 1u);
}

TEST_F(TcpTest, rst_in_close_wait_resets) {
  SocketId s = close_wait();
  inject(seg(F::RST, rseq));
  EXPECT_EQ(state(s), TcpState::Closed);
  EXPECT_EQ(count(TcpState::CloseWait, TcpState::Closed, TransitionCause::RcvRst), 1u);
}

// =========================================================================================
// TIME-WAIT
// =========================================================================================

TEST_F(TcpTest, rfc9293_3_4_2_time_wait_lasts_two_msl) {
  SocketId s = time_wait();
  EXPECT_EQ(layer().close(s), 0);
  advance(59s);
  EXPECT_EQ(layer().connections(), 2u);
  advance(1s);
  EXPECT_EQ(layer().connections(), 1u);
  EXPECT_EQ(count(TcpState::TimeWait, TcpState::Closed, TransitionCause::TimeWaitEnd), 1u);
}

TEST_F(TcpTest, rfc9293_3_10_7_4_retransmitted_fin_in_time_wait_is_acked_and_restarts_the_timer) {
  SocketId s = time_wait();
  EXPECT_EQ(layer().close(s), 0);
  advance(50s);
  inject(seg(F::ACK | F::FIN, rseq - 1, lseq));
  expect(F::ACK, lseq, rseq);
  advance(59s);
  EXPECT_EQ(layer().connections(), 2u);
  advance(1s);
  EXPECT_EQ(layer().connections(), 1u);
}

TEST_F(TcpTest, rst_in_time_wait_closes) {
  SocketId s = time_wait();
  inject(seg(F::RST, rseq));
  EXPECT_EQ(state(s), TcpState::Closed);
  EXPECT_EQ(count(TcpState::TimeWait, TcpState::Closed, TransitionCause::RcvRst), 1u);
}

TEST_F(TcpTest, time_wait_holds_the_four_tuple) {
  SocketId s = time_wait();
  EXPECT_EQ(layer().close(s), 0);
  // A new socket may bind the port (SO_REUSEADDR behaviour) but not reuse the 4-tuple.
  auto n = layer().open();
  EXPECT_EQ(layer().bind(*n, kLocalAddr, kLocalPort), EADDRINUSE);  // the listener holds it
}

TEST_F(TcpTest, simultaneous_close_from_both_ends) {
  SocketId s = established();
  EXPECT_EQ(layer().shutdown_write(s), 0);
  expect(F::FIN | F::ACK, lseq, rseq);
  inject(seg(F::FIN | F::ACK, rseq, lseq));  // the peer's FIN crossed ours
  expect(F::ACK, lseq + 1, rseq + 1);
  EXPECT_EQ(state(s), TcpState::Closing);
  inject(seg(F::ACK, rseq + 1, lseq + 1));
  EXPECT_EQ(state(s), TcpState::TimeWait);
}

}  // namespace
}  // namespace demi::net::tcp::test

namespace demi::net::tcp::test {
namespace {

using F = wire::TcpFlags;

// =========================================================================================
// Every way out of every synchronized state: RST, retransmissions exhausted, abort
// =========================================================================================

enum class Builder { FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait };

class TcpExits : public TcpTest {
 protected:
  SocketId build(Builder b) {
    switch (b) {
      case Builder::FinWait1:
        return fin_wait_1();
      case Builder::FinWait2:
        return fin_wait_2();
      case Builder::CloseWait:
        return close_wait();
      case Builder::Closing:
        return closing();
      case Builder::LastAck:
        return last_ack();
      case Builder::TimeWait:
        return time_wait();
    }
    return 0;
  }
  static TcpState state_of(Builder b) {
    switch (b) {
      case Builder::FinWait1:
        return TcpState::FinWait1;
      case Builder::FinWait2:
        return TcpState::FinWait2;
      case Builder::CloseWait:
        return TcpState::CloseWait;
      case Builder::Closing:
        return TcpState::Closing;
      case Builder::LastAck:
        return TcpState::LastAck;
      case Builder::TimeWait:
        return TcpState::TimeWait;
    }
    return TcpState::Closed;
  }
};

TEST_F(TcpExits, rfc9293_3_10_7_4_rst_at_rcv_nxt_closes_every_synchronized_state) {
  for (Builder b : {Builder::FinWait1, Builder::FinWait2, Builder::CloseWait, Builder::Closing, Builder::LastAck,
                    Builder::TimeWait}) {
    reset_layer();
    drain();
    SocketId s = build(b);
    inject(seg(F::RST, rseq));
    EXPECT_EQ(state(s), TcpState::Closed) << state_name(state_of(b));
    EXPECT_EQ(count(state_of(b), TcpState::Closed, TransitionCause::RcvRst), 1u) << state_name(state_of(b));
  }
}

TEST_F(TcpExits, rfc9293_3_8_3_retransmissions_exhausted_close_every_state_with_data_or_fin_outstanding) {
  cfg.data_retries = 1;
  for (Builder b : {Builder::FinWait1, Builder::CloseWait, Builder::Closing, Builder::LastAck}) {
    reset_layer();
    drain();
    SocketId s = build(b);
    if (b == Builder::CloseWait) {
      ASSERT_TRUE(send(s, "unanswered"));
    }
    advance(10s);
    EXPECT_EQ(state(s), TcpState::Closed) << state_name(state_of(b));
    EXPECT_EQ(count(state_of(b), TcpState::Closed, TransitionCause::Timeout), 1u) << state_name(state_of(b));
  }
}

TEST_F(TcpExits, rfc9293_3_10_5_abort_closes_every_state) {
  for (Builder b : {Builder::FinWait1, Builder::FinWait2, Builder::CloseWait, Builder::Closing, Builder::LastAck,
                    Builder::TimeWait}) {
    reset_layer();
    drain();
    SocketId s = build(b);
    ASSERT_EQ(layer().abort(s), 0);
    // A RST where the peer still has a connection to reset (RFC 9293 3.10.5).
    const bool rst = b == Builder::FinWait1 || b == Builder::FinWait2 || b == Builder::CloseWait;
    if (rst) {
      EXPECT_TRUE(next().has(F::RST)) << state_name(state_of(b));
    }
    EXPECT_TRUE(sent_nothing()) << state_name(state_of(b));
    EXPECT_EQ(count(state_of(b), TcpState::Closed, TransitionCause::Abort), 1u) << state_name(state_of(b));
  }
}

TEST_F(TcpTest, abort_in_syn_sent_sends_nothing) {
  SocketId s = syn_sent();
  ASSERT_EQ(layer().abort(s), 0);
  EXPECT_TRUE(sent_nothing());
  EXPECT_EQ(count(TcpState::SynSent, TcpState::Closed, TransitionCause::Abort), 1u);
}

}  // namespace
}  // namespace demi::net::tcp::test
