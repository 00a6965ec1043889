#include "net/arp/arp_layer.h"

#include <algorithm>
#include <cerrno>

#include "base/log.h"

namespace demi::net {

namespace {
constexpr const char* kLog = "arp";

// The destination of the IPv4 packet at the front of `frame.head` (before the Ethernet header is
// prepended): what an UnreachableListener is told about.
std::optional<wire::Ipv4Address> packet_destination(const runtime::TxFrame& frame) {
  auto ip = wire::Ipv4Repr::parse_quoted(frame.head.bytes());
  if (!ip) return std::nullopt;
  return ip->dst_addr;
}
}  // namespace

ArpLayer::ArpLayer(sched::Scheduler& sched, EthernetLayer& ethernet, wire::Ipv4Address self, const ArpConfig& config)
    : sched_(sched), ethernet_(ethernet), self_(self), cache_(config), timer_(sched, [this] { on_timer(); }) {}

ArpLayer::~ArpLayer() = default;

void ArpLayer::start() {
  for (const auto& [ip, mac] : cache_.config().static_entries) cache_.add_permanent(ip, mac);
  if (cache_.config().gratuitous) {
    // RFC 5227 2.3: an announcement is a request with our address as both sender and target.
    if (send_arp(wire::ArpOperation::Request, wire::EthernetAddress::BROADCAST, wire::EthernetAddress{}, self_) == 0)
      ++counters_.gratuitous_sent;
  }
}

int ArpLayer::send_arp(wire::ArpOperation op, const wire::EthernetAddress& eth_dst,
                       const wire::EthernetAddress& target_mac, wire::Ipv4Address target_ip) {
  mem::BufRef buf = ethernet_.alloc_tx(wire::kEthernetHeaderLen);
  if (!buf) {
    ++counters_.tx_no_buffer;
    return ENOBUFS;
  }
  wire::ArpRepr arp;
  arp.operation = op;
  arp.source_hardware_addr = ethernet_.mac();
  arp.source_protocol_addr = self_;
  arp.target_hardware_addr = target_mac;
  arp.target_protocol_addr = target_ip;
  buf.set_length(wire::ArpRepr::kLength);
  arp.emit(buf.bytes());
  runtime::TxFrame frame;
  frame.head = std::move(buf);
  return ethernet_.send(eth_dst, wire::EtherType::Arp, std::move(frame));
}

void ArpLayer::send_request(wire::Ipv4Address ip, ArpCache::Entry& e) {
  cache_.request_sent(e, sched_.now());
  if (send_arp(wire::ArpOperation::Request, wire::EthernetAddress::BROADCAST, wire::EthernetAddress{}, ip) == 0)
    ++counters_.requests_sent;
}

int ArpLayer::send(wire::Ipv4Address next_hop, runtime::TxFrame frame) {
  const sched::Instant now = sched_.now();
  if (auto mac = cache_.lookup(next_hop, now)) return ethernet_.send(*mac, wire::EtherType::Ipv4, std::move(frame));
  if (cache_.failed(next_hop, now)) {
    ++counters_.drop_unreachable;
    return EHOSTUNREACH;
  }
  ArpCache::Entry& e = cache_.resolve(next_hop, now);
  if (e.queue.size() >= cache_.config().queue_limit) {
    ++counters_.drop_queue_full;
    return ENOBUFS;
  }
  e.queue.push_back(std::move(frame));
  ++counters_.queued;
  if (e.requests == 0) {
    DEMI_DEBUG(kLog, "resolving {}", next_hop);
    send_request(next_hop, e);
    rearm();
  }
  return 0;
}

void ArpLayer::receive(const wire::EthernetRepr&, mem::BufRef payload, uint32_t) {
  auto arp = wire::ArpRepr::parse(payload.bytes());
  if (!arp) {
    ++counters_.drop_malformed;
    return;
  }
  if (arp->operation == wire::ArpOperation::Request) ++counters_.requests_received;
  else ++counters_.replies_received;
  const wire::EthernetAddress& sender_mac = arp->source_hardware_addr;
  const wire::Ipv4Address sender_ip = arp->source_protocol_addr;
  if (!sender_mac.is_unicast()) {
    // A broadcast or multicast sender address would make us send unicast to everyone.
    ++counters_.drop_bad_sender;
    return;
  }
  if (sender_ip == self_) {
    ++counters_.drop_conflict;
    DEMI_WARN(kLog, "{} claims our address {}: an address conflict on the link", sender_mac, self_);
    return;
  }
  const sched::Instant now = sched_.now();
  const bool for_us = arp->target_protocol_addr == self_;
  // An ARP probe (RFC 5227 2.1.1) has sender address 0.0.0.0: it asks, but teaches nothing.
  const bool can_learn = !sender_ip.is_unspecified() && sender_ip.is_unicast();
  if (can_learn) {
    // RFC 826: "If the pair <protocol type, sender protocol address> is already in my
    // translation table, update the sender hardware address field of the entry with the new
    // information in the packet and set Merge_flag to true."
    scratch_.clear();
    const ArpCache::Entry* before = cache_.find(sender_ip);
    const bool was_incomplete = before && before->state == ArpCache::State::Incomplete;
    bool merged = cache_.merge(sender_ip, sender_mac, now, &scratch_);
    if (merged) {
      if (was_incomplete) {
        ++counters_.resolved;
        DEMI_DEBUG(kLog, "{} is at {}", sender_ip, sender_mac);
        release(scratch_, sender_mac);
        rearm();
      } else {
        ++counters_.updated;
      }
    } else if (for_us) {
      // "If Merge_flag is false, add the triplet <protocol type, sender protocol address,
      // sender hardware address> to the translation table."
      cache_.add(sender_ip, sender_mac, now);
      ++counters_.learned;
    }
  }
  if (for_us && arp->operation == wire::ArpOperation::Request) {
    if (send_arp(wire::ArpOperation::Reply, sender_mac, sender_mac, sender_ip) == 0) ++counters_.replies_sent;
  }
}

void ArpLayer::release(std::vector<runtime::TxFrame>& frames, const wire::EthernetAddress& mac) {
  for (runtime::TxFrame& f : frames) ethernet_.send(mac, wire::EtherType::Ipv4, std::move(f));
  frames.clear();
}

void ArpLayer::give_up(wire::Ipv4Address ip) {
  scratch_.clear();
  cache_.fail(ip, sched_.now(), &scratch_);
  ++counters_.failures;
  counters_.drop_unresolved += scratch_.size();
  DEMI_DEBUG(kLog, "{} did not answer {} requests: unreachable ({} packets dropped)", ip,
             cache_.config().retries + 1, scratch_.size());
  // Every destination that was waiting on this next hop hears of it once, the next hop first.
  std::vector<wire::Ipv4Address> told{ip};
  for (const runtime::TxFrame& f : scratch_) {
    auto dst = packet_destination(f);
    if (dst && std::find(told.begin(), told.end(), *dst) == told.end()) told.push_back(*dst);
  }
  scratch_.clear();
  for (wire::Ipv4Address dst : told)
    for (UnreachableListener* l : listeners_) l->host_unreachable(dst);
}

void ArpLayer::on_timer() {
  const sched::Instant now = sched_.now();
  for (wire::Ipv4Address ip : cache_.due(now)) {
    ArpCache::Entry* e = cache_.find(ip);
    if (!e || e->state != ArpCache::State::Incomplete) continue;  // a listener's send changed it
    if (cache_.exhausted(*e)) give_up(ip);
    else send_request(ip, *e);
  }
  cache_.sweep(now);
  rearm();
}

void ArpLayer::rearm() {
  if (auto next = cache_.next_deadline()) timer_.arm_at(*next);
  else timer_.cancel();
}

void ArpLayer::append_counters(CounterList& out) const {
  const Counters& c = counters_;
  out.push_back({"arp.requests_sent", c.requests_sent});
  out.push_back({"arp.replies_sent", c.replies_sent});
  out.push_back({"arp.gratuitous_sent", c.gratuitous_sent});
  out.push_back({"arp.requests_received", c.requests_received});
  out.push_back({"arp.replies_received", c.replies_received});
  out.push_back({"arp.learned", c.learned});
  out.push_back({"arp.updated", c.updated});
  out.push_back({"arp.resolved", c.resolved});
  out.push_back({"arp.queued", c.queued});
  out.push_back({"arp.failures", c.failures});
  out.push_back({"arp.drop.queue_full", c.drop_queue_full});
  out.push_back({"arp.drop.unresolved", c.drop_unresolved});
  out.push_back({"arp.drop.unreachable", c.drop_unreachable});
  out.push_back({"arp.drop.malformed", c.drop_malformed});
  out.push_back({"arp.drop.bad_sender", c.drop_bad_sender});
  out.push_back({"arp.drop.conflict", c.drop_conflict});
  out.push_back({"arp.tx_no_buffer", c.tx_no_buffer});
}

}  // namespace demi::net
