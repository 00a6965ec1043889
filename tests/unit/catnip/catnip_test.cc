// The catnip module end to end: two LibOS instances on one simulated Ethernet, talking through
// the queue API (and, for ping, through the stack itself).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "net/counters.h"
#include "unit/catnip/sim_pair.h"

// ---------------------------------------------------------------- counting operator new
// Counts heap allocations made through operator new while `g_count_news` is set, to check that
// the UDP fast path does not reach the heap once warm.
namespace {
bool g_count_news = false;
std::size_t g_news = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (g_count_news) ++g_news;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc{};
}
// Out of line, so that the compiler does not see free() meet memory from operator new.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace demi::catnip::test {
namespace {

using namespace std::chrono_literals;

sockaddr_in addr(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}
const sockaddr* sa(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

std::string text_of(const Sga& sga) {
  std::string s;
  for (uint32_t i = 0; i < sga.numsegs; ++i) s.append(static_cast<const char*>(sga.segs[i].buf), sga.segs[i].len);
  return s;
}

Sga sga_of(LibOS& l, const std::string& text) {
  auto sga = l.sgaalloc(text.size());
  EXPECT_TRUE(sga.ok());
  std::memcpy(sga->segs[0].buf, text.data(), text.size());
  return *sga;
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

uint64_t counter(net::InetStack& s, std::string_view name) { return net::counter_value(s.counters(), name); }

// A UDP socket on `l` bound to `port`.
QDesc udp_socket(LibOS& l, const char* ip, uint16_t port) {
  auto qd = l.socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_TRUE(qd.ok());
  sockaddr_in a = addr(ip, port);
  EXPECT_EQ(l.bind(*qd, sa(a), sizeof a), 0);
  return *qd;
}

TEST(CatnipModuleTest, module_identity_and_device_ownership) {
  sched::VirtualClock clock;
  runtime::sim::Network net(clock, 1);
  auto* port = net.add_host(kMacA, "a");
  Config config;
  EXPECT_EQ(make_catnip_module(*port, config), nullptr);  // no catnip.ipv4.address
  ASSERT_EQ(config.set("catnip.ipv4.address", "10.0.0.1"), 0);
  ASSERT_EQ(config.set("catnip.mtu", "9000"), 0);  // more than the port carries
  LibOSOptions o;
  o.config = config;
  o.clock = &clock;
  LibOS libos(o);
  auto m = make_catnip_module(*port, config);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->name(), "catnip");
  EXPECT_EQ(m->kind(), ModuleKind::Network);
  EXPECT_EQ(m->wait_fd(), -1);  // a simulated port is polled
  EXPECT_EQ(libos.install(std::move(m)), EINVAL);
  EXPECT_EQ(make_catnip_module(std::unique_ptr<runtime::Device>{}, config), nullptr);
}

TEST(CatnipTest, udp_echo_is_byte_exact_and_zero_copy) {
  SimPair pair;
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  QDesc server = udp_socket(a, "0.0.0.0", 7);
  QDesc client = udp_socket(b, "0.0.0.0", 0);

  for (const std::string& msg : {std::string("hello, catnip"), pattern(1000), pattern(4000), std::string(1, 'x')}) {
    auto pop = a.pop(server);
    ASSERT_TRUE(pop.ok());
    sockaddr_in to = addr("10.0.0.1", 7);
    Sga out = sga_of(b, msg);
    auto push = b.pushto(client, out, sa(to), sizeof to);
    ASSERT_TRUE(push.ok());
    QResult r;
    ASSERT_EQ(b.wait(*push, &r), 0);
    EXPECT_EQ(b.sgafree(out), 0);

    ASSERT_EQ(a.wait(*pop, &r, 5s), 0);
    ASSERT_EQ(r.opcode, Opcode::Pop);
    EXPECT_EQ(text_of(r.sga), msg);
    EXPECT_EQ(ntohl(r.sga.addr.sin_addr.s_addr), 0x0a000002u);
    // The datagram is the simulated network's receive buffer itself.
    const auto* segs = a.host().sgas().segments(r.sga);
    ASSERT_NE(segs, nullptr);
    EXPECT_EQ((*segs)[0].block()->owner, static_cast<const mem::BlockOwner*>(&pair.network().pool()));

    // Echo it back: the popped Sga, pushed as it is.
    sockaddr_in back = r.sga.addr;
    auto echo = a.pushto(server, r.sga, sa(back), sizeof back);
    ASSERT_TRUE(echo.ok());
    auto reply = b.pop(client);
    ASSERT_TRUE(reply.ok());
    QResult rr;
    ASSERT_EQ(b.wait(*reply, &rr, 5s), 0);
    EXPECT_EQ(text_of(rr.sga), msg);
    EXPECT_EQ(ntohs(rr.sga.addr.sin_port), 7);
    ASSERT_EQ(a.wait(*echo, nullptr), 0);
    EXPECT_EQ(a.sgafree(r.sga), 0);
    EXPECT_EQ(b.sgafree(rr.sga), 0);
  }
  EXPECT_EQ(counter(pair.stack(a), "ipv4.reassembly.reassembled"), 1u);  // the 4000-byte one, each way
  EXPECT_EQ(counter(pair.stack(b), "ipv4.reassembly.reassembled"), 1u);
  EXPECT_EQ(a.close(server), 0);
  EXPECT_EQ(b.close(client), 0);
}

// The largest UDP datagram (65,507 B: 45 IPv4 fragments at MTU 1500), as the first packet to a
// neighbour not yet resolved: every fragment waits for ARP in the neighbour's queue. With the
// old queue limit (16) the 17th fragment failed the push with ENOBUFS (found by interop_udp_client).
TEST(CatnipTest, the_largest_udp_datagram_waits_for_arp_whole_and_arrives) {
  SimPair pair;
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  QDesc server = udp_socket(a, "0.0.0.0", 7);
  QDesc client = udp_socket(b, "0.0.0.0", 0);
  const std::string msg = pattern(65507);
  auto pop = a.pop(server);
  ASSERT_TRUE(pop.ok());
  sockaddr_in to = addr("10.0.0.1", 7);
  Sga out = sga_of(b, msg);
  auto push = b.pushto(client, out, sa(to), sizeof to);
  ASSERT_TRUE(push.ok());
  ASSERT_EQ(b.wait(*push, nullptr), 0);
  EXPECT_EQ(b.sgafree(out), 0);
  QResult r;
  ASSERT_EQ(a.wait(*pop, &r, 5s), 0);
  ASSERT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(text_of(r.sga), msg);
  EXPECT_EQ(counter(pair.stack(b), "arp.queued"), 45u);
  EXPECT_EQ(a.sgafree(r.sga), 0);
  EXPECT_EQ(a.close(server), 0);
  EXPECT_EQ(b.close(client), 0);
}

TEST(CatnipTest, the_udp_path_does_not_allocate_once_warm) {
  SimPair pair;
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  QDesc server = udp_socket(a, "0.0.0.0", 7);
  QDesc client = udp_socket(b, "0.0.0.0", 0);
  sockaddr_in to = addr("10.0.0.1", 7);
  // One buffer of each size, allocated before counting: 64 bytes are copied, 1200 attached.
  Sga small = sga_of(b, pattern(64));
  Sga large = sga_of(b, pattern(1200));
  auto round_trip = [&](const Sga& out) {
    auto pop = a.pop(server);
    auto push = b.pushto(client, out, sa(to), sizeof to);
    QResult r;
    ASSERT_EQ(b.wait(*push, nullptr), 0);
    ASSERT_EQ(a.wait(*pop, &r), 0);
    sockaddr_in back = r.sga.addr;
    auto echo = a.pushto(server, r.sga, sa(back), sizeof back);
    auto reply = b.pop(client);
    QResult rr;
    ASSERT_EQ(b.wait(*reply, &rr), 0);
    ASSERT_EQ(a.wait(*echo, nullptr), 0);
    ASSERT_EQ(rr.sga.length(), out.length());
    a.sgafree(r.sga);
    b.sgafree(rr.sga);
  };
  for (int i = 0; i < 20; ++i) {
    round_trip(small);
    round_trip(large);
  }
  g_news = 0;
  g_count_news = true;
  for (int i = 0; i < 200; ++i) {
    round_trip(small);
    round_trip(large);
  }
  g_count_news = false;
  EXPECT_EQ(g_news, 0u);
  b.sgafree(small);
  b.sgafree(large);
}

TEST(CatnipTest, arp_resolves_across_hosts) {
  SimPair pair;
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  const auto ip_a = net::wire::Ipv4Address::from_u32(0x0a000001);
  const auto ip_b = net::wire::Ipv4Address::from_u32(0x0a000002);
  EXPECT_FALSE(pair.stack(a).arp().cache().lookup(ip_b, pair.clock().now()));
  QDesc qa = udp_socket(a, "0.0.0.0", 0);
  QDesc qb = udp_socket(b, "0.0.0.0", 9);
  auto pop = b.pop(qb);
  sockaddr_in to = addr("10.0.0.2", 9);
  Sga out = sga_of(a, "who has 10.0.0.2?");
  auto push = a.pushto(qa, out, sa(to), sizeof to);
  ASSERT_TRUE(push.ok());
  QResult r;
  ASSERT_EQ(b.wait(*pop, &r, 5s), 0);
  EXPECT_EQ(text_of(r.sga), "who has 10.0.0.2?");
  EXPECT_EQ(*pair.stack(a).arp().cache().lookup(ip_b, pair.clock().now()), net::wire::EthernetAddress{kMacB});
  // b learned a from a's request, which was for b (RFC 826).
  EXPECT_EQ(*pair.stack(b).arp().cache().lookup(ip_a, pair.clock().now()), net::wire::EthernetAddress{kMacA});
  EXPECT_EQ(counter(pair.stack(a), "arp.requests_sent"), 1u);
  EXPECT_EQ(counter(pair.stack(b), "arp.replies_sent"), 1u);
  EXPECT_EQ(counter(pair.stack(b), "arp.requests_sent"), 0u);
  ASSERT_EQ(a.wait(*push, nullptr), 0);
  a.sgafree(out);
  b.sgafree(r.sga);
}

struct Pings final : net::IcmpLayer::EchoListener {
  void echo_reply(net::wire::Ipv4Address from, uint16_t, uint16_t seq, net::Payload data) override {
    std::string s;
    for (const mem::BufRef& p : data) s.append(reinterpret_cast<const char*>(p.data()), p.size());
    replies.push_back({from, seq, s});
  }
  struct Reply {
    net::wire::Ipv4Address from;
    uint16_t seq;
    std::string data;
  };
  std::vector<Reply> replies;
};

TEST(CatnipTest, ping_between_hosts) {
  SimPair pair;
  net::InetStack& a = pair.stack(pair.a());
  Pings pings;
  a.icmp().set_echo_listener(&pings);
  const auto ip_b = net::wire::Ipv4Address::from_u32(0x0a000002);
  const std::string data = "ping from a";
  for (uint16_t seq = 1; seq <= 3; ++seq) {
    const sched::Instant sent_at = pair.clock().now();
    ASSERT_EQ(a.icmp().send_echo_request(ip_b, 0x1d, seq, std::as_bytes(std::span(data))), 0);
    ASSERT_TRUE(pair.run_until([&] { return pings.replies.size() == seq; }));
    EXPECT_EQ(pings.replies.back().from, ip_b);
    EXPECT_EQ(pings.replies.back().seq, seq);
    EXPECT_EQ(pings.replies.back().data, data);
    // The simulated link takes no time: a round trip is instant, ARP included.
    EXPECT_EQ(pair.clock().now(), sent_at);
  }
  EXPECT_EQ(counter(pair.stack(pair.b()), "icmp.echo_replies_sent"), 3u);
}

TEST(CatnipTest, udp_to_a_closed_port_fails_the_next_pop_with_econnrefused) {
  SimPair pair;
  LibOS& b = pair.b();
  QDesc q = udp_socket(b, "0.0.0.0", 0);
  sockaddr_in to = addr("10.0.0.1", 4444);  // nobody listens there
  ASSERT_EQ(b.wait(*b.connect(q, sa(to), sizeof to), nullptr), 0);
  auto pop = b.pop(q);
  Sga out = sga_of(b, "knock knock");
  auto push = b.push(q, out);
  ASSERT_TRUE(push.ok());
  QResult r;
  ASSERT_EQ(b.wait(*pop, &r, 5s), ECONNREFUSED);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(counter(pair.stack(pair.a()), "icmp.errors_sent"), 1u);
  EXPECT_EQ(counter(pair.stack(b), "icmp.errors_received"), 1u);
  b.wait(*push, nullptr);
  b.sgafree(out);
}

TEST(CatnipTest, a_host_that_never_answers_arp_fails_a_connected_socket_with_ehostunreach) {
  SimPair pair(1, [](Config& c) {
    ASSERT_EQ(c.set("catnip.arp.request_timeout_ms", "100"), 0);
    ASSERT_EQ(c.set("catnip.arp.retries", "2"), 0);
  });
  LibOS& b = pair.b();
  QDesc q = udp_socket(b, "0.0.0.0", 0);
  sockaddr_in to = addr("10.0.0.77", 9);
  ASSERT_EQ(b.wait(*b.connect(q, sa(to), sizeof to), nullptr), 0);
  auto pop = b.pop(q);
  Sga out = sga_of(b, "hello?");
  auto push = b.push(q, out);
  const sched::Instant start = pair.clock().now();
  QResult r;
  ASSERT_EQ(b.wait(*pop, &r, 10s), EHOSTUNREACH);
  EXPECT_EQ(pair.clock().now() - start, 700ms);  // 100 + 200 + 400 ms
  // Held unreachable for a while: a push now fails at once.
  auto again = b.push(q, out);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(b.wait(*again, nullptr), EHOSTUNREACH);
  b.wait(*push, nullptr);
  b.sgafree(out);
}

TEST(CatnipTest, close_cancels_pending_pops) {
  SimPair pair;
  LibOS& a = pair.a();
  QDesc q = udp_socket(a, "0.0.0.0", 9);
  auto p1 = a.pop(q);
  auto p2 = a.pop(q);
  ASSERT_TRUE(p1.ok() && p2.ok());
  a.poll_once();  // both are waiting
  EXPECT_EQ(a.close(q), 0);
  QResult r;
  EXPECT_EQ(a.wait(*p1, &r), ECANCELED);
  EXPECT_EQ(a.wait(*p2, &r), ECANCELED);
  // The port is free again.
  QDesc q2 = udp_socket(a, "0.0.0.0", 9);
  EXPECT_EQ(a.close(q2), 0);
}

TEST(CatnipTest, pops_are_served_in_order_and_truncate_to_max_len) {
  SimPair pair;
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  QDesc server = udp_socket(a, "0.0.0.0", 7);
  QDesc client = udp_socket(b, "0.0.0.0", 0);
  auto first = a.pop(server);
  auto second = a.pop(server, 4);
  sockaddr_in to = addr("10.0.0.1", 7);
  for (const char* msg : {"one", "two-and-more"}) {
    Sga out = sga_of(b, msg);
    auto push = b.pushto(client, out, sa(to), sizeof to);
    ASSERT_EQ(b.wait(*push, nullptr), 0);
    b.sgafree(out);
  }
  QResult r1, r2;
  ASSERT_EQ(a.wait(*second, &r2, 5s), 0);
  ASSERT_EQ(a.wait(*first, &r1, 5s), 0);
  EXPECT_EQ(text_of(r1.sga), "one");
  EXPECT_EQ(text_of(r2.sga), "two-");
  a.sgafree(r1.sga);
  a.sgafree(r2.sga);
}

TEST(CatnipTest, socket_names_and_options) {
  SimPair pair;
  LibOS& b = pair.b();
  auto qd = b.socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_TRUE(qd.ok());
  sockaddr_in name{};
  socklen_t len = sizeof name;
  ASSERT_EQ(b.getsockname(*qd, reinterpret_cast<sockaddr*>(&name), &len), 0);
  EXPECT_EQ(name.sin_port, 0);
  EXPECT_EQ(b.getpeername(*qd, reinterpret_cast<sockaddr*>(&name), &len), ENOTCONN);
  sockaddr_in to = addr("10.0.0.1", 53);
  ASSERT_EQ(b.wait(*b.connect(*qd, sa(to), sizeof to), nullptr), 0);
  len = sizeof name;
  ASSERT_EQ(b.getsockname(*qd, reinterpret_cast<sockaddr*>(&name), &len), 0);
  EXPECT_EQ(ntohl(name.sin_addr.s_addr), 0x0a000002u);
  EXPECT_GE(ntohs(name.sin_port), 49152);
  ASSERT_EQ(b.getpeername(*qd, reinterpret_cast<sockaddr*>(&name), &len), 0);
  EXPECT_EQ(ntohs(name.sin_port), 53);

  int rcvbuf = 4096;
  EXPECT_EQ(b.setsockopt(*qd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  int got = 0;
  socklen_t got_len = sizeof got;
  EXPECT_EQ(b.getsockopt(*qd, SOL_SOCKET, SO_RCVBUF, &got, &got_len), 0);
  EXPECT_EQ(got, 4096);
  int one = 1;
  EXPECT_EQ(b.setsockopt(*qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), ENOPROTOOPT);
  EXPECT_EQ(b.listen(*qd, 1), EOPNOTSUPP);
  EXPECT_EQ(b.socket(AF_INET6, SOCK_DGRAM, 0).error(), EAFNOSUPPORT);
  EXPECT_EQ(b.socket(AF_INET, SOCK_RAW, 0).error(), ESOCKTNOSUPPORT);
}


// ---------------------------------------------------------------- TCP

// Skips a TCP test in a build without the TCP layer.
#define REQUIRE_TCP(pair)                                                 \
  if ((pair).stack((pair).a()).tcp() == nullptr) {                        \
    GTEST_SKIP() << "the TCP layer is not part of this build";            \
  }

// Waits for a connection from b to a's port 80; returns (a's accepted queue, b's queue).
std::pair<QDesc, QDesc> tcp_connection(SimPair& pair, QDesc* listener_out = nullptr) {
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  auto listener = a.socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_TRUE(listener.ok());
  sockaddr_in any = addr("0.0.0.0", 80);
  EXPECT_EQ(a.bind(*listener, sa(any), sizeof any), 0);
  EXPECT_EQ(a.listen(*listener, 16), 0);
  auto accept = a.accept(*listener);
  EXPECT_TRUE(accept.ok());
  auto client = b.socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_TRUE(client.ok());
  sockaddr_in to = addr("10.0.0.1", 80);
  auto connect = b.connect(*client, sa(to), sizeof to);
  EXPECT_TRUE(connect.ok());
  EXPECT_EQ(b.wait(*connect, nullptr, 10s), 0);
  QResult r;
  EXPECT_EQ(a.wait(*accept, &r, 10s), 0);
  EXPECT_EQ(r.opcode, Opcode::Accept);
  EXPECT_EQ(ntohl(r.accept.addr.sin_addr.s_addr), 0x0a000002u);
  if (listener_out) *listener_out = *listener;
  else a.close(*listener);
  return {r.accept.qd, *client};
}

// Pops from `qd` until `n` bytes came (or EOF); returns them.
std::string pop_bytes(LibOS& l, QDesc qd, std::size_t n) {
  std::string got;
  while (got.size() < n) {
    auto pop = l.pop(qd);
    EXPECT_TRUE(pop.ok());
    QResult r;
    EXPECT_EQ(l.wait(*pop, &r, 10s), 0);
    if (r.opcode != Opcode::Pop) break;
    const std::string part = text_of(r.sga);
    l.sgafree(r.sga);
    if (part.empty()) break;  // EOF
    got += part;
  }
  return got;
}

TEST(CatnipTcpTest, tcp_echo_through_push_and_pop) {
  SimPair pair;
  REQUIRE_TCP(pair);
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  auto [server, client] = tcp_connection(pair);
  for (std::size_t size : {std::size_t{5}, std::size_t{1460}, std::size_t{100000}}) {
    const std::string msg = pattern(size);
    Sga out = sga_of(b, msg);
    auto push = b.push(client, out);
    ASSERT_TRUE(push.ok());
    // The server echoes what it pops, as it pops it: the popped Sga itself goes back.
    std::size_t echoed = 0;
    while (echoed < size) {
      auto pop = a.pop(server);
      QResult r;
      ASSERT_EQ(a.wait(*pop, &r, 10s), 0);
      ASSERT_EQ(r.opcode, Opcode::Pop);
      echoed += r.sga.length();
      auto echo = a.push(server, r.sga);
      ASSERT_TRUE(echo.ok());
      ASSERT_EQ(a.wait(*echo, nullptr, 10s), 0);
      a.sgafree(r.sga);
    }
    EXPECT_EQ(echoed, size);
    EXPECT_EQ(pop_bytes(b, client, size), msg);
    ASSERT_EQ(b.wait(*push, nullptr, 10s), 0);
    b.sgafree(out);
  }
  // b closes: a's next pop sees the end of the stream.
  EXPECT_EQ(b.close(client), 0);
  auto eof = a.pop(server);
  QResult r;
  ASSERT_EQ(a.wait(*eof, &r, 10s), 0);
  EXPECT_EQ(r.sga.length(), 0u);
  a.sgafree(r.sga);
  EXPECT_EQ(a.close(server), 0);
}

TEST(CatnipTcpTest, the_tcp_path_does_not_allocate_once_warm) {
  SimPair pair;
  REQUIRE_TCP(pair);
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  // Named, not a structured binding: clang 14 cannot capture those in a lambda.
  const auto conn = tcp_connection(pair);
  const QDesc server = conn.first;
  const QDesc client = conn.second;
  Sga small = sga_of(b, pattern(64));
  Sga large = sga_of(b, pattern(1200));
  auto round_trip = [&](const Sga& out) {
    auto push = b.push(client, out);
    std::size_t echoed = 0;
    while (echoed < out.length()) {
      auto pop = a.pop(server);
      QResult r;
      ASSERT_EQ(a.wait(*pop, &r), 0);
      echoed += r.sga.length();
      auto echo = a.push(server, r.sga);
      ASSERT_EQ(a.wait(*echo, nullptr), 0);
      a.sgafree(r.sga);
    }
    std::size_t back = 0;
    while (back < out.length()) {
      auto pop = b.pop(client);
      QResult r;
      ASSERT_EQ(b.wait(*pop, &r), 0);
      back += r.sga.length();
      b.sgafree(r.sga);
    }
    ASSERT_EQ(b.wait(*push, nullptr), 0);
  };
  for (int i = 0; i < 20; ++i) {
    round_trip(small);
    round_trip(large);
  }
  g_news = 0;
  g_count_news = true;
  for (int i = 0; i < 200; ++i) {
    round_trip(small);
    round_trip(large);
  }
  g_count_news = false;
  EXPECT_EQ(g_news, 0u);
  b.sgafree(small);
  b.sgafree(large);
  a.close(server);
  b.close(client);
}

TEST(CatnipTcpTest, pushes_keep_their_order_and_pops_take_turns) {
  SimPair pair;
  REQUIRE_TCP(pair);
  LibOS& a = pair.a();
  LibOS& b = pair.b();
  auto [server, client] = tcp_connection(pair);
  std::string all;
  std::vector<QToken> pushes;
  std::vector<Sga> sgas;
  for (int i = 0; i < 20; ++i) {
    const std::string part = std::to_string(i) + ":" + pattern(20000 + static_cast<std::size_t>(i));
    all += part;
    sgas.push_back(sga_of(b, part));
    pushes.push_back(*b.push(client, sgas.back()));
  }
  EXPECT_EQ(pop_bytes(a, server, all.size()), all);
  for (QToken qt : pushes) EXPECT_EQ(b.wait(qt, nullptr, 10s), 0);
  for (const Sga& s : sgas) b.sgafree(s);
  a.close(server);
  b.close(client);
}

TEST(CatnipTcpTest, connecting_to_a_closed_port_is_refused) {
  SimPair pair;
  REQUIRE_TCP(pair);
  LibOS& b = pair.b();
  auto q = b.socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to = addr("10.0.0.1", 81);
  auto connect = b.connect(*q, sa(to), sizeof to);
  ASSERT_TRUE(connect.ok());
  EXPECT_EQ(b.wait(*connect, nullptr, 10s), ECONNREFUSED);
  b.close(*q);
}

TEST(CatnipTcpTest, close_cancels_a_pending_pop_and_accept) {
  SimPair pair;
  REQUIRE_TCP(pair);
  LibOS& a = pair.a();
  QDesc listener = -1;
  auto [server, client] = tcp_connection(pair, &listener);
  auto pop = a.pop(server);
  auto accept = a.accept(listener);
  a.poll_once();
  EXPECT_EQ(a.close(server), 0);
  EXPECT_EQ(a.close(listener), 0);
  EXPECT_EQ(a.wait(*pop, nullptr), ECANCELED);
  EXPECT_EQ(a.wait(*accept, nullptr), ECANCELED);
  pair.b().close(client);
}

TEST(CatnipTcpTest, tcp_options) {
  SimPair pair;
  REQUIRE_TCP(pair);
  LibOS& b = pair.b();
  auto q = b.socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE(q.ok());
  int one = 1;
  EXPECT_EQ(b.setsockopt(*q, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  int got = 0;
  socklen_t len = sizeof got;
  EXPECT_EQ(b.getsockopt(*q, IPPROTO_TCP, TCP_NODELAY, &got, &len), 0);
  EXPECT_EQ(got, 1);
  EXPECT_EQ(b.setsockopt(*q, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
  linger l{1, 0};
  EXPECT_EQ(b.setsockopt(*q, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  int size = 65536;
  EXPECT_EQ(b.setsockopt(*q, SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
  EXPECT_EQ(b.setsockopt(*q, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
  len = sizeof got;
  EXPECT_EQ(b.getsockopt(*q, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
  EXPECT_EQ(got, 65536);
  EXPECT_EQ(b.setsockopt(*q, IPPROTO_TCP, kTcpCongestion, "newreno", 7), 0);
  char name[16] = {};
  socklen_t name_len = sizeof name;
  EXPECT_EQ(b.getsockopt(*q, IPPROTO_TCP, kTcpCongestion, name, &name_len), 0);
  EXPECT_STREQ(name, "newreno");
  EXPECT_EQ(b.setsockopt(*q, IPPROTO_TCP, kTcpCongestion, "bogus", 5), EINVAL);
  sockaddr_in to = addr("10.0.0.1", 53);
  EXPECT_EQ(b.pushto(*q, sga_of(b, "x"), sa(to), sizeof to).error(), EOPNOTSUPP);
  b.close(*q);
}

// ---------------------------------------------------------------- teardown: the shutdown linger

// Pushes `msg` from b to a, waits for the push (the bytes are the TCP layer's), closes b's queue
// and destroys b's LibOS at once, as a process exiting right after close would.
void push_close_and_exit(SimPair& pair, QDesc client, const std::string& msg) {
  LibOS& b = pair.b();
  Sga out = sga_of(b, msg);
  auto push = b.push(client, out);
  ASSERT_TRUE(push.ok());
  ASSERT_EQ(b.wait(*push, nullptr, 10s), 0);
  b.sgafree(out);  // the stack keeps its references to the bytes
  ASSERT_EQ(b.close(client), 0);
  pair.destroy(b);
}

TEST(CatnipLingerTest, a_libos_destroyed_right_after_close_still_delivers_every_byte_and_its_fin) {
  SimPair pair;
  REQUIRE_TCP(pair);
  LibOS& a = pair.a();
  auto [server, client] = tcp_connection(pair);
  // Less than a's receive buffer, so that nobody needs to read on a while b lingers; far more
  // than one initial window, so that b's stack must go on sending after the LibOS is gone.
  const std::string msg = pattern(200000);
  const sched::Instant before = pair.clock().now();
  testing::internal::CaptureStderr();
  push_close_and_exit(pair, client, msg);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.find("aborted with RST"), std::string::npos) << log;
  EXPECT_LT(pair.clock().now() - before, 2000ms);  // done long before the linger bound
  // a reads every byte, then the end of the stream (b's FIN), after b is gone.
  EXPECT_EQ(pop_bytes(a, server, msg.size() + 1), msg);
  EXPECT_EQ(a.close(server), 0);
}

TEST(CatnipLingerTest, teardown_with_an_unreachable_peer_ends_within_the_linger_and_resets) {
  SimPair pair(1, [](Config& c) { ASSERT_EQ(c.set("catnip.tcp.shutdown_linger_ms", "500"), 0); });
  REQUIRE_TCP(pair);
  auto [server, client] = tcp_connection(pair);
  runtime::sim::LinkProfile lost;
  lost.drop = 1.0;  // from now on every frame is lost: b's data and FIN are never acknowledged
  pair.network().set_profile_all(lost);
  const sched::Instant before = pair.clock().now();
  testing::internal::CaptureStderr();
  push_close_and_exit(pair, client, pattern(10000));
  const std::string log = testing::internal::GetCapturedStderr();
  const auto took = pair.clock().now() - before;
  EXPECT_GE(took, 500ms);  // it did wait: retransmissions had their chance
  EXPECT_LT(took, 600ms);  // and not much longer than the bound
  EXPECT_NE(log.find("shutdown: 1 TCP connection(s) aborted with RST"), std::string::npos) << log;
  EXPECT_NE(log.find("catnip.tcp.shutdown_linger_ms"), std::string::npos) << log;
  pair.a().close(server);
}

TEST(CatnipLingerTest, no_linger_resets_what_is_unsent_at_once) {
  SimPair pair(1, [](Config& c) { ASSERT_EQ(c.set("catnip.tcp.shutdown_linger_ms", "0"), 0); });
  REQUIRE_TCP(pair);
  LibOS& a = pair.a();
  auto [server, client] = tcp_connection(pair);
  const sched::Instant before = pair.clock().now();
  testing::internal::CaptureStderr();
  push_close_and_exit(pair, client, pattern(200000));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(pair.clock().now(), before);  // no time passed: nothing was waited for
  EXPECT_NE(log.find("shutdown: 1 TCP connection(s) aborted with RST"), std::string::npos) << log;
  // a gets what made it out before the RST, never all of it, then the reset.
  std::size_t got = 0;
  int err = 0;
  for (int i = 0; i < 1000 && err == 0; ++i) {
    auto pop = a.pop(server);
    ASSERT_TRUE(pop.ok());
    QResult r;
    err = a.wait(*pop, &r, 10s);
    if (err == 0) {
      ASSERT_GT(r.sga.length(), 0u) << "a graceful end of stream instead of a reset";
      got += r.sga.length();
      a.sgafree(r.sga);
    }
  }
  EXPECT_EQ(err, ECONNRESET);
  EXPECT_LT(got, 200000u);
  a.close(server);
}

TEST(CatnipLingerTest, teardown_closes_what_the_application_left_open) {
  SimPair pair;
  REQUIRE_TCP(pair);
  LibOS& a = pair.a();
  auto [server, client] = tcp_connection(pair);
  LibOS& b = pair.b();
  const std::string msg = pattern(50000);
  Sga out = sga_of(b, msg);
  auto push = b.push(client, out);
  ASSERT_TRUE(push.ok());
  ASSERT_EQ(b.wait(*push, nullptr, 10s), 0);
  b.sgafree(out);
  pair.destroy(b);  // no close: the exit closes the queue, gracefully
  EXPECT_EQ(pop_bytes(a, server, msg.size() + 1), msg);
  EXPECT_EQ(a.close(server), 0);
}

}  // namespace
}  // namespace demi::catnip::test
