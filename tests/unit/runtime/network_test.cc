#include "runtime/sim/network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "mem/packet_pool.h"
#include "runtime/sim/link_profile.h"
#include "sim_frames.h"

namespace demi::runtime::sim {
namespace {

using namespace std::chrono_literals;
using namespace test;
using sched::Instant;

std::vector<std::byte> bytes_of(const RxFrame& f) {
  return {f.data.data(), f.data.data() + f.data.size()};
}

LinkProfile delay_only(sched::Duration d) {
  LinkProfile p;
  p.delay = d;
  return p;
}

// Two hosts, a and b, on one segment.
struct Pair {
  explicit Pair(uint64_t seed = 1, NetworkConfig config = {}) : net(clock, seed, config) {
    a = net.add_host(kMacA, "a");
    b = net.add_host(kMacB, "b");
  }
  sched::VirtualClock clock;
  Network net;
  Port* a = nullptr;
  Port* b = nullptr;
};

// ---- delivery ------------------------------------------------------------------------------

TEST(SimNetwork, PortsAreDevicesWithTheirMacAndMtuAndNoOffloads) {
  sched::VirtualClock clock;
  Network net(clock, 1);
  Port* a = net.add_host(kMacA, "a");
  ASSERT_NE(a, nullptr);
  const DeviceInfo& info = a->info();
  EXPECT_EQ(info.name, "a");
  EXPECT_EQ(info.mac, kMacA);
  EXPECT_EQ(info.mtu, 1500u);
  EXPECT_FALSE(info.rx_checksum || info.tx_ipv4_checksum || info.tx_l4_checksum || info.tso);
  EXPECT_EQ(a->wait_fd(), -1);
  EXPECT_EQ(a->index(), 0u);
  EXPECT_EQ(net.host(0), a);
  EXPECT_EQ(net.hosts(), 1u);

  Port* small = net.add_host(kMacB, "small", 576);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->info().mtu, 576u);
  EXPECT_EQ(send_seq(*small, kMacA, 1, 590), 1u);
  EXPECT_EQ(send_seq(*small, kMacA, 2, 591), 1u);
  EXPECT_EQ(small->stats().tx_packets, 1u);
  EXPECT_EQ(small->stats().tx_dropped, 1u);
}

TEST(SimNetwork, RejectsDuplicateAndGroupMacsAndOversizedMtu) {
  sched::VirtualClock clock;
  Network net(clock, 1);
  ASSERT_NE(net.add_host(kMacA, "a"), nullptr);
  EXPECT_EQ(net.add_host(kMacA, "again"), nullptr);
  EXPECT_EQ(net.add_host(kBroadcast, "everyone"), nullptr);
  EXPECT_EQ(net.add_host({0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, "multicast"), nullptr);
  EXPECT_EQ(net.add_host(kMacB, "jumbo", 9000), nullptr);  // 2048-byte buffers by default
  EXPECT_EQ(net.hosts(), 1u);
}

TEST(SimNetwork, DeliversAfterTheLinkDelay) {
  Pair s;
  s.net.set_profile_all(delay_only(100us));
  s.clock.advance(5ms);
  EXPECT_FALSE(s.net.next_delivery().has_value());
  EXPECT_EQ(send_seq(*s.a, kMacB, 1), 1u);
  EXPECT_EQ(s.net.in_flight(), 1u);
  EXPECT_EQ(s.net.next_delivery(), Instant{5ms + 100us});

  EXPECT_TRUE(receive_all(*s.b).empty());
  s.clock.advance(99us);
  EXPECT_TRUE(receive_all(*s.b).empty());
  s.clock.advance(1us);
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(bytes_of(got[0]), expected_bytes(kMacB, kMacA, 1));
  EXPECT_EQ(got[0].flags, 0u);
  EXPECT_TRUE(receive_all(*s.a).empty());
  EXPECT_FALSE(s.net.next_delivery().has_value());

  const LinkCounters c = s.net.counters(s.a, s.b);
  EXPECT_EQ(c.sent, 1u);
  EXPECT_EQ(c.delivered, 1u);
  EXPECT_EQ(c.bytes_delivered, 64u);
  EXPECT_EQ(c.dropped(), 0u);
  EXPECT_EQ(s.a->stats().tx_packets, 1u);
  EXPECT_EQ(s.a->stats().tx_bytes, 64u);
  EXPECT_EQ(s.b->stats().rx_packets, 1u);
  EXPECT_EQ(s.b->stats().rx_bytes, 64u);
}

TEST(SimNetwork, WithoutDelayAFrameIsDueAtOnce) {
  Pair s;  // the default profile: no delay, no faults
  send_seq(*s.a, kMacB, 9);
  EXPECT_EQ(s.net.next_delivery(), s.clock.now());
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_seq(got[0]), 9u);
}

TEST(SimNetwork, DeliversInTimeOrderThenSendOrder) {
  Pair s;
  s.net.set_profile_all(delay_only(1ms));
  for (uint32_t i = 0; i < 100; ++i) {
    send_seq(*s.a, kMacB, i);
    if (i % 10 == 9) {
      s.clock.advance(1us);  // ten frames at each instant
    }
  }
  // A faster link later in the same instant: its frame overtakes the ones already in flight.
  s.net.set_profile(s.a, s.b, delay_only(10us));
  send_seq(*s.a, kMacB, 1000);
  s.clock.advance(2ms);
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 101u);
  EXPECT_EQ(frame_seq(got[0]), 1000u);
  for (uint32_t i = 0; i < 100; ++i) {
    EXPECT_EQ(frame_seq(got[i + 1]), i);
  }
}

