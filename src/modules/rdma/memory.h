// Which memory the device may read and write: how the rdma module registers application memory.
//
// Registration (ibv_reg_mr) pins pages and costs a system call plus page-table work, so it must
// not happen per message. Two regimes, chosen once at attach:
//
//  1. Region (rdma.memory_mb > 0 and the LibOS still has the default heap allocator): the module
//     maps one region, registers it once with every protection domain, and installs a
//     RegionAllocator over it as the LibOS's allocator. Every sgaalloc buffer and every receive
//     buffer is then registered memory: pushes are zero copy, and pops hand the receive buffers
//     themselves to the application. The region outlives the module (the allocator owns the
//     mapping, and the LibOS destroys its allocator after its modules), so sgas still held at
//     shutdown stay valid.
//  2. Per block (rdma.memory_mb = 0, or another allocator was installed first, e.g. DPDK's): each
//     block is registered lazily the first time it is sent from or received into, and kept in a
//     small LRU cache keyed by the block. The cache holds a reference to every block it has
//     registered, so a block can never be freed (and its pages reused by malloc) while an MR still
//     pins them: eviction deregisters first, then lets the block go. Correct for any allocator,
//     but a miss costs a registration.
//
// Memory that is no block of ours (an sga built by hand) is copied into a fresh block first.
#pragma once

#include <infiniband/verbs.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "mem/allocator.h"
#include "mem/buffer.h"
#include "mem/region_allocator.h"

namespace demi::rdma {

// The application region of regime 1: an anonymous mapping and the allocator over it.
class RegisteredRegion final : public mem::Allocator {
 public:
  // nullptr (errno set) if the mapping fails.
  static std::unique_ptr<RegisteredRegion> map(std::size_t bytes);
  ~RegisteredRegion() override;
  RegisteredRegion(const RegisteredRegion&) = delete;
  RegisteredRegion& operator=(const RegisteredRegion&) = delete;

  mem::Block* allocate(std::size_t size) override { return inner_->allocate(size); }
  void release(mem::Block* b) noexcept override { inner_->release(b); }
  std::string_view name() const override { return "rdma-region"; }
  mem::AllocatorStats stats() const override { return inner_->stats(); }
  bool owns(const void* p) const override { return inner_->owns(p); }
  std::byte* base() const { return base_; }
  std::size_t size() const { return size_; }

 private:
  RegisteredRegion(std::byte* base, std::size_t size);
  std::byte* base_;
  std::size_t size_;
  std::unique_ptr<mem::RegionAllocator> inner_;
};

// Local keys for memory on one protection domain.
class MemoryRegistry {
 public:
  MemoryRegistry(ibv_pd* pd, std::size_t cache_entries) : pd_(pd), capacity_(cache_entries) {}
  ~MemoryRegistry();
  MemoryRegistry(const MemoryRegistry&) = delete;
  MemoryRegistry& operator=(const MemoryRegistry&) = delete;

  // Regime 1: registers the whole region once. 0 or an errno.
  int register_region(const RegisteredRegion& region);
  // The lkey under which [p, p + len) of block `b` may be used, registering `b` if needed;
  // false if the registration failed (errno in *err).
  bool lkey(mem::Block* b, const void* p, std::size_t len, uint32_t* key, int* err);

  std::size_t registrations() const { return registrations_; }
  std::size_t cache_hits() const { return hits_; }
  bool has_region() const { return region_mr_ != nullptr; }

 private:
  struct Entry {
    mem::BufRef pin;  // keeps the block (and its pages) alive while registered
    ibv_mr* mr = nullptr;
  };
  using Lru = std::list<Entry>;
  void evict_one();
  void clear();

  ibv_pd* pd_;
  std::size_t capacity_;
  ibv_mr* region_mr_ = nullptr;
  const std::byte* region_base_ = nullptr;
  std::size_t region_size_ = 0;
  Lru lru_;  // front = most recently used
  std::unordered_map<const mem::Block*, Lru::iterator> index_;
  std::size_t registrations_ = 0;
  std::size_t hits_ = 0;
};

}  // namespace demi::rdma
