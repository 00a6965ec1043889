// IPv4 headers (RFC 791).
#include "net/wire/ipv4.h"

#include <gtest/gtest.h>

#include "hex_bytes.h"

namespace demi::net::wire {
namespace {

using test::Bytes;
using test::hex;

const Ipv4Address kLo = Ipv4Address::from_octets(127, 0, 0, 1);

// Captured on Linux loopback: a SYN from 127.0.0.1:58876 to 127.0.0.1:45678 (header checksum
// 0x4ee8 as Linux computed it; the TCP checksum completed as a NIC would, since loopback
// leaves only the pseudo-header sum there).
const Bytes kSyn = hex(
    "4500 003c edd1 4000 4006 4ee8 7f00 0001"
    "7f00 0001 e5fc b26e 377a fea0 0000 0000"
    "a002 ffd7 b7ac 0000 0204 ffd7 0402 080a"
    "1560 b46b 0000 0000 0103 030a");

// Captured: a UDP datagram "opt" sent with IP_OPTIONS = Record Route (RFC 791 "Record Route":
// type 7, length 7, pointer 8 after Linux recorded 127.0.0.1), then End of Option List — an
// IHL of 7.
const Bytes kWithOptions = hex(
    "4700 0027 3c58 4000 4011 ede5 7f00 0001"
    "7f00 0001 0707 087f 0000 0100 9c41 1e61"
    "000b 63c2 6f70 74");

// Captured: the ICMP port unreachable Linux sent for a datagram to a closed port (TOS 0xc0,
// "internetwork control", as Linux marks ICMP errors; no DF).
const Bytes kIcmpError = hex(
    "45c0 0043 9484 0000 4001 e773 7f00 0001"
    "7f00 0001 0303 19f2 0000 0000 4500 0027"
    "3c54 4000 4011 0070 7f00 0001 7f00 0001"
    "9c40 1e62 0013 fe26 6e6f 626f 6479 2068"
    "6f6d 65");

TEST(Ipv4, captured_header_to_repr_and_back) {
  auto view = Ipv4View::check(kSyn);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->version(), 4);
  EXPECT_EQ(view->header_len(), 20u);
  EXPECT_EQ(view->total_len(), 60u);
  EXPECT_TRUE(view->verify_checksum());
  EXPECT_TRUE(view->options().empty());
  EXPECT_EQ(view->payload().size(), 40u);

  auto r = Ipv4Repr::parse(*view, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->src_addr, kLo);
  EXPECT_EQ(r->dst_addr, kLo);
  EXPECT_EQ(r->protocol, kProtocolTcp);
  EXPECT_EQ(r->payload_len, 40);
  EXPECT_EQ(r->header_len, 20u);
  EXPECT_EQ(r->ident, 0xedd1);
  EXPECT_TRUE(r->dont_frag);
  EXPECT_FALSE(r->more_frags);
  EXPECT_EQ(r->frag_offset, 0);
  EXPECT_FALSE(r->is_fragment());
  EXPECT_EQ(r->hop_limit, 64);
  EXPECT_EQ(r->tos, 0);

  Bytes out(20);
  r->emit(out, TxChecksum::Compute);
  EXPECT_TRUE(test::same_bytes(out, std::span(kSyn).first(20)));

