// Operations in flight and completed-but-unconsumed, by qtoken. A qtoken is (generation << 24 |
// slot + 1): unique for the life of the process in practice (a slot would have to be reused
// 2^40 times to repeat one), never 0, and checkable in O(1) without a hash table.
#pragma once

#include <cstdint>
#include <vector>

#include <demi/module.h>
#include <demi/types.h>

namespace demi::libos {

struct Operation {
  QToken qt = 0;
  QDesc qd = -1;
  Opcode opcode = Opcode::Invalid;
  Module* module = nullptr;  // the module that runs it
  bool done = false;
  bool dropped = false;  // the application gave up the token; discard the result
  QResult result;
};

class QTokenTable {
 public:
  explicit QTokenTable(std::size_t max_ops) : max_ops_(max_ops) {}
  // 0 when the table is full (max_pending_ops).
  QToken create(QDesc qd, Opcode op);
  // nullptr for a token that is unknown or already released.
  Operation* find(QToken qt);
  void release(QToken qt);
  std::size_t live() const { return live_; }

 private:
  static constexpr unsigned kSlotBits = 24;
  struct Slot {
    uint64_t generation = 0;
    bool live = false;
    Operation op;
  };
  std::size_t max_ops_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::size_t live_ = 0;
};

}  // namespace demi::libos
