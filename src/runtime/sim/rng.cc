#include "runtime/sim/rng.h"

#include <bit>

namespace demi::runtime::sim {

uint64_t Rng::chance_threshold(double p) {
  if (!(p > 0.0)) {
    return 0;  // also NaN
  }
  if (p >= 1.0) {
    return uint64_t{1} << 53;
  }
  // IEEE 754 binary64: p = (2^52 | fraction) * 2^(exponent - 1075) for a normal number, so
  // p * 2^53 = mantissa >> (1022 - exponent). Subnormals are far below 2^-53 and give 0.
  const auto bits = std::bit_cast<uint64_t>(p);
  const auto exponent = static_cast<int>((bits >> 52) & 0x7ff);
  if (exponent == 0) {
    return 0;
  }
  const uint64_t mantissa = (bits & ((uint64_t{1} << 52) - 1)) | (uint64_t{1} << 52);
  const int shift = 1022 - exponent;  // >= 0 because p < 1
  return shift >= 64 ? 0 : mantissa >> shift;
}

}  // namespace demi::runtime::sim
