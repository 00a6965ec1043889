// The catnip module's TCP queues: the one place the module talks to the TCP layer.
//
// Operations are coroutines that try the layer's non-blocking call and wait on the socket's
// WaitQueue when it answers EAGAIN / EINPROGRESS. Pushes of one queue take turns in the order
// they were started, and so do its pops (a ticket each, handed out at the call): a push that
// waits for room cannot be overtaken by a later one, and bytes go to pops in order.
//
// Zero copy: a push hands the TCP layer references to the application's own buffers (the layer
// keeps them until the peer acknowledges the bytes); a pop hands the application views of the
// receive buffers. Only an Sga the application built by hand is copied, once, on push.
#include "modules/catnip/catnip_module.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <demi/catnip.h>

#include "base/log.h"
#include "libos/module_host.h"
#include "modules/catnip/socket_args.h"
#include "net/copy_buffer.h"
#if DEMI_HAVE_TCP
#include "net/tcp/tcp_layer.h"
#endif

namespace demi::catnip {

#if DEMI_HAVE_TCP

namespace {
constexpr const char* kLog = "catnip";
}  // namespace

bool CatnipModule::have_tcp() const { return stack_ && stack_->tcp(); }

Result<QueueId> CatnipModule::tcp_socket() {
  auto id = stack_->tcp()->open();
  if (!id) return Error{id.error()};
  const QueueId q = add_queue(Kind::Tcp, *id);
  Queue& queue = queues_[q];
  queue.sndbuf = static_cast<int>(config_.tcp.send_buffer);
  queue.rcvbuf = static_cast<int>(config_.tcp.receive_buffer);
  return q;
}

int CatnipModule::tcp_bind(Queue& queue, const sockaddr_in& a) {
  const net::Endpoint e = endpoint_of(a);
  return stack_->tcp()->bind(queue.socket, e.addr, e.port);
}

int CatnipModule::tcp_listen(Queue& queue, int backlog) { return stack_->tcp()->listen(queue.socket, backlog); }

int CatnipModule::tcp_accept(QueueId q, Completion done) {
  if (stack_->tcp()->state(queues_[q].socket) != net::tcp::TcpState::Listen) {
    DEMI_DEBUG(kLog, "accept: queue {} is not listening", q);
    return EINVAL;
  }
  host_->scheduler().spawn(tcp_accept_op(QueueRef{this, q}, done));
  return 0;
}

int CatnipModule::tcp_connect(QueueId q, const sockaddr_in& a, Completion done) {
  const net::Endpoint e = endpoint_of(a);
  int early_error = 0;
  switch (int rc = stack_->tcp()->connect(queues_[q].socket, e.addr, e.port)) {
    case 0: break;
    // The attempt itself failed (the destination is known unreachable): the operation started,
    // and completes with the error, as a connect that fails later would.
    case EHOSTUNREACH:
    case ENETUNREACH: early_error = rc; break;
    default: DEMI_DEBUG(kLog, "connect: queue {}: {}", q, std::strerror(rc)); return rc;
  }
  host_->scheduler().spawn(tcp_connect_op(QueueRef{this, q}, early_error, done));
  return 0;
}

int CatnipModule::tcp_name(Queue& queue, bool peer, sockaddr_in* out) {
  net::tcp::TcpLayer& tcp = *stack_->tcp();
  auto e = peer ? tcp.remote_address(queue.socket) : tcp.local_address(queue.socket);
  if (!e) return e.error();
  *out = sockaddr_of(*e);
  return 0;
}

int CatnipModule::tcp_setsockopt(Queue& queue, int level, int optname, const void* val, socklen_t len) {
  net::tcp::TcpLayer& tcp = *stack_->tcp();
  int v = 0;
  if (level == IPPROTO_TCP && optname == TCP_NODELAY) {
    if (!read_int(val, len, &v)) return EINVAL;
    if (int rc = tcp.set_nodelay(queue.socket, v != 0)) return rc;
    queue.nodelay = v != 0;
    return 0;
  }
  if (level == IPPROTO_TCP && optname == kTcpCongestion) {
    // A name, as Linux takes it: not necessarily NUL-terminated within len.
    const auto* s = static_cast<const char*>(val);
    return tcp.set_congestion_control(queue.socket, std::string_view(s, strnlen(s, len)));
  }
  if (level != SOL_SOCKET) return ENOPROTOOPT;
  switch (optname) {
    case SO_LINGER: {
      if (len < static_cast<socklen_t>(sizeof(linger))) return EINVAL;
      linger l{};
      std::memcpy(&l, val, sizeof l);
      if (l.l_onoff && l.l_linger < 0) return EINVAL;
      std::optional<sched::Duration> d;
      if (l.l_onoff) d = std::chrono::seconds(l.l_linger);
      if (int rc = tcp.set_linger(queue.socket, d)) return rc;
      queue.linger_on = l.l_onoff != 0;
      queue.linger_seconds = l.l_linger;
      return 0;
    }
    case SO_KEEPALIVE: {
      if (!read_int(val, len, &v)) return EINVAL;
      net::tcp::KeepaliveOptions ka;
      ka.enabled = v != 0;
      ka.idle = config_.tcp.keepalive_idle;
      ka.interval = config_.tcp.keepalive_interval;
      ka.count = config_.tcp.keepalive_count;
      if (int rc = tcp.set_keepalive(queue.socket, ka)) return rc;
      queue.keepalive = v != 0;
      return 0;
    }
    case SO_SNDBUF:
    case SO_RCVBUF: {
      if (!read_int(val, len, &v) || v <= 0) return EINVAL;
      const int snd = optname == SO_SNDBUF ? v : queue.sndbuf;
      const int rcv = optname == SO_RCVBUF ? v : queue.rcvbuf;
      if (int rc = tcp.set_buffer_sizes(queue.socket, static_cast<std::size_t>(snd), static_cast<std::size_t>(rcv)))
        return rc;
      queue.sndbuf = snd;
      queue.rcvbuf = rcv;
      return 0;
    }
    default: return ENOPROTOOPT;
  }
}

int CatnipModule::tcp_getsockopt(Queue& queue, int level, int optname, void* val, socklen_t* len) {
  net::tcp::TcpLayer& tcp = *stack_->tcp();
  if (level == IPPROTO_TCP && optname == TCP_NODELAY) return write_int(queue.nodelay, val, len);
  if (level == IPPROTO_TCP && optname == kTcpCongestion) {
    auto info = tcp.info(queue.socket);
    if (!info) return info.error();
    const std::string& name = info->congestion_control;
    const std::size_t n = std::min<std::size_t>(*len, name.size() + 1);
    std::memcpy(val, name.c_str(), n);
    *len = static_cast<socklen_t>(n);
    return 0;
  }
  if (level != SOL_SOCKET) return ENOPROTOOPT;
  switch (optname) {
    case SO_LINGER: {
      if (*len < static_cast<socklen_t>(sizeof(linger))) return EINVAL;
      linger l{queue.linger_on ? 1 : 0, queue.linger_seconds};
      std::memcpy(val, &l, sizeof l);
      *len = sizeof l;
      return 0;
    }
    case SO_KEEPALIVE: return write_int(queue.keepalive, val, len);
    case SO_SNDBUF: return write_int(queue.sndbuf, val, len);
    case SO_RCVBUF: return write_int(queue.rcvbuf, val, len);
    case SO_TYPE: return write_int(SOCK_STREAM, val, len);
    case SO_ERROR: {
      const int st = tcp.connect_status(queue.socket);
      return write_int(st == EINPROGRESS ? 0 : st, val, len);
    }
    default: return ENOPROTOOPT;
  }
}

int CatnipModule::tcp_push(QueueId q, const Sga& sga, Completion done) {
  Outgoing out;
  if (const std::vector<mem::BufRef>* refs = host_->sgas().segments(sga)) {
    // The application's own buffers, as far as it filled them.
    for (uint32_t i = 0; i < sga.numsegs; ++i)
      if (sga.segs[i].len > 0) out.bufs[out.count++] = (*refs)[i].slice(0, sga.segs[i].len);
  } else {
    // Not one of ours: the bytes may change once push returns, so copy them, once.
    mem::BufRef copy = net::copy_buffer(sga.length());
    if (!copy) return ENOMEM;
    std::size_t at = 0;
    for (uint32_t i = 0; i < sga.numsegs; ++i) {
      std::memcpy(copy.data() + at, sga.segs[i].buf, sga.segs[i].len);
      at += sga.segs[i].len;
    }
    out.bufs[out.count++] = std::move(copy);
  }
  const uint64_t ticket = queues_[q].push_tickets++;
  host_->scheduler().spawn(tcp_push_op(QueueRef{this, q}, std::move(out), ticket, done));
  return 0;
}

int CatnipModule::tcp_pop(QueueId q, std::size_t max_len, Completion done) {
  if (stack_->tcp()->state(queues_[q].socket) == net::tcp::TcpState::Listen) {
    DEMI_DEBUG(kLog, "pop: queue {} is listening; use accept", q);
    return EINVAL;
  }
  const uint64_t ticket = queues_[q].pop_tickets++;
  host_->scheduler().spawn(tcp_pop_op(QueueRef{this, q}, max_len, ticket, done));
  return 0;
}

void CatnipModule::tcp_close(Queue& queue) {
  net::tcp::TcpLayer& tcp = *stack_->tcp();
  // Wake the queue's operations first: once closed, the socket's events are no longer ours.
  tcp.events(queue.socket).notify_all();
  tcp.close(queue.socket);
}

// ---------------------------------------------------------------- teardown

std::chrono::nanoseconds CatnipModule::shutdown_linger() const {
  return have_tcp() ? config_.tcp.shutdown_linger : sched::Duration{0};
}

std::size_t CatnipModule::lingering() const {
  return have_tcp() ? stack_->tcp()->unfinished() : 0;
}

std::size_t CatnipModule::abort_lingering() {
  if (!have_tcp()) return 0;
  const std::size_t n = stack_->tcp()->abort_unfinished();
  if (n > 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.tcp.shutdown_linger).count();
    DEMI_WARN(kLog,
              "shutdown: {} TCP connection(s) aborted with RST: their data or FIN was still unacknowledged "
              "after the shutdown linger of {} ms (catnip.tcp.shutdown_linger_ms)",
              n, ms);
  }
  return n;
}

