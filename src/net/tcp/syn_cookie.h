// SYN cookies: when a listener's SYN queue is full, the SYN,ACK carries the connection's state
// in its ISN instead of in memory, and the ACK that completes the handshake brings it back.
//
// Layout of the cookie ISN (32 bits):
//   bits 31..27  t mod 32, t = time / 64 s: a cookie is valid for the period it was made in
//                and the next (64 to 128 s)
//   bits 26..25  an index into kMssTable: the largest entry not above the peer's MSS
//   bits 24..0   SipHash-2-4(cookie key, 4-tuple, t, peer ISN), low 25 bits
//
// Window scale and SACK-permitted cannot fit there. When the peer offered timestamps, they ride
// in the low 5 bits of our TSval (as Linux does): bits 3..0 our peer's window shift (15 = no
// window scaling), bit 4 SACK permitted; the peer echoes them in TSecr. Without timestamps a
// cookie connection has neither window scaling nor SACK. Our own window shift on a cookie
// connection is the one we would have announced.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

#include "net/tcp/four_tuple.h"
#include "net/tcp/siphash.h"
#include "sched/clock.h"

namespace demi::net::tcp {

class SynCookie {
 public:
  static constexpr std::array<uint16_t, 4> kMssTable = {536, 1220, 1440, 1460};
  static constexpr uint32_t kTsOptionBits = 5;
  static constexpr uint32_t kTsOptionMask = (1u << kTsOptionBits) - 1;
  static constexpr uint8_t kNoWindowScale = 15;

  explicit SynCookie(SipKey key) : key_(key) {}

  // The ISN of a cookie SYN,ACK for a SYN with sequence number `peer_isn` and MSS `peer_mss`.
  uint32_t make(const FourTuple& t, uint32_t peer_isn, uint16_t peer_mss, sched::Instant now) const {
    const uint32_t period = period_of(now);
    uint32_t idx = 0;
    for (uint32_t i = 0; i < kMssTable.size(); ++i)
      if (kMssTable[i] <= peer_mss) idx = i;
    return (period & 31u) << 27 | idx << 25 | (mac(t, period & 31u, peer_isn) & 0x1ffffffu);
  }

  // Checks the ACK number of a handshake-completing ACK (`cookie` = SEG.ACK - 1) against the
  // SYN's sequence number (`peer_isn` = SEG.SEQ - 1). The MSS it encoded, or nothing.
  std::optional<uint16_t> check(const FourTuple& t, uint32_t cookie, uint32_t peer_isn, sched::Instant now) const {
    const uint32_t made = cookie >> 27;
    const uint32_t current = period_of(now) & 31u;
    const uint32_t age = (current - made) & 31u;
    if (age > 1) return std::nullopt;
    if ((mac(t, made, peer_isn) & 0x1ffffffu) != (cookie & 0x1ffffffu)) return std::nullopt;
    return kMssTable[(cookie >> 25) & 3u];
  }

  // The low TSval bits that carry the peer's window shift and SACK-permitted.
  static uint32_t encode_options(std::optional<uint8_t> peer_wscale, bool sack) {
    const uint32_t ws = peer_wscale ? std::min<uint32_t>(*peer_wscale, 14) : kNoWindowScale;
    return ws | (sack ? 1u << 4 : 0u);
  }
  static void decode_options(uint32_t tsecr, std::optional<uint8_t>& peer_wscale, bool& sack) {
    const uint32_t ws = tsecr & 0xf;
    peer_wscale = ws == kNoWindowScale ? std::nullopt : std::optional<uint8_t>(static_cast<uint8_t>(ws));
    sack = (tsecr & (1u << 4)) != 0;
  }

 private:
  static uint32_t period_of(sched::Instant now) {
    return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() / 64);
  }
  uint32_t mac(const FourTuple& t, uint32_t period, uint32_t peer_isn) const {
    return static_cast<uint32_t>(SipMessage{}
                                     .u32(t.local_addr.to_u32())
                                     .u16(t.local_port)
                                     .u32(t.remote_addr.to_u32())
                                     .u16(t.remote_port)
                                     .u32(period)
                                     .u32(peer_isn)
                                     .hash(key_));
  }

  SipKey key_;
};

}  // namespace demi::net::tcp
