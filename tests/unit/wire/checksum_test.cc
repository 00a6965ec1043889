#include <gtest/gtest.h>

#include "bytes_util.h"
#include "net/wire/checksum.h"

using namespace demi::net::wire;

// RFC 1071 section 3's worked example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
TEST(Checksum, Rfc1071Example) {
  auto b = hex("0001 f203 f4f5 f6f7");
  Checksum c;
  c.add(b);
  EXPECT_EQ(c.folded(), 0xddf2);
  EXPECT_EQ(c.checksum(), static_cast<uint16_t>(~0xddf2));
}

TEST(Checksum, OddPiecesSumLikeOneSpan) {
  auto b = hex("4500 003c 32c5 4000 4006 0000 7f00 0001 7f00 0001 ab");
  Checksum whole;
  whole.add(b);
  for (std::size_t cut = 0; cut <= b.size(); ++cut) {
    Checksum parts;
    parts.add(std::span(b).first(cut));
    parts.add(std::span(b).subspan(cut));
    EXPECT_EQ(parts.folded(), whole.folded()) << cut;
  }
}

// RFC 1624: updating one word incrementally equals recomputing.
TEST(Checksum, IncrementalUpdateMatchesRecompute) {
  auto b = hex("4500 003c 32c5 4000 4006 0000 7f00 0001 7f00 0001");
  uint16_t before = internet_checksum(b);
  b[8] = std::byte{0x3f};  // TTL 64 -> 63: the word at offset 8 changes 0x4006 -> 0x3f06
  EXPECT_EQ(checksum_adjust(before, 0x4006, 0x3f06), internet_checksum(b));
}
