// The descriptor table: qd -> (module, module-private queue). Freed descriptors are reused in
// FIFO order and never while an operation on them is still pending, so a stale qd held by the
// application is far more likely to be answered EBADF than to hit someone else's queue.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include <demi/module.h>
#include <demi/types.h>

namespace demi::libos {

struct Descriptor {
  Module* module = nullptr;
  QueueId queue = 0;
  uint32_t pending = 0;  // operations started and not yet completed
  bool open = false;
  bool closing = false;  // closed by the application, waiting for pending == 0
};

class DescriptorTable {
 public:
  explicit DescriptorTable(std::size_t max) : max_(max) {}
  // -1 when the table is full.
  QDesc add(Module* m, QueueId q);
  // The open descriptor, or nullptr (unknown, closed).
  Descriptor* get(QDesc qd);
  const Descriptor* get(QDesc qd) const;
  // Marks qd closed; the slot is recycled once nothing is pending on it.
  void close(QDesc qd);
  void op_started(QDesc qd);
  void op_finished(QDesc qd);
  std::size_t open_count() const { return open_; }

 private:
  void maybe_recycle(QDesc qd);
  std::size_t max_;
  std::vector<Descriptor> table_;  // index = qd - 1
  std::deque<QDesc> free_;
  std::size_t open_ = 0;
};

}  // namespace demi::libos
