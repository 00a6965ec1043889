// The parts under the connection: SipHash, ISNs, SYN cookies, the queues, the RTT estimator,
// the transition table.
#include <array>
#include <cstdlib>
#include <cstring>
#include <new>

#include "net/tcp/isn_generator.h"
#include "net/tcp/receive_queue.h"
#include "net/tcp/ring.h"
#include "net/tcp/rtt_estimator.h"
#include "net/tcp/send_queue.h"
#include "net/tcp/siphash.h"
#include "net/tcp/syn_cookie.h"
#include "net/tcp/transition_coverage.h"
#include "tcp_harness.h"

// Counts heap allocations while `counting` is set (the whole test binary uses this operator new).
namespace {
bool counting = false;
uint64_t allocations = 0;
}  // namespace

// g++ at -O2 sees malloc paired with delete through inlining and warns; the replacement pair is
// consistent (malloc in new, free in delete), which is what the standard asks.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace demi::net::tcp::test {
namespace {

TEST_F(TcpTest, steady_state_data_transfer_does_not_allocate) {
  SocketId s = established();
  std::vector<mem::BufRef> app_buffers;
  for (int i = 0; i < 400; ++i) app_buffers.push_back(buf(std::string(1000, 'x')));
  std::vector<mem::BufRef> out;
  out.reserve(64);
  const std::string incoming(1000, 'y');
  auto round = [&](int i) {
    ASSERT_TRUE(layer().send(s, std::span<const mem::BufRef>(&app_buffers[static_cast<std::size_t>(i)], 1)));
    inject(seg(wire::TcpFlags::ACK, rseq, lseq + 1000), incoming);  // acknowledges it, carries data
    lseq += 1000;
    rseq += 1000;
    out.clear();
    ASSERT_TRUE(layer().recv(s, 1 << 20, out));
    net.frames.clear();
  };
  for (int i = 0; i < 100; ++i) round(i);  // warm up: rings and tables reach their working size
  counting = true;
  allocations = 0;
  for (int i = 100; i < 400; ++i) round(i);
  counting = false;
  EXPECT_EQ(allocations, 0u);
}

TEST(SipHash, reference_vectors) {
  // The SipHash-2-4 paper's test vectors (appendix A): key 00..0f, messages 00..(n-1).
  const SipKey key{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
  std::array<std::byte, 64> msg{};
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = std::byte(i);
  EXPECT_EQ(siphash24(key, std::span<const std::byte>(msg.data(), 0)), 0x726fdb47dd0e0e31ull);
  EXPECT_EQ(siphash24(key, std::span<const std::byte>(msg.data(), 1)), 0x74f839c593dc67fdull);
  EXPECT_EQ(siphash24(key, std::span<const std::byte>(msg.data(), 8)), 0x93f5f5799a932462ull);
  EXPECT_EQ(siphash24(key, std::span<const std::byte>(msg.data(), 15)), 0xa129ca6149be45e5ull);
  EXPECT_EQ(siphash24(key, std::span<const std::byte>(msg.data(), 63)), 0x958a324ceb064572ull);
}

TEST(IsnGenerator, rfc6528_isn_grows_with_the_4us_clock_and_depends_on_the_tuple) {
  IsnGenerator g(TcpConfig::secret_from_seed(9));
  const FourTuple t{ip(10, 0, 0, 1), 80, ip(10, 0, 0, 2), 5000};
  FourTuple u = t;
  u.remote_port = 5001;
  const sched::Instant t0{};
  EXPECT_EQ(g.isn(t, t0 + std::chrono::microseconds(400)) - g.isn(t, t0), 100u);
  EXPECT_NE(g.isn(t, t0), g.isn(u, t0));
  IsnGenerator other(TcpConfig::secret_from_seed(10));
  EXPECT_NE(g.isn(t, t0), other.isn(t, t0));
}

TEST(SynCookie, round_trip_and_rejection) {
  SynCookie c(TcpConfig::secret_from_seed(3));
  const FourTuple t{ip(10, 0, 0, 1), 80, ip(10, 0, 0, 2), 5000};
  const sched::Instant now = sched::Instant{} + std::chrono::seconds(1000);
  const uint32_t cookie = c.make(t, 12345, 1460, now);
  auto mss = c.check(t, cookie, 12345, now + std::chrono::seconds(30));
  ASSERT_TRUE(mss);
  EXPECT_EQ(*mss, 1460);
  EXPECT_FALSE(c.check(t, cookie, 12346, now));      // another SYN
  EXPECT_FALSE(c.check(t, cookie ^ 1, 12345, now));  // forged
  FourTuple u = t;
  u.remote_port = 5001;
  EXPECT_FALSE(c.check(u, cookie, 12345, now));
  EXPECT_FALSE(c.check(t, cookie, 12345, now + std::chrono::seconds(200)));  // expired
  EXPECT_EQ(*c.check(t, c.make(t, 1, 600, now), 1, now), 536);
  std::optional<uint8_t> ws;
  bool sack = false;
  SynCookie::decode_options(SynCookie::encode_options(9, true), ws, sack);
  EXPECT_EQ(ws, std::optional<uint8_t>(9));
  EXPECT_TRUE(sack);
  SynCookie::decode_options(SynCookie::encode_options(std::nullopt, false), ws, sack);
  EXPECT_FALSE(ws);
  EXPECT_FALSE(sack);
}

TEST(Ring, grows_keeps_order_inserts_and_erases) {
  Ring<int> r;
  for (int i = 0; i < 20; ++i) r.push_back(i);
  for (int i = 0; i < 5; ++i) r.pop_front();
  for (int i = 20; i < 30; ++i) r.push_back(i);
  ASSERT_EQ(r.size(), 25u);
  for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i], static_cast<int>(i) + 5);
  r.insert(0, -1);
  r.erase(3);
  EXPECT_EQ(r.front(), -1);
  EXPECT_EQ(r[3], 8);
  const std::size_t cap = r.capacity();
  for (int i = 0; i < 1000; ++i) {
    r.push_back(i);
    r.pop_front();
  }
  EXPECT_EQ(r.capacity(), cap);  // steady state does not grow
}

