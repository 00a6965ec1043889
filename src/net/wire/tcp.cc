#include "net/wire/tcp.h"

#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

namespace demi::net::wire {

using namespace tcp_field;

namespace {

bool fail(WireError* err, WireError e) {
  if (err) *err = e;
  return false;
}

// Reads the options in [OPTIONS, header_len). Any length that is short or overruns is an error.
bool parse_options(std::span<const std::byte> h, TcpRepr& r, WireError* err) {
  std::size_t i = OPTIONS;
  while (i < h.size()) {
    uint8_t kind = load8(h, i);
    if (kind == tcp_option::END) break;
    if (kind == tcp_option::NOP) {
      ++i;
      continue;
    }
    if (i + 1 >= h.size()) return fail(err, WireError::BadOption);
    uint8_t len = load8(h, i + 1);
    if (len < 2 || i + len > h.size()) return fail(err, WireError::BadOption);
    switch (kind) {
      case tcp_option::MSS:
        if (len != 4) return fail(err, WireError::BadOption);
        r.mss = load_be16(h, i + 2);
        break;
      case tcp_option::WINDOW_SCALE:
        if (len != 3) return fail(err, WireError::BadOption);
        // RFC 7323 2.3: a shift above 14 is treated as 14.
        r.window_scale = std::min<uint8_t>(load8(h, i + 2), 14);
        break;
      case tcp_option::SACK_PERMITTED:
        if (len != 2) return fail(err, WireError::BadOption);
        r.sack_permitted = true;
        break;
      case tcp_option::SACK: {
        if ((len - 2) % 8 != 0 || len < 10 || len > 2 + 8 * kTcpMaxSackBlocks) return fail(err, WireError::BadOption);
        r.sack_count = static_cast<uint8_t>((len - 2) / 8);
        for (uint8_t k = 0; k < r.sack_count; ++k)
          r.sack[k] = SackBlock{SeqNumber{load_be32(h, i + 2 + 8u * k)}, SeqNumber{load_be32(h, i + 6 + 8u * k)}};
        break;
      }
      case tcp_option::TIMESTAMPS:
        if (len != 10) return fail(err, WireError::BadOption);
        r.timestamps = TcpTimestamps{load_be32(h, i + 2), load_be32(h, i + 6)};
        break;
      default:
        break;  // unknown options are skipped by their length (RFC 9293 3.2)
    }
    i += len;
  }
  return true;
}

}  // namespace

std::optional<TcpRepr> TcpRepr::parse(std::span<const std::byte> s, Ipv4Address src, Ipv4Address dst, bool verify,
                                      WireError* err) {
  if (s.size() < kTcpMinHeaderLen) {
    fail(err, WireError::Truncated);
    return std::nullopt;
  }
  std::size_t hl = static_cast<std::size_t>(load8(s, OFFSET) >> 4) * 4;
  if (hl < kTcpMinHeaderLen) {
    fail(err, WireError::BadHeaderLength);
    return std::nullopt;
  }
  if (hl > s.size()) {
    fail(err, WireError::Truncated);
    return std::nullopt;
  }
  if (verify) {
    Checksum c;
    c.add_pseudo_header(src.value, dst.value, kProtocolTcp, static_cast<uint16_t>(s.size()));
    c.add(s);
    if (c.folded() != 0xffff) {
      fail(err, WireError::BadChecksum);
      return std::nullopt;
    }
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

std::size_t TcpRepr::emitted_header_len() const {
  std::size_t n = kTcpMinHeaderLen;
  if (mss) n += 4;
  if (sack_permitted && timestamps) n += 12;  // SACK-permitted + timestamps share the NOP padding
  else {
    if (sack_permitted) n += 4;
    if (timestamps) n += 12;
  }
  if (window_scale) n += 4;
  if (sack_count) n += 4 + 8 * std::size_t{sack_count};
  return std::min(n, kTcpMaxHeaderLen);
}

void TcpRepr::emit(std::span<std::byte> out) const {
  std::size_t hl = emitted_header_len();
  store_be16(out, SRC_PORT, src_port);
  store_be16(out, DST_PORT, dst_port);
  store_be32(out, SEQ, seq.raw());
  store_be32(out, ACK, ack.raw());
  store8(out, OFFSET, static_cast<uint8_t>((hl / 4) << 4));
  store8(out, FLAGS, flags);
  store_be16(out, WINDOW, window);
  store_be16(out, CHECKSUM, 0);
  store_be16(out, URGENT, urgent);
  // Options in the order Linux sends them, each group padded to 4 bytes with NOPs.
  std::size_t i = OPTIONS;
  auto put8 = [&](uint8_t v) {
    if (i < hl) store8(out, i++, v);
  };
  auto put16 = [&](uint16_t v) {
    put8(static_cast<uint8_t>(v >> 8));
    put8(static_cast<uint8_t>(v & 0xff));
  };
  auto put32 = [&](uint32_t v) {
    put16(static_cast<uint16_t>(v >> 16));
    put16(static_cast<uint16_t>(v & 0xffff));
  };
  if (mss) {
    put8(tcp_option::MSS);
    put8(4);
    put16(*mss);
  }
  if (sack_permitted && timestamps) {
    put8(tcp_option::SACK_PERMITTED);
    put8(2);
    put8(tcp_option::TIMESTAMPS);
    put8(10);
    put32(timestamps->tsval);
    put32(timestamps->tsecr);
  } else {
    if (sack_permitted) {
      put8(tcp_option::NOP);
      put8(tcp_option::NOP);
      put8(tcp_option::SACK_PERMITTED);
      put8(2);
    }
    if (timestamps) {
      put8(tcp_option::NOP);
      put8(tcp_option::NOP);
      put8(tcp_option::TIMESTAMPS);
      put8(10);
      put32(timestamps->tsval);
      put32(timestamps->tsecr);
    }
  }
  if (window_scale) {
    put8(tcp_option::NOP);
    put8(tcp_option::WINDOW_SCALE);
    put8(3);
    put8(*window_scale);
  }
  if (sack_count) {
    put8(tcp_option::NOP);
    put8(tcp_option::NOP);
    put8(tcp_option::SACK);
    put8(static_cast<uint8_t>(2 + 8 * sack_count));
    for (uint8_t k = 0; k < sack_count; ++k) {
      put32(sack[k].left.raw());
      put32(sack[k].right.raw());
    }
  }
  while (i < hl) put8(tcp_option::NOP);
}

void TcpRepr::fill_checksum(std::span<std::byte> header, std::span<const std::span<const std::byte>> payload,
                            Ipv4Address src, Ipv4Address dst) {
  std::size_t hl = static_cast<std::size_t>(load8(header, OFFSET) >> 4) * 4;
  std::size_t len = hl;
  for (auto p : payload) len += p.size();
  store_be16(header, CHECKSUM, 0);
  Checksum c;
  c.add_pseudo_header(src.value, dst.value, kProtocolTcp, static_cast<uint16_t>(len));
  c.add(header.first(hl));
  for (auto p : payload) c.add(p);
  store_be16(header, CHECKSUM, c.checksum());
}

void TcpRepr::fill_pseudo_checksum(std::span<std::byte> header, std::size_t tcp_length, Ipv4Address src,
                                   Ipv4Address dst) {
  Checksum c;
  c.add_pseudo_header(src.value, dst.value, kProtocolTcp, static_cast<uint16_t>(tcp_length));
  store_be16(header, CHECKSUM, c.folded());
}

}  // namespace demi::net::wire
