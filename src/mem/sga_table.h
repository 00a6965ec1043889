// The table of live scatter-gather arrays that the application owns. An Sga's handle names a
// slot (index + generation), so a double sgafree, a stale copy or a foreign pointer is answered
// with EINVAL instead of corrupting memory. Slots are recycled; the table grows only when the
// application holds more arrays at once than ever before.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <demi/result.h>
#include <demi/types.h>

#include "mem/allocator.h"
#include "mem/buffer.h"

namespace demi::mem {

class SgaTable {
 public:
  // One segment per size; each segment is a fresh block from `alloc`. ENOMEM if memory is out,
  // EINVAL for no segments, too many, or a zero total.
  Result<Sga> allocate(Allocator& alloc, std::span<const std::size_t> sizes);
  // Wraps buffers the stack already holds (received data) as an application-owned Sga.
  Result<Sga> adopt(std::span<BufRef> segments);
  // EINVAL for a handle that is not live or segments that do not match what was handed out.
  int free(const Sga& sga);
  // The blocks behind a live Sga, so a push can hold them without copying; nullptr if the Sga
  // is not one of ours (built by hand), in which case the caller copies.
  const std::vector<BufRef>* segments(const Sga& sga) const;
  // Checks an Sga a caller passes in: segment count and lengths are sane.
  static int validate(const Sga& sga);

  std::size_t live() const { return live_; }
  std::size_t invalid_frees() const { return invalid_frees_; }

 private:
  struct Slot {
    uint32_t generation = 1;
    bool live = false;
    std::vector<BufRef> segs;  // capacity kept across reuse: no allocation once warm
  };
  Slot* lookup(const Sga& sga);
  const Slot* lookup(const Sga& sga) const;
  uint32_t take_slot();
  static uint64_t handle_of(uint32_t index, uint32_t generation) {
    return (uint64_t{generation} << 32) | (uint64_t{index} + 1);
  }

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::size_t live_ = 0;
  std::size_t invalid_frees_ = 0;
};

}  // namespace demi::mem
