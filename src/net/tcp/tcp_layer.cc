#include "net/tcp/tcp_layer.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

namespace demi::net::tcp {

namespace {
constexpr const char* kLog = "tcp";
// Payloads this small are copied behind the header: cheaper than attaching a reference.
constexpr std::size_t kCopyThreshold = 128;
}  // namespace

// Every public entry point holds one of these: connections closed while the layer is busy are
// deleted when the outermost call returns, never under a connection's own feet.
class TcpLayer::Busy {
 public:
  explicit Busy(TcpLayer& l) : l_(l) { ++l_.depth_; }
  ~Busy() {
    if (--l_.depth_ == 0) l_.reap();
  }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  TcpLayer& l_;
};

TcpLayer::TcpLayer(sched::Scheduler& sched, IpOutput& ip, const TcpConfig& config)
    : sched_(sched),
      ip_(ip),
      config_(config),
      isn_(config.isn_secret),
      // The cookie key is the ISN secret hashed once more: related, never equal.
      cookies_(SipKey{config.isn_secret.k0 ^ 0x5a5a5a5a5a5a5a5aull, config.isn_secret.k1 + 0x636f6f6b6965ull}),
      cc_factory_([hystart = config.hystart](std::string_view name, uint32_t mss, sched::Instant now) {
        return make_congestion_control(name, mss, now, CongestionOptions{.hystart = hystart});
      }),
      next_ephemeral_(config.ephemeral_first),
      reap_timer_(sched,
                  [this] {
                    if (depth_ == 0) reap();
                  }),
      no_events_(sched) {
  if (config_.ephemeral_last < config_.ephemeral_first) std::swap(config_.ephemeral_first, config_.ephemeral_last);
  // Start the ephemeral search at a point that differs between hosts (RFC 6056 would pick at
  // random; a function of the address and the secret keeps simulations deterministic).
  const uint32_t range = static_cast<uint32_t>(config_.ephemeral_last - config_.ephemeral_first) + 1;
  const uint64_t h = SipMessage{}.u32(ip_.local_address().to_u32()).hash(config_.isn_secret);
  next_ephemeral_ = static_cast<uint16_t>(config_.ephemeral_first + h % range);
}

TcpLayer::~TcpLayer() {
  // Connections first (their timers and wait queues), then the tables that point at them.
  connections_.clear();
  listeners_.clear();
  sockets_.clear();
}

// ================================================================ receiving

void TcpLayer::receive(const Ipv4Packet& ip, Payload payload, uint32_t rx_flags) {
  if (payload.empty()) {
    ++counters_.rx_segments;
    ++counters_.drop_truncated;
    return;
  }
  if (rx_flags & runtime::kRxL4ChecksumBad) {
    ++counters_.rx_segments;
    ++counters_.drop_bad_checksum;
    return;
  }
  const bool verified = (rx_flags & runtime::kRxL4ChecksumGood) != 0;
  if (ip.broadcast) {
    ++counters_.rx_segments;
    ++counters_.drop_bad_address;
    return;
  }
  if (payload.size() == 1) {
    receive(ip.repr, std::move(payload[0]), verified);
    return;
  }
  // A reassembled segment: one buffer is what the connection's queues hold, so copy the pieces
  // into one (rare: TCP sends segments that fit the MTU).
  const std::size_t total = payload_length(payload);
  mem::BufRef one = ip_.alloc_header(0);
  if (!one || one.tailroom() < total) {
    ++counters_.rx_segments;
    ++counters_.drop_fragmented;
    return;
  }
  std::size_t at = 0;
  for (const mem::BufRef& p : payload) {
    if (p.size() > 0) std::memcpy(one.data() + at, p.data(), p.size());
    at += p.size();
  }
  one.set_length(total);
  receive(ip.repr, std::move(one), verified);
}

void TcpLayer::receive(const wire::Ipv4Repr& ip, mem::BufRef segment, bool checksum_verified) {
  Busy busy(*this);
  ++counters_.rx_segments;
  wire::WireError err{};
  auto repr = wire::TcpRepr::parse(segment.bytes(), ip.src_addr, ip.dst_addr, !checksum_verified, &err);
  if (!repr) {
    switch (err) {
      case wire::WireError::BadChecksum:
        ++counters_.drop_bad_checksum;
        break;
      case wire::WireError::BadHeaderLength:
        ++counters_.drop_bad_offset;
        break;
      case wire::WireError::BadOption:
        ++counters_.drop_bad_options;
        break;
      default:
        ++counters_.drop_truncated;
        break;
    }
    DEMI_TRACE(kLog, "drop from {}: {}", ip.src_addr, wire::wire_error_name(err));
    return;
  }
  // RFC 1122 4.2.3.10, RFC 9293 3.9.1: nothing to or from a broadcast or multicast address.
  if (!ip.src_addr.is_unicast() || !ip.dst_addr.is_unicast() || repr->src_port == 0 || repr->dst_port == 0) {
    ++counters_.drop_bad_address;
    return;
  }
  TcpSegment seg;
  seg.src = ip.src_addr;
  seg.dst = ip.dst_addr;
  seg.h = *repr;
  if (repr->payload_len > 0) {
    segment.trim_front(repr->header_len);
    seg.payload = std::move(segment);
  }
  const FourTuple t{ip.dst_addr, repr->dst_port, ip.src_addr, repr->src_port};
  if (auto it = connections_.find(t); it != connections_.end()) {
    it->second->on_segment(seg);
    return;
  }
  if (TcpConnection* l = listener_for(ip.dst_addr, repr->dst_port)) {
    l->on_segment(seg);
    return;
  }
  ++counters_.drop_no_connection;
  reply_reset(seg);
}

// RFC 9293 3.10.7.1: a segment for no connection is answered with a RST (unless it is one).
void TcpLayer::reply_reset(const TcpSegment& seg) {
  if (seg.has(kRst)) return;
  TcpRepr r;
  r.src_port = seg.h.dst_port;
  r.dst_port = seg.h.src_port;
  if (seg.has(kAck)) {
    r.seq = seg.h.ack;
    r.flags = kRst;
  } else {
    r.seq = SeqNumber{0};
    r.ack = seg.h.seq + seg.seg_len();
    r.flags = kRst | kAck;
  }
  uint32_t len = 0;
  DEMI_TRACE(kLog, "RST to {}:{} seq {}", seg.src, seg.h.src_port, r.seq.raw());
  emit(seg.dst, seg.src, r, nullptr, 0, len);
  ++counters_.rsts_sent;
}

void TcpLayer::icmp_error(const IcmpError& err) {
  Busy busy(*this);
  // RFC 5461 / RFC 1122 4.2.3.9: a hard error aborts a connection still in SYN-SENT; in other
  // states ICMP errors are soft and ignored. RFC 5927: the quoted sequence number must be one we
  // have outstanding.
  if (err.transport.size() < 8) return;
  const uint16_t sport = wire::load_be16(err.transport, 0);
  const uint16_t dport = wire::load_be16(err.transport, 2);
  const SeqNumber seq{wire::load_be32(err.transport, 4)};
  const FourTuple t{err.original.src_addr, sport, err.original.dst_addr, dport};
  auto it = connections_.find(t);
  if (it == connections_.end()) return;
  TcpConnection& c = *it->second;
  if (err.error == EMSGSIZE && err.next_hop_mtu > 0) {
    // RFC 1191 path MTU discovery, checked as RFC 5927 5.1 asks: the quoted sequence number
    // must be outstanding. Later segments (and retransmissions, cut afresh) use the smaller MSS.
    if (is_synchronized(c.state_) && seq >= c.snd_una_ && seq < c.snd_max_) c.path_mtu_changed(err.next_hop_mtu);
    return;
  }
  if (c.state_ != TcpState::SynSent || seq != c.iss_) return;
  if (err.error != ECONNREFUSED && err.error != EHOSTUNREACH && err.error != ENETUNREACH) return;
  ++counters_.connections_unreachable;
  c.enter_closed(TransitionCause::Unreachable, err.error);
}

void TcpLayer::host_unreachable(wire::Ipv4Address dst) {
  Busy busy(*this);
  std::vector<TcpConnection*> failing;
  for (auto& [t, c] : connections_)
    if (c->state_ == TcpState::SynSent && t.remote_addr == dst) failing.push_back(c);
  for (TcpConnection* c : failing) {
    DEMI_DEBUG(kLog, "[{}] {} unreachable", c->id_, dst);
    ++counters_.connections_unreachable;
    c->enter_closed(TransitionCause::Unreachable, EHOSTUNREACH);
  }
}

// ================================================================ sending

int TcpLayer::emit(wire::Ipv4Address src, wire::Ipv4Address dst, TcpRepr& h, const SendQueue* q, std::size_t offset,
                   uint32_t& len) {
  const std::size_t hl = h.emitted_header_len();
  mem::BufRef head = ip_.alloc_header(hl);
  if (!head) {
    ++counters_.tx_no_buffer;
    return ENOBUFS;
  }
  head.prepend(hl);
  runtime::TxFrame frame;
  std::size_t copied = 0;
  if (len > 0 && q) {
    const std::size_t pieces = q->count_pieces(offset, len);
    bool copy = pieces > runtime::kMaxPayloadSegments || len <= kCopyThreshold;
    if (copy && head.tailroom() < len) {
      copy = false;
      if (pieces > runtime::kMaxPayloadSegments) {
        // Too many pieces to attach and too many bytes to copy: send what the first pieces hold.
        const std::size_t n = q->span_of_pieces(offset, len, runtime::kMaxPayloadSegments);
        len = static_cast<uint32_t>(n);
        h.flags = static_cast<uint8_t>(h.flags & ~kFin);
      }
    }
    if (copy) {
      q->copy_out(offset, std::span<std::byte>(head.data() + hl, len));
      head.set_length(hl + len);
      copied = len;
    } else {
      q->for_each_slice(offset, len, [&frame](mem::BufRef s) { frame.add_payload(std::move(s)); });
    }
  }
  h.emit(head.bytes().first(hl));
  const std::size_t tcp_length = hl + len;
  if (ip_.offload_checksum()) {
    frame.offload_l4_checksum = true;
    frame.l4_protocol = wire::kProtocolTcp;
    frame.l4_len = static_cast<uint8_t>(hl);
    TcpRepr::fill_pseudo_checksum(head.bytes(), tcp_length, src, dst);
  } else {
    std::array<std::span<const std::byte>, runtime::kMaxPayloadSegments + 1> parts;
    std::size_t n = 0;
    if (copied) parts[n++] = head.bytes().subspan(hl, copied);
    for (uint8_t i = 0; i < frame.payload_segments; ++i) parts[n++] = frame.payload[i].bytes();
    TcpRepr::fill_checksum(head.bytes(), std::span<const std::span<const std::byte>>(parts.data(), n), src, dst);
  }
  frame.head = std::move(head);
  return transmit_frame(dst, std::move(frame));
}

int TcpLayer::transmit_frame(wire::Ipv4Address dst, runtime::TxFrame frame) {
  const int rc = ip_.send(dst, wire::kProtocolTcp, std::move(frame));
  if (rc == 0) {
    ++counters_.tx_segments;
  } else {
    ++counters_.tx_errors;
  }
  return rc;
}

std::unique_ptr<CongestionControl> TcpLayer::make_cc(std::string_view name, uint32_t mss) {
  return cc_factory_ ? cc_factory_(name, mss, sched_.now()) : nullptr;
}

uint32_t TcpLayer::mss_for_mtu() const {
  const uint32_t mtu = ip_.mtu();
  uint32_t mss = mtu > 40 ? mtu - 40 : 536;
  if (config_.mss != 0) mss = std::min(mss, config_.mss);
  return std::max<uint32_t>(mss, 64);
}

// ================================================================ the tables

TcpConnection* TcpLayer::create() {
  const SocketId id = next_id_++;
  auto c = std::make_unique<TcpConnection>(*this, id, config_);
  TcpConnection* raw = c.get();
  sockets_.emplace(id, std::move(c));
  return raw;
}

TcpConnection* TcpLayer::find(SocketId s) const {
  auto it = sockets_.find(s);
  return it == sockets_.end() ? nullptr : it->second.get();
}

TcpConnection* TcpLayer::socket(SocketId s) const {
  TcpConnection* c = find(s);
  return c && c->app_owned_ ? c : nullptr;
}

TcpConnection* TcpLayer::listener_for(wire::Ipv4Address addr, uint16_t port) const {
  auto it = listeners_.find(port);
  if (it == listeners_.end()) return nullptr;
  TcpConnection* l = it->second;
  if (!l->tuple_.local_addr.is_unspecified() && l->tuple_.local_addr != addr) return nullptr;
  return l;
}

void TcpLayer::link(TcpConnection& c) {
  connections_[c.tuple_] = &c;
}

void TcpLayer::unlink(TcpConnection& c) {
  if (c.state_ == TcpState::Closed && c.tuple_.remote_port != 0) {
    auto it = connections_.find(c.tuple_);
    if (it != connections_.end() && it->second == &c) connections_.erase(it);
  }
  auto it = listeners_.find(c.tuple_.local_port);
  if (it != listeners_.end() && it->second == &c) listeners_.erase(it);
}

void TcpLayer::to_reap(TcpConnection& c) {
  if (std::find(reap_list_.begin(), reap_list_.end(), c.id_) == reap_list_.end()) reap_list_.push_back(c.id_);
  schedule_reap();
}

void TcpLayer::reap() {
  while (!reap_list_.empty()) {
    const SocketId id = reap_list_.back();
    reap_list_.pop_back();
    auto it = sockets_.find(id);
    if (it == sockets_.end()) continue;
    TcpConnection& c = *it->second;
    if (c.state_ != TcpState::Closed || c.app_owned_ || c.listener_) continue;
    release_port(c);
    DEMI_TRACE(kLog, "[{}] released", id);
    sockets_.erase(it);
  }
}

void TcpLayer::abort_children(TcpConnection& listener) {
  std::vector<TcpConnection*> children;
  for (auto& [id, c] : sockets_)
    if (c->listener_ == &listener) children.push_back(c.get());
  for (TcpConnection* c : children) c->abort_by_app();
  listener.accept_queue_.clear();
  listener.syn_queue_ = 0;
}

int TcpLayer::bind_port(TcpConnection& c, wire::Ipv4Address addr, uint16_t port) {
  if (!addr.is_unspecified() && addr != ip_.local_address()) return EADDRNOTAVAIL;
  if (port == 0) {
    const uint32_t range = static_cast<uint32_t>(config_.ephemeral_last - config_.ephemeral_first) + 1;
    for (uint32_t i = 0; i < range; ++i) {
      const uint16_t p = next_ephemeral_;
      next_ephemeral_ = p == config_.ephemeral_last ? config_.ephemeral_first : static_cast<uint16_t>(p + 1);
      if (!port_used(p)) {
        port = p;
        break;
      }
    }
    if (port == 0) return EAGAIN;
  } else if (port_used(port)) {
    return EADDRINUSE;
  }
  c.tuple_.local_addr = addr;
  c.tuple_.local_port = port;
  c.bound_ = true;
  ++port_users_[port];
  return 0;
}

int TcpLayer::pick_ephemeral(TcpConnection& c, wire::Ipv4Address remote, uint16_t remote_port) {
  const wire::Ipv4Address local = ip_.local_address();
  const uint32_t range = static_cast<uint32_t>(config_.ephemeral_last - config_.ephemeral_first) + 1;
  for (uint32_t i = 0; i < range; ++i) {
    const uint16_t p = next_ephemeral_;
    next_ephemeral_ = p == config_.ephemeral_last ? config_.ephemeral_first : static_cast<uint16_t>(p + 1);
    // A port may serve several connections to different peers, but not one lingering in
    // TIME-WAIT to the same peer.
    if (port_used(p)) continue;
    if (connections_.count(FourTuple{local, p, remote, remote_port})) continue;
    c.tuple_.local_addr = local;
    c.tuple_.local_port = p;
    c.bound_ = true;
    ++port_users_[p];
    return 0;
  }
  return EAGAIN;
}

void TcpLayer::release_port(TcpConnection& c) {
  if (!c.bound_) return;
  c.bound_ = false;
  auto it = port_users_.find(c.tuple_.local_port);
  if (it != port_users_.end() && it->second > 0 && --it->second == 0) port_users_.erase(it);
}

// ================================================================ socket API

Result<SocketId> TcpLayer::open() {
  Busy busy(*this);
  return create()->id_;
}

int TcpLayer::bind(SocketId s, wire::Ipv4Address addr, uint16_t port) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  if (c->bound_ || c->state_ != TcpState::Closed) return EINVAL;
  return bind_port(*c, addr, port);
}

