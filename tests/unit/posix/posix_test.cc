// The posix module through demi::LibOS, over real kernel sockets on 127.0.0.1 only. Every wait
// is bounded (kLimit), so a bug shows as a failure, never as a hung test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <demi/libos.h>
#include <demi/posix.h>

#include "libos/module_host.h"

// ---------------------------------------------------------------- counting operator new
// Counts heap allocations made through operator new while `g_count_news` is set, to check that
// the operations' fast path does not reach the heap once warm.
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
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using demi::Opcode;
using demi::QDesc;
using demi::QResult;
using demi::QToken;
using demi::Sga;
using namespace std::chrono_literals;

constexpr auto kLimit = std::chrono::seconds(5);  // the longest any single wait may take

sockaddr_in loopback(uint16_t port = 0) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}
const sockaddr* sa(const sockaddr_in& a) {
  return reinterpret_cast<const sockaddr*>(&a);
}
sockaddr* sa(sockaddr_in& a) {
  return reinterpret_cast<sockaddr*>(&a);
}

std::string bytes_of(const Sga& sga) {
  std::string s;
  for (uint32_t i = 0; i < sga.numsegs; ++i) s.append(static_cast<const char*>(sga.segs[i].buf), sga.segs[i].len);
  return s;
}

// One LibOS with the posix module, and helpers to build sockets and move bytes with it.
class Peer {
 public:
  Peer() : libos(options()) { EXPECT_EQ(libos.install(demi::make_posix_module()), 0); }
  // The tests fill megabytes between waits: no stall warnings for that.
  static demi::LibOSOptions options() {
    demi::LibOSOptions o;
    EXPECT_EQ(o.config.set("libos.stall_warning_ms", "0"), 0);
    return o;
  }

