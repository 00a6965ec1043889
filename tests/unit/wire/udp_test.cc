// UDP (RFC 768).
#include "net/wire/udp.h"

#include <gtest/gtest.h>

#include "hex_bytes.h"

namespace demi::net::wire {
namespace {

using test::Bytes;
using test::hex;

const Ipv4Address kLo = Ipv4Address::from_octets(127, 0, 0, 1);

// Captured on Linux loopback: "udp payload!" from 127.0.0.1:40000 to 127.0.0.1:7777. Loopback
// left the pseudo-header sum (0xfe27) in the checksum field; kDatagram has it completed as a
// NIC would, kDatagramAsLoopbackSent as captured.
const Bytes kDatagram = hex("9c40 1e61 0014 a44c 7564 7020 7061 796c 6f61 6421");
const Bytes kDatagramAsLoopbackSent = hex("9c40 1e61 0014 fe27 7564 7020 7061 796c 6f61 6421");

TEST(Udp, captured_datagram_to_repr_and_back) {
  WireError err{};
  auto r = UdpRepr::parse(kDatagram, kLo, kLo, true, &err);
  ASSERT_TRUE(r) << wire_error_name(err);
  EXPECT_EQ(r->src_port, 40000);
  EXPECT_EQ(r->dst_port, 7777);
  EXPECT_EQ(r->length, 20);
  EXPECT_EQ(r->payload_len(), 12u);
  EXPECT_TRUE(test::same_bytes(r->payload(kDatagram), test::bytes_of("udp payload!")));

  Bytes out(kDatagram.size());
  const auto payload = std::span(kDatagram).subspan(kUdpHeaderLen);
  r->emit(std::span(out).first(kUdpHeaderLen), payload, kLo, kLo);
  std::copy(payload.begin(), payload.end(), out.begin() + kUdpHeaderLen);
  EXPECT_EQ(out, kDatagram);
}

// The offload form is the pseudo-header sum: what Linux itself put on loopback.
TEST(Udp, offload_leaves_the_pseudo_header_sum_as_linux_does) {
  UdpRepr r{40000, 7777, 0, 0};
  Bytes out(kDatagram.size());
  const auto payload = std::span(kDatagram).subspan(kUdpHeaderLen);
  std::copy(payload.begin(), payload.end(), out.begin() + kUdpHeaderLen);
  r.emit(std::span(out).first(kUdpHeaderLen), payload, kLo, kLo, TxChecksum::Offload);
  EXPECT_EQ(out, kDatagramAsLoopbackSent);
}

// RFC 768: a computed checksum of zero is sent as all ones (zero means "none"). This payload
// was chosen so that its checksum computes to zero.
TEST(Udp, a_computed_zero_checksum_is_sent_as_all_ones) {
  const Bytes payload = hex("7564 7020 7061 796c 6f61 6421 a448");
  UdpRepr r{40000, 7777, 0, 0};
  Bytes d(kUdpHeaderLen + payload.size());
  std::copy(payload.begin(), payload.end(), d.begin() + kUdpHeaderLen);
  r.emit(std::span(d).first(kUdpHeaderLen), payload, kLo, kLo);
  EXPECT_TRUE(test::same_bytes(std::span(d).first(kUdpHeaderLen), hex("9c40 1e61 0016 ffff")));
  EXPECT_TRUE(UdpRepr::parse(d, kLo, kLo, true));
  EXPECT_EQ(UdpRepr::compute_checksum(d, kLo, kLo), 0xffff);
}

TEST(Udp, a_zero_checksum_means_none) {
  Bytes d = kDatagram;
  d[6] = d[7] = std::byte{0};
  d[12] ^= std::byte{0x04};  // damage goes unnoticed: the sender asked for no checksum
  EXPECT_TRUE(UdpRepr::parse(d, kLo, kLo, true));
  EXPECT_TRUE(UdpRepr::verify(d, kLo, kLo));
}

TEST(Udp, refuses_a_bad_checksum_unless_the_device_checked_it) {
  Bytes d = kDatagram;
  d[12] ^= std::byte{0x04};
  WireError err{};
  EXPECT_FALSE(UdpRepr::parse(d, kLo, kLo, true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
  EXPECT_FALSE(UdpRepr::verify(d, kLo, kLo, &err));
  EXPECT_TRUE(UdpRepr::parse(d, kLo, kLo, false));
  // The same bytes from another address: the pseudo-header catches a misdelivered datagram.
  EXPECT_FALSE(UdpRepr::parse(kDatagram, Ipv4Address::from_octets(127, 0, 0, 2), kLo, true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
}

TEST(Udp, the_length_field_is_checked_against_the_bytes) {
  WireError err{};
  Bytes d = kDatagram;
  d[5] = std::byte{21};  // one more than present
  EXPECT_FALSE(UdpRepr::parse(d, kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::Truncated);
  d[5] = std::byte{7};  // below the header
  EXPECT_FALSE(UdpRepr::parse(d, kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::BadLength);
  EXPECT_FALSE(UdpRepr::parse(std::span<const std::byte>(d), &err));
  EXPECT_EQ(err, WireError::BadLength);
  for (std::size_t n = 0; n < kUdpHeaderLen; ++n) {
    const test::ExactCopy part{std::span(kDatagram).first(n)};
    EXPECT_FALSE(UdpRepr::parse(part.span(), kLo, kLo, true, &err)) << n;
    EXPECT_EQ(err, WireError::Truncated);
  }
  for (std::size_t n = kUdpHeaderLen; n < kDatagram.size(); ++n) {
    const test::ExactCopy part{std::span(kDatagram).first(n)};
    EXPECT_FALSE(UdpRepr::parse(part.span(), kLo, kLo, true, &err)) << n;
    EXPECT_EQ(err, WireError::Truncated);
  }
}

// Bytes after `length` (Ethernet padding of a short frame) are neither payload nor summed.
TEST(Udp, bytes_past_the_length_are_ignored) {
  Bytes d = kDatagram;
  d.resize(26, std::byte{0x5a});
  auto r = UdpRepr::parse(d, kLo, kLo, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload(d).size(), 12u);
}

TEST(Udp, header_only_parse_and_emit) {
  auto r = UdpRepr::parse(std::span(kDatagramAsLoopbackSent).first(kUdpHeaderLen));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->checksum, 0xfe27);
  EXPECT_EQ(r->length, 20);
  Bytes out(kUdpHeaderLen);
  r->emit(out);
  EXPECT_TRUE(test::same_bytes(out, std::span(kDatagramAsLoopbackSent).first(kUdpHeaderLen)));
  Bytes whole = kDatagramAsLoopbackSent;
  UdpRepr::write_checksum(whole, UdpRepr::compute_checksum(whole, kLo, kLo));
  EXPECT_EQ(whole, kDatagram);
}

}  // namespace
}  // namespace demi::net::wire
