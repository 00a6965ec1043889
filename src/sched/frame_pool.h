// Recycles coroutine frames by size class, so that starting an operation on the fast path does
// not reach the heap once the pool is warm. One pool per thread: a LibOS is single-threaded.
#pragma once

#include <cstddef>

namespace demi::sched {

class FramePool {
 public:
  static void* allocate(std::size_t size);
  static void deallocate(void* p, std::size_t size) noexcept;
  // Frames handed out by the heap because no free frame of their class was there.
  static std::size_t heap_allocations();
};

}  // namespace demi::sched
