// ICMPv4 (RFC 792): echo request/reply and destination unreachable.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "net/wire/wire_error.h"

namespace demi::net::wire {

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpPortUnreachable = 3;  // code of kIcmpDestUnreachable
inline constexpr uint8_t kIcmpFragNeeded = 4;       // code: fragmentation needed and DF set
inline constexpr std::size_t kIcmpHeaderLen = 8;

namespace icmp_field {
inline constexpr std::size_t TYPE = 0;
inline constexpr std::size_t CODE = 1;
inline constexpr std::size_t CHECKSUM = 2;
inline constexpr std::size_t ECHO_IDENT = 4;
inline constexpr std::size_t ECHO_SEQ = 6;
inline constexpr std::size_t NEXT_HOP_MTU = 6;  // destination unreachable, code 4 (RFC 1191)
}  // namespace icmp_field

// A view of an ICMP message of at least 8 bytes (checked() refuses less). Setters write
// through: use them only on a buffer you own.
class IcmpView {
 public:
  explicit IcmpView(std::span<const std::byte> b) : b_(b) {}
  explicit IcmpView(std::span<std::byte> b) : b_(b), w_(b) {}
  static std::optional<IcmpView> checked(std::span<const std::byte> b, WireError* err = nullptr);

  uint8_t type() const;
  uint8_t code() const;
  uint16_t checksum() const;
  uint16_t echo_ident() const;
  uint16_t echo_seq() const;
  uint16_t next_hop_mtu() const;
  std::span<const std::byte> data() const { return b_.subspan(kIcmpHeaderLen); }
  // The whole message sums to 0xffff when its checksum is right.
  bool verify_checksum() const;

  void set_type(uint8_t v);
  void set_code(uint8_t v);
  void set_checksum(uint16_t v);
  void set_echo_ident(uint16_t v);
  void set_echo_seq(uint16_t v);
  void fill_checksum();

 private:
  std::span<const std::byte> b_;
  std::span<std::byte> w_;
};

}  // namespace demi::net::wire
