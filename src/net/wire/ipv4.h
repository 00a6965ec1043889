// IPv4 (RFC 791): addresses, a checked view of a header, and its parsed meaning.
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "net/wire/wire_error.h"

namespace demi::net::wire {

// An IPv4 address, held in host byte order.
struct Ipv4Address {
  uint32_t value = 0;

  static constexpr Ipv4Address from_u32(uint32_t v) { return Ipv4Address{v}; }
  constexpr uint32_t to_u32() const { return value; }
  // "a.b.c.d", each part 0..255 without leading zeros; nullopt otherwise.
  static std::optional<Ipv4Address> parse(std::string_view text);
  std::string to_string() const;

  bool is_unspecified() const { return value == 0; }
  bool is_broadcast() const { return value == 0xffffffffu; }
  bool is_multicast() const { return (value >> 28) == 0xe; }  // 224.0.0.0/4
  bool is_loopback() const { return (value >> 24) == 127; }
  bool is_unicast() const { return !is_unspecified() && !is_broadcast() && !is_multicast(); }
  bool in_subnet(Ipv4Address net, Ipv4Address mask) const { return (value & mask.value) == (net.value & mask.value); }
  friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

inline constexpr uint8_t kProtocolIcmp = 1;
inline constexpr uint8_t kProtocolTcp = 6;
inline constexpr uint8_t kProtocolUdp = 17;
inline constexpr std::size_t kIpv4MinHeaderLen = 20;

namespace ipv4_field {
inline constexpr std::size_t VER_IHL = 0;
inline constexpr std::size_t TOS = 1;
inline constexpr std::size_t LENGTH = 2;
inline constexpr std::size_t IDENT = 4;
inline constexpr std::size_t FLG_OFF = 6;
inline constexpr std::size_t TTL = 8;
inline constexpr std::size_t PROTOCOL = 9;
inline constexpr std::size_t CHECKSUM = 10;
inline constexpr std::size_t SRC = 12;
inline constexpr std::size_t DST = 16;
}  // namespace ipv4_field

// A view of an IPv4 packet. checked() guarantees version 4, a header length in [20, 60] that
// fits, and a total length that covers the header and fits in the buffer; every accessor is
// then safe. Setters write through: use them only on a buffer you own.
class Ipv4View {
 public:
  explicit Ipv4View(std::span<const std::byte> b) : b_(b) {}
  explicit Ipv4View(std::span<std::byte> b) : b_(b), w_(b) {}
  static std::optional<Ipv4View> checked(std::span<const std::byte> b, WireError* err = nullptr);

  uint8_t version() const;
  std::size_t header_len() const;
  uint8_t tos() const;
  std::size_t total_len() const;
  uint16_t ident() const;
  bool dont_frag() const;
  bool more_frags() const;
  uint16_t frag_offset() const;  // in bytes
  uint8_t hop_limit() const;
  uint8_t protocol() const;
  uint16_t checksum() const;
  Ipv4Address src_addr() const;
  Ipv4Address dst_addr() const;
  bool verify_checksum() const;
  std::span<const std::byte> payload() const { return b_.subspan(header_len(), total_len() - header_len()); }

  void set_checksum(uint16_t c);
  // Computes and stores the header checksum.
  void fill_checksum();

 private:
  std::span<const std::byte> b_;
  std::span<std::byte> w_;
};

struct Ipv4Repr {
  Ipv4Address src_addr;
  Ipv4Address dst_addr;
  uint8_t protocol = 0;
  uint16_t payload_len = 0;
  uint8_t hop_limit = 64;
  uint8_t tos = 0;
  uint16_t ident = 0;
  bool dont_frag = false;
  bool more_frags = false;
  uint16_t frag_offset = 0;  // bytes, a multiple of 8
  std::size_t header_len = kIpv4MinHeaderLen;  // parsed: includes options (which are skipped)

  // From a checked view; checksum verified unless `verify_checksum` is false (offload).
  static std::optional<Ipv4Repr> parse(const Ipv4View& v, bool verify_checksum = false, WireError* err = nullptr);
  // The header an ICMP error quotes: only the header itself must be present and sane (the
  // quote carries 8 bytes of the payload at most, so total length is not checked).
  static std::optional<Ipv4Repr> parse_quoted(std::span<const std::byte> b, WireError* err = nullptr);
  // Writes a 20-byte header (no options) with a zero checksum: the caller fills it
  // (Ipv4View::fill_checksum) or leaves it to the device.
  void emit(std::span<std::byte> out) const;
  friend bool operator==(const Ipv4Repr&, const Ipv4Repr&) = default;
};

}  // namespace demi::net::wire

template <>
struct std::hash<demi::net::wire::Ipv4Address> {
  std::size_t operator()(const demi::net::wire::Ipv4Address& a) const noexcept { return std::hash<uint32_t>{}(a.value); }
};

template <>
struct fmt::formatter<demi::net::wire::Ipv4Address> : fmt::formatter<std::string> {
  auto format(const demi::net::wire::Ipv4Address& a, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(a.to_string(), ctx);
  }
};
