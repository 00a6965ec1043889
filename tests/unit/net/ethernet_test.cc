// Ethernet: receive dispatch by EtherType and destination, the transmit queue in front of a
// busy device, and a device without header buffers of its own.
#include <gtest/gtest.h>

#include <cerrno>

#include "unit/net/stack_fixture.h"

namespace demi::net::test {
namespace {

class EthernetTest : public StackTest {};

TEST_F(EthernetTest, frames_for_others_and_unknown_types_are_dropped_and_counted) {
  stack();
  const Bytes arp_req = arp(wire::ArpOperation::Request, kPeerMac, kPeerIp, wire::EthernetAddress{}, kOurIp);
  inject(ethernet(kOtherMac, kPeerMac, wire::EtherType::Arp, arp_req));
  EXPECT_EQ(counter("ethernet.drop.not_for_us"), 1u);
  inject(ethernet(mac("01:00:5e:00:00:01"), kPeerMac, wire::EtherType::Arp, arp_req));
  EXPECT_EQ(counter("ethernet.drop.not_for_us"), 2u);
  inject(ethernet(kOurMac, kPeerMac, wire::EtherType::Ipv6, bytes_of("v6")));
  EXPECT_EQ(counter("ethernet.drop.unknown_ethertype"), 1u);
  inject(bytes_of("short"));
  EXPECT_EQ(counter("ethernet.drop.malformed"), 1u);
  EXPECT_TRUE(sent().empty());
  // Broadcast and our own address get through.
  inject(ethernet(wire::EthernetAddress::BROADCAST, kPeerMac, wire::EtherType::Arp, arp_req));
  inject(ethernet(kOurMac, kPeerMac, wire::EtherType::Arp, arp_req));
  EXPECT_EQ(sent().size(), 2u);
  EXPECT_EQ(counter("ethernet.rx_frames"), 6u);
}

TEST_F(EthernetTest, frames_wait_in_order_while_the_device_is_busy) {
  learn_peer();
  dev_.accept_at_most(0);
  UdpLayer& udp = stack().udp();
  auto s = udp.open();
  for (int i = 0; i < 5; ++i) {
    Bytes b = bytes_of(std::to_string(i));
    OutSegment seg{b, nullptr};
    ASSERT_EQ(udp.send(s, Endpoint{kPeerIp, 7}, std::span<const OutSegment>(&seg, 1)), 0);
  }
  run();
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(stack().ethernet().queued(), 5u);
  EXPECT_GT(counter("ethernet.tx_device_busy"), 0u);
  dev_.accept_at_most(2);
  run();
  dev_.accept_at_most(SIZE_MAX);
  run();
  auto frames = sent();
  ASSERT_EQ(frames.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    Parsed p = parse(frames[static_cast<std::size_t>(i)]);
    EXPECT_EQ(string_of(std::span<const std::byte>(p.l4).subspan(8)), std::to_string(i));
  }
  EXPECT_EQ(counter("ethernet.tx_frames"), 5u + 1u);  // and the ARP reply of learn_peer
}

TEST_F(EthernetTest, a_full_queue_refuses_with_enobufs) {
  set("catnip.tx_queue", "16");
  learn_peer();
  dev_.accept_at_most(0);
  UdpLayer& udp = stack().udp();
  auto s = udp.open();
  Bytes b = bytes_of("x");
  OutSegment seg{b, nullptr};
  int rc = 0;
  int sent_ok = 0;
  for (int i = 0; i < 20 && rc == 0; ++i) {
    rc = udp.send(s, Endpoint{kPeerIp, 7}, std::span<const OutSegment>(&seg, 1));
    if (rc == 0) ++sent_ok;
  }
  EXPECT_EQ(rc, ENOBUFS);
  EXPECT_EQ(sent_ok, 16);
  EXPECT_EQ(counter("ethernet.drop.tx_queue_full"), 1u);
}

TEST(EthernetOwnPoolTest, a_device_without_header_buffers_gets_the_stacks_own) {
  sched::VirtualClock clock;
  sched::Scheduler sched(clock);
  FakeDevice dev(runtime::LinkAddress{0x02, 0, 0, 0, 0, 0x02}, 1500, /*has_tx_pool=*/false);
  Config config;
  ASSERT_EQ(config.set("catnip.ipv4.address", "10.0.0.2"), 0);
  auto c = InetConfig::from(config);
  ASSERT_TRUE(c.ok());
  auto s = InetStack::create(dev, sched, *c);
  ASSERT_TRUE(s.ok());
  InetStack& stack = **s;
  EXPECT_NE(stack.ethernet().own_pool(), nullptr);
  stack.start();  // the gratuitous ARP needs a buffer
  stack.poll();
  ASSERT_EQ(dev.sent.size(), 1u);
  EXPECT_TRUE(parse(dev.sent[0]).arp.has_value());
}

}  // namespace
}  // namespace demi::net::test
