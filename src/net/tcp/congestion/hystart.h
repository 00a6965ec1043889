// HyStart++ (RFC 9406): leaves the initial slow start before it overshoots the path.
//
// Standard slow start doubles the window each round trip until a loss; on a path whose
// bottleneck queue holds about one BDP, the last doubling sends a full window beyond what the
// path and the queue hold, and half of that round's segments are dropped (demi-simbench goodput
// at 100 Mbit/s, 10 ms: 86 tail drops in one round). HyStart++ watches the minimum RTT of each
// round; when it rises by more than a threshold, the queue is filling, and slow start gives way
// to Conservative Slow Start (CSS): growth divided by CSS_GROWTH_DIVISOR for up to CSS_ROUNDS
// rounds, then congestion avoidance with ssthresh = cwnd. An RTT that falls back below the
// baseline during CSS means the rise was noise: slow start resumes.
//
// Both controllers use it for the initial slow start only (RFC 9406 4.3: later slow starts have
// the ssthresh a loss taught them); a loss or a timeout ends it for the connection. Rounds are
// counted in bytes acknowledged: a round ends when the bytes in flight at its start have been
// acknowledged (windowEnd = SND.NXT at the start of the round). The controller tells it each ACK
// in slow start; it says how slow start is to grow.
#pragma once

#include <chrono>
#include <cstdint>

#include "sched/clock.h"

namespace demi::net::tcp {

class HyStartPlusPlus {
 public:
  // RFC 9406 4.3, the recommended values.
  static constexpr sched::Duration kMinRttThresh = std::chrono::milliseconds(4);
  static constexpr sched::Duration kMaxRttThresh = std::chrono::milliseconds(16);
  static constexpr int kMinRttDivisor = 8;
  static constexpr uint32_t kNRttSample = 8;
  static constexpr uint32_t kCssGrowthDivisor = 4;
  static constexpr uint32_t kCssRounds = 5;

  enum class Phase : uint8_t {
    Off,        // not used on this connection: standard slow start
    SlowStart,  // standard slow start, watching the RTT
    Css,        // Conservative Slow Start
    Done,       // left to congestion avoidance, or ended by a loss: standard slow start from now on
  };
  // What the controller does with this ACK.
  enum class Verdict : uint8_t {
    Grow,     // slow start growth
    GrowCss,  // slow start growth divided by kCssGrowthDivisor
    Exit,     // CSS is over: ssthresh = cwnd, congestion avoidance from this ACK on
  };

  explicit HyStartPlusPlus(bool enabled) : phase_(enabled ? Phase::SlowStart : Phase::Off) {}

  // An ACK of new data while cwnd < ssthresh: `flight` is the bytes in flight before it, `rtt` a
  // fresh sample or zero.
  Verdict on_ack(uint32_t bytes_acked, uint32_t flight, sched::Duration rtt);
  // A congestion event (loss, ECN, timeout): HyStart++ is over for this connection.
  void stop() {
    if (phase_ != Phase::Off) phase_ = Phase::Done;
  }

  Phase phase() const { return phase_; }
  uint32_t css_rounds() const { return css_rounds_; }
  sched::Duration css_baseline_min_rtt() const { return css_baseline_; }
  // The RTT threshold of RFC 9406 4.2: lastRoundMinRTT / 8, within [4 ms, 16 ms].
  static sched::Duration rtt_threshold(sched::Duration last_round_min);

 private:
  static constexpr sched::Duration kInfinite = sched::Duration::max();

  Phase phase_;
  uint64_t acked_ = 0;       // bytes acknowledged through on_ack: our SND.UNA
  uint64_t window_end_ = 0;  // SND.NXT when the current round began, in the same count
  bool round_started_ = false;
  sched::Duration last_round_min_ = kInfinite;
  sched::Duration current_round_min_ = kInfinite;
  sched::Duration css_baseline_ = kInfinite;
  uint32_t samples_ = 0;
  uint32_t css_rounds_ = 0;
};

}  // namespace demi::net::tcp
