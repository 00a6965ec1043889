#include "net/copy_buffer.h"

#include <cstdlib>
#include <new>

namespace demi::net {

namespace {

constexpr std::size_t kAlign = 64;
constexpr std::size_t kHeader = (sizeof(mem::Block) + kAlign - 1) / kAlign * kAlign;

// Stateless, so that a buffer may be released at any time, from any LibOS, even after every
// stack is gone.
class CopyBufferOwner final : public mem::BlockOwner {
 public:
  void release(mem::Block* b) noexcept override {
    b->~Block();
    std::free(b);
  }
};

CopyBufferOwner owner;

}  // namespace

mem::BufRef copy_buffer(std::size_t size) {
  const std::size_t want = (kHeader + (size == 0 ? 1 : size) + kAlign - 1) / kAlign * kAlign;
  void* raw = std::aligned_alloc(kAlign, want);
  if (!raw) return {};
  auto* b = new (raw) mem::Block{};
  b->data = static_cast<std::byte*>(raw) + kHeader;
  b->capacity = size;
  b->refs = 1;
  b->owner = &owner;
  return mem::BufRef::adopt(b, 0, size);
}

}  // namespace demi::net
