// One InetStack over a FakeDevice, on a virtual clock: the base of the per-layer tests. The
// stack is 10.0.0.2/24 at 02:00:00:00:00:02; "the peer" is 10.0.0.1 at 02:00:00:00:00:01.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <demi/config.h>

#include "net/inet_stack.h"
#include "sched/clock.h"
#include "sched/scheduler.h"
#include "unit/net/fake_device.h"
#include "unit/net/packets.h"

namespace demi::net::test {

inline const wire::EthernetAddress kOurMac = mac("02:00:00:00:00:02");
inline const wire::EthernetAddress kPeerMac = mac("02:00:00:00:00:01");
inline const wire::EthernetAddress kOtherMac = mac("02:00:00:00:00:03");
inline const wire::EthernetAddress kGatewayMac = mac("02:00:00:00:00:fe");
inline const wire::Ipv4Address kOurIp = ip("10.0.0.2");
inline const wire::Ipv4Address kPeerIp = ip("10.0.0.1");
inline const wire::Ipv4Address kOtherIp = ip("10.0.0.3");
inline const wire::Ipv4Address kGatewayIp = ip("10.0.0.254");
inline const wire::Ipv4Address kRemoteIp = ip("192.168.7.9");  // off the subnet

class StackTest : public ::testing::Test {
 protected:
  StackTest() {
    set("catnip.ipv4.address", "10.0.0.2");
    set("catnip.ipv4.netmask", "255.255.255.0");
    set("catnip.arp.gratuitous", "false");  // a test's first frame is its own
    set("catnip.tcp.isn_seed", "1");          // repeatable runs
  }

  void set(const std::string& key, const std::string& value) { ASSERT_EQ(config_.set(key, value), 0) << key; }

  // Builds the stack from the keys set so far (once).
  InetStack& stack() {
    if (!stack_) {
      std::string why;
      auto c = InetConfig::from(config_, &why);
      EXPECT_TRUE(c.ok()) << why;
      auto s = InetStack::create(dev_, sched_, *c, &why);
      EXPECT_TRUE(s.ok()) << why;
      stack_ = std::move(*s);
      stack_->start();
      stack_->poll();
    }
    return *stack_;
  }

  // Everything due runs: received frames go up, timers fire, queued frames go out.
  void run() {
    stack().poll();
    while (sched_.run_once()) stack().poll();
    stack().poll();
  }
  void advance(sched::Duration d) {
    clock_.advance(d);
    run();
  }
  void inject(const Bytes& frame, uint32_t flags = 0) {
    stack();
    dev_.inject(frame, flags);
    run();
  }
  // The frames sent since the last call.
  std::vector<Bytes> sent() {
    stack().poll();
    return std::exchange(dev_.sent, {});
  }
  uint64_t counter(std::string_view name) {
    const CounterList list = stack().counters();
    for (const Counter& c : list)
      if (c.name == name) return c.value;
    ADD_FAILURE() << "no counter named " << name;
    return 0;
  }
  // Teaches the stack the peer's address (an ARP request from it, for us), and forgets the reply.
  void learn_peer(wire::Ipv4Address peer_ip = kPeerIp, const wire::EthernetAddress& peer_mac = kPeerMac) {
    inject(ethernet(kOurMac, peer_mac, wire::EtherType::Arp,
                    arp(wire::ArpOperation::Request, peer_mac, peer_ip, wire::EthernetAddress{}, kOurIp)));
    sent();
  }

  sched::VirtualClock clock_;
  sched::Scheduler sched_{clock_};
  Config config_;
  FakeDevice dev_{runtime::LinkAddress{0x02, 0, 0, 0, 0, 0x02}};
  std::unique_ptr<InetStack> stack_;
};

}  // namespace demi::net::test
