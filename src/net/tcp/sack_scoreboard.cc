#include "net/tcp/sack_scoreboard.h"

#include <algorithm>

namespace demi::net::tcp {

void SackScoreboard::set_capacity(std::size_t blocks) {
  capacity_ = std::max({blocks, blocks_.size(), std::size_t{1}});
  blocks_.reserve(capacity_);
}

bool SackScoreboard::update(std::span<const SackBlock> in, SeqNumber snd_una, SeqNumber snd_nxt) {
  bool grew = false;
  for (SackBlock b : in) {
    if (!seq_lt(b.left, b.right)) continue;
    // RFC 2018 and RFC 2883: a block at or below SND.UNA is a D-SACK or stale; one past SND.NXT
    // is bogus.
    if (seq_le(b.right, snd_una) || seq_gt(b.right, snd_nxt)) continue;
    if (seq_lt(b.left, snd_una)) b.left = snd_una;
    // Merge into the sorted list: find the first block that ends at or after b.left.
    const std::size_t n = blocks_.size();
    std::size_t i = 0;
    while (i < n && seq_lt(blocks_[i].right, b.left)) ++i;
    if (i < n && seq_le(blocks_[i].left, b.left) && seq_ge(blocks_[i].right, b.right)) continue;  // known
    grew = true;
    // Absorb every block that touches b.
    std::size_t j = i;
    while (j < n && seq_le(blocks_[j].left, b.right)) {
      b.left = seq_min(b.left, blocks_[j].left);
      b.right = seq_max(b.right, blocks_[j].right);
      ++j;
    }
    if (j == i) {
      if (n == capacity_) {
        if (i == n) continue;  // above everything we track and no room: forget it
        blocks_.pop_back();    // forget the highest block
      }
      blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(i), b);
    } else {
      blocks_[i] = b;
      blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i + 1),
                    blocks_.begin() + static_cast<std::ptrdiff_t>(j));
    }
  }
  return grew;
}

void SackScoreboard::advance(SeqNumber snd_una) {
  std::size_t drop = 0;
  while (drop < blocks_.size() && seq_le(blocks_[drop].right, snd_una)) ++drop;
  if (drop) blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(drop));
  if (!blocks_.empty() && seq_lt(blocks_[0].left, snd_una)) blocks_[0].left = snd_una;
}

bool SackScoreboard::is_sacked(SeqNumber seq) const {
  for (const SackBlock& b : blocks_)
    if (seq_in(seq, b.left, b.right)) return true;
  return false;
}

uint64_t SackScoreboard::sacked_bytes() const {
  uint64_t n = 0;
  for (const SackBlock& b : blocks_) n += static_cast<uint32_t>(seq_diff(b.right, b.left));
  return n;
}

uint64_t SackScoreboard::sacked_from(SeqNumber seq) const {
  uint64_t n = 0;
  for (const SackBlock& b : blocks_) {
    if (seq_le(b.right, seq)) continue;
    n += static_cast<uint32_t>(seq_diff(b.right, seq_max(b.left, seq)));
  }
  return n;
}

bool SackScoreboard::is_lost(SeqNumber seq, uint32_t mss) const {
  uint32_t ranges = 0;
  uint64_t bytes = 0;
  for (const SackBlock& b : blocks_) {
    if (seq_le(b.right, seq)) continue;
    ++ranges;
    const SeqNumber from = seq_max(b.left, seq_add(seq, 1));
    if (seq_lt(from, b.right)) bytes += static_cast<uint32_t>(seq_diff(b.right, from));
  }
  return ranges >= kDupThresh || bytes > static_cast<uint64_t>(kDupThresh - 1) * mss;
}

uint32_t SackScoreboard::pipe(SeqNumber snd_una, SeqNumber snd_nxt, SeqNumber high_rxt, uint32_t mss) const {
  uint64_t pipe = 0;
  // Walk the unSACKed gaps of [snd_una, snd_nxt) from the highest down. IsLost is the same for
  // every octet of a gap, since the SACKed octets above each are the same: every block above
  // it, counted as the walk goes.
  uint32_t ranges_above = 0;
  uint64_t bytes_above = 0;
  const std::size_t n = blocks_.size();
  for (std::size_t g = n + 1; g-- > 0;) {
    // Gap g lies between block g - 1 (or snd_una) and block g (or snd_nxt).
    const SeqNumber from = g > 0 ? seq_max(blocks_[g - 1].right, snd_una) : snd_una;
    const SeqNumber to = g < n ? seq_min(blocks_[g].left, snd_nxt) : snd_nxt;
    if (g < n) {
      ++ranges_above;
      bytes_above += static_cast<uint32_t>(seq_diff(blocks_[g].right, blocks_[g].left));
    }
    if (!seq_lt(from, to)) continue;
    const auto len = static_cast<uint32_t>(seq_diff(to, from));
    const bool lost = ranges_above >= kDupThresh || bytes_above > static_cast<uint64_t>(kDupThresh - 1) * mss;
    if (!lost) pipe += len;
    // Octets retransmitted (below high_rxt) are in the network once more.
    if (seq_lt(from, high_rxt)) pipe += static_cast<uint32_t>(seq_diff(seq_min(to, high_rxt), from));
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
  SeqNumber at = seq_max(from, snd_una);
  for (const SackBlock& b : blocks_) {
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
