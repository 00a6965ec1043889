#include "net/tcp/send_queue.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace demi::net::tcp {

void SendQueue::push(mem::BufRef b) {
  if (!b || b.size() == 0) return;
  bytes_ += b.size();
  refs_.push_back(std::move(b));
}

void SendQueue::consume(std::size_t n) {
  assert(n <= bytes_);
  bytes_ -= n;
  while (n > 0) {
    mem::BufRef& front = refs_.front();
    const std::size_t k = std::min(n, front.size());
    // Offsets are relative to the front: the cursor's piece start moves back by what leaves.
    if (cursor_index_ > 0) cursor_start_ -= k;
    if (k == front.size()) {
      refs_.pop_front();
      if (cursor_index_ > 0) --cursor_index_;
    } else {
      front.trim_front(k);
    }
    n -= k;
  }
}

void SendQueue::clear() {
  refs_.clear();
  bytes_ = 0;
  cursor_index_ = cursor_start_ = 0;
}

std::size_t SendQueue::locate(std::size_t offset) const {
  if (offset < cursor_start_ || cursor_index_ >= refs_.size()) {
    cursor_index_ = 0;
    cursor_start_ = 0;
  }
  while (cursor_index_ < refs_.size() && offset >= cursor_start_ + refs_[cursor_index_].size()) {
    cursor_start_ += refs_[cursor_index_].size();
    ++cursor_index_;
  }
  return cursor_index_;
}

std::size_t SendQueue::count_pieces(std::size_t offset, std::size_t len) const {
  std::size_t i = locate(offset);
  std::size_t in = offset - cursor_start_;
  std::size_t n = 0;
  while (len > 0 && i < refs_.size()) {
    const std::size_t take = std::min(len, refs_[i].size() - in);
    len -= take;
    in = 0;
    ++i;
    ++n;
  }
  return n;
}

std::size_t SendQueue::span_of_pieces(std::size_t offset, std::size_t len, std::size_t max_pieces) const {
  std::size_t i = locate(offset);
  std::size_t in = offset - cursor_start_;
  std::size_t covered = 0;
  for (std::size_t n = 0; n < max_pieces && covered < len && i < refs_.size(); ++n, ++i) {
    covered += std::min(len - covered, refs_[i].size() - in);
    in = 0;
  }
  return covered;
}

void SendQueue::copy_out(std::size_t offset, std::span<std::byte> out) const {
  std::size_t done = 0;
  for_each_slice(offset, out.size(), [&](const mem::BufRef& s) {
    std::memcpy(out.data() + done, s.data(), s.size());
    done += s.size();
  });
}

}  // namespace demi::net::tcp
