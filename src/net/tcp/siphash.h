// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): the keyed hash
// behind initial sequence numbers (RFC 6528) and SYN cookies. A PRF with a 128-bit secret key,
// so that an off-path attacker cannot predict its output for a 4-tuple.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace demi::net::tcp {

struct SipKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
  bool operator==(const SipKey&) const = default;
};

// The 64-bit SipHash-2-4 of `data` under `key` (the reference implementation's output).
uint64_t siphash24(const SipKey& key, std::span<const std::byte> data);

// A fixed-width message builder: the fields a TCP hash covers, written little-endian.
class SipMessage {
 public:
  SipMessage& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) put(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  SipMessage& u16(uint16_t v) {
    put(static_cast<uint8_t>(v));
    put(static_cast<uint8_t>(v >> 8));
    return *this;
  }
  uint64_t hash(const SipKey& key) const { return siphash24(key, std::span<const std::byte>(bytes_.data(), n_)); }

 private:
  void put(uint8_t b) {
    if (n_ < bytes_.size()) bytes_[n_++] = static_cast<std::byte>(b);
  }
  std::array<std::byte, 32> bytes_{};
  std::size_t n_ = 0;
};

}  // namespace demi::net::tcp
