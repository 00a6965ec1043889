#include "mem/sga_table.h"

#include <cerrno>

namespace demi::mem {

int SgaTable::validate(const Sga& sga) {
  if (sga.numsegs == 0 || sga.numsegs > kSgaMaxSegments) return EINVAL;
  for (uint32_t i = 0; i < sga.numsegs; ++i) {
    if (sga.segs[i].buf == nullptr && sga.segs[i].len != 0) return EINVAL;
  }
  return 0;
}

uint32_t SgaTable::take_slot() {
  if (!free_.empty()) {
    uint32_t i = free_.back();
    free_.pop_back();
    return i;
  }
  slots_.emplace_back();
  return static_cast<uint32_t>(slots_.size() - 1);
}

Result<Sga> SgaTable::allocate(Allocator& alloc, std::span<const std::size_t> sizes) {
  if (sizes.empty() || sizes.size() > kSgaMaxSegments) return Error{EINVAL};
  std::size_t total = 0;
  for (std::size_t s : sizes) {
    if (s > UINT32_MAX) return Error{EINVAL};
    total += s;
  }
  if (total == 0) return Error{EINVAL};
  uint32_t index = take_slot();
  Slot& slot = slots_[index];
  slot.segs.clear();
  Sga sga;
  for (std::size_t s : sizes) {
    Block* b = alloc.allocate(s);
    if (!b) {
      slot.segs.clear();
      free_.push_back(index);
      return Error{ENOMEM};
    }
    slot.segs.push_back(BufRef::adopt(b, 0, s));
    sga.segs[sga.numsegs].buf = b->data;
    sga.segs[sga.numsegs].len = static_cast<uint32_t>(s);
    ++sga.numsegs;
  }
  slot.live = true;
  ++live_;
  sga.handle = handle_of(index, slot.generation);
  return sga;
}

Result<Sga> SgaTable::adopt(std::span<BufRef> segments) {
  if (segments.size() > kSgaMaxSegments) return Error{EINVAL};
  uint32_t index = take_slot();
  Slot& slot = slots_[index];
  slot.segs.clear();
  Sga sga;
  for (BufRef& r : segments) {
    sga.segs[sga.numsegs].buf = r.size() ? r.data() : nullptr;
    sga.segs[sga.numsegs].len = static_cast<uint32_t>(r.size());
    ++sga.numsegs;
    slot.segs.push_back(std::move(r));
  }
  slot.live = true;
  ++live_;
  sga.handle = handle_of(index, slot.generation);
  return sga;
}

const SgaTable::Slot* SgaTable::lookup(const Sga& sga) const {
  uint64_t index1 = sga.handle & 0xffffffffu;
  auto generation = static_cast<uint32_t>(sga.handle >> 32);
  if (index1 == 0 || index1 > slots_.size()) return nullptr;
  const Slot& slot = slots_[index1 - 1];
  if (!slot.live || slot.generation != generation) return nullptr;
  if (sga.numsegs != slot.segs.size()) return nullptr;
  for (uint32_t i = 0; i < sga.numsegs; ++i) {
    const BufRef& r = slot.segs[i];
    // The application may shorten a segment (send less than it allocated), never move or grow it.
    if (r.size() != 0 && sga.segs[i].buf != r.data()) return nullptr;
    if (sga.segs[i].len > r.size()) return nullptr;
  }
  return &slot;
}

SgaTable::Slot* SgaTable::lookup(const Sga& sga) {
  return const_cast<Slot*>(static_cast<const SgaTable*>(this)->lookup(sga));
}

int SgaTable::free(const Sga& sga) {
  Slot* slot = lookup(sga);
  if (!slot) {
    ++invalid_frees_;
    return EINVAL;
  }
  slot->segs.clear();  // drops our references; blocks a device still holds stay alive
  slot->live = false;
  ++slot->generation;
  free_.push_back(static_cast<uint32_t>(slot - slots_.data()));
  --live_;
  return 0;
}

const std::vector<BufRef>* SgaTable::segments(const Sga& sga) const {
  const Slot* slot = lookup(sga);
  return slot ? &slot->segs : nullptr;
}

}  // namespace demi::mem
