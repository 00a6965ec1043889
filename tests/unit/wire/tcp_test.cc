// TCP headers and options (RFC 9293 3.1-3.2, RFC 7323, RFC 2018).
#include "net/wire/tcp.h"

#include <gtest/gtest.h>

#include "hex_bytes.h"

namespace demi::net::wire {
namespace {

using test::Bytes;
using test::hex;

const Ipv4Address kLo = Ipv4Address::from_octets(127, 0, 0, 1);
const Ipv4Address kGuest = Ipv4Address::from_octets(10, 0, 2, 15);
const Ipv4Address kPeer = Ipv4Address::from_octets(10, 0, 2, 2);

// A connection captured on Linux loopback, 127.0.0.1:58876 -> 127.0.0.1:45678 (TCP segments,
// IP headers removed). Loopback leaves only the pseudo-header sum in the checksum field
// (CHECKSUM_PARTIAL); these have it completed as a NIC would — kSynAsLoopbackSent is the
// SYN exactly as captured.
//
// The SYN: MSS 65495, SACK permitted, timestamps (tsval 358659179), window scale 10, in the
// order and padding Linux always uses.
const Bytes kSyn = hex(
    "e5fc b26e 377a fea0 0000 0000 a002 ffd7 b7ac 0000"
    "0204 ffd7 0402 080a 1560 b46b 0000 0000 0103 030a");
const Bytes kSynAsLoopbackSent = hex(
    "e5fc b26e 377a fea0 0000 0000 a002 ffd7 fe30 0000"
    "0204 ffd7 0402 080a 1560 b46b 0000 0000 0103 030a");
const Bytes kSynAck = hex(
    "b26e e5fc eb40 ae05 377a fea1 a012 ffcb e7d6 0000"
    "0204 ffd7 0402 080a 9457 a232 1560 b46b 0103 030a");
// "hello demi" with PSH, NOP NOP timestamps.
const Bytes kData = hex(
    "e5fc b26e 377a fea1 eb40 ae06 8018 0040 fa82 0000"
    "0101 080a 1560 b46b 9457 a232 6865 6c6c 6f20 6465 6d69");
const Bytes kFin = hex(
    "e5fc b26e 377a feab eb40 ae06 8011 0040 1016 0000"
    "0101 080a 1560 b4a0 9457 a232");
// Captured: the RST Linux answers a SYN to a closed port with (127.0.0.1:45679 -> :50123);
// its checksum is complete, as the kernel computes it in full for these replies.
const Bytes kRst = hex("b26f c3cb 0000 0000 0259 79f3 5014 0000 bf46 0000");

// Built by hand in Linux's layout: a duplicate ACK from 10.0.2.2:80 to 10.0.2.15:51234 after
// losses, with timestamps and two SACK blocks [ack+2896, ack+5792) and [ack+8688, ack+10136).
const Bytes kSackAck = hex(
    "0050 c822 5d2a 9e01 1b0c 3f41 d010 01f5 9938 0000"
    "0101 080a 0a1b 2c3d 1122 3344 0101 0512 1b0c 4a91 1b0c 55e1 1b0c 6131 1b0c 66d9");
// Four SACK blocks fill the option space without timestamps (RFC 2018 3); the last one wraps.
const Bytes kSack4 = hex(
    "0050 c822 5d2a 9e01 1b0c 3f41 e010 01f5 8f92 0000"
    "0101 0522 0000 03e8 0000 07d0 0000 0bb8 0000 0fa0 0000 1388 0000 1770 ffff fc00 0000 0400");

Bytes emit_with_payload(const TcpRepr& r, std::span<const std::byte> payload, Ipv4Address src, Ipv4Address dst,
                        TxChecksum mode = TxChecksum::Compute) {
  Bytes out(r.emitted_header_len() + payload.size());
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(r.emitted_header_len()));
  r.emit(out, payload, src, dst, mode);
  return out;
}

TEST(Tcp, captured_syn_to_repr) {
  WireError err{};
  auto r = TcpRepr::parse(kSyn, kLo, kLo, true, &err);
  ASSERT_TRUE(r) << wire_error_name(err);
  EXPECT_EQ(r->src_port, 58876);
  EXPECT_EQ(r->dst_port, 45678);
  EXPECT_EQ(r->seq, SeqNumber{930807456});
  EXPECT_EQ(r->ack, SeqNumber{0});
  EXPECT_EQ(r->flags, TcpFlags::SYN);
  EXPECT_EQ(r->window, 65495);
  EXPECT_EQ(r->urgent, 0);
  EXPECT_EQ(r->mss, 65495);
  EXPECT_TRUE(r->sack_permitted);
  ASSERT_TRUE(r->timestamps);
  EXPECT_EQ(r->timestamps->tsval, 358659179u);
  EXPECT_EQ(r->timestamps->tsecr, 0u);
  EXPECT_EQ(r->window_scale, 10);
  EXPECT_EQ(r->sack_count, 0);
  EXPECT_EQ(r->header_len, 40u);
  EXPECT_EQ(r->payload_offset(), 40u);
  EXPECT_EQ(r->payload_len, 0u);
  EXPECT_EQ(r->segment_len(), 1u);  // the SYN occupies one sequence number
}

TEST(Tcp, syn_repr_to_bytes_exactly_as_linux_sent_it) {
  auto r = TcpRepr::parse(kSyn, kLo, kLo);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->emitted_header_len(), 40u);
  EXPECT_EQ(emit_with_payload(*r, {}, kLo, kLo), kSyn);
  // Offload leaves the pseudo-header sum, exactly what Linux's loopback left for "the device".
  EXPECT_EQ(emit_with_payload(*r, {}, kLo, kLo, TxChecksum::Offload), kSynAsLoopbackSent);
  // emit() alone + fill_pseudo_checksum(), the way the stack's TCP layer offloads.
  Bytes out(40);
  r->emit(out);
  TcpRepr::fill_pseudo_checksum(out, 40, kLo, kLo);
  EXPECT_EQ(out, kSynAsLoopbackSent);
}

