// UDP (RFC 768).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "net/wire/ipv4.h"
#include "net/wire/wire_error.h"

namespace demi::net::wire {

inline constexpr std::size_t kUdpHeaderLen = 8;

namespace udp_field {
inline constexpr std::size_t SRC_PORT = 0;
inline constexpr std::size_t DST_PORT = 2;
inline constexpr std::size_t LENGTH = 4;
inline constexpr std::size_t CHECKSUM = 6;
}  // namespace udp_field

struct UdpRepr {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t length = 0;    // header + payload, from the length field
  uint16_t checksum = 0;  // as received; 0 = none

  // The header only: Truncated for fewer than 8 bytes, BadLength for a length field below 8.
  // Whether the length fits the datagram, and the checksum, are the caller's to check (the
  // payload may be spread over segments): see verify().
  static std::optional<UdpRepr> parse(std::span<const std::byte> b, WireError* err = nullptr);
  // Checks length against the bytes and the checksum with the pseudo-header, over one span.
  static bool verify(std::span<const std::byte> datagram, Ipv4Address src, Ipv4Address dst, WireError* err = nullptr);
  // Writes the 8-byte header with this->checksum in the checksum field.
  void emit(std::span<std::byte> out) const;
  static void write_checksum(std::span<std::byte> header, uint16_t checksum);
  // The checksum to send for header+payload in one span (0 becomes 0xffff, RFC 768).
  static uint16_t compute_checksum(std::span<const std::byte> datagram, Ipv4Address src, Ipv4Address dst);
  friend bool operator==(const UdpRepr&, const UdpRepr&) = default;
};

}  // namespace demi::net::wire
