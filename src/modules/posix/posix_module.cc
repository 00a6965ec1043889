// The posix module's control path: sockets, addresses, options, close, and readiness.
#include "modules/posix/posix_module.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <demi/posix.h>

#include "base/log.h"
#include "libos/module_host.h"

namespace demi {

std::unique_ptr<Module> make_posix_module() {
  return std::make_unique<posix::PosixModule>();
}

}  // namespace demi

namespace demi::posix {

namespace {

constexpr const char* kLog = "posix";

// The options handed to the kernel as they are; anything else is ENOPROTOOPT, so that an
// application cannot reach into the socket state this module relies on (O_NONBLOCK, SO_ERROR).
bool option_passed_through(int level, int optname) {
  if (level == SOL_SOCKET) {
    switch (optname) {
      case SO_REUSEADDR:
      case SO_REUSEPORT:
      case SO_LINGER:
      case SO_RCVBUF:
      case SO_SNDBUF:
      case SO_KEEPALIVE:
        return true;
      default:
        return false;
    }
  }
  return level == IPPROTO_TCP && optname == TCP_NODELAY;
}

// Errors of a connection attempt, as opposed to a bad call: they complete the connect's qtoken
// instead of being returned by connect() itself.
bool connect_attempt_failed(int err) {
  switch (err) {
    case ECONNREFUSED:
    case ETIMEDOUT:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ECONNRESET:
    case ENETDOWN:
    case EHOSTDOWN:
      return true;
    default:
      return false;
  }
}

}  // namespace

PosixModule::~PosixModule() {
  // The LibOS destroys its scheduler, and with it every operation's coroutine, before its
  // modules: nothing waits on these sockets any more. Close their fds without waking anyone.
  for (Slot& slot : slots_) {
    KernelSocket* s = slot.socket.get();
    if (!s || s->fd < 0) continue;
    if (s->linger_blocks) {
      linger off{};
      ::setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &off, sizeof off);
    }
    ::close(s->fd);
  }
  if (epfd_ >= 0) ::close(epfd_);
}

int PosixModule::attach(ModuleHost& host) {
  if (host_) {
    DEMI_ERROR(kLog, "attach: the module is already installed in a LibOS");
    return EBUSY;
  }
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    int err = errno;
    DEMI_ERROR(kLog, "attach: epoll_create1 failed: {}", std::strerror(err));
    return err;
  }
  host_ = &host;
  recv_size_ = static_cast<std::size_t>(host.config().get_int("posix.recv_size"));
  backlog_max_ = static_cast<int>(host.config().get_int("posix.listen_backlog_max"));
  return 0;
}

// Readiness is edge-triggered (EPOLLET), for two reasons:
//  - the LibOS sleeps on wait_fd(), which is readable while this epoll instance has events to
//    report. Level-triggered, a socket holding data that nobody pops (or a writable socket that
//    nobody pushes to, which is nearly always) would keep it readable, and an idle wait() on
//    anything at all would spin instead of sleeping.
//  - each socket is registered once, for both directions, and never re-armed: no epoll_ctl per
//    operation.
// The price is that an edge must never be missed: every operation tries its syscall first and
// waits only after EAGAIN (or, for connect, after seeing the connection still in progress).
// Since the LibOS is single-threaded, poll() cannot run between that syscall and the wait, and
// any readiness change after it raises a new edge.
bool PosixModule::poll() {
  if (epfd_ < 0) return false;
  int n = ::epoll_wait(epfd_, events_.data(), kMaxEvents, 0);
  if (n < 0) {
    if (errno != EINTR) DEMI_ERROR(kLog, "poll: epoll_wait failed: {}", std::strerror(errno));
    return false;
  }
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events_[static_cast<std::size_t>(i)];
    auto id = static_cast<QueueId>(ev.data.u64 & 0xffffffffu);
    auto generation = static_cast<uint32_t>(ev.data.u64 >> 32);
    if (id >= slots_.size() || slots_[id].generation != generation) continue;
    KernelSocket* s = slots_[id].socket.get();
    if (!s || s->closed) continue;
    // An error or hang-up ends waits in both directions: the retried syscall reports it.
    if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s->readable.notify_all();
    if (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s->writable.notify_all();
  }
  return n > 0;
}

