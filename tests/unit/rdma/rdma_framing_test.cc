// The rdma module's wire format and flow control, as pure functions: no device needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "modules/rdma/credits.h"
#include "modules/rdma/framing.h"

namespace demi::rdma {
namespace {

// ---------------------------------------------------------------- fragment header (imm data)

TEST(RdmaFragmentHeader, EncodesTheDocumentedBits) {
  EXPECT_EQ((FragmentHeader{true, false, 0}.encode()), 0x80000000u);
  EXPECT_EQ((FragmentHeader{false, true, 7}.encode()), 0x40000007u);
  EXPECT_EQ((FragmentHeader{false, false, 0xffff}.encode()), 0x0000ffffu);
}

TEST(RdmaFragmentHeader, RoundTrips) {
  for (bool end : {false, true})
    for (uint32_t c : {0u, 1u, 31u, 65535u}) {
      auto h = FragmentHeader::decode(FragmentHeader{end, false, c}.encode());
      ASSERT_TRUE(h);
      EXPECT_EQ(h->end, end);
      EXPECT_FALSE(h->credit_only);
      EXPECT_EQ(h->credits, c);
    }
}

TEST(RdmaFragmentHeader, RejectsReservedBitsAndEndOnCreditOnly) {
  EXPECT_FALSE(FragmentHeader::decode(0x00010000u));
  EXPECT_FALSE(FragmentHeader::decode(0x20000000u));
  EXPECT_FALSE(FragmentHeader::decode(0xc0000000u));
}

// ---------------------------------------------------------------- window announcement

TEST(RdmaWindowAnnouncement, EncodesBigEndian) {
  auto b = WindowAnnouncement{16, 262144}.encode();
  const std::array<uint8_t, 12> want{0x44, 0x4d, 0x52, 0x44, 1, 0, 0, 16, 0, 4, 0, 0};
  EXPECT_EQ(b, want);
}

TEST(RdmaWindowAnnouncement, DecodesThePrefixOfPaddedPrivateData) {
  std::vector<uint8_t> padded(56, 0);  // rdma_cm pads private data
  auto b = WindowAnnouncement{300, 4096}.encode();
  std::copy(b.begin(), b.end(), padded.begin());
  auto w = WindowAnnouncement::decode(padded);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->credits, 300);
  EXPECT_EQ(w->buffer_size, 4096u);
}

TEST(RdmaWindowAnnouncement, RejectsForeignOrEmpty) {
  std::vector<uint8_t> zero(12, 0);
  EXPECT_FALSE(WindowAnnouncement::decode(zero));
  auto b = WindowAnnouncement{16, 4096}.encode();
  EXPECT_FALSE(WindowAnnouncement::decode(std::span<const uint8_t>(b.data(), 11)));  // short
  auto v2 = b;
  v2[4] = 2;  // unknown version
  EXPECT_FALSE(WindowAnnouncement::decode(v2));
  EXPECT_FALSE(WindowAnnouncement::decode(WindowAnnouncement{0, 4096}.encode()));
}

// ---------------------------------------------------------------- fragmentation

struct Frag {
  std::vector<FragmentPiece> pieces;
  std::size_t bytes;
  bool last;
};

std::vector<Frag> fragment(std::vector<uint32_t> lens, std::size_t max_bytes, std::size_t max_pieces) {
  FragmentCursor c(lens);
  std::vector<Frag> out;
  while (!c.done()) {
    std::array<FragmentPiece, 16> p{};
    Frag f;
    std::size_t n = c.next(max_bytes, std::span(p.data(), max_pieces), &f.bytes, &f.last);
    f.pieces.assign(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
    out.push_back(f);
    if (n == 0) break;
  }
  return out;
}

TEST(RdmaFragmentCursor, SmallMessageIsOneFragment) {
  auto f = fragment({100}, 4096, 16);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].bytes, 100u);
  EXPECT_TRUE(f[0].last);
}

