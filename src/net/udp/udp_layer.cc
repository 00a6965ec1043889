#include "net/udp/udp_layer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <demi/types.h>

#include "base/log.h"
#include "net/copy_buffer.h"
#include "net/icmp/icmp_layer.h"
#include "net/wire/checksum.h"
#include "net/wire/udp.h"

namespace demi::net {

namespace {
constexpr const char* kLog = "udp";
constexpr uint32_t kNone = UINT32_MAX;
}  // namespace

// A socket and its receive queue: a ring of datagrams that grows (rarely, by doubling) up to the
// configured bound and never shrinks, so that queueing a datagram does not allocate once warm.
struct UdpLayer::Socket {
  explicit Socket(sched::Scheduler& s) : events(s) {}
  sched::WaitQueue events;
  bool open = false;
  Endpoint local;  // port 0: not bound; addr unspecified: any
  std::optional<Endpoint> remote;
  int error = 0;
  std::size_t limit_datagrams = 0;
  std::size_t limit_bytes = 0;
  std::vector<UdpDatagram> ring;
  std::size_t head = 0;
  std::size_t count = 0;
  std::size_t bytes = 0;

  void push(UdpDatagram d) {
    if (count == ring.size()) {
      std::vector<UdpDatagram> bigger(std::max<std::size_t>(8, ring.size() * 2));
      for (std::size_t i = 0; i < count; ++i) bigger[i] = std::move(ring[(head + i) % ring.size()]);
      ring = std::move(bigger);
      head = 0;
    }
    bytes += d.length;
    ring[(head + count) % ring.size()] = std::move(d);
    ++count;
  }
  UdpDatagram pop() {
    UdpDatagram d = std::move(ring[head]);
    head = (head + 1) % ring.size();
    --count;
    bytes -= d.length;
    return d;
  }
  void clear() {
    while (count > 0) pop();
  }
};

UdpLayer::UdpLayer(sched::Scheduler& sched, IpOutput& ip, IcmpLayer& icmp, const UdpConfig& config)
    : sched_(sched),
      ip_(ip),
      icmp_(icmp),
      config_(config),
      ports_(65536, kNone),
      // Start the ephemeral search at a point that differs between hosts (RFC 6056 prefers a
      // random one; a function of the address keeps simulations deterministic).
      next_ephemeral_(static_cast<uint16_t>(kEphemeralFirst + (ip.local_address().to_u32() * 2654435761u) %
                                                                  (kEphemeralLast - kEphemeralFirst + 1))) {}

UdpLayer::~UdpLayer() = default;

UdpLayer::Socket* UdpLayer::socket(SocketId s) const {
  if (s >= sockets_.size() || !sockets_[s]->open) return nullptr;
  return sockets_[s].get();
}

sched::WaitQueue& UdpLayer::events(SocketId s) { return sockets_[s]->events; }

UdpLayer::SocketId UdpLayer::open() {
  SocketId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<SocketId>(sockets_.size());
    sockets_.push_back(std::make_unique<Socket>(sched_));
  }
  Socket& s = *sockets_[id];
  s.open = true;
  s.local = {};
  s.remote.reset();
  s.error = 0;
  s.limit_datagrams = config_.queue_datagrams;
  s.limit_bytes = config_.queue_bytes;
  return id;
}

int UdpLayer::bind(SocketId id, Endpoint local) {
  Socket* s = socket(id);
  if (!s) return EBADF;
  if (s->local.port != 0) return EINVAL;
  if (!local.addr.is_unspecified() && local.addr != ip_.local_address()) return EADDRNOTAVAIL;
  if (local.port == 0) {
    s->local.addr = local.addr;
    return bind_ephemeral(id);
  }
  if (ports_[local.port] != kNone) return EADDRINUSE;
  ports_[local.port] = id;
  s->local = local;
  return 0;
}

