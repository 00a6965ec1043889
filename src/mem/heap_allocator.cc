#include <algorithm>
#include <bit>
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

// A block's size class lives beside it, in the header's padding, so that release() knows
// which cache list (if any) takes it back.
struct Header {
  Block block;
  unsigned cls;  // size class + 1; 0 for a block that is not cached (larger than 1 MiB)
};
static_assert(sizeof(Header) <= kHeader, "the class fits in the header's padding");

Header* header_of(Block* b) { return reinterpret_cast<Header*>(b); }
}  // namespace

HeapAllocator::~HeapAllocator() {
  for (FreeList& l : cache_) {
    while (Block* b = l.head) {
      l.head = static_cast<Block*>(b->cookie);
      b->~Block();
      std::free(b);
    }
  }
}

std::size_t HeapAllocator::cached_blocks() const {
  std::size_t n = 0;
  for (const FreeList& l : cache_) n += l.count;
  return n;
}

Block* HeapAllocator::allocate(std::size_t size) {
  // The header and the rounding must not wrap around: that would give a small block claiming a
  // huge capacity.
  if (size > kMaxBlock) {
    ++stats_.failures;
    return nullptr;
  }
  const std::size_t n = size == 0 ? 1 : size;
  unsigned cls = 0;  // 0: not a cached class
  std::size_t data = n;
  if (n <= (std::size_t{1} << kMaxClassBits)) {
    const unsigned bits = std::max<unsigned>(kMinClassBits, static_cast<unsigned>(std::bit_width(n - 1)));
    cls = bits - kMinClassBits + 1;
    data = std::size_t{1} << bits;
    FreeList& l = cache_[cls - 1];
    if (Block* b = l.head) {
      l.head = static_cast<Block*>(b->cookie);
      --l.count;
      cached_bytes_ -= data;
      b->cookie = nullptr;
      b->capacity = size;
      b->refs = 1;
      ++stats_.allocations;
      ++stats_.live_blocks;
      stats_.live_bytes += size;
      return b;
    }
  }
  std::size_t want = kHeader + data;
  want = (want + kAlign - 1) / kAlign * kAlign;
  void* raw = std::aligned_alloc(kAlign, want);
  if (!raw) {
    ++stats_.failures;
    return nullptr;
  }
  auto* h = new (raw) Header{};
  h->cls = cls;
  Block* b = &h->block;
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
  if (const unsigned cls = header_of(b)->cls; cls != 0) {
    FreeList& l = cache_[cls - 1];
    const std::size_t data = std::size_t{1} << (cls - 1 + kMinClassBits);
    if (l.count < kCachePerClass && cached_bytes_ + data <= kCacheBytes) {
      b->cookie = l.head;
      l.head = b;
      ++l.count;
      cached_bytes_ += data;
      return;
    }
  }
  b->~Block();
  std::free(b);
}

}  // namespace demi::mem
