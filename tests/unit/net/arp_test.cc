// ARP: the cache's states, RFC 826's receive algorithm, and resolution with retries, backoff,
// a bounded queue and a final failure that reaches the UnreachableListeners.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <vector>

#include "unit/net/stack_fixture.h"

namespace demi::net::test {
namespace {

using namespace std::chrono_literals;
using wire::ArpOperation;

class ArpTest : public StackTest {
 protected:
  // An ARP packet from `sha`/`spa` to us, in a frame for `eth_dst`.
  void inject_arp(ArpOperation op, const wire::EthernetAddress& sha, wire::Ipv4Address spa,
                  const wire::EthernetAddress& tha, wire::Ipv4Address tpa,
                  const wire::EthernetAddress& eth_dst = wire::EthernetAddress::BROADCAST) {
    inject(ethernet(eth_dst, sha, wire::EtherType::Arp, arp(op, sha, spa, tha, tpa)));
  }
  // Sends one UDP datagram to `dst` from a fresh socket; returns send's result.
  int send_udp(wire::Ipv4Address dst, std::string_view text = "hello") {
    UdpLayer& udp = stack().udp();
    auto s = udp.open();
    Bytes b = bytes_of(text);
    OutSegment seg{b, nullptr};
    int rc = udp.send(s, Endpoint{dst, 7}, std::span<const OutSegment>(&seg, 1));
    run();
    return rc;
  }
  const ArpCache::Entry* entry(wire::Ipv4Address a) { return stack().arp().cache().find(a); }