TEST(Tcp, captured_syn_ack_round_trips) {
  auto r = TcpRepr::parse(kSynAck, kLo, kLo);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has(TcpFlags::SYN | TcpFlags::ACK));
  EXPECT_EQ(r->ack, SeqNumber{930807457});
  EXPECT_EQ(r->timestamps, (TcpTimestamps{2488771122u, 358659179u}));
  EXPECT_EQ(emit_with_payload(*r, {}, kLo, kLo), kSynAck);
}

TEST(Tcp, captured_data_segment_round_trips_with_its_payload) {
  auto r = TcpRepr::parse(kData, kLo, kLo);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has(TcpFlags::PSH | TcpFlags::ACK));
  EXPECT_FALSE(r->has(TcpFlags::SYN));
  EXPECT_EQ(r->window, 64);  // scaled by 2^10 on this connection: 65536 bytes
  EXPECT_FALSE(r->mss);
  EXPECT_FALSE(r->window_scale);
  EXPECT_FALSE(r->sack_permitted);
  EXPECT_EQ(r->header_len, 32u);
  EXPECT_EQ(r->payload_len, 10u);
  EXPECT_EQ(r->segment_len(), 10u);
  const auto payload = std::span(kData).subspan(r->payload_offset(), r->payload_len);
  EXPECT_TRUE(test::same_bytes(payload, test::bytes_of("hello demi")));
  EXPECT_EQ(emit_with_payload(*r, payload, kLo, kLo), kData);
  // The payload in pieces of odd sizes sums the same (a scatter-gather chain).
  Bytes out(32);
  r->emit(out);
  const std::span<const std::byte> parts[] = {payload.first(3), payload.subspan(3, 4), payload.subspan(7)};
  TcpRepr::fill_checksum(out, parts, kLo, kLo);
  EXPECT_TRUE(test::same_bytes(out, std::span(kData).first(32)));
}

TEST(Tcp, captured_fin_and_rst) {
  auto fin = TcpRepr::parse(kFin, kLo, kLo);
  ASSERT_TRUE(fin);
  EXPECT_TRUE(fin->has(TcpFlags::FIN | TcpFlags::ACK));
  EXPECT_EQ(fin->segment_len(), 1u);
  EXPECT_EQ(emit_with_payload(*fin, {}, kLo, kLo), kFin);

  auto rst = TcpRepr::parse(kRst, kLo, kLo);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->flags, TcpFlags::RST | TcpFlags::ACK);
  EXPECT_EQ(rst->seq, SeqNumber{0});
  EXPECT_EQ(rst->ack, SeqNumber{39418355});
  EXPECT_EQ(rst->window, 0);
  EXPECT_EQ(rst->header_len, 20u);
  EXPECT_EQ(rst->segment_len(), 0u);
  EXPECT_EQ(emit_with_payload(*rst, {}, kLo, kLo), kRst);
}

