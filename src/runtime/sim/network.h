// A deterministic simulated Ethernet segment: N hosts, each a Port (a runtime::Device), joined
// by directed links that each follow a LinkProfile (loss, duplication, reordering, delay and
// jitter, corruption, bandwidth with a bounded queue, partitions).
//
// Time is the given VirtualClock's and randomness the network's own Rng, so a seed and a
// sequence of calls name a run completely: the same seed and calls give byte-identical
// deliveries (digest() hashes them), and capture() writes them to a pcap file for tshark.
//
// What happens to a frame. Port::transmit takes every frame it is given and releases the
// sender's buffers before it returns: the bytes (head and payload segments) are copied into
// buffers of the network's PacketPool, one copy per destination, so faults never touch the
// sender's memory and a receiving stack may rewrite its frame in place.
//   - A frame shorter than an Ethernet header, or longer than the sender's MTU + 14 bytes (or a
//     pool buffer), is dropped and counted in the sender's DeviceStats::tx_dropped.
//   - Unicast goes to the port with that destination MAC; broadcast and multicast (I/G bit set)
//     to every other port, in the order the hosts were added; a unicast address that no other
//     port has is dropped and counted in unknown_destination(sender).
// Then, for each destination, the link's profile is applied in this fixed order (a step that
// draws from the Rng does so only when its probability or range is non-zero):
//   1. partition: a frame sent inside a partition window is dropped;
//   2. loss: one chance(drop) draw;
//   3. queue: with a bandwidth, the frame waits for the frames ahead of it on the link and is
//      tail-dropped if the unsent backlog plus the frame would exceed queue_bytes; it leaves
//      when its last bit has been serialized;
//   4. buffer: a copy from the pool; none left is a drop (dropped_pool) and the queue is untouched;
//   5. delay: departure + delay + one range(0, jitter) draw;
//   6. reorder: one chance(reorder) draw; a hit adds reorder_delay;
//   7. partition again: a frame due to arrive inside a partition window is dropped;
//   8. duplicate: one chance(duplicate) draw; a hit makes a second copy due at the same time,
//      delivered right after the first (no copy left in the pool: dropped_pool);
//   9. corrupt: for each copy, one chance(corrupt) draw, and on a hit one uniform(8 * length)
//      draw naming the bit to flip.
// In-flight frames wait in one priority queue ordered by (delivery time, sequence number). When
// a port receives, every frame due by clock.now() moves, in that order, into its destination's
// bounded receive ring (full ring: dropped and counted): that move is the delivery, counted,
// hashed into digest() and captured. receive() then hands frames from the ring to the stack as
// RxFrames backed by the network's pool, released back to it when the stack lets them go.
//
// Memory is bounded: the pool and the rings are sized at construction and nothing is allocated
// per frame. The Network must outlive its ports and every frame they handed out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mem/packet_pool.h"
#include "runtime/device.h"
#include "runtime/sim/link_profile.h"
#include "runtime/sim/pcap_writer.h"
#include "runtime/sim/rng.h"
#include "sched/clock.h"

namespace demi::runtime::sim {

struct NetworkConfig {
  std::size_t pool_buffers = 4096;  // frames in flight, waiting in rings, or held by stacks
  std::size_t buffer_size = 2048;   // bytes per buffer: bounds the largest frame (MTU + 14)
  std::size_t rx_ring = 256;        // frames a port holds for its stack before dropping
  std::size_t tx_buffers = 256;     // per port, for alloc_tx
};

// What happened on one directed link. A broadcast counts once on each link it is offered to;
// a duplicate counts as one more delivery.
struct LinkCounters {
  uint64_t sent = 0;  // frames offered to the link
  uint64_t bytes_sent = 0;
  uint64_t delivered = 0;  // frames placed in the receiver's ring
  uint64_t bytes_delivered = 0;
  uint64_t dropped_loss = 0;
  uint64_t dropped_queue = 0;
  uint64_t dropped_partition = 0;
  uint64_t dropped_no_such_host = 0;  // only in unknown_destination() and totals()
  uint64_t dropped_ring = 0;
  uint64_t dropped_pool = 0;  // no network buffer for the frame or its duplicate
  uint64_t duplicated = 0;
  uint64_t reordered = 0;  // frames held back by reorder_delay
  uint64_t corrupted = 0;

  uint64_t dropped() const {
    return dropped_loss + dropped_queue + dropped_partition + dropped_no_such_host + dropped_ring + dropped_pool;
  }
  LinkCounters& operator+=(const LinkCounters& o);
};

class Network;

// One host's network interface: a Device with the MTU it was given and no offloads.
class Port final : public Device {
 public:
  // Only a Network makes ports.
  class Key {
    friend class Network;
    Key() = default;
  };
  Port(Key, Network& net, std::size_t index, DeviceInfo info, const NetworkConfig& config);

