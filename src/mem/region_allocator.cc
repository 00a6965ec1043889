#include "mem/region_allocator.h"

#include <bit>
#include <new>

namespace demi::mem {

// A chunk: header, then data. `size` counts the header; the low bit of `size` is the free flag.
struct RegionAllocator::Chunk {
  std::size_t size_and_free;
  std::size_t prev_size;  // size of the physically preceding chunk, 0 for the first
  Block block;            // valid while allocated
  Chunk* next_free;       // valid while free
  Chunk* prev_free;

  std::size_t size() const { return size_and_free & ~std::size_t{1}; }
  bool is_free() const { return size_and_free & 1; }
  void set(std::size_t size, bool free) { size_and_free = size | (free ? 1 : 0); }
};

namespace {
constexpr std::size_t kAlign = 64;  // data is cache-line aligned
constexpr std::size_t kHeader = 128;  // Chunk header, padded to keep data kAlign-aligned
constexpr std::size_t kMinChunk = kHeader + kAlign;
std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }
}  // namespace

RegionAllocator::RegionAllocator(std::byte* base, std::size_t size, std::string_view name) : name_(name) {
  static_assert(sizeof(Chunk) <= kHeader, "the chunk header must fit in front of the data");
  // Align the start so that every chunk's data is kAlign-aligned.
  auto addr = reinterpret_cast<uintptr_t>(base);
  uintptr_t aligned = round_up(addr, kAlign);
  std::size_t lost = aligned - addr;
  base_ = reinterpret_cast<std::byte*>(aligned);
  size_ = size > lost ? (size - lost) / kAlign * kAlign : 0;
  if (size_ < kMinChunk) {
    size_ = 0;
    return;
  }
  auto* c = new (base_) Chunk{};
  c->set(size_, true);
  c->prev_size = 0;
  insert_free(c);
}

void RegionAllocator::mapping(std::size_t size, unsigned* fl, unsigned* sl) {
  // First level: the power of two; second level: the next kSubBits bits below it.
  unsigned f = static_cast<unsigned>(std::bit_width(size)) - 1;
  unsigned s = f >= kSubBits ? static_cast<unsigned>((size >> (f - kSubBits)) & ((1u << kSubBits) - 1)) : 0;
  *fl = f;
  *sl = s;
}

void RegionAllocator::insert_free(Chunk* c) {
  unsigned fl, sl;
  mapping(c->size(), &fl, &sl);
  c->prev_free = nullptr;
  c->next_free = lists_[fl][sl];
  if (c->next_free) c->next_free->prev_free = c;
  lists_[fl][sl] = c;
  fl_bitmap_ |= uint64_t{1} << fl;
  sl_bitmap_[fl] = static_cast<uint8_t>(sl_bitmap_[fl] | (1u << sl));
  free_bytes_ += c->size();
}

void RegionAllocator::remove_free(Chunk* c) {
  unsigned fl, sl;
  mapping(c->size(), &fl, &sl);
  if (c->prev_free) c->prev_free->next_free = c->next_free;
  else lists_[fl][sl] = c->next_free;
  if (c->next_free) c->next_free->prev_free = c->prev_free;
  if (!lists_[fl][sl]) {
    sl_bitmap_[fl] = static_cast<uint8_t>(sl_bitmap_[fl] & ~(1u << sl));
    if (!sl_bitmap_[fl]) fl_bitmap_ &= ~(uint64_t{1} << fl);
  }
  free_bytes_ -= c->size();
}

RegionAllocator::Chunk* RegionAllocator::next_phys(Chunk* c) const {
  std::byte* n = reinterpret_cast<std::byte*>(c) + c->size();
  return n < base_ + size_ ? reinterpret_cast<Chunk*>(n) : nullptr;
}

RegionAllocator::Chunk* RegionAllocator::prev_phys(Chunk* c) const {
  if (c->prev_size == 0) return nullptr;
  return reinterpret_cast<Chunk*>(reinterpret_cast<std::byte*>(c) - c->prev_size);
}

Block* RegionAllocator::allocate(std::size_t size) {
  std::size_t want = round_up(kHeader + (size == 0 ? 1 : size), kAlign);
  if (want < size || want > size_) {
    ++stats_.failures;
    return nullptr;
  }
  // Round the request up to the start of the next list, so any chunk found there fits.
  unsigned fl, sl;
  std::size_t search = want;
  unsigned top = static_cast<unsigned>(std::bit_width(want)) - 1;
  if (top >= kSubBits) search = want + (std::size_t{1} << (top - kSubBits)) - 1;
  mapping(search, &fl, &sl);
  Chunk* c = nullptr;
  if (fl < kFirstLevels) {
    unsigned sl_map = sl_bitmap_[fl] & (~0u << sl);
    if (sl_map) {
      c = lists_[fl][std::countr_zero(sl_map)];
    } else {
      uint64_t fl_map = fl + 1 < 64 ? fl_bitmap_ & (~uint64_t{0} << (fl + 1)) : 0;
      if (fl_map) {
        unsigned f = static_cast<unsigned>(std::countr_zero(fl_map));
        c = lists_[f][std::countr_zero(static_cast<unsigned>(sl_bitmap_[f]))];
      }
    }
  }
  if (!c) {
    // The rounded search can miss a chunk that fits exactly: look in the request's own list.
    mapping(want, &fl, &sl);
    for (Chunk* k = fl < kFirstLevels ? lists_[fl][sl] : nullptr; k; k = k->next_free)
      if (k->size() >= want) {
        c = k;
        break;
      }
  }
  if (!c) {
    ++stats_.failures;
    return nullptr;
  }
  remove_free(c);
  std::size_t have = c->size();
  if (have - want >= kMinChunk) {
    // Split: the tail goes back to the free lists.
    auto* rest = new (reinterpret_cast<std::byte*>(c) + want) Chunk{};
    rest->set(have - want, true);
    rest->prev_size = want;
    if (Chunk* n = next_phys(rest)) n->prev_size = rest->size();
    c->set(want, false);
    insert_free(rest);
  } else {
    c->set(have, false);
  }
  Block* b = new (&c->block) Block{};
  b->data = reinterpret_cast<std::byte*>(c) + kHeader;
  b->capacity = size;
  b->refs = 1;
  b->owner = this;
  b->cookie = c;
  ++stats_.allocations;
  ++stats_.live_blocks;
  stats_.live_bytes += size;
  return b;
}

void RegionAllocator::release(Block* b) noexcept {
  auto* c = static_cast<Chunk*>(b->cookie);
  --stats_.live_blocks;
  stats_.live_bytes -= b->capacity;
  b->~Block();
  c->set(c->size(), true);
  // Coalesce with free neighbours (boundary tags make both O(1)).
  if (Chunk* n = next_phys(c); n && n->is_free()) {
    remove_free(n);
    c->set(c->size() + n->size(), true);
  }
  if (Chunk* p = prev_phys(c); p && p->is_free()) {
    remove_free(p);
    p->set(p->size() + c->size(), true);
    c = p;
  }
  if (Chunk* n = next_phys(c)) n->prev_size = c->size();
  insert_free(c);
}

std::size_t RegionAllocator::largest_free() const {
  if (!fl_bitmap_) return 0;
  unsigned fl = 63u - static_cast<unsigned>(std::countl_zero(fl_bitmap_));
  std::size_t best = 0;
  for (const auto* list : lists_[fl])
    for (const Chunk* k = list; k; k = k->next_free)
      if (k->size() > best) best = k->size();
  return best > kHeader ? best - kHeader : 0;
}

}  // namespace demi::mem