TEST(SimNetwork, ReceiveHandsOverNoMoreThanAsked) {
  Pair s;
  for (uint32_t i = 0; i < 3; ++i) {
    send_seq(*s.a, kMacB, i);
  }
  std::array<RxFrame, 2> two;
  EXPECT_EQ(s.b->receive(two), 2u);
  EXPECT_EQ(frame_seq(two[0]), 0u);
  EXPECT_EQ(frame_seq(two[1]), 1u);
  EXPECT_EQ(s.b->rx_pending(), 1u);
  EXPECT_EQ(s.net.next_delivery(), s.clock.now());  // the frame left in the ring counts
  EXPECT_EQ(s.b->receive(two), 1u);
  EXPECT_EQ(frame_seq(two[0]), 2u);
  EXPECT_FALSE(s.net.next_delivery().has_value());
}

TEST(SimNetwork, BroadcastReachesEveryOtherHost) {
  sched::VirtualClock clock;
  Network net(clock, 1);
  Port* a = net.add_host(kMacA, "a");
  Port* b = net.add_host(kMacB, "b");
  Port* c = net.add_host(kMacC, "c");
  send_seq(*a, kBroadcast, 5);
  send_seq(*b, {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, 6);  // IPv4 multicast floods too
  auto at_a = receive_all(*a);
  auto at_b = receive_all(*b);
  auto at_c = receive_all(*c);
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(frame_seq(at_a[0]), 6u);
  ASSERT_EQ(at_b.size(), 1u);
  EXPECT_EQ(frame_seq(at_b[0]), 5u);
  ASSERT_EQ(at_c.size(), 2u);
  EXPECT_EQ(frame_seq(at_c[0]), 5u);
  EXPECT_EQ(frame_seq(at_c[1]), 6u);
  EXPECT_NE(at_b[0].data.block(), at_c[0].data.block());  // each receiver owns its copy
  EXPECT_EQ(net.counters(a, b).delivered, 1u);
  EXPECT_EQ(net.counters(a, c).delivered, 1u);
  EXPECT_EQ(net.counters(b, a).delivered, 1u);
  EXPECT_EQ(net.counters(b, c).delivered, 1u);
  EXPECT_EQ(net.totals().delivered, 4u);
}

TEST(SimNetwork, UnknownUnicastIsDroppedAndCounted) {
  Pair s;
  send_seq(*s.a, kMacNobody, 1);
  send_seq(*s.a, kMacA, 2);  // to itself: a segment does not hairpin
  EXPECT_EQ(s.net.in_flight(), 0u);
  EXPECT_TRUE(receive_all(*s.a).empty());
  EXPECT_TRUE(receive_all(*s.b).empty());
  const LinkCounters u = s.net.unknown_destination(s.a);
  EXPECT_EQ(u.sent, 2u);
  EXPECT_EQ(u.dropped_no_such_host, 2u);
  EXPECT_EQ(s.net.counters(s.a, s.b).sent, 0u);
  EXPECT_EQ(s.net.totals().dropped_no_such_host, 2u);
}

TEST(SimNetwork, FramesOfBadLengthAreTakenAndCountedAsTxDropped) {
  Pair s;
  EXPECT_EQ(send_seq(*s.a, kMacB, 1, 1514), 1u);  // MTU 1500 + Ethernet header
  EXPECT_EQ(send_seq(*s.a, kMacB, 2, 1515), 1u);
  TxFrame runt;
  runt.head = s.a->alloc_tx(0);
  runt.head.set_length(10);
  EXPECT_EQ(send(*s.a, std::move(runt)), 1u);
  EXPECT_EQ(s.a->stats().tx_dropped, 2u);
  EXPECT_EQ(s.a->stats().tx_packets, 1u);
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data.size(), 1514u);
}

