// The neighbour table of ARP (RFC 826): which Ethernet address each on-link IPv4 address has,
// for how long that answer may be used, and what waits while an address is being resolved.
//
// An entry is in one of four states:
//   Incomplete  a request is out; packets for the address wait in a bounded queue, and requests
//               are sent again with exponential backoff until the retries run out;
//   Reachable   the address is known until `deadline` (catnip.arp.entry_timeout_ms after it was
//               last learned or confirmed);
//   Failed      nobody answered: sends fail with EHOSTUNREACH until `deadline`
//               (catnip.arp.failure_hold_ms), then the address is tried afresh;
//   Permanent   from the configuration (catnip.arp.static): never expires, never overwritten.
// The table only keeps state and answers questions; ArpLayer sends the packets and runs the timer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "net/wire/arp.h"
#include "net/wire/ethernet.h"
#include "net/wire/ipv4.h"
#include "runtime/device.h"
#include "sched/clock.h"

namespace demi::net {

struct ArpConfig {
  sched::Duration entry_timeout = std::chrono::seconds(60);
  sched::Duration request_timeout = std::chrono::milliseconds(250);  // doubles after every retry
  uint32_t retries = 3;                                               // requests after the first
  sched::Duration failure_hold = std::chrono::seconds(1);
  std::size_t queue_limit = 64;  // packets per Incomplete entry: the 45 fragments of a 65,507 B datagram fit
  bool gratuitous = true;
  std::vector<std::pair<wire::Ipv4Address, wire::EthernetAddress>> static_entries;
};

class ArpCache {
 public:
  enum class State : uint8_t { Incomplete, Reachable, Failed, Permanent };

  struct Entry {
    State state = State::Incomplete;
    wire::EthernetAddress mac{};
    // Reachable / Failed: when the entry expires. Incomplete: when the next request is due (or,
    // after the last one, when resolution fails).
    sched::Instant deadline{};
    uint32_t requests = 0;                // Incomplete: requests sent so far
    std::vector<runtime::TxFrame> queue;  // Incomplete: packets waiting, oldest first
  };

  explicit ArpCache(const ArpConfig& config) : config_(config) {}

  // The Ethernet address to send to `ip` with at `now`, if the table knows a current one.
  std::optional<wire::EthernetAddress> lookup(wire::Ipv4Address ip, sched::Instant now) const;
  // True while `ip` is held as unreachable after a failed resolution.
  bool failed(wire::Ipv4Address ip, sched::Instant now) const;

  // Starts resolving `ip` (its first request is due at once, see due()): a new Incomplete entry,
  // replacing an expired one. Returns the entry, which may already have been Incomplete.
  Entry& resolve(wire::Ipv4Address ip, sched::Instant now);

  // RFC 826's merge step: if `ip` is in the table (and not Permanent), its address is updated and
  // the entry becomes Reachable. Returns true if `ip` was in the table ("merge flag"), and moves
  // the packets that were waiting for it into *released.
  bool merge(wire::Ipv4Address ip, const wire::EthernetAddress& mac, sched::Instant now,
             std::vector<runtime::TxFrame>* released);
  // Adds a Reachable entry for an address that was not in the table.
  void add(wire::Ipv4Address ip, const wire::EthernetAddress& mac, sched::Instant now);
  void add_permanent(wire::Ipv4Address ip, const wire::EthernetAddress& mac);

  // An Incomplete entry's request went out at `now`: counts it and sets when the next is due.
  void request_sent(Entry& e, sched::Instant now) const;
  // True when an Incomplete entry has sent every request it may and its last wait is over.
  bool exhausted(const Entry& e) const { return e.requests > config_.retries; }
  // Resolution of `ip` failed: its queue moves into *dropped and it becomes Failed (or is erased
  // at once when failure_hold is zero).
  void fail(wire::Ipv4Address ip, sched::Instant now, std::vector<runtime::TxFrame>* dropped);

  // The Incomplete entries whose deadline has come, in address order (deterministic).
  std::vector<wire::Ipv4Address> due(sched::Instant now) const;
  // The earliest deadline of an Incomplete entry.
  std::optional<sched::Instant> next_deadline() const;
  // Erases Reachable and Failed entries that have expired. Returns how many went.
  std::size_t sweep(sched::Instant now);

  Entry* find(wire::Ipv4Address ip);
  const Entry* find(wire::Ipv4Address ip) const;
  std::size_t size() const { return entries_.size(); }
  const ArpConfig& config() const { return config_; }

 private:
  static uint32_t key(wire::Ipv4Address ip);
  ArpConfig config_;
  std::unordered_map<uint32_t, Entry> entries_;
};

const char* arp_state_name(ArpCache::State s);

}  // namespace demi::net
