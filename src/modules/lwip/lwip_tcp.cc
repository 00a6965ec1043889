// The lwip module's TCP queues, over lwIP's raw TCP API.
//
// lwIP calls back (tcp_accept_cb, tcp_connected_cb, tcp_recv_cb, tcp_sent_cb, tcp_err_cb) from
// inside its input path and its timers; the callbacks only record what happened in the Queue
// and wake its WaitQueue. Operations are coroutines that retry when woken; a push or a pop that
// can finish at once does so without starting one.
//
// Errors: lwIP frees a PCB before it calls the error callback, with ERR_RST (a reset: it was
// ECONNREFUSED if the connection was still being opened, else ECONNRESET), ERR_ABRT (lwIP gave
// up: retransmissions, SYN retries or keepalive probes ran out, so ETIMEDOUT) or ERR_CLSD (both
// sides closed: the end of the stream, no error).
//
// Receive window: data stays in lwIP's pbufs, counted against the window, until a pop copies it
// out; only then does tcp_recved open the window again, so a slow reader slows the sender.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <lwip/priv/tcp_priv.h>

#include "base/log.h"
#include "libos/module_host.h"
#include "modules/lwip/lwip_module.h"
#include "modules/lwip/lwip_stack.h"

namespace demi::lwip {

namespace {

constexpr const char* kLog = "lwip";

bool read_int(const void* val, socklen_t len, int* out) {
  if (len < static_cast<socklen_t>(sizeof(int))) return false;
  std::memcpy(out, val, sizeof(int));
  return true;
}

int write_int(int v, void* val, socklen_t* len) {
  if (*len < static_cast<socklen_t>(sizeof(int))) return EINVAL;
  std::memcpy(val, &v, sizeof v);
  *len = sizeof v;
  return 0;
}

sockaddr_in peer_of(const tcp_pcb* pcb) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(pcb->remote_port);
  a.sin_addr.s_addr = ip_2_ip4(&pcb->remote_ip)->addr;
  return a;
}

}  // namespace

// ---------------------------------------------------------------- lwIP's callbacks

void LwipModule::tcp_watch(Queue& queue, tcp_pcb* pcb) {
  ::tcp_arg(pcb, &queue);
  ::tcp_recv(pcb, tcp_recv_cb);
  ::tcp_sent(pcb, tcp_sent_cb);
  ::tcp_err(pcb, tcp_err_cb);
}

void LwipModule::tcp_unwatch(tcp_pcb* pcb) {
  ::tcp_arg(pcb, nullptr);
  if (pcb->state == LISTEN) {
    ::tcp_accept(pcb, nullptr);
    return;
  }
  // With no receive callback lwIP discards what arrives (tcp_recv_null) and finishes the close.
  ::tcp_recv(pcb, nullptr);
  ::tcp_sent(pcb, nullptr);
  ::tcp_err(pcb, nullptr);
}

err_t LwipModule::tcp_accept_cb(void* arg, tcp_pcb* newpcb, err_t err) {
  if (!arg || err != ERR_OK || !newpcb) return ERR_VAL;
  auto& listener = *static_cast<Queue*>(arg);
  LwipModule& m = *listener.module;
  const std::size_t pending = listener.backlog.size() - listener.backlog_head;
  if (listener.closed || pending >= static_cast<std::size_t>(listener.backlog_max)) {
    // lwIP resets the connection when the callback refuses it.
    ++m.counters_.backlog_full;
    DEMI_DEBUG(kLog, "accept: listener {} has {} connections waiting: resetting a new one", listener.id, pending);
    return ERR_MEM;
  }
  const QueueId id = m.add_queue(Kind::Tcp);  // Queue objects never move: `listener` stays valid
  Queue& q = *m.queues_[id];
  q.tcp = newpcb;
  q.connected = true;
  q.nodelay = listener.nodelay;  // as Linux, an accepted socket inherits TCP_NODELAY
  if (q.nodelay) tcp_nagle_disable(newpcb);
  m.tcp_watch(q, newpcb);
  if (listener.backlog_head > 0 && listener.backlog_head == listener.backlog.size()) {
    listener.backlog.clear();
    listener.backlog_head = 0;
  }
  listener.backlog.push_back(id);
  listener.events->notify_all();
  return ERR_OK;
}

