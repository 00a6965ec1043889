#include "libos/descriptor_table.h"

namespace demi::libos {

namespace {
// Hold back this many freed descriptors before reusing one.
constexpr std::size_t kReuseDelay = 64;
}  // namespace

QDesc DescriptorTable::add(Module* m, QueueId q) {
  QDesc qd;
  if (free_.size() > kReuseDelay || (table_.size() >= max_ && !free_.empty())) {
    qd = free_.front();
    free_.pop_front();
  } else if (table_.size() < max_) {
    table_.emplace_back();
    qd = static_cast<QDesc>(table_.size());
  } else {
    return -1;
  }
  table_[static_cast<std::size_t>(qd - 1)] = Descriptor{m, q, 0, true, false};
  ++open_;
  return qd;
}

const Descriptor* DescriptorTable::get(QDesc qd) const {
  if (qd < 1 || static_cast<std::size_t>(qd) > table_.size()) return nullptr;
  const Descriptor& d = table_[static_cast<std::size_t>(qd - 1)];
  return d.open ? &d : nullptr;
}

Descriptor* DescriptorTable::get(QDesc qd) {
  return const_cast<Descriptor*>(static_cast<const DescriptorTable*>(this)->get(qd));
}

void DescriptorTable::close(QDesc qd) {
  Descriptor* d = get(qd);
  if (!d) return;
  d->open = false;
  d->closing = true;
  --open_;
  maybe_recycle(qd);
}

void DescriptorTable::op_started(QDesc qd) {
  if (qd >= 1 && static_cast<std::size_t>(qd) <= table_.size()) ++table_[static_cast<std::size_t>(qd - 1)].pending;
}

void DescriptorTable::op_finished(QDesc qd) {
  if (qd < 1 || static_cast<std::size_t>(qd) > table_.size()) return;
  Descriptor& d = table_[static_cast<std::size_t>(qd - 1)];
  if (d.pending > 0) --d.pending;
  maybe_recycle(qd);
}

void DescriptorTable::maybe_recycle(QDesc qd) {
  Descriptor& d = table_[static_cast<std::size_t>(qd - 1)];
  if (d.closing && d.pending == 0) {
    d = Descriptor{};
    free_.push_back(qd);
  }
}

}  // namespace demi::libos
