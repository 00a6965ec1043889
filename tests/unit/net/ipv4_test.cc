// IPv4: routing (on the link, through the gateway, nowhere), the header we send, drops by
// reason on receive, fragmentation on send and reassembly (in order, out of order, overlap,
// duplicates, timeout, memory limit).
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <vector>

#include "unit/net/stack_fixture.h"

namespace demi::net::test {
namespace {

using namespace std::chrono_literals;

class Ipv4Test : public StackTest {
 protected:
  int send_udp(wire::Ipv4Address dst, std::span<const std::byte> payload, uint16_t dport = 7) {
    UdpLayer& udp = stack().udp();
    if (!socket_) socket_ = udp.open();
    OutSegment seg{payload, nullptr};
    int rc = udp.send(*socket_, Endpoint{dst, dport}, std::span<const OutSegment>(&seg, 1));
    run();
    return rc;
  }
  // A UDP socket bound to port 9, to receive on.
  UdpLayer::SocketId listen_udp(uint16_t port = 9) {
    UdpLayer& udp = stack().udp();
    auto s = udp.open();
    EXPECT_EQ(udp.bind(s, Endpoint{{}, port}), 0);
    return s;
  }
  // A UDP datagram from the peer to our port 9, in a frame for us.
  Bytes udp_frame(std::string_view text, const IpOptions& o = {}) {
    return ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp,
                    udp(kPeerIp, kOurIp, 5555, 9, bytes_of(text)), o);
  }
  std::optional<UdpLayer::SocketId> socket_;
};

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 13 + 5) & 0xff);
  return b;
}

// ---------------------------------------------------------------- routing and sending

