// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
#include "net/wire/checksum.h"

#include <gtest/gtest.h>

#include "hex_bytes.h"
#include "net/wire/wire_error.h"

namespace demi::net::wire {
namespace {

using test::Bytes;
using test::hex;

// The obvious one's-complement sum of big-endian words, to hold the fast one to.
uint16_t reference_folded(std::span<const std::byte> b) {
  uint64_t s = 0;
  for (std::size_t i = 0; i < b.size(); i += 2) {
    const unsigned hi = static_cast<unsigned>(b[i]);
    const unsigned lo = i + 1 < b.size() ? static_cast<unsigned>(b[i + 1]) : 0;
    s += (hi << 8) | lo;
  }
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// RFC 1071 section 3's worked example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
TEST(Checksum, rfc1071_3_numerical_example) {
  const Bytes b = hex("0001 f203 f4f5 f6f7");
  Checksum c;
  c.add(b);
  EXPECT_EQ(c.folded(), 0xddf2);
  EXPECT_EQ(c.checksum(), 0x220d);
  EXPECT_EQ(internet_checksum(b), 0x220d);
}

// A real IPv4 header (Linux SYN on loopback): it carries its checksum, so it sums to 0xffff;
// with the field zeroed, the checksum computed is the one Linux sent.
TEST(Checksum, a_captured_ipv4_header_verifies_and_recomputes) {
  Bytes h = hex("4500 003c edd1 4000 4006 4ee8 7f00 0001 7f00 0001");
  Checksum c;
  c.add(h);
  EXPECT_TRUE(c.verifies());
  h[10] = h[11] = std::byte{0};
  EXPECT_EQ(internet_checksum(h), 0x4ee8);
}

TEST(Checksum, the_empty_sum_is_zero_and_its_checksum_all_ones) {
  Checksum c;
  c.add({});
  EXPECT_EQ(c.folded(), 0);
  EXPECT_EQ(c.checksum(), 0xffff);
  EXPECT_FALSE(c.verifies());
}

// RFC 1071 2(B) lets pieces be summed separately; an odd piece shifts the ones after it by a
// byte, which must come out the same as summing the concatenation.
TEST(Checksum, pieces_of_any_length_sum_like_one_span) {
  const Bytes b = hex("4500 003c 32c5 4000 4006 0000 7f00 0001 7f00 0001 ab cd ef 01 23 45 67 89 9a");
  Checksum whole;
  whole.add(b);
  ASSERT_EQ(whole.folded(), reference_folded(b));
  const std::span<const std::byte> s(b);
  for (std::size_t i = 0; i <= b.size(); ++i) {
    for (std::size_t j = i; j <= b.size(); ++j) {
      Checksum parts;
      parts.add(s.first(i));
      parts.add(s.subspan(i, j - i));
      parts.add(s.subspan(j));
      EXPECT_EQ(parts.folded(), whole.folded()) << i << "," << j;
    }
  }
}

// The 32- and 8-bytes-at-a-time loops, at every alignment and length, against the word-by-word sum.
TEST(Checksum, fast_sum_matches_the_reference_at_every_alignment) {
  test::TestRng rng(1071);
  Bytes buf(2048 + 16);
  for (auto& x : buf) x = rng.byte();
  for (int round = 0; round < 2000; ++round) {
    const std::size_t off = rng.below(16);
    const std::size_t len = rng.below(2049);
    const std::span<const std::byte> s = std::span<const std::byte>(buf).subspan(off, len);
    Checksum c;
    c.add(s);
    ASSERT_EQ(c.folded(), reference_folded(s)) << "offset " << off << " length " << len;
  }
  // All ones: many carries to fold.
  Bytes ones(1501, std::byte{0xff});
  Checksum c;
  c.add(ones);
  EXPECT_EQ(c.folded(), reference_folded(ones));
}

// add16/add32 (the pseudo-header) give the same as the bytes they stand for, even after an
// odd piece.
TEST(Checksum, words_sum_like_their_bytes) {
  const Bytes b = hex("7f00 0001 7f00 0001 0006 0028");
  Checksum bytes_sum;
  bytes_sum.add(b);
  Checksum words;
  words.add_pseudo_header(0x7f000001, 0x7f000001, 6, 0x28);
  EXPECT_EQ(words.folded(), bytes_sum.folded());

  Checksum odd_then_bytes;
  odd_then_bytes.add(hex("aa"));
  odd_then_bytes.add(hex("1234 5678"));
  Checksum odd_then_words;
  odd_then_words.add(hex("aa"));
  odd_then_words.add32(0x12345678);
  EXPECT_EQ(odd_then_words.folded(), odd_then_bytes.folded());
}

// RFC 1624 section 4's example: the other header words sum to 0xcd7a, m = 0x5555 becomes
// m' = 0x3285; HC = 0xdd2f, and eqn. 3 gives 0x0000 (where RFC 1141's eqn. 2 gave 0xffff).
TEST(Checksum, rfc1624_4_example) { EXPECT_EQ(checksum_adjust(0xdd2f, 0x5555, 0x3285), 0x0000); }

// A router's TTL decrement (RFC 1624 section 3): the adjusted checksum equals a recomputed one.
TEST(Checksum, rfc1624_incremental_update_matches_recomputation) {
  Bytes h = hex("4500 003c edd1 4000 4006 4ee8 7f00 0001 7f00 0001");
  h[8] = std::byte{0x3f};  // TTL 64 -> 63: the word at offset 8 goes 0x4006 -> 0x3f06
  h[10] = h[11] = std::byte{0};
  EXPECT_EQ(checksum_adjust(0x4ee8, 0x4006, 0x3f06), internet_checksum(h));

  test::TestRng rng(1624);
  for (int round = 0; round < 1000; ++round) {
    Bytes d(20);
    for (auto& x : d) x = rng.byte();
    d[10] = d[11] = std::byte{0};
    const uint16_t before = internet_checksum(d);
    const std::size_t at = 2 * rng.below(10);
    if (at == 10) continue;  // the checksum field itself
    const uint16_t old_word = static_cast<uint16_t>((static_cast<unsigned>(d[at]) << 8) | static_cast<unsigned>(d[at + 1]));
    const uint16_t new_word = static_cast<uint16_t>(rng.next());
    d[at] = static_cast<std::byte>(new_word >> 8);
    d[at + 1] = static_cast<std::byte>(new_word & 0xff);
    const uint16_t adjusted = checksum_adjust(before, old_word, new_word);
    // Both are valid checksums for the new data: they agree, or are the two zeros of one's
    // complement when the data sums to zero.
    d[10] = static_cast<std::byte>(adjusted >> 8);
    d[11] = static_cast<std::byte>(adjusted & 0xff);
    Checksum c;
    c.add(d);
    EXPECT_TRUE(c.verifies()) << round;
  }
}

TEST(WireError, every_reason_has_a_distinct_name) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < kWireErrorCount; ++i) {
    const char* n = wire_error_name(static_cast<WireError>(i));
    ASSERT_NE(n, nullptr);
    for (const auto& other : names) EXPECT_NE(other, n);
    names.emplace_back(n);
  }
  EXPECT_STREQ(wire_error_name(WireError::BadChecksum), "bad_checksum");
  EXPECT_STREQ(wire_error_name(static_cast<WireError>(99)), "unknown");
}

}  // namespace
}  // namespace demi::net::wire
