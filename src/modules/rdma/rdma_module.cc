#include "modules/rdma/rdma_module.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <demi/rdma.h>

#include "base/log.h"
#include "libos/module_host.h"

namespace demi {

std::unique_ptr<Module> make_rdma_module() { return std::make_unique<rdma::RdmaModule>(); }

}  // namespace demi

namespace demi::rdma {

namespace {

constexpr const char* kLog = "rdma";

int set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return errno;
  return 0;
}

int watch(int epfd, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  return ::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

// rdma_cm reports failures as a negative errno in the event's status (or a positive transport
// code for a reject); `fallback` names the error when the status says nothing useful.
int status_errno(int status, int fallback) { return status < 0 ? -status : fallback; }

const char* state_name(int s) {
  static constexpr const char* kNames[] = {"idle",       "bound",     "listening",   "resolving",
                                           "connecting", "accepting", "established", "failed"};
  return s >= 0 && s < 8 ? kNames[s] : "?";
}

}  // namespace

RdmaModule::~RdmaModule() {
  for (auto& ep : slots_)
    if (ep) teardown(*ep);
  slots_.clear();
  for (auto& d : devices_) {
    d->memory.reset();  // deregisters every MR before the PD goes
    if (d->cq) ibv_destroy_cq(d->cq);
    if (d->channel) ibv_destroy_comp_channel(d->channel);
    if (d->pd) ibv_dealloc_pd(d->pd);
  }
  devices_.clear();
  if (device_list_) rdma_free_devices(device_list_);
  if (events_) rdma_destroy_event_channel(events_);
  if (epfd_ >= 0) ::close(epfd_);
}

int RdmaModule::attach(ModuleHost& host) {
  if (host_) {
    DEMI_ERROR(kLog, "attach: the module is already installed in a LibOS");
    return EBUSY;
  }
  const Config& c = host.config();
  cfg_.recv_buffers = static_cast<uint32_t>(c.get_int("rdma.recv_buffers"));
  cfg_.recv_buffer_size = static_cast<uint32_t>(c.get_int("rdma.recv_buffer_size"));
  cfg_.send_queue_depth = static_cast<uint32_t>(c.get_int("rdma.send_queue_depth"));
  cfg_.cq_entries = static_cast<int>(c.get_int("rdma.cq_entries"));
  cfg_.memory_bytes = static_cast<std::size_t>(c.get_int("rdma.memory_mb")) << 20;
  cfg_.mr_cache_entries = static_cast<std::size_t>(c.get_int("rdma.mr_cache_entries"));
  cfg_.resolve_timeout_ms = static_cast<int>(c.get_int("rdma.resolve_timeout_ms"));
  cfg_.max_message_bytes = static_cast<std::size_t>(c.get_int("rdma.max_message_bytes"));

  int n = 0;
  device_list_ = rdma_get_devices(&n);
  if (!device_list_ || n == 0) {
    DEMI_ERROR(kLog,
               "attach: no RDMA device on this host (librdmacm sees none). Load a driver and create a "
               "device, e.g. `modprobe rdma_rxe && rdma link add rxe0 type rxe netdev eth0` for soft-RoCE");
    if (device_list_) rdma_free_devices(std::exchange(device_list_, nullptr));
    return ENODEV;
  }
  events_ = rdma_create_event_channel();
  if (!events_) {
    int err = errno ? errno : ENODEV;
    DEMI_ERROR(kLog, "attach: rdma_create_event_channel failed: {} (is /dev/infiniband/rdma_cm there?)",
               std::strerror(err));
    return err == ENOENT ? ENODEV : err;
  }
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return errno;
  if (int err = set_nonblocking(events_->fd)) return err;
  if (int err = watch(epfd_, events_->fd)) return err;

  for (int i = 0; i < n; ++i) {
    auto d = std::make_unique<Device>();
    d->ctx = device_list_[i];
    ibv_device_attr attr{};
    if (ibv_query_device(d->ctx, &attr) == 0) d->max_sge = static_cast<uint32_t>(std::max(1, attr.max_sge));
    d->pd = ibv_alloc_pd(d->ctx);
    d->channel = d->pd ? ibv_create_comp_channel(d->ctx) : nullptr;
    int cqe = std::min(cfg_.cq_entries, attr.max_cqe > 0 ? attr.max_cqe : cfg_.cq_entries);
    d->cq = d->channel ? ibv_create_cq(d->ctx, cqe, nullptr, d->channel, 0) : nullptr;
    if (!d->cq) {
      int err = errno ? errno : ENOMEM;
      DEMI_ERROR(kLog, "attach: device {}: cannot allocate a protection domain, channel or CQ: {}",
                 ibv_get_device_name(d->ctx->device), std::strerror(err));
      devices_.push_back(std::move(d));
      return err;
    }
    if (int err = set_nonblocking(d->channel->fd)) return err;
    if (int err = watch(epfd_, d->channel->fd)) return err;
    d->memory = std::make_unique<MemoryRegistry>(d->pd, cfg_.mr_cache_entries);
    DEMI_INFO(kLog, "device {}: max_sge {}, CQ of {} entries", ibv_get_device_name(d->ctx->device), d->max_sge, cqe);
    devices_.push_back(std::move(d));
  }

  // Memory regime 1 (memory.h): our own registered region as the LibOS allocator.
  if (cfg_.memory_bytes > 0 && host.allocator().name() == "heap" && host.sgas().live() == 0) {
    auto region = RegisteredRegion::map(cfg_.memory_bytes);
    int err = region ? 0 : errno;
    for (auto& d : devices_) {
      if (err) break;
      err = d->memory->register_region(*region);
    }
    if (err == 0) {
      region_ = region.get();
      host.set_allocator(std::move(region));
      DEMI_INFO(kLog, "application memory: a {} MiB region registered once with {} device(s)",
                cfg_.memory_bytes >> 20, devices_.size());
    } else {
      for (auto& d : devices_) d->memory = std::make_unique<MemoryRegistry>(d->pd, cfg_.mr_cache_entries);
      DEMI_WARN(kLog, "cannot register a {} MiB region ({}): registering blocks one by one instead",
                cfg_.memory_bytes >> 20, std::strerror(err));
    }
  } else {
    DEMI_INFO(kLog, "application memory: allocator '{}', blocks registered lazily (cache of {})",
              host.allocator().name(), cfg_.mr_cache_entries);
  }
  host_ = &host;
  return 0;
}

bool RdmaModule::region_registered() const {
  return region_ && host_ && &host_->allocator() == region_;
}

std::size_t RdmaModule::registrations() const {
  std::size_t n = 0;
  for (const auto& d : devices_) n += d->memory->registrations();
  return n;
}

RdmaModule::Device* RdmaModule::device_of(ibv_context* ctx) {
  for (auto& d : devices_)
    if (d->ctx == ctx) return d.get();
  return nullptr;
}

// ---------------------------------------------------------------- queues

Result<QueueId> RdmaModule::add_endpoint(rdma_cm_id* cm, State state) {
  QueueId q;
  if (!free_ids_.empty()) {
    q = free_ids_.back();
    free_ids_.pop_back();
  } else {
    q = static_cast<QueueId>(slots_.size());
    slots_.emplace_back();
  }
  auto ep = std::make_unique<Endpoint>(host_->scheduler());
  ep->id = q;
  ep->cm = cm;
  ep->state = state;
  cm->context = ep.get();
  slots_[q] = std::move(ep);
  return q;
}

RdmaModule::Endpoint* RdmaModule::open_endpoint(QueueId q, const char* call) {
  if (q >= slots_.size() || !slots_[q] || slots_[q]->closed) {
    DEMI_DEBUG(kLog, "{}: queue {} is not open", call, q);
    return nullptr;
  }
  return slots_[q].get();
}

void RdmaModule::unref(Endpoint& ep) {
  if (--ep.ops == 0 && ep.closed) free_slot(ep.id);
}

void RdmaModule::free_slot(QueueId q) {
  slots_[q].reset();
  free_ids_.push_back(q);
}

Result<QueueId> RdmaModule::socket(int domain, int type, int protocol) {
  if (domain != AF_INET) {
    DEMI_DEBUG(kLog, "socket: only AF_INET is supported");
    return Error{EAFNOSUPPORT};
  }
  if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != SOCK_STREAM) {
    DEMI_DEBUG(kLog, "socket: only SOCK_STREAM (reliable connected) queues are supported");
    return Error{EPROTONOSUPPORT};
  }
  if (protocol != 0 && protocol != IPPROTO_TCP) return Error{EPROTONOSUPPORT};
  if (!events_) {
    DEMI_ERROR(kLog, "socket: the module has no RDMA device (it failed to attach)");
    return Error{ENODEV};
  }
  rdma_cm_id* cm = nullptr;
  if (rdma_create_id(events_, &cm, nullptr, RDMA_PS_TCP) != 0) {
    int err = errno;
    DEMI_ERROR(kLog, "socket: rdma_create_id failed: {}", std::strerror(err));
    return Error{err};
  }
  return add_endpoint(cm, State::Idle);
}

