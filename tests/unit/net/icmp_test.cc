// ICMP: echo replies (byte-exact, zero copy, never rate limited), destination unreachable for
// closed UDP ports (quoted, rate limited, never about broadcasts), errors we receive handed to
// the socket they concern, and the stack's own echo requests.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include "unit/net/stack_fixture.h"

namespace demi::net::test {
namespace {

using namespace std::chrono_literals;

// What Windows' ping sends: 32 bytes of the alphabet.
const Bytes kPingData = bytes_of("abcdefghijklmnopqrstuvwabcdefghi");

class IcmpTest : public StackTest {
 protected:
  Bytes echo_request_frame(uint16_t ident, uint16_t seq, const Bytes& data, wire::Ipv4Address dst = kOurIp,
                           const wire::EthernetAddress& dst_mac = kOurMac) {
    return ip_frame(dst_mac, kPeerMac, kPeerIp, dst, wire::kProtocolIcmp,
                    icmp_echo(wire::kIcmpEchoRequest, ident, seq, data));
  }
  Bytes udp_to_closed_port(std::string_view text, wire::Ipv4Address dst = kOurIp) {
    return ip_frame(dst.is_broadcast() ? wire::EthernetAddress::BROADCAST : kOurMac, kPeerMac, kPeerIp, dst,
                    wire::kProtocolUdp, udp(kPeerIp, dst, 4000, 4444, bytes_of(text)));
  }
};

struct RecordingEcho final : IcmpLayer::EchoListener {
  void echo_reply(wire::Ipv4Address from, uint16_t ident, uint16_t seq, Payload data) override {
    Bytes b;
    for (const mem::BufRef& p : data) b.insert(b.end(), p.bytes().begin(), p.bytes().end());
    replies.push_back({from, ident, seq, b});
  }
  struct Reply {
    wire::Ipv4Address from;
    uint16_t ident, seq;
    Bytes data;
  };
  std::vector<Reply> replies;
};

TEST_F(IcmpTest, echo_request_is_answered_byte_exact) {
  learn_peer();
  inject(echo_request_frame(0x0001, 0x0021, kPingData));
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  EXPECT_EQ(p.eth.dst, kPeerMac);
  EXPECT_EQ(p.eth.src, kOurMac);
  ASSERT_TRUE(p.ip);
  EXPECT_EQ(p.ip->src_addr, kOurIp);
  EXPECT_EQ(p.ip->dst_addr, kPeerIp);
  EXPECT_EQ(p.ip->protocol, wire::kProtocolIcmp);
  EXPECT_TRUE(p.ip_checksum_ok);
  // The message: type 0, the same identifier, sequence and data, and a checksum that is right.
  EXPECT_EQ(p.l4, icmp_echo(wire::kIcmpEchoReply, 0x0001, 0x0021, kPingData));
  EXPECT_EQ(counter("icmp.echo_replies_sent"), 1u);
}

TEST_F(IcmpTest, echo_reply_of_odd_length_and_empty_data) {
  learn_peer();
  inject(echo_request_frame(7, 1, bytes_of("odd")));
  inject(echo_request_frame(7, 2, Bytes{}));
  auto frames = sent();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(parse(frames[0]).l4, icmp_echo(wire::kIcmpEchoReply, 7, 1, bytes_of("odd")));
  EXPECT_EQ(parse(frames[1]).l4, icmp_echo(wire::kIcmpEchoReply, 7, 2, Bytes{}));
}

TEST_F(IcmpTest, echo_reply_sends_the_request_buffer_back_without_copying) {
  learn_peer();
  dev_.keep_frames = true;
  inject(echo_request_frame(1, 1, Bytes(1000, std::byte{0x5a})));
  ASSERT_EQ(dev_.kept.size(), 1u);
  const runtime::TxFrame& f = dev_.kept[0];
  ASSERT_EQ(f.payload_segments, 1);
  EXPECT_EQ(f.payload[0].block()->owner, static_cast<const mem::BlockOwner*>(&dev_.rx_pool()));
  EXPECT_EQ(f.payload[0].size(), 1000u);
}

TEST_F(IcmpTest, echo_replies_are_never_rate_limited) {
  set("catnip.icmp.error_rate", "0");
  learn_peer();
  for (uint16_t i = 0; i < 100; ++i) inject(echo_request_frame(1, i, kPingData));
  EXPECT_EQ(sent().size(), 100u);
}

TEST_F(IcmpTest, echo_requests_to_a_broadcast_address_are_ignored) {
  inject(echo_request_frame(1, 1, kPingData, ip("10.0.0.255"), wire::EthernetAddress::BROADCAST));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("icmp.drop.broadcast_echo"), 1u);
}

TEST_F(IcmpTest, a_bad_checksum_is_dropped) {
  Bytes f = echo_request_frame(1, 1, kPingData);
  f[14 + 20 + 2] ^= std::byte{0x40};
  inject(f);
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("icmp.drop.bad_checksum"), 1u);
}

TEST_F(IcmpTest, udp_to_a_closed_port_is_answered_with_port_unreachable) {
  learn_peer();
  const Bytes original = ipv4(kPeerIp, kOurIp, wire::kProtocolUdp, udp(kPeerIp, kOurIp, 4000, 4444, bytes_of("knock")));
  inject(ethernet(kOurMac, kPeerMac, wire::EtherType::Ipv4, original));
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  ASSERT_EQ(p.ip->protocol, wire::kProtocolIcmp);
  EXPECT_EQ(p.ip->dst_addr, kPeerIp);
  wire::IcmpView icmp{std::span<const std::byte>(p.l4)};
  EXPECT_EQ(icmp.type(), wire::kIcmpDestUnreachable);
  EXPECT_EQ(icmp.code(), wire::kIcmpPortUnreachable);
  EXPECT_TRUE(icmp.verify_checksum());
  // It quotes the whole offending datagram (short enough to fit in 576 bytes).
  EXPECT_EQ(Bytes(icmp.data().begin(), icmp.data().end()), original);
  EXPECT_EQ(counter("udp.drop.no_socket"), 1u);
  EXPECT_EQ(counter("icmp.errors_sent"), 1u);
}

