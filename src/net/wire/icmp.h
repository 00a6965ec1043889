// ICMPv4 (RFC 792): echo request/reply, and the errors a host acts on — destination
// unreachable and time exceeded — which quote the offending datagram's IP header and at least
// the first 8 bytes of its payload (enough for the ports that name the socket).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "net/wire/ipv4.h"
#include "net/wire/wire_error.h"

namespace demi::net::wire {

// Types (RFC 792).
inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
// Codes of destination unreachable (RFC 792; RFC 1191 for code 4).
inline constexpr uint8_t kIcmpNetUnreachable = 0;
inline constexpr uint8_t kIcmpHostUnreachable = 1;
inline constexpr uint8_t kIcmpProtocolUnreachable = 2;
inline constexpr uint8_t kIcmpPortUnreachable = 3;
inline constexpr uint8_t kIcmpFragNeeded = 4;  // fragmentation needed and DF set
inline constexpr std::size_t kIcmpHeaderLen = 8;
// What an error quotes beyond the original IP header (RFC 792: "64 bits of Data Datagram").
inline constexpr std::size_t kIcmpQuotedPayloadLen = 8;

namespace icmp_field {
inline constexpr std::size_t TYPE = 0;
inline constexpr std::size_t CODE = 1;
inline constexpr std::size_t CHECKSUM = 2;
inline constexpr std::size_t ECHO_IDENT = 4;
inline constexpr std::size_t ECHO_SEQ = 6;
inline constexpr std::size_t UNUSED = 4;        // errors: zero on send, ignored on receipt
inline constexpr std::size_t NEXT_HOP_MTU = 6;  // destination unreachable, code 4 (RFC 1191 4)
inline constexpr std::size_t DATA = 8;
}  // namespace icmp_field

// A view of an ICMP message of at least 8 bytes (check() refuses less). Setters write
// through: use them only on a view built over a buffer you own.
class IcmpView {
 public:
  explicit IcmpView(std::span<const std::byte> b) : b_(b) {}
  explicit IcmpView(std::span<std::byte> b) : b_(b), w_(b) {}
  static std::optional<IcmpView> check(std::span<const std::byte> b, WireError* err = nullptr);
  // The same as check() (the name the stack was first written against).
  static std::optional<IcmpView> checked(std::span<const std::byte> b, WireError* err = nullptr) {
    return check(b, err);
  }

  uint8_t type() const;
  uint8_t code() const;
  uint16_t checksum() const;
  uint16_t echo_ident() const;
  uint16_t echo_seq() const;
  uint16_t next_hop_mtu() const;
  std::span<const std::byte> data() const { return b_.subspan(kIcmpHeaderLen); }
  // The whole message sums to 0xffff when its checksum is right (RFC 792: the checksum covers
  // the ICMP message, from the type field on).
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

// The meaning of an echo or error message. `data` points into the parsed buffer (parsing
// never allocates or copies): keep the buffer alive while the repr is used.
struct IcmpRepr {
  uint8_t type = kIcmpEchoRequest;
  uint8_t code = 0;
  uint16_t ident = 0;         // echo only
  uint16_t seq = 0;           // echo only
  uint16_t next_hop_mtu = 0;  // destination unreachable, code kIcmpFragNeeded only
  // Echo: the data to echo. Errors: the quoted datagram (its IP header, options included, and
  // at least 8 bytes of what followed).
  std::span<const std::byte> data;
  Ipv4Repr original;  // errors only: the quoted IP header, parsed

  bool is_echo() const { return type == kIcmpEchoRequest || type == kIcmpEchoReply; }
  bool is_error() const { return type == kIcmpDestUnreachable || type == kIcmpTimeExceeded; }
  // Errors only: the first 8 bytes of the original datagram's payload (the ports, for TCP/UDP).
  std::span<const std::byte> quoted_payload() const { return data.subspan(original.header_len); }

  // `message` is the IPv4 payload. Truncated for less than a header (or an error quoting less
  // than an IP header and 8 bytes), BadChecksum (when verifying), the quoted header's own
  // error for a malformed quote, Unsupported for other types.
  static std::optional<IcmpRepr> parse(std::span<const std::byte> message, bool verify_checksum = true,
                                       WireError* err = nullptr);

  static IcmpRepr echo_request(uint16_t ident, uint16_t seq, std::span<const std::byte> data);
  // RFC 792 "Echo or Echo Reply Message": the reply returns the request's identifier,
  // sequence number and data.
  static IcmpRepr echo_reply(const IcmpRepr& request);
  // An error about `datagram` (as received, from its IP header on), quoting its header and
  // the first 8 bytes of its payload (RFC 792; RFC 1812 4.3.2.3 allows more, but 8 is what
  // every receiver needs). Refuses a datagram whose header does not parse: an error must not
  // be built from bytes we cannot read.
  static std::optional<IcmpRepr> error(uint8_t type, uint8_t code, std::span<const std::byte> datagram,
                                       uint16_t next_hop_mtu = 0, WireError* err = nullptr);

  std::size_t buffer_len() const { return kIcmpHeaderLen + data.size(); }
  // Writes the message (header, data, checksum) into `out`, which must hold buffer_len()
  // bytes; `data` may already sit in place at out[8..] (it is moved, not copied).
  void emit(std::span<std::byte> out) const;
};

}  // namespace demi::net::wire
