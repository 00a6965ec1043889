// The sender's view of what the receiver holds beyond SND.UNA, from the SACK blocks it reports
// (RFC 2018), and the loss recovery queries of RFC 6675 over it: IsLost, pipe, NextSeg.
// The blocks are kept sorted and merged, at most capacity() of them (past that the highest are
// forgotten, which only makes the sender more conservative). The connection sizes the capacity
// to its send buffer once established -- a window of W segments with every other one lost has
// W / 2 blocks -- and the room is reserved then, so updates never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/tcp/tcp_segment.h"

namespace demi::net::tcp {

class SackScoreboard {
 public:
  static constexpr std::size_t kDefaultCapacity = 32;
  static constexpr uint32_t kDupThresh = 3;  // RFC 6675 DupThresh

  explicit SackScoreboard(std::size_t capacity = kDefaultCapacity) { set_capacity(capacity); }
  // Room for `blocks` blocks (never below what is held); reserves it now.
  void set_capacity(std::size_t blocks);
  std::size_t capacity() const { return capacity_; }

  // Adds the blocks of an ACK; blocks not within (snd_una, snd_nxt] are ignored (and D-SACKs
  // with them). True if any byte was newly SACKed.
  bool update(std::span<const SackBlock> blocks, SeqNumber snd_una, SeqNumber snd_nxt);
  // The cumulative ACK moved to snd_una: forget what lies below it.
  void advance(SeqNumber snd_una);
  void clear() { blocks_.clear(); }
  bool empty() const { return blocks_.empty(); }
  std::size_t blocks() const { return blocks_.size(); }
  const SackBlock& block(std::size_t i) const { return blocks_[i]; }

  bool is_sacked(SeqNumber seq) const;
  // One past the highest SACKed byte (HighSACK + 1); snd_una when nothing is SACKed.
  SeqNumber high_sacked(SeqNumber snd_una) const { return blocks_.empty() ? snd_una : blocks_.back().right; }
  uint64_t sacked_bytes() const;
  // SACKed bytes at or above `seq`.
  uint64_t sacked_from(SeqNumber seq) const;

  // RFC 6675 IsLost(seq): DupThresh discontiguous SACKed ranges above seq, or more than
  // (DupThresh - 1) * SMSS bytes SACKed above it.
  bool is_lost(SeqNumber seq, uint32_t mss) const;
  // RFC 6675 SetPipe: the octets between snd_una and snd_nxt believed in the network; octets
  // before high_rxt (one past the highest retransmitted) count again as retransmitted. One pass
  // over the blocks, highest first, however many there are.
  uint32_t pipe(SeqNumber snd_una, SeqNumber snd_nxt, SeqNumber high_rxt, uint32_t mss) const;

  // RFC 6675 NextSeg rule 1: the first unSACKed range at or after `from` (>= HighRxt) below
  // HighSACK that IsLost, cut to at most `mss` bytes and to the next SACKed block. False if none.
  bool next_lost(SeqNumber from, SeqNumber snd_una, uint32_t mss, SeqNumber& seq, uint32_t& len) const;
  // RFC 6675 NextSeg rule 3: the first unSACKed range at or after `from` below HighSACK (lost
  // or not), cut likewise.
  bool next_unsacked(SeqNumber from, SeqNumber snd_una, uint32_t mss, SeqNumber& seq, uint32_t& len) const;

 private:
  std::vector<SackBlock> blocks_;  // sorted, disjoint, not touching; capacity reserved
  std::size_t capacity_ = 0;
};

}  // namespace demi::net::tcp
