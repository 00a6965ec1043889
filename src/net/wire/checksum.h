// The Internet checksum (RFC 1071): a one's-complement sum of 16-bit words, fed in pieces
// (pseudo-header, header, payload segments), plus the RFC 1624 incremental update.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace demi::net::wire {

class Checksum {
 public:
  // Adds bytes; pieces may have odd lengths (the carry-over byte is kept between calls).
  void add(std::span<const std::byte> bytes);
  void add16(uint16_t word);
  void add32(uint32_t v) {
    add16(static_cast<uint16_t>(v >> 16));
    add16(static_cast<uint16_t>(v & 0xffff));
  }
  // The TCP/UDP pseudo-header (RFC 9293 3.1, RFC 768): addresses in host order.
  void add_pseudo_header(uint32_t src, uint32_t dst, uint8_t protocol, uint16_t length);
  // The folded 16-bit sum (0xffff over data that carries a correct checksum).
  uint16_t folded() const;
  // The value to store in a checksum field.
  uint16_t checksum() const { return static_cast<uint16_t>(~folded()); }

 private:
  uint64_t sum_ = 0;
  bool odd_ = false;  // an odd byte is pending in the low half of the next word
};

inline uint16_t internet_checksum(std::span<const std::byte> bytes) {
  Checksum c;
  c.add(bytes);
  return c.checksum();
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), when one 16-bit word m of the data becomes m'.
uint16_t checksum_adjust(uint16_t old_checksum, uint16_t old_word, uint16_t new_word);

}  // namespace demi::net::wire