TEST_F(Ipv4Test, on_link_destinations_are_sent_to_directly) {
  learn_peer();
  ASSERT_EQ(send_udp(kPeerIp, bytes_of("x")), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  EXPECT_EQ(p.eth.dst, kPeerMac);
  EXPECT_EQ(p.ip->dst_addr, kPeerIp);
}

TEST_F(Ipv4Test, off_link_destinations_go_to_the_gateway_mac) {
  set("catnip.ipv4.gateway", "10.0.0.254");
  set("catnip.arp.static", "10.0.0.254=02:00:00:00:00:fe");
  ASSERT_EQ(send_udp(kRemoteIp, bytes_of("x")), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  EXPECT_EQ(p.eth.dst, kGatewayMac);
  EXPECT_EQ(p.ip->dst_addr, kRemoteIp);  // the IP destination stays the remote host
  EXPECT_EQ(stack().ipv4().route(kRemoteIp)->next_hop, kGatewayIp);
  EXPECT_EQ(stack().ipv4().route(kPeerIp)->next_hop, kPeerIp);
}

TEST_F(Ipv4Test, off_link_without_a_gateway_is_enetunreach) {
  EXPECT_EQ(send_udp(kRemoteIp, bytes_of("x")), ENETUNREACH);
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("ipv4.tx_no_route"), 1u);
}

TEST_F(Ipv4Test, a_gateway_off_the_subnet_is_refused_by_the_config) {
  set("catnip.ipv4.gateway", "10.0.1.1");
  std::string why;
  EXPECT_FALSE(InetConfig::from(config_, &why).ok());
  EXPECT_NE(why.find("catnip.ipv4.gateway"), std::string::npos);
}

TEST_F(Ipv4Test, broadcasts_need_no_arp) {
  ASSERT_EQ(send_udp(ip("255.255.255.255"), bytes_of("x")), 0);
  ASSERT_EQ(send_udp(ip("10.0.0.255"), bytes_of("y")), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(parse(frames[0]).eth.dst.is_broadcast());
  EXPECT_TRUE(parse(frames[1]).eth.dst.is_broadcast());
}

TEST_F(Ipv4Test, the_header_we_send) {
  set("catnip.ipv4.ttl", "17");
  learn_peer();
  ASSERT_EQ(send_udp(kPeerIp, bytes_of("hello")), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  ASSERT_TRUE(p.ip);
  EXPECT_EQ(p.ip->src_addr, kOurIp);
  EXPECT_EQ(p.ip->hop_limit, 17);
  EXPECT_EQ(p.ip->protocol, wire::kProtocolUdp);
  EXPECT_EQ(p.ip->header_len, 20u);
  EXPECT_EQ(p.ip->payload_len, 8u + 5u);
  EXPECT_FALSE(p.ip->dont_frag);  // DF only on TCP
  EXPECT_FALSE(p.ip->more_frags);
  EXPECT_TRUE(p.ip_checksum_ok);
}

TEST_F(Ipv4Test, checksum_offload_leaves_the_field_to_the_device) {
  dev_.mutable_info().tx_ipv4_checksum = true;
  learn_peer();
  dev_.keep_frames = true;
  ASSERT_EQ(send_udp(kPeerIp, bytes_of("x")), 0);
  ASSERT_EQ(dev_.kept.size(), 1u);
  EXPECT_TRUE(dev_.kept[0].offload_ip_checksum);
  EXPECT_EQ(dev_.kept[0].l2_len, 14);
  EXPECT_EQ(dev_.kept[0].l3_len, 20);
  Parsed p = parse(sent().at(0));
  EXPECT_EQ(wire::load_be16(p.ip_header, wire::ipv4_field::CHECKSUM), 0);
}

TEST_F(Ipv4Test, no_loopback_to_our_own_address) {
  EXPECT_EQ(send_udp(kOurIp, bytes_of("x")), EADDRNOTAVAIL);
}

// ---------------------------------------------------------------- receiving: drops by reason

TEST_F(Ipv4Test, a_good_datagram_is_delivered) {
  auto s = listen_udp();
  inject(udp_frame("payload"));
  auto d = stack().udp().recv(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(string_of(d->data.bytes()), "payload");
  EXPECT_EQ(counter("ipv4.rx_delivered"), 1u);
}

TEST_F(Ipv4Test, bad_packets_are_dropped_and_counted_by_reason) {
  auto s = listen_udp();
  Bytes good = udp_frame("payload");

  Bytes truncated(good.begin(), good.begin() + 14 + 12);
  inject(truncated);
  EXPECT_EQ(counter("ipv4.drop.malformed"), 1u);

  Bytes bad_version = good;
  bad_version[14] = std::byte{0x65};
  inject(bad_version);
  EXPECT_EQ(counter("ipv4.drop.malformed"), 2u);

  Bytes bad_ihl = good;
  bad_ihl[14] = std::byte{0x44};
  inject(bad_ihl);
  EXPECT_EQ(counter("ipv4.drop.malformed"), 3u);

  Bytes too_long = good;  // a total length past the frame
  wire::store_be16(std::span<std::byte>(too_long).subspan(14), wire::ipv4_field::LENGTH, 1000);
  inject(too_long);
  EXPECT_EQ(counter("ipv4.drop.malformed"), 4u);

  Bytes bad_sum = good;
  bad_sum[14 + wire::ipv4_field::CHECKSUM] ^= std::byte{0x01};
  inject(bad_sum);
  EXPECT_EQ(counter("ipv4.drop.bad_checksum"), 1u);

  // The device says the checksum is bad: believed without summing.
  inject(good, runtime::kRxIpChecksumBad);
  EXPECT_EQ(counter("ipv4.drop.bad_checksum"), 2u);

  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOtherIp, wire::kProtocolUdp,
                  udp(kPeerIp, kOtherIp, 5555, 9, bytes_of("x"))));
  EXPECT_EQ(counter("ipv4.drop.wrong_destination"), 1u);

  inject(ip_frame(kOurMac, kPeerMac, ip("255.255.255.255"), kOurIp, wire::kProtocolUdp,
                  udp(ip("255.255.255.255"), kOurIp, 5555, 9, bytes_of("x"))));
  inject(ip_frame(kOurMac, kPeerMac, kOurIp, kOurIp, wire::kProtocolUdp, udp(kOurIp, kOurIp, 5555, 9, bytes_of("x"))));
  EXPECT_EQ(counter("ipv4.drop.bad_source"), 2u);

  EXPECT_FALSE(stack().udp().recv(s));
  EXPECT_EQ(counter("ipv4.rx_delivered"), 0u);
}

TEST_F(Ipv4Test, ethernet_padding_is_not_part_of_the_datagram) {
  auto s = listen_udp();
  Bytes f = udp_frame("ab");
  f.resize(60, std::byte{0xee});  // a minimum-size Ethernet frame
  inject(f);
  auto d = stack().udp().recv(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(string_of(d->data.bytes()), "ab");
}

TEST_F(Ipv4Test, an_unknown_protocol_is_answered_with_protocol_unreachable) {
  learn_peer();
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, 99, bytes_of("whatever")));
  EXPECT_EQ(counter("ipv4.drop.unknown_protocol"), 1u);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  ASSERT_EQ(p.ip->protocol, wire::kProtocolIcmp);
  wire::IcmpView icmp{std::span<const std::byte>(p.l4)};
  EXPECT_EQ(icmp.type(), wire::kIcmpDestUnreachable);
  EXPECT_EQ(icmp.code(), 2);
}

// ---------------------------------------------------------------- fragmentation on send

TEST_F(Ipv4Test, a_datagram_longer_than_the_mtu_is_sent_in_fragments) {
  learn_peer();
  const Bytes payload = pattern(3000);
  ASSERT_EQ(send_udp(kPeerIp, payload), 0);
  auto frames = sent();
  // 3008 UDP bytes, 1480 per fragment: 1480 + 1480 + 48.
  ASSERT_EQ(frames.size(), 3u);
  Bytes joined;
  uint16_t ident = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    Parsed p = parse(frames[i]);
    ASSERT_TRUE(p.ip);
    EXPECT_TRUE(p.ip_checksum_ok);
    EXPECT_LE(frames[i].size(), 14u + 1500u);
    EXPECT_EQ(p.ip->frag_offset, i * 1480);
    EXPECT_EQ(p.ip->more_frags, i + 1 < frames.size());
    if (i == 0) ident = p.ip->ident;
    EXPECT_EQ(p.ip->ident, ident);
    joined.insert(joined.end(), p.l4.begin(), p.l4.end());
  }
  ASSERT_EQ(joined.size(), 3008u);
  EXPECT_TRUE(wire::UdpRepr::verify(joined, kOurIp, kPeerIp));
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), joined.begin() + 8));
  EXPECT_EQ(counter("ipv4.tx_fragmented"), 1u);
  EXPECT_EQ(counter("ipv4.tx_fragments"), 3u);
}