namespace {
int check_inet(const sockaddr* addr, socklen_t len) {
  if (!addr || len < static_cast<socklen_t>(sizeof(sockaddr_in))) return EINVAL;
  if (addr->sa_family != AF_INET) return EAFNOSUPPORT;
  return 0;
}
}  // namespace

int RdmaModule::bind(QueueId q, const sockaddr* addr, socklen_t len) {
  Endpoint* ep = open_endpoint(q, "bind");
  if (!ep) return EBADF;
  if (int err = check_inet(addr, len)) return err;
  if (ep->state != State::Idle) return EINVAL;
  sockaddr_in sin{};
  std::memcpy(&sin, addr, sizeof sin);
  if (rdma_bind_addr(ep->cm, reinterpret_cast<sockaddr*>(&sin)) != 0) {
    int err = errno;
    char ip[INET_ADDRSTRLEN] = "?";
    ::inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof ip);
    DEMI_DEBUG(kLog, "bind: {}:{}: {}", ip, ntohs(sin.sin_port), std::strerror(err));
    // rdma_cm answers ENODEV for an address that no RDMA device carries.
    return err;
  }
  ep->state = State::Bound;
  return 0;
}

int RdmaModule::listen(QueueId q, int backlog) {
  Endpoint* ep = open_endpoint(q, "listen");
  if (!ep) return EBADF;
  if (ep->state == State::Idle) {
    sockaddr_in any{};
    any.sin_family = AF_INET;
    if (int err = bind(q, reinterpret_cast<sockaddr*>(&any), sizeof any)) return err;
  }
  if (ep->state != State::Bound) return EINVAL;
  if (rdma_listen(ep->cm, std::clamp(backlog, 1, 4096)) != 0) return errno;
  ep->state = State::Listening;
  return 0;
}

