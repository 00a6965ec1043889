#include "net/ipv4/ipv4_layer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "net/icmp/icmp_layer.h"

namespace demi::net {

namespace {
constexpr const char* kLog = "ipv4";
constexpr std::size_t kMaxDatagram = 65535;

// RFC 1112 6.4: the Ethernet address of an IPv4 multicast group.
wire::EthernetAddress multicast_mac(wire::Ipv4Address a) {
  const uint32_t v = a.to_u32();
  return wire::EthernetAddress{{0x01, 0x00, 0x5e, static_cast<uint8_t>((v >> 16) & 0x7f), static_cast<uint8_t>(v >> 8),
                                static_cast<uint8_t>(v)}};
}
}  // namespace

Ipv4Layer::Ipv4Layer(sched::Scheduler& sched, EthernetLayer& ethernet, ArpLayer& arp, const Ipv4Config& config)
    : ethernet_(ethernet),
      arp_(arp),
      config_(config),
      offload_ip_checksum_(ethernet.device().info().tx_ipv4_checksum),
      offload_l4_checksum_(ethernet.device().info().tx_l4_checksum),
      // Identification only has to differ between datagrams in flight at once (RFC 6864); a
      // start that depends on the address keeps two simulated hosts apart, deterministically.
      next_ident_(static_cast<uint16_t>(config.address.to_u32() * 40503u)),
      reassembler_(sched, config.reassembly_timeout, config.reassembly_memory) {
  reassembler_.set_timeout_handler([this](std::span<const std::byte> header, const mem::BufRef& payload) {
    if (icmp_) icmp_->send_time_exceeded(IcmpLayer::kReassemblyTimeExceeded, header, payload);
  });
}

Ipv4Layer::~Ipv4Layer() = default;

bool Ipv4Layer::offload_checksum() const { return offload_l4_checksum_; }

bool Ipv4Layer::on_link(wire::Ipv4Address a) const {
  const uint32_t mask = config_.netmask.to_u32();
  return (a.to_u32() & mask) == (config_.address.to_u32() & mask);
}

bool Ipv4Layer::is_broadcast(wire::Ipv4Address a) const {
  if (a.is_broadcast()) return true;
  // The subnet's directed broadcast (RFC 922), where the subnet has one (not /31 or /32).
  const uint32_t mask = config_.netmask.to_u32();
  if (mask >= 0xfffffffeu) return false;
  return a.to_u32() == ((config_.address.to_u32() & mask) | ~mask);
}

Result<Ipv4Layer::Route> Ipv4Layer::route(wire::Ipv4Address dst) const {
  if (is_broadcast(dst) || dst.is_multicast()) return Route{Route::Kind::Broadcast, dst};
  if (on_link(dst)) return Route{Route::Kind::Direct, dst};
  if (config_.gateway) return Route{Route::Kind::Gateway, *config_.gateway};
  return Error{ENETUNREACH};
}

mem::BufRef Ipv4Layer::alloc_header(std::size_t transport_room) {
  return ethernet_.alloc_tx(kIpHeadroom + transport_room);
}

int Ipv4Layer::send(wire::Ipv4Address dst, uint8_t protocol, runtime::TxFrame frame) {
  if (dst.is_unspecified()) return EINVAL;
  if (dst == config_.address) {
    // There is no loopback interface: a host talks to itself through the kernel, not its NIC.
    DEMI_DEBUG(kLog, "send to our own address {}: no loopback", dst);
    return EADDRNOTAVAIL;
  }
  auto r = route(dst);
  if (!r) {
    ++counters_.tx_no_route;
    DEMI_DEBUG(kLog, "no route to {}: off the subnet and no gateway (catnip.ipv4.gateway)", dst);
    return r.error();
  }
  const std::size_t length = kHeaderLength + frame.length();
  if (length > kMaxDatagram) {
    ++counters_.tx_too_big;
    return EMSGSIZE;
  }
  // DF on TCP: it sizes its segments to the path (RFC 1191); everything else may be fragmented.
  const bool df = protocol == wire::kProtocolTcp;
  const uint16_t ident = next_ident_++;
  if (length <= config_.mtu) return emit(*r, dst, protocol, ident, df, false, 0, std::move(frame));
  if (df || frame.offload_l4_checksum || frame.tso_segment_size != 0) {
    ++counters_.tx_too_big;
    return EMSGSIZE;
  }
  return send_fragments(*r, dst, protocol, ident, frame);
}

int Ipv4Layer::send_fragments(const Route& r, wire::Ipv4Address dst, uint8_t protocol, uint16_t ident,
                              runtime::TxFrame& frame) {
  ++counters_.tx_fragmented;
  // RFC 791: every fragment but the last carries a multiple of 8 bytes.
  const std::size_t max_chunk = (config_.mtu - kHeaderLength) & ~std::size_t{7};
  // The datagram's bytes in order: the header buffer, then the payload segments. Each fragment
  // takes the next chunk of them into a header buffer of its own: bytes of the original header
  // buffer are copied (they are few, and come first), payload bytes become views. A chunk spans
  // at most every payload segment, so its views always fit a frame.
  std::array<const mem::BufRef*, 1 + runtime::kMaxPayloadSegments> sources{};
  sources[0] = &frame.head;
  for (uint8_t i = 0; i < frame.payload_segments; ++i) sources[1 + i] = &frame.payload[i];
  const std::size_t total = frame.length();
  std::size_t src = 0;
  std::size_t pos = 0;  // in *sources[src]
  for (std::size_t offset = 0; offset < total;) {
    const std::size_t chunk = std::min(max_chunk, total - offset);
    mem::BufRef head = ethernet_.alloc_tx(kIpHeadroom);
    if (!head) {
      ++counters_.tx_no_buffer;
      return ENOBUFS;
    }
    runtime::TxFrame f;
    for (std::size_t left = chunk; left > 0;) {
      while (pos == sources[src]->size()) {
        ++src;
        pos = 0;
      }
      const std::size_t take = std::min(left, sources[src]->size() - pos);
      if (src == 0) {
        if (head.tailroom() < take) {
          ++counters_.tx_no_buffer;
          return ENOBUFS;
        }
        std::memcpy(head.data() + head.size(), sources[0]->data() + pos, take);
        head.set_length(head.size() + take);
      } else {
        f.add_payload(sources[src]->slice(pos, take));
      }
      pos += take;
      left -= take;
    }
    f.head = std::move(head);
    ++counters_.tx_fragments;
    const bool more = offset + chunk < total;
    if (int rc = emit(r, dst, protocol, ident, false, more, static_cast<uint16_t>(offset), std::move(f))) return rc;
    offset += chunk;
  }
  return 0;
}

int Ipv4Layer::emit(const Route& r, wire::Ipv4Address dst, uint8_t protocol, uint16_t ident, bool dont_fragment,
                    bool more_fragments, uint16_t fragment_offset, runtime::TxFrame frame) {
  if (!frame.head.prepend(kHeaderLength)) {
    ++counters_.tx_no_buffer;
    DEMI_ERROR(kLog, "bug: a transport left {} bytes of headroom, fewer than kIpHeadroom", frame.head.headroom());
    return ENOBUFS;
  }
  wire::Ipv4Repr ip;
  ip.src_addr = config_.address;
  ip.dst_addr = dst;
  ip.protocol = protocol;
  ip.payload_len = static_cast<uint16_t>(frame.length() - kHeaderLength);
  ip.hop_limit = config_.ttl;
  ip.ident = ident;
  ip.dont_frag = dont_fragment;
  ip.more_frags = more_fragments;
  ip.frag_offset = fragment_offset;
  ip.emit(frame.head.bytes().first(kHeaderLength));
  frame.l3_len = kHeaderLength;
  if (offload_ip_checksum_) frame.offload_ip_checksum = true;
  else wire::Ipv4View{frame.head.bytes()}.fill_checksum();
  ++counters_.tx_packets;
  int rc;
  switch (r.kind) {
    case Route::Kind::Broadcast:
      rc = ethernet_.send(dst.is_multicast() ? multicast_mac(dst) : wire::EthernetAddress::BROADCAST,
                          wire::EtherType::Ipv4, std::move(frame));
      break;
    case Route::Kind::Direct:
    case Route::Kind::Gateway:
    default: rc = arp_.send(r.next_hop, std::move(frame)); break;
  }
  if (rc == EHOSTUNREACH) ++counters_.tx_unreachable;
  else if (rc == ENOBUFS) ++counters_.tx_no_buffer;
  return rc;
}

void Ipv4Layer::receive(const wire::EthernetRepr&, mem::BufRef payload, uint32_t rx_flags) {
  ++counters_.rx_packets;
  wire::WireError err{};
  auto view = wire::Ipv4View::checked(payload.bytes(), &err);
  if (!view) {
    ++counters_.drop_malformed;
    return;
  }
  const std::size_t header_len = view->header_len();
  if (rx_flags & runtime::kRxIpChecksumBad) {
    ++counters_.drop_bad_checksum;
    return;
  }
  auto repr = wire::Ipv4Repr::parse(*view, !(rx_flags & runtime::kRxIpChecksumGood), &err);
  if (!repr) {
    ++(err == wire::WireError::BadChecksum ? counters_.drop_bad_checksum : counters_.drop_malformed);
    return;
  }
  // Whatever follows the datagram (Ethernet padding of a short frame) is not part of it.
  payload.set_length(view->total_len());
  // RFC 1122 3.2.1.3: a source that is not one host is discarded.
  if (repr->src_addr.is_broadcast() || repr->src_addr.is_multicast() || is_broadcast(repr->src_addr) ||
      repr->src_addr == config_.address) {
    ++counters_.drop_bad_source;
    return;
  }
  Ipv4Packet pkt;
  pkt.broadcast = is_broadcast(repr->dst_addr);
  if (repr->dst_addr != config_.address && !pkt.broadcast) {
    // Another host's, or a multicast group we have not joined: hosts do not forward.
    ++counters_.drop_wrong_destination;
    return;
  }
  if (repr->more_frags || repr->frag_offset != 0) {
    const FragmentKey key{repr->src_addr.to_u32(), repr->dst_addr.to_u32(), repr->ident, repr->protocol};
    std::span<const std::byte> header = payload.bytes().first(header_len);
    mem::BufRef data = payload.slice(header_len, payload.size() - header_len);
    auto whole = reassembler_.add(key, repr->frag_offset, repr->more_frags, header, std::move(data));
    if (!whole) return;
    // The datagram's header: the fragments' (they share addresses, protocol and ident), with
    // the whole length and no fragment fields.
    pkt.repr = *repr;
    pkt.repr.more_frags = false;
    pkt.repr.frag_offset = 0;
    pkt.repr.payload_len = static_cast<uint16_t>(whole->length);
    pkt.repr.header_len = whole->header.size();
    pkt.header = whole->header;
    pkt.reassembled = true;
    // The device checked each fragment, not the datagram: the transport sums it itself.
    deliver(pkt, whole->parts, rx_flags & ~(runtime::kRxL4ChecksumGood | runtime::kRxL4ChecksumBad));
    return;
  }
  pkt.repr = *repr;
  // The header stays in front of the payload's view, in the same buffer, for ICMP to quote.
  pkt.header = std::span<const std::byte>(payload.data(), header_len);
  payload.trim_front(header_len);
  deliver(pkt, Payload(&payload, 1), rx_flags);
}

void Ipv4Layer::deliver(const Ipv4Packet& pkt, Payload payload, uint32_t rx_flags) {
  TransportReceiver* t = transports_[pkt.repr.protocol];
  if (!t) {
    ++counters_.drop_unknown_protocol;
    if (icmp_) icmp_->send_unreachable(IcmpLayer::kProtocolUnreachable, pkt, payload);
    return;
  }
  ++counters_.rx_delivered;
  t->receive(pkt, payload, rx_flags);
}

void Ipv4Layer::append_counters(CounterList& out) const {
  const Counters& c = counters_;
  out.push_back({"ipv4.rx_packets", c.rx_packets});
  out.push_back({"ipv4.rx_delivered", c.rx_delivered});
  out.push_back({"ipv4.drop.malformed", c.drop_malformed});
  out.push_back({"ipv4.drop.bad_checksum", c.drop_bad_checksum});
  out.push_back({"ipv4.drop.wrong_destination", c.drop_wrong_destination});
  out.push_back({"ipv4.drop.bad_source", c.drop_bad_source});
  out.push_back({"ipv4.drop.unknown_protocol", c.drop_unknown_protocol});
  out.push_back({"ipv4.tx_packets", c.tx_packets});
  out.push_back({"ipv4.tx_fragmented", c.tx_fragmented});
  out.push_back({"ipv4.tx_fragments", c.tx_fragments});
  out.push_back({"ipv4.tx_no_route", c.tx_no_route});
  out.push_back({"ipv4.tx_too_big", c.tx_too_big});
  out.push_back({"ipv4.tx_no_buffer", c.tx_no_buffer});
  out.push_back({"ipv4.tx_unreachable", c.tx_unreachable});
  reassembler_.append_counters(out);
}

}  // namespace demi::net
