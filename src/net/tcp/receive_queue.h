// Received data waiting for the application, and out-of-order data waiting for the hole before
// it to fill. Both hold views of the device's receive buffers: reading hands those same views to
// the application (zero copy). Out-of-order segments are kept sorted and without overlap, bounded
// in number (RFC 9293 3.10.7.4 lets a receiver keep them within the window; the bound keeps an
// attacker from pinning the device's buffers).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "mem/buffer.h"
#include "net/tcp/ring.h"
#include "net/tcp/tcp_segment.h"

namespace demi::net::tcp {

class ReceiveQueue {
 public:
  explicit ReceiveQueue(std::size_t max_out_of_order) : max_ooo_(max_out_of_order) { ooo_.reserve(max_out_of_order); }

  // Changes the bound on out-of-order segments (the connection sizes it to its receive buffer
  // once the MSS is known). Reserves the room at once, so holding segments never allocates; a
  // lower bound keeps what is held already.
  void set_out_of_order_limit(std::size_t max) {
    max_ooo_ = max;
    ooo_.reserve(max);
  }
  std::size_t out_of_order_limit() const { return max_ooo_; }

  // In-order data, ready for the application.
  std::size_t readable() const { return bytes_; }
  void push(mem::BufRef data);
  // Up to max_len bytes, appended to `out` as views; returns the byte count.
  std::size_t read(std::size_t max_len, std::vector<mem::BufRef>& out);
  void clear();

  // Keeps a segment that starts after RCV.NXT (`fin`: it carried a FIN). False if it was not
  // kept: the queue is full, or nothing of it is new.
  bool add_out_of_order(SeqNumber seq, mem::BufRef data, bool fin, SeqNumber rcv_nxt);
  // Moves what has become in order to the readable queue, advancing rcv_nxt past it (and past
  // a FIN that was reached: `fin` is set then). Returns the bytes moved.
  std::size_t drain(SeqNumber& rcv_nxt, bool& fin);
  // Drops what lies at or beyond `limit` (the window shrank under us; never in practice).
  std::size_t out_of_order_segments() const { return ooo_.size(); }
  std::size_t out_of_order_bytes() const { return ooo_bytes_; }

  // The out-of-order data as SACK blocks (RFC 2018 4): contiguous ranges, the one holding the
  // most recently received segment first, then the ones most recently reported. Up to `max`
  // (at most kMaxSackBlocksOut), chosen among all the ranges held, however many.
  std::size_t sack_blocks(std::span<SackBlock> out) const;
  static constexpr std::size_t kMaxSackBlocksOut = 4;

 private:
  struct Piece {
    SeqNumber seq{0};
    mem::BufRef data;
    bool fin = false;
    uint64_t arrival = 0;  // order of arrival, for "most recent first"
    SeqNumber end() const { return seq_add(seq, data ? data.size() : 0); }
  };
  void erase(std::size_t i);

  Ring<mem::BufRef> ready_;
  std::size_t bytes_ = 0;
  std::vector<Piece> ooo_;  // sorted by seq, no overlap; capacity reserved once
  std::size_t max_ooo_;
  std::size_t ooo_bytes_ = 0;
  uint64_t arrivals_ = 0;
};

}  // namespace demi::net::tcp