TEST(SendQueue, slices_across_buffers_and_releases_acknowledged_ones) {
  AppBuffers app;
  SendQueue q;
  mem::BufRef a = app.make("hello ");
  mem::BufRef b = app.make("zero ");
  mem::BufRef c = app.make("copy");
  q.push(a);
  q.push(b);
  q.push(c);
  EXPECT_EQ(q.size(), 15u);
  EXPECT_EQ(q.count_pieces(4, 4), 2u);
  std::string got;
  q.for_each_slice(4, 8, [&](const mem::BufRef& s) { got.append(reinterpret_cast<const char*>(s.data()), s.size()); });
  EXPECT_EQ(got, "o zero c");
  EXPECT_EQ(q.span_of_pieces(0, 15, 2), 11u);
  std::array<char, 5> out{};
  q.copy_out(9, std::as_writable_bytes(std::span<char>(out)));
  EXPECT_EQ(std::string(out.data(), 5), "o cop");
  EXPECT_EQ(a.block()->refs, 2u);
  q.consume(7);
  EXPECT_EQ(a.block()->refs, 1u);  // released
  got.clear();
  q.for_each_slice(0, 3, [&](const mem::BufRef& s) { got.append(reinterpret_cast<const char*>(s.data()), s.size()); });
  EXPECT_EQ(got, "ero");
  q.consume(8);
  EXPECT_TRUE(q.empty());
}

