// ICMPv4 (RFC 792): echo and the errors a host acts on.
#include "net/wire/icmp.h"

#include <gtest/gtest.h>

#include "hex_bytes.h"
#include "net/wire/udp.h"

namespace demi::net::wire {
namespace {

using test::Bytes;
using test::hex;

// Captured on Linux loopback: an echo request "demi ping" (id 0x4d31, seq 1) sent from a raw
// socket, and the reply the kernel answered it with. ICMP messages only, IP headers removed.
const Bytes kEchoRequest = hex("0800 e81f 4d31 0001 6465 6d69 2070 696e 67");
const Bytes kEchoReply = hex("0000 f01f 4d31 0001 6465 6d69 2070 696e 67");

// Captured: the datagram 127.0.0.1:40000 -> 127.0.0.1:7778 "nobody home" (nobody listening),
// and the port unreachable Linux sent back, quoting the whole datagram (RFC 1812 4.3.2.3 lets
// it quote up to 576 bytes; RFC 792 asks for the header and 8 bytes).
const Bytes kDatagram = hex(
    "4500 0027 3c54 4000 4011 0070 7f00 0001"
    "7f00 0001 9c40 1e62 0013 fe26 6e6f 626f"
    "6479 2068 6f6d 65");
const Bytes kPortUnreachable = hex(
    "0303 19f2 0000 0000 4500 0027 3c54 4000"
    "4011 0070 7f00 0001 7f00 0001 9c40 1e62"
    "0013 fe26 6e6f 626f 6479 2068 6f6d 65");

TEST(Icmp, captured_echo_request_to_repr_and_back) {
  auto r = IcmpRepr::parse(kEchoRequest);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, kIcmpEchoRequest);
  EXPECT_EQ(r->code, 0);
  EXPECT_TRUE(r->is_echo());
  EXPECT_FALSE(r->is_error());
  EXPECT_EQ(r->ident, 0x4d31);
  EXPECT_EQ(r->seq, 1);
  EXPECT_TRUE(test::same_bytes(r->data, test::bytes_of("demi ping")));
  ASSERT_EQ(r->buffer_len(), kEchoRequest.size());
  Bytes out(r->buffer_len());
  r->emit(out);
  EXPECT_EQ(out, kEchoRequest);
}

// RFC 792: the reply carries the request's identifier, sequence number and data; built from
// the parsed request it is byte for byte what Linux answered.
TEST(Icmp, echo_reply_matches_the_kernels) {
  auto request = IcmpRepr::parse(kEchoRequest);
  ASSERT_TRUE(request);
  const IcmpRepr reply = IcmpRepr::echo_reply(*request);
  Bytes out(reply.buffer_len());
  reply.emit(out);
  EXPECT_EQ(out, kEchoReply);
  auto back = IcmpRepr::parse(kEchoReply);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, kIcmpEchoReply);
  EXPECT_EQ(back->ident, 0x4d31);
}

// The reply is built in place over the request's buffer, as a stack answers without copying.
TEST(Icmp, emit_in_place_over_its_own_data) {
  Bytes buf = kEchoRequest;
  auto request = IcmpRepr::parse(buf);
  ASSERT_TRUE(request);
  IcmpRepr::echo_reply(*request).emit(buf);
  EXPECT_EQ(buf, kEchoReply);
}

TEST(Icmp, captured_port_unreachable_to_repr) {
  auto r = IcmpRepr::parse(kPortUnreachable);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, kIcmpDestUnreachable);
  EXPECT_EQ(r->code, kIcmpPortUnreachable);
  EXPECT_TRUE(r->is_error());
  EXPECT_EQ(r->original.protocol, kProtocolUdp);
  EXPECT_EQ(r->original.src_addr, Ipv4Address::from_octets(127, 0, 0, 1));
  EXPECT_EQ(r->original.ident, 0x3c54);
  EXPECT_EQ(r->data.size(), kDatagram.size());
  // The quoted transport header names the socket the error is for.
  auto udp = UdpRepr::parse(r->quoted_payload());
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->src_port, 40000);
  EXPECT_EQ(udp->dst_port, 7778);
}

// Ours quotes the header and 8 bytes (RFC 792), and parses back to the same meaning.
TEST(Icmp, port_unreachable_built_from_the_datagram) {
  auto e = IcmpRepr::error(kIcmpDestUnreachable, kIcmpPortUnreachable, kDatagram);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->data.size(), 28u);
  Bytes out(e->buffer_len());
  e->emit(out);
  EXPECT_TRUE(test::same_bytes(std::span(out).first(8), hex("0303 4420 0000 0000")));
  EXPECT_TRUE(test::same_bytes(std::span(out).subspan(8), std::span(kDatagram).first(28)));
  auto back = IcmpRepr::parse(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->original, e->original);
  EXPECT_EQ(back->code, kIcmpPortUnreachable);
}