TEST(RdmaFragmentCursor, SplitsAtTheBufferSize) {
  auto f = fragment({10000}, 4096, 16);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].bytes, 4096u);
  EXPECT_EQ(f[1].bytes, 4096u);
  EXPECT_EQ(f[2].bytes, 10000u - 8192u);
  EXPECT_FALSE(f[0].last);
  EXPECT_FALSE(f[1].last);
  EXPECT_TRUE(f[2].last);
  EXPECT_EQ(f[2].pieces[0].offset, 8192u);
  EXPECT_EQ(fragments_for(10000, 4096), 3u);
}

TEST(RdmaFragmentCursor, GathersSegmentsAndSkipsEmptyOnes) {
  auto f = fragment({3, 0, 5, 0}, 4096, 16);
  ASSERT_EQ(f.size(), 1u);
  ASSERT_EQ(f[0].pieces.size(), 2u);
  EXPECT_EQ(f[0].pieces[1].segment, 2u);
  EXPECT_TRUE(f[0].last);
}

TEST(RdmaFragmentCursor, RespectsTheScatterLimit) {
  auto f = fragment({1, 1, 1, 1, 1}, 4096, 2);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].bytes, 2u);
  EXPECT_EQ(f[2].bytes, 1u);
  EXPECT_TRUE(f[2].last);
}

TEST(RdmaFragmentCursor, CoversEveryByteOnceInOrder) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint32_t> lens(1 + rng() % 16);
    for (auto& l : lens) l = rng() % 3 == 0 ? 0 : rng() % 20000;
    if (std::all_of(lens.begin(), lens.end(), [](uint32_t l) { return l == 0; })) lens[0] = 1;
    std::size_t max_bytes = 1 + rng() % 8192;
    std::size_t max_pieces = 1 + rng() % 16;
    auto frags = fragment(lens, max_bytes, max_pieces);
    uint32_t seg = 0, off = 0;
    std::size_t total = 0;
    for (std::size_t i = 0; i < frags.size(); ++i) {
      EXPECT_LE(frags[i].bytes, max_bytes);
      EXPECT_LE(frags[i].pieces.size(), max_pieces);
      EXPECT_EQ(frags[i].last, i + 1 == frags.size());
      for (const auto& p : frags[i].pieces) {
        while (seg < lens.size() && off == lens[seg]) ++seg, off = 0;
        ASSERT_EQ(p.segment, seg);
        ASSERT_EQ(p.offset, off);
        off += p.len;
        total += p.len;
      }
    }
    std::size_t want = 0;
    for (auto l : lens) want += l;
    EXPECT_EQ(total, want);
  }
}

// ---------------------------------------------------------------- credits

TEST(RdmaCredits, LastCreditIsReservedForUpdates) {
  CreditState c(16, 2);
  EXPECT_TRUE(c.can_send_data());
  c.spend_on_data();
  EXPECT_FALSE(c.can_send_data());  // one left: only a credit-only message may use it
  EXPECT_FALSE(c.wants_update());
  c.reposted(8);
  EXPECT_TRUE(c.wants_update());
  EXPECT_EQ(c.spend_on_update(), 8u);
  EXPECT_EQ(c.send_credits(), 0u);
  EXPECT_FALSE(c.wants_update());
}

TEST(RdmaCredits, DataPiggybacksWhatIsOwed) {
  CreditState c(16, 16);
  c.reposted(3);
  EXPECT_FALSE(c.wants_update());  // below the threshold (16 / 2)
  EXPECT_EQ(c.spend_on_data(), 3u);
  EXPECT_EQ(c.owed(), 0u);
  EXPECT_EQ(c.spend_on_data(), 0u);
}

TEST(RdmaCredits, ThresholdIsAtLeastTwo) {
  EXPECT_EQ(CreditState(4, 4).threshold(), 2u);
  EXPECT_EQ(CreditState(5, 4).threshold(), 2u);
  EXPECT_EQ(CreditState(64, 4).threshold(), 32u);
}