TEST(SimNetwork, GathersHeadAndPayloadSegments) {
  Pair s;
  mem::PacketPool app(4, 2048);
  const auto want = expected_bytes(kMacB, kMacA, 77, 300);
  TxFrame f;
  f.head = s.a->alloc_tx(64);
  f.head.set_length(40);
  std::memcpy(f.head.data(), want.data(), 40);
  std::size_t at = 40;
  for (std::size_t len : {100u, 1u, 159u}) {
    mem::BufRef p = app.get(0);
    p.set_length(len);
    std::memcpy(p.data(), want.data() + at, len);
    at += len;
    ASSERT_TRUE(f.add_payload(std::move(p)));
  }
  ASSERT_EQ(f.length(), 300u);
  send(*s.a, std::move(f));
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(bytes_of(got[0]), want);
}

// ---- memory --------------------------------------------------------------------------------

TEST(SimNetwork, SenderBuffersAreReleasedByTransmit) {
  Pair s;
  s.net.set_profile_all(delay_only(1ms));
  mem::PacketPool app(8, 2048);
  std::array<TxFrame, 2> frames;
  for (uint32_t i = 0; i < 2; ++i) {
    frames[i] = make_frame(*s.a, kMacB, i, 20);
    mem::BufRef payload = app.get(0);
    payload.set_length(100);
    std::memset(payload.data(), 0x5a, 100);
    frames[i].add_payload(std::move(payload));
  }
  EXPECT_EQ(s.a->tx_pool().in_use(), 2u);
  EXPECT_EQ(app.in_use(), 2u);
  EXPECT_EQ(s.a->transmit(frames), 2u);
  // Still in flight, and the sender already has everything back.
  EXPECT_EQ(s.net.in_flight(), 2u);
  EXPECT_EQ(s.a->tx_pool().in_use(), 0u);
  EXPECT_EQ(app.in_use(), 0u);
  for (const TxFrame& f : frames) {
    EXPECT_FALSE(f.head);
    EXPECT_EQ(f.payload_segments, 0u);
  }
  EXPECT_EQ(s.net.pool().in_use(), 2u);
  s.clock.advance(1ms);
  {
    auto got = receive_all(*s.b);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].data.size(), 120u);
    EXPECT_EQ(got[0].data.data()[119], std::byte{0x5a});
    EXPECT_EQ(s.net.pool().in_use(), 2u);  // now held by the receiving stack
  }
  EXPECT_EQ(s.net.pool().in_use(), 0u);
}

TEST(SimNetwork, PoolExhaustionIsCountedNotFatal) {
  NetworkConfig config;
  config.pool_buffers = 4;
  Pair s(1, config);
  for (uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(send_seq(*s.a, kMacB, i), 1u);
  }
  EXPECT_EQ(s.net.in_flight(), 4u);
  EXPECT_EQ(s.net.pool().available(), 0u);
  LinkCounters c = s.net.counters(s.a, s.b);
  EXPECT_EQ(c.sent, 10u);
  EXPECT_EQ(c.dropped_pool, 6u);
  {
    auto got = receive_all(*s.b);
    ASSERT_EQ(got.size(), 4u);
    send_seq(*s.a, kMacB, 10);  // still exhausted while the stack holds them
    EXPECT_EQ(s.net.counters(s.a, s.b).dropped_pool, 7u);
  }
  EXPECT_EQ(s.net.pool().available(), 4u);
  send_seq(*s.a, kMacB, 11);
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_seq(got[0]), 11u);
}

