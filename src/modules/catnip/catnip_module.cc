// The catnip module's control path (sockets, addresses, options, close, for UDP here and through
// catnip_tcp.cc for TCP) and the UDP data path, which never waits to send.
#include "modules/catnip/catnip_module.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <demi/catnip.h>

#include "base/log.h"
#include "libos/module_host.h"
#include "modules/catnip/socket_args.h"

namespace demi {

namespace {
std::unique_ptr<Module> make(std::unique_ptr<runtime::Device> owned, runtime::Device& device, const Config& config) {
  auto c = net::InetConfig::from(config);
  if (!c) return nullptr;  // the reason is in the log
  return std::make_unique<catnip::CatnipModule>(std::move(owned), device, std::move(*c));
}
}  // namespace

std::unique_ptr<Module> make_catnip_module(std::unique_ptr<runtime::Device> device, const Config& config) {
  if (!device) {
    DEMI_ERROR("catnip", "make_catnip_module: no device");
    return nullptr;
  }
  runtime::Device& d = *device;
  return make(std::move(device), d, config);
}

std::unique_ptr<Module> make_catnip_module(runtime::Device& device, const Config& config) {
  return make(nullptr, device, config);
}

}  // namespace demi

namespace demi::catnip {

namespace {

constexpr const char* kLog = "catnip";

}  // namespace

CatnipModule::CatnipModule(std::unique_ptr<runtime::Device> owned, runtime::Device& device, net::InetConfig config)
    : owned_(std::move(owned)), device_(device), config_(std::move(config)) {}

CatnipModule::~CatnipModule() {
  // The LibOS destroyed its scheduler, and every operation's coroutine with it, before its
  // modules: nothing refers to the sockets any more. The stack goes before the device.
  stack_.reset();
}

int CatnipModule::attach(ModuleHost& host) {
  if (host_) {
    DEMI_ERROR(kLog, "attach: the module is already installed in a LibOS");
    return EBUSY;
  }
  auto s = net::InetStack::create(device_, host.scheduler(), config_);
  if (!s) return s.error();  // the reason is in the log
  host_ = &host;
  stack_ = std::move(*s);
  stack_->start();
  return 0;
}

bool CatnipModule::poll() { return stack_ ? stack_->poll() : false; }

void CatnipModule::flush() {
  if (stack_) stack_->flush();
}

// ---------------------------------------------------------------- the queue table

CatnipModule::Queue* CatnipModule::open_queue(QueueId q, const char* call) {
  if (q < queues_.size() && queues_[q].open && !queues_[q].closed) return &queues_[q];
  DEMI_DEBUG(kLog, "{}: queue {} is not an open socket", call, q);
  return nullptr;
}

QueueId CatnipModule::add_queue(Kind kind, uint32_t socket) {
  QueueId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<QueueId>(queues_.size());
    queues_.emplace_back();
  }
  Queue& q = queues_[id];
  q = Queue{};
  q.kind = kind;
  q.socket = socket;
  q.open = true;
  return id;
}

void CatnipModule::unref(QueueId q) {
  Queue& queue = queues_[q];
  if (--queue.ops == 0 && queue.closed) {
    queue.open = false;
    free_ids_.push_back(q);
  }
}

// ---------------------------------------------------------------- control calls

Result<QueueId> CatnipModule::socket(int domain, int type, int protocol) {
  if (!stack_) {
    DEMI_ERROR(kLog, "socket: the module is not installed in a LibOS");
    return Error{ENXIO};
  }
  if (domain != AF_INET) {
    DEMI_DEBUG(kLog, "socket: domain {} is not supported (AF_INET only)", domain);
    return Error{EAFNOSUPPORT};
  }
  const int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base == SOCK_DGRAM) {
    if (protocol != 0 && protocol != IPPROTO_UDP) return Error{EPROTONOSUPPORT};
    return add_queue(Kind::Udp, stack_->udp().open());
  }
  if (base == SOCK_STREAM) {
    if (protocol != 0 && protocol != IPPROTO_TCP) return Error{EPROTONOSUPPORT};
    if (!have_tcp()) {
      DEMI_DEBUG(kLog, "socket: TCP is not part of this build");
      return Error{ESOCKTNOSUPPORT};
    }
    return tcp_socket();
  }
  DEMI_DEBUG(kLog, "socket: type {} is not supported (SOCK_STREAM or SOCK_DGRAM)", type);
  return Error{ESOCKTNOSUPPORT};
}