err_t LwipModule::tcp_connected_cb(void* arg, tcp_pcb*, err_t) {
  if (!arg) return ERR_OK;
  auto& q = *static_cast<Queue*>(arg);
  q.connecting = false;
  q.connected = true;
  q.events->notify_all();
  return ERR_OK;
}

err_t LwipModule::tcp_recv_cb(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
  if (!arg) {
    // Not reached: closing a queue removes this callback first. Behave as lwIP's default.
    return tcp_recv_null(nullptr, pcb, p, err);
  }
  auto& q = *static_cast<Queue*>(arg);
  if (!p) {
    q.fin = true;  // the peer closed its side: pops now end with zero bytes
  } else {
    q.rx.push_back(p);
    q.rx_bytes += p->tot_len;
  }
  q.events->notify_all();
  return ERR_OK;
}

err_t LwipModule::tcp_sent_cb(void* arg, tcp_pcb*, u16_t) {
  if (arg) static_cast<Queue*>(arg)->events->notify_all();  // room in the send buffer
  return ERR_OK;
}

void LwipModule::tcp_err_cb(void* arg, err_t err) {
  if (!arg) return;
  auto& q = *static_cast<Queue*>(arg);
  q.tcp = nullptr;  // lwIP has freed the PCB
  switch (err) {
    case ERR_RST: q.error = q.connecting ? ECONNREFUSED : ECONNRESET; break;
    case ERR_ABRT: q.error = ETIMEDOUT; break;
    case ERR_CLSD: q.fin = true; break;
    default: q.error = errno_of(err); break;
  }
  DEMI_DEBUG(kLog, "queue {}: connection ended: {}", q.id, q.error ? std::strerror(q.error) : "closed");
  q.connecting = false;
  q.events->notify_all();
}

// ---------------------------------------------------------------- control

Result<QueueId> LwipModule::stream_socket() {
  tcp_pcb* pcb = ::tcp_new_ip_type(IPADDR_TYPE_V4);
  if (!pcb) {
    DEMI_WARN(kLog, "socket: lwIP has no memory for a TCP PCB");
    return Error{ENOMEM};
  }
  ::tcp_bind_netif(pcb, &netif_);
  const QueueId id = add_queue(Kind::Tcp);
  Queue& q = *queues_[id];
  q.tcp = pcb;
  tcp_watch(q, pcb);
  return id;
}

int LwipModule::stream_listen(Queue& queue, int backlog) {
  if (queue.listening) {
    queue.backlog_max = std::clamp(backlog, 1, config_.backlog_max);
    return 0;
  }
  if (!queue.tcp || queue.tcp->state != CLOSED) return EINVAL;
  if (queue.tcp->local_port == 0) {
    // Not bound: an ephemeral port on this module's address, as Linux does.
    const ip_addr_t ip = IPADDR4_INIT(config_.address.addr);
    ip_set_option(queue.tcp, SOF_REUSEADDR);
    if (err_t e = ::tcp_bind(queue.tcp, &ip, 0); e != ERR_OK) return errno_of(e);
  }
  err_t e = ERR_OK;
  tcp_unwatch(queue.tcp);
  tcp_pcb* lpcb = ::tcp_listen_with_backlog_and_err(queue.tcp, TCP_DEFAULT_LISTEN_BACKLOG, &e);
  if (!lpcb) {
    tcp_watch(queue, queue.tcp);  // the PCB is unchanged
    DEMI_WARN(kLog, "listen: lwIP refused ({})", static_cast<int>(e));
    return errno_of(e);
  }
  // lwIP replaced the PCB with a smaller listening one and freed the old.
  queue.tcp = lpcb;
  queue.listening = true;
  queue.backlog_max = std::clamp(backlog, 1, config_.backlog_max);
  ::tcp_arg(lpcb, &queue);
  ::tcp_accept(lpcb, tcp_accept_cb);
  return 0;
}

int LwipModule::stream_accept(QueueId q, Completion done) {
  if (!queues_[q]->listening) {
    DEMI_DEBUG(kLog, "accept: queue {} is not listening", q);
    return EINVAL;
  }
  host_->scheduler().spawn(stream_accept_op(QueueRef{this, q}, done));
  return 0;
}