TEST_F(IcmpTest, the_quote_keeps_the_error_within_576_bytes) {
  learn_peer();
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp,
                  udp(kPeerIp, kOurIp, 4000, 4444, Bytes(1200, std::byte{1}))));
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].size(), 14u + 576u);
}

TEST_F(IcmpTest, errors_are_rate_limited_by_a_token_bucket) {
  set("catnip.icmp.error_rate", "1");
  set("catnip.icmp.error_burst", "2");
  learn_peer();
  for (int i = 0; i < 5; ++i) inject(udp_to_closed_port("x"));
  EXPECT_EQ(sent().size(), 2u);
  EXPECT_EQ(counter("icmp.errors_rate_limited"), 3u);
  advance(999ms);
  inject(udp_to_closed_port("x"));
  EXPECT_EQ(sent().size(), 0u);
  advance(1ms);
  inject(udp_to_closed_port("x"));
  inject(udp_to_closed_port("x"));
  EXPECT_EQ(sent().size(), 1u);
}

TEST_F(IcmpTest, no_errors_about_broadcasts) {
  learn_peer();
  inject(udp_to_closed_port("x", ip("255.255.255.255")));
  inject(udp_to_closed_port("x", ip("10.0.0.255")));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("udp.drop.no_socket"), 2u);
}

TEST_F(IcmpTest, port_unreachable_fails_the_socket_with_econnrefused) {
  learn_peer();
  UdpLayer& udp_layer = stack().udp();
  auto s = udp_layer.open();
  ASSERT_EQ(udp_layer.connect(s, Endpoint{kPeerIp, 4444}), 0);
  Bytes b = bytes_of("hello?");
  OutSegment seg{b, nullptr};
  ASSERT_EQ(udp_layer.send(s, std::nullopt, std::span<const OutSegment>(&seg, 1)), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  // The peer answers with port unreachable, quoting what we sent.
  Parsed p = parse(frames[0]);
  Bytes quoted = concat(p.ip_header, p.l4);
  Bytes msg(8);
  msg.insert(msg.end(), quoted.begin(), quoted.end());
  wire::IcmpView v{std::span<std::byte>(msg)};
  v.set_type(wire::kIcmpDestUnreachable);
  v.set_code(wire::kIcmpPortUnreachable);
  v.fill_checksum();
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolIcmp, msg));
  EXPECT_TRUE(udp_layer.readable(s));
  EXPECT_EQ(udp_layer.take_error(s), ECONNREFUSED);
  EXPECT_EQ(udp_layer.take_error(s), 0);
  EXPECT_EQ(counter("icmp.errors_received"), 1u);
}

TEST_F(IcmpTest, errors_about_packets_we_did_not_send_are_ignored) {
  UdpLayer& udp_layer = stack().udp();
  auto s = udp_layer.open();
  ASSERT_EQ(udp_layer.bind(s, Endpoint{{}, 4000}), 0);
  // Quotes a datagram from another host.
  Bytes quoted = ipv4(kOtherIp, kPeerIp, wire::kProtocolUdp, udp(kOtherIp, kPeerIp, 4000, 4444, bytes_of("x")));
  Bytes msg(8);
  msg.insert(msg.end(), quoted.begin(), quoted.end());
  wire::IcmpView v{std::span<std::byte>(msg)};
  v.set_type(wire::kIcmpDestUnreachable);
  v.set_code(wire::kIcmpPortUnreachable);
  v.fill_checksum();
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolIcmp, msg));
  EXPECT_EQ(udp_layer.take_error(s), 0);
}

TEST_F(IcmpTest, ping_from_the_stack) {
  learn_peer();
  RecordingEcho echo;
  stack().icmp().set_echo_listener(&echo);
  ASSERT_EQ(stack().icmp().send_echo_request(kPeerIp, 0x4242, 9, kPingData), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(parse(frames[0]).l4, icmp_echo(wire::kIcmpEchoRequest, 0x4242, 9, kPingData));
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolIcmp,
                  icmp_echo(wire::kIcmpEchoReply, 0x4242, 9, kPingData)));
  ASSERT_EQ(echo.replies.size(), 1u);
  EXPECT_EQ(echo.replies[0].from, kPeerIp);
  EXPECT_EQ(echo.replies[0].ident, 0x4242);
  EXPECT_EQ(echo.replies[0].seq, 9);
  EXPECT_EQ(echo.replies[0].data, kPingData);
}

TEST(TokenBucketTest, refills_at_its_rate_up_to_its_burst) {
  const sched::Instant t0{};
  TokenBucket b(10, 3, t0);  // 10 per second, 3 at most
  EXPECT_TRUE(b.take(t0));
  EXPECT_TRUE(b.take(t0));
  EXPECT_TRUE(b.take(t0));
  EXPECT_FALSE(b.take(t0));
  EXPECT_FALSE(b.take(t0 + 99ms));
  EXPECT_TRUE(b.take(t0 + 100ms));
  EXPECT_EQ(b.available(t0 + 10s), 3u);
  TokenBucket never(0, 5, t0);
  EXPECT_FALSE(never.take(t0 + 1h));
}

}  // namespace
}  // namespace demi::net::test