TEST(ReceiveQueue, reassembles_out_of_order_pieces_without_duplicates) {
  AppBuffers app;
  ReceiveQueue q(8);
  wire::SeqNumber nxt{100};
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{105}, app.make("fghij"), false, nxt));
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{103}, app.make("defg"), false, nxt));  // overlaps: trimmed
  EXPECT_FALSE(q.add_out_of_order(wire::SeqNumber{106}, app.make("gh"), false, nxt));   // inside: duplicate
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{112}, app.make("mn"), true, nxt));
  std::array<SackBlock, 4> blocks{};
  ASSERT_EQ(q.sack_blocks(blocks), 2u);
  EXPECT_EQ(blocks[0].left.raw(), 112u);  // the most recent first
  EXPECT_EQ(blocks[1].left.raw(), 103u);
  EXPECT_EQ(blocks[1].right.raw(), 110u);
  q.push(app.make("abc"));
  nxt = wire::SeqNumber{103};
  bool fin = false;
  EXPECT_EQ(q.drain(nxt, fin), 7u);
  EXPECT_FALSE(fin);
  EXPECT_EQ(nxt.raw(), 110u);
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{110}, app.make("kl"), false, wire::SeqNumber{109}));
  EXPECT_EQ(q.drain(nxt, fin), 4u);
  EXPECT_TRUE(fin);
  EXPECT_EQ(nxt.raw(), 114u);
  std::vector<mem::BufRef> out;
  EXPECT_EQ(q.read(100, out), 14u);
  EXPECT_EQ(to_string(out), "abcdefghijklmn");
}

TEST(ReceiveQueue, is_bounded) {
  AppBuffers app;
  ReceiveQueue q(2);
  const wire::SeqNumber nxt{0};
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{10}, app.make("a"), false, nxt));
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{20}, app.make("b"), false, nxt));
  EXPECT_FALSE(q.add_out_of_order(wire::SeqNumber{30}, app.make("c"), false, nxt));
  EXPECT_EQ(q.out_of_order_segments(), 2u);
}

TEST(ReceiveQueue, out_of_order_limit_can_be_raised) {
  AppBuffers app;
  ReceiveQueue q(2);
  const wire::SeqNumber nxt{0};
  q.set_out_of_order_limit(3);
  EXPECT_EQ(q.out_of_order_limit(), 3u);
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{10}, app.make("a"), false, nxt));
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{20}, app.make("b"), false, nxt));
  EXPECT_TRUE(q.add_out_of_order(wire::SeqNumber{30}, app.make("c"), false, nxt));
  EXPECT_FALSE(q.add_out_of_order(wire::SeqNumber{40}, app.make("d"), false, nxt));
}

// RFC 2018 4: the first block reports the segment that arrived last, however many ranges the
// queue holds. After a burst of drops (every other segment of a window) the newest range is the
// highest of dozens; choosing among a fixed prefix of the ranges never reported it, and the
// sender never learned what had arrived above them.
TEST(ReceiveQueue, sack_blocks_report_the_newest_range_among_many) {
  AppBuffers app;
  ReceiveQueue q(100);
  const wire::SeqNumber nxt{0};
  for (uint32_t i = 0; i < 40; ++i)
    ASSERT_TRUE(q.add_out_of_order(wire::SeqNumber{10 + 20 * i}, app.make("0123456789"), false, nxt));
  std::array<SackBlock, 3> blocks{};
  ASSERT_EQ(q.sack_blocks(blocks), 3u);
  EXPECT_EQ(blocks[0].left.raw(), 10u + 20 * 39);  // the newest
  EXPECT_EQ(blocks[1].left.raw(), 10u + 20 * 38);
  EXPECT_EQ(blocks[2].left.raw(), 10u + 20 * 37);
  // A segment that joins an old range makes that range the newest.
  ASSERT_TRUE(q.add_out_of_order(wire::SeqNumber{20}, app.make("abcdefghij"), false, nxt));
  ASSERT_EQ(q.sack_blocks(blocks), 3u);
  EXPECT_EQ(blocks[0].left.raw(), 10u);
  EXPECT_EQ(blocks[0].right.raw(), 40u);
  EXPECT_EQ(blocks[1].left.raw(), 10u + 20 * 39);
}

TEST(RttEstimator, rfc6298_clamps_and_backs_off) {
  using namespace std::chrono_literals;
  RttEstimator e(1s, 200ms, 4s);
  EXPECT_EQ(e.timeout(), 1s);
  e.back_off();
  e.back_off();
  EXPECT_EQ(e.timeout(), 4s);
  e.back_off();
  EXPECT_EQ(e.timeout(), 4s);  // capped
  e.sample(10ms);
  EXPECT_EQ(e.backoff(), 0);
  EXPECT_EQ(e.rto(), 200ms);  // 10 + 4 * 5 = 30 ms, clamped up
  e.sample(10s);
  EXPECT_EQ(e.rto(), 4s);  // clamped down
}