TEST_F(Ipv4Test, fragments_carry_the_payload_as_views_without_copying) {
  learn_peer();
  dev_.keep_frames = true;
  // A payload in a buffer of the device's pool, as an application's Sga would be.
  mem::BufRef buf = dev_.alloc_tx(0);
  buf.set_length(1800);
  const Bytes payload = pattern(1800);
  std::copy(payload.begin(), payload.end(), buf.data());
  UdpLayer& udp = stack().udp();
  auto s = udp.open();
  OutSegment seg{buf.bytes(), &buf};
  ASSERT_EQ(udp.send(s, Endpoint{kPeerIp, 7}, std::span<const OutSegment>(&seg, 1)), 0);
  run();
  ASSERT_EQ(dev_.kept.size(), 2u);
  for (const runtime::TxFrame& f : dev_.kept) {
    ASSERT_EQ(f.payload_segments, 1);
    EXPECT_EQ(f.payload[0].block(), buf.block());
  }
}

TEST_F(Ipv4Test, a_datagram_past_64k_is_emsgsize) {
  const Bytes payload = pattern(65508);
  EXPECT_EQ(send_udp(kPeerIp, payload), EMSGSIZE);
}

// ---------------------------------------------------------------- reassembly

class ReassemblyTest : public Ipv4Test {
 protected:
  // The fragments of one UDP datagram from the peer, `size` payload bytes in pieces of `chunk`.
  std::vector<Bytes> fragments(const Bytes& payload, std::size_t chunk, uint16_t ident = 77) {
    Bytes dgram = udp(kPeerIp, kOurIp, 5555, 9, payload);
    std::vector<Bytes> out;
    for (std::size_t off = 0; off < dgram.size(); off += chunk) {
      const std::size_t n = std::min(chunk, dgram.size() - off);
      IpOptions o;
      o.ident = ident;
      o.frag_offset = static_cast<uint16_t>(off);
      o.mf = off + n < dgram.size();
      out.push_back(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp,
                             std::span<const std::byte>(dgram).subspan(off, n), o));
    }
    return out;
  }
  static Bytes joined(const UdpDatagram& d) {
    Bytes b(d.data.bytes().begin(), d.data.bytes().end());
    for (const mem::BufRef& m : d.more) b.insert(b.end(), m.bytes().begin(), m.bytes().end());
    return b;
  }
};