int LwipModule::stream_connect(QueueId q, const sockaddr_in& a, Completion done) {
  Queue& queue = *queues_[q];
  if (queue.listening) return EINVAL;
  if (queue.connecting) return EALREADY;
  if (queue.connected) return EISCONN;
  if (!queue.tcp) return queue.error ? queue.error : EINVAL;
  const ip_addr_t ip = IPADDR4_INIT(a.sin_addr.s_addr);
  switch (err_t e = ::tcp_connect(queue.tcp, &ip, ntohs(a.sin_port), tcp_connected_cb)) {
    case ERR_OK: break;
    case ERR_RTE:
      // No route to the destination: the operation started and fails, as a later failure would.
      done.fail(EHOSTUNREACH);
      return 0;
    default: DEMI_DEBUG(kLog, "connect: queue {}: lwIP answered {}", q, static_cast<int>(e)); return errno_of(e);
  }
  queue.connecting = true;
  host_->scheduler().spawn(stream_connect_op(QueueRef{this, q}, done));
  return 0;
}

int LwipModule::stream_setsockopt(Queue& queue, int level, int optname, const void* val, socklen_t len) {
  int v = 0;
  // A listening PCB is a smaller structure without the connection's flags: options are only
  // recorded there (and TCP_NODELAY passed on to accepted connections).
  tcp_pcb* pcb = queue.listening ? nullptr : queue.tcp;
  if (level == IPPROTO_TCP && optname == TCP_NODELAY) {
    if (!read_int(val, len, &v)) return EINVAL;
    queue.nodelay = v != 0;
    if (pcb) {
      if (queue.nodelay) tcp_nagle_disable(pcb);
      else tcp_nagle_enable(pcb);
    }
    return 0;
  }
  if (level != SOL_SOCKET) return ENOPROTOOPT;
  switch (optname) {
    case SO_KEEPALIVE:
      if (!read_int(val, len, &v)) return EINVAL;
      queue.keepalive = v != 0;
      if (pcb) {
        if (queue.keepalive) ip_set_option(pcb, SOF_KEEPALIVE);
        else ip_reset_option(pcb, SOF_KEEPALIVE);
      }
      return 0;
    case SO_LINGER: {
      if (len < static_cast<socklen_t>(sizeof(linger))) return EINVAL;
      linger l{};
      std::memcpy(&l, val, sizeof l);
      if (l.l_onoff && l.l_linger < 0) return EINVAL;
      // Only "linger 0" changes anything here: close then aborts (RST). lwIP's close never
      // blocks, so a positive linger time behaves as the default graceful close.
      queue.linger_on = l.l_onoff != 0;
      queue.linger_seconds = l.l_linger;
      return 0;
    }
    default: return ENOPROTOOPT;
  }
}

int LwipModule::stream_getsockopt(Queue& queue, int level, int optname, void* val, socklen_t* len) {
  if (level == IPPROTO_TCP && optname == TCP_NODELAY) return write_int(queue.nodelay, val, len);
  if (level != SOL_SOCKET) return ENOPROTOOPT;
  switch (optname) {
    case SO_KEEPALIVE: return write_int(queue.keepalive, val, len);
    case SO_TYPE: return write_int(SOCK_STREAM, val, len);
    case SO_ERROR: return write_int(queue.error, val, len);
    case SO_LINGER: {
      if (*len < static_cast<socklen_t>(sizeof(linger))) return EINVAL;
      linger l{queue.linger_on ? 1 : 0, queue.linger_seconds};
      std::memcpy(val, &l, sizeof l);
      *len = sizeof l;
      return 0;
    }
    default: return ENOPROTOOPT;
  }
}

void LwipModule::stream_close(Queue& queue) {
  if (queue.listening) {
    // Connections nobody accepted are reset, as Linux does when a listener closes.
    for (std::size_t i = queue.backlog_head; i < queue.backlog.size(); ++i) {
      Queue& c = *queues_[queue.backlog[i]];
      if (c.tcp) {
        tcp_unwatch(c.tcp);
        ::tcp_abort(c.tcp);
        c.tcp = nullptr;
      }
      release_queue(c);
      c.closed = true;
      c.open = false;
      free_ids_.push_back(c.id);
    }
    queue.backlog.clear();
    queue.backlog_head = 0;
    if (queue.tcp) {
      tcp_unwatch(queue.tcp);
      ::tcp_close(queue.tcp);  // a listening PCB is freed at once
    }
  } else if (queue.tcp) {
    tcp_unwatch(queue.tcp);
    // Unread data makes lwIP reset rather than close gracefully, as Linux does.
    if (queue.linger_on && queue.linger_seconds == 0) ::tcp_abort(queue.tcp);
    else if (::tcp_close(queue.tcp) != ERR_OK) ::tcp_abort(queue.tcp);  // no memory for the FIN
  }
  queue.tcp = nullptr;
  release_queue(queue);
}

