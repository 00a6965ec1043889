#include "net/wire/arp.h"

#include <cassert>
#include <cstring>

#include "net/wire/bytes.h"

namespace demi::net::wire {

using namespace arp_field;

namespace {
constexpr uint8_t kEthernetAddressLen = ethernet_field::ADDRESS_LEN;
constexpr uint8_t kIpv4AddressLen = 4;
}  // namespace

std::optional<ArpRepr> ArpRepr::parse(std::span<const std::byte> b, WireError* err) {
  if (b.size() < kLength) return detail::refuse(err, WireError::Truncated);
  // RFC 826 "Packet Reception": a packet whose hardware or protocol type we do not have is
  // discarded; the lengths must then be the ones those types imply.
  if (load_be16(b, HTYPE) != kArpHardwareEthernet || load_be16(b, PTYPE) != kArpProtocolIpv4 ||
      load8(b, HLEN) != kEthernetAddressLen || load8(b, PLEN) != kIpv4AddressLen)
    return detail::refuse(err, WireError::Unsupported);
  const uint16_t op = load_be16(b, OPER);
  if (op != static_cast<uint16_t>(ArpOperation::Request) && op != static_cast<uint16_t>(ArpOperation::Reply))
    return detail::refuse(err, WireError::Unsupported);
  ArpRepr r;
  r.operation = static_cast<ArpOperation>(op);
  std::memcpy(r.source_hardware_addr.octets.data(), b.subspan(SHA, kEthernetAddressLen).data(), kEthernetAddressLen);
  r.source_protocol_addr = Ipv4Address{load_be32(b, SPA)};
  std::memcpy(r.target_hardware_addr.octets.data(), b.subspan(THA, kEthernetAddressLen).data(), kEthernetAddressLen);
  r.target_protocol_addr = Ipv4Address{load_be32(b, TPA)};
  return r;
}

void ArpRepr::emit(std::span<std::byte> out) const {
  assert(out.size() >= kLength);
  store_be16(out, HTYPE, kArpHardwareEthernet);
  store_be16(out, PTYPE, kArpProtocolIpv4);
  store8(out, HLEN, kEthernetAddressLen);
  store8(out, PLEN, kIpv4AddressLen);
  store_be16(out, OPER, static_cast<uint16_t>(operation));
  std::memcpy(out.subspan(SHA, kEthernetAddressLen).data(), source_hardware_addr.octets.data(), kEthernetAddressLen);
  store_be32(out, SPA, source_protocol_addr.value);
  std::memcpy(out.subspan(THA, kEthernetAddressLen).data(), target_hardware_addr.octets.data(), kEthernetAddressLen);
  store_be32(out, TPA, target_protocol_addr.value);
}

}  // namespace demi::net::wire
