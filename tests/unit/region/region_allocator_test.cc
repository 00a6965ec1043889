#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "mem/buffer.h"
#include "mem/region_allocator.h"

using demi::mem::Block;
using demi::mem::RegionAllocator;

namespace {
constexpr std::size_t kMiB = 1 << 20;

struct Region {
  explicit Region(std::size_t n) : bytes(new std::byte[n]), alloc(bytes.get(), n) {}
  std::unique_ptr<std::byte[]> bytes;
  RegionAllocator alloc;
};
}  // namespace

// Every size the issue names, from one byte to 64 MiB, is served and writable end to end.
TEST(RegionAllocator, ServesEverySize) {
  Region r(80 * kMiB);
  for (std::size_t size : {std::size_t{1}, std::size_t{1024}, std::size_t{9 * 1024}, std::size_t{64 * 1024}, kMiB,
                           64 * kMiB}) {
    Block* b = r.alloc.allocate(size);
    ASSERT_NE(b, nullptr) << size;
    EXPECT_GE(b->capacity, size);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data) % 64, 0u);
    EXPECT_TRUE(r.alloc.owns(b->data));
    EXPECT_TRUE(r.alloc.owns(b->data + size - 1));
    std::memset(b->data, 0xab, size);
    demi::mem::block_unref(b);
  }
  EXPECT_EQ(r.alloc.stats().live_blocks, 0u);
}

TEST(RegionAllocator, ExhaustionIsNullNotACrash) {
  Region r(4 * kMiB);
  std::vector<Block*> held;
  while (Block* b = r.alloc.allocate(256 * 1024)) held.push_back(b);
  EXPECT_GE(held.size(), 14u);
  EXPECT_EQ(r.alloc.allocate(256 * 1024), nullptr);
  EXPECT_EQ(r.alloc.allocate(5 * kMiB), nullptr);
  EXPECT_GE(r.alloc.stats().failures, 2u);
  for (Block* b : held) demi::mem::block_unref(b);
}

// Freeing everything coalesces back into one chunk as large as the first allocation could get.
TEST(RegionAllocator, CoalescesBackToOneChunk) {
  Region r(32 * kMiB);
  std::size_t fresh = r.alloc.largest_free();
  std::vector<Block*> held;
  for (int i = 0; i < 1000; ++i) {
    held.push_back(r.alloc.allocate(static_cast<std::size_t>(1 + i * 37)));
    ASSERT_NE(held.back(), nullptr) << i;
  }
  // Free in an interleaved order to exercise both neighbours.
  for (std::size_t i = 0; i < held.size(); i += 2) demi::mem::block_unref(held[i]);
  for (std::size_t i = 1; i < held.size(); i += 2) demi::mem::block_unref(held[i]);
  EXPECT_EQ(r.alloc.largest_free(), fresh);
  EXPECT_EQ(r.alloc.stats().live_bytes, 0u);
}

// Random allocations and frees against a model: blocks never overlap and keep their contents.
TEST(RegionAllocator, RandomizedAgainstAModel) {
  Region r(32 * kMiB);
  std::mt19937_64 rng(42);
  std::map<Block*, uint8_t> live;
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      std::size_t size = 1 + rng() % (rng() % 10 == 0 ? 2 * kMiB : 4096);
      Block* b = r.alloc.allocate(size);
      if (!b) continue;
      auto tag = static_cast<uint8_t>(rng());
      std::memset(b->data, tag, b->capacity);
      live[b] = tag;
    } else {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      Block* b = it->first;
      for (std::size_t i = 0; i < b->capacity; i += 97) ASSERT_EQ(b->data[i], std::byte{it->second});
      live.erase(it);
      demi::mem::block_unref(b);
    }
  }
  for (auto& [b, tag] : live) {
    for (std::size_t i = 0; i < b->capacity; i += 97) ASSERT_EQ(b->data[i], std::byte{tag});
    demi::mem::block_unref(b);
  }
  EXPECT_EQ(r.alloc.stats().live_blocks, 0u);
}
