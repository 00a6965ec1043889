// TCP headers (RFC 9293 3.1) and options: MSS (RFC 9293 3.2, 3.7.1), window scale and
// timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "net/wire/checksum.h"
#include "net/wire/ipv4.h"
#include "net/wire/wire_error.h"

namespace demi::net::wire {

// A sequence number: arithmetic modulo 2^32, comparisons valid within half the space
// (RFC 9293 3.4, RFC 1982), so "a < b" means "a comes before b" across wraparound. The
// difference of two numbers is the signed distance between them.
class SeqNumber {
 public:
  constexpr SeqNumber() = default;
  constexpr explicit SeqNumber(uint32_t v) : v_(v) {}
  constexpr uint32_t raw() const { return v_; }

  friend constexpr SeqNumber operator+(SeqNumber a, uint32_t n) { return SeqNumber{a.v_ + n}; }
  friend constexpr SeqNumber operator-(SeqNumber a, uint32_t n) { return SeqNumber{a.v_ - n}; }
  // Signed distance from b to a (positive when a is after b). Unsigned subtraction wraps
  // modulo 2^32; the conversion to int32_t is modular too (C++20), so this is well-defined.
  friend constexpr int32_t operator-(SeqNumber a, SeqNumber b) { return static_cast<int32_t>(a.v_ - b.v_); }
  constexpr SeqNumber& operator+=(uint32_t n) {
    v_ += n;
    return *this;
  }
  constexpr SeqNumber& operator-=(uint32_t n) {
    v_ -= n;
    return *this;
  }
  friend constexpr bool operator==(SeqNumber a, SeqNumber b) { return a.v_ == b.v_; }
  friend constexpr bool operator<(SeqNumber a, SeqNumber b) { return (a - b) < 0; }
  friend constexpr bool operator<=(SeqNumber a, SeqNumber b) { return (a - b) <= 0; }
  friend constexpr bool operator>(SeqNumber a, SeqNumber b) { return (a - b) > 0; }
  friend constexpr bool operator>=(SeqNumber a, SeqNumber b) { return (a - b) >= 0; }
  static constexpr SeqNumber max(SeqNumber a, SeqNumber b) { return a < b ? b : a; }
  static constexpr SeqNumber min(SeqNumber a, SeqNumber b) { return a < b ? a : b; }

 private:
  uint32_t v_ = 0;
};

// The control bits (RFC 9293 3.1; ECE and CWR from RFC 3168 23.2).
struct TcpFlags {
  static constexpr uint8_t FIN = 0x01;
  static constexpr uint8_t SYN = 0x02;
  static constexpr uint8_t RST = 0x04;
  static constexpr uint8_t PSH = 0x08;
  static constexpr uint8_t ACK = 0x10;
  static constexpr uint8_t URG = 0x20;
  static constexpr uint8_t ECE = 0x40;
  static constexpr uint8_t CWR = 0x80;
};

// RFC 2018 3: a block of received data [left, right).
struct SackBlock {
  SeqNumber left;   // first sequence number of the block
  SeqNumber right;  // sequence number just past it
  friend bool operator==(const SackBlock&, const SackBlock&) = default;
};

// RFC 7323 3.2.
struct TcpTimestamps {
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  friend bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

inline constexpr std::size_t kTcpMinHeaderLen = 20;
inline constexpr std::size_t kTcpMaxHeaderLen = 60;  // data offset is 4 bits of 32-bit words
inline constexpr std::size_t kTcpMaxSackBlocks = 4;  // RFC 2018 3: 4 blocks fill the 40 option bytes
inline constexpr uint8_t kTcpMaxWindowScale = 14;    // RFC 7323 2.3

namespace tcp_field {
inline constexpr std::size_t SRC_PORT = 0;
inline constexpr std::size_t DST_PORT = 2;
inline constexpr std::size_t SEQ = 4;
inline constexpr std::size_t ACK = 8;
inline constexpr std::size_t OFFSET = 12;  // data offset in the high 4 bits (reserved bits below)
inline constexpr std::size_t FLAGS = 13;
inline constexpr std::size_t WINDOW = 14;
inline constexpr std::size_t CHECKSUM = 16;
inline constexpr std::size_t URGENT = 18;
inline constexpr std::size_t OPTIONS = 20;
}  // namespace tcp_field

namespace tcp_option {
inline constexpr uint8_t END = 0;             // length 1
inline constexpr uint8_t NOP = 1;             // length 1
inline constexpr uint8_t MSS = 2;             // length 4
inline constexpr uint8_t WINDOW_SCALE = 3;    // length 3
inline constexpr uint8_t SACK_PERMITTED = 4;  // length 2
inline constexpr uint8_t SACK = 5;            // length 2 + 8n
inline constexpr uint8_t TIMESTAMPS = 8;      // length 10

inline constexpr uint8_t MSS_LEN = 4;
inline constexpr uint8_t WINDOW_SCALE_LEN = 3;
inline constexpr uint8_t SACK_PERMITTED_LEN = 2;
inline constexpr uint8_t SACK_BASE_LEN = 2;
inline constexpr uint8_t SACK_BLOCK_LEN = 8;
inline constexpr uint8_t TIMESTAMPS_LEN = 10;
}  // namespace tcp_option

struct TcpRepr {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  SeqNumber seq;
  SeqNumber ack;
  uint8_t flags = 0;
  uint16_t window = 0;  // the raw 16-bit field (unscaled)
  uint16_t urgent = 0;
  std::optional<uint16_t> mss;
  std::optional<uint8_t> window_scale;  // the shift count; parse clamps it to 14
  bool sack_permitted = false;
  std::optional<TcpTimestamps> timestamps;
  std::array<SackBlock, kTcpMaxSackBlocks> sack{};
  uint8_t sack_count = 0;  // blocks in use at the front of `sack`
  // Parsed only: where the payload starts (the data offset, options included) and how long
  // it is. emit() derives the header length from the options instead.
  std::size_t header_len = kTcpMinHeaderLen;
  std::size_t payload_len = 0;

