// Big-endian (network order, RFC 1700 "Data Notations") field access. Headers are read and
// written field by field through these, never by casting a packed struct over the bytes: the
// bytes of a received frame have no alignment guarantee, and a struct cast would break strict
// aliasing. Offsets are checked by the caller (each view checks its length once); the span's
// own bounds assertions catch mistakes in debug builds (_GLIBCXX_ASSERTIONS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace demi::net::wire {

inline uint8_t load8(std::span<const std::byte> b, std::size_t at) { return static_cast<uint8_t>(b[at]); }

inline uint16_t load_be16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<uint16_t>((static_cast<unsigned>(b[at]) << 8) | static_cast<unsigned>(b[at + 1]));
}

inline uint32_t load_be32(std::span<const std::byte> b, std::size_t at) {
  return (uint32_t{load_be16(b, at)} << 16) | load_be16(b, at + 2);
}

inline void store8(std::span<std::byte> b, std::size_t at, uint8_t v) { b[at] = std::byte{v}; }

inline void store_be16(std::span<std::byte> b, std::size_t at, uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

inline void store_be32(std::span<std::byte> b, std::size_t at, uint32_t v) {
  store_be16(b, at, static_cast<uint16_t>(v >> 16));
  store_be16(b, at + 2, static_cast<uint16_t>(v & 0xffff));
}

}  // namespace demi::net::wire
