// The simulator's source of randomness: xoshiro256** seeded through splitmix64.
//
// Every random decision of the simulated network comes from one Rng, so a seed names a whole
// run. The generator and the helpers below use integer arithmetic only (and exact IEEE
// operations where a probability is given as a double), never std:: distributions: those are
// implementation-defined and differ between libstdc++ and libc++, and a seed that fails on one
// machine must fail the same way on every other.
//
// References: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (2021), for
// xoshiro256** and splitmix64; Lemire, "Fast random integer generation in an interval" (2019),
// for the unbiased bounded draw.
#pragma once

#include <array>
#include <cstdint>

namespace demi::runtime::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) { reseed(seed); }

  // Restarts the sequence: the state words are four successive outputs of splitmix64(seed), so
  // nearby seeds give unrelated sequences and the state is never all zero.
  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& word : s_) {
      word = splitmix64(x);
    }
  }

  // The next 64 random bits.
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), without modulo bias; 0 when n is 0.
  uint64_t uniform(uint64_t n) {
    if (n == 0) {
      return 0;
    }
    // Lemire's multiply-shift: the high word of next() * n is uniform once the low word is
    // outside the short first interval of 2^64 mod n values.
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    auto low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi], both ends included; lo when hi < lo.
  uint64_t range(uint64_t lo, uint64_t hi) {
    if (hi <= lo) {
      return lo;
    }
    const uint64_t span = hi - lo;
    if (span == UINT64_MAX) {
      return next();
    }
    return lo + uniform(span + 1);
  }

  // True with probability p. p <= 0 (and NaN) is never, p >= 1 always. One draw is taken in
  // every case, so the stream does not depend on the probabilities in use.
  bool chance(double p) { return (next() >> 11) < chance_threshold(p); }

  // floor(p * 2^53), computed exactly: p's 53-bit mantissa shifted by its exponent. Comparing
  // the top 53 bits of a draw against it gives exactly the same answer on every platform.
  static uint64_t chance_threshold(double p);

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::array<uint64_t, 4> s_{};
};

}  // namespace demi::runtime::sim
