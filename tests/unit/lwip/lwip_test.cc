// The lwip module end to end on the simulated network: two LibOS instances (lwIP and lwIP, or
// lwIP and catnip) talking through the queue API, on clean and lossy links, in virtual time.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <random>
#include <string>

#include "unit/lwip/echo_peers.h"
#include "unit/lwip/sim_hosts.h"

namespace demi::lwip::test {
namespace {

using namespace std::chrono_literals;

// Steps `peers` and the network until `done`, or until `limit` of virtual time has passed.
bool run(SimHosts& h, const std::function<void()>& peers, const std::function<bool()>& done, sched::Duration limit) {
  const sched::Instant deadline = h.clock().now() + limit;
  for (int i = 0; i < 10'000'000; ++i) {
    peers();
    if (done()) return true;
    if (h.clock().now() > deadline) return false;
    if (!h.idle()) return done();
  }
  return false;
}

QDesc udp_socket(LibOS& l, const char* ip, uint16_t port) {
  auto qd = l.socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_TRUE(qd.ok());
  sockaddr_in a = addr(ip, port);
  EXPECT_EQ(l.bind(*qd, sa(a), sizeof a), 0);
  return *qd;
}

// `l` waits for qt; the result, with opcode Invalid if it did not complete in `limit`.
QResult wait_for(LibOS& l, QToken qt, sched::Duration limit = 10s) {
  QResult r;
  l.wait(qt, &r, limit);
  return r;
}

// A connected pair of TCP queues: `client` on b, `server` (accepted) on a.
struct TcpPair {
  QDesc listener = -1;
  QDesc server = -1;
  QDesc client = -1;
};
TcpPair connect_pair(SimHosts& h, uint16_t port) {
  TcpPair p;
  LibOS& a = h.a();
  LibOS& b = h.b();
  p.listener = *a.socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in la = addr("0.0.0.0", port);
  EXPECT_EQ(a.bind(p.listener, sa(la), sizeof la), 0);
  EXPECT_EQ(a.listen(p.listener, 8), 0);
  auto acc = a.accept(p.listener);
  p.client = *b.socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to = addr("10.0.0.1", port);
  auto con = b.connect(p.client, sa(to), sizeof to);
  EXPECT_TRUE(acc.ok() && con.ok());
  EXPECT_EQ(wait_for(b, *con).opcode, Opcode::Connect);
  QResult r = wait_for(a, *acc);
  EXPECT_EQ(r.opcode, Opcode::Accept);
  p.server = r.accept.qd;
  return p;
}

// Runs an echo server on a (10.0.0.1:7) and a checking client on b until every byte came back.
void tcp_echo(SimHosts& h, std::size_t conns, std::size_t bytes, std::size_t max_push, uint64_t seed,
              sched::Duration limit) {
  TcpEchoServer server(h.a(), "0.0.0.0", 7);
  TcpEchoClient client(h.b(), "10.0.0.1", 7, conns, bytes, max_push, seed);
  const bool ok = run(
      h, [&] { server.step(), client.step(); }, [&] { return client.done(); }, limit);
  ASSERT_TRUE(ok) << "no end after " << sched::to_ms(limit) << " ms of virtual time; " << client.finished() << " of "
                  << conns << " connections done";
  ASSERT_EQ(client.failure(), "");
  EXPECT_EQ(client.finished(), conns);
  // The server sees every client close and closes too.
  EXPECT_TRUE(run(h, [&] { server.step(); }, [&] { return server.closed() == conns; }, 60s));
  EXPECT_EQ(server.accepted(), conns);
  EXPECT_EQ(server.errors(), 0u);
}

// ---------------------------------------------------------------- the module itself

TEST(LwipModuleTest, identity_configuration_and_one_address_per_process) {
  sched::VirtualClock clock;
  runtime::sim::Network net(clock, 1);
  auto* port = net.add_host(kMacA, "a");
  auto* port2 = net.add_host(kMacB, "b");
  Config config;
  EXPECT_EQ(make_lwip_module(*port, config), nullptr);  // no lwip.address
  ASSERT_EQ(config.set("lwip.address", "10.0.0.1"), 0);
  ASSERT_EQ(config.set("lwip.netmask", "255.0.255.0"), 0);
  EXPECT_EQ(make_lwip_module(*port, config), nullptr);  // not contiguous
  ASSERT_EQ(config.set("lwip.netmask", "255.255.255.0"), 0);
  ASSERT_EQ(config.set("lwip.gateway", "10.0.1.1"), 0);
  EXPECT_EQ(make_lwip_module(*port, config), nullptr);  // gateway off the subnet
  ASSERT_EQ(config.set("lwip.gateway", "10.0.0.254"), 0);
  EXPECT_EQ(make_lwip_module(std::unique_ptr<runtime::Device>{}, config), nullptr);

  LibOSOptions o;
  o.config = config;
  o.clock = &clock;
  LibOS libos(o);
  auto m = make_lwip_module(*port, config);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->name(), "lwip");
  EXPECT_EQ(m->kind(), ModuleKind::Network);
  EXPECT_EQ(m->wait_fd(), -1);  // a simulated port is polled
  ASSERT_EQ(libos.install(std::move(m)), 0);

