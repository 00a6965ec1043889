// A FIFO ring that grows by doubling (rarely: a connection's queues warm up to their working
// size) and never shrinks, so that queueing in steady state never reaches the heap. The TCP
// send and receive queues hold their buffer references in it.
#pragma once

#include <cassert>
#include <cstddef>
#include <utility>
#include <vector>

namespace demi::net::tcp {

template <typename T>
class Ring {
 public:
  Ring() = default;
  explicit Ring(std::size_t capacity) { reserve(capacity); }

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::size_t capacity() const { return slots_.size(); }

  T& front() { return at(0); }
  const T& front() const { return at(0); }
  T& back() { return at(count_ - 1); }
  const T& back() const { return at(count_ - 1); }
  // The i-th element from the front.
  T& at(std::size_t i) {
    assert(i < count_);
    return slots_[(head_ + i) & (slots_.size() - 1)];
  }
  const T& at(std::size_t i) const {
    assert(i < count_);
    return slots_[(head_ + i) & (slots_.size() - 1)];
  }
  T& operator[](std::size_t i) { return at(i); }
  const T& operator[](std::size_t i) const { return at(i); }

  void push_back(T v) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) & (slots_.size() - 1)] = std::move(v);
    ++count_;
  }
  void pop_front() {
    assert(count_ > 0);
    slots_[head_] = T{};  // release what the slot holds (a buffer reference) now
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
  }
  void pop_back() {
    assert(count_ > 0);
    back() = T{};
    --count_;
  }
  // Inserts before position i (0 = front), shifting the elements behind it: for short queues
  // kept in order (out-of-order segments), where n is bounded by configuration.
  void insert(std::size_t i, T v) {
    assert(i <= count_);
    push_back(std::move(v));
    for (std::size_t j = count_ - 1; j > i; --j) std::swap(at(j), at(j - 1));
  }
  // Removes the element at position i, shifting the ones behind it forward.
  void erase(std::size_t i) {
    assert(i < count_);
    for (std::size_t j = i; j + 1 < count_; ++j) std::swap(at(j), at(j + 1));
    pop_back();
  }
  void clear() {
    while (count_ > 0) pop_front();
    head_ = 0;
  }
  // Capacity rounded up to a power of two.
  void reserve(std::size_t n) {
    while (slots_.size() < n) grow();
  }

 private:
  void grow() {
    const std::size_t cap = slots_.empty() ? 8 : slots_.size() * 2;
    std::vector<T> bigger(cap);
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = std::move(at(i));
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;  // size is zero or a power of two
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace demi::net::tcp
