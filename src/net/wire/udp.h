// UDP (RFC 768) over IPv4.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "net/wire/checksum.h"
#include "net/wire/ipv4.h"
#include "net/wire/wire_error.h"

namespace demi::net::wire {

inline constexpr std::size_t kUdpHeaderLen = 8;

namespace udp_field {
inline constexpr std::size_t SRC_PORT = 0;
inline constexpr std::size_t DST_PORT = 2;
inline constexpr std::size_t LENGTH = 4;  // header + payload, in bytes
inline constexpr std::size_t CHECKSUM = 6;
inline constexpr std::size_t PAYLOAD = 8;
}  // namespace udp_field

struct UdpRepr {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t length = 0;    // header + payload, from the length field
  uint16_t checksum = 0;  // as received; 0 = the sender computed none (RFC 768)

  std::size_t payload_len() const { return length > kUdpHeaderLen ? length - kUdpHeaderLen : 0; }
  // The payload of a datagram this repr was parsed from (the length field, not the buffer,
  // says where it ends: what follows is padding).
  std::span<const std::byte> payload(std::span<const std::byte> datagram) const {
    return datagram.subspan(kUdpHeaderLen, payload_len());
  }

  // The whole datagram in one span: Truncated for fewer than 8 bytes or a length field beyond
  // the bytes, BadLength for a length field below 8, BadChecksum when verifying a nonzero
  // checksum against the pseudo-header of src/dst fails.
  static std::optional<UdpRepr> parse(std::span<const std::byte> datagram, Ipv4Address src, Ipv4Address dst,
                                      bool verify_checksum = true, WireError* err = nullptr);
  // The header only (for a payload spread over segments, or quoted in an ICMP error):
  // Truncated for fewer than 8 bytes, BadLength for a length field below 8. Whether the length
  // fits and the checksum are then the caller's to check (verify() does both for one span).
  static std::optional<UdpRepr> parse(std::span<const std::byte> header, WireError* err = nullptr);
  // Checks a whole datagram as the first parse() does.
  static bool verify(std::span<const std::byte> datagram, Ipv4Address src, Ipv4Address dst, WireError* err = nullptr);

  // Writes the 8-byte header for `payload` — the length field is 8 + payload.size(), whatever
  // `length` holds — with its checksum computed (a computed 0 is sent as 0xffff, RFC 768) or,
  // for Offload, the pseudo-header sum. `payload` need not follow `header` in memory.
  void emit(std::span<std::byte> header, std::span<const std::byte> payload, Ipv4Address src, Ipv4Address dst,
            TxChecksum checksum = TxChecksum::Compute) const;
  // Writes the 8-byte header from the fields as they are (length and checksum included).
  void emit(std::span<std::byte> header) const;
  static void write_checksum(std::span<std::byte> header, uint16_t checksum);
  // The checksum to send for header+payload in one span (0 becomes 0xffff, RFC 768); the
  // checksum field's current content is skipped.
  static uint16_t compute_checksum(std::span<const std::byte> datagram, Ipv4Address src, Ipv4Address dst);
  friend bool operator==(const UdpRepr&, const UdpRepr&) = default;
};

}  // namespace demi::net::wire
