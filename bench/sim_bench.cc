// demi-simbench: Catnip's own cost and its congestion control, on the simulated network, in
// virtual time (so the figures do not depend on the machine's load, and a run is deterministic).
//
//   demi-simbench echo --count N [--size S] [--cc NAME]
//       One TCP connection between two Catnip hosts in this process; the client sends S bytes
//       and waits for their echo, N times. Run it under callgrind with two counts: the
//       difference of the two instruction totals over the difference of the counts is the cost
//       of one round trip through both stacks, the simulated wire and the driving loop
//       (`./run bench` does exactly that: the row "catnip tcp 64 B echo on the simulator").
//   demi-simbench goodput --cc cubic|newreno [--loss P] [--mbps M] [--delay-us D] [--bytes B]
//                         [--seed N] [--pcap FILE] [--hystart on|off]
//       One TCP flow of B bytes from client to server through a link of M Mbit/s with D us of
//       one-way delay, a queue of one bandwidth-delay product, and a drop probability P on each
//       frame in each direction. Prints the goodput and its ratio to the link's capacity.
//
// Both print one JSON line on stdout and exit 0 when the run completed and every byte arrived
// in order; anything else is an error on stderr and exit 1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <demi/catnip.h>
#include <demi/libos.h>

#include "libos/module_host.h"
#include "modules/catnip/catnip_module.h"
#include "net/inet_stack.h"
#include "net/tcp/tcp_layer.h"
#include "runtime/sim/link_profile.h"
#include "runtime/sim/network.h"
#include "sched/clock.h"

