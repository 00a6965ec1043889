// ARP (RFC 826) for IPv4 over Ethernet.
#include "net/wire/arp.h"

#include <gtest/gtest.h>

#include "hex_bytes.h"

namespace demi::net::wire {
namespace {

using test::Bytes;
using test::hex;

// Who has 10.0.2.2? Tell 10.0.2.15 — a guest (52:54:00:12:34:56) asking for its gateway, as
// received: the 28-byte packet and the 18 bytes of padding the minimum frame adds.
const Bytes kRequest = hex(
    "0001 0800 0604 0001 5254 0012 3456 0a00 020f 0000 0000 0000 0a00 0202"
    "0000 0000 0000 0000 0000 0000 0000 0000 0000");
// 10.0.2.2 is at 52:55:0a:00:02:02 — the reply, unicast back to the asker.
const Bytes kReply = hex("0001 0800 0604 0002 5255 0a00 0202 0a00 0202 5254 0012 3456 0a00 020f");

const auto kGuestMac = *EthernetAddress::parse("52:54:00:12:34:56");
const auto kGatewayMac = *EthernetAddress::parse("52:55:0a:00:02:02");
const auto kGuestIp = Ipv4Address::from_octets(10, 0, 2, 15);
const auto kGatewayIp = Ipv4Address::from_octets(10, 0, 2, 2);

TEST(Arp, request_bytes_to_repr_and_back) {
  auto arp = ArpRepr::parse(kRequest);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation, ArpOperation::Request);
  EXPECT_EQ(arp->source_hardware_addr, kGuestMac);
  EXPECT_EQ(arp->source_protocol_addr, kGuestIp);
  EXPECT_EQ(arp->target_hardware_addr, EthernetAddress{});
  EXPECT_EQ(arp->target_protocol_addr, kGatewayIp);

  Bytes out(ArpRepr::kLength);
  arp->emit(out);
  EXPECT_TRUE(test::same_bytes(out, std::span(kRequest).first(ArpRepr::kLength)));
}

TEST(Arp, reply_repr_to_bytes_and_back) {
  ArpRepr r;
  r.operation = ArpOperation::Reply;
  r.source_hardware_addr = kGatewayMac;
  r.source_protocol_addr = kGatewayIp;
  r.target_hardware_addr = kGuestMac;
  r.target_protocol_addr = kGuestIp;
  Bytes out(ArpRepr::kLength);
  r.emit(out);
  EXPECT_EQ(out, kReply);
  EXPECT_EQ(ArpRepr::parse(out), r);
}

TEST(Arp, refuses_a_short_packet) {
  for (std::size_t n = 0; n < ArpRepr::kLength; ++n) {
    const test::ExactCopy part{std::span(kReply).first(n)};
    WireError err{};
    EXPECT_FALSE(ArpRepr::parse(part.span(), &err)) << n;
    EXPECT_EQ(err, WireError::Truncated);
  }
}

// RFC 826: only the (hardware, protocol) pair we resolve, with the lengths it implies, and
// only requests and replies (RARP's 3/4 and InARP's 8/9 are other protocols).
TEST(Arp, refuses_other_hardware_protocols_lengths_and_operations) {
  struct Case {
    std::size_t at;
    uint8_t value;
    const char* what;
  };
  const Case cases[] = {
      {1, 6, "hardware type 6 (IEEE 802)"},
      {2, 0x86, "protocol type 0x8600"},
      {4, 8, "hardware length 8"},
      {5, 16, "protocol length 16"},
      {7, 3, "operation 3 (RARP request)"},
      {7, 0, "operation 0"},
      {6, 1, "operation 0x0101"},
  };
  for (const Case& c : cases) {
    Bytes b = kReply;
    b[c.at] = static_cast<std::byte>(c.value);
    WireError err{};
    EXPECT_FALSE(ArpRepr::parse(b, &err)) << c.what;
    EXPECT_EQ(err, WireError::Unsupported) << c.what;
  }
}

}  // namespace
}  // namespace demi::net::wire
