// Where application buffers (sgaalloc) come from. The heap allocator is the default; the DPDK
// runtime installs one that serves every size from a region registered with the NIC, so any
// application buffer can be transmitted without a copy.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "mem/buffer.h"

namespace demi::mem {

struct AllocatorStats {
  std::size_t live_blocks = 0;
  std::size_t live_bytes = 0;
  std::size_t allocations = 0;
  std::size_t failures = 0;  // ENOMEM answers
};

class Allocator : public BlockOwner {
 public:
  virtual ~Allocator() = default;
  // A block of at least `size` bytes with one reference held by the caller; nullptr when the
  // memory is exhausted (the caller answers ENOMEM).
  virtual Block* allocate(std::size_t size) = 0;
  virtual std::string_view name() const = 0;
  virtual AllocatorStats stats() const = 0;
  // True if `p` points into memory this allocator serves (for zero-copy eligibility).
  virtual bool owns(const void* p) const = 0;
  // The one contiguous range every block comes from, for modules that register memory with a
  // device once (io_uring's fixed buffers, an RDMA protection domain); empty if there is none.
  virtual std::span<std::byte> region() const { return {}; }

 protected:
  Allocator() = default;
};

// malloc-backed blocks: the header and the data in one allocation, data 64-byte aligned.
// Blocks up to 1 MiB are rounded up to a power of two and, when released, kept in a small cache
// per size (bounded in count and bytes) for the next allocation of that class: an application
// that allocates a buffer per message, and a module that allocates one per pop, reach a steady
// state with no call into malloc at all.
class HeapAllocator final : public Allocator {
 public:
  HeapAllocator() = default;
  ~HeapAllocator() override;
  HeapAllocator(const HeapAllocator&) = delete;
  HeapAllocator& operator=(const HeapAllocator&) = delete;

  Block* allocate(std::size_t size) override;
  void release(Block* b) noexcept override;
  std::string_view name() const override { return "heap"; }
  AllocatorStats stats() const override { return stats_; }
  bool owns(const void*) const override { return false; }
  // Blocks kept for reuse, and their bytes (for tests and the stats).
  std::size_t cached_blocks() const;
  std::size_t cached_bytes() const { return cached_bytes_; }

  static constexpr unsigned kMinClassBits = 6;   // 64 B
  static constexpr unsigned kMaxClassBits = 20;  // 1 MiB
  // Under AddressSanitizer nothing is cached: a freed buffer goes back to malloc, so that a use
  // after sgafree is caught rather than hidden by the reuse.
#if defined(__SANITIZE_ADDRESS__)
  static constexpr std::size_t kCachePerClass = 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  static constexpr std::size_t kCachePerClass = 0;
#else
  static constexpr std::size_t kCachePerClass = 64;
#endif
#else
  static constexpr std::size_t kCachePerClass = 64;
#endif
  static constexpr std::size_t kCacheBytes = std::size_t{16} << 20;

 private:
  static constexpr unsigned kClasses = kMaxClassBits - kMinClassBits + 1;
  struct FreeList {
    Block* head = nullptr;  // linked through Block::cookie
    std::size_t count = 0;
  };
  AllocatorStats stats_;
  FreeList cache_[kClasses];
  std::size_t cached_bytes_ = 0;
};

}  // namespace demi::mem