// ---------------------------------------------------------------- data

int LwipModule::stream_write_some(Queue& queue, Outgoing& out) {
  tcp_pcb* pcb = queue.tcp;
  if (!pcb) return queue.error ? queue.error : EPIPE;
  bool wrote = false;
  while (!out.done()) {
    const std::span<const std::byte> part = out.parts[out.index];
    const std::size_t left = part.size() - out.offset;
    if (left == 0) {
      ++out.index;
      out.offset = 0;
      continue;
    }
    const std::size_t room = tcp_sndbuf(pcb);
    if (room == 0) break;
    const std::size_t n = std::min({left, room, std::size_t{0xFFFF}});
    const bool more = n < left || out.index + 1 < out.count;
    // Debian's lwIP copies whatever the flags say (LWIP_NETIF_TX_SINGLE_PBUF): say so.
    const err_t e = ::tcp_write(pcb, part.data() + out.offset, static_cast<u16_t>(n),
                                TCP_WRITE_FLAG_COPY | (more ? TCP_WRITE_FLAG_MORE : 0));
    if (e == ERR_MEM) {
      if (tcp_sndqueuelen(pcb) == 0) return ENOMEM;  // nothing queued, so nothing will free room
      break;                                         // the segment queue is full: wait for ACKs
    }
    if (e != ERR_OK) return e == ERR_CONN ? ENOTCONN : errno_of(e);
    wrote = true;
    out.offset += n;
  }
  if (wrote) ::tcp_output(pcb);
  return out.done() ? 0 : EAGAIN;
}

int LwipModule::stream_push(QueueId q, const Sga& sga, Completion done) {
  Queue& queue = *queues_[q];
  if (queue.listening) return ENOTCONN;
  Outgoing out;
  const std::vector<mem::BufRef>* refs = host_->sgas().segments(sga);
  for (uint32_t i = 0; i < sga.numsegs; ++i) {
    if (sga.segs[i].len == 0) continue;
    out.parts[out.count] = std::span<const std::byte>(static_cast<const std::byte*>(sga.segs[i].buf), sga.segs[i].len);
    if (refs) out.keep[out.count] = (*refs)[i].slice(0, sga.segs[i].len);
    ++out.count;
  }
  // No push waiting before this one: give lwIP what fits now.
  if (queue.push_turn == queue.push_tickets) {
    const int rc = stream_write_some(queue, out);
    if (rc == 0) {
      done.push_done(0);
      return 0;
    }
    if (rc != EAGAIN) {
      done.fail(rc);
      return 0;
    }
  }
  if (!refs) {
    // A hand-built Sga's remaining bytes, copied once: they are not ours to hold.
    std::size_t rest = 0;
    for (std::size_t i = out.index; i < out.count; ++i) rest += out.parts[i].size() - (i == out.index ? out.offset : 0);
    mem::Block* b = host_->allocator().allocate(rest);
    if (!b) return ENOMEM;
    mem::BufRef copy = mem::BufRef::adopt(b, 0, rest);
    std::size_t at = 0;
    for (std::size_t i = out.index; i < out.count; ++i) {
      const std::size_t from = i == out.index ? out.offset : 0;
      std::memcpy(copy.data() + at, out.parts[i].data() + from, out.parts[i].size() - from);
      at += out.parts[i].size() - from;
    }
    out = Outgoing{};
    out.parts[0] = std::span<const std::byte>(copy.data(), rest);
    out.keep[0] = std::move(copy);
    out.count = 1;
  }
  const uint64_t ticket = queue.push_tickets++;
  host_->scheduler().spawn(stream_push_op(QueueRef{this, q}, std::move(out), ticket, done));
  return 0;
}

