// SgaTable: application-owned scatter-gather arrays named by (slot, generation) handles, so that
// a double free, a stale copy, a foreign handle or a moved pointer is answered EINVAL.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "mem/allocator.h"
#include "mem/sga_table.h"

namespace demi::mem {
namespace {

// Serves `budget` blocks from the heap, then answers "out of memory".
class BudgetAllocator final : public Allocator {
 public:
  explicit BudgetAllocator(int budget) : budget_(budget) {}
  Block* allocate(std::size_t size) override {
    if (budget_ <= 0) return nullptr;
    --budget_;
    return heap_.allocate(size);  // the heap stays the blocks' owner
  }
  void release(Block* b) noexcept override { heap_.release(b); }
  std::string_view name() const override { return "budget"; }
  AllocatorStats stats() const override { return heap_.stats(); }
  bool owns(const void*) const override { return false; }

 private:
  HeapAllocator heap_;
  int budget_;
};

class SgaTableTest : public ::testing::Test {
 protected:
  Result<Sga> alloc(std::vector<std::size_t> sizes) { return table.allocate(heap, sizes); }
  std::size_t live_blocks() const { return heap.stats().live_blocks; }

  HeapAllocator heap;
  SgaTable table;
};

TEST_F(SgaTableTest, AllocateOneSegment) {
  auto sga = alloc({1000});
  ASSERT_TRUE(sga.ok());
  EXPECT_NE(sga->handle, 0u);
  EXPECT_EQ(sga->numsegs, 1u);
  ASSERT_NE(sga->segs[0].buf, nullptr);
  EXPECT_EQ(sga->segs[0].len, 1000u);
  EXPECT_EQ(sga->length(), 1000u);
  std::memset(sga->segs[0].buf, 0x5a, 1000);
  EXPECT_EQ(table.live(), 1u);
  EXPECT_EQ(live_blocks(), 1u);
  const std::vector<BufRef>* segs = table.segments(*sga);
  ASSERT_NE(segs, nullptr);
  ASSERT_EQ(segs->size(), 1u);
  EXPECT_EQ((*segs)[0].data(), sga->segs[0].buf);
  EXPECT_EQ((*segs)[0].size(), 1000u);
  EXPECT_EQ(table.free(*sga), 0);
  EXPECT_EQ(table.live(), 0u);
  EXPECT_EQ(live_blocks(), 0u);
}

TEST_F(SgaTableTest, AllocateSeveralSegmentsEachItsOwnBlock) {
  auto sga = alloc({10, 0, 3000, 64});
  ASSERT_TRUE(sga.ok());
  ASSERT_EQ(sga->numsegs, 4u);
  EXPECT_EQ(sga->segs[0].len, 10u);
  EXPECT_EQ(sga->segs[1].len, 0u);
  EXPECT_EQ(sga->segs[2].len, 3000u);
  EXPECT_EQ(sga->segs[3].len, 64u);
  EXPECT_EQ(sga->length(), 3074u);
  std::set<void*> distinct;
  for (uint32_t i = 0; i < sga->numsegs; ++i) distinct.insert(sga->segs[i].buf);
  EXPECT_EQ(distinct.size(), 4u);
  EXPECT_EQ(live_blocks(), 4u);
  EXPECT_EQ(table.live(), 1u);
  EXPECT_EQ(table.free(*sga), 0);
  EXPECT_EQ(live_blocks(), 0u);
}

TEST_F(SgaTableTest, SixteenSegmentsIsTheMost) {
  std::vector<std::size_t> sizes(kSgaMaxSegments, 8);
  auto sga = alloc(sizes);
  ASSERT_TRUE(sga.ok());
  EXPECT_EQ(sga->numsegs, kSgaMaxSegments);
  EXPECT_EQ(table.free(*sga), 0);
}

TEST_F(SgaTableTest, BadShapesAreEinvalAndAllocateNothing) {
  EXPECT_EQ(alloc({}).error(), EINVAL);
  EXPECT_EQ(alloc(std::vector<std::size_t>(kSgaMaxSegments + 1, 8)).error(), EINVAL);
  EXPECT_EQ(alloc({0}).error(), EINVAL);
  EXPECT_EQ(alloc({0, 0, 0}).error(), EINVAL);
  EXPECT_EQ(alloc({8, std::size_t{UINT32_MAX} + 1}).error(), EINVAL);  // a segment length is 32 bits
  EXPECT_EQ(table.live(), 0u);
  EXPECT_EQ(live_blocks(), 0u);
  EXPECT_EQ(heap.stats().allocations, 0u);
}

TEST_F(SgaTableTest, OutOfMemoryReleasesWhatWasAlreadyAllocated) {
  BudgetAllocator tight(2);
  std::vector<std::size_t> sizes = {100, 200, 300};
  auto sga = table.allocate(tight, sizes);
  EXPECT_EQ(sga.error(), ENOMEM);
  EXPECT_EQ(tight.stats().live_blocks, 0u);
  EXPECT_EQ(table.live(), 0u);
  // The slot it had taken is free again, and the table still works.
  auto ok = alloc({5});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(table.free(*ok), 0);
}

TEST_F(SgaTableTest, DoubleFreeIsEinval) {
  auto sga = alloc({64});
  ASSERT_TRUE(sga.ok());
  EXPECT_EQ(table.free(*sga), 0);
  EXPECT_EQ(table.free(*sga), EINVAL);
  EXPECT_EQ(table.invalid_frees(), 1u);
  EXPECT_EQ(table.segments(*sga), nullptr);
  EXPECT_EQ(table.live(), 0u);
}

TEST_F(SgaTableTest, StaleCopyAfterTheSlotIsReusedIsEinval) {
  auto first = alloc({64});
  ASSERT_TRUE(first.ok());
  const Sga stale = *first;
  EXPECT_EQ(table.free(*first), 0);
  auto second = alloc({64});  // takes the same slot, next generation
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->handle & 0xffffffffu, stale.handle & 0xffffffffu);
  EXPECT_NE(second->handle, stale.handle);
  // Even with the very same buffer address (the heap may hand the same memory back), the stale
  // handle's generation gives it away.
  Sga forged = stale;
  forged.segs[0] = second->segs[0];
  EXPECT_EQ(table.free(stale), EINVAL);
  EXPECT_EQ(table.free(forged), EINVAL);
  EXPECT_EQ(table.live(), 1u);  // the new owner's array is untouched
  EXPECT_NE(table.segments(*second), nullptr);
  EXPECT_EQ(table.free(*second), 0);
}

TEST_F(SgaTableTest, ForeignHandlesAreEinval) {
  auto sga = alloc({64});
  ASSERT_TRUE(sga.ok());
  // Built by hand (handle 0): not ours.
  std::byte own[64];
  Sga by_hand;
  by_hand.numsegs = 1;
  by_hand.segs[0] = {own, sizeof own};
  EXPECT_EQ(table.free(by_hand), EINVAL);
  EXPECT_EQ(table.segments(by_hand), nullptr);
  // A slot that does not exist.
  Sga beyond = *sga;
  beyond.handle = (beyond.handle & ~uint64_t{0xffffffffu}) | 1000u;
  EXPECT_EQ(table.free(beyond), EINVAL);
  // A generation that was never handed out.
  Sga future = *sga;
  future.handle += uint64_t{5} << 32;
  EXPECT_EQ(table.free(future), EINVAL);
  // The right handle but someone else's memory.
  Sga foreign_ptr = *sga;
  foreign_ptr.segs[0].buf = own;
  EXPECT_EQ(table.free(foreign_ptr), EINVAL);
  EXPECT_EQ(table.segments(foreign_ptr), nullptr);
  EXPECT_EQ(table.invalid_frees(), 4u);
  EXPECT_EQ(table.live(), 1u);
  EXPECT_EQ(table.free(*sga), 0);
}

TEST_F(SgaTableTest, ShortenedSegmentIsAccepted) {
  auto sga = alloc({100, 200});
  ASSERT_TRUE(sga.ok());
  Sga shorter = *sga;
  shorter.segs[0].len = 40;  // send less than was allocated
  shorter.segs[1].len = 0;
  const std::vector<BufRef>* segs = table.segments(shorter);
  ASSERT_NE(segs, nullptr);
  EXPECT_EQ((*segs)[1].size(), 200u);  // the table keeps the allocated lengths
  EXPECT_EQ(table.free(shorter), 0);
  EXPECT_EQ(live_blocks(), 0u);
}

TEST_F(SgaTableTest, MovedOrGrownSegmentIsRejectedAndTheSgaStaysLive) {
  auto sga = alloc({100, 200});
  ASSERT_TRUE(sga.ok());
  Sga moved = *sga;
  moved.segs[1].buf = static_cast<std::byte*>(moved.segs[1].buf) + 1;
  moved.segs[1].len = 199;  // still inside the block, but moved
  EXPECT_EQ(table.free(moved), EINVAL);
  Sga grown = *sga;
  grown.segs[0].len = 101;
  EXPECT_EQ(table.free(grown), EINVAL);
  Sga fewer = *sga;
  fewer.numsegs = 1;
  EXPECT_EQ(table.free(fewer), EINVAL);
  Sga swapped = *sga;
  std::swap(swapped.segs[0], swapped.segs[1]);
  EXPECT_EQ(table.free(swapped), EINVAL);
  EXPECT_EQ(table.live(), 1u);
  EXPECT_EQ(live_blocks(), 2u);
  EXPECT_EQ(table.free(*sga), 0);
}

TEST_F(SgaTableTest, BlockStillHeldByADeviceSurvivesFreeAndIsReleasedAfter) {
  auto sga = alloc({1500});
  ASSERT_TRUE(sga.ok());
  std::memset(sga->segs[0].buf, 0x42, 1500);
  // A device (a NIC's transmit ring) takes its own reference, as a zero-copy push does.
  BufRef device = (*table.segments(*sga))[0];
  EXPECT_EQ(device.block()->refs, 2u);
  EXPECT_EQ(table.free(*sga), 0);
  EXPECT_EQ(table.live(), 0u);
  EXPECT_EQ(live_blocks(), 1u);  // still in flight
  EXPECT_EQ(device.block()->refs, 1u);
  EXPECT_EQ(device.data()[1499], std::byte{0x42});  // still readable (ASan would say otherwise)
  device.reset();
  EXPECT_EQ(live_blocks(), 0u);
}

TEST_F(SgaTableTest, DeviceLettingGoFirstLeavesTheApplicationsArrayIntact) {
  auto sga = alloc({64});
  ASSERT_TRUE(sga.ok());
  {
    BufRef device = (*table.segments(*sga))[0];
  }
  EXPECT_EQ(live_blocks(), 1u);
  std::memset(sga->segs[0].buf, 1, 64);
  EXPECT_EQ(table.free(*sga), 0);
  EXPECT_EQ(live_blocks(), 0u);
}

TEST_F(SgaTableTest, AdoptWrapsBuffersTheStackHolds) {
  Block* b = heap.allocate(2048);
  ASSERT_NE(b, nullptr);
  std::vector<BufRef> received;
  received.push_back(BufRef::adopt(b, 14, 100));  // a payload inside a received frame
  received.push_back(received[0].slice(100 - 14, 0));
  auto sga = table.adopt(received);
  ASSERT_TRUE(sga.ok());
  EXPECT_FALSE(received[0]);  // moved into the table
  EXPECT_EQ(sga->numsegs, 2u);
  EXPECT_EQ(sga->segs[0].buf, b->data + 14);
  EXPECT_EQ(sga->segs[0].len, 100u);
  EXPECT_EQ(sga->segs[1].buf, nullptr);  // an empty segment has no address
  EXPECT_EQ(sga->segs[1].len, 0u);
  EXPECT_EQ(table.live(), 1u);
  EXPECT_EQ(b->refs, 2u);
  EXPECT_EQ(table.free(*sga), 0);
  EXPECT_EQ(live_blocks(), 0u);
  EXPECT_EQ(table.free(*sga), EINVAL);
}

TEST_F(SgaTableTest, AdoptingTooManySegmentsIsEinval) {
  Block* b = heap.allocate(64);
  BufRef whole = BufRef::adopt(b, 0, 64);
  std::vector<BufRef> parts;
  for (uint32_t i = 0; i <= kSgaMaxSegments; ++i) parts.push_back(whole.slice(i, 1));
  EXPECT_EQ(table.adopt(parts).error(), EINVAL);
  EXPECT_EQ(table.live(), 0u);
  parts.clear();
  whole.reset();
  EXPECT_EQ(live_blocks(), 0u);
}

TEST_F(SgaTableTest, SlotsAreRecycledAndHandlesNeverRepeat) {
  std::set<uint64_t> handles;
  std::set<uint64_t> slots;
  for (int round = 0; round < 100; ++round) {
    std::vector<Sga> held;
    for (int i = 0; i < 5; ++i) {
      auto sga = alloc({32});
      ASSERT_TRUE(sga.ok());
      EXPECT_TRUE(handles.insert(sga->handle).second);
      slots.insert(sga->handle & 0xffffffffu);
      held.push_back(*sga);
    }
    for (const Sga& s : held) EXPECT_EQ(table.free(s), 0);
  }
  EXPECT_EQ(slots.size(), 5u);  // the table never held more than 5 at once
  EXPECT_EQ(handles.size(), 500u);
  EXPECT_EQ(table.live(), 0u);
  EXPECT_EQ(live_blocks(), 0u);
}

TEST(SgaValidate, ChecksCountAndSegments) {
  Sga s;
  EXPECT_EQ(SgaTable::validate(s), EINVAL);  // no segments
  std::byte buf[8];
  s.numsegs = 1;
  s.segs[0] = {buf, 8};
  EXPECT_EQ(SgaTable::validate(s), 0);
  s.segs[0] = {nullptr, 0};  // empty segment: fine
  EXPECT_EQ(SgaTable::validate(s), 0);
  s.segs[0] = {nullptr, 8};  // length without memory
  EXPECT_EQ(SgaTable::validate(s), EINVAL);
  s.segs[0] = {buf, 8};
  s.numsegs = kSgaMaxSegments + 1;
  EXPECT_EQ(SgaTable::validate(s), EINVAL);
  s.numsegs = kSgaMaxSegments;
  EXPECT_EQ(SgaTable::validate(s), 0);
}

}  // namespace
}  // namespace demi::mem
