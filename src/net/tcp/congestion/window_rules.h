// The standard window rules every controller shares (RFC 5681, RFC 6928, RFC 3465): the initial
// and loss windows, the ssthresh floor, and slow start with Appropriate Byte Counting. NewReno is
// these rules plus byte-counted congestion avoidance; CUBIC replaces only congestion avoidance and
// the decrease factor.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace demi::net::tcp::window_rules {

// cwnd never grows past 1 GiB, so that cwnd plus the connection's recovery inflation, and
// CUBIC's 1.5 * cwnd cap, always fit in a uint32_t. No real path needs more.
inline constexpr uint32_t kMaxCwnd = uint32_t{1} << 30;

// RFC 5681 3.1: "the initial value of ssthresh SHOULD be set arbitrarily high".
inline constexpr uint32_t kInitialSsthresh = std::numeric_limits<uint32_t>::max();

// SMSS as the controllers use it: the MSS option is 16 bits, and zero would divide by zero.
constexpr uint32_t clamp_mss(uint32_t mss) {
  return std::clamp<uint32_t>(mss, 1, 65535);
}

// RFC 6928 2: IW = min(10 * SMSS, max(2 * SMSS, 14600)).
constexpr uint32_t initial_window(uint32_t mss) {
  return std::min(10 * mss, std::max(2 * mss, uint32_t{14600}));
}

// RFC 5681 3.1 eq. 4: ssthresh is never set below 2 * SMSS.
constexpr uint32_t min_ssthresh(uint32_t mss) {
  return 2 * mss;
}

// RFC 5681 3.1: after a retransmission timeout cwnd is the loss window, one full-sized segment.
constexpr uint32_t loss_window(uint32_t mss) {
  return mss;
}

// RFC 3465 2.2: in slow start cwnd grows by min(bytes acked, L) per ACK, L = 2 * SMSS; a larger
// L would let one stretch ACK (or an ACK that fills a hole) release a line-rate burst.
constexpr uint32_t abc_limit(uint32_t mss) {
  return 2 * mss;
}

// RFC 5681 3.1 slow start with RFC 3465 byte counting, never past ssthresh. Returns the bytes of
// this ACK left over once cwnd reached ssthresh: the caller counts them in congestion avoidance
// (RFC 5681 leaves the cwnd == ssthresh case to the implementation; this way an ACK that crosses
// the threshold is split between the two phases, as Linux does).
//
// `divisor` slows the growth down: HyStart++'s Conservative Slow Start (RFC 9406 4.2) grows by
// min(bytes acked, L) / CSS_GROWTH_DIVISOR.
inline uint32_t slow_start(uint32_t& cwnd, uint32_t ssthresh, uint32_t bytes_acked, uint32_t mss,
                           uint32_t divisor = 1) {
  const uint64_t grown = uint64_t{cwnd} + std::min(bytes_acked, abc_limit(mss)) / std::max<uint32_t>(divisor, 1);
  const uint64_t cap = std::min<uint64_t>(ssthresh, kMaxCwnd);
  if (grown < cap) {
    cwnd = static_cast<uint32_t>(grown);
    return 0;
  }
  const uint32_t used = cwnd < cap ? static_cast<uint32_t>(cap) - cwnd : 0;
  cwnd = std::max(cwnd, static_cast<uint32_t>(cap));
  return bytes_acked > used ? bytes_acked - used : 0;
}

// Rescales a byte count kept "in segments" when SMSS changes: bytes * new_mss / old_mss.
constexpr uint32_t rescale(uint32_t bytes, uint32_t old_mss, uint32_t new_mss) {
  const uint64_t scaled = uint64_t{bytes} * new_mss / old_mss;
  return static_cast<uint32_t>(std::min<uint64_t>(scaled, kMaxCwnd));
}

}  // namespace demi::net::tcp::window_rules