int RdmaModule::accept(QueueId q, Completion done) {
  Endpoint* ep = open_endpoint(q, "accept");
  if (!ep) return EBADF;
  if (ep->state != State::Listening) return EINVAL;
  host_->scheduler().spawn(accept_op(EndpointRef{this, ep}, done));
  return 0;
}

int RdmaModule::connect(QueueId q, const sockaddr* addr, socklen_t len, Completion done) {
  Endpoint* ep = open_endpoint(q, "connect");
  if (!ep) return EBADF;
  if (int err = check_inet(addr, len)) return err;
  if (ep->state == State::Resolving || ep->state == State::Connecting) return EALREADY;
  if (ep->state == State::Established) return EISCONN;
  if (ep->state != State::Idle && ep->state != State::Bound) return EINVAL;
  sockaddr_in dst{};
  std::memcpy(&dst, addr, sizeof dst);
  ep->state = State::Resolving;
  if (rdma_resolve_addr(ep->cm, nullptr, reinterpret_cast<sockaddr*>(&dst), cfg_.resolve_timeout_ms) != 0)
    fail(*ep, errno ? errno : EHOSTUNREACH, "rdma_resolve_addr");  // reported in the qresult
  host_->scheduler().spawn(connect_op(EndpointRef{this, ep}, done));
  return 0;
}

int RdmaModule::getsockname(QueueId q, sockaddr* addr, socklen_t* len) {
  Endpoint* ep = open_endpoint(q, "getsockname");
  if (!ep) return EBADF;
  if (!addr || !len) return EINVAL;
  sockaddr* a = rdma_get_local_addr(ep->cm);
  std::memcpy(addr, a, std::min<std::size_t>(*len, sizeof(sockaddr_in)));
  *len = sizeof(sockaddr_in);
  return 0;
}

int RdmaModule::getpeername(QueueId q, sockaddr* addr, socklen_t* len) {
  Endpoint* ep = open_endpoint(q, "getpeername");
  if (!ep) return EBADF;
  if (!addr || !len) return EINVAL;
  if (ep->state != State::Established && !ep->peer_left) return ENOTCONN;
  sockaddr* a = rdma_get_peer_addr(ep->cm);
  std::memcpy(addr, a, std::min<std::size_t>(*len, sizeof(sockaddr_in)));
  *len = sizeof(sockaddr_in);
  return 0;
}

