// The rdma module on a real device (soft-RoCE in the VM test). Skips unless the host has an
// RDMA device and $DEMI_RDMA_TEST_ADDR names an address on it. The peer is rdma_echo, started
// as a separate process (never forked: verbs state must not be shared across fork).
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <demi/libos.h>
#include <demi/rdma.h>

#include "modules/rdma/rdma_module.h"

extern char** environ;

namespace demi {
namespace {

using namespace std::chrono_literals;

const char* test_addr() {
  struct stat st{};
  if (::stat("/sys/class/infiniband", &st) != 0) return nullptr;
  return std::getenv("DEMI_RDMA_TEST_ADDR");
}

sockaddr_in addr_of(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// rdma_echo server, running until the test ends.
class EchoServer {
 public:
  EchoServer(const char* ip, uint16_t port, std::vector<std::string> extra = {}) {
    char self[4096] = {};
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = std::string(self, n > 0 ? static_cast<std::size_t>(n) : 0);
    dir = dir.substr(0, dir.rfind('/'));
    std::string exe = dir + "/rdma_echo";
    std::string where = std::string(ip) + ":" + std::to_string(port);
    std::vector<std::string> args{exe, "server", where};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    char buf[16] = {};
    ready_ = pid_ > 0 && ::read(fds[0], buf, sizeof buf) > 0;  // "listening\n"
    ::close(fds[0]);
  }
  ~EchoServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

std::unique_ptr<LibOS> make_libos(const char* memory_mb = nullptr, const char* resolve_ms = nullptr) {
  Config c;
  if (memory_mb) c.set("rdma.memory_mb", memory_mb);
  if (resolve_ms) c.set("rdma.resolve_timeout_ms", resolve_ms);
  auto l = std::make_unique<LibOS>(LibOSOptions{c, nullptr});
  if (l->install(make_rdma_module()) != 0) return nullptr;
  return l;
}

int connect_to(LibOS& l, const sockaddr_in& at, QDesc* qd) {
  auto q = l.socket(AF_INET, SOCK_STREAM, 0, "rdma");
  if (!q) return q.error();
  *qd = *q;
  auto t = l.connect(*q, reinterpret_cast<const sockaddr*>(&at), sizeof at);
  if (!t) return t.error();
  QResult r;
  return l.wait(*t, &r, 20s);
}

// Sends a message of `n` bytes in `segs` segments and checks the echo.
void echo_one(LibOS& l, QDesc qd, std::size_t n, std::size_t segs, uint8_t seed) {
  std::vector<std::size_t> sizes(segs, n / segs);
  sizes.back() += n % segs;
  auto sga = l.sgaalloc(sizes);
  ASSERT_TRUE(sga.ok());
  std::size_t j = 0;
  for (uint32_t s = 0; s < sga->numsegs; ++s)
    for (uint32_t k = 0; k < sga->segs[s].len; ++k) static_cast<uint8_t*>(sga->segs[s].buf)[k] = static_cast<uint8_t>(seed + j++ * 13);
  auto p = l.push(qd, *sga);
  auto q = l.pop(qd);
  ASSERT_TRUE(p.ok() && q.ok());
  QToken qts[2] = {*p, *q};
  QResult rs[2];
  ASSERT_EQ(l.wait_all(qts, rs, 60s), 0);
  l.sgafree(*sga);
  ASSERT_EQ(rs[1].sga.length(), n);
  j = 0;
  for (uint32_t s = 0; s < rs[1].sga.numsegs; ++s)
    for (uint32_t k = 0; k < rs[1].sga.segs[s].len; ++k, ++j)
      ASSERT_EQ(static_cast<const uint8_t*>(rs[1].sga.segs[s].buf)[k], static_cast<uint8_t>(seed + j * 13)) << "byte " << j;
  l.sgafree(rs[1].sga);
}

#define REQUIRE_DEVICE()                                                                 \
  const char* ip = test_addr();                                                          \
  if (!ip) GTEST_SKIP() << "no RDMA device, or $DEMI_RDMA_TEST_ADDR unset (VM test only)"

TEST(RdmaDevice, EchoesMessagesOfEverySizeByteExact) {
  REQUIRE_DEVICE();
  EchoServer server(ip, 7001);
  ASSERT_TRUE(server.ready());
  auto l = make_libos();
  ASSERT_TRUE(l);
  auto* m = dynamic_cast<rdma::RdmaModule*>(l->module("rdma"));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->region_registered());
  QDesc qd = -1;
  ASSERT_EQ(connect_to(*l, addr_of(ip, 7001), &qd), 0);
  for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{4096}, std::size_t{262143}, std::size_t{262144},
                        std::size_t{262145}, std::size_t{1} << 20, (std::size_t{4} << 20) + 1, std::size_t{5} << 20})
    for (std::size_t segs : {std::size_t{1}, std::size_t{3}, std::size_t{16}})
      if (n >= segs) echo_one(*l, qd, n, segs, static_cast<uint8_t>(n + segs));
  EXPECT_EQ(m->registrations(), 1u) << "one region, registered once";
  EXPECT_EQ(l->close(qd), 0);
}

TEST(RdmaDevice, PerBlockRegistrationWorksToo) {
  REQUIRE_DEVICE();
  EchoServer server(ip, 7002);
  ASSERT_TRUE(server.ready());
  auto l = make_libos("0");
  ASSERT_TRUE(l);
  auto* m = dynamic_cast<rdma::RdmaModule*>(l->module("rdma"));
  EXPECT_FALSE(m->region_registered());
  QDesc qd = -1;
  ASSERT_EQ(connect_to(*l, addr_of(ip, 7002), &qd), 0);
  for (int i = 0; i < 40; ++i) echo_one(*l, qd, 1 + static_cast<std::size_t>(i) * 30011, 1 + i % 4, static_cast<uint8_t>(i));
  EXPECT_GT(m->registrations(), 0u);
  l->close(qd);
}

TEST(RdmaDevice, ManyPushesInFlightRespectCredits) {
  REQUIRE_DEVICE();
  EchoServer server(ip, 7003);
  ASSERT_TRUE(server.ready());
  auto l = make_libos();
  ASSERT_TRUE(l);
  QDesc qd = -1;
  ASSERT_EQ(connect_to(*l, addr_of(ip, 7003), &qd), 0);
  constexpr int kN = 100;  // far beyond the 16-buffer window
  std::vector<QToken> qts;
  std::vector<Sga> sent;
  for (int i = 0; i < kN; ++i) {
    auto sga = l->sgaalloc(std::size_t{1000});
    ASSERT_TRUE(sga.ok());
    std::memset(sga->segs[0].buf, i, 1000);
    sent.push_back(*sga);
    qts.push_back(*l->push(qd, *sga));
    qts.push_back(*l->pop(qd));
  }
  std::vector<QResult> rs(qts.size());
  ASSERT_EQ(l->wait_all(qts, rs, 60s), 0);
  for (int i = 0; i < kN; ++i) {
    const Sga& got = rs[2 * static_cast<std::size_t>(i) + 1].sga;
    ASSERT_EQ(got.length(), 1000u);
    EXPECT_EQ(static_cast<const uint8_t*>(got.segs[0].buf)[999], static_cast<uint8_t>(i)) << "in order";
    l->sgafree(got);
    l->sgafree(sent[static_cast<std::size_t>(i)]);
  }
  l->close(qd);
}

TEST(RdmaDevice, NobodyListeningIsECONNREFUSED) {
  REQUIRE_DEVICE();
  auto l = make_libos();
  ASSERT_TRUE(l);
  QDesc qd = -1;
  EXPECT_EQ(connect_to(*l, addr_of(ip, 7999), &qd), ECONNREFUSED);
  // Pushes and pops on the failed queue report the same error.
  EXPECT_EQ(l->close(qd), 0);
}

TEST(RdmaDevice, UnresolvableAddressTimesOut) {
  REQUIRE_DEVICE();
  // An address on the device's subnet that nobody answers ARP for.
  const char* absent = std::getenv("DEMI_RDMA_TEST_ABSENT_ADDR");
  if (!absent) GTEST_SKIP() << "$DEMI_RDMA_TEST_ABSENT_ADDR unset";
  auto l = make_libos(nullptr, "500");
  ASSERT_TRUE(l);
  QDesc qd = -1;
  auto t0 = std::chrono::steady_clock::now();
  int rc = connect_to(*l, addr_of(absent, 7004), &qd);
  EXPECT_TRUE(rc == ETIMEDOUT || rc == EHOSTUNREACH) << std::strerror(rc);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  l->close(qd);
}

TEST(RdmaDevice, PeerLeavingIsECONNRESET) {
  REQUIRE_DEVICE();
  EchoServer server(ip, 7005, {"--close-after-accept"});
  ASSERT_TRUE(server.ready());
  auto l = make_libos();
  ASSERT_TRUE(l);
  QDesc qd = -1;
  ASSERT_EQ(connect_to(*l, addr_of(ip, 7005), &qd), 0);
  auto p = l->pop(qd);
  ASSERT_TRUE(p.ok());
  QResult r;
  EXPECT_EQ(l->wait(*p, &r, 20s), ECONNRESET);
  auto p2 = l->pop(qd);  // and every later pop
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(l->wait(*p2, &r, 5s), ECONNRESET);
  l->close(qd);
}

TEST(RdmaDevice, CloseCancelsPendingPop) {
  REQUIRE_DEVICE();
  EchoServer server(ip, 7006);
  ASSERT_TRUE(server.ready());
  auto l = make_libos();
  ASSERT_TRUE(l);
  QDesc qd = -1;
  ASSERT_EQ(connect_to(*l, addr_of(ip, 7006), &qd), 0);
  auto p = l->pop(qd);
  ASSERT_TRUE(p.ok());
  QResult r;
  EXPECT_EQ(l->wait(*p, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(l->close(qd), 0);
  EXPECT_EQ(l->wait(*p, &r, 5s), ECANCELED);
}

}  // namespace
}  // namespace demi