  bool has(uint8_t f) const { return (flags & f) == f; }
  // Sequence space the segment occupies (RFC 9293 3.4): payload plus one each for SYN and FIN.
  std::size_t segment_len() const {
    return payload_len + (has(TcpFlags::SYN) ? 1 : 0) + (has(TcpFlags::FIN) ? 1 : 0);
  }
  std::size_t payload_offset() const { return header_len; }

  // `segment` is the TCP header and payload, exactly (the IPv4 payload: Ethernet padding
  // excluded, since the pseudo-header length is taken from it). With `verify_checksum`, the
  // checksum is checked against the pseudo-header of src/dst (pass false when the device
  // verified it). Never trusts the data offset or an option length:
  //   Truncated        fewer than 20 bytes, or a data offset beyond them
  //   BadHeaderLength  a data offset below 5 words
  //   BadChecksum      when verifying
  //   BadOption        an option whose length is < 2, wrong for its kind, or runs past the header
  static std::optional<TcpRepr> parse(std::span<const std::byte> segment, Ipv4Address src, Ipv4Address dst,
                                      bool verify_checksum = true, WireError* err = nullptr);

  // Bytes emit() writes: 20 + options, padded to a multiple of 4, at most 60.
  std::size_t emitted_header_len() const;
  // SACK blocks emit() writes: sack_count, or fewer if the other options leave no room (RFC
  // 2018 3: the first block, the most recent, is kept).
  std::size_t emitted_sack_blocks() const;
  // Writes the header and options into `out` (at least emitted_header_len() bytes) with a zero
  // checksum; fill it with fill_checksum(), or leave it to the device (fill_pseudo_checksum()).
  // Options go in the order Linux sends them (MSS, SACK-permitted/timestamps, window scale,
  // SACK), NOP-padded so each multi-byte field is 4-byte aligned as RFC 7323 appendix A and
  // RFC 2018 suggest.
  void emit(std::span<std::byte> out) const;
  // The same, then the checksum over the header and `payload` (which need not follow the
  // header in memory) — or the pseudo-header sum for Offload.
  void emit(std::span<std::byte> out, std::span<const std::byte> payload, Ipv4Address src, Ipv4Address dst,
            TxChecksum checksum = TxChecksum::Compute) const;
  // Computes the checksum over the header at the start of `header` (its data offset says how
  // long) and the payload spans, and stores it.
  static void fill_checksum(std::span<std::byte> header, std::span<const std::span<const std::byte>> payload,
                            Ipv4Address src, Ipv4Address dst);
  // Stores the pseudo-header sum (for a device that completes the checksum).
  static void fill_pseudo_checksum(std::span<std::byte> header, std::size_t tcp_length, Ipv4Address src,
                                   Ipv4Address dst);
  friend bool operator==(const TcpRepr&, const TcpRepr&) = default;
};

}  // namespace demi::net::wire