int UdpLayer::bind_ephemeral(SocketId id) {
  constexpr uint32_t kRange = kEphemeralLast - kEphemeralFirst + 1;
  for (uint32_t i = 0; i < kRange; ++i) {
    const uint16_t port = next_ephemeral_;
    next_ephemeral_ = port == kEphemeralLast ? kEphemeralFirst : static_cast<uint16_t>(port + 1);
    if (ports_[port] == kNone) {
      ports_[port] = id;
      sockets_[id]->local.port = port;
      return 0;
    }
  }
  DEMI_WARN(kLog, "no ephemeral port left ({}-{} all bound)", kEphemeralFirst, kEphemeralLast);
  return EAGAIN;
}

int UdpLayer::connect(SocketId id, Endpoint remote) {
  Socket* s = socket(id);
  if (!s) return EBADF;
  if (remote.addr.is_unspecified() || remote.port == 0) return EINVAL;
  if (s->local.port == 0)
    if (int rc = bind_ephemeral(id)) return rc;
  s->remote = remote;
  s->error = 0;
  return 0;
}

void UdpLayer::close(SocketId id) {
  Socket* s = socket(id);
  if (!s) return;
  if (s->local.port != 0) ports_[s->local.port] = kNone;
  s->open = false;
  s->clear();
  s->events.notify_all();
  free_.push_back(id);
}

Endpoint UdpLayer::local(SocketId id) const {
  const Socket* s = socket(id);
  return s ? s->local : Endpoint{};
}

std::optional<Endpoint> UdpLayer::remote(SocketId id) const {
  const Socket* s = socket(id);
  return s ? s->remote : std::nullopt;
}

void UdpLayer::set_queue_bytes(SocketId id, std::size_t bytes) {
  if (Socket* s = socket(id)) s->limit_bytes = bytes;
}

std::size_t UdpLayer::queue_bytes(SocketId id) const {
  const Socket* s = socket(id);
  return s ? s->limit_bytes : 0;
}

bool UdpLayer::readable(SocketId id) const {
  const Socket* s = socket(id);
  return s && (s->count > 0 || s->error != 0);
}

std::optional<UdpDatagram> UdpLayer::recv(SocketId id) {
  Socket* s = socket(id);
  if (!s || s->count == 0) return std::nullopt;
  return s->pop();
}

int UdpLayer::take_error(SocketId id) {
  Socket* s = socket(id);
  if (!s) return 0;
  return std::exchange(s->error, 0);
}

// ---------------------------------------------------------------- sending

int UdpLayer::send(SocketId id, const std::optional<Endpoint>& to, std::span<const OutSegment> payload) {
  Socket* s = socket(id);
  if (!s) return EBADF;
  Endpoint dst;
  if (to) {
    dst = *to;
  } else if (s->remote) {
    dst = *s->remote;
  } else {
    return EDESTADDRREQ;
  }
  if (dst.port == 0 || dst.addr.is_unspecified()) return EINVAL;
  if (s->local.port == 0)
    if (int rc = bind_ephemeral(id)) return rc;
  return transmit(*s, dst, payload);
}