int TcpLayer::listen(SocketId s, int backlog) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  if (c->state_ == TcpState::Listen) {
    c->backlog_ = std::clamp(backlog, 1, config_.backlog_max);
    return 0;
  }
  if (c->state_ != TcpState::Closed || c->was_established_ || c->error_ != 0) return EINVAL;
  if (!c->bound_)
    if (int rc = bind_port(*c, wire::Ipv4Address{}, 0)) return rc;
  if (listeners_.count(c->tuple_.local_port)) return EADDRINUSE;
  listeners_[c->tuple_.local_port] = c;
  c->our_mss_ = mss_for_mtu();
  c->start_listen(std::clamp(backlog, 1, config_.backlog_max));
  return 0;
}

Result<SocketId> TcpLayer::try_accept(SocketId s) {
  Busy busy(*this);
  TcpConnection* l = socket(s);
  if (!l) return Error{EBADF};
  if (l->state_ != TcpState::Listen) return Error{EINVAL};
  if (l->accept_queue_.empty()) return Error{EAGAIN};
  TcpConnection* c = l->accept_queue_.front();
  l->accept_queue_.pop_front();
  c->listener_ = nullptr;
  c->app_owned_ = true;
  ++counters_.connections_accepted;
  return c->id_;
}

int TcpLayer::connect(SocketId s, wire::Ipv4Address addr, uint16_t port) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  switch (c->state_) {
    case TcpState::Closed:
      break;
    case TcpState::SynSent:
    case TcpState::SynReceived:
      return EALREADY;
    case TcpState::Listen:
      return EINVAL;
    default:
      return EISCONN;
  }
  if (c->was_established_ || c->error_ != 0 || c->tuple_.remote_port != 0) return EINVAL;  // one use per socket
  if (port == 0 || !addr.is_unicast()) return EINVAL;
  if (!c->bound_) {
    if (int rc = pick_ephemeral(*c, addr, port)) return rc;
  } else {
    if (c->tuple_.local_addr.is_unspecified()) c->tuple_.local_addr = ip_.local_address();
    if (connections_.count(FourTuple{c->tuple_.local_addr, c->tuple_.local_port, addr, port})) return EADDRINUSE;
  }
  c->tuple_.remote_addr = addr;
  c->tuple_.remote_port = port;
  link(*c);
  ++counters_.connections_opened;
  return c->start_connect();
}

