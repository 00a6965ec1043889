// The retransmission timeout of RFC 6298: SRTT and RTTVAR from RTT samples, RTO from them,
// clamped to [min, max]; exponential backoff (RFC 6298 5.5) on top, reset by a new sample.
#pragma once

#include <algorithm>
#include <cstdint>

#include "sched/clock.h"

namespace demi::net::tcp {

class RttEstimator {
 public:
  RttEstimator(sched::Duration initial, sched::Duration min, sched::Duration max)
      : min_(min), max_(max), rto_(std::clamp(initial, min, max)) {}

  // RFC 6298 2.2 and 2.3, with the clock granularity G of 1 ms.
  void sample(sched::Duration r) {
    if (r < sched::Duration::zero()) return;
    if (!has_sample_) {
      srtt_ = r;
      rttvar_ = r / 2;
      has_sample_ = true;
    } else {
      const sched::Duration delta = srtt_ > r ? srtt_ - r : r - srtt_;
      rttvar_ = (3 * rttvar_ + delta) / 4;
      srtt_ = (7 * srtt_ + r) / 8;
    }
    rto_ = std::clamp(srtt_ + std::max<sched::Duration>(kGranularity, 4 * rttvar_), min_, max_);
    backoff_ = 0;
  }

  // RFC 6298 5.5: the timer doubles on each expiry, up to max.
  void back_off() {
    if (backoff_ < 30) ++backoff_;
  }
  void reset_backoff() { backoff_ = 0; }

  // The timeout to arm now: RTO << backoff, at most max.
  sched::Duration timeout() const {
    sched::Duration t = rto_;
    for (int i = 0; i < backoff_ && t < max_; ++i) t *= 2;
    return std::min(t, max_);
  }
  sched::Duration rto() const { return rto_; }
  sched::Duration srtt() const { return srtt_; }
  sched::Duration rttvar() const { return rttvar_; }
  bool has_sample() const { return has_sample_; }
  int backoff() const { return backoff_; }

 private:
  static constexpr sched::Duration kGranularity = std::chrono::milliseconds(1);
  sched::Duration min_;
  sched::Duration max_;
  sched::Duration rto_;
  sched::Duration srtt_{};
  sched::Duration rttvar_{};
  bool has_sample_ = false;
  int backoff_ = 0;
};

}  // namespace demi::net::tcp
