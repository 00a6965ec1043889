#include "net/wire/udp.h"

#include <cassert>

#include "net/wire/bytes.h"

namespace demi::net::wire {

using namespace udp_field;

namespace {
// RFC 768: an all-zero transmitted checksum means "none", so a computed zero goes out as its
// one's-complement twin 0xffff.
uint16_t transmitted(uint16_t c) { return c == 0 ? 0xffff : c; }
}  // namespace

std::optional<UdpRepr> UdpRepr::parse(std::span<const std::byte> b, WireError* err) {
  if (b.size() < kUdpHeaderLen) return detail::refuse(err, WireError::Truncated);
  UdpRepr r{load_be16(b, SRC_PORT), load_be16(b, DST_PORT), load_be16(b, LENGTH), load_be16(b, CHECKSUM)};
  if (r.length < kUdpHeaderLen) return detail::refuse(err, WireError::BadLength);
  return r;
}

std::optional<UdpRepr> UdpRepr::parse(std::span<const std::byte> d, Ipv4Address src, Ipv4Address dst, bool verify,
                                      WireError* err) {
  auto r = parse(d, err);
  if (!r) return std::nullopt;
  if (r->length > d.size()) return detail::refuse(err, WireError::Truncated);
  if (verify && r->checksum != 0) {
    // RFC 768: the sum covers the pseudo-header, the header and the data, to `length`.
    Checksum c;
    c.add_pseudo_header(src.value, dst.value, kProtocolUdp, r->length);
    c.add(d.first(r->length));
    if (!c.verifies()) return detail::refuse(err, WireError::BadChecksum);
  }
  return r;
}

bool UdpRepr::verify(std::span<const std::byte> d, Ipv4Address src, Ipv4Address dst, WireError* err) {
  return parse(d, src, dst, true, err).has_value();
}

void UdpRepr::emit(std::span<std::byte> header, std::span<const std::byte> payload, Ipv4Address src,
                   Ipv4Address dst, TxChecksum mode) const {
  assert(payload.size() <= 0xffff - kUdpHeaderLen);
  const auto len = static_cast<uint16_t>(kUdpHeaderLen + payload.size());
  UdpRepr h = *this;
  h.length = len;
  h.checksum = 0;
  h.emit(header);
  if (mode == TxChecksum::Offload) {
    write_checksum(header, pseudo_header_sum(src, dst, kProtocolUdp, len));
    return;
  }
  Checksum c;
  c.add_pseudo_header(src.value, dst.value, kProtocolUdp, len);
  c.add(header.first(kUdpHeaderLen));
  c.add(payload);
  write_checksum(header, transmitted(c.checksum()));
}

void UdpRepr::emit(std::span<std::byte> out) const {
  assert(out.size() >= kUdpHeaderLen);
  store_be16(out, SRC_PORT, src_port);
  store_be16(out, DST_PORT, dst_port);
  store_be16(out, LENGTH, length);
  store_be16(out, CHECKSUM, checksum);
}

void UdpRepr::write_checksum(std::span<std::byte> header, uint16_t c) { store_be16(header, CHECKSUM, c); }

uint16_t UdpRepr::compute_checksum(std::span<const std::byte> d, Ipv4Address src, Ipv4Address dst) {
  Checksum c;
  c.add_pseudo_header(src.value, dst.value, kProtocolUdp, static_cast<uint16_t>(d.size()));
  c.add(d.first(CHECKSUM));
  c.add(d.subspan(CHECKSUM + 2));
  return transmitted(c.checksum());
}

}  // namespace demi::net::wire
