// demi-txcopy: what sending a small payload costs when it is attached to the frame as an
// external buffer (zero copy) and when it is copied behind the headers, per payload size, on a
// DPDK net_ring port that loops frames back without copying them (so the PMD adds nothing).
// The crossover is the default of dpdk.tx_copy_threshold.
//
//   demi-txcopy [--frames N]
//
// Each frame: a header mbuf (42 bytes written), the payload a slice of a block of the
// application region; sent in bursts of 32, received back and released.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mem/allocator.h"
#include "runtime/dpdk/dpdk_port.h"
#include "runtime/dpdk/external_memory.h"

using namespace demi;
using namespace demi::runtime;

namespace {

double ns_per_frame(dpdk::DpdkPort& port, mem::Block* payload, std::size_t size, long frames) {
  constexpr std::size_t kBurst = 32;
  TxFrame burst[kBurst];
  RxFrame rx[kBurst];
  auto t0 = std::chrono::steady_clock::now();
  for (long done = 0; done < frames; done += kBurst) {
    for (std::size_t i = 0; i < kBurst; ++i) {
      TxFrame& f = burst[i];
      f = TxFrame{};
      f.head = port.alloc_tx(128);
      if (!f.head) {
        std::fprintf(stderr, "demi-txcopy: out of mbufs (tx %lu, rx %lu, dropped rx %lu tx %lu)\n", (unsigned long)port.stats().tx_packets, (unsigned long)port.stats().rx_packets, (unsigned long)port.stats().rx_dropped, (unsigned long)port.stats().tx_dropped);
        std::exit(1);
      }
      f.head.set_length(42);
      std::memset(f.head.data(), 0x5a, 42);
      f.add_payload(mem::BufRef::share(payload, 0, size));
    }
    port.transmit(burst);
    // The stack lets go of its frames once they are sent; the loopback hands the very same
    // mbufs back to receive, which must find them held by the transmission alone.
    for (TxFrame& f : burst) f = TxFrame{};
    std::size_t got = 0;
    while (got < kBurst) {
      std::size_t n = port.receive(std::span<RxFrame>(rx, kBurst));
      for (std::size_t i = 0; i < n; ++i) rx[i] = RxFrame{};
      got += n;
      if (n == 0 && port.stats().rx_dropped + port.stats().rx_packets >= port.stats().tx_packets) break;
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(frames);
}

}  // namespace

int main(int argc, char** argv) {
  long frames = 2000000;
  if (argc == 3 && std::strcmp(argv[1], "--frames") == 0) frames = std::atol(argv[2]);
  Config c;
  c.set("dpdk.eal_args", "[--no-pci, --no-huge, -m, '256']");
  c.set("dpdk.port", "net_ring0");
  c.set("dpdk.link_wait_ms", "0");
  c.set("dpdk.memory_mb", "16");
  c.set("dpdk.memory_hugepages", "false");
  auto port = dpdk::DpdkPort::open(c);
  if (!port) {
    std::fprintf(stderr, "demi-txcopy: cannot open net_ring0\n");
    return 1;
  }
  auto region = dpdk::ExternalMemory::create(c, (*port)->port_id());
  if (!region) return 1;
  auto alloc = (*region)->make_allocator();
  mem::Block* payload = alloc->allocate(4096);
  std::memset(payload->data, 7, 4096);
  std::printf("ns per frame (alloc, build, tx burst of 32, rx, free), %ld frames each, net_ring loopback\n", frames);
  std::printf("payload  attach(zero copy)  copy\n");
  for (std::size_t size : {16, 32, 64, 128, 256, 512, 1024, 1400}) {
    double ns[2];
    for (int mode = 0; mode < 2; ++mode) {
      (*port)->set_copy_threshold(mode == 0 ? 0 : 4096);
      ns_per_frame(**port, payload, size, frames / 10);  // warm-up
      ns[mode] = ns_per_frame(**port, payload, size, frames);
    }
    std::printf("%7zu  %17.1f  %5.1f\n", size, ns[0], ns[1]);
  }
  mem::block_unref(payload);
  return 0;
}
