// The sender's view of what the receiver holds beyond SND.UNA, from the SACK blocks it reports
// (RFC 2018), and the loss recovery queries of RFC 6675 over it: IsLost, pipe, NextSeg.
// The blocks are kept sorted and merged, at most kMaxBlocks of them (past that the highest are
// forgotten, which only makes the sender more conservative).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "net/tcp/tcp_segment.h"

namespace demi::net::tcp {

class SackScoreboard {
 public:
  static constexpr std::size_t kMaxBlocks = 32;
  static constexpr uint32_t kDupThresh = 3;  // RFC 6675 DupThresh

  // Adds the blocks of an ACK; blocks not within (snd_una, snd_nxt] are ignored (and D-SACKs
  // with them). True if any byte was newly SACKed.
  bool update(std::span<const SackBlock> blocks, SeqNumber snd_una, SeqNumber snd_nxt);
  // The cumulative ACK moved to snd_una: forget what lies below it.
  void advance(SeqNumber snd_una);
  void clear() { n_ = 0; }
  bool empty() const { return n_ == 0; }
  std::size_t blocks() const { return n_; }
  const SackBlock& block(std::size_t i) const { return blocks_[i]; }

  bool is_sacked(SeqNumber seq) const;
  // One past the highest SACKed byte (HighSACK + 1); snd_una when nothing is SACKed.
  SeqNumber high_sacked(SeqNumber snd_una) const { return n_ ? blocks_[n_ - 1].right : snd_una; }
  uint64_t sacked_bytes() const;

  // RFC 6675 IsLost(seq): DupThresh discontiguous SACKed ranges above seq, or more than
  // (DupThresh - 1) * SMSS bytes SACKed above it.
  bool is_lost(SeqNumber seq, uint32_t mss) const;
  // RFC 6675 SetPipe: the octets between snd_una and snd_nxt believed in the network; octets
  // before high_rxt (one past the highest retransmitted) count again as retransmitted.
  uint32_t pipe(SeqNumber snd_una, SeqNumber snd_nxt, SeqNumber high_rxt, uint32_t mss) const;

  // RFC 6675 NextSeg rule 1: the first unSACKed range at or after `from` (>= HighRxt) below
  // HighSACK that IsLost, cut to at most `mss` bytes and to the next SACKed block. False if none.
  bool next_lost(SeqNumber from, SeqNumber snd_una, uint32_t mss, SeqNumber& seq, uint32_t& len) const;
  // RFC 6675 NextSeg rule 3: the first unSACKed range at or after `from` below HighSACK (lost
  // or not), cut likewise.
  bool next_unsacked(SeqNumber from, SeqNumber snd_una, uint32_t mss, SeqNumber& seq, uint32_t& len) const;

 private:
  std::array<SackBlock, kMaxBlocks> blocks_{};
  std::size_t n_ = 0;
};

}  // namespace demi::net::tcp
