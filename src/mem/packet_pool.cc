#include "mem/packet_pool.h"

namespace demi::mem {

PacketPool::PacketPool(std::size_t count, std::size_t buffer_size)
    : buffer_size_(buffer_size), memory_(new std::byte[count * buffer_size]), blocks_(count) {
  free_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Block& b = blocks_[i];
    b.data = memory_.get() + i * buffer_size;
    b.capacity = buffer_size;
    b.refs = 0;
    b.owner = this;
    free_.push_back(&b);
  }
}

PacketPool::~PacketPool() = default;

BufRef PacketPool::get(std::size_t headroom) {
  if (free_.empty() || headroom > buffer_size_) {
    ++exhausted_;
    return {};
  }
  Block* b = free_.back();
  free_.pop_back();
  b->refs = 1;
  return BufRef::adopt(b, headroom, 0);
}

void PacketPool::release(Block* b) noexcept { free_.push_back(b); }

}  // namespace demi::mem
