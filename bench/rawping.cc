// demi-rawping: the transport's own limit. Two processes ping-pong bare Ethernet frames over a
// DPDK port (net_memif by default) with no stack at all: the floor under every Catnip figure.
//
//   demi-rawping server --config F
//   demi-rawping client --config F --size B --count N [--warmup W] [--json] [--samples FILE]
//
// --samples writes every measured RTT (us, one a line, in the order measured), for CDF plots.
//
// A message of --size bytes is as many frames as the port's MTU makes it (a frame is at most
// MTU + 14 bytes), as a stack sends it: at MTU 1500, 64 B and 1 KiB are one frame and 8 KiB is
// six. The client sends a message's frames in one burst; the round trip ends when the server
// has echoed all of them.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/dpdk/dpdk_port.h"

using namespace demi;
using namespace demi::runtime;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint8_t kEtherType[2] = {0x88, 0xb5};  // IEEE local experimental
constexpr uint64_t kGoodbye = ~uint64_t{0};      // sequence number of the client's last frame

int usage() {
  std::fprintf(stderr,
               "usage: demi-rawping server --config F\n"
               "       demi-rawping client --config F --size B --count N [--warmup W] [--json] [--samples FILE]\n");
  return 2;
}

bool parse_u64(const char* s, uint64_t lo, uint64_t hi, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (!s[0] || *end || errno || v < lo || v > hi) return false;
  *out = v;
  return true;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int serve(Device& port) {
  RxFrame rx[32];
  TxFrame tx[32];
  // SIGTERM/SIGINT end the server cleanly (the port closes, DPDK removes its runtime files).
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  while (!g_stop) {
    std::size_t n = port.receive(rx);
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
      std::byte* eth = rx[i].data.data();
      if (rx[i].data.size() < 14 || std::memcmp(eth + 12, kEtherType, 2) != 0) continue;
      uint64_t seq = 0;
      if (rx[i].data.size() >= 22) std::memcpy(&seq, eth + 14, sizeof seq);
      if (seq == kGoodbye) return 0;  // the client is done
      // Swap the addresses and send the same buffer back: zero copy.
      std::byte tmp[6];
      std::memcpy(tmp, eth, 6);
      std::memcpy(eth, eth + 6, 6);
      std::memcpy(eth + 6, tmp, 6);
      tx[k] = TxFrame{};
      tx[k++].head = std::move(rx[i].data);
    }
    if (k) port.transmit(std::span<TxFrame>(tx, k));
    for (std::size_t i = 0; i < n; ++i) rx[i].data.reset();
  }
  return 0;
}

// The frames of message `seq`: frame k carries (Ethernet header, seq, k) and is lens[k] long.
constexpr std::size_t kMaxFrames = 64;
constexpr std::size_t kIndexAt = 14 + sizeof(uint64_t);