int RdmaModule::push(QueueId q, const Sga& sga, Completion done) {
  Endpoint* ep = open_endpoint(q, "push");
  if (!ep) return EBADF;
  if (ep->state == State::Listening) return EINVAL;
  if (ep->state != State::Established && ep->state != State::Failed) return ENOTCONN;
  if (sga.length() > cfg_.max_message_bytes) {
    DEMI_DEBUG(kLog, "push: {} bytes is more than rdma.max_message_bytes ({})", sga.length(), cfg_.max_message_bytes);
    return EMSGSIZE;
  }
  PushRequest req;
  req.sga = sga;
  if (ep->state == State::Established)
    if (int err = prepare_push(*ep, req)) return err;
  host_->scheduler().spawn(push_op(EndpointRef{this, ep}, std::move(req), done));
  return 0;
}

int RdmaModule::pop(QueueId q, std::size_t, Completion done) {
  Endpoint* ep = open_endpoint(q, "pop");
  if (!ep) return EBADF;
  if (ep->state == State::Listening) return EINVAL;
  if (ep->state != State::Established && ep->state != State::Failed) return ENOTCONN;
  host_->scheduler().spawn(pop_op(EndpointRef{this, ep}, done));
  return 0;
}

int RdmaModule::close(QueueId q) {
  Endpoint* ep = open_endpoint(q, "close");
  if (!ep) return EBADF;
  ep->closed = true;
  if (ep->state == State::Listening) {
    // Connections nobody accepted yet go with their listener.
    for (auto& s : slots_)
      if (s && s.get() != ep && s->listener == ep) {
        s->listener = nullptr;
        close(s->id);
      }
    ep->backlog.clear();
  }
  teardown(*ep);
  ep->changed.notify_all();
  if (ep->ops == 0) free_slot(q);
  return 0;
}

// ---------------------------------------------------------------- connection set-up

int RdmaModule::setup_qp(Endpoint& ep) {
  ep.dev = device_of(ep.cm->verbs);
  if (!ep.dev) {
    DEMI_ERROR(kLog, "queue {}: the connection is on a device that appeared after attach", ep.id);
    return ENODEV;
  }
  ibv_qp_init_attr attr{};
  attr.send_cq = ep.dev->cq;
  attr.recv_cq = ep.dev->cq;
  attr.qp_type = IBV_QPT_RC;
  attr.cap.max_send_wr = cfg_.send_queue_depth;
  attr.cap.max_recv_wr = cfg_.recv_buffers;
  attr.cap.max_send_sge = std::min<uint32_t>(FragmentCursor::kMaxPieces, ep.dev->max_sge);
  attr.cap.max_recv_sge = 1;
  if (rdma_create_qp(ep.cm, ep.dev->pd, &attr) != 0) {
    int err = errno;
    DEMI_ERROR(kLog, "queue {}: rdma_create_qp failed: {}", ep.id, std::strerror(err));
    return err;
  }
  ep.qp = ep.cm->qp;
  ep.sq_depth = attr.cap.max_send_wr;
  by_qp_[ep.qp->qp_num] = &ep;
  ep.recv_slots.resize(cfg_.recv_buffers);
  ep.recv_free.clear();
  for (uint32_t i = cfg_.recv_buffers; i > 0; --i) ep.recv_free.push_back(i - 1);
  ep.send_slots.resize(ep.sq_depth);
  ep.send_free.clear();
  for (uint32_t i = ep.sq_depth; i > 0; --i) ep.send_free.push_back(i - 1);
  // The whole window is posted before the peer hears of it (in our WindowAnnouncement).
  if (int err = refill(ep, false)) return err;
  if (ep.posted < cfg_.recv_buffers) return ENOMEM;
  return 0;
}

void RdmaModule::establish(Endpoint& ep, const WindowAnnouncement& peer) {
  ep.credits = CreditState(cfg_.recv_buffers, peer.credits);
  ep.frag_size = peer.buffer_size;
  ep.state = State::Established;
  DEMI_DEBUG(kLog, "queue {}: established; {} credits of {} bytes", ep.id, peer.credits, peer.buffer_size);
}