int TcpLayer::connect_status(SocketId s) const {
  const TcpConnection* c = socket(s);
  if (!c) return EBADF;
  switch (c->state_) {
    case TcpState::SynSent:
    case TcpState::SynReceived:
      return EINPROGRESS;
    case TcpState::Closed:
      if (c->error_ != 0) return c->error_;
      return c->was_established_ ? 0 : ENOTCONN;
    case TcpState::Listen:
      return ENOTCONN;
    default:
      return 0;
  }
}

Result<std::size_t> TcpLayer::send(SocketId s, std::span<const mem::BufRef> data) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return Error{EBADF};
  if (c->fin_queued_ || c->close_requested_) return Error{EPIPE};
  switch (c->state_) {
    case TcpState::SynSent:
    case TcpState::SynReceived:
    case TcpState::Established:
    case TcpState::CloseWait:
      break;
    case TcpState::Closed:
      if (c->error_ != 0) return Error{c->error_};
      return Error{c->was_established_ ? EPIPE : ENOTCONN};
    case TcpState::Listen:
      return Error{ENOTCONN};
    default:
      return Error{EPIPE};
  }
  std::size_t total = 0;
  for (const mem::BufRef& b : data) total += b ? b.size() : 0;
  if (total == 0) return std::size_t{0};
  // Sequence arithmetic works modulo 2^31: the queue (below the buffer, at most 1 GiB, plus one
  // push) must stay under it.
  if (total > kMaxPush) return Error{EMSGSIZE};
  // All or nothing, taken while the queue holds less than the send buffer: the queue holds at
  // most the buffer plus one push, and what is in flight stays within the buffer (output()).
  // Waiting instead until a large push fits (for one larger than the buffer: until the queue is
  // empty, every byte acknowledged) drained the pipe between pushes and stalled each one on the
  // receiver's delayed ACK of its last segment: 1 MiB pushes over memif ran at one per 40 ms
  // (0.2 Gbit/s). The queue references the pushed buffers; it copies nothing of its own.
  if (c->send_queue_.size() >= c->cfg_.send_buffer) return Error{EAGAIN};
  for (const mem::BufRef& b : data)
    if (b && b.size() > 0) c->send_queue_.push(b);
  c->output();
  if (c->ack_now_) c->send_ack();
  return total;
}

