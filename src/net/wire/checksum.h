// The Internet checksum (RFC 1071): the 16-bit one's-complement of the one's-complement sum of
// the data taken as 16-bit big-endian words. A running accumulator is fed in pieces (the TCP/UDP
// pseudo-header, the header, each payload segment of a scatter-gather chain), plus the RFC 1624
// incremental update for rewriting one word of an already-summed header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace demi::net::wire {

// Who completes a checksum on transmit. Compute: the emitter writes the final value. Offload:
// the device does, so the emitter leaves what devices expect in the field — 0 for the IPv4
// header checksum, the folded pseudo-header sum for TCP and UDP (the DPDK and Linux
// CHECKSUM_PARTIAL convention).
enum class TxChecksum : uint8_t { Compute, Offload };

class Checksum {
 public:
  // Adds bytes. Pieces may have odd lengths: a piece that starts at an odd offset of the whole
  // is summed as if aligned and then byte-swapped (RFC 1071 2(B): the sum is byte-order
  // independent), so the result equals summing the concatenation.
  void add(std::span<const std::byte> bytes);
  // Adds one big-endian word (or two) at the current position.
  void add16(uint16_t word);
  void add32(uint32_t v) {
    add16(static_cast<uint16_t>(v >> 16));
    add16(static_cast<uint16_t>(v & 0xffff));
  }
  // The IPv4 TCP/UDP pseudo-header (RFC 9293 3.1, RFC 768): source and destination address
  // (host order), zero, protocol, and the TCP/UDP length (header + payload).
  void add_pseudo_header(uint32_t src, uint32_t dst, uint8_t protocol, uint16_t length);

  // The folded 16-bit sum: 0xffff over data that carries a correct checksum.
  uint16_t folded() const;
  // The value to store in a checksum field: the complement of the folded sum.
  uint16_t checksum() const { return static_cast<uint16_t>(~folded()); }
  // True when the data summed so far includes a correct checksum field.
  bool verifies() const { return folded() == 0xffff; }

 private:
  uint64_t sum_ = 0;  // 16-bit partial sums; cannot overflow for any real amount of data
  bool odd_ = false;  // an odd number of bytes has been added: the next byte is a low byte
};

// The checksum of one span.
inline uint16_t internet_checksum(std::span<const std::byte> bytes) {
  Checksum c;
  c.add(bytes);
  return c.checksum();
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), when one 16-bit word m of the summed data becomes m'.
// (Eqn. 2 of RFC 1141 gets the 0x0000/0xffff case wrong; eqn. 3 does not.)
uint16_t checksum_adjust(uint16_t old_checksum, uint16_t old_word, uint16_t new_word);

}  // namespace demi::net::wire
