#include "net/wire/ethernet.h"

#include <cassert>
#include <cstring>

#include "net/wire/bytes.h"

namespace demi::net::wire {

using namespace ethernet_field;

const EthernetAddress EthernetAddress::BROADCAST = EthernetAddress::broadcast();

std::string EthernetAddress::to_string() const {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", octets[0], octets[1], octets[2], octets[3],
                     octets[4], octets[5]);
}

std::optional<EthernetAddress> EthernetAddress::parse(std::string_view text) {
  // Six two-digit groups and five separators.
  if (text.size() != 3 * ADDRESS_LEN - 1) return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  EthernetAddress a;
  for (std::size_t i = 0; i < ADDRESS_LEN; ++i) {
    const int hi = hex(text[i * 3]);
    const int lo = hex(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i + 1 < ADDRESS_LEN && text[i * 3 + 2] != sep) return std::nullopt;  // one separator throughout
    a.octets[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return a;
}

std::optional<EthernetView> EthernetView::check(std::span<const std::byte> b, WireError* err) {
  if (b.size() < kEthernetHeaderLen) return detail::refuse(err, WireError::Truncated);
  return EthernetView{b};
}

namespace {
EthernetAddress load_address(std::span<const std::byte> b, std::size_t at) {
  EthernetAddress a;
  std::memcpy(a.octets.data(), b.subspan(at, ADDRESS_LEN).data(), ADDRESS_LEN);
  return a;
}
void store_address(std::span<std::byte> b, std::size_t at, const EthernetAddress& a) {
  std::memcpy(b.subspan(at, ADDRESS_LEN).data(), a.octets.data(), ADDRESS_LEN);
}
}  // namespace

EthernetAddress EthernetView::dst() const { return load_address(b_, DST); }
EthernetAddress EthernetView::src() const { return load_address(b_, SRC); }
EtherType EthernetView::ethertype() const { return static_cast<EtherType>(load_be16(b_, ETHERTYPE)); }

std::optional<EthernetRepr> EthernetRepr::parse(EthernetView v, WireError* err) {
  // A view may have been built unchecked: check again (it costs one comparison).
  if (v.bytes().size() < kEthernetHeaderLen) return detail::refuse(err, WireError::Truncated);
  return EthernetRepr{v.src(), v.dst(), v.ethertype()};
}

std::optional<EthernetRepr> EthernetRepr::parse(std::span<const std::byte> frame, WireError* err) {
  return parse(EthernetView{frame}, err);
}

void EthernetRepr::emit(std::span<std::byte> out) const {
  assert(out.size() >= kEthernetHeaderLen);
  store_address(out, DST, dst);
  store_address(out, SRC, src);
  store_be16(out, ETHERTYPE, static_cast<uint16_t>(ethertype));
}

}  // namespace demi::net::wire
