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
class HeapAllocator final : public Allocator {
 public:
  Block* allocate(std::size_t size) override;
  void release(Block* b) noexcept override;
  std::string_view name() const override { return "heap"; }
  AllocatorStats stats() const override { return stats_; }
  bool owns(const void*) const override { return false; }

 private:
  AllocatorStats stats_;
};

}  // namespace demi::mem