// ---------------------------------------------------------------- operations

sched::Task CatnipModule::tcp_accept_op(QueueRef ref, Completion done) {
  net::tcp::TcpLayer& tcp = *stack_->tcp();
  const uint32_t socket = ref->socket;
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    auto conn = tcp.try_accept(socket);
    if (conn) {
      auto peer = tcp.remote_address(*conn);
      const QueueId q = add_queue(Kind::Tcp, *conn);  // may move queues_: no Queue& held across it
      queues_[q].sndbuf = static_cast<int>(config_.tcp.send_buffer);
      queues_[q].rcvbuf = static_cast<int>(config_.tcp.receive_buffer);
      done.accept_done(q, peer ? sockaddr_of(*peer) : sockaddr_in{});
      co_return;
    }
    if (conn.error() != EAGAIN) {
      done.fail(conn.error());
      co_return;
    }
    co_await tcp.events(socket).wait();
  }
}

sched::Task CatnipModule::tcp_connect_op(QueueRef ref, int early_error, Completion done) {
  net::tcp::TcpLayer& tcp = *stack_->tcp();
  const uint32_t socket = ref->socket;
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    const int st = early_error ? early_error : tcp.connect_status(socket);
    if (st == 0) {
      done.connect_done(0);
      co_return;
    }
    if (st != EINPROGRESS) {
      DEMI_DEBUG(kLog, "connect: queue {}: {}", ref.id(), std::strerror(st));
      done.fail(st);
      co_return;
    }
    co_await tcp.events(socket).wait();
  }
}

