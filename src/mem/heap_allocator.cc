#include <cstdint>
#include <cstdlib>
#include <new>

#include "mem/allocator.h"

namespace demi::mem {

namespace {
constexpr std::size_t kAlign = 64;
constexpr std::size_t kHeader = (sizeof(Block) + kAlign - 1) / kAlign * kAlign;
// No machine this runs on maps a terabyte in one block; larger requests are bugs (a negative
// length cast to size_t, a wrapped sum) and fail here rather than in the C library.
constexpr std::size_t kMaxBlock = std::size_t{1} << 40;
}  // namespace

Block* HeapAllocator::allocate(std::size_t size) {
  // The header and the rounding must not wrap around: that would give a small block claiming a
  // huge capacity.
  if (size > kMaxBlock) {
    ++stats_.failures;
    return nullptr;
  }
  std::size_t want = kHeader + (size == 0 ? 1 : size);
  want = (want + kAlign - 1) / kAlign * kAlign;
  void* raw = std::aligned_alloc(kAlign, want);
  if (!raw) {
    ++stats_.failures;
    return nullptr;
  }
  auto* b = new (raw) Block{};
  b->data = static_cast<std::byte*>(raw) + kHeader;
  b->capacity = size;
  b->refs = 1;
  b->owner = this;
  ++stats_.allocations;
  ++stats_.live_blocks;
  stats_.live_bytes += size;
  return b;
}

void HeapAllocator::release(Block* b) noexcept {
  --stats_.live_blocks;
  stats_.live_bytes -= b->capacity;
  b->~Block();
  std::free(b);
}

}  // namespace demi::mem