Result<std::size_t> TcpLayer::recv(SocketId s, std::size_t max_len, std::vector<mem::BufRef>& out) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return Error{EBADF};
  if (max_len == 0) return Error{EINVAL};
  if (c->receive_queue_.readable() > 0) {
    const std::size_t n = c->receive_queue_.read(max_len, out);
    // The window opened: tell the peer if it is worth it (RFC 9293 3.8.6.2.2).
    if (c->window_update_due()) c->send_ack();
    return n;
  }
  if (c->fin_received_) return std::size_t{0};
  if (c->error_ != 0) return Error{c->error_};
  switch (c->state_) {
    case TcpState::SynSent:
    case TcpState::SynReceived:
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
      return Error{EAGAIN};
    default:
      return Error{ENOTCONN};
  }
}

std::size_t TcpLayer::readable(SocketId s) const {
  const TcpConnection* c = socket(s);
  return c ? c->receive_queue_.readable() : 0;
}

std::size_t TcpLayer::writable(SocketId s) const {
  const TcpConnection* c = socket(s);
  if (!c) return 0;
  const std::size_t used = c->send_queue_.size();
  return c->cfg_.send_buffer > used ? c->cfg_.send_buffer - used : 0;
}

int TcpLayer::shutdown_write(SocketId s) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  const int rc = c->shutdown_by_app();
  if (c->ack_now_) c->send_ack();
  return rc;
}

