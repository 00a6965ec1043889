// BufRef and Block: every copy, move, slice and reset keeps the reference count right, and the
// block goes back to its owner exactly once, when the last reference goes.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <utility>
#include <vector>

#include "mem/buffer.h"

namespace demi::mem {
namespace {

// A block owner that only records what it is given back.
class RecordingOwner final : public BlockOwner {
 public:
  void release(Block* b) noexcept override { released.push_back(b); }
  std::vector<Block*> released;
};

class BufRefTest : public ::testing::Test {
 protected:
  // A block with one reference, as an allocator hands it out.
  Block* fresh() {
    Block& b = blocks.at(next++);
    b.data = storage.data();
    b.capacity = storage.size();
    b.refs = 1;
    b.owner = &owner;
    return &b;
  }

  std::array<std::byte, 256> storage{};
  std::array<Block, 8> blocks{};
  std::size_t next = 0;
  RecordingOwner owner;
};

TEST_F(BufRefTest, DefaultIsEmpty) {
  BufRef r;
  EXPECT_FALSE(r);
  EXPECT_EQ(r.block(), nullptr);
  EXPECT_EQ(r.size(), 0u);
  r.reset();  // harmless
  BufRef copy = r;
  EXPECT_FALSE(copy);
}

TEST_F(BufRefTest, AdoptTakesOverTheCallersReference) {
  Block* b = fresh();
  {
    BufRef r = BufRef::adopt(b, 16, 100);
    EXPECT_TRUE(r);
    EXPECT_EQ(b->refs, 1u);
    EXPECT_EQ(r.block(), b);
    EXPECT_EQ(r.data(), storage.data() + 16);
    EXPECT_EQ(r.size(), 100u);
    EXPECT_EQ(r.offset(), 16u);
    EXPECT_EQ(r.bytes().size(), 100u);
    EXPECT_EQ(r.bytes().data(), storage.data() + 16);
  }
  EXPECT_EQ(b->refs, 0u);
  EXPECT_EQ(owner.released, std::vector<Block*>{b});
}

TEST_F(BufRefTest, ShareTakesANewReference) {
  Block* b = fresh();
  {
    BufRef r = BufRef::share(b, 0, 10);
    EXPECT_EQ(b->refs, 2u);
  }
  EXPECT_EQ(b->refs, 1u);
  EXPECT_TRUE(owner.released.empty());
  block_unref(b);
  EXPECT_EQ(owner.released, std::vector<Block*>{b});
}

TEST_F(BufRefTest, CopiesShareTheBlockAndTheLastOneReleasesIt) {
  Block* b = fresh();
  auto a = std::make_unique<BufRef>(BufRef::adopt(b, 0, 50));
  auto c = std::make_unique<BufRef>(*a);
  BufRef d = *c;
  EXPECT_EQ(b->refs, 3u);
  EXPECT_EQ(d.block(), b);
  EXPECT_EQ(d.size(), 50u);
  a.reset();
  c.reset();
  EXPECT_EQ(b->refs, 1u);
  EXPECT_TRUE(owner.released.empty());
  d.reset();
  EXPECT_FALSE(d);
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(owner.released, std::vector<Block*>{b});
  d.reset();  // again: nothing more
  EXPECT_EQ(owner.released.size(), 1u);
}

TEST_F(BufRefTest, MoveTransfersTheReferenceWithoutCounting) {
  Block* b = fresh();
  BufRef a = BufRef::adopt(b, 8, 40);
  BufRef m = std::move(a);
  EXPECT_EQ(b->refs, 1u);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(m.block(), b);
  EXPECT_EQ(m.offset(), 8u);
  EXPECT_EQ(m.size(), 40u);
  BufRef n;
  n = std::move(m);
  EXPECT_EQ(b->refs, 1u);
  EXPECT_FALSE(m);  // NOLINT(bugprone-use-after-move)
  n.reset();
  EXPECT_EQ(owner.released, std::vector<Block*>{b});
}

TEST_F(BufRefTest, CopyAssignmentReleasesWhatWasHeld) {
  Block* b1 = fresh();
  Block* b2 = fresh();
  BufRef x = BufRef::adopt(b1, 0, 10);
  BufRef y = BufRef::adopt(b2, 0, 20);
  x = y;
  EXPECT_EQ(owner.released, std::vector<Block*>{b1});
  EXPECT_EQ(b2->refs, 2u);
  EXPECT_EQ(x.size(), 20u);
  BufRef& alias = x;
  x = alias;  // self-assignment keeps the count
  EXPECT_EQ(b2->refs, 2u);
  x.reset();
  y.reset();
  EXPECT_EQ(owner.released, (std::vector<Block*>{b1, b2}));
}

TEST_F(BufRefTest, MoveAssignmentReleasesWhatWasHeld) {
  Block* b1 = fresh();
  Block* b2 = fresh();
  BufRef x = BufRef::adopt(b1, 0, 10);
  BufRef y = BufRef::adopt(b2, 0, 20);
  x = std::move(y);
  EXPECT_EQ(owner.released, std::vector<Block*>{b1});
  EXPECT_EQ(b2->refs, 1u);
  x.reset();
  EXPECT_EQ(owner.released, (std::vector<Block*>{b1, b2}));
}

TEST_F(BufRefTest, SwapExchangesViews) {
  Block* b1 = fresh();
  Block* b2 = fresh();
  BufRef x = BufRef::adopt(b1, 1, 10);
  BufRef y = BufRef::adopt(b2, 2, 20);
  x.swap(y);
  EXPECT_EQ(x.block(), b2);
  EXPECT_EQ(x.offset(), 2u);
  EXPECT_EQ(y.block(), b1);
  EXPECT_EQ(y.size(), 10u);
  EXPECT_EQ(b1->refs, 1u);
  EXPECT_EQ(b2->refs, 1u);
}

TEST_F(BufRefTest, SliceSharesTheBlockAtAnOffsetWithinTheView) {
  Block* b = fresh();
  BufRef whole = BufRef::adopt(b, 10, 100);
  BufRef part = whole.slice(20, 30);
  EXPECT_EQ(b->refs, 2u);
  EXPECT_EQ(part.block(), b);
  EXPECT_EQ(part.offset(), 30u);
  EXPECT_EQ(part.size(), 30u);
  EXPECT_EQ(part.data(), whole.data() + 20);
  BufRef sub = part.slice(5, 5);
  EXPECT_EQ(sub.data(), whole.data() + 25);
  EXPECT_EQ(b->refs, 3u);
  whole.reset();
  part.reset();
  EXPECT_TRUE(owner.released.empty());  // the slice still holds it
  sub.reset();
  EXPECT_EQ(owner.released, std::vector<Block*>{b});
}

TEST_F(BufRefTest, TrimAndPrependMoveTheViewInsideTheBlock) {
  Block* b = fresh();
  BufRef r = BufRef::adopt(b, 64, 100);  // 64 bytes of headroom, as a packet buffer has
  EXPECT_EQ(r.headroom(), 64u);
  EXPECT_EQ(r.tailroom(), storage.size() - 164);
  r.trim_front(14);  // strip an Ethernet header
  EXPECT_EQ(r.offset(), 78u);
  EXPECT_EQ(r.size(), 86u);
  r.trim_back(6);
  EXPECT_EQ(r.size(), 80u);
  EXPECT_TRUE(r.prepend(78));
  EXPECT_EQ(r.offset(), 0u);
  EXPECT_EQ(r.size(), 158u);
  EXPECT_FALSE(r.prepend(1));  // no headroom left: unchanged
  EXPECT_EQ(r.offset(), 0u);
  EXPECT_EQ(r.size(), 158u);
  r.set_length(3);
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(b->refs, 1u);  // none of this touches the count
}

TEST_F(BufRefTest, ManyHoldersReleaseExactlyOnceInAnyOrder) {
  Block* b = fresh();
  std::vector<BufRef> holders;
  holders.push_back(BufRef::adopt(b, 0, 200));
  for (int i = 0; i < 20; ++i) holders.push_back(holders[static_cast<std::size_t>(i) / 2].slice(1, 1));
  EXPECT_EQ(b->refs, 21u);
  // Drop every other one, then the rest from the back.
  for (std::size_t i = 0; i < holders.size(); i += 2) holders[i].reset();
  EXPECT_TRUE(owner.released.empty());
  while (!holders.empty()) holders.pop_back();
  EXPECT_EQ(owner.released, std::vector<Block*>{b});
}

}  // namespace
}  // namespace demi::mem