// RFC 1191 4: "fragmentation needed" carries the next-hop MTU in the low half of the unused word.
TEST(Icmp, frag_needed_carries_the_next_hop_mtu) {
  auto e = IcmpRepr::error(kIcmpDestUnreachable, kIcmpFragNeeded, kDatagram, 1400);
  ASSERT_TRUE(e);
  Bytes out(e->buffer_len());
  e->emit(out);
  EXPECT_EQ(out[6], std::byte{0x05});
  EXPECT_EQ(out[7], std::byte{0x78});
  auto back = IcmpRepr::parse(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->next_hop_mtu, 1400);
  // Time exceeded has the same shape, and no MTU.
  auto t = IcmpRepr::error(kIcmpTimeExceeded, 0, kDatagram, 1400);
  ASSERT_TRUE(t);
  out.assign(t->buffer_len(), std::byte{0xee});
  t->emit(out);
  EXPECT_EQ(out[6], std::byte{0});
  EXPECT_EQ(IcmpRepr::parse(out)->next_hop_mtu, 0);
}

TEST(Icmp, refuses_short_and_corrupt_messages) {
  for (std::size_t n = 0; n < kIcmpHeaderLen; ++n) {
    const test::ExactCopy part{std::span(kEchoRequest).first(n)};
    WireError err{};
    EXPECT_FALSE(IcmpRepr::parse(part.span(), true, &err)) << n;
    EXPECT_EQ(err, WireError::Truncated);
    EXPECT_FALSE(IcmpView::check(part.span(), &err)) << n;
  }
  Bytes b = kEchoRequest;
  b[12] ^= std::byte{0x20};  // "demi" -> "dEmi"
  WireError err{};
  EXPECT_FALSE(IcmpRepr::parse(b, true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
  EXPECT_TRUE(IcmpRepr::parse(b, false));  // when the device verified it
}

TEST(Icmp, refuses_types_it_does_not_speak) {
  Bytes b = hex("0d00 0000 1234 0001 0000 0000 0000 0000 0000 0000");  // timestamp request
  IcmpView{std::span<std::byte>(b)}.fill_checksum();
  WireError err{};
  EXPECT_FALSE(IcmpRepr::parse(b, true, &err));
  EXPECT_EQ(err, WireError::Unsupported);
  EXPECT_FALSE(IcmpRepr::error(kIcmpEchoReply, 0, kDatagram, 0, &err));
  EXPECT_EQ(err, WireError::Unsupported);
}

// An error must quote a sane IP header and 8 bytes of what followed it, or it names nothing.
TEST(Icmp, refuses_errors_with_a_short_or_bad_quote) {
  WireError err{};
  for (std::size_t quoted = 0; quoted < 28; ++quoted) {
    Bytes m(std::begin(kPortUnreachable), std::begin(kPortUnreachable) + static_cast<std::ptrdiff_t>(8 + quoted));
    IcmpView{std::span<std::byte>(m)}.fill_checksum();
    const test::ExactCopy exact{m};
    EXPECT_FALSE(IcmpRepr::parse(exact.span(), true, &err)) << quoted;
    EXPECT_EQ(err, WireError::Truncated) << quoted;
  }
  Bytes m = kPortUnreachable;
  m[8] = std::byte{0x65};  // the quoted header says version 6
  IcmpView{std::span<std::byte>(m)}.fill_checksum();
  EXPECT_FALSE(IcmpRepr::parse(m, true, &err));
  EXPECT_EQ(err, WireError::BadVersion);
  m = kPortUnreachable;
  m[8] = std::byte{0x43};  // IHL 3
  IcmpView{std::span<std::byte>(m)}.fill_checksum();
  EXPECT_FALSE(IcmpRepr::parse(m, true, &err));
  EXPECT_EQ(err, WireError::BadHeaderLength);
  EXPECT_FALSE(IcmpRepr::error(kIcmpDestUnreachable, kIcmpPortUnreachable, std::span(kDatagram).first(27), 0, &err));
  EXPECT_EQ(err, WireError::Truncated);
}

// The view the stack's ICMP layer edits in place.
TEST(IcmpView, builds_and_checks_an_echo_request) {
  Bytes b(kEchoRequest.size());
  std::copy(kEchoRequest.begin() + 8, kEchoRequest.end(), b.begin() + 8);
  IcmpView m{std::span<std::byte>(b)};
  m.set_type(kIcmpEchoRequest);
  m.set_code(0);
  m.set_echo_ident(0x4d31);
  m.set_echo_seq(1);
  m.fill_checksum();
  EXPECT_EQ(b, kEchoRequest);
  const IcmpView r{std::span<const std::byte>(b)};
  EXPECT_TRUE(r.verify_checksum());
  EXPECT_EQ(r.checksum(), 0xe81f);
  EXPECT_EQ(r.echo_ident(), 0x4d31);
  EXPECT_EQ(r.echo_seq(), 1);
  b[9] ^= std::byte{0x10};
  EXPECT_FALSE(r.verify_checksum());
}

}  // namespace
}  // namespace demi::net::wire
