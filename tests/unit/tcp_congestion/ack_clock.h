// Test driver: feeds a congestion controller the ACKs of a sender that always has data, one
// round trip at a time. The window in flight at the start of a round comes back during that
// round as ACKs of `segments_per_ack` SMSS each, spread evenly over the RTT, each with an RTT
// sample. Time is virtual: only the Instants passed to the controller.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "net/tcp/congestion/congestion_control.h"
#include "sched/clock.h"

namespace demi::net::tcp::test {

using namespace std::chrono_literals;

struct AckClock {
  CongestionControl& cc;
  uint32_t mss;
  sched::Duration rtt;
  sched::Instant now{};
  uint32_t segments_per_ack = 1;

  // One round trip; returns the bytes acknowledged.
  uint64_t round() {
    const uint32_t flight = cc.cwnd();
    const uint32_t per_ack = segments_per_ack * mss;
    const uint32_t acks = std::max<uint32_t>(1, flight / per_ack);
    const sched::Instant start = now;
    for (uint32_t i = 0; i < acks; ++i) {
      cc.on_ack(per_ack, flight, rtt, start + rtt * (i + 1) / acks);
    }
    now = start + rtt;
    return uint64_t{acks} * per_ack;
  }
  void rounds(int n) {
    for (int i = 0; i < n; ++i) {
      round();
    }
  }
  // ACKs `segments` segments one by one at the current time (to grow a window quickly).
  void ack_segments(uint32_t segments) {
    for (uint32_t i = 0; i < segments; ++i) {
      cc.on_ack(mss, cc.cwnd(), sched::Duration::zero(), now);
    }
  }
};

inline sched::Instant at(double seconds) {
  return sched::Instant{std::chrono::duration_cast<sched::Duration>(std::chrono::duration<double>(seconds))};
}

}  // namespace demi::net::tcp::test
