// libFuzzer target: the receive path. Every input is a sequence of frames (each a big-endian u16
// length and that many bytes) delivered to one catnip host, 10.0.0.2 at 02:00:00:00:00:02, that
// has a UDP socket bound to port 7, a TCP listener on port 80 and a TCP connection in progress
// to 10.0.0.1:80 (with the TCP layer in the build). Between frames virtual time advances, so
// timers (ARP retries, reassembly expiry, retransmissions) run too. The stack must never crash,
// leak, or touch memory it does not own (ASan), whatever arrives.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <demi/config.h>

#include "base/log.h"
#include "net/inet_stack.h"
#include "sched/clock.h"
#include "sched/scheduler.h"
#include "unit/net/fake_device.h"
#if DEMI_HAVE_TCP
#include "net/tcp/tcp_layer.h"
#endif

using namespace demi;

namespace {

struct Host {
  sched::VirtualClock clock;
  sched::Scheduler sched{clock};
  net::test::FakeDevice dev{runtime::LinkAddress{0x02, 0, 0, 0, 0, 0x02}};
  std::unique_ptr<net::InetStack> stack;
  net::UdpLayer::SocketId udp{};

  Host() {
    Config c;
    (void)c.set("catnip.ipv4.address", "10.0.0.2");
    (void)c.set("catnip.ipv4.netmask", "255.255.255.0");
    (void)c.set("catnip.ipv4.gateway", "10.0.0.254");
    (void)c.set("catnip.arp.gratuitous", "false");
    (void)c.set("catnip.arp.static", "10.0.0.1=02:00:00:00:00:01");
    (void)c.set("catnip.tcp.isn_seed", "1");
    std::string why;
    auto ic = net::InetConfig::from(c, &why);
    if (!ic) __builtin_trap();
    auto s = net::InetStack::create(dev, sched, *ic, &why);
    if (!s) __builtin_trap();
    stack = std::move(*s);
    stack->start();
    udp = stack->udp().open();
    (void)stack->udp().bind(udp, net::Endpoint{net::wire::Ipv4Address::from_octets(10, 0, 0, 2), 7});
    fuzz_tcp_setup(*this);
    run();
  }

  void run() {
    stack->poll();
    for (int i = 0; i < 64 && sched.run_once(); ++i) stack->poll();
    stack->poll();
    dev.sent.clear();
  }

  // Drains what sockets received, so queues do not simply fill up.
  void drain() {
    while (stack->udp().recv(udp)) {
    }
    (void)stack->udp().take_error(udp);
#if DEMI_HAVE_TCP
    // Accept what completed a handshake and read what arrived, so that windows open again.
    net::tcp::TcpLayer& tcp = *stack->tcp();
    while (accepted.size() < 256) {
      auto a = tcp.try_accept(listener);
      if (!a) break;
      accepted.push_back(*a);
    }
    for (auto s : accepted) {
      std::vector<mem::BufRef> out;
      while (true) {
        auto n = tcp.recv(s, 1 << 16, out);
        if (!n || *n == 0) break;
        out.clear();
      }
    }
#endif
  }
#if DEMI_HAVE_TCP
  std::vector<net::tcp::SocketId> accepted;
  net::tcp::SocketId listener = 0;
#endif

  static void fuzz_tcp_setup(Host& h);
};

}  // namespace

void Host::fuzz_tcp_setup(Host& h) {
#if DEMI_HAVE_TCP
  // A listener on port 80 (the fuzzer can complete handshakes: ISNs are seeded, so its SYN-ACKs
  // are repeatable) and a connection to 10.0.0.1:80 in SYN-SENT.
  net::tcp::TcpLayer& tcp = *h.stack->tcp();
  const auto us = net::wire::Ipv4Address::from_octets(10, 0, 0, 2);
  if (auto l = tcp.open()) {
    h.listener = *l;
    (void)tcp.bind(*l, us, 80);
    (void)tcp.listen(*l, 16);
  }
  if (auto c = tcp.open()) (void)tcp.connect(*c, net::wire::Ipv4Address::from_octets(10, 0, 0, 1), 80);
#else
  (void)h;  // UDP, ICMP, ARP and IPv4 only: a build without the TCP layer
#endif
}

namespace {
Host* g_host = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::Error);  // a log line per bad frame would be all the fuzzer does
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  // One host for many inputs, as a real host sees one frame after another (building a host per
  // input costs milliseconds of page faults under ASan). Every 1,000 inputs it starts afresh, so
  // that a crash found here reproduces from the inputs of the last batch.
  static unsigned inputs = 0;
  if (!g_host || ++inputs % 1000 == 0) {
    delete g_host;
    g_host = new Host;
  }
  Host& h = *g_host;
  std::size_t at = 0;
  while (at + 2 <= size) {
    std::size_t len = (std::size_t{data[at]} << 8) | data[at + 1];
    at += 2;
    if (len > size - at) len = size - at;
    // A device never hands the stack more than one receive buffer holds (2048 bytes here): a
    // longer frame is cut to it, as a NIC would, instead of written past the buffer's end (ASan
    // caught the harness doing that once the fuzzer's inputs grew past 2 KiB).
    const std::size_t frame_len = std::min(len, h.dev.rx_pool().buffer_size());
    h.dev.inject(std::span(reinterpret_cast<const std::byte*>(data + at), frame_len));
    at += len;
    h.run();
    h.drain();
    h.clock.advance(std::chrono::milliseconds(50));
  }
  // Let the timers the frames armed run (ARP retries, reassembly expiry, retransmissions).
  for (int i = 0; i < 4; ++i) {
    h.clock.advance(std::chrono::seconds(40));
    h.run();
    h.drain();
  }
  return 0;
}
