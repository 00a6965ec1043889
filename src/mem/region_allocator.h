// A general-purpose allocator over one contiguous region: every size from 1 byte to (nearly)
// the region's size, in O(1) time with bounded fragmentation. It is how demi serves every
// sgaalloc from memory registered with the NIC once, so that any application buffer can be
// sent without a copy.
//
// Design (a two-level segregated fit, after TLSF): each chunk starts with a header that holds
// the chunk's size, its physical predecessor's size (boundary tags, for O(1) coalescing) and,
// while allocated, the mem::Block that the rest of demi reference-counts. Free chunks sit in
// lists indexed by (power of two, 1/8 subdivision); a bitmap finds the first non-empty list
// that is large enough in two bit scans.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "mem/allocator.h"

namespace demi::mem {

class RegionAllocator final : public Allocator {
 public:
  // Serves [base, base + size). The memory is not owned: whoever mapped it unmaps it, after
  // every block has been released.
  RegionAllocator(std::byte* base, std::size_t size, std::string_view name = "region");
  ~RegionAllocator() override = default;

  Block* allocate(std::size_t size) override;
  void release(Block* b) noexcept override;
  std::string_view name() const override { return name_; }
  AllocatorStats stats() const override { return stats_; }
  std::span<std::byte> region() const override { return {base_, size_}; }
  bool owns(const void* p) const override {
    auto* b = static_cast<const std::byte*>(p);
    return b >= base_ && b < base_ + size_;
  }
  // Bytes in the largest free chunk (what one allocation could still get).
  std::size_t largest_free() const;
  std::size_t free_bytes() const { return free_bytes_; }

 private:
  struct Chunk;
  static constexpr unsigned kSubBits = 3;  // 8 lists per power of two
  static constexpr unsigned kFirstLevels = 48;
  void insert_free(Chunk* c);
  void remove_free(Chunk* c);
  Chunk* next_phys(Chunk* c) const;
  Chunk* prev_phys(Chunk* c) const;
  static void mapping(std::size_t size, unsigned* fl, unsigned* sl);

  std::byte* base_;
  std::size_t size_;
  std::string_view name_;
  AllocatorStats stats_;
  std::size_t free_bytes_ = 0;
  uint64_t fl_bitmap_ = 0;
  std::array<uint8_t, kFirstLevels> sl_bitmap_{};
  std::array<std::array<Chunk*, 1u << kSubBits>, kFirstLevels> lists_{};
};

}  // namespace demi::mem
