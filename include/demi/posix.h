// The POSIX module: the Linux kernel's TCP and UDP sockets (AF_INET) behind demi's queue API.
// It is the portable fallback when no kernel-bypass device is at hand, and the baseline that
// catnip is measured against. Install it like any module:
//
//   demi::LibOS libos;
//   libos.install(demi::make_posix_module());
//
// Semantics worth knowing (the rest is the queue API's):
//  - push on a TCP queue completes only when every byte of the sga has been handed to the
//    kernel; pushes on one queue complete in order and their bytes never interleave.
//  - pop on a TCP queue returns whatever is there, up to its max_len (or posix.recv_size when
//    max_len is 0). The peer's orderly close (FIN) completes a pop with ret 0 and a zero-length
//    sga: numsegs 1, segs[0] = {nullptr, 0}; free it with sgafree like any popped sga.
//  - pop on a UDP queue returns one datagram, with its source address in sga.addr.
//  - once a connection is reset, every later push and pop on it fails with ECONNRESET.
//  - close completes the queue's pending operations with ECANCELED.
#pragma once

#include <memory>

#include <demi/module.h>

namespace demi {

// A module named "posix", of kind Network. It allocates nothing from the kernel until installed.
std::unique_ptr<Module> make_posix_module();

}  // namespace demi
