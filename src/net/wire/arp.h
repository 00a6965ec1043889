// ARP (RFC 826) for IPv4 over Ethernet only: htype 1, ptype 0x0800, hlen 6, plen 4.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "net/wire/ethernet.h"
#include "net/wire/ipv4.h"
#include "net/wire/wire_error.h"

namespace demi::net::wire {

enum class ArpOperation : uint16_t { Request = 1, Reply = 2 };

namespace arp_field {
inline constexpr std::size_t HTYPE = 0;
inline constexpr std::size_t PTYPE = 2;
inline constexpr std::size_t HLEN = 4;
inline constexpr std::size_t PLEN = 5;
inline constexpr std::size_t OPER = 6;
inline constexpr std::size_t SHA = 8;
inline constexpr std::size_t SPA = 14;
inline constexpr std::size_t THA = 18;
inline constexpr std::size_t TPA = 24;
}  // namespace arp_field

struct ArpRepr {
  static constexpr std::size_t kLength = 28;

  ArpOperation operation = ArpOperation::Request;
  EthernetAddress source_hardware_addr;
  Ipv4Address source_protocol_addr;
  EthernetAddress target_hardware_addr;
  Ipv4Address target_protocol_addr;

  // Truncated for fewer than 28 bytes; Unsupported for another hardware/protocol pair or an
  // operation other than request/reply.
  static std::optional<ArpRepr> parse(std::span<const std::byte> b, WireError* err = nullptr);
  void emit(std::span<std::byte> out) const;
  friend bool operator==(const ArpRepr&, const ArpRepr&) = default;
};

}  // namespace demi::net::wire
