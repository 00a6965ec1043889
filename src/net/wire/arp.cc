#include "net/wire/arp.h"

#include <cstring>

#include "net/wire/bytes.h"

namespace demi::net::wire {

using namespace arp_field;

std::optional<ArpRepr> ArpRepr::parse(std::span<const std::byte> b, WireError* err) {
  if (b.size() < kLength) {
    if (err) *err = WireError::Truncated;
    return std::nullopt;
  }
  uint16_t op = load_be16(b, OPER);
  if (load_be16(b, HTYPE) != 1 || load_be16(b, PTYPE) != 0x0800 || load8(b, HLEN) != 6 || load8(b, PLEN) != 4 ||
      (op != 1 && op != 2)) {
    if (err) *err = WireError::Unsupported;
    return std::nullopt;
  }
  ArpRepr r;
  r.operation = static_cast<ArpOperation>(op);
  std::memcpy(r.source_hardware_addr.octets.data(), b.data() + SHA, 6);
  r.source_protocol_addr = Ipv4Address{load_be32(b, SPA)};
  std::memcpy(r.target_hardware_addr.octets.data(), b.data() + THA, 6);
  r.target_protocol_addr = Ipv4Address{load_be32(b, TPA)};
  return r;
}

void ArpRepr::emit(std::span<std::byte> out) const {
  store_be16(out, HTYPE, 1);
  store_be16(out, PTYPE, 0x0800);
  store8(out, HLEN, 6);
  store8(out, PLEN, 4);
  store_be16(out, OPER, static_cast<uint16_t>(operation));
  std::memcpy(out.data() + SHA, source_hardware_addr.octets.data(), 6);
  store_be32(out, SPA, source_protocol_addr.value);
  std::memcpy(out.data() + THA, target_hardware_addr.octets.data(), 6);
  store_be32(out, TPA, target_protocol_addr.value);
}

}  // namespace demi::net::wire