int CatnipModule::bind(QueueId q, const sockaddr* addr, socklen_t len) {
  Queue* queue = open_queue(q, "bind");
  if (!queue) return EBADF;
  if (addr->sa_family != AF_INET || len < sizeof(sockaddr_in)) return EAFNOSUPPORT;
  sockaddr_in a;
  std::memcpy(&a, addr, sizeof a);
  if (queue->kind == Kind::Tcp) return tcp_bind(*queue, a);
  return stack_->udp().bind(queue->socket, endpoint_of(a));
}

int CatnipModule::listen(QueueId q, int backlog) {
  Queue* queue = open_queue(q, "listen");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return tcp_listen(*queue, backlog);
  DEMI_DEBUG(kLog, "listen: queue {} is a UDP socket", q);
  return EOPNOTSUPP;
}

int CatnipModule::accept(QueueId q, Completion done) {
  Queue* queue = open_queue(q, "accept");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return tcp_accept(q, done);
  DEMI_DEBUG(kLog, "accept: queue {} is a UDP socket", q);
  return EOPNOTSUPP;
}

int CatnipModule::connect(QueueId q, const sockaddr* addr, socklen_t len, Completion done) {
  Queue* queue = open_queue(q, "connect");
  if (!queue) return EBADF;
  if (addr->sa_family != AF_INET || len < sizeof(sockaddr_in)) return EAFNOSUPPORT;
  sockaddr_in a;
  std::memcpy(&a, addr, sizeof a);
  if (queue->kind == Kind::Tcp) return tcp_connect(q, a, done);
  // A UDP connect only sets the default destination and the source filter: nothing to wait for.
  if (int rc = stack_->udp().connect(queue->socket, endpoint_of(a))) return rc;
  done.connect_done(0);
  return 0;
}

int CatnipModule::getsockname(QueueId q, sockaddr* addr, socklen_t* len) {
  Queue* queue = open_queue(q, "getsockname");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) {
    sockaddr_in a{};
    if (int rc = tcp_name(*queue, false, &a)) return rc;
    copy_out(a, addr, len);
    return 0;
  }
  net::UdpLayer& udp = stack_->udp();
  net::Endpoint local = udp.local(queue->socket);
  // A connected socket bound to "any" sends from our one address: report it, as Linux does.
  if (local.addr.is_unspecified() && udp.remote(queue->socket)) local.addr = stack_->ipv4().local_address();
  copy_out(sockaddr_of(local), addr, len);
  return 0;
}

int CatnipModule::getpeername(QueueId q, sockaddr* addr, socklen_t* len) {
  Queue* queue = open_queue(q, "getpeername");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) {
    sockaddr_in a{};
    if (int rc = tcp_name(*queue, true, &a)) return rc;
    copy_out(a, addr, len);
    return 0;
  }
  auto remote = stack_->udp().remote(queue->socket);
  if (!remote) return ENOTCONN;
  copy_out(sockaddr_of(*remote), addr, len);
  return 0;
}

int CatnipModule::setsockopt(QueueId q, int level, int optname, const void* val, socklen_t len) {
  Queue* queue = open_queue(q, "setsockopt");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return tcp_setsockopt(*queue, level, optname, val, len);
  int v = 0;
  if (level == SOL_SOCKET && (optname == SO_RCVBUF || optname == SO_SNDBUF)) {
    if (!read_int(val, len, &v) || v <= 0) return EINVAL;
    if (optname == SO_RCVBUF) stack_->udp().set_queue_bytes(queue->socket, static_cast<std::size_t>(v));
    else queue->sndbuf = v;
    return 0;
  }
  DEMI_DEBUG(kLog, "setsockopt: option {} at level {} does not apply to a UDP socket", optname, level);
  return ENOPROTOOPT;
}

int CatnipModule::getsockopt(QueueId q, int level, int optname, void* val, socklen_t* len) {
  Queue* queue = open_queue(q, "getsockopt");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return tcp_getsockopt(*queue, level, optname, val, len);
  if (level == SOL_SOCKET) {
    switch (optname) {
      case SO_RCVBUF: return write_int(static_cast<int>(stack_->udp().queue_bytes(queue->socket)), val, len);
      case SO_SNDBUF: return write_int(queue->sndbuf, val, len);
      case SO_TYPE: return write_int(SOCK_DGRAM, val, len);
      case SO_ERROR: return write_int(stack_->udp().take_error(queue->socket), val, len);
      default: break;
    }
  }
  return ENOPROTOOPT;
}

// ---------------------------------------------------------------- data

