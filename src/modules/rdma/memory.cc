#include "modules/rdma/memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "base/log.h"

namespace demi::rdma {

namespace {
constexpr int kAccess = IBV_ACCESS_LOCAL_WRITE;  // no remote access: the peer only ever SENDs
}

std::unique_ptr<RegisteredRegion> RegisteredRegion::map(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return std::unique_ptr<RegisteredRegion>(new RegisteredRegion(static_cast<std::byte*>(p), bytes));
}

RegisteredRegion::RegisteredRegion(std::byte* base, std::size_t size)
    : base_(base), size_(size), inner_(std::make_unique<mem::RegionAllocator>(base, size, "rdma-region")) {}

RegisteredRegion::~RegisteredRegion() {
  inner_.reset();
  ::munmap(base_, size_);
}

MemoryRegistry::~MemoryRegistry() {
  clear();
  if (region_mr_) ibv_dereg_mr(region_mr_);
}

int MemoryRegistry::register_region(const RegisteredRegion& region) {
  region_mr_ = ibv_reg_mr(pd_, region.base(), region.size(), kAccess);
  if (!region_mr_) return errno ? errno : ENOMEM;
  region_base_ = region.base();
  region_size_ = region.size();
  ++registrations_;
  return 0;
}

bool MemoryRegistry::lkey(mem::Block* b, const void* p, std::size_t len, uint32_t* key, int* err) {
  auto* bp = static_cast<const std::byte*>(p);
  if (region_mr_ && bp >= region_base_ && bp + len <= region_base_ + region_size_) {
    *key = region_mr_->lkey;
    return true;
  }
  if (auto it = index_.find(b); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    ++hits_;
    *key = it->second->mr->lkey;
    return true;
  }
  if (lru_.size() >= capacity_) evict_one();
  ibv_mr* mr = ibv_reg_mr(pd_, b->data, b->capacity == 0 ? 1 : b->capacity, kAccess);
  if (!mr) {
    *err = errno ? errno : ENOMEM;
    DEMI_ERROR("rdma", "ibv_reg_mr of {} bytes failed: {} (RLIMIT_MEMLOCK too low?)", b->capacity, std::strerror(*err));
    return false;
  }
  ++registrations_;
  lru_.push_front(Entry{mem::BufRef::share(b, 0, 0), mr});
  index_[b] = lru_.begin();
  *key = mr->lkey;
  return true;
}

void MemoryRegistry::evict_one() {
  // The least recently used block that only the cache still holds: any other reference may be a
  // posted receive or a send in flight, which deregistering would fail. If every block is in use
  // the cache grows past its capacity for a while.
  for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
    if (it->pin.block()->refs > 1) continue;
    auto victim = std::next(it).base();
    index_.erase(victim->pin.block());
    // Deregister before the block may go back to its allocator (and its pages to malloc).
    ibv_dereg_mr(victim->mr);
    lru_.erase(victim);
    return;
  }
}

void MemoryRegistry::clear() {
  for (Entry& e : lru_) ibv_dereg_mr(e.mr);
  lru_.clear();
  index_.clear();
}

}  // namespace demi::rdma
