#include "net/tcp/receive_queue.h"

#include <algorithm>
#include <array>

namespace demi::net::tcp {

void ReceiveQueue::push(mem::BufRef data) {
  if (!data || data.size() == 0) return;
  bytes_ += data.size();
  ready_.push_back(std::move(data));
}

std::size_t ReceiveQueue::read(std::size_t max_len, std::vector<mem::BufRef>& out) {
  std::size_t n = 0;
  while (n < max_len && !ready_.empty()) {
    mem::BufRef& front = ready_.front();
    const std::size_t want = max_len - n;
    if (front.size() <= want) {
      n += front.size();
      out.push_back(std::move(front));
      ready_.pop_front();
    } else {
      out.push_back(front.slice(0, want));
      front.trim_front(want);
      n += want;
    }
  }
  bytes_ -= n;
  return n;
}

void ReceiveQueue::clear() {
  ready_.clear();
  bytes_ = 0;
  ooo_.clear();
  ooo_bytes_ = 0;
}

void ReceiveQueue::erase(std::size_t i) {
  ooo_bytes_ -= ooo_[i].data ? ooo_[i].data.size() : 0;
  ooo_.erase(ooo_.begin() + static_cast<std::ptrdiff_t>(i));
}

bool ReceiveQueue::add_out_of_order(SeqNumber seq, mem::BufRef data, bool fin, SeqNumber rcv_nxt) {
  std::size_t len = data ? data.size() : 0;
  // Not beyond RCV.NXT any more: nothing to keep here.
  if (seq_le(seq_add(seq, len), rcv_nxt) && !fin) return false;
  if (seq_lt(seq, rcv_nxt)) {
    const auto cut = static_cast<std::size_t>(seq_diff(rcv_nxt, seq));
    data.trim_front(cut);
    len -= cut;
    seq = rcv_nxt;
  }
  SeqNumber end = seq_add(seq, len);
  // Skip the pieces that end before this one starts.
  std::size_t i = 0;
  while (i < ooo_.size() && seq_le(ooo_[i].end(), seq)) ++i;
  // A piece starting at or before us covers our front: trim it off (or all of us).
  if (i < ooo_.size() && seq_le(ooo_[i].seq, seq)) {
    const SeqNumber pend = ooo_[i].end();
    if (seq_ge(pend, end)) {
      if (fin && seq_diff(pend, end) == 0 && !ooo_[i].fin) {
        ooo_[i].fin = true;  // the same bytes again, now with the FIN
        return true;
      }
      return false;  // a duplicate
    }
    const auto cut = static_cast<std::size_t>(seq_diff(pend, seq));
    data.trim_front(cut);
    len -= cut;
    seq = pend;
    ++i;
  }
  // Pieces that lie wholly inside us are replaced by us.
  while (i < ooo_.size() && seq_le(ooo_[i].end(), end) && !(ooo_[i].fin && seq_diff(ooo_[i].end(), end) == 0 && !fin)) {
    erase(i);
  }
  // A piece that starts inside us: keep it and cut our tail (and our FIN could not be right).
  if (i < ooo_.size() && seq_lt(ooo_[i].seq, end)) {
    const auto keep = static_cast<std::size_t>(seq_diff(ooo_[i].seq, seq));
    data.trim_back(len - keep);
    len = keep;
    fin = false;
    if (len == 0) return false;
  }
  if (ooo_.size() >= max_ooo_) return false;
  ooo_bytes_ += len;
  ooo_.insert(ooo_.begin() + static_cast<std::ptrdiff_t>(i), Piece{seq, std::move(data), fin, ++arrivals_});
  return true;
}

std::size_t ReceiveQueue::drain(SeqNumber& rcv_nxt, bool& fin) {
  std::size_t moved = 0;
  fin = false;
  while (!ooo_.empty() && seq_le(ooo_.front().seq, rcv_nxt)) {
    Piece& p = ooo_.front();
    const std::size_t len = p.data ? p.data.size() : 0;
    const auto behind = static_cast<std::size_t>(seq_diff(rcv_nxt, p.seq));
    const bool piece_fin = p.fin;
    if (behind < len) {
      mem::BufRef d = std::move(p.data);
      d.trim_front(behind);
      rcv_nxt = seq_add(rcv_nxt, d.size());
      moved += d.size();
      push(std::move(d));
    }
    if (behind <= len && piece_fin) fin = true;
    ooo_bytes_ -= len;
    ooo_.erase(ooo_.begin());
    if (fin) {
      // Nothing can follow a FIN.
      ooo_.clear();
      ooo_bytes_ = 0;
      break;
    }
  }
  return moved;
}

std::size_t ReceiveQueue::sack_blocks(std::span<SackBlock> out) const {
  const std::size_t want = std::min(out.size(), kMaxSackBlocksOut);
  if (ooo_.empty() || want == 0) return 0;
  // Walk every contiguous run once, keeping the `want` runs with the latest arrivals, most recent
  // first (RFC 2018 4: the first block holds the segment that triggered this ACK; the rest repeat
  // the most recently reported ones, which recency approximates). Every run must be a candidate:
  // after a burst of drops a window holds far more runs than any fixed prefix, and the newest
  // run is the highest one, the one the sender needs to learn what arrived.
  struct Run {
    SackBlock block;
    uint64_t latest = 0;
  };
  std::array<Run, kMaxSackBlocksOut> best{};
  std::size_t n = 0;
  auto offer = [&](const Run& r) {
    std::size_t i = n;
    while (i > 0 && best[i - 1].latest < r.latest) --i;
    if (i >= want) return;
    const std::size_t last = std::min(n, want - 1);
    for (std::size_t k = last; k > i; --k) best[k] = best[k - 1];
    best[i] = r;
    if (n < want) ++n;
  };
  Run run{SackBlock{ooo_.front().seq, ooo_.front().end()}, ooo_.front().arrival};
  for (std::size_t i = 1; i < ooo_.size(); ++i) {
    const Piece& p = ooo_[i];
    if (seq_diff(p.seq, run.block.right) == 0) {
      run.block.right = p.end();
      run.latest = std::max(run.latest, p.arrival);
    } else {
      offer(run);
      run = Run{SackBlock{p.seq, p.end()}, p.arrival};
    }
  }
  offer(run);
  for (std::size_t i = 0; i < n; ++i) out[i] = best[i].block;
  return n;
}

}  // namespace demi::net::tcp