  // lwIP is one stack per process: a second module on the same address is refused.
  LibOS other(o);
  EXPECT_EQ(other.install(make_lwip_module(*port2, config)), EADDRINUSE);
  // An MTU larger than the device's is refused at install.
  Config big = config;
  ASSERT_EQ(big.set("lwip.address", "10.0.0.3"), 0);
  ASSERT_EQ(big.set("lwip.mtu", "9000"), 0);
  LibOS third(o);
  EXPECT_EQ(third.install(make_lwip_module(*port2, big)), EINVAL);

  // Bad calls answer errno values.
  EXPECT_EQ(libos.socket(AF_INET6, SOCK_STREAM, 0).error(), EAFNOSUPPORT);
  EXPECT_EQ(libos.socket(AF_INET, SOCK_RAW, 0).error(), ESOCKTNOSUPPORT);
  auto qd = libos.socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE(qd.ok());
  sockaddr_in elsewhere = addr("10.0.0.77", 80);
  EXPECT_EQ(libos.bind(*qd, sa(elsewhere), sizeof elsewhere), EADDRNOTAVAIL);
  EXPECT_EQ(libos.pop(*qd).error(), 0) << "a pop on an unconnected socket starts and fails later";
  EXPECT_EQ(libos.close(*qd), 0);
}

// ---------------------------------------------------------------- UDP

TEST(LwipTest, udp_echo_is_byte_exact_with_random_sizes_and_sends_without_a_copy) {
  SimHosts h(3);
  LibOS& a = h.a();
  LibOS& b = h.b();
  QDesc server = udp_socket(a, "0.0.0.0", 7);
  QDesc client = udp_socket(b, "0.0.0.0", 0);
  std::mt19937_64 rng(3);
  const sockaddr_in to = addr("10.0.0.1", 7);
  for (int i = 0; i < 200; ++i) {
    // Up to the largest datagram that fits one frame, and some that IPv4 must fragment.
    const std::size_t n = i % 20 == 19 ? 4000 + rng() % 4000 : 1 + rng() % 1472;
    std::string msg(n, '\0');
    for (char& c : msg) c = static_cast<char>(rng());
    auto spop = a.pop(server);
    Sga out = sga_of(b, msg);
    auto push = b.pushto(client, out, sa(to), sizeof to);
    ASSERT_TRUE(spop.ok() && push.ok());
    ASSERT_EQ(wait_for(b, *push).opcode, Opcode::Push);
    EXPECT_EQ(b.sgafree(out), 0);
    QResult r = wait_for(a, *spop);
    ASSERT_EQ(r.opcode, Opcode::Pop) << "datagram " << i << " of " << n << " bytes";
    ASSERT_EQ(text_of(r.sga), msg);
    EXPECT_EQ(r.sga.addr.sin_addr.s_addr, addr("10.0.0.2", 0).sin_addr.s_addr);
    // Echo it back from the popped buffers, to where it came from.
    auto cpop = b.pop(client);
    auto back = a.pushto(server, r.sga, reinterpret_cast<const sockaddr*>(&r.sga.addr), sizeof r.sga.addr);
    ASSERT_TRUE(back.ok() && cpop.ok());
    ASSERT_EQ(wait_for(a, *back).opcode, Opcode::Push);
    EXPECT_EQ(a.sgafree(r.sga), 0);
    QResult e = wait_for(b, *cpop);
    ASSERT_EQ(e.opcode, Opcode::Pop);
    ASSERT_EQ(text_of(e.sga), msg);
    EXPECT_EQ(e.sga.addr.sin_port, htons(7));
    EXPECT_EQ(b.sgafree(e.sga), 0);
  }
  // Datagrams that fit a frame went out from the application's buffers.
  EXPECT_GE(SimHosts::lwip(b)->counters().tx_zero_copy, 180u);
  EXPECT_EQ(a.host().sgas().live(), 0u);
  EXPECT_EQ(b.host().sgas().live(), 0u);
  EXPECT_EQ(SimHosts::lwip(b)->tx_refs_in_use(), 0u);
}

TEST(LwipTest, udp_connected_push_truncation_and_close_cancels_pops) {
  SimHosts h(4);
  LibOS& a = h.a();
  LibOS& b = h.b();
  QDesc server = udp_socket(a, "10.0.0.1", 9);
  QDesc client = *b.socket(AF_INET, SOCK_DGRAM, 0);
  Sga out = sga_of(b, "no destination");
  EXPECT_EQ(b.push(client, out).error(), EDESTADDRREQ);
  sockaddr_in to = addr("10.0.0.1", 9);
  auto con = b.connect(client, sa(to), sizeof to);
  ASSERT_TRUE(con.ok());
  EXPECT_EQ(wait_for(b, *con).opcode, Opcode::Connect);
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  EXPECT_EQ(b.getpeername(client, reinterpret_cast<sockaddr*>(&peer), &len), 0);
  EXPECT_EQ(peer.sin_port, htons(9));
  auto spop = a.pop(server, 5);  // truncates to 5 bytes
  auto push = b.push(client, out);
  ASSERT_TRUE(push.ok() && spop.ok());
  EXPECT_EQ(wait_for(b, *push).opcode, Opcode::Push);
  EXPECT_EQ(b.sgafree(out), 0);
  QResult r = wait_for(a, *spop);
  ASSERT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(text_of(r.sga), "no de");
  EXPECT_EQ(a.sgafree(r.sga), 0);

  auto pending = a.pop(server);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(a.close(server), 0);
  QResult c = wait_for(a, *pending);
  EXPECT_EQ(c.opcode, Opcode::Failed);
  EXPECT_EQ(c.ret, ECANCELED);
  EXPECT_EQ(b.close(client), 0);
}

// ---------------------------------------------------------------- TCP

TEST(LwipTest, tcp_echo_is_byte_exact_with_random_sizes) {
  SimHosts h(5);
  tcp_echo(h, 1, 600'000, 70'000, 5, 120s);  // pushes larger than lwIP's 64 KiB send buffer too
  EXPECT_EQ(h.a().host().sgas().live(), 0u);
  EXPECT_EQ(h.b().host().sgas().live(), 0u);
}

TEST(LwipTest, tcp_echo_over_many_connections_at_once) {
  SimHosts h(6);
  tcp_echo(h, 40, 20'000, 3000, 6, 120s);
}

TEST(LwipTest, tcp_delivers_every_byte_once_in_order_over_a_lossy_link) {
  // 5% loss, 5% duplication and 10% reordering, both ways.
  SimHosts h(7, Stack::Lwip, Stack::Lwip, [](runtime::sim::Network& net) {
    runtime::sim::LinkProfile p = runtime::sim::LinkProfile::loss(0.05);
    p.duplicate = 0.05;
    p.reorder = 0.10;
    p.reorder_delay = 1ms;
    net.set_profile_all(p);
  });
  tcp_echo(h, 4, 100'000, 9000, 7, 1800s);
  const runtime::sim::LinkCounters t = h.network().totals();
  EXPECT_GT(t.dropped_loss, 10u) << "the link did lose frames";
  EXPECT_GT(t.duplicated, 10u);
}

TEST(LwipTest, connect_to_a_closed_port_is_refused) {
  SimHosts h(8);
  LibOS& b = h.b();
  QDesc qd = *b.socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to = addr("10.0.0.1", 4444);
  auto con = b.connect(qd, sa(to), sizeof to);
  ASSERT_TRUE(con.ok());
  QResult r = wait_for(b, *con);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECONNREFUSED);
  EXPECT_EQ(b.close(qd), 0);
}

TEST(LwipTest, connect_to_nobody_times_out) {
  SimHosts h(9);
  LibOS& b = h.b();
  QDesc qd = *b.socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to = addr("10.0.0.99", 80);  // no host answers ARP for it
  auto con = b.connect(qd, sa(to), sizeof to);
  ASSERT_TRUE(con.ok());
  QResult r = wait_for(b, *con, 600s);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ETIMEDOUT);
  EXPECT_EQ(b.close(qd), 0);
}

TEST(LwipTest, close_semantics) {
  SimHosts h(10);
  LibOS& a = h.a();
  LibOS& b = h.b();
  TcpPair p = connect_pair(h, 80);
  sockaddr_in name{};
  socklen_t len = sizeof name;
  EXPECT_EQ(b.getpeername(p.client, reinterpret_cast<sockaddr*>(&name), &len), 0);
  EXPECT_EQ(name.sin_port, htons(80));
  len = sizeof name;
  EXPECT_EQ(a.getpeername(p.server, reinterpret_cast<sockaddr*>(&name), &len), 0);
  EXPECT_EQ(name.sin_addr.s_addr, addr("10.0.0.2", 0).sin_addr.s_addr);

  // Pending operations of a closed queue complete with ECANCELED: a pop, and an accept.
  auto pop = a.pop(p.server);
  auto acc = a.accept(p.listener);
  ASSERT_TRUE(pop.ok() && acc.ok());
  EXPECT_EQ(a.close(p.listener), 0);
  QResult r = wait_for(a, *acc);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECANCELED);

