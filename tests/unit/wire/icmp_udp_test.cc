#include <gtest/gtest.h>

#include "bytes_util.h"
#include "net/wire/icmp.h"
#include "net/wire/ipv4.h"
#include "net/wire/udp.h"

using namespace demi::net::wire;

// Captured on loopback: the kernel's port-unreachable for a UDP datagram to 45678. The ICMP
// message (after the 20-byte IP header) quotes the datagram's IP header and first 8 bytes.
static const auto kIcmpUnreachable = hex(
    "45c0 0044 5d4f 0000 4001 1ea8 7f00 0001 7f00 0001"
    "0303 c34b 0000 0000 4500 0028 d6f1 4000 4011 65d1 7f00 0001 7f00 0001 e630 b26e 0014 fe27"
    "7564 7020 7061 796c 6f61 6421");

TEST(Icmp, CapturedPortUnreachable) {
  auto ip = Ipv4View::checked(kIcmpUnreachable);
  ASSERT_TRUE(ip);
  auto msg = IcmpView::checked(ip->payload());
  ASSERT_TRUE(msg);
  EXPECT_TRUE(msg->verify_checksum());
  EXPECT_EQ(msg->type(), kIcmpDestUnreachable);
  EXPECT_EQ(msg->code(), kIcmpPortUnreachable);
  auto quoted = Ipv4Repr::parse_quoted(msg->data());
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->protocol, kProtocolUdp);
  auto udp = UdpRepr::parse(msg->data().subspan(quoted->header_len));
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->dst_port, 45678);
  EXPECT_EQ(udp->src_port, 0xe630);
}

TEST(Icmp, EchoRequestBuiltAndChecked) {
  std::vector<std::byte> b(8 + 4);
  IcmpView m{std::span<std::byte>(b)};
  m.set_type(kIcmpEchoRequest);
  m.set_code(0);
  m.set_echo_ident(0x1234);
  m.set_echo_seq(7);
  b[8] = std::byte{'p'};
  m.fill_checksum();
  IcmpView r{std::span<const std::byte>(b)};
  EXPECT_TRUE(r.verify_checksum());
  EXPECT_EQ(r.echo_ident(), 0x1234);
  EXPECT_EQ(r.echo_seq(), 7);
  b[9] ^= std::byte{0x10};
  EXPECT_FALSE(r.verify_checksum());
  WireError err{};
  EXPECT_FALSE(IcmpView::checked(std::span(b).first(7), &err));
  EXPECT_EQ(err, WireError::Truncated);
}

// A datagram "udp payload!" from 127.0.0.1:58928 (captured; the kernel left a partial checksum
// on loopback, so the checksum is recomputed here as a NIC would).
TEST(Udp, ParseEmitAndChecksum) {
  auto d = hex("e630 b26e 0014 0000 7564 7020 7061 796c 6f61 6421");
  auto lo = *Ipv4Address::parse("127.0.0.1");
  UdpRepr::write_checksum(d, UdpRepr::compute_checksum(d, lo, lo));
  EXPECT_TRUE(UdpRepr::verify(d, lo, lo));
  auto r = UdpRepr::parse(d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->src_port, 58928);
  EXPECT_EQ(r->dst_port, 45678);
  EXPECT_EQ(r->length, 20);
  std::vector<std::byte> out(8);
  r->emit(out);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), d.begin()));
  WireError err{};
  d[12] ^= std::byte{4};
  EXPECT_FALSE(UdpRepr::verify(d, lo, lo, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
  auto zero = d;
  zero[6] = zero[7] = std::byte{0};  // checksum 0: none (RFC 768)
  EXPECT_TRUE(UdpRepr::verify(zero, lo, lo));
  auto long_len = d;
  long_len[5] = std::byte{0x30};  // length 48 > 20 bytes
  EXPECT_FALSE(UdpRepr::verify(long_len, lo, lo, &err));
  EXPECT_EQ(err, WireError::Truncated);
  auto short_len = d;
  short_len[5] = std::byte{4};  // length 4 < header
  EXPECT_FALSE(UdpRepr::parse(short_len, &err));
  EXPECT_EQ(err, WireError::BadLength);
}
