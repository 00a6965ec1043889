// rdma_echo: an echo server and a byte-exact client on demi's rdma module, for the VM test.
//   rdma_echo server IP:PORT [--once] [--close-after-accept] [--memory-mb N]
//   rdma_echo client IP:PORT [--count N] [--max-size B] [--memory-mb N]
// The client prints one line "rdma_echo: PASS ..." or "rdma_echo: FAIL ..." and exits 0 or 1.
#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <demi/libos.h>
#include <demi/rdma.h>

namespace {

using demi::QResult;
using demi::QToken;

bool parse_addr(const char* s, sockaddr_in* out) {
  std::string a(s);
  auto colon = a.rfind(':');
  if (colon == std::string::npos) return false;
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(std::atoi(a.c_str() + colon + 1)));
  return ::inet_pton(AF_INET, a.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

uint8_t pattern(std::size_t msg, std::size_t j) { return static_cast<uint8_t>(msg * 131 + j * 7 + (j >> 8)); }

// The size of message i: every power of two from 1 B to 4 MiB twice (exactly, then one byte
// less or more), then seeded sizes up to 64 KiB, and a last message of exactly 4 MiB.
std::size_t size_of(std::size_t i, std::size_t count, std::size_t max_size, std::mt19937& rng) {
  std::size_t s;
  if (i + 1 == count) {
    s = max_size;
  } else if (i < 46) {
    std::size_t p = std::size_t{1} << (i % 23);
    s = i < 23 ? p : (p > 1 && (i & 1) ? p - 1 : p + 1);
  } else {
    s = 1 + rng() % 65536;
  }
  return std::clamp<std::size_t>(s, 1, max_size);
}

int server(demi::LibOS& libos, const sockaddr_in& at, bool once, bool close_after_accept) {
  auto qd = libos.socket(AF_INET, SOCK_STREAM, 0, "rdma");
  if (!qd) return std::fprintf(stderr, "server: socket: %s\n", std::strerror(qd.error())), 1;
  if (int rc = libos.bind(*qd, reinterpret_cast<const sockaddr*>(&at), sizeof at))
    return std::fprintf(stderr, "server: bind: %s\n", std::strerror(rc)), 1;
  if (int rc = libos.listen(*qd, 16)) return std::fprintf(stderr, "server: listen: %s\n", std::strerror(rc)), 1;
  std::printf("listening\n");
  std::fflush(stdout);
  for (;;) {
    QResult r;
    auto qt = libos.accept(*qd);
    if (!qt || libos.wait(*qt, &r) != 0) return std::fprintf(stderr, "server: accept failed\n"), 1;
    int conn = r.accept.qd;
    if (close_after_accept) {
      libos.close(conn);
      // Keep running the LibOS so the disconnect goes out, then leave.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (std::chrono::steady_clock::now() < deadline) libos.poll_once();
      return 0;
    }
    for (;;) {
      auto pq = libos.pop(conn);
      if (!pq || libos.wait(*pq, &r) != 0) break;  // the peer left
      demi::Sga sga = r.sga;
      auto sq = libos.push(conn, sga);
      int rc = sq ? libos.wait(*sq, &r) : sq.error();
      libos.sgafree(sga);
      if (rc != 0) break;
    }
    libos.close(conn);
    if (once) return 0;
  }
}

int client(demi::LibOS& libos, const sockaddr_in& at, std::size_t count, std::size_t max_size) {
  auto qd = libos.socket(AF_INET, SOCK_STREAM, 0, "rdma");
  if (!qd) return std::printf("rdma_echo: FAIL socket: %s\n", std::strerror(qd.error())), 1;
  QResult r;
  auto cq = libos.connect(*qd, reinterpret_cast<const sockaddr*>(&at), sizeof at);
  int rc = cq ? libos.wait(*cq, &r) : cq.error();
  if (rc != 0) return std::printf("rdma_echo: FAIL connect: %s\n", std::strerror(rc)), 1;
  std::mt19937 rng(1);
  std::vector<double> rtt_us;
  std::size_t bytes = 0;
  auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t n = size_of(i, count, max_size, rng);
    // Every third message is spread over three segments.
    std::vector<std::size_t> segs;
    if (i % 3 == 2 && n >= 3) segs = {n / 3, n / 3, n - 2 * (n / 3)};
    else segs = {n};
    auto sga = libos.sgaalloc(segs);
    if (!sga) return std::printf("rdma_echo: FAIL sgaalloc(%zu): %s\n", n, std::strerror(sga.error())), 1;
    std::size_t j = 0;
    for (uint32_t s = 0; s < sga->numsegs; ++s)
      for (uint32_t k = 0; k < sga->segs[s].len; ++k) static_cast<uint8_t*>(sga->segs[s].buf)[k] = pattern(i, j++);
    auto t0 = std::chrono::steady_clock::now();
    auto pq = libos.push(*qd, *sga);
    auto rq = libos.pop(*qd);
    if (!pq || !rq) return std::printf("rdma_echo: FAIL push/pop refused at message %zu\n", i), 1;
    QToken qts[2] = {*pq, *rq};
    QResult rs[2];
    rc = libos.wait_all(qts, rs);
    auto t1 = std::chrono::steady_clock::now();
    libos.sgafree(*sga);
    if (rc != 0) return std::printf("rdma_echo: FAIL message %zu (%zu B): %s\n", i, n, std::strerror(rc)), 1;
    const demi::Sga& got = rs[1].sga;
    std::size_t m = 0;
    bool exact = got.length() == n;
    for (uint32_t s = 0; exact && s < got.numsegs; ++s)
      for (uint32_t k = 0; exact && k < got.segs[s].len; ++k, ++m)
        exact = static_cast<const uint8_t*>(got.segs[s].buf)[k] == pattern(i, m);
    libos.sgafree(got);
    if (!exact)
      return std::printf("rdma_echo: FAIL message %zu: %zu B sent, %zu B back or bytes differ at %zu\n", i, n,
                         got.length(), m),
             1;
    bytes += n;
    rtt_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  libos.close(*qd);
  std::sort(rtt_us.begin(), rtt_us.end());
  std::printf("rdma_echo: PASS %zu messages byte-exact, %zu B each way, sizes 1 B..%zu B, %.1f s; RTT min %.0f us, "
              "median %.0f us, max %.0f us (emulated VM: not a performance number)\n",
              count, bytes, max_size, secs, rtt_us.front(), rtt_us[rtt_us.size() / 2], rtt_us.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: rdma_echo server|client IP:PORT [options]\n");
    return 2;
  }
  std::string mode = argv[1];
  sockaddr_in at{};
  if (!parse_addr(argv[2], &at)) return std::fprintf(stderr, "bad address %s\n", argv[2]), 2;
  bool once = false, close_after_accept = false;
  std::size_t count = 1000, max_size = std::size_t{4} << 20;
  demi::Config config;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--once") once = true;
    else if (a == "--close-after-accept") close_after_accept = true;
    else if (a == "--count" && i + 1 < argc) count = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--max-size" && i + 1 < argc) max_size = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--memory-mb" && i + 1 < argc) config.set("rdma.memory_mb", argv[++i]);
    else return std::fprintf(stderr, "unknown option %s\n", argv[i]), 2;
  }
  if (count == 0) count = 1;
  demi::LibOS libos(demi::LibOSOptions{config, nullptr});
  if (int rc = libos.install(demi::make_rdma_module())) {
    std::printf("rdma_echo: FAIL install: %s\n", std::strerror(rc));
    return 1;
  }
  return mode == "server" ? server(libos, at, once, close_after_accept) : client(libos, at, count, max_size);
}