TEST(SimNetwork, DuplicateWithoutABufferIsCountedAndTheOriginalStillGoes) {
  NetworkConfig config;
  config.pool_buffers = 1;
  Pair s(1, config);
  LinkProfile p;
  p.duplicate = 1.0;
  s.net.set_profile_all(p);
  send_seq(*s.a, kMacB, 3);
  const LinkCounters c = s.net.counters(s.a, s.b);
  EXPECT_EQ(c.duplicated, 0u);
  EXPECT_EQ(c.dropped_pool, 1u);
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_seq(got[0]), 3u);
}

TEST(SimNetwork, FullReceiveRingDropsAndCounts) {
  NetworkConfig config;
  config.rx_ring = 8;
  Pair s(1, config);
  for (uint32_t i = 0; i < 20; ++i) {
    send_seq(*s.a, kMacB, i);
  }
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 8u);
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(frame_seq(got[i]), i);  // the first arrivals stay
  }
  const LinkCounters c = s.net.counters(s.a, s.b);
  EXPECT_EQ(c.delivered, 8u);
  EXPECT_EQ(c.dropped_ring, 12u);
  EXPECT_EQ(s.b->stats().rx_dropped, 12u);
  EXPECT_EQ(s.net.pool().in_use(), 8u);  // the dropped ones went back to the pool
}

// ---- faults --------------------------------------------------------------------------------

TEST(SimNetwork, ProfilesAreOneDirectionEach) {
  Pair s;
  LinkProfile lose_all;
  lose_all.drop = 1.0;
  s.net.set_profile(s.a, s.b, lose_all);
  EXPECT_EQ(s.net.profile(s.a, s.b).drop, 1.0);
  EXPECT_EQ(s.net.profile(s.b, s.a).drop, 0.0);
  send_seq(*s.a, kMacB, 1);
  send_seq(*s.b, kMacA, 2);
  EXPECT_TRUE(receive_all(*s.b).empty());
  EXPECT_EQ(receive_all(*s.a).size(), 1u);
  EXPECT_EQ(s.net.counters(s.a, s.b).dropped_loss, 1u);
}

TEST(SimNetwork, SetProfileAllAppliesToHostsAddedLater) {
  Pair s;
  s.net.set_profile_all(*profile_by_name("slow"));
  Port* c = s.net.add_host(kMacC, "c");
  EXPECT_EQ(s.net.profile(s.a, c).bandwidth_bps, 10'000'000u);
  EXPECT_EQ(s.net.profile(c, s.b).bandwidth_bps, 10'000'000u);
  EXPECT_EQ(s.net.profile(s.a, s.b).bandwidth_bps, 10'000'000u);
}

// Binomial(n, p) has standard deviation sqrt(n p (1 - p)); five of them is a bound a correct
// generator exceeds about once in two million runs (and the seed is fixed anyway).
TEST(SimNetwork, LossRateMatchesTheProfileOver100kFrames) {
  constexpr uint32_t kFrames = 100'000;
  for (auto [name, rate] : {std::pair{"loss1", 0.01}, std::pair{"loss5", 0.05}, std::pair{"loss20", 0.20}}) {
    Pair s(0xC0FFEE);
    s.net.set_profile_all(*profile_by_name(name));
    std::size_t received = 0;
    for (uint32_t i = 0; i < kFrames; ++i) {
      send_seq(*s.a, kMacB, i);
      if (i % 100 == 99) {  // well within the 256-frame receive ring
        s.clock.advance(1ms);
        received += receive_all(*s.b).size();
      }
    }
    const LinkCounters c = s.net.counters(s.a, s.b);
    EXPECT_EQ(c.sent, kFrames) << name;
    EXPECT_EQ(c.delivered + c.dropped_loss, kFrames) << name;
    EXPECT_EQ(received, c.delivered) << name;
    const double expected = kFrames * rate;
    const double sigma = std::sqrt(kFrames * rate * (1 - rate));
    EXPECT_NEAR(static_cast<double>(c.dropped_loss), expected, 5 * sigma) << name;
  }
}

TEST(SimNetwork, DuplicatesArriveTwiceInSeparateBuffers) {
  Pair s;
  LinkProfile always;
  always.duplicate = 1.0;
  always.delay = 10us;
  s.net.set_profile_all(always);
  for (uint32_t i = 0; i < 5; ++i) {
    send_seq(*s.a, kMacB, i);
  }
  s.clock.advance(10us);
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 10u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(frame_seq(got[2 * i]), i);
    EXPECT_EQ(bytes_of(got[2 * i]), bytes_of(got[2 * i + 1]));
    EXPECT_NE(got[2 * i].data.block(), got[2 * i + 1].data.block());
  }
  EXPECT_EQ(s.net.counters(s.a, s.b).duplicated, 5u);
  EXPECT_EQ(s.net.counters(s.a, s.b).delivered, 10u);
}

