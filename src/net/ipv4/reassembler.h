// IPv4 fragment reassembly (RFC 791 3.2, with RFC 815's observation that a datagram is whole
// when its fragments, none overlapping, add up to its length).
//
// Fragments are kept as they arrived, as views of the receive buffers: a reassembled datagram
// is a chain of those views, handed up without copying. Three bounds keep an attacker (or a lossy
// link) from pinning memory:
//  - a timeout per datagram (catnip.ipv4.reassembly_timeout_ms), counted from its first fragment;
//  - a limit on the buffer memory all incomplete datagrams hold together
//    (catnip.ipv4.reassembly_memory), counted as the full capacity of each buffer held, since
//    that is what the device's pool loses; the oldest datagrams are dropped to make room;
//  - overlapping fragments drop the whole datagram (in the spirit of RFC 5722 and of Linux since
//    CVE-2018-5391): no legitimate sender overlaps, and rewriting bytes already received is how
//    filters are evaded. An exact duplicate (same offset and length) only drops itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "mem/buffer.h"
#include "net/counters.h"
#include "sched/scheduler.h"
#include "sched/timer.h"

namespace demi::net {

// What names a datagram (RFC 791: source, destination, protocol, identification).
struct FragmentKey {
  uint32_t src = 0;
  uint32_t dst = 0;
  uint16_t ident = 0;
  uint8_t protocol = 0;
  bool operator==(const FragmentKey&) const = default;
};

class Reassembler {
 public:
  struct Counters {
    uint64_t fragments = 0;        // fragments offered
    uint64_t reassembled = 0;      // datagrams completed
    uint64_t drop_overlap = 0;     // datagrams dropped for overlapping fragments
    uint64_t drop_duplicate = 0;   // fragments identical in place to one already held
    uint64_t drop_inconsistent = 0;  // datagrams dropped: two last fragments, or data past the end
    uint64_t drop_bad_fragment = 0;  // fragments empty, not a multiple of 8 bytes, or past 64 KiB
    uint64_t drop_timeout = 0;     // datagrams that did not complete in time
    uint64_t drop_evicted = 0;     // datagrams dropped to make room under the memory limit
    uint64_t drop_no_memory = 0;   // fragments that could not fit under the limit at all
  };

  // A completed datagram: the first fragment's IP header and the payload as a chain of views.
  // Valid until the next call to add().
  struct Datagram {
    std::span<const std::byte> header;
    std::span<mem::BufRef> parts;
    std::size_t length = 0;  // payload bytes
  };

  // Told about a datagram that timed out after its first fragment came (for ICMP time exceeded,
  // RFC 792): that fragment's IP header and payload.
  using TimeoutHandler = std::function<void(std::span<const std::byte> header, const mem::BufRef& payload)>;

  Reassembler(sched::Scheduler& sched, sched::Duration timeout, std::size_t memory_limit);
  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  void set_timeout_handler(TimeoutHandler h) { on_timeout_ = std::move(h); }

  // Adds one fragment: `offset` in bytes, `more` its MF flag, `header` its IP header, `payload`
  // its data. Returns the datagram when this fragment completes it.
  std::optional<Datagram> add(const FragmentKey& key, uint32_t offset, bool more, std::span<const std::byte> header,
                              mem::BufRef payload);

  std::size_t memory() const { return memory_; }
  std::size_t pending() const;  // incomplete datagrams
  const Counters& counters() const { return counters_; }
  void append_counters(CounterList& out) const;

 private:
  struct Fragment {
    uint32_t offset = 0;
    mem::BufRef data;
    uint32_t end() const { return offset + static_cast<uint32_t>(data.size()); }
  };
  struct Slot {
    bool used = false;
    FragmentKey key;
    sched::Instant created{};
    sched::Instant deadline{};
    uint32_t total = 0;  // payload length, known once the last fragment came
    bool have_last = false;
    uint32_t received = 0;
    std::size_t memory = 0;
    std::vector<Fragment> fragments;  // sorted by offset, disjoint; capacity kept across reuse
    std::array<std::byte, 60> header{};
    uint8_t header_len = 0;  // 0 until the first fragment came
  };

  static std::size_t cost(const mem::BufRef& b) { return b.block() ? b.block()->capacity : b.size(); }
  Slot* find(const FragmentKey& key);
  Slot* take_slot(const FragmentKey& key);
  void drop(Slot& s);
  bool make_room(std::size_t need, const Slot* keep);
  void on_timer();
  void rearm();

  sched::Scheduler& sched_;
  sched::Duration timeout_;
  std::size_t limit_;
  std::size_t memory_ = 0;
  std::vector<Slot> slots_;
  sched::Timer timer_;
  TimeoutHandler on_timeout_;
  std::vector<mem::BufRef> done_parts_;
  std::array<std::byte, 60> done_header_{};
  Counters counters_;
};

}  // namespace demi::net
