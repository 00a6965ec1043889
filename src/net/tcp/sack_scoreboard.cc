#include "net/tcp/sack_scoreboard.h"

#include <algorithm>

namespace demi::net::tcp {

bool SackScoreboard::update(std::span<const SackBlock> in, SeqNumber snd_una, SeqNumber snd_nxt) {
  bool grew = false;
  for (SackBlock b : in) {
    if (!seq_lt(b.left, b.right)) continue;
    // RFC 2018 and RFC 2883: a block at or below SND.UNA is a D-SACK or stale; one past SND.NXT
    // is bogus.
    if (seq_le(b.right, snd_una) || seq_gt(b.right, snd_nxt)) continue;
    if (seq_lt(b.left, snd_una)) b.left = snd_una;
    // Merge into the sorted list: find the first block that ends at or after b.left.
    std::size_t i = 0;
    while (i < n_ && seq_lt(blocks_[i].right, b.left)) ++i;
    if (i < n_ && seq_le(blocks_[i].left, b.left) && seq_ge(blocks_[i].right, b.right)) continue;  // known
    grew = true;
    // Absorb every block that touches b.
    std::size_t j = i;
    while (j < n_ && seq_le(blocks_[j].left, b.right)) {
      b.left = seq_min(b.left, blocks_[j].left);
      b.right = seq_max(b.right, blocks_[j].right);
      ++j;
    }
    const std::size_t absorbed = j - i;
    if (absorbed == 0) {
      if (n_ == kMaxBlocks) {
        if (i == n_) continue;  // above everything we track and no room: forget it
        --n_;                   // forget the highest block
      }
      for (std::size_t k = n_; k > i; --k) blocks_[k] = blocks_[k - 1];
      blocks_[i] = b;
      ++n_;
    } else {
      blocks_[i] = b;
      for (std::size_t k = i + 1; k + absorbed - 1 < n_; ++k) blocks_[k] = blocks_[k + absorbed - 1];
      n_ -= absorbed - 1;
    }
  }
  return grew;
}

void SackScoreboard::advance(SeqNumber snd_una) {
  std::size_t drop = 0;
  while (drop < n_ && seq_le(blocks_[drop].right, snd_una)) ++drop;
  if (drop) {
    for (std::size_t k = 0; k + drop < n_; ++k) blocks_[k] = blocks_[k + drop];
    n_ -= drop;
  }
  if (n_ && seq_lt(blocks_[0].left, snd_una)) blocks_[0].left = snd_una;
}

bool SackScoreboard::is_sacked(SeqNumber seq) const {
  for (std::size_t i = 0; i < n_; ++i)
    if (seq_in(seq, blocks_[i].left, blocks_[i].right)) return true;
  return false;
}

uint64_t SackScoreboard::sacked_bytes() const {
  uint64_t n = 0;
  for (std::size_t i = 0; i < n_; ++i) n += static_cast<uint32_t>(seq_diff(blocks_[i].right, blocks_[i].left));
  return n;
}

bool SackScoreboard::is_lost(SeqNumber seq, uint32_t mss) const {
  uint32_t ranges = 0;
  uint64_t bytes = 0;
  for (std::size_t i = 0; i < n_; ++i) {
    const SackBlock& b = blocks_[i];
    if (seq_le(b.right, seq)) continue;
    ++ranges;
    const SeqNumber from = seq_max(b.left, seq_add(seq, 1));
    if (seq_lt(from, b.right)) bytes += static_cast<uint32_t>(seq_diff(b.right, from));
  }
  return ranges >= kDupThresh || bytes > static_cast<uint64_t>(kDupThresh - 1) * mss;
}

uint32_t SackScoreboard::pipe(SeqNumber snd_una, SeqNumber snd_nxt, SeqNumber high_rxt, uint32_t mss) const {
  uint64_t pipe = 0;
  SeqNumber at = snd_una;
  // Walk the unSACKed gaps of [snd_una, snd_nxt): IsLost is the same for every octet of a gap,
  // since the SACKed octets above each are the same.
  for (std::size_t i = 0; i <= n_ && seq_lt(at, snd_nxt); ++i) {
    const SeqNumber gap_end = i < n_ ? seq_min(blocks_[i].left, snd_nxt) : snd_nxt;
    if (seq_lt(at, gap_end)) {
      const auto len = static_cast<uint32_t>(seq_diff(gap_end, at));
      if (!is_lost(at, mss)) pipe += len;
      // Octets retransmitted (below high_rxt) are in the network once more.
      if (seq_lt(at, high_rxt)) pipe += static_cast<uint32_t>(seq_diff(seq_min(gap_end, high_rxt), at));
    }
    if (i < n_) at = seq_max(at, blocks_[i].right);
  }
  return static_cast<uint32_t>(std::min<uint64_t>(pipe, UINT32_MAX));
}

bool SackScoreboard::next_lost(SeqNumber from, SeqNumber snd_una, uint32_t mss, SeqNumber& seq, uint32_t& len) const {
  SeqNumber s;
  if (!next_unsacked(from, snd_una, mss, s, len)) return false;
  if (!is_lost(s, mss)) return false;
  seq = s;
  return true;
}

bool SackScoreboard::next_unsacked(SeqNumber from, SeqNumber snd_una, uint32_t mss, SeqNumber& seq,
                                   uint32_t& len) const {
  if (n_ == 0) return false;
  SeqNumber at = seq_max(from, snd_una);
  for (std::size_t i = 0; i < n_; ++i) {
    const SackBlock& b = blocks_[i];
    if (seq_le(b.right, at)) continue;
    if (seq_le(b.left, at)) {
      at = b.right;  // inside a SACKed block: skip it
      continue;
    }
    // [at, b.left) is an unSACKed gap below HighSACK.
    seq = at;
    len = std::min<uint32_t>(mss, static_cast<uint32_t>(seq_diff(b.left, at)));
    return true;
  }
  return false;
}

}  // namespace demi::net::tcp