void RdmaModule::fail(Endpoint& ep, int err, const char* why) {
  if (ep.state == State::Failed) return;
  DEMI_DEBUG(kLog, "queue {}: {} -> failed ({}: {})", ep.id, state_name(static_cast<int>(ep.state)), why,
             std::strerror(err));
  ep.state = State::Failed;
  ep.error = err;
  for (PushRequest* r : ep.txq) {
    r->finished = true;
    r->result = err;
  }
  ep.txq.clear();
  for (SendSlot& s : ep.send_slots) {
    if (s.req && !s.req->finished) {
      s.req->finished = true;
      s.req->result = err;
    }
    s.req = nullptr;
  }
  ep.changed.notify_all();
  if (ep.listener) {
    // A connection that failed before anyone accepted it: nobody will ever see it.
    ep.listener = nullptr;
    ep.closed = true;
    teardown(ep);
    if (ep.ops == 0) free_slot(ep.id);
  }
}

void RdmaModule::teardown(Endpoint& ep) {
  if (!ep.cm) return;
  if (ep.state == State::Established) rdma_disconnect(ep.cm);
  if (ep.qp) {
    // Completions already queued for this QP are handled now, while its number still maps here:
    // once destroyed, the number may be given to a new QP.
    drain_cq(*ep.dev);
    by_qp_.erase(ep.qp->qp_num);
    rdma_destroy_qp(ep.cm);
    ep.qp = nullptr;
  }
  int err = ep.closed ? ECANCELED : (ep.error ? ep.error : ECANCELED);
  for (PushRequest* r : ep.txq) {
    r->finished = true;
    r->result = err;
  }
  ep.txq.clear();
  for (SendSlot& s : ep.send_slots) {
    if (s.req && !s.req->finished) {
      s.req->finished = true;
      s.req->result = err;
    }
    s.req = nullptr;
  }
  ep.recv_slots.clear();
  ep.posted = 0;
  rdma_destroy_id(ep.cm);
  ep.cm = nullptr;
  if (ep.state != State::Failed) {
    ep.state = State::Failed;
    ep.error = err;
  }
}

bool RdmaModule::poll_cm() {
  bool progress = false;
  for (;;) {
    rdma_cm_event* ev = nullptr;
    if (rdma_get_cm_event(events_, &ev) != 0) break;  // EAGAIN: the channel is empty
    progress = true;
    // Copy what we need and acknowledge at once: rdma_destroy_id waits for every event of its
    // id to be acknowledged, and handling may destroy ids.
    rdma_cm_event_type type = ev->event;
    rdma_cm_id* id = ev->id;
    rdma_cm_id* listen_id = ev->listen_id;
    int status = ev->status;
    std::array<uint8_t, 64> pd{};
    std::size_t pd_len = 0;
    if (ev->param.conn.private_data && ev->param.conn.private_data_len > 0) {
      pd_len = std::min<std::size_t>(pd.size(), ev->param.conn.private_data_len);
      std::memcpy(pd.data(), ev->param.conn.private_data, pd_len);
    }
    rdma_ack_cm_event(ev);
    on_cm_event(type, id, listen_id, status, std::span<const uint8_t>(pd.data(), pd_len));
  }
  return progress;
}