TEST(SimNetwork, DuplicateRateMatchesThePreset) {
  Pair s(99);
  const LinkProfile dup = *profile_by_name("dup");
  s.net.set_profile_all(dup);
  constexpr uint32_t kFrames = 20'000;
  std::size_t received = 0;
  for (uint32_t i = 0; i < kFrames; ++i) {
    send_seq(*s.a, kMacB, i);
    if (i % 100 == 99) {
      s.clock.advance(1ms);
      received += receive_all(*s.b).size();
    }
  }
  const LinkCounters c = s.net.counters(s.a, s.b);
  EXPECT_EQ(received, kFrames + c.duplicated);
  const double sigma = std::sqrt(kFrames * dup.duplicate * (1 - dup.duplicate));
  EXPECT_NEAR(static_cast<double>(c.duplicated), kFrames * dup.duplicate, 5 * sigma);
}

TEST(SimNetwork, ReorderingLetsLaterFramesOvertake) {
  Pair s(5);
  LinkProfile p;
  p.delay = 100us;
  p.reorder = 0.2;
  p.reorder_delay = 500us;
  s.net.set_profile_all(p);
  constexpr uint32_t kFrames = 1000;
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < kFrames; ++i) {
    send_seq(*s.a, kMacB, i);
    s.clock.advance(10us);
    for (const RxFrame& f : receive_all(*s.b)) {
      order.push_back(frame_seq(f));
    }
  }
  s.clock.advance(1ms);
  for (const RxFrame& f : receive_all(*s.b)) {
    order.push_back(frame_seq(f));
  }

  ASSERT_EQ(order.size(), kFrames);  // every frame exactly once
  EXPECT_EQ(std::set<uint32_t>(order.begin(), order.end()).size(), kFrames);
  std::size_t late = 0;  // frames that arrive after a frame sent later
  uint32_t highest = 0;
  for (uint32_t seq : order) {
    if (seq < highest) {
      ++late;
    }
    highest = std::max(highest, seq);
  }
  const LinkCounters c = s.net.counters(s.a, s.b);
  EXPECT_GT(c.reordered, 150u);
  EXPECT_LT(c.reordered, 250u);
  // A held-back frame is overtaken by the ~50 sent in the next 500 us, unless it is among the
  // last and they are all held back too.
  EXPECT_GE(late + 3, c.reordered);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
}

TEST(SimNetwork, JitterStaysWithinItsRange) {
  Pair s(11);
  LinkProfile p;
  p.delay = 100us;
  p.jitter = 50us;
  s.net.set_profile_all(p);
  std::set<int64_t> delays;
  for (uint32_t i = 0; i < 200; ++i) {
    const Instant sent = s.clock.now();
    send_seq(*s.a, kMacB, i);
    const Instant at = *s.net.next_delivery();
    EXPECT_GE(at - sent, 100us);
    EXPECT_LE(at - sent, 150us);
    delays.insert((at - sent).count());
    s.clock.advance_to(at);
    ASSERT_EQ(receive_all(*s.b).size(), 1u);
  }
  EXPECT_GT(delays.size(), 100u);
}

TEST(SimNetwork, CorruptionFlipsExactlyOneBitOfTheCopy) {
  Pair s(21);
  LinkProfile p;
  p.corrupt = 1.0;
  s.net.set_profile_all(p);
  mem::PacketPool app(1, 2048);
  mem::BufRef payload = app.get(0);  // the application keeps a reference and checks it after
  payload.set_length(82);
  const auto want = expected_bytes(kMacB, kMacA, 0, 100);
  std::memcpy(payload.data(), want.data() + 18, 82);
  std::set<std::size_t> flipped_bits;
  for (int i = 0; i < 200; ++i) {
    TxFrame f = make_frame(*s.a, kMacB, 0, 18);
    f.add_payload(payload);
    send(*s.a, std::move(f));
    auto got = receive_all(*s.b);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].data.size(), 100u);
    int bits = 0;
    for (std::size_t k = 0; k < 100; ++k) {
      const auto x = static_cast<uint8_t>(got[0].data.data()[k] ^ want[k]);
      bits += std::popcount(x);
      if (x) {
        flipped_bits.insert(k * 8 + static_cast<std::size_t>(std::countr_zero(x)));
      }
    }
    EXPECT_EQ(bits, 1);
  }
  EXPECT_EQ(std::memcmp(payload.data(), want.data() + 18, 82), 0);  // the sender's memory is intact
  EXPECT_GT(flipped_bits.size(), 50u);                              // anywhere in the frame
  EXPECT_EQ(s.net.counters(s.a, s.b).corrupted, 200u);
}

