#include "net/wire/udp.h"

#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

namespace demi::net::wire {

using namespace udp_field;

std::optional<UdpRepr> UdpRepr::parse(std::span<const std::byte> b, WireError* err) {
  if (b.size() < kUdpHeaderLen) {
    if (err) *err = WireError::Truncated;
    return std::nullopt;
  }
  UdpRepr r{load_be16(b, SRC_PORT), load_be16(b, DST_PORT), load_be16(b, LENGTH), load_be16(b, CHECKSUM)};
  if (r.length < kUdpHeaderLen) {
    if (err) *err = WireError::BadLength;
    return std::nullopt;
  }
  return r;
}

bool UdpRepr::verify(std::span<const std::byte> d, Ipv4Address src, Ipv4Address dst, WireError* err) {
  auto r = parse(d, err);
  if (!r) return false;
  if (r->length > d.size()) {
    if (err) *err = WireError::Truncated;
    return false;
  }
  if (r->checksum == 0) return true;
  Checksum c;
  c.add_pseudo_header(src.value, dst.value, kProtocolUdp, r->length);
  c.add(d.first(r->length));
  if (c.folded() != 0xffff) {
    if (err) *err = WireError::BadChecksum;
    return false;
  }
  return true;
}

void UdpRepr::emit(std::span<std::byte> out) const {
  store_be16(out, SRC_PORT, src_port);
  store_be16(out, DST_PORT, dst_port);
  store_be16(out, LENGTH, length);
  store_be16(out, CHECKSUM, checksum);
}

void UdpRepr::write_checksum(std::span<std::byte> header, uint16_t c) { store_be16(header, CHECKSUM, c); }

uint16_t UdpRepr::compute_checksum(std::span<const std::byte> d, Ipv4Address src, Ipv4Address dst) {
  Checksum c;
  c.add_pseudo_header(src.value, dst.value, kProtocolUdp, static_cast<uint16_t>(d.size()));
  c.add(d.subspan(0, CHECKSUM));
  c.add(d.subspan(CHECKSUM + 2));
  uint16_t v = c.checksum();
  return v == 0 ? 0xffff : v;
}

}  // namespace demi::net::wire
