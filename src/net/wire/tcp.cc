#include "net/wire/tcp.h"

#include <algorithm>
#include <cassert>

#include "net/wire/bytes.h"

namespace demi::net::wire {

using namespace tcp_field;
using namespace tcp_option;

namespace {

// Reads the options in [OPTIONS, header end) (RFC 9293 3.2). An option is a kind byte, and
// except for END and NOP a length byte counting both; a length that is short, wrong for a
// known kind, or overruns the header is an error: trusting it could read past the header or
// loop forever.
bool parse_options(std::span<const std::byte> h, TcpRepr& r, WireError* err) {
  auto bad = [err] {
    detail::refuse(err, WireError::BadOption);
    return false;
  };
  std::size_t i = OPTIONS;
  while (i < h.size()) {
    const uint8_t kind = load8(h, i);
    if (kind == END) break;  // the rest is padding
    if (kind == NOP) {
      ++i;
      continue;
    }
    if (i + 1 >= h.size()) return bad();
    const uint8_t len = load8(h, i + 1);
    if (len < 2 || i + len > h.size()) return bad();
    switch (kind) {
      case MSS:
        if (len != MSS_LEN) return bad();
        r.mss = load_be16(h, i + 2);
        break;
      case WINDOW_SCALE:
        if (len != WINDOW_SCALE_LEN) return bad();
        // RFC 7323 2.3: a shift above 14 is used as 14.
        r.window_scale = std::min(load8(h, i + 2), kTcpMaxWindowScale);
        break;
      case SACK_PERMITTED:
        if (len != SACK_PERMITTED_LEN) return bad();
        r.sack_permitted = true;
        break;
      case SACK: {
        // RFC 2018 3: 2 + 8n bytes for n blocks; n >= 1, and 40 option bytes hold at most 4.
        const std::size_t blocks = (len - SACK_BASE_LEN) / SACK_BLOCK_LEN;
        if ((len - SACK_BASE_LEN) % SACK_BLOCK_LEN != 0 || blocks < 1 || blocks > kTcpMaxSackBlocks) return bad();
        r.sack_count = static_cast<uint8_t>(blocks);
        for (std::size_t k = 0; k < blocks; ++k) {
          const std::size_t at = i + SACK_BASE_LEN + SACK_BLOCK_LEN * k;
          r.sack[k] = SackBlock{SeqNumber{load_be32(h, at)}, SeqNumber{load_be32(h, at + 4)}};
        }
        break;
      }
      case TIMESTAMPS:
        if (len != TIMESTAMPS_LEN) return bad();
        r.timestamps = TcpTimestamps{load_be32(h, i + 2), load_be32(h, i + 6)};
        break;
      default:
        break;  // RFC 9293 3.2: an option we do not implement is skipped by its length
    }
    i += len;
  }
  return true;
}

// Option bytes before the SACK option, padding included.
std::size_t fixed_option_bytes(const TcpRepr& r) {
  std::size_t n = 0;
  if (r.mss) n += 4;
  if (r.timestamps) n += 12;          // NOP NOP TS, or SACK-permitted TS (sharing the padding)
  else if (r.sack_permitted) n += 4;  // NOP NOP SACK-permitted
  if (r.window_scale) n += 4;         // NOP WS
  return n;
}

constexpr std::size_t kMaxOptionBytes = kTcpMaxHeaderLen - kTcpMinHeaderLen;
constexpr std::size_t kSackOverhead = 4;  // NOP NOP kind length

}  // namespace

std::optional<TcpRepr> TcpRepr::parse(std::span<const std::byte> s, Ipv4Address src, Ipv4Address dst, bool verify,
                                      WireError* err) {
  if (s.size() < kTcpMinHeaderLen) return detail::refuse(err, WireError::Truncated);
  const std::size_t hl = static_cast<std::size_t>(load8(s, OFFSET) >> 4) * 4;
  if (hl < kTcpMinHeaderLen) return detail::refuse(err, WireError::BadHeaderLength);
  if (hl > s.size()) return detail::refuse(err, WireError::Truncated);
  if (verify) {
    // RFC 9293 3.1 "Checksum": over the pseudo-header, the header and the payload.
    Checksum c;
    c.add_pseudo_header(src.value, dst.value, kProtocolTcp, static_cast<uint16_t>(s.size()));
    c.add(s);
    if (!c.verifies()) return detail::refuse(err, WireError::BadChecksum);
  }
  TcpRepr r;
  r.src_port = load_be16(s, SRC_PORT);
  r.dst_port = load_be16(s, DST_PORT);
  r.seq = SeqNumber{load_be32(s, SEQ)};
  r.ack = SeqNumber{load_be32(s, ACK)};
  r.flags = load8(s, FLAGS);
  r.window = load_be16(s, WINDOW);
  r.urgent = load_be16(s, URGENT);
  r.header_len = hl;
  r.payload_len = s.size() - hl;
  if (!parse_options(s.first(hl), r, err)) return std::nullopt;
  return r;
}

std::size_t TcpRepr::emitted_sack_blocks() const {
  const std::size_t fixed = fixed_option_bytes(*this);
  if (sack_count == 0 || fixed + kSackOverhead + SACK_BLOCK_LEN > kMaxOptionBytes) return 0;
  const std::size_t room = (kMaxOptionBytes - fixed - kSackOverhead) / SACK_BLOCK_LEN;
  return std::min({std::size_t{sack_count}, kTcpMaxSackBlocks, room});
}

std::size_t TcpRepr::emitted_header_len() const {
  const std::size_t blocks = emitted_sack_blocks();
  return kTcpMinHeaderLen + fixed_option_bytes(*this) + (blocks ? kSackOverhead + SACK_BLOCK_LEN * blocks : 0);
}

void TcpRepr::emit(std::span<std::byte> out) const {
  const std::size_t hl = emitted_header_len();
  assert(out.size() >= hl && hl <= kTcpMaxHeaderLen);
  store_be16(out, SRC_PORT, src_port);
  store_be16(out, DST_PORT, dst_port);
  store_be32(out, SEQ, seq.raw());
  store_be32(out, ACK, ack.raw());
  store8(out, OFFSET, static_cast<uint8_t>((hl / 4) << 4));
  store8(out, FLAGS, flags);
  store_be16(out, WINDOW, window);
  store_be16(out, CHECKSUM, 0);
  store_be16(out, URGENT, urgent);

  std::size_t i = OPTIONS;
  auto put8 = [&](uint8_t v) { store8(out, i++, v); };
  auto put16 = [&](uint16_t v) {
    store_be16(out, i, v);
    i += 2;
  };
  auto put32 = [&](uint32_t v) {
    store_be32(out, i, v);
    i += 4;
  };
  if (mss) {
    put8(MSS);
    put8(MSS_LEN);
    put16(*mss);
  }
  if (timestamps) {
    // Linux puts SACK-permitted in the two bytes that would otherwise pad the timestamps.
    if (sack_permitted) {
      put8(SACK_PERMITTED);
      put8(SACK_PERMITTED_LEN);
    } else {
      put8(NOP);
      put8(NOP);
    }
    put8(TIMESTAMPS);
    put8(TIMESTAMPS_LEN);
    put32(timestamps->tsval);
    put32(timestamps->tsecr);
  } else if (sack_permitted) {
    put8(NOP);
    put8(NOP);
    put8(SACK_PERMITTED);
    put8(SACK_PERMITTED_LEN);
  }
  if (window_scale) {
    put8(NOP);
    put8(WINDOW_SCALE);
    put8(WINDOW_SCALE_LEN);
    put8(*window_scale);
  }
  if (const std::size_t blocks = emitted_sack_blocks()) {
    put8(NOP);
    put8(NOP);
    put8(SACK);
    put8(static_cast<uint8_t>(SACK_BASE_LEN + SACK_BLOCK_LEN * blocks));
    for (std::size_t k = 0; k < blocks; ++k) {
      put32(sack[k].left.raw());
      put32(sack[k].right.raw());
    }
  }
  assert(i == hl);
}

void TcpRepr::emit(std::span<std::byte> out, std::span<const std::byte> payload, Ipv4Address src, Ipv4Address dst,
                   TxChecksum mode) const {
  emit(out);
  const std::size_t tcp_length = emitted_header_len() + payload.size();
  if (mode == TxChecksum::Offload) {
    fill_pseudo_checksum(out, tcp_length, src, dst);
    return;
  }
  const std::span<const std::byte> parts[] = {payload};
  fill_checksum(out, parts, src, dst);
}

void TcpRepr::fill_checksum(std::span<std::byte> header, std::span<const std::span<const std::byte>> payload,
                            Ipv4Address src, Ipv4Address dst) {
  const std::size_t hl = static_cast<std::size_t>(load8(header, OFFSET) >> 4) * 4;
  std::size_t len = hl;
  for (auto p : payload) len += p.size();
  assert(len <= 0xffff);
  store_be16(header, CHECKSUM, 0);
  Checksum c;
  c.add_pseudo_header(src.value, dst.value, kProtocolTcp, static_cast<uint16_t>(len));
  c.add(header.first(hl));
  for (auto p : payload) c.add(p);
  store_be16(header, CHECKSUM, c.checksum());
}

void TcpRepr::fill_pseudo_checksum(std::span<std::byte> header, std::size_t tcp_length, Ipv4Address src,
                                   Ipv4Address dst) {
  store_be16(header, CHECKSUM, pseudo_header_sum(src, dst, kProtocolTcp, static_cast<uint16_t>(tcp_length)));
}

}  // namespace demi::net::wire