int UdpLayer::transmit(Socket& s, const Endpoint& to, std::span<const OutSegment> payload) {
  std::size_t length = 0;
  bool all_ours = payload.size() <= runtime::kMaxPayloadSegments;
  for (const OutSegment& seg : payload) {
    length += seg.bytes.size();
    all_ours = all_ours && (seg.ref != nullptr || seg.bytes.empty());
  }
  if (length > kMaxPayload) return EMSGSIZE;

  const std::size_t udp_length = wire::kUdpHeaderLen + length;
  // Small payloads too go by reference: the device copies them behind the headers if that is
  // cheaper there (dpdk.tx_copy_threshold), one threshold for UDP and TCP alike.
  const bool copy = !all_ours;
  // The header goes in front of the buffer's data (IPv4 and Ethernet then go in front of it).
  mem::BufRef head = ip_.alloc_header(wire::kUdpHeaderLen);
  if (!head) return ENOBUFS;
  head.prepend(wire::kUdpHeaderLen);
  runtime::TxFrame frame;
  if (copy) {
    if (head.tailroom() >= length) {
      // The usual case: the payload fits behind the header in the same buffer.
      std::byte* p = head.data() + wire::kUdpHeaderLen;
      for (const OutSegment& seg : payload) {
        if (!seg.bytes.empty()) std::memcpy(p, seg.bytes.data(), seg.bytes.size());
        p += seg.bytes.size();
      }
      head.set_length(udp_length);
    } else {
      // Too big for the header buffer: one copy buffer (a foreign Sga, or one in more pieces
      // than a frame carries, is the application's choice to pay for).
      mem::BufRef body = copy_buffer(length);
      if (!body) return ENOBUFS;
      std::byte* p = body.data();
      for (const OutSegment& seg : payload) {
        if (!seg.bytes.empty()) std::memcpy(p, seg.bytes.data(), seg.bytes.size());
        p += seg.bytes.size();
      }
      frame.add_payload(std::move(body));
    }
    ++counters_.tx_copied;
  } else {
    for (const OutSegment& seg : payload) {
      if (seg.bytes.empty()) continue;
      const auto offset = static_cast<std::size_t>(seg.bytes.data() - seg.ref->data());
      frame.add_payload(seg.ref->slice(offset, seg.bytes.size()));
    }
  }
  const wire::Ipv4Address src = ip_.local_address();
  wire::UdpRepr udp{s.local.port, to.port, static_cast<uint16_t>(udp_length)};
  udp.emit(head.bytes().first(wire::kUdpHeaderLen));
  const bool fragmented = udp_length + 20 > ip_.mtu();
  wire::Checksum sum;
  sum.add_pseudo_header(src.to_u32(), to.addr.to_u32(), wire::kProtocolUdp, static_cast<uint16_t>(udp_length));
  if (ip_.offload_checksum() && !fragmented) {
    // The device sums header and payload; it needs the pseudo-header sum in the field.
    frame.offload_l4_checksum = true;
    frame.l4_protocol = wire::kProtocolUdp;
    frame.l4_len = wire::kUdpHeaderLen;
    wire::UdpRepr::write_checksum(head.bytes(), sum.folded());
  } else {
    sum.add(head.bytes());
    for (uint8_t i = 0; i < frame.payload_segments; ++i) sum.add(frame.payload[i].bytes());
    uint16_t c = sum.checksum();
    // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
    wire::UdpRepr::write_checksum(head.bytes(), c == 0 ? 0xffff : c);
  }
  frame.head = std::move(head);
  int rc = ip_.send(to.addr, wire::kProtocolUdp, std::move(frame));
  if (rc != 0) {
    ++counters_.tx_errors;
    DEMI_DEBUG(kLog, "send to {}:{} failed: {}", to.addr, to.port, std::strerror(rc));
    return rc;
  }
  ++counters_.tx_datagrams;
  counters_.tx_bytes += length;
  return 0;
}

// ---------------------------------------------------------------- receiving