  static bool is_request_for(const Bytes& frame, wire::Ipv4Address target) {
    Parsed p = parse(frame);
    return p.arp && p.arp->operation == ArpOperation::Request && p.arp->target_protocol_addr == target &&
           p.eth.dst.is_broadcast();
  }
};

struct RecordingListener final : UnreachableListener {
  void host_unreachable(wire::Ipv4Address dst) override { heard.push_back(dst); }
  std::vector<wire::Ipv4Address> heard;
};

// ---------------------------------------------------------------- RFC 826 receive

TEST_F(ArpTest, rfc826_request_for_us_is_answered_and_teaches_the_sender) {
  inject_arp(ArpOperation::Request, kPeerMac, kPeerIp, wire::EthernetAddress{}, kOurIp);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  // The reply, byte for byte: unicast to the asker, our pair as sender, the asker's as target.
  EXPECT_EQ(frames[0], ethernet(kPeerMac, kOurMac, wire::EtherType::Arp,
                                arp(ArpOperation::Reply, kOurMac, kOurIp, kPeerMac, kPeerIp)));
  const ArpCache::Entry* e = entry(kPeerIp);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->state, ArpCache::State::Reachable);
  EXPECT_EQ(e->mac, kPeerMac);
  EXPECT_EQ(counter("arp.learned"), 1u);
  EXPECT_EQ(counter("arp.replies_sent"), 1u);
}

TEST_F(ArpTest, rfc826_request_for_another_host_teaches_nothing_and_is_not_answered) {
  inject_arp(ArpOperation::Request, kPeerMac, kPeerIp, wire::EthernetAddress{}, kOtherIp);
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(entry(kPeerIp), nullptr);
}

TEST_F(ArpTest, rfc826_merge_updates_a_known_sender_even_when_not_addressed_to_us) {
  learn_peer();
  const auto new_mac = mac("02:00:00:00:00:99");
  inject_arp(ArpOperation::Request, new_mac, kPeerIp, wire::EthernetAddress{}, kOtherIp);
  ASSERT_NE(entry(kPeerIp), nullptr);
  EXPECT_EQ(entry(kPeerIp)->mac, new_mac);
  EXPECT_EQ(counter("arp.updated"), 1u);
  EXPECT_TRUE(sent().empty());
}

TEST_F(ArpTest, gratuitous_arp_from_a_known_host_updates_it) {
  learn_peer();
  const auto new_mac = mac("02:00:00:00:00:77");
  inject_arp(ArpOperation::Request, new_mac, kPeerIp, wire::EthernetAddress{}, kPeerIp);
  EXPECT_EQ(entry(kPeerIp)->mac, new_mac);
}

TEST_F(ArpTest, unsolicited_reply_to_us_is_learned) {
  inject_arp(ArpOperation::Reply, kPeerMac, kPeerIp, kOurMac, kOurIp, kOurMac);
  ASSERT_NE(entry(kPeerIp), nullptr);
  EXPECT_EQ(entry(kPeerIp)->state, ArpCache::State::Reachable);
  EXPECT_TRUE(sent().empty());
}

TEST_F(ArpTest, probe_from_unspecified_sender_is_answered_but_not_learned) {
  // RFC 5227 2.1.1: a probe asks about our address with sender 0.0.0.0; we defend it.
  inject_arp(ArpOperation::Request, kPeerMac, wire::Ipv4Address{}, wire::EthernetAddress{}, kOurIp);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(parse(frames[0]).arp->operation, ArpOperation::Reply);
  EXPECT_EQ(stack().arp().cache().size(), 0u);
}

TEST_F(ArpTest, poisoning_attempts_are_dropped_and_counted) {
  // A multicast sender hardware address.
  inject_arp(ArpOperation::Request, mac("01:00:5e:00:00:01"), kPeerIp, wire::EthernetAddress{}, kOurIp);
  EXPECT_EQ(counter("arp.drop.bad_sender"), 1u);
  // Someone claiming our own address.
  inject_arp(ArpOperation::Reply, kPeerMac, kOurIp, kOurMac, kOurIp);
  EXPECT_EQ(counter("arp.drop.conflict"), 1u);
  // Too short to be ARP.
  inject(ethernet(kOurMac, kPeerMac, wire::EtherType::Arp, bytes_of("short")));
  EXPECT_EQ(counter("arp.drop.malformed"), 1u);
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(stack().arp().cache().size(), 0u);
}

// ---------------------------------------------------------------- resolution

TEST_F(ArpTest, send_resolves_then_releases_the_queued_packet) {
  EXPECT_EQ(send_udp(kPeerIp, "first"), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], ethernet(wire::EthernetAddress::BROADCAST, kOurMac, wire::EtherType::Arp,
                                arp(ArpOperation::Request, kOurMac, kOurIp, wire::EthernetAddress{}, kPeerIp)));
  EXPECT_EQ(entry(kPeerIp)->state, ArpCache::State::Incomplete);
  EXPECT_EQ(entry(kPeerIp)->queue.size(), 1u);

  inject_arp(ArpOperation::Reply, kPeerMac, kPeerIp, kOurMac, kOurIp, kOurMac);
  frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  Parsed p = parse(frames[0]);
  EXPECT_EQ(p.eth.dst, kPeerMac);
  ASSERT_TRUE(p.ip.has_value());
  EXPECT_EQ(p.ip->dst_addr, kPeerIp);
  EXPECT_EQ(string_of(std::span<const std::byte>(p.l4).subspan(8)), "first");
  EXPECT_EQ(counter("arp.resolved"), 1u);
  // Known now: the next packet goes at once.
  EXPECT_EQ(send_udp(kPeerIp, "second"), 0);
  frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(parse(frames[0]).eth.dst, kPeerMac);
}