TEST(TransitionCoverage, lists_counts_and_reports) {
  TransitionCoverage c;
  EXPECT_FALSE(TransitionCoverage::implemented().empty());
  EXPECT_EQ(c.never_taken().size(), TransitionCoverage::implemented().size());
  c.record(TcpState::Closed, TcpState::SynSent, TransitionCause::ActiveOpen);
  c.record(TcpState::Closed, TcpState::SynSent, TransitionCause::ActiveOpen);
  EXPECT_EQ(c.count(TcpState::Closed, TcpState::SynSent, TransitionCause::ActiveOpen), 2u);
  EXPECT_EQ(c.never_taken().size(), TransitionCoverage::implemented().size() - 1);
  c.record(TcpState::TimeWait, TcpState::SynSent, TransitionCause::ActiveOpen);
  EXPECT_EQ(c.unlisted(), 1u);
  const std::string r = c.report();
  EXPECT_NE(r.find("CLOSED -> SYN-SENT"), std::string::npos);
  EXPECT_NE(r.find("(connect): 2"), std::string::npos);
}

TEST_F(TcpTest, every_state_builder_records_only_listed_transitions) {
  fin_wait_2();
  EXPECT_EQ(layer().coverage().unlisted(), 0u);
}

TEST_F(TcpTest, counters_are_listed_by_name) {
  inject(seg(wire::TcpFlags::ACK, 1, 2));
  CounterList list;
  layer().append_counters(list);
  EXPECT_EQ(counter_value(list, "tcp.drop.no_connection"), 1u);
  EXPECT_EQ(counter_value(list, "tcp.rsts_sent"), 1u);
}

TEST_F(TcpTest, bind_and_ports) {
  auto a = layer().open();
  auto b = layer().open();
  ASSERT_EQ(layer().bind(*a, kLocalAddr, 8080), 0);
  EXPECT_EQ(layer().bind(*b, kLocalAddr, 8080), EADDRINUSE);
  EXPECT_EQ(layer().bind(*b, ip(10, 9, 9, 9), 8081), EADDRNOTAVAIL);
  ASSERT_EQ(layer().bind(*b, wire::Ipv4Address{}, 0), 0);
  auto local = layer().local_address(*b);
  ASSERT_TRUE(local);
  EXPECT_GE(local->port, cfg.ephemeral_first);
  EXPECT_EQ(layer().bind(*b, kLocalAddr, 9000), EINVAL);  // bound already
  EXPECT_EQ(layer().close(*a), 0);
  auto c = layer().open();
  EXPECT_EQ(layer().bind(*c, kLocalAddr, 8080), 0);  // released by close
  EXPECT_EQ(layer().bind(12345, kLocalAddr, 1), EBADF);
}

TEST_F(TcpTest, ephemeral_range_is_configurable_and_can_run_out) {
  cfg.ephemeral_first = 40000;
  cfg.ephemeral_last = 40001;
  for (int i = 0; i < 2; ++i) {
    auto s = layer().open();
    ASSERT_EQ(layer().bind(*s, wire::Ipv4Address{}, 0), 0);
    EXPECT_GE(layer().local_address(*s)->port, 40000);
    EXPECT_LE(layer().local_address(*s)->port, 40001);
  }
  auto s = layer().open();
  EXPECT_EQ(layer().bind(*s, wire::Ipv4Address{}, 0), EAGAIN);
}

TEST_F(TcpTest, congestion_control_is_chosen_per_socket) {
  auto s = layer().open();
  EXPECT_EQ(layer().set_congestion_control(*s, "unknown"), EINVAL);
  EXPECT_EQ(layer().set_congestion_control(*s, "cubic"), 0);
  EXPECT_EQ(layer().info(*s)->congestion_control, "cubic");
}

}  // namespace
}  // namespace demi::net::tcp::test
