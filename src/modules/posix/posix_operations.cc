// The posix module's operations: one coroutine each, on the LibOS scheduler. Each one
//  - checks `closed` before taking its direction's turn (a closed socket's turn is never handed
//    on again) and after every wait, and then completes with ECANCELED;
//  - tries its syscall first and waits for readiness only after EAGAIN (the rule that makes
//    edge-triggered epoll safe, see PosixModule::poll);
//  - completes its Completion exactly once.
// Their frames come from the scheduler's frame pool; the only allocation an operation makes is
// a pop's receive buffer.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <span>

#include "base/log.h"
#include "libos/module_host.h"
#include "modules/posix/posix_module.h"

namespace demi::posix {

namespace {

constexpr const char* kLog = "posix";

// Errors that describe the network or the peer (or an application's use of the socket) rather
// than a fault in demi or the host: logged at debug level, since the qresult carries them.
bool expected_error(int err) {
  switch (err) {
    case ECONNRESET:
    case EPIPE:
    case ECONNREFUSED:
    case ECONNABORTED:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
    case ENOTCONN:
    case EDESTADDRREQ:
    case EMSGSIZE:
    case EACCES:
    case EINVAL:
      return true;
    default:
      return false;
  }
}

void log_failure(const char* call, QueueId q, int err) {
  if (expected_error(err))
    DEMI_DEBUG(kLog, "{}: queue {}: {}", call, q, std::strerror(err));
  else
    DEMI_ERROR(kLog, "{}: queue {}: {}", call, q, std::strerror(err));
}

// The queue was closed under a pending operation.
void cancel(Completion& done, const char* call, QueueId q) {
  DEMI_DEBUG(kLog, "{}: queue {} was closed; the pending {} is cancelled", call, q, call);
  done.fail(ECANCELED);
}

// accept(2) reports some errors of the connection it was about to return; the listener itself
// is fine and the next connection may be taken (see accept(2), "Error handling").
bool accept_error_is_transient(int err) {
  switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

}  // namespace

sched::Task PosixModule::accept_op(SocketRef ref, Completion done) {
  KernelSocket& s = *ref;
  if (!s.closed) co_await s.reads.acquire();
  int fd = -1;
  sockaddr_in peer{};
  for (;;) {
    if (s.closed) {
      cancel(done, "accept", s.id);
      co_return;
    }
    socklen_t len = sizeof peer;
    fd = ::accept4(s.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) break;
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      co_await s.readable.wait();
    } else if (accept_error_is_transient(err)) {
      DEMI_DEBUG(kLog, "accept: queue {}: a connection failed before it was accepted ({})", s.id, std::strerror(err));
    } else {
      s.reads.release();
      log_failure("accept", s.id, err);
      done.fail(err);
      co_return;
    }
  }
  s.reads.release();
  Result<QueueId> q = add_socket(fd, SOCK_STREAM);
  if (!q) {
    done.fail(q.error());
    co_return;
  }
  slots_[*q].socket->connected = true;
  done.accept_done(*q, peer);
}

sched::Task PosixModule::connect_op(SocketRef ref, int early_error, Completion done) {
  KernelSocket& s = *ref;
  int err = early_error;
  // A connection in progress: the kernel reports its end as writability (established) or an
  // error (refused, timed out, unreachable). Check before every wait: the edge may be past.
  while (s.connecting && !s.closed) {
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
    if (so_error != 0) {
      err = so_error;
      break;
    }
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    if (::getpeername(s.fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) break;  // established
    if (errno != ENOTCONN) {
      err = errno;
      break;
    }
    co_await s.writable.wait();
  }
  if (s.closed) {
    cancel(done, "connect", s.id);
    co_return;
  }
  s.connecting = false;
  if (err != 0) {
    err = note_error(s, err);
    log_failure("connect", s.id, err);
    done.fail(err);
    co_return;
  }
  if (s.stream()) s.connected = true;
  done.connect_done(0);
}

sched::Task PosixModule::push_op(SocketRef ref, Outgoing out, Completion done) {
  KernelSocket& s = *ref;
  if (!s.closed) co_await s.writes.acquire();
  std::array<iovec, kSgaMaxSegments> iov{};
  std::size_t count = 0;
  for (uint32_t i = 0; i < out.sga.numsegs; ++i) {
    if (out.sga.segs[i].len == 0) continue;
    iov[count].iov_base = out.sga.segs[i].buf;
    iov[count].iov_len = out.sga.segs[i].len;
    ++count;
  }
  const bool datagram = !s.stream();
  std::size_t first = 0;  // the first iovec not yet wholly sent
  int err = 0;
  // A datagram goes out in one sendmsg (even an empty one); a stream push continues after
  // partial writes until every byte is the kernel's.
  while (datagram || first < count) {
    if (s.closed) {
      cancel(done, out.has_to ? "pushto" : "push", s.id);
      co_return;
    }
    if (s.reset) {
      err = s.reset;
      break;
    }
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = count - first;
    if (out.has_to) {
      msg.msg_name = &out.to;
      msg.msg_namelen = sizeof out.to;
    }
    // MSG_NOSIGNAL: a push to a peer that has gone reports EPIPE instead of killing the process.
    ssize_t n = ::sendmsg(s.fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        co_await s.writable.wait();
        continue;
      }
      err = note_error(s, errno);
      break;
    }
    if (datagram) break;
    auto sent = static_cast<std::size_t>(n);
    while (sent > 0 && first < count) {
      if (sent >= iov[first].iov_len) {
        sent -= iov[first].iov_len;
        ++first;
      } else {
        iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + sent;
        iov[first].iov_len -= sent;
        sent = 0;
      }
    }
  }
  s.writes.release();
  if (err != 0) {
    log_failure(out.has_to ? "pushto" : "push", s.id, err);
    done.fail(err);
    co_return;
  }
  done.push_done(0);
}

sched::Task PosixModule::pop_op(SocketRef ref, std::size_t limit, Completion done) {
  KernelSocket& s = *ref;
  if (!s.closed) co_await s.reads.acquire();
  mem::BufRef buf;
  sockaddr_in from{};
  ssize_t n = -1;
  int err = 0;
  bool truncated = false;
  for (;;) {
    if (s.closed) {
      cancel(done, "pop", s.id);
      co_return;
    }
    if (s.reset) {
      err = s.reset;
      break;
    }
    if (!buf) {
      mem::Block* b = host_->allocator().allocate(limit);
      if (!b) {
        err = ENOMEM;
        break;
      }
      buf = mem::BufRef::adopt(b, 0, limit);
    }
    if (s.stream()) {
      n = ::recv(s.fd, buf.data(), limit, 0);
    } else {
      iovec iov{buf.data(), limit};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      n = ::recvmsg(s.fd, &msg, 0);
      truncated = n >= 0 && (msg.msg_flags & MSG_TRUNC) != 0;
    }
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      co_await s.readable.wait();
      continue;
    }
    err = note_error(s, errno);
    break;
  }
  s.reads.release();
  if (err == ENOMEM) {
    DEMI_ERROR(kLog, "pop: queue {}: the {} allocator has no {} bytes for a receive buffer", s.id,
               host_->allocator().name(), limit);
  } else if (err != 0) {
    log_failure("pop", s.id, err);
  }
  if (err != 0) {
    done.fail(err);
    co_return;
  }
  if (truncated)
    DEMI_WARN(kLog, "pop: queue {}: a datagram longer than {} bytes was truncated (pop max_len or posix.recv_size)",
              s.id, limit);
  // Zero bytes: the peer closed its side (TCP) or sent an empty datagram (UDP). Either way the
  // application gets one empty segment, and no buffer is kept for it.
  if (n == 0)
    buf.reset();
  else
    buf.set_length(static_cast<std::size_t>(n));
  Result<Sga> sga = host_->sgas().adopt(std::span<mem::BufRef>(&buf, 1));
  if (!sga) {
    DEMI_ERROR(kLog, "pop: queue {}: cannot hand the received buffer to the application", s.id);
    done.fail(sga.error());
    co_return;
  }
  if (!s.stream()) sga->addr = from;
  done.pop_done(*sga);
}

}  // namespace demi::posix
