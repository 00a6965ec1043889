// How one direction of a simulated link between two hosts misbehaves.
//
// A profile is plain data: the Network applies it to every frame offered to the link, in the
// order documented in network.h, drawing from the network's Rng. Probabilities are doubles in
// [0, 1]; Rng::chance turns them into exact integer thresholds, so a profile means the same
// thing on every platform.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "sched/clock.h"

namespace demi::runtime::sim {

// Virtual time [start, end) during which the link carries nothing.
struct Partition {
  sched::Instant start;
  sched::Instant end;
  bool contains(sched::Instant t) const { return start <= t && t < end; }
};

struct LinkProfile {
  double drop = 0.0;       // each frame is lost with this probability
  double duplicate = 0.0;  // a second copy is delivered right after the first
  double reorder = 0.0;    // the frame is held back by reorder_delay, so later frames overtake it
  sched::Duration reorder_delay{};
  sched::Duration delay{};   // propagation delay, after serialization
  sched::Duration jitter{};  // plus a uniform extra in [0, jitter] nanoseconds
  double corrupt = 0.0;      // one uniformly chosen bit of the frame is flipped
  // Serialization: a frame of n bytes holds the link for ceil(8 n / bandwidth_bps) seconds.
  // Frames queue behind it; a frame that would push the unsent backlog above queue_bytes is
  // dropped (tail drop). bandwidth_bps == 0: infinitely fast, no queue. queue_bytes == 0 with a
  // bandwidth: an unbounded queue.
  uint64_t bandwidth_bps = 0;
  uint64_t queue_bytes = 0;
  // Windows of virtual time in which every frame sent, or due to arrive, is dropped.
  std::vector<Partition> partitions;

  bool partitioned(sched::Instant t) const {
    for (const Partition& p : partitions) {
      if (p.contains(t)) {
        return true;
      }
    }
    return false;
  }

  // The presets, named as in the simulation tests (profile_by_name). All but `slow` have a
  // 100 us propagation delay and nothing else unless stated:
  //   clean      no faults
  //   loss1/5/20 1%, 5%, 20% of frames lost
  //   reorder    10% of frames held back by 1 ms (plus 20 us of jitter on every frame)
  //   dup        5% of frames duplicated
  //   corrupt    2% of frames with one bit flipped
  //   slow       10 Mbit/s with a 64 KiB queue and 1 ms delay
  //   partition  nothing passes from 1 s to 3 s of virtual time; clean before and after
  static LinkProfile clean();
  static LinkProfile loss(double rate);
  static LinkProfile reordering();
  static LinkProfile duplicating();
  static LinkProfile corrupting();
  static LinkProfile slow();
  static LinkProfile partitioned_window();
};

// The preset with that name, or nothing for an unknown name.
std::optional<LinkProfile> profile_by_name(std::string_view name);
// Every preset name, in the order listed above.
std::span<const std::string_view> profile_names();

}  // namespace demi::runtime::sim
