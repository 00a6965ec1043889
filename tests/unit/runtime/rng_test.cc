#include "runtime/sim/rng.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>

namespace demi::runtime::sim {
namespace {

// Reference values from an independent (Python) implementation of splitmix64 seeding and
// xoshiro256**: any change to the generator changes every pinned seed.
TEST(Rng, MatchesReferenceSequence) {
  Rng r(42);
  EXPECT_EQ(r.next(), 0x15780b2e0c2ec716ULL);
  EXPECT_EQ(r.next(), 0x6104d9866d113a7eULL);
  EXPECT_EQ(r.next(), 0xae17533239e499a1ULL);
  EXPECT_EQ(r.next(), 0xecb8ad4703b360a1ULL);
  Rng zero(0);
  EXPECT_EQ(zero.next(), 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(zero.next(), 0xbf6e1f784956452aULL);
}

TEST(Rng, SameSeedSameSequenceAndReseedRestarts) {
  Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
  a.reseed(7);
  Rng fresh(7);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(a.next(), fresh.next());
  }
}

TEST(Rng, UniformStaysBelowBoundAndCoversIt) {
  Rng r(1);
  EXPECT_EQ(r.uniform(0), 0u);
  EXPECT_EQ(r.uniform(1), 0u);
  std::array<int, 7> seen{};
  for (int i = 0; i < 70'000; ++i) {
    const uint64_t v = r.uniform(7);
    ASSERT_LT(v, 7u);
    ++seen[v];
  }
  // Each bucket expects 10000, standard deviation about 93: 6 sigma.
  for (int n : seen) {
    EXPECT_NEAR(n, 10'000, 560);
  }
  for (int i = 0; i < 1000; ++i) {
    ASSERT_LT(r.uniform(UINT64_MAX - 3), UINT64_MAX - 3);
  }
}

TEST(Rng, RangeIncludesBothEnds) {
  Rng r(2);
  bool lo = false, hi = false;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t v = r.range(10, 13);
    ASSERT_GE(v, 10u);
    ASSERT_LE(v, 13u);
    lo |= v == 10;
    hi |= v == 13;
  }
  EXPECT_TRUE(lo && hi);
  EXPECT_EQ(r.range(5, 5), 5u);
  EXPECT_EQ(r.range(9, 3), 9u);
  (void)r.range(0, UINT64_MAX);  // the full range does not overflow
}

TEST(Rng, ChanceThresholdIsExact) {
  constexpr uint64_t kOne = uint64_t{1} << 53;
  EXPECT_EQ(Rng::chance_threshold(0.0), 0u);
  EXPECT_EQ(Rng::chance_threshold(-0.5), 0u);
  EXPECT_EQ(Rng::chance_threshold(std::numeric_limits<double>::quiet_NaN()), 0u);
  EXPECT_EQ(Rng::chance_threshold(1.0), kOne);
  EXPECT_EQ(Rng::chance_threshold(7.0), kOne);
  EXPECT_EQ(Rng::chance_threshold(0.5), kOne / 2);
  EXPECT_EQ(Rng::chance_threshold(0.25), kOne / 4);
  // floor(p * 2^53) of the double nearest p, computed with exact rationals in Python.
  EXPECT_EQ(Rng::chance_threshold(0.1), 900719925474099u);
  EXPECT_EQ(Rng::chance_threshold(0.3), 2702159776422297u);
  EXPECT_EQ(Rng::chance_threshold(0.05), 450359962737049u);
  EXPECT_EQ(Rng::chance_threshold(0.999999), 9007190247541737u);
  EXPECT_EQ(Rng::chance_threshold(1e-20), 0u);
  EXPECT_EQ(Rng::chance_threshold(5e-324), 0u);  // the smallest subnormal
}

TEST(Rng, ChanceFollowsProbabilityAndAlwaysDraws) {
  Rng r(3), shadow(3);
  int hits = 0;
  for (int i = 0; i < 100'000; ++i) {
    hits += r.chance(0.3) ? 1 : 0;
    (void)shadow.next();
  }
  // Binomial(100000, 0.3): sigma about 145; 6 sigma.
  EXPECT_NEAR(hits, 30'000, 870);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(r.chance(0.0));
    EXPECT_TRUE(r.chance(1.0));
    (void)shadow.next();
    (void)shadow.next();
  }
  EXPECT_EQ(r.next(), shadow.next());  // one draw per call, whatever the probability
}

}  // namespace
}  // namespace demi::runtime::sim