int TcpLayer::close(SocketId s) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  release_port(*c);
  c->close_by_app();
  return 0;
}

int TcpLayer::abort(SocketId s) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  release_port(*c);
  c->abort_by_app();
  return 0;
}

namespace {
// A connection the application let go of that still owes its peer data, a FIN or the end of
// the handshake.
bool owes_peer(TcpState s) { return s == TcpState::SynReceived || sends_data(s); }
}  // namespace

std::size_t TcpLayer::unfinished() const {
  std::size_t n = 0;
  for (const auto& [id, c] : sockets_)
    if (!c->app_owned_ && !c->listener_ && owes_peer(c->state_)) ++n;
  return n;
}

std::size_t TcpLayer::abort_unfinished() {
  Busy busy(*this);
  std::vector<TcpConnection*> left;
  for (auto& [id, c] : sockets_)
    if (!c->app_owned_ && !c->listener_ && owes_peer(c->state_)) left.push_back(c.get());
  for (TcpConnection* c : left) {
    // ABORT only deletes the TCB in CLOSING and LAST-ACK (RFC 9293 3.10.5); at teardown the peer
    // is told too, as in the other states, rather than left waiting for the ACK of its FIN.
    if (c->state_ == TcpState::Closing || c->state_ == TcpState::LastAck) c->send_rst(c->snd_max_);
    c->abort_by_app();
  }
  return left.size();
}

