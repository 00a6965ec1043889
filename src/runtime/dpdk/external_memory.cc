#include "runtime/dpdk/external_memory.h"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_memory.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace demi::runtime::dpdk {

namespace {
constexpr std::size_t kHugePage = 2 << 20;
constexpr std::size_t kSmallPage = 4096;

// The allocator handed to the LibOS: the region's allocator, kept alive with the region.
class RegionAllocatorHandle final : public mem::Allocator {
 public:
  explicit RegionAllocatorHandle(mem::RegionAllocator* a) : a_(a) {}
  mem::Block* allocate(std::size_t size) override { return a_->allocate(size); }
  void release(mem::Block* b) noexcept override { a_->release(b); }
  std::string_view name() const override { return a_->name(); }
  mem::AllocatorStats stats() const override { return a_->stats(); }
  bool owns(const void* p) const override { return a_->owns(p); }

 private:
  mem::RegionAllocator* a_;
};

// The allocator that owns its region: released with it.
class OwningRegionAllocator final : public mem::Allocator {
 public:
  OwningRegionAllocator(std::unique_ptr<ExternalMemory> m, std::unique_ptr<mem::Allocator> a)
      : memory_(std::move(m)), a_(std::move(a)) {}
  ~OwningRegionAllocator() override {
    a_.reset();
    memory_.reset();
  }
  mem::Block* allocate(std::size_t size) override { return a_->allocate(size); }
  void release(mem::Block* b) noexcept override { a_->release(b); }
  std::string_view name() const override { return a_->name(); }
  mem::AllocatorStats stats() const override { return a_->stats(); }
  bool owns(const void* p) const override { return a_->owns(p); }

 private:
  std::unique_ptr<ExternalMemory> memory_;
  std::unique_ptr<mem::Allocator> a_;
};
}  // namespace

Result<std::unique_ptr<ExternalMemory>> ExternalMemory::create(const Config& config, uint16_t port) {
  std::unique_ptr<ExternalMemory> m{new ExternalMemory};
  std::size_t want = static_cast<std::size_t>(config.get_int("dpdk.memory_mb")) << 20;
  void* p = MAP_FAILED;
  if (config.get_bool("dpdk.memory_hugepages")) {
    std::size_t size = (want + kHugePage - 1) / kHugePage * kHugePage;
    p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
    if (p != MAP_FAILED) {
      m->size_ = size;
      m->page_ = kHugePage;
      m->hugepages_ = true;
    } else {
      DEMI_WARN("dpdk", "no hugepages for the {} MiB application region ({}): using ordinary pages, which a real "
                "NIC may DMA more slowly. `./run setup` reserves hugepages.", want >> 20, std::strerror(errno));
    }
  }
  if (p == MAP_FAILED) {
    std::size_t size = (want + kSmallPage - 1) / kSmallPage * kSmallPage;
    p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
      DEMI_ERROR("dpdk", "cannot map the {} MiB application region: {}", want >> 20, std::strerror(errno));
      return Error{ENOMEM};
    }
    m->size_ = size;
    m->page_ = kSmallPage;
  }
  m->base_ = static_cast<std::byte*>(p);
  // Pinned: the pages must not move while a device may read them.
  if (mlock(m->base_, m->size_) != 0)
    DEMI_WARN("dpdk", "mlock of the application region failed ({}); pages may be swapped", std::strerror(errno));

  if (rte_extmem_register(m->base_, m->size_, nullptr, 0, m->page_) != 0) {
    DEMI_ERROR("dpdk", "rte_extmem_register of the application region failed: {}", rte_strerror(rte_errno));
    return Error{rte_errno ? rte_errno : EINVAL};
  }
  m->registered_ = true;
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port, &info) == 0 && info.device) {
    rte_iova_t iova = rte_eal_iova_mode() == RTE_IOVA_VA ? reinterpret_cast<rte_iova_t>(m->base_) : RTE_BAD_IOVA;
    if (iova != RTE_BAD_IOVA && rte_dev_dma_map(info.device, m->base_, iova, m->size_) == 0) {
      m->dma_mapped_ = true;
      m->device_ = info.device;
    } else {
      // Virtual devices (memif, af_packet, tap, ring) copy from virtual addresses and need none.
      DEMI_DEBUG("dpdk", "no DMA mapping of the application region for this device ({}): fine for virtual devices",
                 rte_strerror(rte_errno));
    }
  }
  m->region_ = std::make_unique<mem::RegionAllocator>(m->base_, m->size_, "dpdk-region");
  DEMI_INFO("dpdk", "application region: {} MiB on {} pages, registered with DPDK{}", m->size_ >> 20,
            m->hugepages_ ? "2 MiB huge" : "4 KiB", m->dma_mapped_ ? " and DMA-mapped" : "");
  return m;
}

ExternalMemory::~ExternalMemory() {
  if (!base_) return;
  if (region_ && region_->stats().live_blocks > 0) {
    // Blocks are still referenced (by the application or by mbufs in flight): keep the
    // mapping, and the allocator they return to, until the process ends.
    DEMI_WARN("dpdk", "{} application buffers still live when the DPDK region was closed; leaving it mapped",
              region_->stats().live_blocks);
    (void)region_.release();
    return;
  }
  // The device outlives its ethdev port (it goes with the bus, at rte_eal_cleanup, after us).
  if (dma_mapped_ && device_) rte_dev_dma_unmap(device_, base_, reinterpret_cast<rte_iova_t>(base_), size_);
  if (registered_) rte_extmem_unregister(base_, size_);
  munmap(base_, size_);
}

std::unique_ptr<mem::Allocator> ExternalMemory::into_allocator(std::unique_ptr<ExternalMemory> memory) {
  auto handle = memory->make_allocator();
  return std::make_unique<OwningRegionAllocator>(std::move(memory), std::move(handle));
}

std::unique_ptr<mem::Allocator> ExternalMemory::make_allocator() {
  return std::make_unique<RegionAllocatorHandle>(region_.get());
}

}  // namespace demi::runtime::dpdk
