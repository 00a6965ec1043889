// Test frames for the simulated network: an Ethernet header, a 32-bit sequence number right
// after it, and a byte pattern derived from the sequence number, so a test can tell frames
// apart and check their bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/device.h"
#include "runtime/sim/network.h"

namespace demi::runtime::sim::test {

inline constexpr LinkAddress kMacA{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
inline constexpr LinkAddress kMacB{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};
inline constexpr LinkAddress kMacC{0x02, 0x00, 0x00, 0x00, 0x00, 0x0c};
inline constexpr LinkAddress kMacNobody{0x02, 0x00, 0x00, 0x00, 0x00, 0xee};
inline constexpr LinkAddress kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr uint16_t kEtherTypeExperimental = 0x88b5;  // IEEE 802 local experimental
inline constexpr std::size_t kSeqOffset = 14;
inline constexpr std::size_t kPatternOffset = 18;

inline std::byte pattern_byte(uint32_t seq, std::size_t i) {
  return static_cast<std::byte>((i * 7 + seq) & 0xff);
}

// Writes a whole test frame of bytes.size() >= 18 bytes.
inline void fill_frame(std::span<std::byte> bytes, const LinkAddress& dst, const LinkAddress& src, uint32_t seq) {
  for (std::size_t i = 0; i < 6; ++i) {
    bytes[i] = static_cast<std::byte>(dst[i]);
    bytes[6 + i] = static_cast<std::byte>(src[i]);
  }
  bytes[12] = static_cast<std::byte>(kEtherTypeExperimental >> 8);
  bytes[13] = static_cast<std::byte>(kEtherTypeExperimental & 0xff);
  for (std::size_t i = 0; i < 4; ++i) {
    bytes[kSeqOffset + i] = static_cast<std::byte>(seq >> (24 - 8 * i));
  }
  for (std::size_t i = kPatternOffset; i < bytes.size(); ++i) {
    bytes[i] = pattern_byte(seq, i);
  }
}

// A frame of `length` bytes in one header buffer from the sender's own pool.
inline TxFrame make_frame(Port& from, const LinkAddress& dst, uint32_t seq, std::size_t length = 64) {
  TxFrame f;
  f.head = from.alloc_tx(0);
  f.head.set_length(length);
  fill_frame(f.head.bytes(), dst, from.info().mac, seq);
  return f;
}

// The bytes make_frame would give, for comparison.
inline std::vector<std::byte> expected_bytes(const LinkAddress& dst, const LinkAddress& src, uint32_t seq,
                                             std::size_t length = 64) {
  std::vector<std::byte> v(length);
  fill_frame(v, dst, src, seq);
  return v;
}

inline uint32_t frame_seq(const RxFrame& f) {
  uint32_t seq = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    seq = (seq << 8) | static_cast<uint8_t>(f.data.data()[kSeqOffset + i]);
  }
  return seq;
}

inline std::size_t send(Port& port, TxFrame frame) {
  std::array<TxFrame, 1> one{std::move(frame)};
  return port.transmit(one);
}

inline std::size_t send_seq(Port& from, const LinkAddress& dst, uint32_t seq, std::size_t length = 64) {
  return send(from, make_frame(from, dst, seq, length));
}

// Everything the port can receive now, in order.
inline std::vector<RxFrame> receive_all(Port& port) {
  std::vector<RxFrame> out;
  std::array<RxFrame, 32> burst;
  for (;;) {
    const std::size_t n = port.receive(burst);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(burst[i]));
    }
    if (n < burst.size()) {
      return out;
    }
  }
}

}  // namespace demi::runtime::sim::test