TEST(Tcp, sack_blocks_to_repr_and_back) {
  auto r = TcpRepr::parse(kSackAck, kPeer, kGuest);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ack, SeqNumber{0x1b0c3f41});
  ASSERT_EQ(r->sack_count, 2);
  EXPECT_EQ(r->sack[0], (SackBlock{r->ack + 2 * 1448, r->ack + 4 * 1448}));
  EXPECT_EQ(r->sack[1], (SackBlock{r->ack + 6 * 1448, r->ack + 7 * 1448}));
  EXPECT_EQ(r->timestamps, (TcpTimestamps{0x0a1b2c3d, 0x11223344}));
  EXPECT_EQ(r->header_len, 52u);
  EXPECT_EQ(emit_with_payload(*r, {}, kPeer, kGuest), kSackAck);

  auto four = TcpRepr::parse(kSack4, kPeer, kGuest);
  ASSERT_TRUE(four);
  ASSERT_EQ(four->sack_count, 4);
  EXPECT_EQ(four->sack[3].left, SeqNumber{0xfffffc00u});
  EXPECT_LT(four->sack[3].left, four->sack[3].right);  // across the wrap
  EXPECT_EQ(four->sack[3].right - four->sack[3].left, 2048);
  EXPECT_EQ(emit_with_payload(*four, {}, kPeer, kGuest), kSack4);
}

// Options never exceed 40 bytes: SACK blocks that do not fit are left off (the first, the most
// recent, kept), never cut in the middle of an option.
TEST(Tcp, sack_blocks_that_do_not_fit_are_left_off) {
  TcpRepr r;
  r.src_port = 80;
  r.dst_port = 51234;
  r.flags = TcpFlags::ACK;
  r.sack_count = 4;
  for (uint32_t k = 0; k < 4; ++k) r.sack[k] = {SeqNumber{1000 * (2 * k + 1)}, SeqNumber{1000 * (2 * k + 2)}};
  EXPECT_EQ(r.emitted_sack_blocks(), 4u);
  EXPECT_EQ(r.emitted_header_len(), 56u);

  r.timestamps = TcpTimestamps{1, 2};  // 12 bytes: room for 3 (RFC 2018 3)
  EXPECT_EQ(r.emitted_sack_blocks(), 3u);
  EXPECT_EQ(r.emitted_header_len(), 60u);

  r.mss = 1460;  // and every other option: room for 2
  r.sack_permitted = true;
  r.window_scale = 7;
  EXPECT_EQ(r.emitted_sack_blocks(), 2u);
  ASSERT_EQ(r.emitted_header_len(), 60u);
  Bytes out(60);
  r.emit(out, {}, kPeer, kGuest);
  auto back = TcpRepr::parse(out, kPeer, kGuest);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->sack_count, 2);
  EXPECT_EQ(back->sack[0], r.sack[0]);
  EXPECT_EQ(back->sack[1], r.sack[1]);
  EXPECT_EQ(back->mss, 1460);
  EXPECT_EQ(back->window_scale, 7);
  EXPECT_TRUE(back->sack_permitted);
  EXPECT_EQ(back->timestamps, r.timestamps);
}

