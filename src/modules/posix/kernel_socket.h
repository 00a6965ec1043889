// KernelSocket: the posix module's state for one queue: a non-blocking kernel socket, what the
// module knows of its state, and the coroutines waiting on it.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include <demi/module.h>

#include "modules/posix/fifo_turn.h"
#include "sched/wait_queue.h"

namespace demi::posix {

struct KernelSocket {
  KernelSocket(sched::Scheduler& sched, int fd_, int type_, QueueId id_)
      : fd(fd_), type(type_), id(id_), readable(sched), writable(sched), reads(sched), writes(sched) {}

  bool stream() const { return type == SOCK_STREAM; }

  int fd;
  int type;  // SOCK_STREAM or SOCK_DGRAM
  QueueId id;
  bool closed = false;      // close() was called: the fd is gone, pending operations cancel
  bool listening = false;   // listen() succeeded
  bool connecting = false;  // a non-blocking connect is in progress
  bool connected = false;   // stream: established (connect completed, or accepted)
  // SO_LINGER with a non-zero timeout makes close(2) block even on a non-blocking socket, which
  // the module never does: close() turns lingering off first (the kernel still sends what is
  // queued, in the background).
  bool linger_blocks = false;
  // A connection reset is permanent: once a syscall reported ECONNRESET, every later push and pop
  // fails with it (the kernel itself would answer EPIPE and EOF, which hide the cause).
  int reset = 0;
  uint32_t ops = 0;  // operations whose coroutine still refers to this socket (see SocketRef)

  // Edge-triggered readiness (see PosixModule::poll): only the operation that holds the turn of
  // a direction waits here, after the syscall told it EAGAIN.
  sched::WaitQueue readable;  // pops and accepts
  sched::WaitQueue writable;  // pushes and connect
  FifoTurn reads;             // pops and accepts, first come first served
  FifoTurn writes;            // pushes and pushtos, first come first served
};

}  // namespace demi::posix