void RdmaModule::on_cm_event(rdma_cm_event_type type, rdma_cm_id* id, rdma_cm_id* listen_id, int status,
                             std::span<const uint8_t> private_data) {
  DEMI_TRACE(kLog, "cm event {} (status {})", rdma_event_str(type), status);
  if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
    auto* listener = listen_id ? static_cast<Endpoint*>(listen_id->context) : nullptr;
    if (!listener || listener->closed || listener->state != State::Listening) {
      rdma_reject(id, nullptr, 0);
      rdma_destroy_id(id);
      return;
    }
    on_connect_request(*listener, id, private_data);
    return;
  }
  auto* ep = id ? static_cast<Endpoint*>(id->context) : nullptr;
  if (!ep || ep->closed) return;
  switch (type) {
    case RDMA_CM_EVENT_ADDR_RESOLVED:
      if (rdma_resolve_route(ep->cm, cfg_.resolve_timeout_ms) != 0) fail(*ep, errno, "rdma_resolve_route");
      break;
    case RDMA_CM_EVENT_ROUTE_RESOLVED: {
      if (int err = setup_qp(*ep)) {
        fail(*ep, err, "queue pair set-up");
        break;
      }
      auto window = WindowAnnouncement{static_cast<uint16_t>(cfg_.recv_buffers), cfg_.recv_buffer_size}.encode();
      rdma_conn_param p{};
      p.private_data = window.data();
      p.private_data_len = static_cast<uint8_t>(window.size());
      p.responder_resources = 0;
      p.initiator_depth = 0;
      p.retry_count = 7;
      p.rnr_retry_count = 7;  // never reached while credits hold; "infinite" if a peer misbehaves
      ep->state = State::Connecting;
      if (rdma_connect(ep->cm, &p) != 0) fail(*ep, errno, "rdma_connect");
      break;
    }
    case RDMA_CM_EVENT_ESTABLISHED:
      if (ep->state == State::Connecting) {
        auto w = WindowAnnouncement::decode(private_data);
        if (!w) {
          fail(*ep, EPROTO, "the peer is not a demi rdma endpoint (no window announcement)");
          break;
        }
        establish(*ep, *w);
        ep->changed.notify_all();
      } else if (ep->state == State::Accepting) {
        ep->state = State::Established;
        try_send(*ep);  // credits owed for data that arrived before this event
        if (ep->listener) {
          ep->listener->backlog.push_back(ep->id);
          ep->listener->changed.notify_all();
        }
      }
      break;
    case RDMA_CM_EVENT_ADDR_ERROR:
      fail(*ep, status_errno(status, EHOSTUNREACH), "address resolution");
      break;
    case RDMA_CM_EVENT_ROUTE_ERROR:
      fail(*ep, status_errno(status, ENETUNREACH), "route resolution");
      break;
    case RDMA_CM_EVENT_UNREACHABLE:
      fail(*ep, status_errno(status, ETIMEDOUT), "the peer is unreachable");
      break;
    case RDMA_CM_EVENT_REJECTED:
      // A positive status is the transport's reject reason (nobody listens on that port, or the
      // listener refused): a refused connection either way.
      fail(*ep, ECONNREFUSED, "connection rejected");
      break;
    case RDMA_CM_EVENT_CONNECT_ERROR:
      fail(*ep, status_errno(status, ECONNREFUSED), "connection error");
      break;
    case RDMA_CM_EVENT_DISCONNECTED:
      // Receives that completed before the disconnect are delivered first.
      if (ep->dev) drain_cq(*ep->dev);
      ep->peer_left = true;
      if (ep->state == State::Established) rdma_disconnect(ep->cm);
      fail(*ep, ECONNRESET, "the peer left");
      break;
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
      fail(*ep, ENODEV, "the device was removed");
      break;
    default:
      break;  // TIMEWAIT_EXIT, ADDR_CHANGE, ...: nothing to do
  }
}

void RdmaModule::on_connect_request(Endpoint& listener, rdma_cm_id* child, std::span<const uint8_t> private_data) {
  auto w = WindowAnnouncement::decode(private_data);
  if (!w) {
    DEMI_WARN(kLog, "listener {}: a connection request without a demi window announcement; rejected", listener.id);
    rdma_reject(child, nullptr, 0);
    rdma_destroy_id(child);
    return;
  }
  auto q = add_endpoint(child, State::Accepting);
  Endpoint& ep = *slots_[*q];
  ep.listener = &listener;
  int err = setup_qp(ep);
  if (err == 0) {
    establish(ep, *w);
    ep.state = State::Accepting;  // established for the data path once rdma_cm says so
    auto window = WindowAnnouncement{static_cast<uint16_t>(cfg_.recv_buffers), cfg_.recv_buffer_size}.encode();
    rdma_conn_param p{};
    p.private_data = window.data();
    p.private_data_len = static_cast<uint8_t>(window.size());
    p.retry_count = 7;
    p.rnr_retry_count = 7;
    if (rdma_accept(child, &p) != 0) err = errno;
  }
  if (err) {
    DEMI_WARN(kLog, "listener {}: cannot accept a connection: {}", listener.id, std::strerror(err));
    rdma_reject(child, nullptr, 0);
    ep.listener = nullptr;
    ep.closed = true;
    teardown(ep);
    free_slot(ep.id);
  }
}

bool RdmaModule::poll() {
  if (!host_) return false;
  bool progress = poll_cm();
  for (auto& d : devices_) progress |= poll_device(*d);
  if (refill_pending_) {
    refill_pending_ = false;
    for (auto& ep : slots_)
      if (ep && ep->state == State::Established && ep->posted < cfg_.recv_buffers) {
        refill(*ep, true);
        try_send(*ep);
      }
  }
  return progress;
}

}  // namespace demi::rdma
