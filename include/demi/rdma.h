// The RDMA module: reliable-connected queue pairs set up through rdma_cm, behind demi's queue API.
// Install it like any module, then open its queues by name:
//
//   demi::LibOS libos;
//   if (int rc = libos.install(demi::make_rdma_module())) ...  // ENODEV: no RDMA device
//   auto qd = libos.socket(AF_INET, SOCK_STREAM, 0, "rdma");
//
// Semantics worth knowing (the rest is the queue API's):
//  - socket: AF_INET, SOCK_STREAM, protocol 0 or IPPROTO_TCP (the rdma_cm port space). bind,
//    listen, accept and connect take IPv4 addresses of an RDMA device (RoCE: the netdev's address).
//  - push sends one message: an sga of any size (up to rdma.max_message_bytes) and any number of
//    segments; it completes once the peer's device holds every byte. Pushes on one queue are
//    delivered in order.
//  - pop returns one whole message, however large; max_len is ignored (messages are never split).
//  - sgaalloc memory is registered with the device (see rdma.memory_mb), so pushes are zero copy
//    and pops hand out the registered receive buffers themselves when a message spans at most 16.
//  - errors come back as errno values in the qresult: ECONNREFUSED (nobody listens), ETIMEDOUT
//    (address or route resolution timed out), EHOSTUNREACH / ENETUNREACH, ECONNRESET (the peer
//    left; messages that arrived before are still popped first).
//  - install fails with ENODEV, and a log line saying what to do, on a host without an RDMA device.
#pragma once

#include <memory>

#include <demi/module.h>

namespace demi {

// A module named "rdma", of kind Network.
std::unique_ptr<Module> make_rdma_module();

}  // namespace demi