void UdpLayer::receive(const Ipv4Packet& ip, Payload payload, uint32_t rx_flags) {
  if (payload.empty() || payload[0].size() < wire::kUdpHeaderLen) {
    ++counters_.drop_malformed;
    return;
  }
  auto udp = wire::UdpRepr::parse(payload[0].bytes());
  const std::size_t total = payload_length(payload);
  if (!udp || udp->length < wire::kUdpHeaderLen || udp->length > total) {
    ++counters_.drop_malformed;
    return;
  }
  // Anything past the UDP length (Ethernet padding cut already by IPv4) is not the datagram's.
  std::size_t keep = udp->length;
  for (mem::BufRef& part : payload) {
    if (part.size() > keep) part.set_length(keep);
    keep -= part.size();
  }
  if (udp->checksum != 0 && !(rx_flags & runtime::kRxL4ChecksumGood)) {
    bool good = false;
    if (!(rx_flags & runtime::kRxL4ChecksumBad)) {
      wire::Checksum sum;
      sum.add_pseudo_header(ip.repr.src_addr.to_u32(), ip.repr.dst_addr.to_u32(), wire::kProtocolUdp, udp->length);
      for (const mem::BufRef& part : payload) sum.add(part.bytes());
      good = sum.folded() == 0xffff;
    }
    if (!good) {
      ++counters_.drop_bad_checksum;
      return;
    }
  }
  const SocketId id = ports_[udp->dst_port];
  Socket* s = id == kNone ? nullptr : socket(id);
  if (!s || (!s->local.addr.is_unspecified() && s->local.addr != ip.repr.dst_addr)) {
    ++counters_.drop_no_socket;
    if (!ip.broadcast) icmp_.send_unreachable(IcmpLayer::kPortUnreachable, ip, payload);
    return;
  }
  const Endpoint from{ip.repr.src_addr, udp->src_port};
  if (s->remote && *s->remote != from) {
    ++counters_.drop_not_from_peer;
    return;
  }
  const std::size_t length = udp->length - wire::kUdpHeaderLen;
  if (s->count >= s->limit_datagrams || s->bytes + length > s->limit_bytes) {
    ++counters_.drop_queue_full;
    return;
  }
  UdpDatagram d;
  d.from = from;
  d.length = length;
  payload[0].trim_front(wire::kUdpHeaderLen);
  std::size_t pieces = 0;
  for (const mem::BufRef& part : payload) pieces += part.size() > 0 ? 1 : 0;
  if (pieces > kSgaMaxSegments) {
    // More pieces than an Sga holds: copy them into one block for the application.
    d.data = copy_buffer(length);
    if (!d.data) {
      ++counters_.drop_queue_full;
      return;
    }
    std::byte* p = d.data.data();
    for (const mem::BufRef& part : payload) {
      std::memcpy(p, part.data(), part.size());
      p += part.size();
    }
    ++counters_.linearized;
  } else {
    bool first = true;
    for (mem::BufRef& part : payload) {
      if (part.size() == 0) continue;
      if (first) d.data = std::move(part);
      else d.more.push_back(std::move(part));
      first = false;
    }
  }
  ++counters_.rx_datagrams;
  counters_.rx_bytes += length;
  s->push(std::move(d));
  s->events.notify_one();
}

void UdpLayer::icmp_error(const IcmpError& err) {
  auto udp = wire::UdpRepr::parse(err.transport);
  if (!udp || err.original.src_addr != ip_.local_address()) return;
  const SocketId id = ports_[udp->src_port];
  Socket* s = id == kNone ? nullptr : socket(id);
  if (!s) return;
  const Endpoint to{err.original.dst_addr, udp->dst_port};
  if (s->remote && *s->remote != to) return;
  s->error = err.error;
  ++counters_.icmp_errors;
  DEMI_DEBUG(kLog, "port {}: ICMP error about {}:{}: {}", s->local.port, to.addr, to.port, std::strerror(err.error));
  s->events.notify_all();
}

void UdpLayer::host_unreachable(wire::Ipv4Address dst) {
  // As Linux does for a connected socket: its peer's unreachability is its error.
  for (auto& s : sockets_) {
    if (s->open && s->remote && s->remote->addr == dst) {
      s->error = EHOSTUNREACH;
      s->events.notify_all();
    }
  }
}

void UdpLayer::append_counters(CounterList& out) const {
  const Counters& c = counters_;
  out.push_back({"udp.rx_datagrams", c.rx_datagrams});
  out.push_back({"udp.rx_bytes", c.rx_bytes});
  out.push_back({"udp.tx_datagrams", c.tx_datagrams});
  out.push_back({"udp.tx_bytes", c.tx_bytes});
  out.push_back({"udp.tx_copied", c.tx_copied});
  out.push_back({"udp.tx_errors", c.tx_errors});
  out.push_back({"udp.drop.malformed", c.drop_malformed});
  out.push_back({"udp.drop.bad_checksum", c.drop_bad_checksum});
  out.push_back({"udp.drop.no_socket", c.drop_no_socket});
  out.push_back({"udp.drop.not_from_peer", c.drop_not_from_peer});
  out.push_back({"udp.drop.queue_full", c.drop_queue_full});
  out.push_back({"udp.linearized", c.linearized});
  out.push_back({"udp.icmp_errors", c.icmp_errors});
}

}  // namespace demi::net
