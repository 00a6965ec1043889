// A received TCP segment as a connection sees it: the parsed header (wire::TcpRepr), the IPv4
// addresses it came with, and its payload as a view of the receive buffer. Plus the sequence
// arithmetic helpers the TCP code uses on top of wire::SeqNumber.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mem/buffer.h"
#include "net/wire/ipv4.h"
#include "net/wire/tcp.h"

namespace demi::net::tcp {

using wire::Ipv4Address;
using wire::SackBlock;
using wire::SeqNumber;
using wire::TcpRepr;
using wire::TcpTimestamps;

// Control bits (RFC 9293 3.1).
inline constexpr uint8_t kFin = wire::TcpFlags::FIN;
inline constexpr uint8_t kSyn = wire::TcpFlags::SYN;
inline constexpr uint8_t kRst = wire::TcpFlags::RST;
inline constexpr uint8_t kPsh = wire::TcpFlags::PSH;
inline constexpr uint8_t kAck = wire::TcpFlags::ACK;
inline constexpr uint8_t kUrg = wire::TcpFlags::URG;

// Sequence arithmetic (RFC 9293 3.4, modulo 2^32) with byte counts of any width.
inline int32_t seq_diff(SeqNumber a, SeqNumber b) {
  return a - b;
}
inline SeqNumber seq_add(SeqNumber a, std::size_t n) {
  return a + static_cast<uint32_t>(n);
}
inline bool seq_lt(SeqNumber a, SeqNumber b) {
  return a < b;
}
inline bool seq_le(SeqNumber a, SeqNumber b) {
  return a <= b;
}
inline bool seq_gt(SeqNumber a, SeqNumber b) {
  return a > b;
}
inline bool seq_ge(SeqNumber a, SeqNumber b) {
  return a >= b;
}
inline SeqNumber seq_max(SeqNumber a, SeqNumber b) {
  return SeqNumber::max(a, b);
}
inline SeqNumber seq_min(SeqNumber a, SeqNumber b) {
  return SeqNumber::min(a, b);
}
// a <= x < b, modulo 2^32.
inline bool seq_in(SeqNumber x, SeqNumber a, SeqNumber b) {
  return a <= x && x < b;
}

inline constexpr std::size_t kTimestampOptionLen = 12;  // with its two NOPs

struct TcpSegment {
  Ipv4Address src{};
  Ipv4Address dst{};
  TcpRepr h;
  mem::BufRef payload;  // empty when there is no data

  bool has(uint8_t f) const { return (h.flags & f) != 0; }
  std::size_t data_len() const { return payload ? payload.size() : 0; }
  // SEG.LEN: data plus SYN and FIN (RFC 9293 3.4).
  uint32_t seg_len() const { return static_cast<uint32_t>(data_len() + (has(kSyn) ? 1 : 0) + (has(kFin) ? 1 : 0)); }
};

}  // namespace demi::net::tcp
