#include "net/wire/ethernet.h"

#include <cstring>

#include "net/wire/bytes.h"

namespace demi::net::wire {

const EthernetAddress EthernetAddress::BROADCAST{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

std::string EthernetAddress::to_string() const {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", octets[0], octets[1], octets[2], octets[3],
                     octets[4], octets[5]);
}

std::optional<EthernetAddress> EthernetAddress::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  EthernetAddress a;
  for (std::size_t i = 0; i < 6; ++i) {
    int hi = hex(text[i * 3]), lo = hex(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return std::nullopt;
    a.octets[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return a;
}

std::optional<EthernetView> EthernetView::checked(std::span<const std::byte> b, WireError* err) {
  if (b.size() < kEthernetHeaderLen) {
    if (err) *err = WireError::Truncated;
    return std::nullopt;
  }
  return EthernetView{b};
}

static EthernetAddress read_mac(std::span<const std::byte> b, std::size_t at) {
  EthernetAddress a;
  std::memcpy(a.octets.data(), b.data() + at, 6);
  return a;
}

EthernetAddress EthernetView::dst() const { return read_mac(b_, ethernet_field::DST); }
EthernetAddress EthernetView::src() const { return read_mac(b_, ethernet_field::SRC); }
EtherType EthernetView::ethertype() const { return static_cast<EtherType>(load_be16(b_, ethernet_field::ETHERTYPE)); }

std::optional<EthernetRepr> EthernetRepr::parse(EthernetView v, WireError* err) {
  if (v.bytes().size() < kEthernetHeaderLen) {
    if (err) *err = WireError::Truncated;
    return std::nullopt;
  }
  return EthernetRepr{v.src(), v.dst(), v.ethertype()};
}

void EthernetRepr::emit(std::span<std::byte> out) const {
  std::memcpy(out.data() + ethernet_field::DST, dst.octets.data(), 6);
  std::memcpy(out.data() + ethernet_field::SRC, src.octets.data(), 6);
  store_be16(out, ethernet_field::ETHERTYPE, static_cast<uint16_t>(ethertype));
}

}  // namespace demi::net::wire