std::size_t LwipModule::stream_take(Queue& queue, std::byte* dst, std::size_t n) {
  std::size_t taken = 0;
  while (taken < n && queue.rx_head < queue.rx.size()) {
    pbuf* p = queue.rx[queue.rx_head];
    const std::size_t avail = p->tot_len - queue.rx_offset;
    const std::size_t k = std::min(avail, n - taken);
    pbuf_copy_partial(p, dst + taken, static_cast<u16_t>(k), static_cast<u16_t>(queue.rx_offset));
    taken += k;
    queue.rx_offset += k;
    if (queue.rx_offset == p->tot_len) {
      pbuf_free(p);
      ++queue.rx_head;
      queue.rx_offset = 0;
    }
  }
  if (queue.rx_head == queue.rx.size()) {
    queue.rx.clear();
    queue.rx_head = 0;
  }
  queue.rx_bytes -= taken;
  // The bytes left lwIP's hands: open the window by as much.
  for (std::size_t left = taken; queue.tcp && left > 0;) {
    const auto k = static_cast<u16_t>(std::min<std::size_t>(left, 0xFFFF));
    ::tcp_recved(queue.tcp, k);
    left -= k;
  }
  return taken;
}

int LwipModule::stream_pop(QueueId q, std::size_t max_len, Completion done) {
  if (queues_[q]->listening) {
    DEMI_DEBUG(kLog, "pop: queue {} is listening; use accept", q);
    return EINVAL;
  }
  const uint64_t ticket = queues_[q]->pop_tickets++;
  host_->scheduler().spawn(stream_pop_op(QueueRef{this, q}, max_len, ticket, done));
  return 0;
}

// ---------------------------------------------------------------- operations

sched::Task LwipModule::stream_accept_op(QueueRef ref, Completion done) {
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    if (ref->backlog_head < ref->backlog.size()) {
      const QueueId id = ref->backlog[ref->backlog_head++];
      Queue& c = *queues_[id];
      // A connection reset before it was accepted is still handed out: its pop says so.
      const sockaddr_in peer = c.tcp ? peer_of(c.tcp) : sockaddr_in{};
      done.accept_done(id, peer);
      co_return;
    }
    co_await ref->events->wait();
  }
}

sched::Task LwipModule::stream_connect_op(QueueRef ref, Completion done) {
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    if (ref->connected) {
      done.connect_done(0);
      co_return;
    }
    if (ref->error || !ref->tcp) {
      DEMI_DEBUG(kLog, "connect: queue {}: {}", ref.id(), std::strerror(ref->error ? ref->error : ECONNABORTED));
      done.fail(ref->error ? ref->error : ECONNABORTED);
      co_return;
    }
    co_await ref->events->wait();
  }
}

sched::Task LwipModule::stream_push_op(QueueRef ref, Outgoing out, uint64_t ticket, Completion done) {
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    if (ref->push_turn == ticket) {
      const int rc = stream_write_some(*ref, out);
      if (rc != EAGAIN) {
        ++ref->push_turn;  // the next push may go now
        ref->events->notify_all();
        if (rc == 0) done.push_done(0);
        else done.fail(rc);
        co_return;
      }
    }
    co_await ref->events->wait();
  }
}

sched::Task LwipModule::stream_pop_op(QueueRef ref, std::size_t max_len, uint64_t ticket, Completion done) {
  const std::size_t limit = max_len == 0 ? SIZE_MAX : max_len;
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    if (ref->pop_turn == ticket && (ref->rx_bytes > 0 || ref->error || ref->fin || !ref->tcp)) {
      ++ref->pop_turn;
      ref->events->notify_all();
      if (ref->rx_bytes > 0) {
        // One copy, out of lwIP's pbufs into application memory.
        const std::size_t n = std::min(ref->rx_bytes, limit);
        auto sga = host_->sgas().allocate(host_->allocator(), std::span<const std::size_t>(&n, 1));
        if (!sga) {
          done.fail(sga.error());
          co_return;
        }
        stream_take(*ref, static_cast<std::byte*>(sga->segs[0].buf), n);
        done.pop_done(*sga);
      } else if (ref->error) {
        done.fail(ref->error);
      } else {
        auto sga = empty_sga();  // the peer closed its side
        if (sga) done.pop_done(*sga);
        else done.fail(sga.error());
      }
      co_return;
    }
    co_await ref->events->wait();
  }
}

}  // namespace demi::lwip