TEST_F(ReassemblyTest, in_order) {
  auto s = listen_udp();
  const Bytes payload = pattern(4000);
  auto frags = fragments(payload, 1480);
  ASSERT_EQ(frags.size(), 3u);
  for (const Bytes& f : frags) inject(f);
  auto d = stack().udp().recv(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(joined(*d), payload);
  EXPECT_EQ(d->pieces(), 3u);  // the fragments' own buffers, not a copy
  EXPECT_EQ(counter("ipv4.reassembly.reassembled"), 1u);
  EXPECT_EQ(stack().ipv4().reassembler().memory(), 0u);
}

TEST_F(ReassemblyTest, out_of_order) {
  auto s = listen_udp();
  const Bytes payload = pattern(5000);
  auto frags = fragments(payload, 1024);
  std::reverse(frags.begin(), frags.end());
  std::swap(frags[1], frags[3]);
  for (const Bytes& f : frags) inject(f);
  auto d = stack().udp().recv(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(joined(*d), payload);
}

TEST_F(ReassemblyTest, two_datagrams_interleaved) {
  auto s = listen_udp();
  const Bytes a = pattern(2000);
  const Bytes b = bytes_of(std::string(2500, 'b'));
  auto fa = fragments(a, 1024, 1);
  auto fb = fragments(b, 1024, 2);
  inject(fa[0]);
  inject(fb[2]);
  inject(fb[0]);
  inject(fa[1]);
  inject(fb[1]);
  auto d1 = stack().udp().recv(s);
  auto d2 = stack().udp().recv(s);
  ASSERT_TRUE(d1 && d2);
  EXPECT_EQ(joined(*d1), a);
  EXPECT_EQ(joined(*d2), b);
}

TEST_F(ReassemblyTest, an_exact_duplicate_is_dropped_alone) {
  auto s = listen_udp();
  const Bytes payload = pattern(3000);
  auto frags = fragments(payload, 1024);
  inject(frags[0]);
  inject(frags[0]);
  inject(frags[1]);
  inject(frags[2]);
  EXPECT_EQ(counter("ipv4.reassembly.drop.duplicate"), 1u);
  auto d = stack().udp().recv(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(joined(*d), payload);
}

TEST_F(ReassemblyTest, overlapping_fragments_drop_the_whole_datagram) {
  auto s = listen_udp();
  const Bytes payload = pattern(3000);
  Bytes dgram = udp(kPeerIp, kOurIp, 5555, 9, payload);
  auto frag = [&](std::size_t off, std::size_t n, bool mf) {
    IpOptions o;
    o.ident = 5;
    o.frag_offset = static_cast<uint16_t>(off);
    o.mf = mf;
    return ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp,
                    std::span<const std::byte>(dgram).subspan(off, n), o);
  };
  inject(frag(0, 1024, true));
  inject(frag(1016, 1024, true));  // overlaps the first by 8 bytes
  EXPECT_EQ(counter("ipv4.reassembly.drop.overlap"), 1u);
  EXPECT_EQ(stack().ipv4().reassembler().pending(), 0u);
  // The rest arrives; without the dropped part the datagram never completes.
  inject(frag(2040, dgram.size() - 2040, false));
  inject(frag(1024, 1016, true));
  EXPECT_FALSE(stack().udp().recv(s));
}

TEST_F(ReassemblyTest, a_second_last_fragment_that_disagrees_drops_the_datagram) {
  auto frags = fragments(pattern(3000), 1024);
  inject(frags[2]);
  Bytes dgram = udp(kPeerIp, kOurIp, 5555, 9, pattern(3000));
  IpOptions o;
  o.ident = 77;
  o.frag_offset = 1024;
  o.mf = false;  // claims the datagram ends at 2048
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp,
                  std::span<const std::byte>(dgram).subspan(1024, 1024), o));
  EXPECT_EQ(counter("ipv4.reassembly.drop.inconsistent"), 1u);
}

TEST_F(ReassemblyTest, fragments_not_a_multiple_of_eight_are_refused) {
  Bytes dgram = udp(kPeerIp, kOurIp, 5555, 9, pattern(3000));
  IpOptions o;
  o.ident = 3;
  o.mf = true;
  inject(ip_frame(kOurMac, kPeerMac, kPeerIp, kOurIp, wire::kProtocolUdp,
                  std::span<const std::byte>(dgram).subspan(0, 1001), o));
  EXPECT_EQ(counter("ipv4.reassembly.drop.bad_fragment"), 1u);
}