int CatnipModule::udp_send(Queue& queue, const Sga& sga, const sockaddr_in* to, Completion done) {
  // The Sga's own buffers, when it is one of ours: the frame keeps references to them.
  const std::vector<mem::BufRef>* refs = host_->sgas().segments(sga);
  std::array<net::OutSegment, kSgaMaxSegments> segs{};
  for (uint32_t i = 0; i < sga.numsegs; ++i) {
    segs[i].bytes = std::span<const std::byte>(static_cast<const std::byte*>(sga.segs[i].buf), sga.segs[i].len);
    segs[i].ref = refs ? &(*refs)[i] : nullptr;
  }
  std::optional<net::Endpoint> dst;
  if (to) dst = endpoint_of(*to);
  const int rc = stack_->udp().send(queue.socket, dst, std::span<const net::OutSegment>(segs.data(), sga.numsegs));
  // Errors of the call itself never start the operation; errors of the network complete it.
  if (rc == EBADF || rc == EINVAL || rc == EDESTADDRREQ) return rc;
  // A datagram is sent, or queued for ARP, or lost: there is nothing to wait for.
  if (rc == 0) done.push_done(0);
  else done.fail(rc);
  return 0;
}

int CatnipModule::pushto(QueueId q, const Sga& sga, const sockaddr* addr, socklen_t len, Completion done) {
  Queue* queue = open_queue(q, "pushto");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) {
    // A TCP queue has one destination, its peer: pushto naming another would be misleading.
    DEMI_DEBUG(kLog, "pushto: queue {} is a TCP socket; use push", q);
    return EOPNOTSUPP;
  }
  if (addr->sa_family != AF_INET || len < sizeof(sockaddr_in)) return EAFNOSUPPORT;
  sockaddr_in to;
  std::memcpy(&to, addr, sizeof to);
  return udp_send(*queue, sga, &to, done);
}

int CatnipModule::push(QueueId q, const Sga& sga, Completion done) {
  Queue* queue = open_queue(q, "push");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return tcp_push(q, sga, done);
  return udp_send(*queue, sga, nullptr, done);
}

int CatnipModule::pop(QueueId q, std::size_t max_len, Completion done) {
  Queue* queue = open_queue(q, "pop");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return tcp_pop(q, max_len, done);
  host_->scheduler().spawn(udp_pop_op(QueueRef{this, q}, max_len, done));
  return 0;
}

int CatnipModule::close(QueueId q) {
  Queue* queue = open_queue(q, "close");
  if (!queue) return EBADF;
  queue->closed = true;
  // Wakes every pending operation, which sees `closed` and completes with ECANCELED.
  if (queue->kind == Kind::Tcp) tcp_close(*queue);
  else stack_->udp().close(queue->socket);
  if (queue->ops == 0) {
    queue->open = false;
    free_ids_.push_back(q);
  }
  return 0;
}

void CatnipModule::shutdown() {
  // As a process exit closes its descriptors: gracefully (TCP sends its FIN behind the data).
  for (QueueId q = 0; q < queues_.size(); ++q)
    if (queues_[q].open && !queues_[q].closed) close(q);
}

// ---------------------------------------------------------------- operations

sched::Task CatnipModule::udp_pop_op(QueueRef ref, std::size_t max_len, Completion done) {
  net::UdpLayer& udp = stack_->udp();
  const uint32_t socket = ref->socket;
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    if (int err = udp.take_error(socket)) {
      done.fail(err);
      co_return;
    }
    if (auto d = udp.recv(socket)) {
      // The datagram's own buffers become the application's: no copy.
      std::array<mem::BufRef, kSgaMaxSegments> parts;
      std::size_t n = 0;
      std::size_t left = max_len == 0 ? d->length : std::min(max_len, d->length);
      auto take = [&](mem::BufRef& b) {
        if (left == 0 || n == parts.size()) return;
        if (b.size() > left) b.set_length(left);
        left -= b.size();
        parts[n++] = std::move(b);
      };
      take(d->data);
      for (mem::BufRef& b : d->more) take(b);
      if (n == 0) {
        parts[0] = mem::BufRef{};  // an empty datagram: one empty segment
        n = 1;
      }
      auto sga = host_->sgas().adopt(std::span<mem::BufRef>(parts.data(), n));
      if (!sga) {
        done.fail(sga.error());
        co_return;
      }
      sga->addr = sockaddr_of(d->from);
      done.pop_done(*sga);
      co_return;
    }
    co_await udp.events(socket).wait();
  }
}

}  // namespace demi::catnip
