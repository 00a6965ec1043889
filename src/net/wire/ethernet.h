// Ethernet II framing (RFC 894: destination, source, EtherType, payload; no 802.1Q tags, no
// FCS — devices strip and add it).
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "net/wire/wire_error.h"

namespace demi::net::wire {

struct EthernetAddress {
  std::array<uint8_t, 6> octets{};

  static const EthernetAddress BROADCAST;
  static constexpr EthernetAddress broadcast() { return EthernetAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }

  bool is_broadcast() const { return *this == broadcast(); }
  // The I/G bit, the least significant bit of the first octet (IEEE 802-2014 8.2): set for
  // group addresses, broadcast included.
  bool is_multicast() const { return (octets[0] & 0x01) != 0; }
  bool is_unicast() const { return !is_multicast() && *this != EthernetAddress{}; }
  // The U/L bit: set in locally administered addresses (as the simulator assigns).
  bool is_local() const { return (octets[0] & 0x02) != 0; }
  // "aa:bb:cc:dd:ee:ff", lower case.
  std::string to_string() const;
  // "aa:bb:cc:dd:ee:ff" (or with '-'), either case; nullopt otherwise.
  static std::optional<EthernetAddress> parse(std::string_view text);
  friend constexpr bool operator==(const EthernetAddress&, const EthernetAddress&) = default;
};

// The name the rest of the world uses.
using MacAddress = EthernetAddress;

enum class EtherType : uint16_t { Ipv4 = 0x0800, Arp = 0x0806, Ipv6 = 0x86dd };

inline constexpr std::size_t kEthernetHeaderLen = 14;

namespace ethernet_field {
inline constexpr std::size_t DST = 0;
inline constexpr std::size_t SRC = 6;
inline constexpr std::size_t ETHERTYPE = 12;
inline constexpr std::size_t PAYLOAD = 14;
inline constexpr std::size_t ADDRESS_LEN = 6;
}  // namespace ethernet_field

// A view of a frame's bytes. check() refuses a frame shorter than the header; after that every
// accessor is in bounds.
class EthernetView {
 public:
  explicit EthernetView(std::span<const std::byte> b) : b_(b) {}
  static std::optional<EthernetView> check(std::span<const std::byte> b, WireError* err = nullptr);
  // The same as check() (the name the stack was first written against).
  static std::optional<EthernetView> checked(std::span<const std::byte> b, WireError* err = nullptr) {
    return check(b, err);
  }

  EthernetAddress dst() const;
  EthernetAddress src() const;
  // As received: a value that is not one of the enumerators (802.3 lengths, VLAN tags) is kept
  // for the caller to count and drop.
  EtherType ethertype() const;
  std::span<const std::byte> payload() const { return b_.subspan(ethernet_field::PAYLOAD); }
  std::span<const std::byte> bytes() const { return b_; }

 private:
  std::span<const std::byte> b_;
};

struct EthernetRepr {
  static constexpr std::size_t header_len = kEthernetHeaderLen;

  EthernetAddress src;
  EthernetAddress dst;
  EtherType ethertype{};

  static std::optional<EthernetRepr> parse(EthernetView v, WireError* err = nullptr);
  static std::optional<EthernetRepr> parse(std::span<const std::byte> frame, WireError* err = nullptr);
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
