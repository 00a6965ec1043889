// A fixed pool of packet buffers: one allocation at start, a free list after, so receiving and
// sending a packet never reaches the heap. Each buffer has room for a full frame plus headroom
// for headers to be prepended in place.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "mem/buffer.h"

namespace demi::mem {

class PacketPool final : public BlockOwner {
 public:
  // `count` buffers of `buffer_size` bytes each.
  PacketPool(std::size_t count, std::size_t buffer_size);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A buffer with `headroom` bytes reserved in front and length 0; empty when exhausted.
  BufRef get(std::size_t headroom = 0);
  void release(Block* b) noexcept override;

  std::size_t buffer_size() const { return buffer_size_; }
  std::size_t capacity() const { return blocks_.size(); }
  std::size_t available() const { return free_.size(); }
  std::size_t in_use() const { return blocks_.size() - free_.size(); }
  std::size_t exhausted() const { return exhausted_; }  // get() calls that found none

 private:
  std::size_t buffer_size_;
  std::unique_ptr<std::byte[]> memory_;
  std::vector<Block> blocks_;
  std::vector<Block*> free_;
  std::size_t exhausted_ = 0;
};

}  // namespace demi::mem
