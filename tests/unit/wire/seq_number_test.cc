// Sequence-number arithmetic (RFC 9293 3.4): modulo 2^32, compared within half the space.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "net/wire/tcp.h"

namespace demi::net::wire {
namespace {

TEST(SeqNumber, comparisons_survive_wraparound) {
  const SeqNumber a{0xfffffff0u};
  const SeqNumber b{0x10u};
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(a <= b);
  EXPECT_TRUE(b > a);
  EXPECT_TRUE(b >= a);
  EXPECT_FALSE(b < a);
  EXPECT_FALSE(a == b);
  EXPECT_EQ(b - a, 0x20);
  EXPECT_EQ(a - b, -0x20);
  EXPECT_EQ(a + 0x20u, b);
  EXPECT_EQ(b - 0x20u, a);
  EXPECT_EQ(SeqNumber::max(a, b), b);
  EXPECT_EQ(SeqNumber::min(a, b), a);
}

TEST(SeqNumber, equal_numbers) {
  const SeqNumber x{5};
  EXPECT_TRUE(x <= SeqNumber{5});
  EXPECT_TRUE(x >= SeqNumber{5});
  EXPECT_FALSE(x < SeqNumber{5});
  EXPECT_FALSE(x > SeqNumber{5});
  EXPECT_EQ(x - SeqNumber{5}, 0);
}

TEST(SeqNumber, compound_assignment_wraps) {
  SeqNumber s{0xffffffffu};
  s += 1;
  EXPECT_EQ(s.raw(), 0u);
  s -= 2;
  EXPECT_EQ(s.raw(), 0xfffffffeu);
  s += 0x80000000u;
  EXPECT_EQ(s.raw(), 0x7ffffffeu);
}

// Order holds up to 2^31 - 1 apart, from any starting point (the window and the sequence
// space of a connection stay well within that, RFC 7323 2.3).
TEST(SeqNumber, order_holds_within_half_the_space_from_anywhere) {
  constexpr uint32_t kHalf = std::numeric_limits<int32_t>::max();
  for (uint32_t base : {0u, 1u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu, 0x12345678u}) {
    const SeqNumber s{base};
    for (uint32_t d : {1u, 2u, 1000u, 0x10000u, kHalf - 1, kHalf}) {
      EXPECT_TRUE(s < s + d) << base << "+" << d;
      EXPECT_TRUE(s + d > s) << base << "+" << d;
      EXPECT_EQ((s + d) - s, static_cast<int32_t>(d)) << base << "+" << d;
      EXPECT_EQ(s - (s + d), -static_cast<int32_t>(d)) << base << "+" << d;
    }
  }
}

// Exactly half the space apart, the order is undefined (RFC 1982 3.2); ours says both are
// "before" each other, never that they are equal.
TEST(SeqNumber, half_the_space_apart_is_not_equal) {
  const SeqNumber a{0};
  const SeqNumber b{0x80000000u};
  EXPECT_NE(a, b);
  EXPECT_EQ(b - a, std::numeric_limits<int32_t>::min());
}

static_assert(SeqNumber{1} < SeqNumber{2});
static_assert(SeqNumber{0xffffffffu} < SeqNumber{0});
static_assert(SeqNumber{0} - SeqNumber{0xffffffffu} == 1);

}  // namespace
}  // namespace demi::net::wire
