#include <gtest/gtest.h>

#include "bytes_util.h"
#include "net/wire/ipv4.h"

using namespace demi::net::wire;

// The IPv4 header of a Linux SYN on loopback, captured with tcpdump (checksum 0x09f5 valid).
static const auto kSynIp = hex(
    "4500 003c 32c5 4000 4006 09f5 7f00 0001 7f00 0001"
    "e5fc b26e b96e 9cc1 0000 0000 a002 ffd7 fe30 0000 0204 ffd7 0402 080a 1541 478a 0000 0000 0103 030a");

TEST(Ipv4, CapturedHeaderToReprAndBack) {
  auto view = Ipv4View::checked(kSynIp);
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->verify_checksum());
  auto r = Ipv4Repr::parse(*view, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->src_addr.to_string(), "127.0.0.1");
  EXPECT_EQ(r->protocol, kProtocolTcp);
  EXPECT_EQ(r->payload_len, 40);
  EXPECT_EQ(r->ident, 0x32c5);
  EXPECT_TRUE(r->dont_frag);
  EXPECT_FALSE(r->more_frags);
  EXPECT_EQ(r->hop_limit, 64);
  std::vector<std::byte> out(20);
  r->emit(out);
  Ipv4View{std::span<std::byte>(out)}.fill_checksum();
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kSynIp.begin()));
}

TEST(Ipv4, RefusesMalformedHeaders) {
  WireError err{};
  EXPECT_FALSE(Ipv4View::checked(std::span(kSynIp).first(19), &err));
  EXPECT_EQ(err, WireError::Truncated);
  auto b = kSynIp;
  b[0] = std::byte{0x65};  // version 6
  EXPECT_FALSE(Ipv4View::checked(b, &err));
  EXPECT_EQ(err, WireError::BadVersion);
  b = kSynIp;
  b[0] = std::byte{0x44};  // IHL 4: shorter than the fixed header
  EXPECT_FALSE(Ipv4View::checked(b, &err));
  EXPECT_EQ(err, WireError::BadHeaderLength);
  b = kSynIp;
  b[3] = std::byte{0x3d};  // total length 61 > 60 bytes present
  EXPECT_FALSE(Ipv4View::checked(b, &err));
  EXPECT_EQ(err, WireError::Truncated);
  b = kSynIp;
  b[2] = std::byte{0};
  b[3] = std::byte{0x10};  // total length 16 < header
  EXPECT_FALSE(Ipv4View::checked(b, &err));
  EXPECT_EQ(err, WireError::BadLength);
  b = kSynIp;
  b[11] ^= std::byte{1};  // checksum off by one bit
  auto v = Ipv4View::checked(b);
  ASSERT_TRUE(v);
  EXPECT_FALSE(Ipv4Repr::parse(*v, true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
}

// Options are skipped by the header length, whatever they hold.
TEST(Ipv4, OptionsAreSkippedSafely) {
  auto b = hex("4600 001c 0001 0000 4011 0000 0a00 0001 0a00 0002 9404 0000 dead beef");
  auto v = Ipv4View::checked(b);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->header_len(), 24u);
  EXPECT_EQ(v->payload().size(), 4u);
}

TEST(Ipv4, FragmentFields) {
  Ipv4Repr r;
  r.more_frags = true;
  r.frag_offset = 1480;
  r.payload_len = 8;
  std::vector<std::byte> out(20);
  r.emit(out);
  auto v = Ipv4View::checked(std::span<std::byte>(out));
  // A 20-byte buffer holds only the header: total length 28 does not fit.
  EXPECT_FALSE(v);
  Ipv4View raw{std::span<const std::byte>(out)};
  EXPECT_TRUE(raw.more_frags());
  EXPECT_EQ(raw.frag_offset(), 1480);
}

TEST(Ipv4, AddressParsing) {
  EXPECT_EQ(Ipv4Address::parse("10.1.2.3")->to_u32(), 0x0a010203u);
  EXPECT_FALSE(Ipv4Address::parse("10.1.2"));
  EXPECT_FALSE(Ipv4Address::parse("10.1.2.256"));
  EXPECT_FALSE(Ipv4Address::parse("10.01.2.3"));
  EXPECT_FALSE(Ipv4Address::parse("10.1.2.3 "));
  EXPECT_TRUE(Ipv4Address::parse("224.0.0.1")->is_multicast());
  EXPECT_TRUE(Ipv4Address::parse("10.0.0.9")->in_subnet(*Ipv4Address::parse("10.0.0.0"), *Ipv4Address::parse("255.255.255.0")));
  EXPECT_EQ(fmt::format("{}", *Ipv4Address::parse("192.168.7.1")), "192.168.7.1");
}