sched::Task CatnipModule::tcp_push_op(QueueRef ref, Outgoing out, uint64_t ticket, Completion done) {
  net::tcp::TcpLayer& tcp = *stack_->tcp();
  const uint32_t socket = ref->socket;
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    if (ref->push_turn != ticket) {
      co_await tcp.events(socket).wait();
      continue;
    }
    auto r = tcp.send(socket, std::span<const mem::BufRef>(out.bufs.data(), out.count));
    if (!r && r.error() == EAGAIN) {
      co_await tcp.events(socket).wait();  // no room for all of it yet
      continue;
    }
    // Next in line: the following push may go now.
    ++ref->push_turn;
    tcp.events(socket).notify_all();
    if (r) done.push_done(0);
    else done.fail(r.error());
    co_return;
  }
}

sched::Task CatnipModule::tcp_pop_op(QueueRef ref, std::size_t max_len, uint64_t ticket, Completion done) {
  net::tcp::TcpLayer& tcp = *stack_->tcp();
  const uint32_t socket = ref->socket;
  const std::size_t limit = max_len == 0 ? SIZE_MAX : max_len;
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    if (ref->pop_turn != ticket) {
      co_await tcp.events(socket).wait();
      continue;
    }
    received_.clear();
    auto r = tcp.recv(socket, limit, received_);
    if (!r && r.error() == EAGAIN) {
      co_await tcp.events(socket).wait();
      continue;
    }
    ++ref->pop_turn;
    tcp.events(socket).notify_all();
    if (!r) {
      received_.clear();
      done.fail(r.error());
      co_return;
    }
    // The receive buffers themselves become the application's. An Sga holds 16 pieces: more
    // (a pop across many small segments) are joined into one copy at the end.
    std::size_t n = received_.size();
    if (n > kSgaMaxSegments) {
      std::size_t tail = 0;
      for (std::size_t i = kSgaMaxSegments - 1; i < n; ++i) tail += received_[i].size();
      mem::BufRef joined = net::copy_buffer(tail);
      if (!joined) {
        received_.clear();
        done.fail(ENOMEM);
        co_return;
      }
      std::size_t at = 0;
      for (std::size_t i = kSgaMaxSegments - 1; i < n; ++i) {
        std::memcpy(joined.data() + at, received_[i].data(), received_[i].size());
        at += received_[i].size();
      }
      received_.resize(kSgaMaxSegments - 1);
      received_.push_back(std::move(joined));
      n = kSgaMaxSegments;
    }
    // Zero bytes: the peer closed its side, and one empty segment says so (as the posix module).
    if (n == 0) {
      received_.emplace_back();
      n = 1;
    }
    auto sga = host_->sgas().adopt(std::span<mem::BufRef>(received_.data(), n));
    received_.clear();
    if (!sga) {
      done.fail(sga.error());
      co_return;
    }
    done.pop_done(*sga);
    co_return;
  }
}