// ---------------------------------------------------------------- the socket table

KernelSocket* PosixModule::open_socket(QueueId q, const char* call) {
  if (q < slots_.size()) {
    KernelSocket* s = slots_[q].socket.get();
    if (s && !s->closed) return s;
  }
  DEMI_DEBUG(kLog, "{}: queue {} is not an open socket", call, q);
  return nullptr;
}

Result<QueueId> PosixModule::add_socket(int fd, int type) {
  QueueId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    slots_.emplace_back();
    id = static_cast<QueueId>(slots_.size() - 1);
  }
  Slot& slot = slots_[id];
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = epoll_token(id, slot.generation);
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int err = errno;
    DEMI_ERROR(kLog, "cannot watch socket fd {} with epoll: {}", fd, std::strerror(err));
    ::close(fd);
    free_ids_.push_back(id);
    return Error{err};
  }
  slot.socket = std::make_unique<KernelSocket>(host_->scheduler(), fd, type, id);
  return id;
}

void PosixModule::unref(KernelSocket& s) {
  if (--s.ops == 0 && s.closed) free_slot(s.id);
}

void PosixModule::free_slot(QueueId id) {
  Slot& slot = slots_[id];
  slot.socket.reset();
  ++slot.generation;
  free_ids_.push_back(id);
}

int PosixModule::note_error(KernelSocket& s, int err) {
  if (err == ECONNRESET && s.stream()) s.reset = ECONNRESET;
  // After a reset the kernel answers a send with EPIPE: report the cause instead.
  if (err == EPIPE && s.reset) return s.reset;
  return err;
}

// ---------------------------------------------------------------- control calls

Result<QueueId> PosixModule::socket(int domain, int type, int protocol) {
  if (!host_) {
    DEMI_ERROR(kLog, "socket: the module is not installed in a LibOS");
    return Error{ENXIO};
  }
  if (domain != AF_INET) {
    DEMI_DEBUG(kLog, "socket: domain {} is not supported (AF_INET only)", domain);
    return Error{EAFNOSUPPORT};
  }
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base != SOCK_STREAM && base != SOCK_DGRAM) {
    DEMI_DEBUG(kLog, "socket: type {} is not supported (SOCK_STREAM or SOCK_DGRAM)", type);
    return Error{ESOCKTNOSUPPORT};
  }
  int expected = base == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
  if (protocol != 0 && protocol != expected) {
    DEMI_DEBUG(kLog, "socket: protocol {} does not go with type {}", protocol, base);
    return Error{EPROTONOSUPPORT};
  }
  int fd = ::socket(AF_INET, base | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    int err = errno;
    DEMI_ERROR(kLog, "socket: the kernel refused a socket: {}", std::strerror(err));
    return Error{err};
  }
  return add_socket(fd, base);
}

int PosixModule::bind(QueueId q, const sockaddr* addr, socklen_t len) {
  KernelSocket* s = open_socket(q, "bind");
  if (!s) return EBADF;
  if (addr->sa_family != AF_INET) {
    DEMI_DEBUG(kLog, "bind: address family {} is not AF_INET", addr->sa_family);
    return EAFNOSUPPORT;
  }
  if (::bind(s->fd, addr, len) != 0) {
    int err = errno;
    DEMI_DEBUG(kLog, "bind: queue {}: {}", q, std::strerror(err));
    return err;
  }
  return 0;
}

int PosixModule::listen(QueueId q, int backlog) {
  KernelSocket* s = open_socket(q, "listen");
  if (!s) return EBADF;
  if (!s->stream()) {
    DEMI_DEBUG(kLog, "listen: queue {} is a UDP socket", q);
    return EOPNOTSUPP;
  }
  if (::listen(s->fd, std::min(backlog, backlog_max_)) != 0) {
    int err = errno;
    DEMI_DEBUG(kLog, "listen: queue {}: {}", q, std::strerror(err));
    return err;
  }
  s->listening = true;
  return 0;
}

