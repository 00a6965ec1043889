// Credit-based flow control for one rdma connection: a sender never posts a SEND the receiver
// has no posted receive buffer for (which would stall the queue pair in RNR retries, or fail it).
//
// Each side knows how many receive buffers the peer has posted and not yet seen filled: its
// send credits. The initial value comes from the peer's WindowAnnouncement (framing.h); every
// SEND spends one; the peer returns them as it reposts buffers, in the credit field of any
// fragment it sends (piggybacked), or — when it has nothing to send — in a credit-only message.
//
// A credit-only message itself needs a receive buffer, so the last credit is reserved for it:
// data may be sent only while two or more credits remain. Why this cannot deadlock, with N the
// receive buffers one side keeps posted and T = max(2, N / 2) the threshold at which it sends a
// credit-only message:
//  - The peer is stuck only with at most one credit. Then, once we have reposted every buffer it
//    filled, we owe it at least N - 1 >= T credits (N >= 4), so we send a credit-only message,
//    which we can: we hold at least one credit ourselves, because our last one was spent only on
//    an earlier credit-only message, and that message granted the peer >= T credits... which it
//    returns the same way. Both sides can never sit at zero.
//  - It cannot ping-pong: a credit-only message makes the receiver owe one credit (for the
//    buffer it consumed), and one is below T, so no credit-only message answers another.
#pragma once

#include <algorithm>
#include <cstdint>

#include "modules/rdma/framing.h"

namespace demi::rdma {

class CreditState {
 public:
  static constexpr uint32_t kMinBuffers = 4;

  CreditState() = default;
  // `local_buffers`: the receive buffers this side keeps posted (N, >= kMinBuffers);
  // `peer_credits`: what the peer announced it posted.
  CreditState(uint32_t local_buffers, uint32_t peer_credits)
      : send_(peer_credits), threshold_(std::max<uint32_t>(2, local_buffers / 2)) {}

  uint32_t send_credits() const { return send_; }
  uint32_t owed() const { return owed_; }
  uint32_t threshold() const { return threshold_; }

  bool can_send_data() const { return send_ >= 2; }
  // Spends a credit on a data fragment; returns the grant to piggyback on it.
  uint32_t spend_on_data() {
    --send_;
    return take_owed();
  }
  // True when a credit-only message is due (and possible).
  bool wants_update() const { return owed_ >= threshold_ && send_ >= 1; }
  uint32_t spend_on_update() {
    --send_;
    return take_owed();
  }
  // The peer granted credits (a header's credit field).
  void granted(uint32_t n) { send_ += n; }
  // This side posted `n` receive buffers the peer does not know of yet.
  void reposted(uint32_t n = 1) { owed_ += n; }

 private:
  uint32_t take_owed() {
    uint32_t g = std::min(owed_, imm::kMaxGrant);
    owed_ -= g;
    return g;
  }
  uint32_t send_ = 0;
  uint32_t owed_ = 0;
  uint32_t threshold_ = 2;
};

}  // namespace demi::rdma