  // By default the checksum is left 0 (for the device), and fill_checksum() completes it.
  Bytes offload(20, std::byte{0xaa});
  r->emit(offload);
  EXPECT_EQ(Ipv4View{std::span<const std::byte>(offload)}.checksum(), 0);
  Ipv4View{std::span<std::byte>(offload)}.fill_checksum();
  EXPECT_EQ(offload, out);
}

TEST(Ipv4, parse_from_bytes_checks_then_parses) {
  auto r = Ipv4Repr::parse(std::span<const std::byte>(kIcmpError), true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->protocol, kProtocolIcmp);
  EXPECT_EQ(r->tos, 0xc0);
  EXPECT_FALSE(r->dont_frag);
  EXPECT_EQ(r->payload_len, 47);
}

// RFC 791 3.1: options are skipped by the header length whatever they hold; the checksum
// covers them.
TEST(Ipv4, captured_options_are_skipped_by_the_header_length) {
  auto view = Ipv4View::check(kWithOptions);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header_len(), 28u);
  EXPECT_TRUE(test::same_bytes(view->options(), hex("0707 087f 0000 0100")));
  EXPECT_TRUE(test::same_bytes(view->payload(), hex("9c41 1e61 000b 63c2 6f70 74")));
  auto r = Ipv4Repr::parse(*view, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header_len, 28u);
  EXPECT_EQ(r->payload_len, 11);
  EXPECT_EQ(r->protocol, kProtocolUdp);
  // A bit flipped inside the options is caught by the header checksum.
  Bytes b = kWithOptions;
  b[23] ^= std::byte{0x01};
  WireError err{};
  EXPECT_FALSE(Ipv4Repr::parse(std::span<const std::byte>(b), true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
}

// Ethernet pads a short frame to 60 bytes: what follows the total length is not payload.
TEST(Ipv4, padding_after_the_total_length_is_not_payload) {
  Bytes padded = kWithOptions;
  padded.resize(46, std::byte{0});
  auto view = Ipv4View::check(padded);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->payload().size(), 11u);
}

TEST(Ipv4, refuses_malformed_headers) {
  struct Case {
    const char* what;
    std::size_t at;
    uint8_t value;
    WireError expect;
  };
  const Case cases[] = {
      {"version 6", 0, 0x65, WireError::BadVersion},
      {"version 0", 0, 0x05, WireError::BadVersion},
      {"IHL 4: shorter than the fixed header", 0, 0x44, WireError::BadHeaderLength},
      {"IHL 0", 0, 0x40, WireError::BadHeaderLength},
      {"total length 61 > 60 bytes present", 3, 0x3d, WireError::Truncated},
      {"total length 0x013c > 60 bytes present", 2, 0x01, WireError::Truncated},
  };
  for (const Case& c : cases) {
    Bytes b = kSyn;
    b[c.at] = static_cast<std::byte>(c.value);
    WireError err{};
    EXPECT_FALSE(Ipv4View::check(b, &err)) << c.what;
    EXPECT_EQ(err, c.expect) << c.what;
    err = {};
    EXPECT_FALSE(Ipv4Repr::parse(std::span<const std::byte>(b), false, &err)) << c.what;
    EXPECT_EQ(err, c.expect) << c.what;
  }
  // Total length below the header length it must cover.
  Bytes b = kSyn;
  b[2] = std::byte{0};
  b[3] = std::byte{0x10};
  WireError err{};
  EXPECT_FALSE(Ipv4View::check(b, &err));
  EXPECT_EQ(err, WireError::BadLength);
  b = kWithOptions;
  b[2] = std::byte{0};
  b[3] = std::byte{24};  // covers the fixed header but not the options
  EXPECT_FALSE(Ipv4View::check(b, &err));
  EXPECT_EQ(err, WireError::BadLength);
}

TEST(Ipv4, a_header_longer_than_the_buffer_is_truncated_not_read) {
  const test::ExactCopy header{std::span(kWithOptions).first(24)};  // IHL says 28
  WireError err{};
  EXPECT_FALSE(Ipv4View::check(header.span(), &err));
  EXPECT_EQ(err, WireError::Truncated);
  EXPECT_FALSE(Ipv4Repr::parse_quoted(header.span(), &err));
  EXPECT_EQ(err, WireError::Truncated);
}

TEST(Ipv4, every_truncation_of_a_real_packet_is_refused) {
  for (const Bytes* p : {&kSyn, &kWithOptions, &kIcmpError}) {
    for (std::size_t n = 0; n < p->size(); ++n) {
      const test::ExactCopy part{std::span(*p).first(n)};
      WireError err{};
      EXPECT_FALSE(Ipv4View::check(part.span(), &err)) << n;
      EXPECT_EQ(err, WireError::Truncated) << n;
    }
  }
}

TEST(Ipv4, bad_checksum_is_refused_unless_the_device_checked_it) {
  Bytes b = kSyn;
  b[11] ^= std::byte{0x01};
  auto v = Ipv4View::check(b);
  ASSERT_TRUE(v);
  WireError err{};
  EXPECT_FALSE(Ipv4Repr::parse(*v, true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
  EXPECT_TRUE(Ipv4Repr::parse(*v, false));
}

// The ICMP error's quote is cut after 8 bytes of the payload: its total length (39) runs past
// the quote, which parse_quoted() accepts and check() does not.
TEST(Ipv4, a_quoted_header_needs_only_itself) {
  const auto quote = std::span(kIcmpError).subspan(28, 28);
  EXPECT_FALSE(Ipv4View::check(quote));
  auto r = Ipv4Repr::parse_quoted(quote);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->protocol, kProtocolUdp);
  EXPECT_EQ(r->payload_len, 19);
  EXPECT_EQ(r->ident, 0x3c54);
}

TEST(Ipv4, fragment_fields_round_trip) {
  Ipv4Repr r;
  r.src_addr = Ipv4Address::from_octets(10, 0, 0, 1);
  r.dst_addr = Ipv4Address::from_octets(10, 0, 0, 2);
  r.protocol = kProtocolUdp;
  r.more_frags = true;
  r.frag_offset = 1480;  // 185 blocks of 8
  r.payload_len = 8;
  r.ident = 0xbeef;
  Bytes out(28);
  r.emit(out, TxChecksum::Compute);
  EXPECT_EQ(out[6], std::byte{0x20});  // MF, offset high bits 0
  EXPECT_EQ(out[7], std::byte{185});
  auto back = Ipv4Repr::parse(std::span<const std::byte>(out), true);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r);
  EXPECT_TRUE(back->is_fragment());
  // The largest offset the 13-bit field holds.
  r.more_frags = false;
  r.frag_offset = 8191 * 8;
  r.emit(out, TxChecksum::Compute);
  EXPECT_EQ(Ipv4Repr::parse(std::span<const std::byte>(out), true)->frag_offset, 65528);
}

// What Linux leaves in the TCP checksum field on loopback (CHECKSUM_PARTIAL) is exactly the
// pseudo-header sum: the value a device completing the checksum expects.
TEST(Ipv4, pseudo_header_sum_matches_what_linux_leaves_for_the_device) {
  EXPECT_EQ(pseudo_header_sum(kLo, kLo, kProtocolTcp, 40), 0xfe30);
  EXPECT_EQ(pseudo_header_sum(kLo, kLo, kProtocolUdp, 20), 0xfe27);
}

TEST(Ipv4Address, parses_and_prints) {
  EXPECT_EQ(Ipv4Address::parse("10.1.2.3")->to_u32(), 0x0a010203u);
  EXPECT_EQ(Ipv4Address::parse("255.255.255.255"), Ipv4Address::from_u32(0xffffffffu));
  EXPECT_EQ(Ipv4Address::parse("0.0.0.0"), Ipv4Address{});
  EXPECT_FALSE(Ipv4Address::parse("10.1.2"));
  EXPECT_FALSE(Ipv4Address::parse("10.1.2.256"));
  EXPECT_FALSE(Ipv4Address::parse("10.01.2.3"));  // leading zero: octal to some parsers
  EXPECT_FALSE(Ipv4Address::parse("10.1.2.3 "));
  EXPECT_FALSE(Ipv4Address::parse("10.1.2.3.4"));
  EXPECT_FALSE(Ipv4Address::parse("10..2.3"));
  EXPECT_FALSE(Ipv4Address::parse("1000.1.2.3"));
  EXPECT_FALSE(Ipv4Address::parse("-1.1.2.3"));
  EXPECT_FALSE(Ipv4Address::parse(""));
  EXPECT_EQ(Ipv4Address::from_octets(192, 168, 7, 1).to_string(), "192.168.7.1");
  EXPECT_EQ(fmt::format("{}", *Ipv4Address::parse("192.168.7.1")), "192.168.7.1");
}

TEST(Ipv4Address, kinds_and_subnets) {
  EXPECT_TRUE(Ipv4Address::parse("224.0.0.1")->is_multicast());
  EXPECT_TRUE(Ipv4Address::parse("239.255.255.255")->is_multicast());
  EXPECT_FALSE(Ipv4Address::parse("240.0.0.1")->is_multicast());
  EXPECT_TRUE(Ipv4Address::parse("255.255.255.255")->is_broadcast());
  EXPECT_TRUE(kLo.is_loopback());
  EXPECT_TRUE(kLo.is_unicast());
  EXPECT_FALSE(Ipv4Address{}.is_unicast());
  const auto net = Ipv4Address::from_octets(10, 0, 2, 0);
  const auto mask = Ipv4Address::from_octets(255, 255, 255, 0);
  EXPECT_TRUE(Ipv4Address::from_octets(10, 0, 2, 15).in_subnet(net, mask));
  EXPECT_FALSE(Ipv4Address::from_octets(10, 0, 3, 15).in_subnet(net, mask));
  EXPECT_TRUE(Ipv4Address::from_octets(1, 2, 3, 4).in_subnet(net, Ipv4Address{}));  // /0: everything
  EXPECT_LT(Ipv4Address::from_octets(10, 0, 0, 1), Ipv4Address::from_octets(10, 0, 0, 2));
}

}  // namespace
}  // namespace demi::net::wire