  // A graceful close by the client: the server's pop sees the end of the stream (0 bytes),
  // after the bytes sent before it.
  Sga last = sga_of(b, "bye");
  auto push = b.push(p.client, last);
  ASSERT_TRUE(push.ok());
  EXPECT_EQ(wait_for(b, *push).opcode, Opcode::Push);
  EXPECT_EQ(b.sgafree(last), 0);
  EXPECT_EQ(b.close(p.client), 0);
  r = wait_for(a, *pop);
  ASSERT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(text_of(r.sga), "bye");
  EXPECT_EQ(a.sgafree(r.sga), 0);
  auto eof = a.pop(p.server);
  ASSERT_TRUE(eof.ok());
  r = wait_for(a, *eof);
  ASSERT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(r.sga.length(), 0u);
  EXPECT_EQ(a.sgafree(r.sga), 0);
  auto pending = a.pop(p.server);  // still the end of the stream
  ASSERT_TRUE(pending.ok());
  r = wait_for(a, *pending);
  EXPECT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(r.sga.length(), 0u);
  EXPECT_EQ(a.sgafree(r.sga), 0);
  EXPECT_EQ(a.close(p.server), 0);
  EXPECT_EQ(a.close(p.server), EBADF);

  // An abortive close (SO_LINGER 0) resets: the peer's pop fails with ECONNRESET.
  TcpPair q = connect_pair(h, 81);
  linger l{1, 0};
  EXPECT_EQ(b.setsockopt(q.client, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  auto spop = a.pop(q.server);
  ASSERT_TRUE(spop.ok());
  EXPECT_EQ(b.close(q.client), 0);
  r = wait_for(a, *spop);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECONNRESET);
  // Pushing into a reset connection fails too.
  Sga more = sga_of(a, "anyone?");
  auto p2 = a.push(q.server, more);
  ASSERT_TRUE(p2.ok());
  r = wait_for(a, *p2);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECONNRESET);
  EXPECT_EQ(a.sgafree(more), 0);
  EXPECT_EQ(a.close(q.server), 0);
  EXPECT_EQ(a.close(q.listener), 0);