TEST(SimNetwork, BandwidthSerializesAndTailDropsBeyondTheQueue) {
  Pair s;
  s.net.set_profile_all(*profile_by_name("slow"));  // 10 Mbit/s, 64 KiB queue, 1 ms delay
  // 1000 bytes take 800 us at 10 Mbit/s. Sent at once, frame k waits for k frames ahead of it:
  // 65 fit in 65536 bytes, the other 35 are dropped at the tail.
  for (uint32_t i = 0; i < 100; ++i) {
    send_seq(*s.a, kMacB, i, 1000);
  }
  LinkCounters c = s.net.counters(s.a, s.b);
  EXPECT_EQ(c.sent, 100u);
  EXPECT_EQ(c.dropped_queue, 35u);
  for (uint32_t k = 0; k < 65; ++k) {
    const Instant due = Instant{(k + 1) * 800us + 1ms};
    ASSERT_EQ(s.net.next_delivery(), due) << k;
    s.clock.advance_to(due - 1ns);
    ASSERT_TRUE(receive_all(*s.b).empty());
    s.clock.advance_to(due);
    auto got = receive_all(*s.b);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(frame_seq(got[0]), k);
  }
  // The queue has drained: a new frame goes at once.
  const Instant now = s.clock.now();
  send_seq(*s.a, kMacB, 100, 125);  // 125 bytes: 100 us
  EXPECT_EQ(s.net.next_delivery(), now + 100us + 1ms);
  EXPECT_EQ(s.net.counters(s.a, s.b).dropped_queue, 35u);
}

TEST(SimNetwork, QueueRoomReturnsAsTheLinkDrains) {
  Pair s;
  LinkProfile p;
  p.bandwidth_bps = 8'000'000;  // one byte per microsecond
  p.queue_bytes = 3000;
  s.net.set_profile_all(p);
  for (uint32_t i = 0; i < 4; ++i) {
    send_seq(*s.a, kMacB, i, 1000);
  }
  EXPECT_EQ(s.net.counters(s.a, s.b).dropped_queue, 1u);  // 3000 bytes queued
  s.clock.advance(999us);                                 // 2001 bytes still to go: no room for 1000 more
  send_seq(*s.a, kMacB, 4, 1000);
  EXPECT_EQ(s.net.counters(s.a, s.b).dropped_queue, 2u);
  s.clock.advance(1us);  // 2000 bytes left
  send_seq(*s.a, kMacB, 5, 1000);
  EXPECT_EQ(s.net.counters(s.a, s.b).dropped_queue, 2u);
  s.clock.advance(10ms);
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(frame_seq(got[3]), 5u);
}

TEST(SimNetwork, PartitionDropsDuringTheWindowAndHeals) {
  Pair s;
  s.net.set_profile_all(*profile_by_name("partition"));  // [1 s, 3 s), 100 us delay
  std::vector<uint32_t> received;
  uint32_t seq = 0;
  for (auto t = 0ms; t < 4s; t += 10ms) {
    s.clock.advance_to(Instant{t});
    for (const RxFrame& f : receive_all(*s.b)) {
      received.push_back(frame_seq(f));
    }
    send_seq(*s.a, kMacB, seq++);
  }
  s.clock.advance(1ms);
  for (const RxFrame& f : receive_all(*s.b)) {
    received.push_back(frame_seq(f));
  }
  // Frame n is sent at n * 10 ms: 0..99 and 300..399 get through.
  ASSERT_EQ(received.size(), 200u);
  for (uint32_t i = 0; i < 100; ++i) {
    EXPECT_EQ(received[i], i);
    EXPECT_EQ(received[100 + i], 300 + i);
  }
  EXPECT_EQ(s.net.counters(s.a, s.b).dropped_partition, 200u);
}

