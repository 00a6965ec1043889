// FramePool: coroutine frames are recycled by size class, so that once warm, starting and ending
// operations does not reach the heap.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sched/frame_pool.h"
#include "sched/scheduler.h"

namespace demi::sched {
namespace {

using namespace std::chrono_literals;

TEST(FramePool, AFreedFrameIsReusedForTheSameSizeClass) {
  void* a = FramePool::allocate(100);
  ASSERT_NE(a, nullptr);
  FramePool::deallocate(a, 100);
  const std::size_t before = FramePool::heap_allocations();
  void* b = FramePool::allocate(120);  // 100 and 120 share the 128-byte class
  EXPECT_EQ(b, a);
  EXPECT_EQ(FramePool::heap_allocations(), before);
  FramePool::deallocate(b, 120);
}

TEST(FramePool, FramesAreAlignedForAnyCoroutine) {
  std::vector<std::pair<void*, std::size_t>> frames;
  for (std::size_t size : {1u, 17u, 64u, 65u, 500u, 4096u, 5000u}) {
    void* p = FramePool::allocate(size);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(std::max_align_t), 0u) << size;
    frames.emplace_back(p, size);
  }
  for (auto [p, size] : frames) FramePool::deallocate(p, size);
}

TEST(FramePool, DifferentClassesDoNotShareFrames) {
  void* small = FramePool::allocate(64);
  FramePool::deallocate(small, 64);
  void* big = FramePool::allocate(65);  // the next class up
  EXPECT_NE(big, small);
  void* small_again = FramePool::allocate(1);
  EXPECT_EQ(small_again, small);
  FramePool::deallocate(big, 65);
  FramePool::deallocate(small_again, 1);
}

TEST(FramePool, LargeFramesGoToTheHeapEveryTime) {
  const std::size_t before = FramePool::heap_allocations();
  for (int i = 0; i < 3; ++i) {
    void* p = FramePool::allocate(64 * 1024);
    FramePool::deallocate(p, 64 * 1024);
  }
  EXPECT_EQ(FramePool::heap_allocations(), before + 3);
}

TEST(FramePool, WarmPoolServesEveryFrameWithoutTheHeap) {
  // LIFO per class: frames freed in one order come back in the reverse order, all of them.
  std::array<void*, 32> first{};
  for (auto& p : first) p = FramePool::allocate(200);
  for (auto& p : first) FramePool::deallocate(p, 200);
  const std::size_t before = FramePool::heap_allocations();
  std::array<void*, 32> second{};
  for (auto& p : second) p = FramePool::allocate(200);
  EXPECT_EQ(FramePool::heap_allocations(), before);
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(second[i], first[first.size() - 1 - i]);
  for (auto& p : second) FramePool::deallocate(p, 200);
}

Task operation(Scheduler& s, Duration d, int& done) {
  std::array<char, 300> scratch{};  // a frame of some size, as an operation's would be
  scratch[0] = 1;
  co_await s.sleep_for(d);
  done += scratch[0];
}

// One "burst" of concurrent operations, run to completion on virtual time.
void burst(Scheduler& s, VirtualClock& clock, int n, int& done) {
  for (int i = 0; i < n; ++i) s.spawn(operation(s, std::chrono::microseconds(i % 7), done));
  s.run_once();
  while (auto next = s.next_deadline()) {
    clock.advance_to(*next);
    s.run_once();
  }
}

TEST(FramePool, TaskFramesStopReachingTheHeapAfterWarmUp) {
  VirtualClock clock;
  Scheduler s(clock);
  int done = 0;
  burst(s, clock, 50, done);
  ASSERT_EQ(done, 50);
  const std::size_t warm = FramePool::heap_allocations();
  for (int round = 0; round < 20; ++round) burst(s, clock, 50, done);
  EXPECT_EQ(done, 21 * 50);
  EXPECT_EQ(FramePool::heap_allocations(), warm);
  EXPECT_EQ(s.live_tasks(), 0u);
  // A larger burst than ever before needs new frames, but only for the extra ones.
  burst(s, clock, 60, done);
  EXPECT_LE(FramePool::heap_allocations(), warm + 10);
  const std::size_t warmer = FramePool::heap_allocations();
  burst(s, clock, 60, done);
  EXPECT_EQ(FramePool::heap_allocations(), warmer);
}

}  // namespace
}  // namespace demi::sched
