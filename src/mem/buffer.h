// Reference-counted memory blocks and views into them: the unit of zero copy in demi.
// A Block is released to its owner (an allocator, a packet pool, a DPDK mbuf) when the last
// BufRef to it goes away, so the application and a device can each hold a buffer and either
// may let go first. Single-threaded, like the LibOS that owns them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace demi::mem {

struct Block;

// Whoever can take a block back: allocators, pools, devices.
class BlockOwner {
 public:
  virtual void release(Block* b) noexcept = 0;

 protected:
  ~BlockOwner() = default;
};

struct Block {
  std::byte* data = nullptr;
  std::size_t capacity = 0;
  uint32_t refs = 0;
  BlockOwner* owner = nullptr;
  void* cookie = nullptr;  // owner-private: an mbuf, a pool index, ...
};

inline void block_ref(Block* b) { ++b->refs; }
inline void block_unref(Block* b) {
  if (--b->refs == 0) b->owner->release(b);
}

// An owning view of bytes [offset, offset + length) of a block.
class BufRef {
 public:
  BufRef() = default;
  // Adopts one reference that the caller already holds.
  static BufRef adopt(Block* b, std::size_t offset, std::size_t length) { return BufRef{b, offset, length}; }
  // Takes a new reference.
  static BufRef share(Block* b, std::size_t offset, std::size_t length) {
    block_ref(b);
    return BufRef{b, offset, length};
  }
  BufRef(const BufRef& o) : b_(o.b_), off_(o.off_), len_(o.len_) {
    if (b_) block_ref(b_);
  }
  BufRef(BufRef&& o) noexcept : b_(std::exchange(o.b_, nullptr)), off_(o.off_), len_(std::exchange(o.len_, 0)) {}
  BufRef& operator=(BufRef o) noexcept {
    swap(o);
    return *this;
  }
  ~BufRef() { reset(); }

  void reset() {
    if (b_) block_unref(std::exchange(b_, nullptr));
    off_ = len_ = 0;
  }
  void swap(BufRef& o) noexcept {
    std::swap(b_, o.b_);
    std::swap(off_, o.off_);
    std::swap(len_, o.len_);
  }

  explicit operator bool() const { return b_ != nullptr; }
  Block* block() const { return b_; }
  std::byte* data() const { return b_->data + off_; }
  std::size_t size() const { return len_; }
  std::size_t offset() const { return off_; }
  std::size_t headroom() const { return off_; }
  std::size_t tailroom() const { return b_->capacity - off_ - len_; }
  std::span<std::byte> bytes() const { return {data(), len_}; }

  // Narrowing and widening within the block (headers are stripped and prepended this way).
  void trim_front(std::size_t n) {
    off_ += n;
    len_ -= n;
  }
  void trim_back(std::size_t n) { len_ -= n; }
  void set_length(std::size_t n) { len_ = n; }
  bool prepend(std::size_t n) {
    if (n > off_) return false;
    off_ -= n;
    len_ += n;
    return true;
  }
  // A second view of a sub-range, sharing the block.
  BufRef slice(std::size_t offset, std::size_t length) const { return share(b_, off_ + offset, length); }

 private:
  BufRef(Block* b, std::size_t off, std::size_t len) : b_(b), off_(off), len_(len) {}
  Block* b_ = nullptr;
  std::size_t off_ = 0;
  std::size_t len_ = 0;
};

}  // namespace demi::mem
