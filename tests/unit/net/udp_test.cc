// UDP: binding (explicit, ephemeral, automatic), connected sockets, the bounded receive queue,
// zero copy in both directions, checksums, and errors.
#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <vector>

#include "unit/net/stack_fixture.h"

namespace demi::net::test {
namespace {

class UdpTest : public StackTest {
 protected:
  UdpLayer& u() { return stack().udp(); }
  int send(UdpLayer::SocketId s, std::optional<Endpoint> to, std::string_view text) {
    Bytes b = bytes_of(text);
    OutSegment seg{b, nullptr};
    int rc = u().send(s, to, std::span<const OutSegment>(&seg, 1));
    run();
    return rc;
  }
  Bytes datagram_from(wire::Ipv4Address src, uint16_t sport, uint16_t dport, std::string_view text) {
    return ip_frame(kOurMac, kPeerMac, src, kOurIp, wire::kProtocolUdp, udp(src, kOurIp, sport, dport, bytes_of(text)));
  }
};

// ---------------------------------------------------------------- binding

TEST_F(UdpTest, bind_to_a_port) {
  auto a = u().open();
  auto b = u().open();
  EXPECT_EQ(u().bind(a, Endpoint{{}, 5000}), 0);
  EXPECT_EQ(u().local(a).port, 5000);
  EXPECT_EQ(u().bind(b, Endpoint{{}, 5000}), EADDRINUSE);
  EXPECT_EQ(u().bind(a, Endpoint{{}, 5001}), EINVAL);  // bound already
  EXPECT_EQ(u().bind(b, Endpoint{kOtherIp, 5001}), EADDRNOTAVAIL);
  EXPECT_EQ(u().bind(b, Endpoint{kOurIp, 5001}), 0);
  u().close(a);
  auto c = u().open();
  EXPECT_EQ(u().bind(c, Endpoint{{}, 5000}), 0);  // free again after close
}

TEST_F(UdpTest, port_zero_binds_an_ephemeral_port) {
  std::set<uint16_t> ports;
  for (int i = 0; i < 100; ++i) {
    auto s = u().open();
    ASSERT_EQ(u().bind(s, Endpoint{{}, 0}), 0);
    const uint16_t p = u().local(s).port;
    EXPECT_GE(p, UdpLayer::kEphemeralFirst);
    ports.insert(p);
  }
  EXPECT_EQ(ports.size(), 100u);
}

TEST_F(UdpTest, the_first_send_binds_an_unbound_socket) {
  learn_peer();
  auto s = u().open();
  EXPECT_EQ(u().local(s).port, 0);
  ASSERT_EQ(send(s, Endpoint{kPeerIp, 7}, "hi"), 0);
  const uint16_t port = u().local(s).port;
  EXPECT_GE(port, UdpLayer::kEphemeralFirst);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  auto repr = wire::UdpRepr::parse(parse(frames[0]).l4);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->src_port, port);
  EXPECT_EQ(repr->dst_port, 7);
  ASSERT_EQ(send(s, Endpoint{kPeerIp, 7}, "again"), 0);
  EXPECT_EQ(u().local(s).port, port);  // the same port after that
}

// ---------------------------------------------------------------- connected sockets

TEST_F(UdpTest, an_unconnected_socket_needs_a_destination) {
  auto s = u().open();
  EXPECT_EQ(send(s, std::nullopt, "x"), EDESTADDRREQ);
}

TEST_F(UdpTest, connect_sets_the_destination_and_filters_sources) {
  learn_peer();
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 6000}), 0);
  ASSERT_EQ(u().connect(s, Endpoint{kPeerIp, 7000}), 0);
  ASSERT_EQ(send(s, std::nullopt, "to the peer"), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  EXPECT_EQ(p.ip->dst_addr, kPeerIp);
  EXPECT_EQ(wire::UdpRepr::parse(p.l4)->dst_port, 7000);

  inject(datagram_from(kPeerIp, 7001, 6000, "wrong port"));
  inject(datagram_from(kOtherIp, 7000, 6000, "wrong host"));
  inject(datagram_from(kPeerIp, 7000, 6000, "right"));
  auto d = u().recv(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(string_of(d->data.bytes()), "right");
  EXPECT_FALSE(u().recv(s));
  EXPECT_EQ(counter("udp.drop.not_from_peer"), 2u);
  EXPECT_EQ(*u().remote(s), (Endpoint{kPeerIp, 7000}));
}

TEST_F(UdpTest, an_unreachable_peer_fails_a_connected_socket) {
  set("catnip.arp.request_timeout_ms", "10");
  set("catnip.arp.retries", "0");
  auto s = u().open();
  ASSERT_EQ(u().connect(s, Endpoint{kPeerIp, 7000}), 0);
  ASSERT_EQ(send(s, std::nullopt, "anyone?"), 0);
  advance(std::chrono::milliseconds(10));
  EXPECT_EQ(u().take_error(s), EHOSTUNREACH);
}

// ---------------------------------------------------------------- receiving

TEST_F(UdpTest, datagrams_are_queued_with_their_source) {
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 9}), 0);
  inject(datagram_from(kPeerIp, 1111, 9, "one"));
  inject(datagram_from(kOtherIp, 2222, 9, "two"));
  auto a = u().recv(s);
  auto b = u().recv(s);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(string_of(a->data.bytes()), "one");
  EXPECT_EQ(a->from, (Endpoint{kPeerIp, 1111}));
  EXPECT_EQ(string_of(b->data.bytes()), "two");
  EXPECT_EQ(b->from, (Endpoint{kOtherIp, 2222}));
  EXPECT_EQ(counter("udp.rx_datagrams"), 2u);
}

