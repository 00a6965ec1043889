// Ethernet II framing.
#include "net/wire/ethernet.h"

#include <gtest/gtest.h>

#include "hex_bytes.h"

namespace demi::net::wire {
namespace {

using test::Bytes;
using test::hex;

// A broadcast ARP request as a NIC delivers it: Linux sends 42 bytes, the sender's NIC pads
// the frame to the 60-byte minimum (64 with the FCS the receiver's NIC strips).
const Bytes kArpRequestFrame = hex(
    "ffff ffff ffff 5254 0012 3456 0806 0001"
    "0800 0604 0001 5254 0012 3456 0a00 020f"
    "0000 0000 0000 0a00 0202 0000 0000 0000"
    "0000 0000 0000 0000 0000 0000");

// Captured on Linux loopback (which frames with all-zero addresses): the start of a SYN.
const Bytes kLoopbackIpv4Frame = hex("0000 0000 0000 0000 0000 0000 0800 4500 003c edd1 4000 4006 4ee8");

TEST(Ethernet, frame_to_repr_and_back) {
  auto view = EthernetView::check(kArpRequestFrame);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->dst(), EthernetAddress::broadcast());
  EXPECT_EQ(view->src().to_string(), "52:54:00:12:34:56");
  EXPECT_EQ(view->ethertype(), EtherType::Arp);
  EXPECT_EQ(view->payload().size(), 46u);  // the ARP packet and its padding

  auto eth = EthernetRepr::parse(*view);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->dst, EthernetAddress::BROADCAST);
  EXPECT_EQ(eth->src, *MacAddress::parse("52:54:00:12:34:56"));
  EXPECT_EQ(eth->ethertype, EtherType::Arp);

  Bytes out(EthernetRepr::header_len);
  eth->emit(out);
  EXPECT_TRUE(test::same_bytes(out, std::span(kArpRequestFrame).first(EthernetRepr::header_len)));
}

TEST(Ethernet, loopback_frame_carries_ipv4) {
  auto eth = EthernetRepr::parse(std::span<const std::byte>(kLoopbackIpv4Frame));
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->src, EthernetAddress{});
  EXPECT_FALSE(eth->src.is_unicast());  // all zeros is no station's address
  EXPECT_EQ(eth->ethertype, EtherType::Ipv4);
}

// An EtherType we do not speak (here an 802.1Q tag) is reported as received, for the caller
// to count and drop.
TEST(Ethernet, an_unknown_ethertype_is_kept_raw) {
  Bytes f = kArpRequestFrame;
  f[12] = std::byte{0x81};
  f[13] = std::byte{0x00};
  auto eth = EthernetRepr::parse(std::span<const std::byte>(f));
  ASSERT_TRUE(eth);
  EXPECT_EQ(static_cast<uint16_t>(eth->ethertype), 0x8100);
}

TEST(Ethernet, refuses_a_frame_shorter_than_its_header) {
  for (std::size_t n = 0; n < kEthernetHeaderLen; ++n) {
    const test::ExactCopy part{std::span(kArpRequestFrame).first(n)};
    WireError err{};
    EXPECT_FALSE(EthernetView::check(part.span(), &err)) << n;
    EXPECT_EQ(err, WireError::Truncated);
    err = {};
    EXPECT_FALSE(EthernetRepr::parse(part.span(), &err)) << n;
    EXPECT_EQ(err, WireError::Truncated);
  }
  const test::ExactCopy header_only{std::span(kArpRequestFrame).first(kEthernetHeaderLen)};
  auto v = EthernetView::checked(header_only.span());
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->payload().empty());
}

TEST(EthernetAddress, parses_and_prints) {
  auto a = EthernetAddress::parse("02:00:0A:bc:de:f0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "02:00:0a:bc:de:f0");
  EXPECT_EQ(fmt::format("{}", *a), "02:00:0a:bc:de:f0");
  EXPECT_EQ(EthernetAddress::parse("02-00-0a-bc-de-f0"), a);
  EXPECT_FALSE(EthernetAddress::parse("02:00:0a:bc:de"));
  EXPECT_FALSE(EthernetAddress::parse("02:00:0a:bc:de:fg"));
  EXPECT_FALSE(EthernetAddress::parse("02:00-0a:bc:de:f0"));  // mixed separators
  EXPECT_FALSE(EthernetAddress::parse("02:00:0a:bc:de:f0:"));
  EXPECT_FALSE(EthernetAddress::parse("2:00:0a:bc:de:f00"));
  EXPECT_FALSE(EthernetAddress::parse(""));
}

// IEEE 802 bits: I/G (group) and U/L (locally administered) in the first octet.
TEST(EthernetAddress, kinds) {
  const auto qemu = *EthernetAddress::parse("52:54:00:12:34:56");
  EXPECT_TRUE(qemu.is_unicast());
  EXPECT_TRUE(qemu.is_local());
  EXPECT_FALSE(qemu.is_multicast());
  const auto ipv4_mcast = *EthernetAddress::parse("01:00:5e:00:00:01");  // 224.0.0.1, RFC 1112 6.4
  EXPECT_TRUE(ipv4_mcast.is_multicast());
  EXPECT_FALSE(ipv4_mcast.is_broadcast());
  EXPECT_FALSE(ipv4_mcast.is_unicast());
  EXPECT_TRUE(EthernetAddress::broadcast().is_broadcast());
  EXPECT_TRUE(EthernetAddress::broadcast().is_multicast());
  const auto vendor = *EthernetAddress::parse("00:1b:21:0a:0b:0c");  // a globally assigned OUI
  EXPECT_FALSE(vendor.is_local());
  EXPECT_TRUE(vendor.is_unicast());
}

}  // namespace
}  // namespace demi::net::wire
