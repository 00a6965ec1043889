// How the rdma module frames messages on a reliable-connected queue pair. Pure functions, no
// verbs calls, so that every rule here is unit-tested without a device.
//
// Large messages: segmentation. A message is carried as one or more SEND_WITH_IMM work requests
// ("fragments"), each at most the peer's receive-buffer size, in order (RC delivers in order and
// exactly once). The header is the 32-bit immediate value, so it costs no payload bytes and the
// fragment's scatter list can point straight into the application's registered sga (zero copy
// on the send side):
//
//    31   30   29 ........ 16   15 ........ 0
//   [END][CRD][  reserved = 0 ][ credits granted ]
//
//   END  this fragment ends its message (a one-fragment message has END set);
//   CRD  a credit-only message: no payload, not part of any message;
//   credits granted: receive buffers the sender posted since it last said so (see credits.h).
//
// We chose segmentation over "RDMA WRITE into a buffer the receiver advertises, then notify":
// that needs a rendezvous round trip per large message and an rkey exposed to the peer, while
// segmentation keeps one code path for every size, needs no remote access rights at all, and
// its cost (a receive buffer per fragment) is bounded by the credit window.
//
// The connection's private data (rdma_cm connect and accept) announces each side's receive
// window: magic "DMRD", version 1, a pad byte, credits (u16) and receive-buffer size (u32), all
// big-endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace demi::rdma {

namespace imm {
inline constexpr uint32_t kEnd = 1u << 31;
inline constexpr uint32_t kCreditOnly = 1u << 30;
inline constexpr uint32_t kReserved = 0x3fff0000u;
inline constexpr uint32_t kCreditMask = 0xffffu;
inline constexpr uint32_t kMaxGrant = kCreditMask;
}  // namespace imm

struct FragmentHeader {
  bool end = false;
  bool credit_only = false;
  uint32_t credits = 0;  // granted to the receiver of this header

  // Host-order immediate value (the caller converts with htonl). Grants above kMaxGrant are a bug.
  uint32_t encode() const {
    return (end ? imm::kEnd : 0u) | (credit_only ? imm::kCreditOnly : 0u) | (credits & imm::kCreditMask);
  }
  // nullopt for a value no demi peer sends: reserved bits set, or a credit-only that claims END.
  static std::optional<FragmentHeader> decode(uint32_t v) {
    if (v & imm::kReserved) return std::nullopt;
    FragmentHeader h{(v & imm::kEnd) != 0, (v & imm::kCreditOnly) != 0, v & imm::kCreditMask};
    if (h.end && h.credit_only) return std::nullopt;
    return h;
  }
};

// The receive window one side announces in rdma_cm private data.
struct WindowAnnouncement {
  static constexpr uint32_t kMagic = 0x444d5244;  // "DMRD"
  static constexpr uint8_t kVersion = 1;
  static constexpr std::size_t kSize = 12;
  uint16_t credits = 0;      // receive buffers posted before the connection was established
  uint32_t buffer_size = 0;  // bytes in each

  std::array<uint8_t, kSize> encode() const {
    std::array<uint8_t, kSize> b{};
    put32(&b[0], kMagic);
    b[4] = kVersion;
    b[6] = static_cast<uint8_t>(credits >> 8);
    b[7] = static_cast<uint8_t>(credits);
    put32(&b[8], buffer_size);
    return b;
  }
  // rdma_cm may hand back more bytes than were sent (it pads private data): only the prefix counts.
  static std::optional<WindowAnnouncement> decode(std::span<const uint8_t> b) {
    if (b.size() < kSize || get32(&b[0]) != kMagic || b[4] != kVersion) return std::nullopt;
    WindowAnnouncement w;
    w.credits = static_cast<uint16_t>((b[6] << 8) | b[7]);
    w.buffer_size = get32(&b[8]);
    if (w.credits == 0 || w.buffer_size == 0) return std::nullopt;
    return w;
  }

 private:
  static void put32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
  }
  static uint32_t get32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
  }
};

// One piece of a fragment's scatter list: bytes [offset, offset + len) of segment `segment`.
struct FragmentPiece {
  uint32_t segment = 0;
  uint32_t offset = 0;
  uint32_t len = 0;
};

// Walks a message (a list of segment lengths) fragment by fragment: each fragment holds at most
// `max_bytes` bytes in at most `max_pieces` pieces. Empty segments are skipped.
class FragmentCursor {
 public:
  static constexpr std::size_t kMaxPieces = 16;
  FragmentCursor() = default;
  explicit FragmentCursor(std::span<const uint32_t> segment_lengths) {
    for (uint32_t l : segment_lengths) {
      if (count_ == lens_.size()) break;
      lens_[count_++] = l;
    }
    skip_empty();
  }
  bool done() const { return seg_ >= count_; }
  // Fills `out` (up to min(out.size(), max_pieces)) with the next fragment; returns the number of
  // pieces (0 when done). `*bytes` gets the fragment's length, `*last` whether it ends the message.
  std::size_t next(std::size_t max_bytes, std::span<FragmentPiece> out, std::size_t* bytes, bool* last) {
    std::size_t n = 0;
    std::size_t total = 0;
    while (!done() && n < out.size() && total < max_bytes) {
      uint32_t left = lens_[seg_] - off_;
      auto take = static_cast<uint32_t>(std::min<std::size_t>(left, max_bytes - total));
      out[n++] = FragmentPiece{static_cast<uint32_t>(seg_), off_, take};
      total += take;
      off_ += take;
      if (off_ == lens_[seg_]) {
        ++seg_;
        off_ = 0;
        skip_empty();
      }
    }
    *bytes = total;
    *last = done();
    return n;
  }

 private:
  void skip_empty() {
    while (seg_ < count_ && lens_[seg_] == 0) ++seg_;
  }
  std::array<uint32_t, kMaxPieces> lens_{};
  std::size_t count_ = 0;
  std::size_t seg_ = 0;
  uint32_t off_ = 0;
};

// Fragments needed for a message of `bytes` bytes in buffers of `buffer_size` (pieces permitting).
inline std::size_t fragments_for(std::size_t bytes, std::size_t buffer_size) {
  return bytes == 0 ? 1 : (bytes + buffer_size - 1) / buffer_size;
}

}  // namespace demi::rdma