// Every combination of options emits a header that parses back to the same options.
TEST(Tcp, every_option_combination_round_trips) {
  for (unsigned mask = 0; mask < 32; ++mask) {
    for (uint8_t blocks = 0; blocks <= kTcpMaxSackBlocks; ++blocks) {
      TcpRepr r;
      r.src_port = 1;
      r.dst_port = 2;
      r.seq = SeqNumber{0xfffffff0u};
      r.ack = SeqNumber{7};
      r.flags = TcpFlags::ACK;
      r.window = 1234;
      if (mask & 1) r.mss = 536;
      if (mask & 2) r.window_scale = 14;
      if (mask & 4) r.sack_permitted = true;
      if (mask & 8) r.timestamps = TcpTimestamps{0xdeadbeef, 0x01020304};
      if (mask & 16) r.urgent = 9;
      r.sack_count = blocks;
      for (uint8_t k = 0; k < blocks; ++k) r.sack[k] = {SeqNumber{100u * k}, SeqNumber{100u * k + 50}};
      const Bytes payload = test::bytes_of("xyz");
      const Bytes out = emit_with_payload(r, payload, kGuest, kPeer);
      ASSERT_EQ(out.size() % 4, 3u);  // header a multiple of 4, plus 3 bytes
      ASSERT_LE(r.emitted_header_len(), kTcpMaxHeaderLen);
      auto back = TcpRepr::parse(out, kGuest, kPeer);
      ASSERT_TRUE(back) << mask << "/" << int{blocks};
      TcpRepr expect = r;
      expect.sack_count = static_cast<uint8_t>(r.emitted_sack_blocks());
      for (std::size_t k = expect.sack_count; k < kTcpMaxSackBlocks; ++k) expect.sack[k] = {};
      expect.header_len = r.emitted_header_len();
      expect.payload_len = 3;
      EXPECT_EQ(*back, expect) << mask << "/" << int{blocks};
    }
  }
}