  // A push that waits for room is cancelled by close.
  TcpPair w = connect_pair(h, 82);
  std::string big(200'000, 'x');
  Sga blob = sga_of(b, big);
  auto stuck = b.push(w.client, blob);  // the server never pops: only the 64 KiB window moves
  ASSERT_TRUE(stuck.ok());
  EXPECT_EQ(wait_for(b, *stuck, 5s).opcode, Opcode::Invalid) << "the push cannot complete yet";
  EXPECT_EQ(b.close(w.client), 0);
  r = wait_for(b, *stuck);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECANCELED);
  EXPECT_EQ(b.sgafree(blob), 0);
  EXPECT_EQ(a.close(w.server), 0);
  EXPECT_EQ(a.close(w.listener), 0);
}

TEST(LwipTest, options_and_a_rebound_port_after_time_wait) {
  SimHosts h(11);
  LibOS& a = h.a();
  LibOS& b = h.b();
  TcpPair p = connect_pair(h, 90);
  int one = 1;
  EXPECT_EQ(b.setsockopt(p.client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  int v = 0;
  socklen_t len = sizeof v;
  EXPECT_EQ(b.getsockopt(p.client, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_EQ(v, 1);
  len = sizeof v;
  EXPECT_EQ(b.getsockopt(p.client, SOL_SOCKET, SO_TYPE, &v, &len), 0);
  EXPECT_EQ(v, SOCK_STREAM);
  EXPECT_EQ(b.setsockopt(p.client, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one), ENOPROTOOPT);
  // The server closes first, so its side goes to TIME_WAIT; its port can be bound again.
  EXPECT_EQ(a.close(p.server), 0);
  EXPECT_EQ(a.close(p.listener), 0);
  auto eof = b.pop(p.client);
  ASSERT_TRUE(eof.ok());
  QResult r = wait_for(b, *eof);
  ASSERT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(r.sga.length(), 0u);
  EXPECT_EQ(b.sgafree(r.sga), 0);
  EXPECT_EQ(b.close(p.client), 0);
  TcpPair again = connect_pair(h, 90);
  EXPECT_GE(again.server, 0);
}

// ---------------------------------------------------------------- lwIP and catnip

TEST(LwipCatnipTest, udp_both_ways) {
  SimHosts h(12, Stack::Catnip, Stack::Lwip);  // a: catnip, b: lwIP
  for (bool lwip_sends : {true, false}) {
    LibOS& from = lwip_sends ? h.b() : h.a();
    LibOS& to = lwip_sends ? h.a() : h.b();
    const char* to_ip = lwip_sends ? "10.0.0.1" : "10.0.0.2";
    QDesc rx = udp_socket(to, "0.0.0.0", 5000);
    QDesc tx = udp_socket(from, "0.0.0.0", 0);
    std::mt19937_64 rng(12);
    const sockaddr_in dst = addr(to_ip, 5000);
    for (int i = 0; i < 50; ++i) {
      std::string msg(1 + rng() % 1400, '\0');
      for (char& c : msg) c = static_cast<char>(rng());
      auto pop = to.pop(rx);
      Sga out = sga_of(from, msg);
      auto push = from.pushto(tx, out, sa(dst), sizeof dst);
      ASSERT_TRUE(pop.ok() && push.ok());
      ASSERT_EQ(wait_for(from, *push).opcode, Opcode::Push);
      EXPECT_EQ(from.sgafree(out), 0);
      QResult r = wait_for(to, *pop);
      ASSERT_EQ(r.opcode, Opcode::Pop) << (lwip_sends ? "lwIP -> catnip" : "catnip -> lwIP") << ", datagram " << i;
      EXPECT_EQ(text_of(r.sga), msg);
      EXPECT_EQ(to.sgafree(r.sga), 0);
    }
    EXPECT_EQ(to.close(rx), 0);
    EXPECT_EQ(from.close(tx), 0);
  }
}

TEST(LwipCatnipTest, tcp_echo_between_catnip_and_lwip) {
  SimHosts h(13, Stack::Catnip, Stack::Lwip);  // a: catnip (echo server), b: lwIP (client)
  auto probe = h.a().socket(AF_INET, SOCK_STREAM, 0);
  if (!probe.ok()) GTEST_SKIP() << "catnip has no TCP in this build: socket(SOCK_STREAM) answered " << probe.error();
  EXPECT_EQ(h.a().close(*probe), 0);
  tcp_echo(h, 3, 50'000, 5000, 13, 120s);
}

}  // namespace
}  // namespace demi::lwip::test
