// Big-endian field access at any offset (received bytes have no alignment).
#include "net/wire/bytes.h"

#include <gtest/gtest.h>

#include "hex_bytes.h"

namespace demi::net::wire {
namespace {

using test::Bytes;
using test::hex;

TEST(Bytes, loads_are_big_endian_at_odd_offsets) {
  const Bytes b = hex("ff 0102 0304 0506 07");
  EXPECT_EQ(load8(b, 0), 0xff);
  EXPECT_EQ(load_be16(b, 1), 0x0102);
  EXPECT_EQ(load_be16(b, 2), 0x0203);
  EXPECT_EQ(load_be32(b, 1), 0x01020304u);
  EXPECT_EQ(load_be32(b, 4), 0x04050607u);
}

TEST(Bytes, stores_round_trip_and_touch_only_their_bytes) {
  Bytes b(9, std::byte{0xee});
  store_be16(b, 1, 0xbeef);
  store_be32(b, 3, 0xdeadc0de);
  store8(b, 7, 0x42);
  EXPECT_EQ(b, hex("ee beef deadc0de 42 ee"));
  EXPECT_EQ(load_be16(b, 1), 0xbeef);
  EXPECT_EQ(load_be32(b, 3), 0xdeadc0deu);
}

}  // namespace
}  // namespace demi::net::wire
