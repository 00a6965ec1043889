#include "net/tcp/congestion/hystart.h"

#include <algorithm>

namespace demi::net::tcp {

sched::Duration HyStartPlusPlus::rtt_threshold(sched::Duration last_round_min) {
  return std::clamp(last_round_min / kMinRttDivisor, kMinRttThresh, kMaxRttThresh);
}

HyStartPlusPlus::Verdict HyStartPlusPlus::on_ack(uint32_t bytes_acked, uint32_t flight, sched::Duration rtt) {
  if (phase_ != Phase::SlowStart && phase_ != Phase::Css) return Verdict::Grow;
  const uint64_t una_before = acked_;
  acked_ += bytes_acked;
  // RFC 9406 4.2: a round ends when SND.UNA passes windowEnd; the next one runs to what is
  // SND.NXT now, and keeps its own minimum RTT.
  if (!round_started_ || acked_ > window_end_) {
    round_started_ = true;
    window_end_ = una_before + flight;
    last_round_min_ = current_round_min_;
    current_round_min_ = kInfinite;
    samples_ = 0;
    if (phase_ == Phase::Css && ++css_rounds_ >= kCssRounds) {
      // RFC 9406 4.2: CSS_ROUNDS rounds in CSS without the RTT falling back: enter congestion
      // avoidance (the controller sets ssthresh = cwnd).
      phase_ = Phase::Done;
      return Verdict::Exit;
    }
  }
  if (rtt > sched::Duration::zero()) {
    current_round_min_ = std::min(current_round_min_, rtt);
    ++samples_;
  }
  if (samples_ >= kNRttSample && current_round_min_ != kInfinite) {
    if (phase_ == Phase::SlowStart) {
      if (last_round_min_ != kInfinite && current_round_min_ >= last_round_min_ + rtt_threshold(last_round_min_)) {
        // The RTT rose by the threshold within one round: the bottleneck queue is building.
        css_baseline_ = current_round_min_;
        css_rounds_ = 0;
        phase_ = Phase::Css;
      }
    } else if (current_round_min_ < css_baseline_) {
      // RFC 9406 4.2: the rise was spurious; back to slow start.
      css_baseline_ = kInfinite;
      phase_ = Phase::SlowStart;
    }
  }
  return phase_ == Phase::Css ? Verdict::GrowCss : Verdict::Grow;
}

}  // namespace demi::net::tcp