TEST_F(UdpTest, a_received_datagram_is_a_view_of_the_device_buffer) {
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 9}), 0);
  inject(datagram_from(kPeerIp, 1111, 9, "zero copy"));
  auto d = u().recv(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->data.block()->owner, static_cast<const mem::BlockOwner*>(&dev_.rx_pool()));
  EXPECT_EQ(d->data.offset(), 14u + 20u + 8u);
  EXPECT_EQ(d->pieces(), 1u);
}

TEST_F(UdpTest, the_queue_is_bounded_in_datagrams) {
  set("catnip.udp.queue_datagrams", "2");
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 9}), 0);
  for (int i = 0; i < 3; ++i) inject(datagram_from(kPeerIp, 1111, 9, "d"));
  EXPECT_EQ(counter("udp.drop.queue_full"), 1u);
  EXPECT_TRUE(u().recv(s));
  EXPECT_TRUE(u().recv(s));
  EXPECT_FALSE(u().recv(s));
  inject(datagram_from(kPeerIp, 1111, 9, "room again"));
  EXPECT_TRUE(u().recv(s));
}

TEST_F(UdpTest, the_queue_is_bounded_in_bytes) {
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 9}), 0);
  u().set_queue_bytes(s, 10);
  inject(datagram_from(kPeerIp, 1111, 9, "123456"));
  inject(datagram_from(kPeerIp, 1111, 9, "78901"));  // 11 bytes: past the limit
  inject(datagram_from(kPeerIp, 1111, 9, "7890"));   // exactly 10
  EXPECT_EQ(counter("udp.drop.queue_full"), 1u);
  EXPECT_EQ(string_of(u().recv(s)->data.bytes()), "123456");
  EXPECT_EQ(string_of(u().recv(s)->data.bytes()), "7890");
}

TEST_F(UdpTest, many_datagrams_through_a_growing_queue_keep_their_order) {
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 9}), 0);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) inject(datagram_from(kPeerIp, 1111, 9, std::to_string(round * 100 + i)));
    for (int i = 0; i < 40; ++i) {
      auto d = u().recv(s);
      ASSERT_TRUE(d);
      EXPECT_EQ(string_of(d->data.bytes()), std::to_string(round * 100 + i));
    }
  }
}

