// Test helpers: packet bytes written as hex text (as `tcpdump -xx` prints them), and copies
// sized exactly so that AddressSanitizer catches a parser reading one byte too far.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace demi::net::wire::test {

using Bytes = std::vector<std::byte>;

// Hex digits become bytes; spaces, newlines and anything else are skipped.
inline Bytes hex(std::string_view text) {
  Bytes out;
  int hi = -1;
  for (char c : text) {
    const int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::byte>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

inline Bytes bytes_of(std::string_view s) {
  Bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

inline bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// A heap block holding exactly `b`: reading past its end is a heap overflow ASan reports.
class ExactCopy {
 public:
  explicit ExactCopy(std::span<const std::byte> b) : n_(b.size()), p_(std::make_unique<std::byte[]>(b.size())) {
    std::copy(b.begin(), b.end(), p_.get());
  }
  std::span<const std::byte> span() const { return {p_.get(), n_}; }

 private:
  std::size_t n_;
  std::unique_ptr<std::byte[]> p_;
};

// A small deterministic generator (xorshift64*), so that "random" inputs repeat run to run.
class TestRng {
 public:
  explicit TestRng(uint64_t seed) : s_(seed ? seed : 1) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545f4914f6cdd1dull;
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  std::byte byte() { return static_cast<std::byte>(next() & 0xff); }

 private:
  uint64_t s_;
};

}  // namespace demi::net::wire::test