TEST_F(ArpTest, requests_are_retried_with_exponential_backoff_then_the_host_is_unreachable) {
  set("catnip.arp.request_timeout_ms", "100");
  set("catnip.arp.retries", "3");
  set("catnip.arp.failure_hold_ms", "5000");
  RecordingListener listener;
  stack().arp().add_listener(&listener);
  EXPECT_EQ(send_udp(kPeerIp, "a"), 0);
  EXPECT_EQ(send_udp(kPeerIp, "b"), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);  // one request for both packets
  EXPECT_TRUE(is_request_for(frames[0], kPeerIp));
  // Waits of 100, 200, 400 ms between requests, then 800 ms before giving up.
  const sched::Duration waits[] = {100ms, 200ms, 400ms};
  for (sched::Duration w : waits) {
    advance(w - 1ms);
    EXPECT_TRUE(sent().empty()) << "a request came early";
    advance(1ms);
    frames = sent();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_TRUE(is_request_for(frames[0], kPeerIp));
  }
  advance(799ms);
  EXPECT_TRUE(listener.heard.empty());
  EXPECT_EQ(entry(kPeerIp)->state, ArpCache::State::Incomplete);
  advance(1ms);
  EXPECT_TRUE(sent().empty());
  ASSERT_EQ(listener.heard.size(), 1u);
  EXPECT_EQ(listener.heard[0], kPeerIp);
  EXPECT_EQ(entry(kPeerIp)->state, ArpCache::State::Failed);
  EXPECT_EQ(counter("arp.requests_sent"), 4u);
  EXPECT_EQ(counter("arp.failures"), 1u);
  EXPECT_EQ(counter("arp.drop.unresolved"), 2u);
  // Held unreachable: a send fails at once, with no request.
  EXPECT_EQ(send_udp(kPeerIp), EHOSTUNREACH);
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("arp.drop.unreachable"), 1u);
  // After the hold, it is tried afresh.
  advance(5000ms);
  EXPECT_EQ(send_udp(kPeerIp), 0);
  frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(is_request_for(frames[0], kPeerIp));
}

TEST_F(ArpTest, failure_notifies_each_destination_that_waited_on_the_gateway) {
  set("catnip.ipv4.gateway", "10.0.0.254");
  set("catnip.arp.request_timeout_ms", "10");
  set("catnip.arp.retries", "0");
  RecordingListener listener;
  stack().arp().add_listener(&listener);
  EXPECT_EQ(send_udp(kRemoteIp), 0);
  EXPECT_EQ(send_udp(ip("192.168.7.10")), 0);
  EXPECT_EQ(send_udp(kRemoteIp), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(is_request_for(frames[0], kGatewayIp));
  advance(10ms);
  // The gateway itself, then each destination once.
  EXPECT_EQ(listener.heard, (std::vector<wire::Ipv4Address>{kGatewayIp, kRemoteIp, ip("192.168.7.10")}));
}

TEST_F(ArpTest, the_queue_of_a_resolving_neighbour_is_bounded) {
  set("catnip.arp.queue_limit", "2");
  EXPECT_EQ(send_udp(kPeerIp, "1"), 0);
  EXPECT_EQ(send_udp(kPeerIp, "2"), 0);
  EXPECT_EQ(send_udp(kPeerIp, "3"), ENOBUFS);
  EXPECT_EQ(counter("arp.drop.queue_full"), 1u);
  sent();
  inject_arp(ArpOperation::Reply, kPeerMac, kPeerIp, kOurMac, kOurIp, kOurMac);
  EXPECT_EQ(sent().size(), 2u);
}

TEST_F(ArpTest, entries_expire_and_are_resolved_again) {
  set("catnip.arp.entry_timeout_ms", "1000");
  learn_peer();
  EXPECT_EQ(send_udp(kPeerIp), 0);
  EXPECT_EQ(parse(sent().at(0)).eth.dst, kPeerMac);
  advance(999ms);
  EXPECT_EQ(send_udp(kPeerIp), 0);
  EXPECT_EQ(parse(sent().at(0)).eth.dst, kPeerMac);
  advance(1ms);
  EXPECT_EQ(send_udp(kPeerIp), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(is_request_for(frames[0], kPeerIp));
}

TEST_F(ArpTest, a_refresh_from_the_peer_extends_the_entry) {
  set("catnip.arp.entry_timeout_ms", "1000");
  learn_peer();
  advance(800ms);
  learn_peer();
  advance(800ms);
  EXPECT_EQ(send_udp(kPeerIp), 0);
  EXPECT_EQ(parse(sent().at(0)).eth.dst, kPeerMac);
}

// ---------------------------------------------------------------- start-up

TEST_F(ArpTest, gratuitous_arp_announces_our_address_on_start) {
  set("catnip.arp.gratuitous", "true");
  stack();
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], ethernet(wire::EthernetAddress::BROADCAST, kOurMac, wire::EtherType::Arp,
                                arp(ArpOperation::Request, kOurMac, kOurIp, wire::EthernetAddress{}, kOurIp)));
  EXPECT_EQ(counter("arp.gratuitous_sent"), 1u);
}

