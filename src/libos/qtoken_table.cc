#include "libos/qtoken_table.h"

namespace demi::libos {

QToken QTokenTable::create(QDesc qd, Opcode op) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() >= max_ops_ || slots_.size() >= (1u << kSlotBits) - 1) return 0;
    slots_.emplace_back();
    index = static_cast<uint32_t>(slots_.size() - 1);
  }
  Slot& s = slots_[index];
  ++s.generation;
  s.live = true;
  s.op = Operation{};
  s.op.qt = (s.generation << kSlotBits) | (index + 1);
  s.op.qd = qd;
  s.op.opcode = op;
  ++live_;
  return s.op.qt;
}

Operation* QTokenTable::find(QToken qt) {
  uint64_t index1 = qt & ((1u << kSlotBits) - 1);
  if (index1 == 0 || index1 > slots_.size()) return nullptr;
  Slot& s = slots_[index1 - 1];
  if (!s.live || s.op.qt != qt) return nullptr;
  return &s.op;
}

void QTokenTable::release(QToken qt) {
  Operation* op = find(qt);
  if (!op) return;
  uint64_t index1 = qt & ((1u << kSlotBits) - 1);
  slots_[index1 - 1].live = false;
  free_.push_back(static_cast<uint32_t>(index1 - 1));
  --live_;
}

}  // namespace demi::libos