int TcpLayer::set_nodelay(SocketId s, bool on) {
  Busy busy(*this);
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  c->nodelay_ = on;
  if (on) c->output();
  return 0;
}

int TcpLayer::set_linger(SocketId s, std::optional<sched::Duration> linger) {
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  c->linger_ = linger;
  return 0;
}

int TcpLayer::set_keepalive(SocketId s, const KeepaliveOptions& ka) {
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  if (ka.enabled && (ka.idle <= sched::Duration::zero() || ka.interval <= sched::Duration::zero() || ka.count <= 0))
    return EINVAL;
  c->keepalive_ = ka.enabled;
  if (ka.enabled) {
    c->ka_idle_ = ka.idle;
    c->ka_interval_ = ka.interval;
    c->ka_count_ = ka.count;
  }
  c->ka_probes_ = 0;
  c->rearm_keepalive();
  return 0;
}

int TcpLayer::set_congestion_control(SocketId s, std::string_view name) {
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  auto cc = make_cc(name, c->effective_mss());
  if (!cc) return EINVAL;
  c->cc_name_ = std::string(name);
  c->stats_.congestion_control = c->cc_name_;
  // Switching in the middle of a connection starts the new controller afresh (as Linux does).
  if (c->cc_) c->cc_ = std::move(cc);
  return 0;
}

int TcpLayer::set_buffer_sizes(SocketId s, std::size_t send_bytes, std::size_t receive_bytes) {
  TcpConnection* c = socket(s);
  if (!c) return EBADF;
  if (send_bytes) c->cfg_.send_buffer = send_bytes;
  if (receive_bytes) {
    c->cfg_.receive_buffer = receive_bytes;
    // The window scale goes out with the SYN; before that it follows the buffer.
    if (c->state_ == TcpState::Closed || c->state_ == TcpState::Listen) c->choose_window_scale();
  }
  if (c->was_established_) c->size_for_buffers();
  return 0;
}