TEST_F(ReassemblyTest, incomplete_datagrams_time_out_with_icmp_time_exceeded) {
  set("catnip.ipv4.reassembly_timeout_ms", "2000");
  learn_peer();
  auto s = listen_udp();
  auto frags = fragments(pattern(3000), 1024);
  inject(frags[0]);
  inject(frags[1]);
  advance(1999ms);
  EXPECT_EQ(stack().ipv4().reassembler().pending(), 1u);
  advance(1ms);
  EXPECT_EQ(stack().ipv4().reassembler().pending(), 0u);
  EXPECT_EQ(stack().ipv4().reassembler().memory(), 0u);
  EXPECT_EQ(counter("ipv4.reassembly.drop.timeout"), 1u);
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  Parsed p = parse(out[0]);
  ASSERT_EQ(p.ip->protocol, wire::kProtocolIcmp);
  EXPECT_EQ(p.ip->dst_addr, kPeerIp);
  wire::IcmpView icmp{std::span<const std::byte>(p.l4)};
  EXPECT_EQ(icmp.type(), wire::kIcmpTimeExceeded);
  EXPECT_EQ(icmp.code(), 1);
  // It quotes the first fragment's header.
  auto quoted = wire::Ipv4Repr::parse_quoted(icmp.data());
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->ident, 77);
  EXPECT_TRUE(quoted->more_frags);
  // The last fragment alone, late, starts a new datagram that also times out.
  inject(frags[2]);
  EXPECT_FALSE(stack().udp().recv(s));
}

TEST_F(ReassemblyTest, no_time_exceeded_without_the_first_fragment) {
  set("catnip.ipv4.reassembly_timeout_ms", "100");
  learn_peer();
  auto frags = fragments(pattern(3000), 1024);
  inject(frags[1]);
  advance(100ms);
  EXPECT_EQ(counter("ipv4.reassembly.drop.timeout"), 1u);
  EXPECT_TRUE(sent().empty());
}

TEST_F(ReassemblyTest, the_memory_limit_drops_the_oldest_datagram) {
  // Each fragment holds one 2048-byte buffer of the device: room for three.
  set("catnip.ipv4.reassembly_memory", "6144");
  auto s = listen_udp();
  auto a = fragments(pattern(2500), 1024, 1);  // 3 fragments
  auto b = fragments(pattern(1500), 1024, 2);  // 2 fragments
  inject(a[0]);
  inject(a[1]);
  advance(1ms);
  inject(b[0]);  // 3 buffers held
  EXPECT_EQ(stack().ipv4().reassembler().memory(), 3u * 2048u);
  inject(b[1]);  // completes b, after evicting a to make room
  EXPECT_EQ(counter("ipv4.reassembly.drop.evicted"), 1u);
  auto d = stack().udp().recv(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(joined(*d), pattern(1500));
  inject(a[2]);
  EXPECT_FALSE(stack().udp().recv(s));
  EXPECT_LE(stack().ipv4().reassembler().memory(), 6144u);
}

TEST_F(ReassemblyTest, a_zero_memory_limit_refuses_every_fragment) {
  set("catnip.ipv4.reassembly_memory", "0");
  auto frags = fragments(pattern(2000), 1024);
  for (const Bytes& f : frags) inject(f);
  EXPECT_EQ(counter("ipv4.reassembly.drop.no_memory"), 2u);
}

TEST_F(ReassemblyTest, our_own_fragments_reassemble_in_a_peer) {
  // What we send in fragments, a stack at the other end puts back together.
  learn_peer();
  const Bytes payload = pattern(4000);
  ASSERT_EQ(send_udp(kPeerIp, payload, 9), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 3u);
  Reassembler r(sched_, 1s, 1 << 20);
  std::optional<Reassembler::Datagram> whole;
  for (const Bytes& f : frames) {
    Parsed p = parse(f);
    mem::BufRef b = dev_.alloc_tx(0);
    std::copy(p.l4.begin(), p.l4.end(), b.data());
    b.set_length(p.l4.size());
    FragmentKey key{kOurIp.to_u32(), kPeerIp.to_u32(), p.ip->ident, p.ip->protocol};
    whole = r.add(key, p.ip->frag_offset, p.ip->more_frags, p.ip_header, std::move(b));
  }
  ASSERT_TRUE(whole);
  Bytes got;
  for (const mem::BufRef& part : whole->parts) got.insert(got.end(), part.bytes().begin(), part.bytes().end());
  EXPECT_TRUE(wire::UdpRepr::verify(got, kOurIp, kPeerIp));
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), got.begin() + 8));
}

}  // namespace
}  // namespace demi::net::test