TEST(SimNetwork, PartitionAlsoDropsFramesDueToArriveInside) {
  Pair s;
  s.net.set_profile_all(*profile_by_name("partition"));
  s.clock.advance_to(Instant{1s - 50us});  // sent before the window, due 50 us into it
  send_seq(*s.a, kMacB, 1);
  EXPECT_EQ(s.net.in_flight(), 0u);
  EXPECT_EQ(s.net.counters(s.a, s.b).dropped_partition, 1u);
  s.clock.advance_to(Instant{3s - 50us});  // sent inside the window
  send_seq(*s.a, kMacB, 2);
  EXPECT_EQ(s.net.counters(s.a, s.b).dropped_partition, 2u);
  s.clock.advance_to(Instant{3s});
  send_seq(*s.a, kMacB, 3);
  s.clock.advance(100us);
  auto got = receive_all(*s.b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(frame_seq(got[0]), 3u);
}

// ---- determinism ---------------------------------------------------------------------------

// Three hosts exchanging frames of varied lengths over links with every fault at once.
uint64_t run_scenario(uint64_t seed) {
  sched::VirtualClock clock;
  Network net(clock, seed);
  Port* hosts[] = {net.add_host(kMacA, "a"), net.add_host(kMacB, "b"), net.add_host(kMacC, "c")};
  LinkProfile p;
  p.drop = 0.05;
  p.duplicate = 0.05;
  p.reorder = 0.1;
  p.reorder_delay = 300us;
  p.delay = 100us;
  p.jitter = 50us;
  p.corrupt = 0.05;
  p.bandwidth_bps = 100'000'000;
  p.queue_bytes = uint64_t{32} * 1024;
  net.set_profile_all(p);
  const LinkAddress macs[] = {kMacA, kMacB, kMacC};
  for (uint32_t step = 0; step < 3000; ++step) {
    clock.advance(7us);
    const uint32_t from = step % 3;
    const std::size_t length = 60 + (step * 37) % 1440;
    send_seq(*hosts[from], step % 50 == 0 ? kBroadcast : macs[(from + 1 + step % 2) % 3], step, length);
    for (Port* h : hosts) {
      (void)receive_all(*h);
    }
  }
  while (auto next = net.next_delivery()) {
    clock.advance_to(*next);
    for (Port* h : hosts) {
      (void)receive_all(*h);
    }
  }
  EXPECT_EQ(net.in_flight(), 0u);
  EXPECT_EQ(net.pool().in_use(), 0u);
  const LinkCounters t = net.totals();
  EXPECT_GT(t.dropped_loss, 0u);
  EXPECT_GT(t.dropped_queue, 0u);
  EXPECT_GT(t.duplicated, 0u);
  EXPECT_GT(t.reordered, 0u);
  EXPECT_GT(t.corrupted, 0u);
  EXPECT_EQ(t.sent + t.duplicated, t.delivered + t.dropped());
  return net.digest();
}

TEST(SimNetwork, SameSeedSameDigestOtherSeedOtherDigest) {
  const uint64_t first = run_scenario(7);
  EXPECT_EQ(run_scenario(7), first);
  EXPECT_NE(run_scenario(8), first);
  EXPECT_NE(run_scenario(0), first);
}

// Pinned: the simulator must behave identically with every compiler and standard library
// (this value is checked in g++/libstdc++ and clang builds). If a deliberate change to the
// fault order or the generator moves it, every pinned simulation seed needs review too.
TEST(SimNetwork, DigestIsPinnedAcrossPlatforms) {
  EXPECT_EQ(run_scenario(7), 0xf6e39e12a2284ae6u);
}

TEST(SimNetwork, DigestCoversTimeAndBytes) {
  auto digest_after = [](sched::Duration delay, uint32_t seq) {
    Pair s;
    s.net.set_profile_all(delay_only(delay));
    send_seq(*s.a, kMacB, seq);
    s.clock.advance(1ms);
    (void)receive_all(*s.b);
    return s.net.digest();
  };
  EXPECT_EQ(digest_after(10us, 1), digest_after(10us, 1));
  EXPECT_NE(digest_after(10us, 1), digest_after(20us, 1));
  EXPECT_NE(digest_after(10us, 1), digest_after(10us, 2));
}

}  // namespace
}  // namespace demi::runtime::sim
