// ARP (RFC 826) for IPv4 over Ethernet only: hardware type 1, protocol type 0x0800, address
// lengths 6 and 4 — the one pairing an IPv4 host on Ethernet resolves. Anything else is
// refused as Unsupported rather than half understood.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "net/wire/ethernet.h"
#include "net/wire/ipv4.h"
#include "net/wire/wire_error.h"

namespace demi::net::wire {

enum class ArpOperation : uint16_t { Request = 1, Reply = 2 };

inline constexpr uint16_t kArpHardwareEthernet = 1;  // "ar$hrd": Ethernet (10Mb), RFC 826 / IANA
inline constexpr uint16_t kArpProtocolIpv4 = static_cast<uint16_t>(EtherType::Ipv4);

namespace arp_field {
inline constexpr std::size_t HTYPE = 0;  // ar$hrd
inline constexpr std::size_t PTYPE = 2;  // ar$pro
inline constexpr std::size_t HLEN = 4;   // ar$hln
inline constexpr std::size_t PLEN = 5;   // ar$pln
inline constexpr std::size_t OPER = 6;   // ar$op
inline constexpr std::size_t SHA = 8;    // ar$sha
inline constexpr std::size_t SPA = 14;   // ar$spa
inline constexpr std::size_t THA = 18;   // ar$tha
inline constexpr std::size_t TPA = 24;   // ar$tpa
inline constexpr std::size_t END = 28;
}  // namespace arp_field

struct ArpRepr {
  static constexpr std::size_t kLength = arp_field::END;

  ArpOperation operation = ArpOperation::Request;
  EthernetAddress source_hardware_addr;
  Ipv4Address source_protocol_addr;
  EthernetAddress target_hardware_addr;  // ignored in a request (RFC 826 sends it as zeros)
  Ipv4Address target_protocol_addr;

  // `b` is the Ethernet payload; bytes after the 28 (minimum-frame padding) are ignored.
  // Truncated for fewer than 28 bytes; Unsupported for another hardware/protocol pair or an
  // operation other than request/reply (RARP, InARP).
  static std::optional<ArpRepr> parse(std::span<const std::byte> b, WireError* err = nullptr);
  // Writes the 28-byte packet at the start of `out` (which must hold it).
  void emit(std::span<std::byte> out) const;
  friend bool operator==(const ArpRepr&, const ArpRepr&) = default;
};

}  // namespace demi::net::wire
