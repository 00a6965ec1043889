// The heap allocator's blocks and accounting, and the fixed packet pool.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "mem/allocator.h"
#include "mem/packet_pool.h"

namespace demi::mem {
namespace {

TEST(HeapAllocator, BlocksAreAlignedOwnedAndCounted) {
  HeapAllocator heap;
  EXPECT_EQ(heap.name(), "heap");
  Block* a = heap.allocate(100);
  Block* b = heap.allocate(5000);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (Block* blk : {a, b}) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(blk->data) % 64, 0u);
    EXPECT_EQ(blk->refs, 1u);
    EXPECT_EQ(blk->owner, &heap);
    EXPECT_FALSE(heap.owns(blk->data));  // heap memory is not device-registered
  }
  EXPECT_EQ(a->capacity, 100u);
  EXPECT_EQ(b->capacity, 5000u);
  std::memset(a->data, 0xab, a->capacity);  // the whole capacity is usable (ASan checks)
  std::memset(b->data, 0xcd, b->capacity);
  AllocatorStats s = heap.stats();
  EXPECT_EQ(s.live_blocks, 2u);
  EXPECT_EQ(s.live_bytes, 5100u);
  EXPECT_EQ(s.allocations, 2u);
  EXPECT_EQ(s.failures, 0u);
  block_unref(a);
  EXPECT_EQ(heap.stats().live_blocks, 1u);
  EXPECT_EQ(heap.stats().live_bytes, 5000u);
  BufRef r = BufRef::adopt(b, 0, 5000);
  r.reset();
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(heap.stats().live_bytes, 0u);
  EXPECT_EQ(heap.stats().allocations, 2u);
}

TEST(HeapAllocator, ZeroSizedBlock) {
  HeapAllocator heap;
  Block* z = heap.allocate(0);
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->capacity, 0u);
  EXPECT_NE(z->data, nullptr);
  block_unref(z);
  EXPECT_EQ(heap.stats().live_blocks, 0u);
}

// A size so large that the header plus the data wraps around must fail, not yield a small block
// that claims a huge capacity. (Before the fix, allocate(SIZE_MAX) returned a 64-byte block with
// capacity SIZE_MAX.)
TEST(HeapAllocator, SizeThatOverflowsWithTheHeaderIsAFailure) {
  HeapAllocator heap;
  for (std::size_t size : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 63, SIZE_MAX - 200}) {
    Block* b = heap.allocate(size);
    EXPECT_EQ(b, nullptr) << size;
    if (b) block_unref(b);
  }
  EXPECT_EQ(heap.stats().failures, 4u);
  EXPECT_EQ(heap.stats().allocations, 0u);
  EXPECT_EQ(heap.stats().live_blocks, 0u);
}

TEST(PacketPool, HandsOutEveryBufferOnceThenReportsExhaustion) {
  PacketPool pool(4, 2048);
  EXPECT_EQ(pool.capacity(), 4u);
  EXPECT_EQ(pool.buffer_size(), 2048u);
  std::vector<BufRef> held;
  for (int i = 0; i < 4; ++i) {
    BufRef r = pool.get(128);
    ASSERT_TRUE(r);
    EXPECT_EQ(r.headroom(), 128u);
    EXPECT_EQ(r.size(), 0u);
    EXPECT_EQ(r.tailroom(), 2048u - 128u);
    held.push_back(std::move(r));
  }
  EXPECT_EQ(pool.in_use(), 4u);
  EXPECT_EQ(pool.available(), 0u);
  EXPECT_FALSE(pool.get());
  EXPECT_EQ(pool.exhausted(), 1u);
  // A buffer shared by two holders returns once both let go.
  BufRef extra = held[0];
  held[0].reset();
  EXPECT_EQ(pool.available(), 0u);
  extra.reset();
  EXPECT_EQ(pool.available(), 1u);
  held.clear();
  EXPECT_EQ(pool.available(), 4u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(PacketPool, HeadroomLargerThanABufferIsRefused) {
  PacketPool pool(2, 256);
  EXPECT_FALSE(pool.get(257));
  EXPECT_EQ(pool.available(), 2u);
  BufRef r = pool.get(256);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.tailroom(), 0u);
}

TEST(PacketPool, BuffersDoNotOverlap) {
  PacketPool pool(8, 512);
  std::vector<BufRef> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(pool.get());
    held.back().set_length(512);
    std::memset(held.back().data(), i, 512);
  }
  for (int i = 0; i < 8; ++i) {
    const std::byte* p = held[static_cast<std::size_t>(i)].data();
    for (std::size_t k = 0; k < 512; ++k) ASSERT_EQ(p[k], static_cast<std::byte>(i));
  }
}

// A released block of up to 1 MiB is kept and handed out again for its size class: the steady
// state of "one buffer per message" makes no malloc call. Bounded per class.
TEST(HeapAllocator, ReleasedBlocksAreReusedPerSizeClass) {
  if (HeapAllocator::kCachePerClass == 0) GTEST_SKIP() << "no cache under AddressSanitizer";
  HeapAllocator heap;
  Block* a = heap.allocate(1000);  // the 1 KiB class
  ASSERT_NE(a, nullptr);
  std::byte* data = a->data;
  block_unref(a);
  EXPECT_EQ(heap.cached_blocks(), 1u);
  EXPECT_EQ(heap.cached_bytes(), 1024u);
  Block* b = heap.allocate(600);  // the same class: the same block, with its new size
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->data, data);
  EXPECT_EQ(b->capacity, 600u);
  EXPECT_EQ(b->refs, 1u);
  EXPECT_EQ(heap.cached_blocks(), 0u);
  std::memset(b->data, 0x5a, 1024);  // the whole class is usable
  Block* c = heap.allocate(2000);    // another class: a new block
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->data, data);
  block_unref(b);
  block_unref(c);
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(heap.stats().live_bytes, 0u);
  // Larger than 1 MiB: never cached.
  Block* big = heap.allocate((std::size_t{1} << 20) + 1);
  ASSERT_NE(big, nullptr);
  block_unref(big);
  EXPECT_EQ(heap.cached_blocks(), 2u);
  // The cache per class is bounded: the surplus goes back to malloc.
  std::vector<Block*> many;
  for (std::size_t i = 0; i < HeapAllocator::kCachePerClass + 10; ++i) many.push_back(heap.allocate(64));
  for (Block* m : many) block_unref(m);
  EXPECT_EQ(heap.cached_blocks(), 2u + HeapAllocator::kCachePerClass);
}

}  // namespace
}  // namespace demi::mem