TEST_F(UdpTest, checksums) {
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 9}), 0);
  Bytes bad = datagram_from(kPeerIp, 1111, 9, "corrupt");
  bad.back() ^= std::byte{0x01};
  inject(bad);
  EXPECT_EQ(counter("udp.drop.bad_checksum"), 1u);
  // The device's verdict is believed.
  inject(bad, runtime::kRxL4ChecksumGood);
  EXPECT_EQ(string_of(u().recv(s)->data.bytes()), "corrupu");
  inject(datagram_from(kPeerIp, 1111, 9, "fine"), runtime::kRxL4ChecksumBad);
  EXPECT_EQ(counter("udp.drop.bad_checksum"), 2u);
  // Zero: no checksum (RFC 768).
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp,
                  udp(kPeerIp, kOurIp, 1111, 9, bytes_of("unsummed"), false)));
  EXPECT_EQ(string_of(u().recv(s)->data.bytes()), "unsummed");
}

TEST_F(UdpTest, malformed_datagrams_are_dropped) {
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 9}), 0);
  Bytes dg = udp(kPeerIp, kOurIp, 1111, 9, bytes_of("abc"), false);
  Bytes long_len = dg;
  wire::store_be16(long_len, wire::udp_field::LENGTH, 100);
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp, long_len));
  Bytes short_len = dg;
  wire::store_be16(short_len, wire::udp_field::LENGTH, 4);
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp, short_len));
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp, bytes_of("tiny")));
  EXPECT_EQ(counter("udp.drop.malformed"), 3u);
  // A length shorter than the data: the rest is not the datagram's.
  Bytes trailing = dg;
  trailing.insert(trailing.end(), {std::byte{'x'}, std::byte{'y'}});
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp, trailing));
  EXPECT_EQ(string_of(u().recv(s)->data.bytes()), "abc");
}

// ---------------------------------------------------------------- sending

TEST_F(UdpTest, the_datagram_we_send) {
  learn_peer();
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 4321}), 0);
  ASSERT_EQ(send(s, Endpoint{kPeerIp, 1234}, "payload"), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  EXPECT_EQ(p.l4, udp(kOurIp, kPeerIp, 4321, 1234, bytes_of("payload")));
  EXPECT_EQ(counter("udp.tx_datagrams"), 1u);
}

TEST_F(UdpTest, a_large_payload_of_stack_buffers_is_attached_not_copied) {
  learn_peer();
  dev_.keep_frames = true;
  mem::BufRef a = dev_.alloc_tx(0);
  mem::BufRef b = dev_.alloc_tx(0);
  a.set_length(300);
  b.set_length(200);
  std::fill(a.data(), a.data() + 300, std::byte{'a'});
  std::fill(b.data(), b.data() + 200, std::byte{'b'});
  OutSegment segs[2] = {{a.bytes(), &a}, {b.bytes().subspan(50, 100), &b}};
  auto s = u().open();
  ASSERT_EQ(u().send(s, Endpoint{kPeerIp, 7}, segs), 0);
  run();
  ASSERT_EQ(dev_.kept.size(), 1u);
  const runtime::TxFrame& f = dev_.kept[0];
  ASSERT_EQ(f.payload_segments, 2);
  EXPECT_EQ(f.payload[0].block(), a.block());
  EXPECT_EQ(f.payload[1].block(), b.block());
  EXPECT_EQ(f.payload[1].offset(), b.offset() + 50);
  EXPECT_EQ(f.payload[1].size(), 100u);
  EXPECT_EQ(counter("udp.tx_copied"), 0u);
  Parsed p = parse(sent().at(0));
  EXPECT_TRUE(wire::UdpRepr::verify(p.l4, kOurIp, kPeerIp));
  EXPECT_EQ(p.l4.size(), 8u + 400u);
}