int PosixModule::accept(QueueId q, Completion done) {
  KernelSocket* s = open_socket(q, "accept");
  if (!s) return EBADF;
  if (!s->stream()) {
    DEMI_DEBUG(kLog, "accept: queue {} is a UDP socket", q);
    return EOPNOTSUPP;
  }
  if (!s->listening) {
    DEMI_DEBUG(kLog, "accept: queue {} is not listening", q);
    return EINVAL;
  }
  host_->scheduler().spawn(accept_op(SocketRef{this, s}, done));
  return 0;
}

int PosixModule::connect(QueueId q, const sockaddr* addr, socklen_t len, Completion done) {
  KernelSocket* s = open_socket(q, "connect");
  if (!s) return EBADF;
  if (addr->sa_family != AF_INET) {
    DEMI_DEBUG(kLog, "connect: address family {} is not AF_INET", addr->sa_family);
    return EAFNOSUPPORT;
  }
  if (s->connecting) {
    DEMI_DEBUG(kLog, "connect: queue {} is already connecting", q);
    return EALREADY;
  }
  if (s->listening || (s->stream() && s->connected)) {
    DEMI_DEBUG(kLog, "connect: queue {} is {}", q, s->listening ? "listening" : "already connected");
    return s->listening ? EINVAL : EISCONN;
  }
  int early_error = 0;
  if (::connect(s->fd, addr, len) == 0) {
    if (s->stream()) s->connected = true;
  } else if (errno == EINPROGRESS || errno == EINTR) {
    // EINTR: the attempt goes on in the background, exactly as with EINPROGRESS.
    s->connecting = true;
  } else if (connect_attempt_failed(errno)) {
    early_error = errno;
  } else {
    int err = errno;
    DEMI_DEBUG(kLog, "connect: queue {}: {}", q, std::strerror(err));
    return err;
  }
  host_->scheduler().spawn(connect_op(SocketRef{this, s}, early_error, done));
  return 0;
}

int PosixModule::getsockname(QueueId q, sockaddr* addr, socklen_t* len) {
  KernelSocket* s = open_socket(q, "getsockname");
  if (!s) return EBADF;
  if (::getsockname(s->fd, addr, len) != 0) {
    int err = errno;
    DEMI_DEBUG(kLog, "getsockname: queue {}: {}", q, std::strerror(err));
    return err;
  }
  return 0;
}

int PosixModule::getpeername(QueueId q, sockaddr* addr, socklen_t* len) {
  KernelSocket* s = open_socket(q, "getpeername");
  if (!s) return EBADF;
  if (::getpeername(s->fd, addr, len) != 0) {
    int err = errno;
    DEMI_DEBUG(kLog, "getpeername: queue {}: {}", q, std::strerror(err));
    return err;
  }
  return 0;
}

int PosixModule::setsockopt(QueueId q, int level, int optname, const void* val, socklen_t len) {
  KernelSocket* s = open_socket(q, "setsockopt");
  if (!s) return EBADF;
  if (!option_passed_through(level, optname)) {
    DEMI_DEBUG(kLog, "setsockopt: option {} at level {} is not supported", optname, level);
    return ENOPROTOOPT;
  }
  if (::setsockopt(s->fd, level, optname, val, len) != 0) {
    int err = errno;
    DEMI_DEBUG(kLog, "setsockopt: queue {}, option {} at level {}: {}", q, optname, level, std::strerror(err));
    return err;
  }
  if (level == SOL_SOCKET && optname == SO_LINGER) {
    // The kernel accepted it, so val holds a whole struct linger.
    linger l{};
    std::memcpy(&l, val, sizeof l);
    s->linger_blocks = l.l_onoff != 0 && l.l_linger > 0;
  }
  return 0;
}