int ping(Device& port, uint64_t size, uint64_t count, uint64_t warmup, bool json, const char* samples) {
  std::size_t frame_max;
  {
    mem::BufRef probe = port.alloc_tx(0);
    if (!probe) return std::fprintf(stderr, "rawping: out of mbufs\n"), 1;
    frame_max = std::min<std::size_t>(probe.tailroom(), std::size_t{port.info().mtu} + 14);
  }
  const std::size_t nframes = (size + frame_max - 1) / frame_max;
  if (nframes > kMaxFrames) {
    std::fprintf(stderr, "rawping: not available: %llu B is more than %zu frames of %zu B\n",
                 static_cast<unsigned long long>(size), kMaxFrames, frame_max);
    return 3;
  }
  // Even frames: the first size % n one byte longer (every frame is at least 60 B: size >= 60n).
  std::size_t lens[kMaxFrames];
  for (std::size_t k = 0; k < nframes; ++k) lens[k] = size / nframes + (k < size % nframes ? 1 : 0);
  const uint64_t all = nframes == 64 ? ~uint64_t{0} : (uint64_t{1} << nframes) - 1;
  std::vector<double> rtts;
  rtts.reserve(count);
  RxFrame rx[32];
  TxFrame out[kMaxFrames];
  const auto& mac = port.info().mac;
  uint64_t lost = 0;
  Clock::time_point start{};
  for (uint64_t i = 0; i < warmup + count; ++i) {
    if (i == warmup) start = Clock::now();
    for (std::size_t k = 0; k < nframes; ++k) {
      out[k] = TxFrame{};
      out[k].head = port.alloc_tx(128);
      if (!out[k].head) return std::fprintf(stderr, "rawping: out of mbufs\n"), 1;
      out[k].head.set_length(lens[k]);
      std::byte* eth = out[k].head.data();
      std::memset(eth, 0xff, 6);
      std::memcpy(eth + 6, mac.data(), 6);
      std::memcpy(eth + 12, kEtherType, 2);
      std::memcpy(eth + 14, &i, sizeof i);
      eth[kIndexAt] = static_cast<std::byte>(k);
    }
    auto t0 = Clock::now();
    std::size_t sent = 0;
    uint64_t got = 0;
    bool gave_up = false;
    while (got != all) {
      if (sent < nframes) sent += port.transmit(std::span<TxFrame>(out + sent, nframes - sent));
      std::size_t n = port.receive(rx);
      for (std::size_t r = 0; r < n; ++r) {
        uint64_t seq = ~uint64_t{0};
        const std::size_t len = rx[r].data.size();
        if (len > kIndexAt) std::memcpy(&seq, rx[r].data.data() + 14, sizeof seq);
        if (seq == i) {
          const auto k = static_cast<std::size_t>(rx[r].data.data()[kIndexAt]);
          if (k < nframes && len == lens[k]) got |= uint64_t{1} << k;
        }
        rx[r].data.reset();
      }
      if (got != all && Clock::now() - t0 > std::chrono::milliseconds(100)) {
        gave_up = true;  // a lost frame (the peer went away or a ring overflowed): the next message
        break;
      }
    }
    for (std::size_t k = sent; k < nframes; ++k) out[k] = TxFrame{};
    if (gave_up) {
      ++lost;
      continue;
    }
    if (i >= warmup) rtts.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  TxFrame bye;
  bye.head = port.alloc_tx(128);
  bye.head.set_length(60);
  std::memset(bye.head.data(), 0xff, 6);
  std::memcpy(bye.head.data() + 6, mac.data(), 6);
  std::memcpy(bye.head.data() + 12, kEtherType, 2);
  std::memcpy(bye.head.data() + 14, &kGoodbye, sizeof kGoodbye);
  TxFrame frames[1] = {std::move(bye)};
  port.transmit(frames);
  // The port's close tells the server that this side is leaving, after the goodbye (see
  // DpdkPort: the peer's answer proves it has read every frame before it).
  std::size_t ok = rtts.size();
  if (samples) {  // before the percentiles, which reorder the vector
    FILE* f = std::fopen(samples, "w");
    if (!f) return std::fprintf(stderr, "rawping: %s: %s\n", samples, std::strerror(errno)), 1;
    for (double r : rtts) std::fprintf(f, "%.3f\n", r);
    if (std::fclose(f) != 0) return std::fprintf(stderr, "rawping: cannot write %s\n", samples), 1;
  }
  double p50 = percentile(rtts, 0.50), p99 = percentile(rtts, 0.99), p999 = percentile(rtts, 0.999);
  double rate = static_cast<double>(ok) / secs;
  if (json)
    std::printf("{\"size\": %llu, \"frames\": %zu, \"count\": %zu, \"lost\": %llu, \"p50_us\": %.3f, "
                "\"p99_us\": %.3f, \"p999_us\": %.3f, \"msgs_per_s\": %.0f}\n",
                static_cast<unsigned long long>(size), nframes, ok, static_cast<unsigned long long>(lost), p50, p99, p999, rate);
  else
    std::printf("rawping %llu B (%zu frames) x %zu: p50 %.2f us, p99 %.2f us, p99.9 %.2f us, %.0f msgs/s, %llu lost\n",
                static_cast<unsigned long long>(size), nframes, ok, p50, p99, p999, rate,
                static_cast<unsigned long long>(lost));
  return ok == count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string mode = argv[1];
  uint64_t size = 64, count = 10000, warmup = 1000;
  bool json = false;
  const char* samples = nullptr;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") json = true;
    else if (a == "--config" && i + 1 < argc) ++i;
    else if (a == "--samples" && i + 1 < argc) samples = argv[++i];
    else if (a == "--size" && i + 1 < argc) {
      if (!parse_u64(argv[++i], 60, 65536, &size)) return usage();
    } else if (a == "--count" && i + 1 < argc) {
      if (!parse_u64(argv[++i], 1, 100000000, &count)) return usage();
    } else if (a == "--warmup" && i + 1 < argc) {
      if (!parse_u64(argv[++i], 0, 100000000, &warmup)) return usage();
    } else return usage();
  }
  std::string why;
  auto config = Config::from_args(argc, argv, &why);
  if (!config) return std::fprintf(stderr, "%s\n", why.c_str()), 2;
  auto port = dpdk::DpdkPort::open(*config);
  if (!port) return std::fprintf(stderr, "rawping: cannot open the DPDK port: %s\n", std::strerror(port.error())), 1;
  if (mode == "server") return serve(**port);
  if (mode == "client") return ping(**port, size, count, warmup, json, samples);
  return usage();
}