// A small payload of ours goes by reference like any other: copying it behind the header is
// the device's decision (dpdk.tx_copy_threshold), not a second threshold in UDP. A foreign one
// is copied behind the header.
TEST_F(UdpTest, foreign_payloads_are_copied_behind_the_header_small_ones_of_ours_are_not) {
  learn_peer();
  dev_.keep_frames = true;
  mem::BufRef a = dev_.alloc_tx(0);
  a.set_length(16);
  OutSegment small{a.bytes(), &a};
  auto s = u().open();
  ASSERT_EQ(u().send(s, Endpoint{kPeerIp, 7}, std::span<const OutSegment>(&small, 1)), 0);
  Bytes foreign(1000, std::byte{'f'});
  OutSegment not_ours{foreign, nullptr};
  ASSERT_EQ(u().send(s, Endpoint{kPeerIp, 7}, std::span<const OutSegment>(&not_ours, 1)), 0);
  run();
  ASSERT_EQ(dev_.kept.size(), 2u);
  ASSERT_EQ(dev_.kept[0].payload_segments, 1);
  EXPECT_EQ(dev_.kept[0].payload[0].block(), a.block());
  EXPECT_EQ(dev_.kept[1].payload_segments, 0);
  EXPECT_EQ(counter("udp.tx_copied"), 1u);
  for (const Bytes& f : sent()) EXPECT_TRUE(wire::UdpRepr::verify(parse(f).l4, kOurIp, kPeerIp));
}

TEST_F(UdpTest, a_foreign_payload_too_big_for_the_header_buffer_is_copied_once) {
  learn_peer();
  dev_.keep_frames = true;
  Bytes foreign(5000, std::byte{'z'});
  OutSegment seg{foreign, nullptr};
  auto s = u().open();
  ASSERT_EQ(u().send(s, Endpoint{kPeerIp, 7}, std::span<const OutSegment>(&seg, 1)), 0);
  run();
  EXPECT_EQ(dev_.kept.size(), 4u);  // 5008 bytes in fragments of 1480
  Bytes joined;
  for (const Bytes& f : sent()) {
    Parsed p = parse(f);
    joined.insert(joined.end(), p.l4.begin(), p.l4.end());
  }
  EXPECT_TRUE(wire::UdpRepr::verify(joined, kOurIp, kPeerIp));
}

TEST_F(UdpTest, checksum_offload_leaves_the_pseudo_header_sum) {
  dev_.mutable_info().tx_l4_checksum = true;
  learn_peer();
  dev_.keep_frames = true;
  auto s = u().open();
  ASSERT_EQ(u().bind(s, Endpoint{{}, 4321}), 0);
  ASSERT_EQ(send(s, Endpoint{kPeerIp, 1234}, "offloaded"), 0);
  ASSERT_EQ(dev_.kept.size(), 1u);
  EXPECT_TRUE(dev_.kept[0].offload_l4_checksum);
  EXPECT_EQ(dev_.kept[0].l4_protocol, wire::kProtocolUdp);
  Parsed p = parse(sent().at(0));
  wire::Checksum pseudo;
  pseudo.add_pseudo_header(kOurIp.to_u32(), kPeerIp.to_u32(), wire::kProtocolUdp, 8 + 9);
  EXPECT_EQ(wire::load_be16(p.l4, wire::udp_field::CHECKSUM), pseudo.folded());
}

TEST_F(UdpTest, too_long_is_emsgsize) {
  auto s = u().open();
  Bytes big(UdpLayer::kMaxPayload + 1);
  OutSegment seg{big, nullptr};
  EXPECT_EQ(u().send(s, Endpoint{kPeerIp, 7}, std::span<const OutSegment>(&seg, 1)), EMSGSIZE);
}

}  // namespace
}  // namespace demi::net::test
