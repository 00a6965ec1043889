// The application-memory region of a DPDK runtime: mapped once (from hugepages when the
// machine has them, else ordinary pages with a warning), registered with DPDK as external
// memory and DMA-mapped for the port's device, then served to sgaalloc of every size by a
// RegionAllocator. Any buffer the application fills can so be attached to an mbuf and sent
// without a copy.
#pragma once

#include <demi/config.h>
#include <demi/result.h>

#include <cstddef>
#include <memory>

#include "mem/region_allocator.h"

struct rte_device;

namespace demi::runtime::dpdk {

class ExternalMemory {
 public:
  // Maps and registers `dpdk.memory_mb`; `port` is the ethdev whose device gets the DMA mapping.
  static Result<std::unique_ptr<ExternalMemory>> create(const Config& config, uint16_t port);
  ~ExternalMemory();
  ExternalMemory(const ExternalMemory&) = delete;
  ExternalMemory& operator=(const ExternalMemory&) = delete;

  // An allocator over the region. The region must outlive every block it hands out: the LibOS
  // that installs it keeps this object alive until its own end.
  std::unique_ptr<mem::Allocator> make_allocator();
  // The same, owning the region: for a LibOS that keeps it (ModuleHost::set_allocator), so that
  // the region lives exactly as long as the allocator.
  static std::unique_ptr<mem::Allocator> into_allocator(std::unique_ptr<ExternalMemory> memory);
  bool hugepages() const { return hugepages_; }
  std::size_t size() const { return size_; }

 private:
  ExternalMemory() = default;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  std::size_t page_ = 0;
  bool hugepages_ = false;
  bool registered_ = false;
  bool dma_mapped_ = false;
  // The device the region is DMA-mapped for, kept from create(): the region lives as long as
  // the LibOS's allocator, which outlasts the module that closes the port, and a closed port's
  // id no longer leads to its device (asking ethdev printed "Invalid port_id" at every exit).
  rte_device* device_ = nullptr;
  std::unique_ptr<mem::RegionAllocator> region_;
};

}  // namespace demi::runtime::dpdk
