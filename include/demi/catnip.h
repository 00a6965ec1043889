// The catnip module: demi's own inet stack (Ethernet, ARP, IPv4, ICMP, UDP, TCP) in user space,
// on a packet device that bypasses the kernel: a DPDK port in production, a port of the
// simulated network in tests. Install it like any module:
//
//   auto port = ...;  // a runtime::Device: dpdk::DpdkPort::open(config), or a sim::Network port
//   libos.install(demi::make_catnip_module(std::move(port), libos.config()));
//
// Configuration: the catnip.* keys (docs/config.md); catnip.ipv4.address is required.
//
// Semantics worth knowing (the rest is the queue API's, as for the posix module):
//  - socket(AF_INET, SOCK_DGRAM, 0) is UDP; socket(AF_INET, SOCK_STREAM, 0) is TCP.
//  - pop on a UDP queue returns one datagram, with its source in sga.addr. The data is the
//    receive buffer itself (no copy); a datagram longer than the pop's max_len is truncated.
//  - push/pushto of an Sga from sgaalloc sends the application's buffers without copying them;
//    the device holds references, so sgafree right after the push completes is safe. An Sga
//    built by hand is copied.
//  - a UDP push completes when the datagram is handed to IPv4 (sent, or queued while ARP
//    resolves the next hop): UDP promises nothing more.
//  - ICMP errors about a UDP socket's datagrams (port unreachable: ECONNREFUSED) and a next hop
//    that never answered ARP (EHOSTUNREACH, for a connected socket) fail the socket's next pop.
//  - close completes the queue's pending operations with ECANCELED. A TCP close is graceful: the
//    FIN follows the data already pushed; SO_LINGER {1, 0} makes it abortive (RST at once).
//  - teardown (the LibOS destroyed; through dmtr, at process exit): every queue still open is
//    closed, then the stack keeps running until each closed TCP connection has had its data and
//    FIN acknowledged, for at most catnip.tcp.shutdown_linger_ms (2000 by default); whatever is
//    left then is reset, and a warning says how many connections were and why. 0: no linger,
//    unacknowledged connections are reset at once, as with SO_LINGER {1, 0}. (A non-zero
//    SO_LINGER time changes nothing here: no call blocks.)
//  - options: SO_RCVBUF (UDP queue bytes, TCP receive buffer), SO_SNDBUF, SO_LINGER,
//    SO_KEEPALIVE, TCP_NODELAY, and kTcpCongestion (the controller's name, "newreno" or "cubic",
//    as a string, like Linux's TCP_CONGESTION).
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <demi/config.h>
#include <demi/module.h>

namespace demi {

namespace runtime {
class Device;
}

// setsockopt(qd, IPPROTO_TCP, kTcpCongestion, "cubic", 5): the congestion controller of one
// connection. Linux's TCP_CONGESTION, with the same meaning.
inline constexpr int kTcpCongestion = TCP_CONGESTION;

// A module named "catnip", of kind Network, over `device`. Two forms, for the two ways a device
// lives:
//  - the module owns the device (a DPDK port opened for it): it is closed with the module;
//  - the module borrows it (a port of a simulated network, which the Network owns): the device
//    must outlive the module, and with it the LibOS it is installed in.
// The catnip.* keys of `config` are read here: nullptr, with the reason in the log, for a value
// that makes no sense (no catnip.ipv4.address, a gateway off the subnet, ...). The stack itself
// is built when the module is installed (it runs on the LibOS's scheduler); install fails with
// EINVAL if the device cannot serve the configuration (an MTU larger than the device's).
std::unique_ptr<Module> make_catnip_module(std::unique_ptr<runtime::Device> device, const Config& config);
std::unique_ptr<Module> make_catnip_module(runtime::Device& device, const Config& config);

class LibOS;

// Catnip on a DPDK port, all from `libos`'s configuration (the dpdk.* and catnip.* keys):
// initialises the EAL, opens dpdk.port (offloads, link wait), makes the port's application
// region (dpdk.memory_mb, registered with DPDK) `libos`'s allocator, so that every sgaalloc is
// sent without a copy, and installs a catnip module that owns the port. Call it before any
// sgaalloc. 0 or an errno, with the cause in the log.
int install_catnip_dpdk(LibOS& libos);

// A counter of the catnip module: `device.*` (packets, bytes and drops as the device counts
// them, kept by demi, so they survive a memif peer that leaves) and the stack's own, one per
// event and per drop reason (`ipv4.drop.bad_checksum`, ...).
struct CatnipCounter {
  std::string name;
  uint64_t value = 0;
};
// The counters of the catnip module installed in `libos`; empty when there is none.
std::vector<CatnipCounter> catnip_counters(const LibOS& libos);

}  // namespace demi