TEST(Tcp, refuses_a_bad_checksum_unless_the_device_checked_it) {
  WireError err{};
  EXPECT_FALSE(TcpRepr::parse(kSynAsLoopbackSent, kLo, kLo, true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
  EXPECT_TRUE(TcpRepr::parse(kSynAsLoopbackSent, kLo, kLo, false));
  Bytes d = kData;
  d[35] ^= std::byte{0x01};  // a payload bit
  EXPECT_FALSE(TcpRepr::parse(d, kLo, kLo, true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
  // Right bytes, wrong addresses: the pseudo-header catches it.
  EXPECT_FALSE(TcpRepr::parse(kData, kLo, Ipv4Address::from_octets(127, 0, 0, 2), true, &err));
  EXPECT_EQ(err, WireError::BadChecksum);
}

TEST(Tcp, refuses_a_bad_data_offset) {
  WireError err{};
  for (std::size_t n = 0; n < kTcpMinHeaderLen; ++n) {
    const test::ExactCopy part{std::span(kRst).first(n)};
    EXPECT_FALSE(TcpRepr::parse(part.span(), kLo, kLo, false, &err)) << n;
    EXPECT_EQ(err, WireError::Truncated);
  }
  for (uint8_t words = 0; words < 5; ++words) {
    Bytes b = kSyn;
    b[12] = static_cast<std::byte>(words << 4);
    EXPECT_FALSE(TcpRepr::parse(b, kLo, kLo, false, &err)) << int{words};
    EXPECT_EQ(err, WireError::BadHeaderLength);
  }
  Bytes b = kSyn;
  b[12] = std::byte{0xb0};  // 44 bytes of header in a 40-byte segment
  EXPECT_FALSE(TcpRepr::parse(b, kLo, kLo, false, &err));
  EXPECT_EQ(err, WireError::Truncated);
  // Every truncation of the SYN: the options are never read past the bytes.
  for (std::size_t n = kTcpMinHeaderLen; n < kSyn.size(); ++n) {
    const test::ExactCopy part{std::span(kSyn).first(n)};
    EXPECT_FALSE(TcpRepr::parse(part.span(), kLo, kLo, false, &err)) << n;
    EXPECT_EQ(err, WireError::Truncated);
  }
}

// Options of the SYN are at 20: MSS(20) SACK-perm(24) TS(26) NOP(36) WS(37).
TEST(Tcp, refuses_bad_option_lengths) {
  struct Edit {
    std::size_t at;
    uint8_t value;
  };
  struct Case {
    const char* what;
    std::vector<Edit> edits;
  };
  const Case cases[] = {
      {"MSS length 5", {{21, 5}}},
      {"MSS length 3", {{21, 3}}},
      {"length 0 (would loop forever if trusted)", {{21, 0}}},
      {"length 1 (would loop forever if trusted)", {{21, 1}}},
      {"SACK-permitted length 3", {{25, 3}}},
      {"timestamps length 8", {{27, 8}}},
      {"window scale length 4, running past the header", {{38, 4}}},
      {"window scale length 4, within the header", {{36, 3}, {37, 4}}},
      {"a kind with no room for its length byte", {{36, 1}, {37, 1}, {38, 1}, {39, 2}}},
      {"an unknown option running past the header", {{36, 30}, {37, 5}}},
  };
  for (const Case& c : cases) {
    Bytes b = kSyn;
    for (const Edit& e : c.edits) b[e.at] = static_cast<std::byte>(e.value);
    const test::ExactCopy exact{b};
    WireError err{};
    EXPECT_FALSE(TcpRepr::parse(exact.span(), kLo, kLo, false, &err)) << c.what;
    EXPECT_EQ(err, WireError::BadOption) << c.what;
  }
}

// RFC 2018 3: a SACK option is 2 + 8n bytes, n from 1 to 4. The option sits at 34 (length at 35).
TEST(Tcp, refuses_a_sack_option_with_a_bad_length) {
  for (uint8_t len : {0, 1, 2, 3, 9, 11, 17, 19, 26, 34, 42, 255}) {
    Bytes b = kSackAck;
    b[35] = static_cast<std::byte>(len);
    const test::ExactCopy exact{b};
    WireError err{};
    EXPECT_FALSE(TcpRepr::parse(exact.span(), kPeer, kGuest, false, &err)) << int{len};
    EXPECT_EQ(err, WireError::BadOption) << int{len};
  }
  // Length 10 (one block) is valid; the second block's bytes then follow as garbage options.
  Bytes one = kSackAck;
  one[35] = std::byte{10};
  one[44] = std::byte{0};  // ... so end the list there
  auto r = TcpRepr::parse(one, kPeer, kGuest, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sack_count, 1);
}

// RFC 9293 3.2: options we do not implement are skipped by their length; End of Option List
// ends the list, whatever follows it.
TEST(Tcp, unknown_options_are_skipped_and_eol_ends_the_list) {
  // Kind 30 (MPTCP) with 2 bytes of data, NOP, then window scale 7.
  Bytes b = hex("0001 0002 0000 0001 0000 0000 7002 1000 0000 0000 1e04 0000 0103 0307");
  auto r = TcpRepr::parse(b, kGuest, kPeer, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->window_scale, 7);

  Bytes eol = kSyn;
  eol[36] = std::byte{tcp_option::END};
  eol[37] = std::byte{0xff};  // garbage after the end
  auto e = TcpRepr::parse(eol, kLo, kLo, false);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->window_scale);
  EXPECT_EQ(e->mss, 65495);
}

TEST(Tcp, window_scale_above_fourteen_is_used_as_fourteen) {
  Bytes b = kSyn;
  b[39] = std::byte{20};  // RFC 7323 2.3
  auto r = TcpRepr::parse(b, kLo, kLo, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->window_scale, 14);
}

// Random damage to a real SYN never crashes a parse or makes it read past the segment (the
// exact-size copy lets ASan see it); whatever parses stays within its bounds.
TEST(Tcp, random_damage_is_refused_or_parsed_within_bounds) {
  test::TestRng rng(9293);
  int parsed = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes b = kSackAck;
    const std::size_t flips = 1 + rng.below(4);
    for (std::size_t f = 0; f < flips; ++f) b[12 + rng.below(b.size() - 12)] = rng.byte();
    b.resize(kTcpMinHeaderLen + rng.below(b.size() - kTcpMinHeaderLen + 1));
    const test::ExactCopy exact{b};
    WireError err{};
    auto r = TcpRepr::parse(exact.span(), kPeer, kGuest, false, &err);
    if (!r) {
      EXPECT_TRUE(err == WireError::Truncated || err == WireError::BadHeaderLength || err == WireError::BadOption)
          << wire_error_name(err);
      continue;
    }
    ++parsed;
    EXPECT_LE(r->header_len, b.size());
    EXPECT_EQ(r->header_len + r->payload_len, b.size());
    EXPECT_LE(r->sack_count, kTcpMaxSackBlocks);
    if (r->window_scale) {
      EXPECT_LE(*r->window_scale, kTcpMaxWindowScale);
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace demi::net::wire
