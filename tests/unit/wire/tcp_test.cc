#include <gtest/gtest.h>

#include "bytes_util.h"
#include "net/wire/tcp.h"

using namespace demi::net::wire;

namespace {
const Ipv4Address kLo = *Ipv4Address::parse("127.0.0.1");

// A Linux SYN captured on loopback: MSS 65495, SACK permitted, timestamps, window scale 10.
// (Loopback leaves the pseudo-header sum in the checksum field: parsed without verification.)
const auto kLinuxSyn = hex("e5fc b26e b96e 9cc1 0000 0000 a002 ffd7 fe30 0000"
                           "0204 ffd7 0402 080a 1541 478a 0000 0000 0103 030a");
// A data segment "hello demi" with NOP NOP timestamps.
const auto kLinuxData = hex("e5fc b26e b96e 9cc2 6d34 49fd 8018 0040 fe32 0000"
                            "0101 080a 1541 478a 9438 3551 6865 6c6c 6f20 6465 6d69");
}  // namespace

TEST(SeqNumber, ComparisonsSurviveWraparound) {
  SeqNumber a{0xfffffff0u}, b{0x10u};
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(b > a);
  EXPECT_EQ(b - a, 0x20);
  EXPECT_EQ(a + 0x20u, b);
  EXPECT_EQ(SeqNumber::max(a, b), b);
  EXPECT_TRUE(SeqNumber{5} <= SeqNumber{5});
}

TEST(Tcp, LinuxSynToReprAndBackByteExact) {
  auto r = TcpRepr::parse(kLinuxSyn, kLo, kLo, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->src_port, 58876);
  EXPECT_EQ(r->dst_port, 45678);
  EXPECT_EQ(r->seq.raw(), 3111034049u);
  EXPECT_TRUE(r->has(TcpFlags::SYN));
  EXPECT_FALSE(r->has(TcpFlags::ACK));
  EXPECT_EQ(r->window, 65495);
  EXPECT_EQ(r->mss, 65495);
  EXPECT_TRUE(r->sack_permitted);
  ASSERT_TRUE(r->timestamps);
  EXPECT_EQ(r->timestamps->tsval, 356599690u);
  EXPECT_EQ(r->timestamps->tsecr, 0u);
  EXPECT_EQ(r->window_scale, 10);
  EXPECT_EQ(r->header_len, 40u);
  EXPECT_EQ(r->payload_len, 0u);
  EXPECT_EQ(r->segment_len(), 1u);
  ASSERT_EQ(r->emitted_header_len(), 40u);
  std::vector<std::byte> out(40);
  r->emit(out);
  TcpRepr::fill_pseudo_checksum(out, 40, kLo, kLo);  // what the loopback device left
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kLinuxSyn.begin()));
}

TEST(Tcp, LinuxDataSegmentAndChecksum) {
  auto seg = kLinuxData;
  auto r = TcpRepr::parse(seg, kLo, kLo, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload_len, 10u);
  EXPECT_TRUE(r->has(TcpFlags::PSH | TcpFlags::ACK));
  EXPECT_FALSE(r->window_scale);
  // Fill the full checksum as a NIC would; then verification accepts it and rejects a flip.
  std::span<const std::byte> payload = std::span<const std::byte>(seg).subspan(32);
  std::span<const std::byte> parts[] = {payload};
  TcpRepr::fill_checksum(std::span(seg).first(32), parts, kLo, kLo);
  EXPECT_TRUE(TcpRepr::parse(seg, kLo, kLo, true));
  WireError err{};
  seg[35] ^= std::byte{0x01};
  EXPECT_FALSE(TcpRepr::parse(seg, kLo, kLo, true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
}

TEST(Tcp, SackBlocksRoundTrip) {
  TcpRepr r;
  r.src_port = 1;
  r.dst_port = 2;
  r.flags = TcpFlags::ACK;
  r.timestamps = TcpTimestamps{1, 2};
  r.sack_count = 3;
  r.sack[0] = {SeqNumber{100}, SeqNumber{200}};
  r.sack[1] = {SeqNumber{300}, SeqNumber{400}};
  r.sack[2] = {SeqNumber{0xfffffff0u}, SeqNumber{0x10}};
  std::vector<std::byte> out(r.emitted_header_len());
  r.emit(out);
  auto p = TcpRepr::parse(out, kLo, kLo, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->sack_count, 3);
  EXPECT_EQ(p->sack[2], r.sack[2]);
  EXPECT_EQ(p->timestamps, r.timestamps);
}

TEST(Tcp, RefusesBadHeadersAndOptions) {
  WireError err{};
  EXPECT_FALSE(TcpRepr::parse(std::span(kLinuxSyn).first(19), kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::Truncated);
  auto b = kLinuxSyn;
  b[12] = std::byte{0x40};  // data offset 4 words
  EXPECT_FALSE(TcpRepr::parse(b, kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::BadHeaderLength);
  b = kLinuxSyn;
  b[12] = std::byte{0xf0};  // data offset 60 > 40 bytes
  EXPECT_FALSE(TcpRepr::parse(b, kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::Truncated);
  b = kLinuxSyn;
  b[21] = std::byte{5};  // MSS option with length 5
  EXPECT_FALSE(TcpRepr::parse(b, kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::BadOption);
  b = kLinuxSyn;
  b[21] = std::byte{0};  // option length 0 (would loop forever if trusted)
  EXPECT_FALSE(TcpRepr::parse(b, kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::BadOption);
  b = kLinuxSyn;
  b[37] = std::byte{3};
  b[38] = std::byte{9};  // window scale option running past the header
  EXPECT_FALSE(TcpRepr::parse(b, kLo, kLo, false, &err));
  // A SACK option whose length is not 2 + 8n.
  auto s = hex("0001 0002 0000 0000 0000 0000 6010 0000 0000 0000 0101 050b 0000 0064 0000 00c8 00");
  s.resize(32);
  EXPECT_FALSE(TcpRepr::parse(s, kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::BadOption);
}

TEST(Tcp, WindowScaleAboveFourteenIsClamped) {
  auto b = kLinuxSyn;
  b[39] = std::byte{20};  // RFC 7323 2.3
  auto r = TcpRepr::parse(b, kLo, kLo, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->window_scale, 14);
}

TEST(Tcp, UnknownOptionsAreSkipped) {
  // Option kind 30 (MPTCP) length 4, then window scale 7.
  auto b = hex("0001 0002 0000 0001 0000 0000 7002 1000 0000 0000 1e04 0000 0103 0307");
  auto r = TcpRepr::parse(b, kLo, kLo, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->window_scale, 7);
}