namespace {

using namespace std::chrono_literals;
using demi::LibOS;
using demi::QDesc;
using demi::QResult;
using demi::QToken;
using demi::Sga;

constexpr uint16_t kPort = 80;

sockaddr_in address(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}
const sockaddr* sa(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

int fail(const std::string& what) {
  std::fprintf(stderr, "demi-simbench: %s\n", what.c_str());
  return 1;
}

// Two Catnip hosts on one simulated segment, a (server, 10.0.0.1) and b (client, 10.0.0.2).
class Pair {
 public:
  Pair(uint64_t seed, const std::string& cc, std::size_t buffer, const demi::runtime::sim::LinkProfile& link,
       bool hystart = true)
      : net_(clock_, seed),
        port_a_(net_.add_host(demi::runtime::LinkAddress{0x02, 0, 0, 0, 0, 0x0a}, "a")),
        port_b_(net_.add_host(demi::runtime::LinkAddress{0x02, 0, 0, 0, 0, 0x0b}, "b")) {
    net_.set_profile_all(link);
    a_ = std::make_unique<LibOS>(options("10.0.0.1", seed * 2, cc, buffer, hystart));
    b_ = std::make_unique<LibOS>(options("10.0.0.2", seed * 2 + 1, cc, buffer, hystart));
    ok_ = a_->install(demi::make_catnip_module(*port_a_, a_->config())) == 0 &&
          b_->install(demi::make_catnip_module(*port_b_, b_->config())) == 0;
  }
  ~Pair() {
    a_.reset();  // the hosts go before the network whose ports they borrow
    b_.reset();
  }

  bool ok() const { return ok_; }
  LibOS& server() { return *a_; }
  LibOS& client() { return *b_; }
  demi::sched::Instant now() const { return clock_.now(); }
  demi::runtime::sim::Network& network() { return net_; }
  demi::net::tcp::TcpLayer& tcp(LibOS& l) {
    return *static_cast<demi::catnip::CatnipModule*>(l.module("catnip"))->stack()->tcp();
  }

  // Runs both hosts until done() says so; when neither can make progress, virtual time jumps to
  // the next frame or timer. False if nothing can ever happen again or the bound is reached.
  bool run_until(const std::function<bool()>& done, demi::sched::Duration limit) {
    const demi::sched::Instant end = clock_.now() + limit;
    while (!done()) {
      if (clock_.now() > end) return false;
      bool progress = a_->poll_once();
      progress = b_->poll_once() || progress;
      if (done()) return true;
      if (progress) continue;
      std::optional<demi::sched::Instant> next = net_.next_delivery();
      for (LibOS* l : {a_.get(), b_.get()}) {
        auto t = l->host().scheduler().next_deadline();
        if (t && (!next || *t < *next)) next = t;
      }
      if (!next) return false;
      if (*next > clock_.now()) clock_.advance_to(*next);
    }
    return true;
  }

  // One completion of `qt` on `os`, without blocking: true and *r filled when it is done.
  static bool done(LibOS& os, QToken qt, QResult* r, int* rc) {
    std::size_t index = SIZE_MAX;
    const QToken one[1] = {qt};
    *rc = os.wait_any(one, r, &index, std::chrono::nanoseconds(0));
    return index == 0;
  }

  // Listens on the server, connects the client and accepts: the two queues, or an error.
  bool connect(QDesc* server_qd, QDesc* client_qd, std::string* why) {
    auto l = a_->socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in any = address("0.0.0.0", kPort);
    if (!l || a_->bind(*l, sa(any), sizeof any) != 0 || a_->listen(*l, 8) != 0) {
      *why = "the server cannot listen";
      return false;
    }
    auto c = b_->socket(AF_INET, SOCK_STREAM, 0);
    if (!c) {
      *why = "client socket";
      return false;
    }
    const sockaddr_in to = address("10.0.0.1", kPort);
    auto cqt = b_->connect(*c, sa(to), sizeof to);
    auto aqt = a_->accept(*l);
    if (!cqt || !aqt) {
      *why = "connect or accept refused";
      return false;
    }
    QResult cr, ar;
    int crc = -1, arc = -1;
    bool connected = false, accepted = false;
    run_until([&] {
      if (!connected) connected = done(*b_, *cqt, &cr, &crc);
      if (!accepted) accepted = done(*a_, *aqt, &ar, &arc);
      return connected && accepted;
    }, 30s);
    if (!connected || !accepted || crc != 0 || arc != 0) {
      *why = "the handshake did not complete";
      return false;
    }
    a_->close(*l);
    *server_qd = ar.accept.qd;
    *client_qd = *c;
    // Echoes are sent at once, as a latency-bound application does (no Nagle).
    const int one = 1;
    a_->setsockopt(*server_qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    b_->setsockopt(*client_qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }

 private:
  demi::LibOSOptions options(const char* ip, uint64_t isn_seed, const std::string& cc, std::size_t buffer,
                             bool hystart) {
    demi::LibOSOptions lo;
    lo.clock = &clock_;
    demi::Config& c = lo.config;
    c.set("catnip.ipv4.address", ip);
    c.set("catnip.tcp.isn_seed", std::to_string(isn_seed));
    c.set("catnip.tcp.congestion", cc);
    c.set("catnip.tcp.send_buffer", std::to_string(buffer));
    c.set("catnip.tcp.receive_buffer", std::to_string(buffer));
    c.set("catnip.tcp.hystart", hystart ? "true" : "false");
    c.set("libos.stall_warning_ms", "0");  // the other host's time is not a stall
    return lo;
  }

  demi::sched::VirtualClock clock_;
  demi::runtime::sim::Network net_;
  demi::runtime::sim::Port* port_a_;
  demi::runtime::sim::Port* port_b_;
  std::unique_ptr<LibOS> a_;
  std::unique_ptr<LibOS> b_;
  bool ok_ = false;
};

struct Options {
  std::string mode;
  uint64_t count = 1000;
  std::size_t size = 64;
  std::string cc = "cubic";
  double loss = 0.0;
  uint64_t mbps = 100;
  uint64_t delay_us = 5000;
  std::size_t bytes = 16u << 20;
  uint64_t seed = 1;
  std::string pcap;            // goodput: every delivered frame to this file (for tshark)
  std::string hystart = "on";  // catnip.tcp.hystart
};

// `count` echoes of `size` bytes. The server pops and pushes back what it got; the client
// checks each echo's length and first byte.
int echo(const Options& o) {
  demi::runtime::sim::LinkProfile link;  // no faults, no delay: only the stacks' own work
  Pair p(o.seed, o.cc, 256 * 1024, link);
  if (!p.ok()) return fail("a catnip module did not install");
  QDesc sq = -1, cq = -1;
  std::string why;
  if (!p.connect(&sq, &cq, &why)) return fail(why);
  LibOS& s = p.server();
  LibOS& c = p.client();
  auto spop = s.pop(sq);
  if (!spop) return fail("server pop");
  QToken server_pop = *spop;
  std::optional<QToken> server_push;
  Sga server_sga{};
  std::size_t echoed = 0;  // bytes the server received and pushed back
  const demi::sched::Instant t0 = p.now();
  for (uint64_t i = 0; i < o.count; ++i) {
    auto sga = c.sgaalloc(o.size);
    if (!sga) return fail("sgaalloc");
    std::memset(sga->segs[0].buf, static_cast<int>('a' + i % 26), o.size);
    auto push = c.push(cq, *sga);
    auto pop = c.pop(cq);
    if (!push || !pop) return fail("client push or pop");
    bool pushed = false, got = false;
    std::size_t received = 0;
    std::string broken;
    QResult r;
    int rc = 0;
    const bool ok = p.run_until([&] {
      // The server: echo whatever arrives, one push at a time.
      if (server_push && Pair::done(s, *server_push, &r, &rc)) {
        s.sgafree(server_sga);
        server_push.reset();
      }
      if (!server_push && Pair::done(s, server_pop, &r, &rc)) {
        if (rc != 0 || r.sga.length() == 0) {
          broken = "the server's pop failed";
          return true;
        }
        echoed += r.sga.length();
        server_sga = r.sga;
        auto back = s.push(sq, r.sga);
        auto next = s.pop(sq);
        if (!back || !next) {
          broken = "the server's push or pop failed";
          return true;
        }
        server_push = *back;
        server_pop = *next;
      }
      // The client: its push, then the echo (which may come in pieces).
      if (!pushed && Pair::done(c, *push, &r, &rc)) {
        pushed = true;
        c.sgafree(*sga);
      }
      while (!got && Pair::done(c, *pop, &r, &rc)) {
        if (rc != 0 || r.sga.length() == 0) {
          broken = "the client's pop failed";
          return true;
        }
        for (uint32_t k = 0; k < r.sga.numsegs; ++k) {
          const auto* b = static_cast<const unsigned char*>(r.sga.segs[k].buf);
          for (uint32_t j = 0; j < r.sga.segs[k].len; ++j)
            if (b[j] != 'a' + i % 26 && broken.empty()) broken = "an echo differs from what was sent";
        }
        received += r.sga.length();
        c.sgafree(r.sga);
        if (received >= o.size) {
          got = true;
        } else {
          auto more = c.pop(cq);
          if (!more) {
            broken = "client pop";
            return true;
          }
          pop = *more;
        }
      }
      return pushed && got;
    }, 60s);
    if (!broken.empty()) return fail(broken);
    if (!ok) return fail("round trip " + std::to_string(i) + " did not complete");
    if (received != o.size) return fail("an echo came back longer than the message");
  }
  const double virtual_us = std::chrono::duration<double, std::micro>(p.now() - t0).count();
  const auto& cc = p.tcp(c).counters();
  const auto& sc = p.tcp(s).counters();
  std::printf(
      "{\"mode\": \"echo\", \"count\": %llu, \"size\": %zu, \"echoed_bytes\": %zu, \"virtual_us\": %.1f, "
      "\"retransmits\": %llu, \"timeouts\": %llu}\n",
      static_cast<unsigned long long>(o.count), o.size, echoed, virtual_us,
      static_cast<unsigned long long>(cc.retransmits + sc.retransmits),
      static_cast<unsigned long long>(cc.timeouts + sc.timeouts));
  return 0;
}

// One flow of `bytes` from the client to the server through a lossy, bandwidth-limited link.
int goodput(const Options& o) {
  demi::runtime::sim::LinkProfile link;
  link.drop = o.loss;
  link.bandwidth_bps = o.mbps * 1'000'000;
  link.delay = std::chrono::microseconds(o.delay_us);
  // A queue of one bandwidth-delay product (of the round trip): a flow that fills the pipe
  // exactly loses nothing to the queue; one that overshoots it sees tail drops, as on a router.
  const uint64_t bdp = link.bandwidth_bps / 8 * 2 * o.delay_us / 1'000'000;
  link.queue_bytes = std::max<uint64_t>(bdp, 16 * 1514);
  // Buffers of four BDPs (at least 256 KiB), so the window, not the buffer, is what limits.
  const std::size_t buffer = std::max<std::size_t>(256 * 1024, static_cast<std::size_t>(4 * bdp));
  Pair p(o.seed, o.cc, buffer, link, o.hystart == "on");
  if (!p.ok()) return fail("a catnip module did not install");
  if (!o.pcap.empty() && !p.network().capture(o.pcap)) return fail("cannot write " + o.pcap);
  QDesc sq = -1, cq = -1;
  std::string why;
  if (!p.connect(&sq, &cq, &why)) return fail(why);
  LibOS& s = p.server();
  LibOS& c = p.client();
  constexpr std::size_t kPush = 64 * 1024;
  constexpr int kInFlight = 8;
  struct InFlight {
    QToken qt;
    Sga sga;
  };
  std::vector<InFlight> pushes;
  std::size_t queued = 0;  // bytes handed to push
  std::size_t received = 0;
  std::string broken;
  auto spop = s.pop(sq);
  if (!spop) return fail("server pop");
  QToken server_pop = *spop;
  QResult r;
  int rc = 0;
  const demi::sched::Instant t0 = p.now();
  const bool ok = p.run_until([&] {
    for (std::size_t k = 0; k < pushes.size();) {
      if (Pair::done(c, pushes[k].qt, &r, &rc)) {
        c.sgafree(pushes[k].sga);
        if (rc != 0) broken = "a push failed";
        pushes.erase(pushes.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        ++k;
      }
    }
    while (pushes.size() < kInFlight && queued < o.bytes) {
      const std::size_t n = std::min(kPush, o.bytes - queued);
      auto sga = c.sgaalloc(n);
      if (!sga) {
        broken = "sgaalloc";
        return true;
      }
      auto* b = static_cast<unsigned char*>(sga->segs[0].buf);
      for (std::size_t j = 0; j < n; ++j) b[j] = static_cast<unsigned char>((queued + j) % 251);
      auto qt = c.push(cq, *sga);
      if (!qt) {
        broken = "push";
        return true;
      }
      pushes.push_back({*qt, *sga});
      queued += n;
    }
    while (Pair::done(s, server_pop, &r, &rc)) {
      if (rc != 0 || r.sga.length() == 0) {
        broken = "the server's pop failed";
        return true;
      }
      for (uint32_t k = 0; k < r.sga.numsegs; ++k) {
        const auto* b = static_cast<const unsigned char*>(r.sga.segs[k].buf);
        for (uint32_t j = 0; j < r.sga.segs[k].len; ++j)
          if (b[j] != (received + j) % 251 && broken.empty()) broken = "a byte arrived out of place";
        received += r.sga.segs[k].len;
      }
      s.sgafree(r.sga);
      if (received >= o.bytes) return true;
      auto next = s.pop(sq);
      if (!next) {
        broken = "server pop";
        return true;
      }
      server_pop = *next;
    }
    return !broken.empty();
  }, 3600s);
  if (!broken.empty()) return fail(broken);
  if (!ok || received != o.bytes) return fail("the flow did not complete");
  const double seconds = std::chrono::duration<double>(p.now() - t0).count();
  const double mbps = static_cast<double>(received) * 8 / seconds / 1e6;
  const auto& tc = p.tcp(c).counters();
  const auto& ts = p.tcp(s).counters();
  std::printf(
      "{\"mode\": \"goodput\", \"cc\": \"%s\", \"loss\": %g, \"link_mbps\": %llu, \"delay_us\": %llu, "
      "\"bytes\": %zu, \"virtual_s\": %.4f, \"goodput_mbps\": %.2f, \"ratio_to_link\": %.4f, "
      "\"retransmits\": %llu, \"timeouts\": %llu, \"receiver_ooo_drops\": %llu, \"seed\": %llu}\n",
      o.cc.c_str(), o.loss, static_cast<unsigned long long>(o.mbps), static_cast<unsigned long long>(o.delay_us),
      received, seconds, mbps, mbps / static_cast<double>(o.mbps),
      static_cast<unsigned long long>(tc.retransmits), static_cast<unsigned long long>(tc.timeouts),
      static_cast<unsigned long long>(ts.drop_ooo_full), static_cast<unsigned long long>(o.seed));
  return 0;
}

int usage(const char* why) {
  if (why) std::fprintf(stderr, "demi-simbench: %s\n", why);
  std::fprintf(stderr,
               "usage: demi-simbench echo --count N [--size S] [--cc NAME]\n"
               "       demi-simbench goodput --cc cubic|newreno [--loss P] [--mbps M] [--delay-us D] [--bytes B] "
               "[--seed N] [--pcap FILE] [--hystart on|off]\n");
  return 2;
}

bool parse_u64(const char* s, uint64_t* out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-') return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(nullptr);
  Options o;
  o.mode = argv[1];
  if (o.mode != "echo" && o.mode != "goodput") return usage("the mode is echo or goodput");
  for (int i = 2; i < argc; i += 2) {
    const std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!value) return usage("an option lacks its value");
    uint64_t v = 0;
    if (arg == "--count" && parse_u64(value, &v) && v > 0) {
      o.count = v;
    } else if (arg == "--size" && parse_u64(value, &v) && v > 0 && v <= (1u << 20)) {
      o.size = v;
    } else if (arg == "--cc") {
      o.cc = value;
    } else if (arg == "--loss") {
      char* end = nullptr;
      o.loss = std::strtod(value, &end);
      if (*end != '\0' || o.loss < 0 || o.loss >= 0.5) return usage("--loss takes a probability below 0.5");
    } else if (arg == "--mbps" && parse_u64(value, &v) && v > 0 && v <= 100'000) {
      o.mbps = v;
    } else if (arg == "--delay-us" && parse_u64(value, &v) && v <= 1'000'000) {
      o.delay_us = v;
    } else if (arg == "--bytes" && parse_u64(value, &v) && v > 0 && v <= (1ull << 32)) {
      o.bytes = v;
    } else if (arg == "--seed" && parse_u64(value, &v)) {
      o.seed = v;
    } else if (arg == "--pcap" && o.mode == "goodput") {
      o.pcap = value;
    } else if (arg == "--hystart" && (std::string_view(value) == "on" || std::string_view(value) == "off")) {
      o.hystart = value;
    } else {
      return usage(("bad option or value: " + std::string(arg) + " " + value).c_str());
    }
  }
  return o.mode == "echo" ? echo(o) : goodput(o);
}
