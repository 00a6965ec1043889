// IPv4 (RFC 791): addresses, a checked view of a header, its parsed meaning, and the
// TCP/UDP pseudo-header sum.
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "net/wire/checksum.h"
#include "net/wire/wire_error.h"

namespace demi::net::wire {

// An IPv4 address, held in host byte order (so masks and comparisons are plain integer
// operations); converted to network order only by load/store.
struct Ipv4Address {
  uint32_t value = 0;

  static constexpr Ipv4Address from_u32(uint32_t v) { return Ipv4Address{v}; }
  static constexpr Ipv4Address from_octets(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return Ipv4Address{(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | uint32_t{d}};
  }
  constexpr uint32_t to_u32() const { return value; }
  // "a.b.c.d", each part 0..255 in decimal without leading zeros (which some parsers read as
  // octal); nullopt otherwise.
  static std::optional<Ipv4Address> parse(std::string_view text);
  std::string to_string() const;

  bool is_unspecified() const { return value == 0; }
  bool is_broadcast() const { return value == 0xffffffffu; }  // limited broadcast (RFC 919)
  bool is_multicast() const { return (value >> 28) == 0xe; }  // 224.0.0.0/4 (RFC 5771)
  bool is_loopback() const { return (value >> 24) == 127; }   // 127.0.0.0/8 (RFC 1122 3.2.1.3)
  bool is_unicast() const { return !is_unspecified() && !is_broadcast() && !is_multicast(); }
  // Whether this address and `net` agree on the bits of `mask`.
  bool in_subnet(Ipv4Address net, Ipv4Address mask) const { return (value & mask.value) == (net.value & mask.value); }
  friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

inline constexpr uint8_t kProtocolIcmp = 1;
inline constexpr uint8_t kProtocolTcp = 6;
inline constexpr uint8_t kProtocolUdp = 17;
inline constexpr uint8_t kIpv4Version = 4;
inline constexpr std::size_t kIpv4MinHeaderLen = 20;  // IHL 5
inline constexpr std::size_t kIpv4MaxHeaderLen = 60;  // IHL 15
inline constexpr std::size_t kIpv4MaxTotalLen = 65535;

namespace ipv4_field {
inline constexpr std::size_t VER_IHL = 0;   // version (high 4 bits), IHL in 32-bit words (low 4)
inline constexpr std::size_t TOS = 1;       // DSCP + ECN (RFC 2474, RFC 3168)
inline constexpr std::size_t LENGTH = 2;    // total length, header included
inline constexpr std::size_t IDENT = 4;
inline constexpr std::size_t FLG_OFF = 6;   // flags (3 bits) and fragment offset in 8-byte units
inline constexpr std::size_t TTL = 8;
inline constexpr std::size_t PROTOCOL = 9;
inline constexpr std::size_t CHECKSUM = 10;
inline constexpr std::size_t SRC = 12;
inline constexpr std::size_t DST = 16;
inline constexpr std::size_t OPTIONS = 20;

inline constexpr uint16_t FLAG_DF = 0x4000;  // don't fragment
inline constexpr uint16_t FLAG_MF = 0x2000;  // more fragments
inline constexpr uint16_t OFFSET_MASK = 0x1fff;
inline constexpr uint16_t OFFSET_UNIT = 8;   // fragment offsets count 8-byte blocks
}  // namespace ipv4_field

// A view of an IPv4 packet. check() guarantees version 4, a header length of at least 20 that
// fits, and a total length that covers the header and fits in the buffer; every accessor is
// then safe. (The buffer may be longer than the total length — Ethernet pads short frames —
// and payload() stops at the total length.) Setters write through: use them only on a view
// built over a buffer you own (a read-only view ignores them).
class Ipv4View {
 public:
  explicit Ipv4View(std::span<const std::byte> b) : b_(b) {}
  explicit Ipv4View(std::span<std::byte> b) : b_(b), w_(b) {}
  static std::optional<Ipv4View> check(std::span<const std::byte> b, WireError* err = nullptr);
  // The same as check() (the name the stack was first written against).
  static std::optional<Ipv4View> checked(std::span<const std::byte> b, WireError* err = nullptr) {
    return check(b, err);
  }

  uint8_t version() const;
  std::size_t header_len() const;  // bytes, options included
  uint8_t tos() const;
  std::size_t total_len() const;
  uint16_t ident() const;
  bool dont_frag() const;
  bool more_frags() const;
  uint16_t frag_offset() const;  // in bytes
  uint8_t hop_limit() const;     // the TTL
  uint8_t protocol() const;
  uint16_t checksum() const;
  Ipv4Address src_addr() const;
  Ipv4Address dst_addr() const;
  // The options, unparsed: the stack does not act on any (RFC 1122 3.2.1.8 lets a host ignore
  // those it does not implement), but they are skipped by length, never mistaken for payload.
  std::span<const std::byte> options() const;
  // The header, options included, sums to 0xffff (RFC 791 "Header Checksum").
  bool verify_checksum() const;
  std::span<const std::byte> header() const { return b_.first(header_len()); }
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
  uint16_t payload_len = 0;  // total length - header length
  uint8_t hop_limit = 64;    // the TTL field
  uint8_t tos = 0;
  uint16_t ident = 0;
  bool dont_frag = false;
  bool more_frags = false;
  uint16_t frag_offset = 0;  // bytes, a multiple of 8
  std::size_t header_len = kIpv4MinHeaderLen;  // parsed: includes options (which are skipped)

  bool is_fragment() const { return more_frags || frag_offset != 0; }

  // From a checked view. The header checksum is verified when `verify_checksum` is true; pass
  // false only when the device already checked it (or to inspect a packet we built ourselves).
  static std::optional<Ipv4Repr> parse(const Ipv4View& v, bool verify_checksum = false, WireError* err = nullptr);
  // Checks the bytes as Ipv4View::check() does and parses them.
  static std::optional<Ipv4Repr> parse(std::span<const std::byte> packet, bool verify_checksum,
                                       WireError* err = nullptr);
  // The header an ICMP error quotes: only the header itself must be present and sane (the
  // quote carries 8 bytes of the payload at least, RFC 792, so the total length is not checked
  // against the bytes; payload_len says what the original datagram carried).
  static std::optional<Ipv4Repr> parse_quoted(std::span<const std::byte> b, WireError* err = nullptr);
  // Writes a 20-byte header (no options; header_len is not consulted) at the start of `out`.
  // By default (Offload) the checksum is left 0, for the device or for a later
  // Ipv4View::fill_checksum(); Compute stores it.
  void emit(std::span<std::byte> out, TxChecksum checksum = TxChecksum::Offload) const;
  friend bool operator==(const Ipv4Repr&, const Ipv4Repr&) = default;
};

// The folded one's-complement sum of the TCP/UDP pseudo-header (RFC 9293 3.1, RFC 768):
// add it to the segment's sum to verify or compute a checksum, or store it in the checksum
// field for a device that completes the rest (TxChecksum::Offload).
uint16_t pseudo_header_sum(Ipv4Address src, Ipv4Address dst, uint8_t protocol, uint16_t length);

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