  QDesc tcp() {
    auto qd = libos.socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_TRUE(qd.ok()) << std::strerror(qd.error());
    return qd.ok() ? *qd : -1;
  }
  // A UDP socket bound to 127.0.0.1 on a port the kernel picks; its address in *addr.
  QDesc udp(sockaddr_in* addr) {
    auto qd = libos.socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_TRUE(qd.ok()) << std::strerror(qd.error());
    sockaddr_in a = loopback();
    EXPECT_EQ(libos.bind(*qd, sa(a), sizeof a), 0);
    *addr = local(*qd);
    return *qd;
  }
  // A TCP socket listening on 127.0.0.1 on a port the kernel picks; its address in *addr.
  QDesc listener(sockaddr_in* addr, int rcvbuf = 0) {
    QDesc qd = tcp();
    if (rcvbuf) {
      EXPECT_EQ(libos.setsockopt(qd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    }
    sockaddr_in a = loopback();
    EXPECT_EQ(libos.bind(qd, sa(a), sizeof a), 0);
    EXPECT_EQ(libos.listen(qd, 16), 0);
    *addr = local(qd);
    return qd;
  }
  sockaddr_in local(QDesc qd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    EXPECT_EQ(libos.getsockname(qd, sa(a), &len), 0);
    return a;
  }
  // A connected TCP pair inside this LibOS. Optional small kernel buffers make big pushes
  // progress only as fast as the other end reads.
  void pair(QDesc* client, QDesc* server, int sndbuf = 0, int rcvbuf = 0) {
    sockaddr_in addr{};
    QDesc l = listener(&addr, rcvbuf);
    *client = tcp();
    if (sndbuf) {
      EXPECT_EQ(libos.setsockopt(*client, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    }
    QToken a = accept(l);
    QToken c = *libos.connect(*client, sa(addr), sizeof addr);
    QResult r;
    ASSERT_EQ(libos.wait(c, &r, kLimit), 0);
    EXPECT_EQ(r.opcode, Opcode::Connect);
    ASSERT_EQ(libos.wait(a, &r, kLimit), 0);
    EXPECT_EQ(r.opcode, Opcode::Accept);
    *server = r.accept.qd;
    EXPECT_EQ(libos.close(l), 0);
  }
  QToken accept(QDesc qd) {
    auto qt = libos.accept(qd);
    EXPECT_TRUE(qt.ok()) << std::strerror(qt.error());
    return qt.ok() ? *qt : 0;
  }
  QToken pop(QDesc qd, std::size_t max_len = 0) {
    auto qt = libos.pop(qd, max_len);
    EXPECT_TRUE(qt.ok()) << std::strerror(qt.error());
    return qt.ok() ? *qt : 0;
  }
  Sga sga(std::string_view text) {
    auto s = libos.sgaalloc(text.size());
    EXPECT_TRUE(s.ok());
    std::memcpy(s->segs[0].buf, text.data(), text.size());
    return *s;
  }
  // Pushes text and waits for the push to complete.
  void send(QDesc qd, std::string_view text) {
    Sga s = sga(text);
    QResult r;
    EXPECT_EQ(libos.wait(*libos.push(qd, s), &r, kLimit), 0);
    EXPECT_EQ(r.opcode, Opcode::Push);
    EXPECT_EQ(libos.sgafree(s), 0);
  }
  void send_to(QDesc qd, std::string_view text, const sockaddr_in& to) {
    Sga s = sga(text);
    QResult r;
    EXPECT_EQ(libos.wait(*libos.pushto(qd, s, sa(to), sizeof to), &r, kLimit), 0);
    EXPECT_EQ(libos.sgafree(s), 0);
  }
  // Waits for a pop and returns its bytes (freeing the sga); "<errno N>" if it failed.
  std::string take(QToken qt, sockaddr_in* from = nullptr) {
    QResult r;
    int rc = libos.wait(qt, &r, kLimit);
    if (rc != 0) return "<errno " + std::to_string(rc) + ">";
    EXPECT_EQ(r.opcode, Opcode::Pop);
    if (from) *from = r.sga.addr;
    std::string s = bytes_of(r.sga);
    EXPECT_EQ(libos.sgafree(r.sga), 0);
    return s;
  }
  // Reads exactly n bytes from a TCP queue.
  std::string receive(QDesc qd, std::size_t n) {
    std::string got;
    while (got.size() < n) {
      std::string part = take(pop(qd));
      if (part.empty() || part[0] == '<') {
        ADD_FAILURE() << "stream ended after " << got.size() << " of " << n << " bytes: " << part;
        break;
      }
      got += part;
    }
    return got;
  }
  std::size_t live_sgas() { return libos.host().sgas().live(); }

  demi::LibOS libos;
};

bool same_address(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_family == b.sin_family && a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
}

// A deterministic byte pattern, so that a misplaced or repeated chunk shows.
std::vector<char> pattern(std::size_t n, unsigned seed) {
  std::vector<char> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : v) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return v;
}

// ---------------------------------------------------------------- the module

TEST(Posix, ModuleIsNamedPosixAndIsANetworkModule) {
  auto m = demi::make_posix_module();
  EXPECT_EQ(m->name(), "posix");
  EXPECT_EQ(m->kind(), demi::ModuleKind::Network);
  EXPECT_EQ(m->wait_fd(), -1);  // nothing is opened before install
  Peer p;
  EXPECT_GE(p.libos.module("posix")->wait_fd(), 0);
}

// ---------------------------------------------------------------- TCP

TEST(Posix, TcpEchoRoundTripBetweenTwoLibOSes) {
  Peer server, client;
  sockaddr_in addr{};
  QDesc l = server.listener(&addr);
  QToken a = server.accept(l);
  QDesc c = client.tcp();
  QToken ct = *client.libos.connect(c, sa(addr), sizeof addr);
  QResult r;
  ASSERT_EQ(client.libos.wait(ct, &r, kLimit), 0);  // the kernel completes the handshake alone
  EXPECT_EQ(r.opcode, Opcode::Connect);
  ASSERT_EQ(server.libos.wait(a, &r, kLimit), 0);
  ASSERT_EQ(r.opcode, Opcode::Accept);
  QDesc s = r.accept.qd;
  EXPECT_TRUE(server.libos.is_qd_valid(s));
  EXPECT_TRUE(same_address(r.accept.addr, client.local(c)));  // the peer is the client

  client.send(c, "hello, demi");
  // The server echoes the very sga it popped.
  ASSERT_EQ(server.libos.wait(server.pop(s), &r, kLimit), 0);
  EXPECT_EQ(bytes_of(r.sga), "hello, demi");
  Sga echo = r.sga;
  ASSERT_EQ(server.libos.wait(*server.libos.push(s, echo), &r, kLimit), 0);
  EXPECT_EQ(r.opcode, Opcode::Push);
  EXPECT_EQ(server.libos.sgafree(echo), 0);
  EXPECT_EQ(client.receive(c, 11), "hello, demi");

  EXPECT_EQ(client.libos.close(c), 0);
  EXPECT_EQ(server.libos.close(s), 0);
  EXPECT_EQ(server.libos.close(l), 0);
  EXPECT_EQ(client.live_sgas(), 0u);
  EXPECT_EQ(server.live_sgas(), 0u);
}

TEST(Posix, MultiSegmentPushArrivesInSegmentOrder) {
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  std::size_t sizes[] = {3, 5, 1, 7};
  auto sga = p.libos.sgaalloc(std::span<const std::size_t>(sizes));
  ASSERT_TRUE(sga.ok());
  const char* parts[] = {"abc", "defgh", "i", "jklmnop"};
  for (uint32_t i = 0; i < 4; ++i) std::memcpy(sga->segs[i].buf, parts[i], sizes[i]);
  QResult r;
  ASSERT_EQ(p.libos.wait(*p.libos.push(c, *sga), &r, kLimit), 0);
  EXPECT_EQ(p.libos.sgafree(*sga), 0);
  EXPECT_EQ(p.receive(s, 16), "abcdefghijklmnop");
}

TEST(Posix, FourMebibytePushCompletesOnlyAfterTheKernelTookEveryByte) {
  Peer p;
  QDesc c, s;
  const int buf = 64 * 1024;  // small kernel buffers: the push must wait for the reader
  p.pair(&c, &s, buf, buf);
  constexpr std::size_t kSeg = 1 << 20, kTotal = 4 * kSeg;
  std::size_t sizes[] = {kSeg, kSeg, kSeg, kSeg};
  auto sga = p.libos.sgaalloc(std::span<const std::size_t>(sizes));
  ASSERT_TRUE(sga.ok());
  std::vector<char> data = pattern(kTotal, 4);
  for (uint32_t i = 0; i < 4; ++i) std::memcpy(sga->segs[i].buf, data.data() + i * kSeg, kSeg);

  QToken push = *p.libos.push(c, *sga);
  QResult r;
  EXPECT_EQ(p.libos.wait(push, &r, 0ns), ETIMEDOUT);  // 4 MiB cannot fit in the kernel's buffers

  std::vector<char> got;
  got.reserve(kTotal);
  bool pushed = false;
  std::size_t read_when_pushed = 0;
  QToken pop = p.pop(s);
  while (got.size() < kTotal || !pushed) {
    std::vector<QToken> qts;
    if (got.size() < kTotal) qts.push_back(pop);
    if (!pushed) qts.push_back(push);
    std::size_t i = 0;
    ASSERT_EQ(p.libos.wait_any(qts, &r, &i, kLimit), 0) << "after " << got.size() << " bytes";
    if (qts[i] == push) {
      EXPECT_EQ(r.opcode, Opcode::Push);
      pushed = true;
      read_when_pushed = got.size();
      continue;
    }
    ASSERT_GT(r.sga.length(), 0u);
    std::string part = bytes_of(r.sga);
    got.insert(got.end(), part.begin(), part.end());
    EXPECT_EQ(p.libos.sgafree(r.sga), 0);
    if (got.size() < kTotal) pop = p.pop(s);
  }
  ASSERT_EQ(got.size(), kTotal);
  EXPECT_TRUE(got == data) << "the bytes differ";
  // The kernel's buffers (send + receive, doubled, with overhead) hold far less than 1 MiB: the
  // push cannot have completed before most of the data had been read on the other end.
  EXPECT_GE(read_when_pushed, kTotal - kSeg);
  EXPECT_EQ(p.libos.sgafree(*sga), 0);
  EXPECT_EQ(p.live_sgas(), 0u);
}

TEST(Posix, ConcurrentPushesCompleteInOrderAndNeverInterleave) {
  Peer p;
  QDesc c, s;
  const int buf = 64 * 1024;
  p.pair(&c, &s, buf, buf);
  constexpr std::size_t kBig = 1 << 20;
  Sga a = p.sga(std::string(kBig, 'a'));
  Sga b = p.sga(std::string(kBig, 'b'));
  Sga z = p.sga("zzz");
  std::vector<QToken> pushes{*p.libos.push(c, a), *p.libos.push(c, b), *p.libos.push(c, z)};
  std::vector<QToken> order;
  std::string got;
  QToken pop = p.pop(s);
  while (got.size() < 2 * kBig + 3 || order.size() < 3) {
    std::vector<QToken> qts;
    if (got.size() < 2 * kBig + 3) qts.push_back(pop);
    for (QToken qt : pushes)
      if (std::find(order.begin(), order.end(), qt) == order.end()) qts.push_back(qt);
    std::size_t i = 0;
    QResult r;
    ASSERT_EQ(p.libos.wait_any(qts, &r, &i, kLimit), 0);
    if (qts[i] != pop) {
      order.push_back(qts[i]);
      continue;
    }
    got += bytes_of(r.sga);
    EXPECT_EQ(p.libos.sgafree(r.sga), 0);
    if (got.size() < 2 * kBig + 3) pop = p.pop(s);
  }
  EXPECT_EQ(order, pushes);
  ASSERT_EQ(got.size(), 2 * kBig + 3);
  EXPECT_EQ(got, std::string(kBig, 'a') + std::string(kBig, 'b') + "zzz");
  for (const Sga& x : {a, b, z}) EXPECT_EQ(p.libos.sgafree(x), 0);
}

TEST(Posix, ConcurrentTcpPopsAreServedFirstComeFirstServed) {
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  QToken first = p.pop(s), second = p.pop(s);
  p.send(c, "one");
  std::vector<QToken> qts{first, second};
  std::size_t i = 9;
  QResult r;
  ASSERT_EQ(p.libos.wait_any(qts, &r, &i, kLimit), 0);
  EXPECT_EQ(i, 0u);
  EXPECT_EQ(bytes_of(r.sga), "one");
  EXPECT_EQ(p.libos.sgafree(r.sga), 0);
  EXPECT_EQ(p.libos.wait(second, &r, 0ns), ETIMEDOUT);
  p.send(c, "two");
  EXPECT_EQ(p.take(second), "two");
}

TEST(Posix, PopHonoursMaxLen) {
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  p.send(c, "0123456789");
  EXPECT_EQ(p.take(p.pop(s, 4)), "0123");
  EXPECT_EQ(p.take(p.pop(s, 4)), "4567");
  EXPECT_EQ(p.take(p.pop(s)), "89");
}

TEST(Posix, BindToPortZeroThenGetsocknameNamesThePort) {
  Peer p;
  QDesc qd = p.tcp();
  sockaddr_in a = loopback(0);
  ASSERT_EQ(p.libos.bind(qd, sa(a), sizeof a), 0);
  sockaddr_in got = p.local(qd);
  EXPECT_EQ(got.sin_family, AF_INET);
  EXPECT_NE(got.sin_port, 0);
  EXPECT_EQ(got.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  socklen_t len = sizeof got;
  EXPECT_EQ(p.libos.getpeername(qd, sa(got), &len), ENOTCONN);

  QDesc c, s;
  p.pair(&c, &s);
  sockaddr_in peer{};
  len = sizeof peer;
  ASSERT_EQ(p.libos.getpeername(s, sa(peer), &len), 0);
  EXPECT_TRUE(same_address(peer, p.local(c)));
  ASSERT_EQ(p.libos.getpeername(c, sa(peer), &len), 0);
  EXPECT_TRUE(same_address(peer, p.local(s)));
}

TEST(Posix, ConnectToAPortNobodyListensOnIsRefused) {
  Peer p;
  // Bound but not listening: the kernel answers a SYN to this port with a reset.
  QDesc holder = p.tcp();
  sockaddr_in a = loopback(0);
  ASSERT_EQ(p.libos.bind(holder, sa(a), sizeof a), 0);
  sockaddr_in target = p.local(holder);

  QDesc c = p.tcp();
  auto qt = p.libos.connect(c, sa(target), sizeof target);
  ASSERT_TRUE(qt.ok());
  QResult r;
  EXPECT_EQ(p.libos.wait(*qt, &r, kLimit), ECONNREFUSED);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECONNREFUSED);
  // Nothing is connected: a push is refused at once.
  Sga x = p.sga("x");
  EXPECT_EQ(p.libos.push(c, x).error(), ENOTCONN);
  EXPECT_EQ(p.libos.sgafree(x), 0);
}

TEST(Posix, PeerCloseCompletesPopsWithZeroLength) {
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  p.send(s, "bye");
  ASSERT_EQ(p.libos.close(s), 0);
  EXPECT_EQ(p.take(p.pop(c)), "bye");  // data before the FIN comes first
  for (int i = 0; i < 2; ++i) {        // then end of stream, as often as asked
    QResult r;
    ASSERT_EQ(p.libos.wait(p.pop(c), &r, kLimit), 0);
    EXPECT_EQ(r.opcode, Opcode::Pop);
    EXPECT_EQ(r.sga.numsegs, 1u);
    EXPECT_EQ(r.sga.segs[0].len, 0u);
    EXPECT_EQ(r.sga.length(), 0u);
    EXPECT_EQ(p.libos.sgafree(r.sga), 0);
  }
  EXPECT_EQ(p.live_sgas(), 0u);
}

TEST(Posix, PeerResetFailsPendingPopAndLaterPushesWithEconnreset) {
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  QToken pending = p.pop(c);
  linger abort{1, 0};  // close with a reset instead of a FIN
  ASSERT_EQ(p.libos.setsockopt(s, SOL_SOCKET, SO_LINGER, &abort, sizeof abort), 0);
  ASSERT_EQ(p.libos.close(s), 0);
  QResult r;
  EXPECT_EQ(p.libos.wait(pending, &r, kLimit), ECONNRESET);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  Sga x = p.sga("x");
  EXPECT_EQ(p.libos.wait(*p.libos.push(c, x), &r, kLimit), ECONNRESET);
  EXPECT_EQ(p.libos.wait(p.pop(c), &r, kLimit), ECONNRESET);
  EXPECT_EQ(p.libos.sgafree(x), 0);
}

TEST(Posix, PushToAClosedPeerFailsWithoutSigpipe) {
  auto old = std::signal(SIGPIPE, SIG_DFL);  // SIGPIPE would kill the test binary
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  ASSERT_EQ(p.libos.close(s), 0);
  Sga x = p.sga("ping");
  int rc = 0;
  // The first push may reach the kernel before the peer's reset comes back; a later one fails.
  for (int i = 0; i < 100 && rc == 0; ++i) {
    QResult r;
    rc = p.libos.wait(*p.libos.push(c, x), &r, kLimit);
  }
  EXPECT_TRUE(rc == EPIPE || rc == ECONNRESET) << std::strerror(rc);
  EXPECT_EQ(p.libos.sgafree(x), 0);
  std::signal(SIGPIPE, old);
}

TEST(Posix, ClosingAQueueCancelsItsPendingOperations) {
  Peer p;
  QDesc c, s;
  const int buf = 64 * 1024;
  p.pair(&c, &s, buf, buf);
  QToken pop1 = p.pop(c), pop2 = p.pop(c);
  Sga big = p.sga(std::string(4 << 20, 'x'));  // more than the kernel will take: stays pending
  QToken push = *p.libos.push(c, big);
  QResult r;
  EXPECT_EQ(p.libos.wait(push, &r, 0ns), ETIMEDOUT);
  ASSERT_EQ(p.libos.close(c), 0);
  EXPECT_FALSE(p.libos.is_qd_valid(c));
  for (QToken qt : {pop1, pop2, push}) {
    EXPECT_EQ(p.libos.wait(qt, &r, kLimit), ECANCELED);
    EXPECT_EQ(r.opcode, Opcode::Failed);
  }
  EXPECT_EQ(p.libos.sgafree(big), 0);

  sockaddr_in addr{};
  QDesc l = p.listener(&addr);
  QToken a = p.accept(l);
  ASSERT_EQ(p.libos.close(l), 0);
  EXPECT_EQ(p.libos.wait(a, &r, kLimit), ECANCELED);
  EXPECT_EQ(p.live_sgas(), 0u);
}

TEST(Posix, CloseBeforeAPendingOperationFirstRanCancelsIt) {
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  QToken pop = p.pop(c);  // not run yet: the first wait() runs it, after the close
  Sga x = p.sga("x");
  QToken push = *p.libos.push(c, x);
  ASSERT_EQ(p.libos.close(c), 0);
  QResult r;
  EXPECT_EQ(p.libos.wait(pop, &r, kLimit), ECANCELED);
  EXPECT_EQ(p.libos.wait(push, &r, kLimit), ECANCELED);
  EXPECT_EQ(p.libos.sgafree(x), 0);
  EXPECT_EQ(p.libos.host().qtokens().live(), 0u);
}

TEST(Posix, ConcurrentAcceptsTakeOneConnectionEachInArrivalOrder) {
  Peer p;
  sockaddr_in addr{};
  QDesc l = p.listener(&addr);
  std::vector<QToken> accepts{p.accept(l), p.accept(l)};
  QDesc c1 = p.tcp(), c2 = p.tcp();
  QResult r;
  ASSERT_EQ(p.libos.wait(*p.libos.connect(c1, sa(addr), sizeof addr), &r, kLimit), 0);
  ASSERT_EQ(p.libos.wait(*p.libos.connect(c2, sa(addr), sizeof addr), &r, kLimit), 0);
  QResult out[2];
  ASSERT_EQ(p.libos.wait_all(accepts, out, kLimit), 0);
  EXPECT_TRUE(same_address(out[0].accept.addr, p.local(c1)));
  EXPECT_TRUE(same_address(out[1].accept.addr, p.local(c2)));
  EXPECT_NE(out[0].accept.qd, out[1].accept.qd);
  p.send(c2, "two");
  EXPECT_EQ(p.take(p.pop(out[1].accept.qd)), "two");
}

// The application must keep a pushed sga until the push completes; if it frees it early anyway,
// the push still holds the blocks and sends the right bytes (checked byte-exact, and by ASan).
TEST(Posix, SgaFreedDuringAPendingPushStaysValidUntilThePushCompletes) {
  Peer p;
  QDesc c, s;
  const int buf = 64 * 1024;
  p.pair(&c, &s, buf, buf);
  std::vector<char> data = pattern(1 << 20, 7);
  Sga big = p.sga(std::string_view(data.data(), data.size()));
  QToken push = *p.libos.push(c, big);
  ASSERT_EQ(p.libos.sgafree(big), 0);
  std::string got = p.receive(s, data.size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin(), data.end()));
  QResult r;
  EXPECT_EQ(p.libos.wait(push, &r, kLimit), 0);
}

// Operations still pending when the LibOS goes away are destroyed with it, without completing,
// leaking or touching freed memory (run under ASan to see the last two).
TEST(Posix, DestroyingTheLibOSWithPendingOperationsIsClean) {
  auto p = std::make_unique<Peer>();
  QDesc c, s;
  const int buf = 64 * 1024;
  p->pair(&c, &s, buf, buf);
  sockaddr_in addr{};
  QDesc l = p->listener(&addr);
  p->accept(l);
  p->pop(s);
  p->pop(s);
  Sga big = p->sga(std::string(2 << 20, 'x'));
  QToken push = *p->libos.push(c, big);
  QResult r;
  EXPECT_EQ(p->libos.wait(push, &r, 0ns), ETIMEDOUT);
  p.reset();
}

// ---------------------------------------------------------------- UDP

TEST(Posix, UdpPushtoAndPopCarryTheSourceAddress) {
  Peer p;
  sockaddr_in server_addr{}, client_addr{};
  QDesc server = p.udp(&server_addr);
  QDesc client = p.udp(&client_addr);
  QToken qt = p.pop(server);
  p.send_to(client, "question", server_addr);
  sockaddr_in from{};
  EXPECT_EQ(p.take(qt, &from), "question");
  EXPECT_TRUE(same_address(from, client_addr));
  p.send_to(server, "answer", from);
  EXPECT_EQ(p.take(p.pop(client), &from), "answer");
  EXPECT_TRUE(same_address(from, server_addr));
}

TEST(Posix, UdpPopReturnsOneDatagramPerPopInOrder) {
  Peer p;
  sockaddr_in server_addr{}, client_addr{};
  QDesc server = p.udp(&server_addr);
  QDesc client = p.udp(&client_addr);
  QToken pops[] = {p.pop(server), p.pop(server), p.pop(server)};
  p.send_to(client, "1", server_addr);
  p.send_to(client, "22", server_addr);
  p.send_to(client, "333", server_addr);
  EXPECT_EQ(p.take(pops[0]), "1");
  EXPECT_EQ(p.take(pops[1]), "22");
  EXPECT_EQ(p.take(pops[2]), "333");
}

TEST(Posix, UdpDatagramLongerThanThePopIsTruncated) {
  Peer p;
  sockaddr_in server_addr{}, client_addr{};
  QDesc server = p.udp(&server_addr);
  QDesc client = p.udp(&client_addr);
  p.send_to(client, "0123456789", server_addr);
  p.send_to(client, "next", server_addr);
  EXPECT_EQ(p.take(p.pop(server, 4)), "0123");  // the rest of that datagram is gone
  EXPECT_EQ(p.take(p.pop(server)), "next");
}

TEST(Posix, ConnectedUdpQueuePushesWithoutAnAddress) {
  Peer p;
  sockaddr_in server_addr{}, client_addr{};
  QDesc server = p.udp(&server_addr);
  QDesc client = p.udp(&client_addr);
  QResult r;
  ASSERT_EQ(p.libos.wait(*p.libos.connect(client, sa(server_addr), sizeof server_addr), &r, kLimit), 0);
  EXPECT_EQ(r.opcode, Opcode::Connect);
  p.send(client, "datagram");
  sockaddr_in from{};
  EXPECT_EQ(p.take(p.pop(server), &from), "datagram");
  EXPECT_TRUE(same_address(from, client_addr));
}

// ---------------------------------------------------------------- errors

TEST(Posix, BadQueueDescriptorIsEbadf) {
  Peer p;
  Sga x = p.sga("x");
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  EXPECT_EQ(p.libos.pop(9999).error(), EBADF);
  EXPECT_EQ(p.libos.push(9999, x).error(), EBADF);
  EXPECT_EQ(p.libos.accept(9999).error(), EBADF);
  EXPECT_EQ(p.libos.bind(9999, sa(a), sizeof a), EBADF);
  EXPECT_EQ(p.libos.getsockname(9999, sa(a), &len), EBADF);
  EXPECT_EQ(p.libos.close(9999), EBADF);
  QDesc qd = p.tcp();
  ASSERT_EQ(p.libos.close(qd), 0);
  EXPECT_EQ(p.libos.close(qd), EBADF);  // closed once already
  EXPECT_EQ(p.libos.pop(qd).error(), EBADF);
  EXPECT_EQ(p.libos.sgafree(x), 0);
}

TEST(Posix, OnlyTheListedSocketOptionsReachTheKernel) {
  Peer p;
  QDesc qd = p.tcp();
  int one = 1, value = 0;
  socklen_t len = sizeof value;
  EXPECT_EQ(p.libos.setsockopt(qd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one), ENOPROTOOPT);
  EXPECT_EQ(p.libos.setsockopt(qd, IPPROTO_IP, IP_TTL, &one, sizeof one), ENOPROTOOPT);
  EXPECT_EQ(p.libos.setsockopt(qd, IPPROTO_TCP, TCP_CORK, &one, sizeof one), ENOPROTOOPT);
  EXPECT_EQ(p.libos.getsockopt(qd, SOL_SOCKET, SO_ERROR, &value, &len), ENOPROTOOPT);

  ASSERT_EQ(p.libos.setsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  ASSERT_EQ(p.libos.getsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &value, &len), 0);
  EXPECT_NE(value, 0);
  for (int opt : {SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE}) {
    value = 0;
    len = sizeof value;
    ASSERT_EQ(p.libos.setsockopt(qd, SOL_SOCKET, opt, &one, sizeof one), 0) << opt;
    ASSERT_EQ(p.libos.getsockopt(qd, SOL_SOCKET, opt, &value, &len), 0) << opt;
    EXPECT_NE(value, 0) << opt;
  }
  int size = 32768;
  ASSERT_EQ(p.libos.setsockopt(qd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
  ASSERT_EQ(p.libos.getsockopt(qd, SOL_SOCKET, SO_RCVBUF, &value, &len), 0);
  EXPECT_GE(value, size);  // the kernel doubles it for bookkeeping
  ASSERT_EQ(p.libos.setsockopt(qd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
  linger l{1, 5};
  ASSERT_EQ(p.libos.setsockopt(qd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  linger back{};
  len = sizeof back;
  ASSERT_EQ(p.libos.getsockopt(qd, SOL_SOCKET, SO_LINGER, &back, &len), 0);
  EXPECT_EQ(back.l_onoff, 1);
  EXPECT_EQ(back.l_linger, 5);
  // A kernel error comes back as it is.
  EXPECT_EQ(p.libos.setsockopt(qd, SOL_SOCKET, SO_LINGER, &one, 1), EINVAL);
}

TEST(Posix, CloseWithALingerTimeoutDoesNotBlock) {
  Peer p;
  QDesc c, s;
  const int buf = 64 * 1024;
  p.pair(&c, &s, buf, buf);
  linger l{1, 10};  // a blocking close would wait up to 10 s for unsent data
  ASSERT_EQ(p.libos.setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  Sga big = p.sga(std::string(2 << 20, 'x'));
  QToken push = *p.libos.push(c, big);
  QResult r;
  EXPECT_EQ(p.libos.wait(push, &r, 0ns), ETIMEDOUT);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(p.libos.close(c), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(p.libos.wait(push, &r, kLimit), ECANCELED);
  EXPECT_EQ(p.libos.sgafree(big), 0);
}

TEST(Posix, InvalidUsesAreRefusedUpFront) {
  Peer p;
  EXPECT_EQ(p.libos.socket(AF_INET6, SOCK_STREAM, 0).error(), EAFNOSUPPORT);
  EXPECT_EQ(p.libos.socket(AF_INET, SOCK_RAW, 0).error(), ESOCKTNOSUPPORT);
  EXPECT_EQ(p.libos.socket(AF_INET, SOCK_STREAM, IPPROTO_UDP).error(), EPROTONOSUPPORT);
  QDesc t = p.tcp();
  EXPECT_EQ(p.libos.accept(t).error(), EINVAL);  // not listening
  sockaddr_in to = loopback(9);
  Sga x = p.sga("x");
  EXPECT_EQ(p.libos.pushto(t, x, sa(to), sizeof to).error(), EOPNOTSUPP);
  sockaddr_in u_addr{};
  QDesc u = p.udp(&u_addr);
  EXPECT_EQ(p.libos.listen(u, 1), EOPNOTSUPP);
  EXPECT_EQ(p.libos.accept(u).error(), EOPNOTSUPP);
  EXPECT_EQ(p.libos.sgafree(x), 0);
}

// ---------------------------------------------------------------- waiting

TEST(Posix, WaitWithZeroTimeoutLeavesThePendingTokenValid) {
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  QToken qt = p.pop(s);
  QResult r;
  r.ret = 12345;
  EXPECT_EQ(p.libos.wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(r.opcode, Opcode::Invalid);
  EXPECT_EQ(p.libos.wait(qt, &r, 0ns), ETIMEDOUT);  // still valid, still pending
  p.send(c, "later");
  EXPECT_EQ(p.take(qt), "later");
  EXPECT_EQ(p.libos.wait(qt, &r, 0ns), EINVAL);  // consumed
}

TEST(Posix, WaitAnyReturnsThePopWhoseDataArrived) {
  Peer p;
  sockaddr_in addr[3]{}, sender_addr{};
  QDesc q[3];
  for (int i = 0; i < 3; ++i) q[i] = p.udp(&addr[i]);
  QDesc sender = p.udp(&sender_addr);
  std::vector<QToken> pops{p.pop(q[0]), p.pop(q[1]), p.pop(q[2])};
  QResult r;
  std::size_t i = 9;
  EXPECT_EQ(p.libos.wait_any(pops, &r, &i, 0ns), ETIMEDOUT);
  p.send_to(sender, "to one", addr[1]);
  ASSERT_EQ(p.libos.wait_any(pops, &r, &i, kLimit), 0);
  EXPECT_EQ(i, 1u);
  EXPECT_EQ(bytes_of(r.sga), "to one");
  EXPECT_EQ(p.libos.sgafree(r.sga), 0);

  p.send_to(sender, "to two", addr[2]);
  p.send_to(sender, "to zero", addr[0]);
  std::vector<QToken> rest{pops[0], pops[2]};
  QResult out[2];
  ASSERT_EQ(p.libos.wait_all(rest, out, kLimit), 0);
  EXPECT_EQ(bytes_of(out[0].sga), "to zero");
  EXPECT_EQ(bytes_of(out[1].sga), "to two");
  for (const QResult& x : out) EXPECT_EQ(p.libos.sgafree(x.sga), 0);
}

TEST(Posix, ADroppedPopStillTakesItsTurnAndItsBufferIsFreed) {
  Peer p;
  sockaddr_in server_addr{}, client_addr{};
  QDesc server = p.udp(&server_addr);
  QDesc client = p.udp(&client_addr);
  QToken dropped = p.pop(server);
  ASSERT_EQ(p.libos.drop(dropped), 0);
  QResult r;
  EXPECT_EQ(p.libos.wait(dropped, &r, 0ns), EINVAL);
  QToken kept = p.pop(server);
  p.send_to(client, "first", server_addr);
  p.send_to(client, "second", server_addr);
  EXPECT_EQ(p.take(kept), "second");  // the dropped pop, older, took "first"
  EXPECT_EQ(p.live_sgas(), 0u);       // ... and the LibOS freed it
  EXPECT_EQ(p.libos.host().qtokens().live(), 0u);
}

// An idle wait sleeps in the kernel on the module's epoll fd, even while another socket holds
// data nobody pops (a level-triggered epoll would make that wait spin).
TEST(Posix, IdleWaitSleepsInsteadOfSpinning) {
  Peer p;
  sockaddr_in a_addr{}, b_addr{}, sender_addr{};
  QDesc a = p.udp(&a_addr);
  p.udp(&b_addr);
  QDesc sender = p.udp(&sender_addr);
  p.send_to(sender, "unread", b_addr);
  QToken qt = p.pop(a);
  timespec c0{}, c1{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  auto t0 = std::chrono::steady_clock::now();
  QResult r;
  EXPECT_EQ(p.libos.wait(qt, &r, 300ms), ETIMEDOUT);
  auto wall = std::chrono::steady_clock::now() - t0;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  auto cpu = std::chrono::seconds(c1.tv_sec - c0.tv_sec) + std::chrono::nanoseconds(c1.tv_nsec - c0.tv_nsec);
  EXPECT_GE(wall, 300ms);
  EXPECT_LT(cpu, 100ms) << "wait() used the CPU instead of sleeping";
}

// ---------------------------------------------------------------- the fast path

TEST(Posix, WarmPushPopRoundTripsDoNotReachTheHeap) {
  Peer p;
  QDesc c, s;
  p.pair(&c, &s);
  Sga msg = p.sga("0123456789abcdef");
  auto round_trip = [&] {
    QResult r;
    QToken pop = *p.libos.pop(s);
    QToken push = *p.libos.push(c, msg);
    if (p.libos.wait(push, &r, kLimit) != 0) return false;
    if (p.libos.wait(pop, &r, kLimit) != 0 || r.sga.length() != 16) return false;
    return p.libos.sgafree(r.sga) == 0;
  };
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(round_trip());
  const std::size_t blocks_before = p.libos.host().allocator().stats().allocations;
  constexpr int kRounds = 500;
  g_news = 0;
  g_count_news = true;
  bool ok = true;
  for (int i = 0; i < kRounds && ok; ++i) ok = round_trip();
  g_count_news = false;
  ASSERT_TRUE(ok);
  EXPECT_EQ(g_news, 0u) << "operator new calls in " << kRounds << " round trips";
  // The one allocation an operation makes: a pop's receive buffer.
  EXPECT_EQ(p.libos.host().allocator().stats().allocations - blocks_before, std::size_t{kRounds});
  EXPECT_EQ(p.libos.sgafree(msg), 0);
}

}  // namespace