  const DeviceInfo& info() const override { return info_; }
  std::size_t receive(std::span<RxFrame> frames) override;
  // Takes every frame (see network.h) and leaves each TxFrame empty.
  std::size_t transmit(std::span<TxFrame> frames) override;
  mem::BufRef alloc_tx(std::size_t headroom) override { return tx_pool_.get(headroom); }
  DeviceStats stats() const override { return stats_; }

  Network& network() const { return net_; }
  std::size_t index() const { return index_; }  // order of add_host, from 0
  std::size_t rx_pending() const { return ring_count_; }
  const mem::PacketPool& tx_pool() const { return tx_pool_; }

 private:
  friend class Network;
  struct RingSlot {
    sched::Instant at;
    mem::BufRef frame;
  };
  bool ring_full() const { return ring_count_ == ring_.size(); }
  void ring_push(sched::Instant at, mem::BufRef frame);

  Network& net_;
  std::size_t index_;
  DeviceInfo info_;
  DeviceStats stats_;
  mem::PacketPool tx_pool_;
  std::vector<RingSlot> ring_;
  std::size_t ring_head_ = 0;
  std::size_t ring_count_ = 0;
};

class Network {
 public:
  Network(sched::VirtualClock& clock, uint64_t seed, NetworkConfig config = {});
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // A new host; its links to and from every other host take the default profile (clean until
  // set_profile_all). nullptr, with the reason in the log, for a MAC already present or not
  // unicast, or an MTU whose frames would not fit a pool buffer.
  Port* add_host(LinkAddress mac, std::string name, uint32_t mtu = 1500);

  // The profile of the link from -> to (one direction); ignored, with an error in the log,
  // for ports of another network or from == to.
  void set_profile(const Port* from, const Port* to, LinkProfile profile);
  // Every link, now and of hosts added later.
  void set_profile_all(const LinkProfile& profile);
  const LinkProfile& profile(const Port* from, const Port* to) const;

  // When the next frame can be received: the earliest frame waiting in a ring or in flight.
  std::optional<sched::Instant> next_delivery() const;
  // Moves every frame due by now into its port's ring. Port::receive calls it; a simulation
  // may too, to count deliveries without receiving.
  void deliver_due();

  // Writes every delivered frame to a pcap file from now on (replacing an earlier capture);
  // false when the file cannot be created.
  bool capture(const std::string& path);
  void stop_capture();

  // FNV-1a (64-bit) over every delivery: time, destination port index, length and bytes.
  uint64_t digest() const { return digest_; }

  LinkCounters counters(const Port* from, const Port* to) const;
  // Frames from `from` to a unicast MAC that no other port has.
  LinkCounters unknown_destination(const Port* from) const;
  // The sum over every link and unknown destination.
  LinkCounters totals() const;

  std::size_t hosts() const { return ports_.size(); }
  Port* host(std::size_t index) const { return index < ports_.size() ? ports_[index].get() : nullptr; }
  std::size_t in_flight() const { return in_flight_.size(); }
  const mem::PacketPool& pool() const { return pool_; }
  sched::VirtualClock& clock() const { return clock_; }
  uint64_t seed() const { return seed_; }
  const NetworkConfig& config() const { return config_; }

 private:
  friend class Port;
  struct Link {
    LinkProfile profile;
    LinkCounters counters;
    sched::Instant tx_free{};  // when the link finishes serializing what it holds
  };
  struct InFlight {
    sched::Instant at;
    uint64_t seq;
    uint32_t from;
    uint32_t to;
    mem::BufRef frame;
  };
  // Heap order: the earliest (time, sequence) on top.
  static bool later(const InFlight& a, const InFlight& b) { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }

  bool owns(const Port* p) const { return p && &p->net_ == this && p->index_ < ports_.size(); }
  Link& link(std::size_t from, std::size_t to) { return links_[from * ports_.size() + to]; }
  const Link& link(std::size_t from, std::size_t to) const { return links_[from * ports_.size() + to]; }
  void send(Port& from, const TxFrame& frame);
  void offer(std::size_t from, std::size_t to, const TxFrame& frame, std::size_t length);
  mem::BufRef copy_out(const TxFrame& frame, std::size_t length);
  void maybe_corrupt(const LinkProfile& p, LinkCounters& c, mem::BufRef& frame);
  void schedule(sched::Instant at, std::size_t from, std::size_t to, mem::BufRef frame);
  void hash(sched::Instant at, std::size_t to, std::span<const std::byte> bytes);

  sched::VirtualClock& clock_;
  uint64_t seed_;
  NetworkConfig config_;
  Rng rng_;
  // Declared before everything that holds its buffers, so it is destroyed after them.
  mem::PacketPool pool_;
  LinkProfile default_profile_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::vector<Link> links_;            // [from * hosts + to]
  std::vector<LinkCounters> unknown_;  // per sender
  std::vector<InFlight> in_flight_;    // a binary heap (std::push_heap with later)
  uint64_t next_seq_ = 0;
  uint64_t digest_;
  std::unique_ptr<PcapWriter> capture_;
};

}  // namespace demi::runtime::sim
