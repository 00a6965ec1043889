// The bytes a connection must be able to (re)transmit: references to the application's own
// buffers, from SND.UNA to the last byte the application gave, in order. Nothing is copied:
// a segment's payload is a set of slices of these buffers, and the buffers are released as the
// peer acknowledges them (zero copy, DESIGN.md "sga ownership").
//
// Offsets are relative to the first unacknowledged data byte (offset 0 is SND.UNA once the SYN
// is acknowledged).
#pragma once

#include <cstddef>
#include <span>

#include "mem/buffer.h"
#include "net/tcp/ring.h"

namespace demi::net::tcp {

class SendQueue {
 public:
  std::size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  std::size_t pieces() const { return refs_.size(); }

  // Appends a buffer (a reference to it is kept). Empty buffers are ignored.
  void push(mem::BufRef b);
  // The peer acknowledged the first n bytes: drop them.
  void consume(std::size_t n);
  void clear();

  // How many pieces cover [offset, offset + len).
  std::size_t count_pieces(std::size_t offset, std::size_t len) const;
  // The bytes of [offset, offset + len) that fit in at most `max_pieces` slices, from the front
  // of the range: the length they cover.
  std::size_t span_of_pieces(std::size_t offset, std::size_t len, std::size_t max_pieces) const;
  // Calls fn(BufRef slice) for each piece of [offset, offset + len), in order.
  template <typename Fn>
  void for_each_slice(std::size_t offset, std::size_t len, Fn&& fn) const {
    std::size_t i = locate(offset);
    std::size_t in = offset - cursor_start_;
    while (len > 0 && i < refs_.size()) {
      const mem::BufRef& r = refs_[i];
      const std::size_t take = std::min(len, r.size() - in);
      fn(r.slice(in, take));
      len -= take;
      in = 0;
      ++i;
    }
  }
  // Copies [offset, offset + out.size()) into out.
  void copy_out(std::size_t offset, std::span<std::byte> out) const;

 private:
  // The index of the piece holding `offset`, leaving cursor_index_/cursor_start_ on it.
  std::size_t locate(std::size_t offset) const;

  Ring<mem::BufRef> refs_;
  std::size_t bytes_ = 0;
  // The last piece found, and the offset of its first byte: sends walk forward from it.
  mutable std::size_t cursor_index_ = 0;
  mutable std::size_t cursor_start_ = 0;
};

}  // namespace demi::net::tcp
