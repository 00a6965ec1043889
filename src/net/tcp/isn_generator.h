// Initial sequence numbers (RFC 6528 3): ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey), M a timer ticking every 4 microseconds and F SipHash-2-4 under the stack's secret,
// so that ISNs of one 4-tuple keep increasing across incarnations while an off-path attacker
// cannot guess them. The same hash gives each connection its timestamp offset (RFC 7323 5.4),
// and a second key makes SYN cookies.
#pragma once

#include <cstdint>

#include "net/tcp/four_tuple.h"
#include "net/tcp/siphash.h"
#include "sched/clock.h"

namespace demi::net::tcp {

class IsnGenerator {
 public:
  explicit IsnGenerator(SipKey secret) : key_(secret) {}

  uint32_t isn(const FourTuple& t, sched::Instant now) const {
    const auto m = static_cast<uint32_t>(sched::to_us(now.time_since_epoch()) / 4);
    return m + static_cast<uint32_t>(hash(t, 0x49534e));  // "ISN"
  }
  // A per-connection offset for TSval (RFC 7323 5.4), a function of the 4-tuple so that a SYN
  // cookie connection finds the same one.
  uint32_t ts_offset(const FourTuple& t) const { return static_cast<uint32_t>(hash(t, 0x545356)); }  // "TSV"

  uint64_t hash(const FourTuple& t, uint32_t purpose) const {
    return SipMessage{}
        .u32(purpose)
        .u32(t.local_addr.to_u32())
        .u16(t.local_port)
        .u32(t.remote_addr.to_u32())
        .u16(t.remote_port)
        .hash(key_);
  }

 private:
  SipKey key_;
};

}  // namespace demi::net::tcp