#else  // a build without the TCP layer: SOCK_STREAM is refused, so no TCP queue ever exists

bool CatnipModule::have_tcp() const { return false; }
Result<QueueId> CatnipModule::tcp_socket() { return Error{ESOCKTNOSUPPORT}; }
int CatnipModule::tcp_bind(Queue&, const sockaddr_in&) { return ENOTSUP; }
int CatnipModule::tcp_listen(Queue&, int) { return ENOTSUP; }
int CatnipModule::tcp_accept(QueueId, Completion) { return ENOTSUP; }
int CatnipModule::tcp_connect(QueueId, const sockaddr_in&, Completion) { return ENOTSUP; }
int CatnipModule::tcp_name(Queue&, bool, sockaddr_in*) { return ENOTSUP; }
int CatnipModule::tcp_setsockopt(Queue&, int, int, const void*, socklen_t) { return ENOTSUP; }
int CatnipModule::tcp_getsockopt(Queue&, int, int, void*, socklen_t*) { return ENOTSUP; }
int CatnipModule::tcp_push(QueueId, const Sga&, Completion) { return ENOTSUP; }
int CatnipModule::tcp_pop(QueueId, std::size_t, Completion) { return ENOTSUP; }
void CatnipModule::tcp_close(Queue&) {}
std::chrono::nanoseconds CatnipModule::shutdown_linger() const { return std::chrono::nanoseconds{0}; }
std::size_t CatnipModule::lingering() const { return 0; }
std::size_t CatnipModule::abort_lingering() { return 0; }

#endif

}  // namespace demi::catnip
