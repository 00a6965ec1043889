#include <gtest/gtest.h>

#include "bytes_util.h"
#include "net/wire/arp.h"
#include "net/wire/ethernet.h"

using namespace demi::net::wire;

// Who has 10.0.0.2? Tell 10.0.0.1 — a broadcast ARP request as a host sends it.
static const auto kArpRequestFrame = hex(
    "ffff ffff ffff 0200 0000 0001 0806"        // Ethernet: broadcast, from 02:00:00:00:00:01, ARP
    "0001 0800 0604 0001 0200 0000 0001 0a00"  // htype 1, ptype IPv4, 6/4, request, sha, spa
    "0001 0000 0000 0000 0a00 0002");           // tha 0, tpa 10.0.0.2

TEST(Ethernet, ParsesAndEmitsAFrameHeader) {
  auto view = EthernetView::checked(kArpRequestFrame);
  ASSERT_TRUE(view);
  auto eth = EthernetRepr::parse(*view);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->dst, EthernetAddress::BROADCAST);
  EXPECT_EQ(eth->src.to_string(), "02:00:00:00:00:01");
  EXPECT_EQ(eth->ethertype, EtherType::Arp);
  std::vector<std::byte> out(14);
  eth->emit(out);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kArpRequestFrame.begin()));
}

TEST(Ethernet, RefusesATruncatedFrame) {
  WireError err{};
  EXPECT_FALSE(EthernetView::checked(std::span(kArpRequestFrame).first(13), &err));
  EXPECT_EQ(err, WireError::Truncated);
}

TEST(Ethernet, AddressParsingAndKinds) {
  auto a = EthernetAddress::parse("02:00:0A:bc:de:f0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "02:00:0a:bc:de:f0");
  EXPECT_TRUE(a->is_unicast());
  EXPECT_FALSE(EthernetAddress::parse("02:00:0a:bc:de"));
  EXPECT_FALSE(EthernetAddress::parse("02:00:0a:bc:de:fg"));
  EXPECT_TRUE(EthernetAddress::BROADCAST.is_multicast());
  EXPECT_TRUE((EthernetAddress{{0x01, 0x00, 0x5e, 0, 0, 1}}.is_multicast()));
}

TEST(Arp, RequestBytesToReprAndBack) {
  auto arp = ArpRepr::parse(std::span(kArpRequestFrame).subspan(14));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation, ArpOperation::Request);
  EXPECT_EQ(arp->source_protocol_addr.to_string(), "10.0.0.1");
  EXPECT_EQ(arp->target_protocol_addr.to_string(), "10.0.0.2");
  EXPECT_EQ(arp->target_hardware_addr, EthernetAddress{});
  std::vector<std::byte> out(ArpRepr::kLength);
  arp->emit(out);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kArpRequestFrame.begin() + 14));
}

TEST(Arp, RefusesOtherProtocolsAndShortPackets) {
  WireError err{};
  EXPECT_FALSE(ArpRepr::parse(std::span(kArpRequestFrame).subspan(14, 27), &err));
  EXPECT_EQ(err, WireError::Truncated);
  auto bad = kArpRequestFrame;
  bad[14 + 3] = std::byte{0xdd};  // ptype 0x08dd
  EXPECT_FALSE(ArpRepr::parse(std::span(bad).subspan(14), &err));
  EXPECT_EQ(err, WireError::Unsupported);
  bad = kArpRequestFrame;
  bad[14 + 7] = std::byte{9};  // operation 9
  EXPECT_FALSE(ArpRepr::parse(std::span(bad).subspan(14), &err));
}
