// ARP (RFC 826) for IPv4 over Ethernet: resolves next hops for the IPv4 layer, answers requests
// for our address, and learns from what it hears.
//
//  - Sending to a neighbour whose address is known is immediate. Otherwise the packet waits in
//    the neighbour's bounded queue (catnip.arp.queue_limit) while requests go out with
//    exponential backoff (catnip.arp.request_timeout_ms, doubling, catnip.arp.retries). When the
//    last wait ends unanswered, the queued packets are dropped and counted, and every
//    UnreachableListener hears of each destination they were for, so that the operations waiting
//    on them fail with EHOSTUNREACH at once rather than time out much later.
//  - Receiving follows RFC 826's algorithm: an entry for the sender is updated if there is one
//    (the merge flag); if the packet is addressed to us, the sender is added if it was not, and a
//    request is answered. Packets that could poison the table (a broadcast or multicast sender
//    address, our own IPv4 address as the sender's) are dropped and counted.
//  - On start, a gratuitous ARP announces our address (RFC 5227 2.3), and static entries from
//    the configuration are loaded as permanent.
#pragma once

#include <cstdint>
#include <vector>

#include "net/arp/arp_cache.h"
#include "net/counters.h"
#include "net/ethernet/ethernet_layer.h"
#include "net/ip_output.h"
#include "sched/scheduler.h"
#include "sched/timer.h"

namespace demi::net {

class ArpLayer final : public EthernetLayer::Receiver {
 public:
  struct Counters {
    uint64_t requests_sent = 0;
    uint64_t replies_sent = 0;
    uint64_t gratuitous_sent = 0;
    uint64_t requests_received = 0;
    uint64_t replies_received = 0;
    uint64_t learned = 0;      // entries added for a sender that addressed us
    uint64_t updated = 0;      // entries refreshed by the merge step
    uint64_t resolved = 0;     // Incomplete entries answered
    uint64_t queued = 0;       // packets that waited for a resolution
    uint64_t failures = 0;     // resolutions that ran out of retries
    uint64_t drop_queue_full = 0;
    uint64_t drop_unresolved = 0;   // queued packets dropped when their resolution failed
    uint64_t drop_unreachable = 0;  // sends refused while a neighbour is held as Failed
    uint64_t drop_malformed = 0;
    uint64_t drop_bad_sender = 0;   // broadcast/multicast sender address
    uint64_t drop_conflict = 0;     // someone else claims our IPv4 address
    uint64_t tx_no_buffer = 0;      // no buffer for a request or reply
  };

  ArpLayer(sched::Scheduler& sched, EthernetLayer& ethernet, wire::Ipv4Address self, const ArpConfig& config);
  ~ArpLayer();
  ArpLayer(const ArpLayer&) = delete;
  ArpLayer& operator=(const ArpLayer&) = delete;

  // Loads the static entries and, if configured, announces our address.
  void start();
  void add_listener(UnreachableListener* l) { listeners_.push_back(l); }

  // Sends an IPv4 packet (frame.head starts with its IP header) to the on-link neighbour
  // `next_hop`: at once if its address is known, else after resolution. 0 (sent or queued),
  // ENOBUFS (the neighbour's queue is full, or no buffer), EHOSTUNREACH (it did not answer).
  int send(wire::Ipv4Address next_hop, runtime::TxFrame frame);

  void receive(const wire::EthernetRepr& eth, mem::BufRef payload, uint32_t rx_flags) override;

  const ArpCache& cache() const { return cache_; }
  const Counters& counters() const { return counters_; }
  void append_counters(CounterList& out) const;

 private:
  int send_arp(wire::ArpOperation op, const wire::EthernetAddress& eth_dst, const wire::EthernetAddress& target_mac,
               wire::Ipv4Address target_ip);
  void send_request(wire::Ipv4Address ip, ArpCache::Entry& e);
  void on_timer();
  void rearm();
  void release(std::vector<runtime::TxFrame>& frames, const wire::EthernetAddress& mac);
  void give_up(wire::Ipv4Address ip);

  sched::Scheduler& sched_;
  EthernetLayer& ethernet_;
  wire::Ipv4Address self_;
  ArpCache cache_;
  sched::Timer timer_;
  std::vector<UnreachableListener*> listeners_;
  std::vector<runtime::TxFrame> scratch_;  // frames moving out of a queue (kept: no allocation once warm)
  Counters counters_;
};

}  // namespace demi::net
