// The lwip module: Debian's lwIP (liblwip, 2.1) driven through its raw TCP and UDP APIs, on the
// same packet devices as catnip (a DPDK port, or a port of the simulated network). It is kept
// beside catnip as a yardstick: the classic embedded stack on the same device and queues.
//
//   auto port = ...;  // a runtime::Device
//   libos.install(demi::make_lwip_module(std::move(port), libos.config()));
//
// Configuration: the lwip.* keys (docs/config.md); lwip.address is required.
//
// The queue API behaves as for the posix and catnip modules:
//  - socket(AF_INET, SOCK_STREAM | SOCK_DGRAM, 0); bind (port 0: ephemeral; INADDR_ANY means
//    this module's address), listen, accept, connect, push, pushto (UDP), pop, close.
//  - a TCP push completes once lwIP holds all of its bytes; a UDP push once the datagram is
//    handed to lwIP (sent, or queued while ARP resolves). A TCP pop returns what has arrived
//    (up to max_len), and a pop of zero bytes means the peer closed its side.
//  - errors are errno values: ECONNREFUSED (RST to a SYN), ECONNRESET, ETIMEDOUT (lwIP gave up
//    retransmitting), EADDRINUSE, EHOSTUNREACH...; close completes pending operations with
//    ECANCELED.
//  - memory: a UDP push of an Sga from sgaalloc is sent without a copy (pbufs that reference
//    the Sga's buffers, which the device then holds). TCP data is copied once into lwIP's
//    segments: Debian builds lwIP with LWIP_NETIF_TX_SINGLE_PBUF, which makes tcp_write copy
//    whatever it is asked. Received data is copied once, from lwIP's pbufs into an Sga.
//  - Debian's build fixes TCP's parameters (MSS 1460, a 64 KiB window and send buffer, lwIP's
//    timers: 250 ms fast, 500 ms slow) and allocates pbufs and PCBs with malloc.
//  - lwIP is one stack per process (global state): every lwip module of a process must run on
//    one thread, and each is one netif in it (see src/modules/lwip/lwip_stack.h).
#pragma once

#include <memory>

#include <demi/config.h>
#include <demi/module.h>
#include <demi/result.h>

namespace demi {

namespace runtime {
class Device;
}

// A module named "lwip", of kind Network, over `device`: owned (closed with the module) or
// borrowed (it must outlive the module). nullptr, with the reason in the log, for a
// configuration that makes no sense (no lwip.address, a bad netmask, ...).
std::unique_ptr<Module> make_lwip_module(std::unique_ptr<runtime::Device> device, const Config& config);
std::unique_ptr<Module> make_lwip_module(runtime::Device& device, const Config& config);

// The lwip module over the DPDK port that dpdk.* names (opened here, EAL included).
Result<std::unique_ptr<Module>> make_lwip_dpdk_module(const Config& config);

}  // namespace demi
