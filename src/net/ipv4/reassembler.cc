#include "net/ipv4/reassembler.h"

#include <algorithm>
#include <cstring>

namespace demi::net {

namespace {
// RFC 791: a datagram is at most 65535 bytes, header included.
constexpr uint32_t kMaxDatagram = 65535;
}  // namespace

Reassembler::Reassembler(sched::Scheduler& sched, sched::Duration timeout, std::size_t memory_limit)
    : sched_(sched), timeout_(timeout), limit_(memory_limit), timer_(sched, [this] { on_timer(); }) {}

Reassembler::~Reassembler() = default;

std::size_t Reassembler::pending() const {
  return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.used; }));
}

Reassembler::Slot* Reassembler::find(const FragmentKey& key) {
  for (Slot& s : slots_)
    if (s.used && s.key == key) return &s;
  return nullptr;
}

Reassembler::Slot* Reassembler::take_slot(const FragmentKey& key) {
  Slot* slot = nullptr;
  for (Slot& s : slots_) {
    if (!s.used) {
      slot = &s;
      break;
    }
  }
  if (!slot) slot = &slots_.emplace_back();
  const sched::Instant now = sched_.now();
  slot->used = true;
  slot->key = key;
  slot->created = now;
  slot->deadline = now + timeout_;
  slot->total = 0;
  slot->have_last = false;
  slot->received = 0;
  slot->memory = 0;
  slot->fragments.clear();
  slot->header_len = 0;
  return slot;
}

void Reassembler::drop(Slot& s) {
  memory_ -= s.memory;
  s.fragments.clear();
  s.used = false;
}

bool Reassembler::make_room(std::size_t need, const Slot* keep) {
  while (memory_ + need > limit_) {
    // Drop the oldest other datagram: it is the likeliest never to complete.
    Slot* oldest = nullptr;
    for (Slot& s : slots_)
      if (s.used && &s != keep && (!oldest || s.created < oldest->created)) oldest = &s;
    if (!oldest) return false;
    drop(*oldest);
    ++counters_.drop_evicted;
  }
  return true;
}

std::optional<Reassembler::Datagram> Reassembler::add(const FragmentKey& key, uint32_t offset, bool more,
                                                      std::span<const std::byte> header, mem::BufRef payload) {
  ++counters_.fragments;
  done_parts_.clear();  // the previous datagram's views, if its receiver left them here
  const auto len = static_cast<uint32_t>(payload.size());
  const uint32_t end = offset + len;
  // RFC 791: every fragment but the last carries a multiple of 8 bytes; nothing lies past 64 KiB.
  if (len == 0 || (more && len % 8 != 0) || end + header.size() > kMaxDatagram || header.size() > 60) {
    ++counters_.drop_bad_fragment;
    return std::nullopt;
  }
  const std::size_t need = cost(payload);
  Slot* s = find(key);
  if (!s) {
    if (need > limit_ || !make_room(need, nullptr)) {
      ++counters_.drop_no_memory;
      return std::nullopt;
    }
    s = take_slot(key);
    rearm();
  }
  // The last fragment fixes the length: a second, different one, or data past it, is a lie.
  if ((s->have_last && (end > s->total || (!more && end != s->total))) ||
      (!more && !s->fragments.empty() && s->fragments.back().end() > end)) {
    ++counters_.drop_inconsistent;
    drop(*s);
    return std::nullopt;
  }
  auto pos = std::lower_bound(s->fragments.begin(), s->fragments.end(), offset,
                              [](const Fragment& f, uint32_t o) { return f.offset < o; });
  const bool same_as_next = pos != s->fragments.end() && pos->offset == offset && pos->end() == end;
  if (same_as_next) {
    ++counters_.drop_duplicate;
    return std::nullopt;
  }
  const bool overlaps_prev = pos != s->fragments.begin() && std::prev(pos)->end() > offset;
  const bool overlaps_next = pos != s->fragments.end() && pos->offset < end;
  if (overlaps_prev || overlaps_next) {
    ++counters_.drop_overlap;
    drop(*s);
    return std::nullopt;
  }
  if (!make_room(need, s)) {
    ++counters_.drop_no_memory;
    return std::nullopt;
  }
  if (offset == 0) {
    std::memcpy(s->header.data(), header.data(), header.size());
    s->header_len = static_cast<uint8_t>(header.size());
  }
  if (!more) {
    s->have_last = true;
    s->total = end;
  }
  s->fragments.insert(pos, Fragment{offset, std::move(payload)});
  s->received += len;
  s->memory += need;
  memory_ += need;
  if (!s->have_last || s->received != s->total) return std::nullopt;

  // Disjoint fragments inside [0, total) that add up to total cover it: the datagram is whole.
  done_parts_.clear();
  for (Fragment& f : s->fragments) done_parts_.push_back(std::move(f.data));
  std::memcpy(done_header_.data(), s->header.data(), s->header_len);
  Datagram d;
  d.header = std::span<const std::byte>(done_header_.data(), s->header_len);
  d.parts = done_parts_;
  d.length = s->total;
  drop(*s);
  ++counters_.reassembled;
  return d;
}

void Reassembler::on_timer() {
  const sched::Instant now = sched_.now();
  for (Slot& s : slots_) {
    if (!s.used || s.deadline > now) continue;
    ++counters_.drop_timeout;
    // RFC 792 / RFC 1122 3.2.2.4: time exceeded goes back only if the first fragment came.
    if (s.header_len > 0 && on_timeout_ && !s.fragments.empty() && s.fragments.front().offset == 0)
      on_timeout_(std::span<const std::byte>(s.header.data(), s.header_len), s.fragments.front().data);
    drop(s);
  }
  rearm();
}

void Reassembler::rearm() {
  std::optional<sched::Instant> next;
  for (const Slot& s : slots_)
    if (s.used && (!next || s.deadline < *next)) next = s.deadline;
  if (next) timer_.arm_at(*next);
  else timer_.cancel();
}

void Reassembler::append_counters(CounterList& out) const {
  const Counters& c = counters_;
  out.push_back({"ipv4.reassembly.fragments", c.fragments});
  out.push_back({"ipv4.reassembly.reassembled", c.reassembled});
  out.push_back({"ipv4.reassembly.drop.overlap", c.drop_overlap});
  out.push_back({"ipv4.reassembly.drop.duplicate", c.drop_duplicate});
  out.push_back({"ipv4.reassembly.drop.inconsistent", c.drop_inconsistent});
  out.push_back({"ipv4.reassembly.drop.bad_fragment", c.drop_bad_fragment});
  out.push_back({"ipv4.reassembly.drop.timeout", c.drop_timeout});
  out.push_back({"ipv4.reassembly.drop.evicted", c.drop_evicted});
  out.push_back({"ipv4.reassembly.drop.no_memory", c.drop_no_memory});
}

}  // namespace demi::net