TEST_F(ArpTest, static_entries_are_used_at_once_and_never_overwritten) {
  set("catnip.arp.static", "[10.0.0.1=02:00:00:00:00:01, 10.0.0.3=02:00:00:00:00:03]");
  EXPECT_EQ(send_udp(kPeerIp), 0);
  auto frames = sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(parse(frames[0]).eth.dst, kPeerMac);
  inject_arp(ArpOperation::Reply, mac("02:00:00:00:00:66"), kPeerIp, kOurMac, kOurIp, kOurMac);
  EXPECT_EQ(entry(kPeerIp)->state, ArpCache::State::Permanent);
  EXPECT_EQ(entry(kPeerIp)->mac, kPeerMac);
  advance(std::chrono::hours(48));
  EXPECT_EQ(send_udp(kPeerIp), 0);
  EXPECT_EQ(parse(sent().at(0)).eth.dst, kPeerMac);
}

TEST_F(ArpTest, bad_static_entries_are_refused_naming_the_key) {
  ASSERT_EQ(config_.set("catnip.arp.static", "10.0.0.1-02:00:00:00:00:01"), 0);
  std::string why;
  EXPECT_FALSE(InetConfig::from(config_, &why).ok());
  EXPECT_NE(why.find("catnip.arp.static"), std::string::npos) << why;
}

// ---------------------------------------------------------------- the cache alone

TEST(ArpCacheTest, states_and_deadlines) {
  ArpConfig c;
  c.entry_timeout = 10s;
  c.request_timeout = 1s;
  c.retries = 2;
  c.failure_hold = 3s;
  ArpCache cache(c);
  const sched::Instant t0{};
  const auto a = ip("10.0.0.1");
  EXPECT_FALSE(cache.lookup(a, t0));
  ArpCache::Entry& e = cache.resolve(a, t0);
  EXPECT_EQ(e.state, ArpCache::State::Incomplete);
  cache.request_sent(e, t0);
  EXPECT_EQ(e.deadline, t0 + 1s);
  cache.request_sent(e, t0 + 1s);
  EXPECT_EQ(e.deadline, t0 + 3s);  // 1 s + 2 s
  cache.request_sent(e, t0 + 3s);
  EXPECT_EQ(e.deadline, t0 + 7s);  // + 4 s
  EXPECT_TRUE(cache.exhausted(e));
  EXPECT_EQ(cache.due(t0 + 7s), std::vector<wire::Ipv4Address>{a});
  std::vector<runtime::TxFrame> dropped;
  cache.fail(a, t0 + 7s, &dropped);
  EXPECT_TRUE(cache.failed(a, t0 + 9s));
  EXPECT_FALSE(cache.failed(a, t0 + 10s));
  EXPECT_EQ(cache.sweep(t0 + 10s), 1u);
  EXPECT_EQ(cache.size(), 0u);

  cache.add(a, mac("02:00:00:00:00:01"), t0);
  EXPECT_TRUE(cache.lookup(a, t0 + 9s));
  EXPECT_FALSE(cache.lookup(a, t0 + 10s));
}

}  // namespace
}  // namespace demi::net::test
