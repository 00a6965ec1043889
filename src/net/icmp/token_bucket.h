// A token bucket: at most `burst` events at once, refilled at `rate` tokens per second. ICMP
// errors are limited with it (RFC 1812 4.3.2.8, RFC 4443 2.4(f)), so that a flood of packets to
// closed ports cannot turn the stack into a flood of replies.
#pragma once

#include <algorithm>
#include <cstdint>

#include "sched/clock.h"

namespace demi::net {

class TokenBucket {
 public:
  // `rate` tokens per second (0: never any token), `burst` the most held at once. Starts full.
  TokenBucket(uint64_t rate, uint64_t burst, sched::Instant now)
      : rate_(rate), burst_(burst), tokens_(rate ? burst * kScale : 0), last_(now) {}

  // Takes one token if there is one.
  bool take(sched::Instant now) {
    refill(now);
    if (tokens_ < kScale) return false;
    tokens_ -= kScale;
    return true;
  }

  // Whole tokens available at `now`.
  uint64_t available(sched::Instant now) {
    refill(now);
    return tokens_ / kScale;
  }

 private:
  // Tokens are counted in billionths so that a refill over any number of nanoseconds is exact.
  static constexpr uint64_t kScale = 1'000'000'000;

  void refill(sched::Instant now) {
    if (now <= last_) return;
    const auto elapsed = static_cast<uint64_t>((now - last_).count());
    const uint64_t cap = burst_ * kScale;
    // rate * elapsed_ns is the refill in billionths of a token; clamp before it can overflow.
    const unsigned __int128 add = static_cast<unsigned __int128>(rate_) * elapsed;
    tokens_ = add >= cap - tokens_ ? cap : tokens_ + static_cast<uint64_t>(add);
    last_ = now;
  }

  uint64_t rate_;
  uint64_t burst_;
  uint64_t tokens_;  // in billionths of a token
  sched::Instant last_;
};

}  // namespace demi::net