int PosixModule::getsockopt(QueueId q, int level, int optname, void* val, socklen_t* len) {
  KernelSocket* s = open_socket(q, "getsockopt");
  if (!s) return EBADF;
  if (!option_passed_through(level, optname)) {
    DEMI_DEBUG(kLog, "getsockopt: option {} at level {} is not supported", optname, level);
    return ENOPROTOOPT;
  }
  if (::getsockopt(s->fd, level, optname, val, len) != 0) {
    int err = errno;
    DEMI_DEBUG(kLog, "getsockopt: queue {}, option {} at level {}: {}", q, optname, level, std::strerror(err));
    return err;
  }
  return 0;
}

// ---------------------------------------------------------------- data

int PosixModule::push(QueueId q, const Sga& sga, Completion done) {
  KernelSocket* s = open_socket(q, "push");
  if (!s) return EBADF;
  if (s->stream() && !s->connected && !s->connecting) {
    DEMI_DEBUG(kLog, "push: queue {} is not connected", q);
    return ENOTCONN;
  }
  Outgoing out;
  out.sga = sga;
  if (const auto* segs = host_->sgas().segments(sga))
    for (std::size_t i = 0; i < segs->size(); ++i) out.pins[i] = (*segs)[i];
  host_->scheduler().spawn(push_op(SocketRef{this, s}, std::move(out), done));
  return 0;
}

int PosixModule::pushto(QueueId q, const Sga& sga, const sockaddr* addr, socklen_t len, Completion done) {
  KernelSocket* s = open_socket(q, "pushto");
  if (!s) return EBADF;
  if (s->stream()) {
    // A TCP queue has one destination, its peer: pushto naming another would be misleading.
    DEMI_DEBUG(kLog, "pushto: queue {} is a TCP socket; use push", q);
    return EOPNOTSUPP;
  }
  if (addr->sa_family != AF_INET || len < sizeof(sockaddr_in)) {
    DEMI_DEBUG(kLog, "pushto: the destination is not an AF_INET address");
    return EAFNOSUPPORT;
  }
  Outgoing out;
  out.sga = sga;
  std::memcpy(&out.to, addr, sizeof out.to);
  out.has_to = true;
  if (const auto* segs = host_->sgas().segments(sga))
    for (std::size_t i = 0; i < segs->size(); ++i) out.pins[i] = (*segs)[i];
  host_->scheduler().spawn(push_op(SocketRef{this, s}, std::move(out), done));
  return 0;
}

int PosixModule::pop(QueueId q, std::size_t max_len, Completion done) {
  KernelSocket* s = open_socket(q, "pop");
  if (!s) return EBADF;
  if (s->listening) {
    DEMI_DEBUG(kLog, "pop: queue {} is listening; use accept", q);
    return EINVAL;
  }
  std::size_t limit = max_len == 0 ? recv_size_ : std::min(max_len, kMaxPopBytes);
  host_->scheduler().spawn(pop_op(SocketRef{this, s}, limit, done));
  return 0;
}

int PosixModule::close(QueueId q) {
  KernelSocket* s = open_socket(q, "close");
  if (!s) return EBADF;
  s->closed = true;
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, s->fd, nullptr);
  if (s->linger_blocks) {
    DEMI_DEBUG(kLog, "close: queue {}: SO_LINGER with a timeout would block close(2); lingering in the background", q);
    linger off{};
    ::setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &off, sizeof off);
  }
  // Never retried: on Linux the fd is released even when close(2) reports an error.
  if (::close(s->fd) != 0) DEMI_WARN(kLog, "close: queue {} (fd {}): {}", q, s->fd, std::strerror(errno));
  s->fd = -1;
  // Every pending operation resumes, sees `closed` and completes with ECANCELED.
  s->readable.notify_all();
  s->writable.notify_all();
  s->reads.wake_all();
  s->writes.wake_all();
  if (s->ops == 0) free_slot(q);
  return 0;
}

}  // namespace demi::posix
