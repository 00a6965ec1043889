// Ethernet II framing (IEEE 802.3 with an EtherType; no VLAN tags).
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "net/wire/wire_error.h"

namespace demi::net::wire {

struct EthernetAddress {
  std::array<uint8_t, 6> octets{};

  static const EthernetAddress BROADCAST;
  bool is_broadcast() const { return *this == BROADCAST; }
  bool is_multicast() const { return octets[0] & 0x01; }  // the I/G bit (broadcast included)
  bool is_unicast() const { return !is_multicast() && *this != EthernetAddress{}; }
  std::string to_string() const;
  // "aa:bb:cc:dd:ee:ff" (or with '-'); nullopt otherwise.
  static std::optional<EthernetAddress> parse(std::string_view text);
  friend bool operator==(const EthernetAddress&, const EthernetAddress&) = default;
};

enum class EtherType : uint16_t { Ipv4 = 0x0800, Arp = 0x0806, Ipv6 = 0x86dd };

inline constexpr std::size_t kEthernetHeaderLen = 14;

namespace ethernet_field {
inline constexpr std::size_t DST = 0;
inline constexpr std::size_t SRC = 6;
inline constexpr std::size_t ETHERTYPE = 12;
inline constexpr std::size_t PAYLOAD = 14;
}  // namespace ethernet_field

// A view of a frame's bytes. checked() refuses a frame shorter than the header.
class EthernetView {
 public:
  explicit EthernetView(std::span<const std::byte> b) : b_(b) {}
  static std::optional<EthernetView> checked(std::span<const std::byte> b, WireError* err = nullptr);
  EthernetAddress dst() const;
  EthernetAddress src() const;
  EtherType ethertype() const;
  std::span<const std::byte> payload() const { return b_.subspan(ethernet_field::PAYLOAD); }
  std::span<const std::byte> bytes() const { return b_; }

 private:
  std::span<const std::byte> b_;
};

struct EthernetRepr {
  EthernetAddress src;
  EthernetAddress dst;
  EtherType ethertype{};

  static std::optional<EthernetRepr> parse(EthernetView v, WireError* err = nullptr);
  // Writes the 14-byte header at the start of `out` (which must hold it).
  void emit(std::span<std::byte> out) const;
  friend bool operator==(const EthernetRepr&, const EthernetRepr&) = default;
};

}  // namespace demi::net::wire

template <>
struct fmt::formatter<demi::net::wire::EthernetAddress> : fmt::formatter<std::string> {
  auto format(const demi::net::wire::EthernetAddress& a, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(a.to_string(), ctx);
  }
};