// Two endpoints exchanging messages over a model of RC queue pairs with posted receive buffers:
// a send into a side with no posted buffer is an overrun (RNR). Random traffic in both
// directions, receivers that repost at random times: never an overrun, never stuck, and credit
// updates never answer each other forever.
struct Side {
  uint32_t n;
  CreditState credits;
  uint32_t posted;
  uint32_t to_repost = 0;
  uint64_t want_to_send = 0;
  uint64_t data_received = 0;
  uint64_t updates_sent = 0;
};

struct Wire {
  std::deque<FragmentHeader> in_flight;
};

void pump(Side& s, Wire& w) {
  while (s.want_to_send > 0 && s.credits.can_send_data()) {
    w.in_flight.push_back(FragmentHeader{true, false, s.credits.spend_on_data()});
    --s.want_to_send;
  }
  if (s.credits.wants_update()) {
    w.in_flight.push_back(FragmentHeader{false, true, s.credits.spend_on_update()});
    ++s.updates_sent;
  }
}

bool deliver_one(Wire& w, Side& to) {
  if (w.in_flight.empty()) return false;
  EXPECT_GT(to.posted, 0u) << "a send found no posted receive buffer (RNR)";
  if (to.posted == 0) return false;
  FragmentHeader h = w.in_flight.front();
  w.in_flight.pop_front();
  --to.posted;
  ++to.to_repost;
  to.credits.granted(h.credits);
  if (!h.credit_only) ++to.data_received;
  return true;
}

void repost(Side& s, uint32_t k) {
  k = std::min(k, s.to_repost);
  s.to_repost -= k;
  s.posted += k;
  s.credits.reposted(k);
}

TEST(RdmaCredits, ModelNeverOverrunsNorDeadlocks) {
  std::mt19937 rng(42);
  for (uint32_t na : {4u, 5u, 8u, 16u}) {
    for (uint32_t nb : {4u, 7u, 16u}) {
      Side a{na, CreditState(na, nb), na};
      Side b{nb, CreditState(nb, na), nb};
      Wire ab, ba;
      a.want_to_send = 2000;
      b.want_to_send = 700;
      for (int step = 0; step < 200000; ++step) {
        switch (rng() % 6) {
          case 0: pump(a, ab); break;
          case 1: pump(b, ba); break;
          case 2: deliver_one(ab, b); break;
          case 3: deliver_one(ba, a); break;
          case 4: repost(a, rng() % 3); break;
          case 5: repost(b, rng() % 3); break;
        }
      }
      // Quiesce: everything delivered and reposted, then pump until nothing moves.
      for (int i = 0; i < 100000; ++i) {
        pump(a, ab);
        pump(b, ba);
        const bool moved_ab = deliver_one(ab, b);
        const bool moved_ba = deliver_one(ba, a);
        const bool moved = moved_ab || moved_ba;
        repost(a, a.to_repost);
        repost(b, b.to_repost);
        if (!moved && a.want_to_send == 0 && b.want_to_send == 0 && ab.in_flight.empty() && ba.in_flight.empty())
          break;
      }
      EXPECT_EQ(b.data_received, 2000u) << "na " << na << " nb " << nb;
      EXPECT_EQ(a.data_received, 700u) << "na " << na << " nb " << nb;
      // Idle: no endless exchange of credit-only messages.
      uint64_t ua = a.updates_sent, ub = b.updates_sent;
      for (int i = 0; i < 100; ++i) {
        pump(a, ab);
        pump(b, ba);
        deliver_one(ab, b);
        deliver_one(ba, a);
        repost(a, a.to_repost);
        repost(b, b.to_repost);
      }
      EXPECT_LE(a.updates_sent - ua + b.updates_sent - ub, 2u);
      EXPECT_LE(a.credits.send_credits(), nb);
      EXPECT_LE(b.credits.send_credits(), na);
    }
  }
}

}  // namespace
}  // namespace demi::rdma