sched::WaitQueue& TcpLayer::events(SocketId s) {
  TcpConnection* c = socket(s);
  return c ? c->events_ : no_events_;
}

Result<Endpoint> TcpLayer::local_address(SocketId s) const {
  const TcpConnection* c = socket(s);
  if (!c) return Error{EBADF};
  return Endpoint{c->tuple_.local_addr, c->tuple_.local_port};
}

Result<Endpoint> TcpLayer::remote_address(SocketId s) const {
  const TcpConnection* c = socket(s);
  if (!c) return Error{EBADF};
  if (c->tuple_.remote_port == 0) return Error{ENOTCONN};
  return Endpoint{c->tuple_.remote_addr, c->tuple_.remote_port};
}

Result<TcpInfo> TcpLayer::info(SocketId s) const {
  const TcpConnection* c = find(s);
  if (!c) return Error{EBADF};
  return c->info();
}

std::optional<TcpState> TcpLayer::state(SocketId s) const {
  const TcpConnection* c = find(s);
  if (!c) return std::nullopt;
  return c->state_;
}

TcpLayer::Memory TcpLayer::memory() const {
  Memory m;
  for (const auto& [id, c] : sockets_) {
    m.send_bytes += c->send_queue_.size();
    m.receive_bytes += c->receive_queue_.readable();
    m.out_of_order_bytes += c->receive_queue_.out_of_order_bytes();
  }
  return m;
}

void TcpLayer::append_counters(CounterList& out) const {
  const Counters& c = counters_;
  out.push_back({"tcp.rx_segments", c.rx_segments});
  out.push_back({"tcp.tx_segments", c.tx_segments});
  out.push_back({"tcp.tx_errors", c.tx_errors});
  out.push_back({"tcp.tx_deferred", c.tx_deferred});
  out.push_back({"tcp.tx_no_buffer", c.tx_no_buffer});
  out.push_back({"tcp.rsts_sent", c.rsts_sent});
  out.push_back({"tcp.drop.truncated", c.drop_truncated});
  out.push_back({"tcp.drop.bad_offset", c.drop_bad_offset});
  out.push_back({"tcp.drop.bad_options", c.drop_bad_options});
  out.push_back({"tcp.drop.bad_checksum", c.drop_bad_checksum});
  out.push_back({"tcp.drop.bad_address", c.drop_bad_address});
  out.push_back({"tcp.drop.fragmented", c.drop_fragmented});
  out.push_back({"tcp.drop.no_connection", c.drop_no_connection});
  out.push_back({"tcp.drop.listen", c.drop_listen});
  out.push_back({"tcp.drop.paws", c.drop_paws});
  out.push_back({"tcp.drop.out_of_window", c.drop_out_of_window});
  out.push_back({"tcp.drop.bad_ack", c.drop_bad_ack});
  out.push_back({"tcp.drop.no_timestamp", c.drop_no_timestamp});
  out.push_back({"tcp.drop.ooo_full", c.drop_ooo_full});
  out.push_back({"tcp.challenge_acks", c.challenge_acks});
  out.push_back({"tcp.challenge_acks_limited", c.challenge_acks_limited});
  out.push_back({"tcp.syn_cookies_sent", c.syn_cookies_sent});
  out.push_back({"tcp.syn_cookies_accepted", c.syn_cookies_accepted});
  out.push_back({"tcp.syn_cookies_rejected", c.syn_cookies_rejected});
  out.push_back({"tcp.syn_dropped", c.syn_dropped});
  out.push_back({"tcp.accept_queue_full", c.accept_queue_full});
  out.push_back({"tcp.connections_opened", c.connections_opened});
  out.push_back({"tcp.connections_accepted", c.connections_accepted});
  out.push_back({"tcp.connections_reset", c.connections_reset});
  out.push_back({"tcp.connections_timed_out", c.connections_timed_out});
  out.push_back({"tcp.connections_unreachable", c.connections_unreachable});
  out.push_back({"tcp.retransmits", c.retransmits});
  out.push_back({"tcp.timeouts", c.timeouts});
}

}  // namespace demi::net::tcp
