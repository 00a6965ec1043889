#include "net/wire/ipv4.h"

#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

namespace demi::net::wire {

using namespace ipv4_field;

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  uint32_t v = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    std::size_t n = 0;
    unsigned octet = 0;
    while (n < text.size() && text[n] >= '0' && text[n] <= '9' && n < 4) octet = octet * 10 + unsigned(text[n++] - '0');
    if (n == 0 || n > 3 || (n > 1 && text[0] == '0') || octet > 255) return std::nullopt;
    v = (v << 8) | octet;
    text.remove_prefix(n);
  }
  if (!text.empty()) return std::nullopt;
  return Ipv4Address{v};
}

std::string Ipv4Address::to_string() const {
  return fmt::format("{}.{}.{}.{}", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
}

namespace {
bool header_ok(std::span<const std::byte> b, bool need_total, WireError* err) {
  auto fail = [err](WireError e) {
    if (err) *err = e;
    return false;
  };
  if (b.size() < kIpv4MinHeaderLen) return fail(WireError::Truncated);
  uint8_t vi = load8(b, VER_IHL);
  if ((vi >> 4) != 4) return fail(WireError::BadVersion);
  std::size_t hl = static_cast<std::size_t>(vi & 0x0fu) * 4;
  if (hl < kIpv4MinHeaderLen) return fail(WireError::BadHeaderLength);
  if (hl > b.size()) return fail(WireError::Truncated);
  if (need_total) {
    std::size_t total = load_be16(b, LENGTH);
    if (total < hl) return fail(WireError::BadLength);
    if (total > b.size()) return fail(WireError::Truncated);
  }
  return true;
}
}  // namespace

std::optional<Ipv4View> Ipv4View::checked(std::span<const std::byte> b, WireError* err) {
  if (!header_ok(b, true, err)) return std::nullopt;
  return Ipv4View{b};
}

uint8_t Ipv4View::version() const { return load8(b_, VER_IHL) >> 4; }
std::size_t Ipv4View::header_len() const { return static_cast<std::size_t>(load8(b_, VER_IHL) & 0x0fu) * 4; }
uint8_t Ipv4View::tos() const { return load8(b_, TOS); }
std::size_t Ipv4View::total_len() const { return load_be16(b_, LENGTH); }
uint16_t Ipv4View::ident() const { return load_be16(b_, IDENT); }
bool Ipv4View::dont_frag() const { return load_be16(b_, FLG_OFF) & 0x4000; }
bool Ipv4View::more_frags() const { return load_be16(b_, FLG_OFF) & 0x2000; }
uint16_t Ipv4View::frag_offset() const { return static_cast<uint16_t>((load_be16(b_, FLG_OFF) & 0x1fff) * 8); }
uint8_t Ipv4View::hop_limit() const { return load8(b_, TTL); }
uint8_t Ipv4View::protocol() const { return load8(b_, PROTOCOL); }
uint16_t Ipv4View::checksum() const { return load_be16(b_, CHECKSUM); }
Ipv4Address Ipv4View::src_addr() const { return Ipv4Address{load_be32(b_, SRC)}; }
Ipv4Address Ipv4View::dst_addr() const { return Ipv4Address{load_be32(b_, DST)}; }

bool Ipv4View::verify_checksum() const {
  Checksum c;
  c.add(b_.first(header_len()));
  return c.folded() == 0xffff;
}

void Ipv4View::set_checksum(uint16_t c) {
  if (w_.size() >= kIpv4MinHeaderLen) store_be16(w_, CHECKSUM, c);  // a read-only view writes nothing
}

void Ipv4View::fill_checksum() {
  set_checksum(0);
  set_checksum(internet_checksum(w_.first(header_len())));
}

std::optional<Ipv4Repr> Ipv4Repr::parse(const Ipv4View& v, bool verify, WireError* err) {
  if (verify && !v.verify_checksum()) {
    if (err) *err = WireError::BadChecksum;
    return std::nullopt;
  }
  Ipv4Repr r;
  r.src_addr = v.src_addr();
  r.dst_addr = v.dst_addr();
  r.protocol = v.protocol();
  r.header_len = v.header_len();
  r.payload_len = static_cast<uint16_t>(v.total_len() - v.header_len());
  r.hop_limit = v.hop_limit();
  r.tos = v.tos();
  r.ident = v.ident();
  r.dont_frag = v.dont_frag();
  r.more_frags = v.more_frags();
  r.frag_offset = v.frag_offset();
  return r;
}

std::optional<Ipv4Repr> Ipv4Repr::parse_quoted(std::span<const std::byte> b, WireError* err) {
  if (!header_ok(b, false, err)) return std::nullopt;
  Ipv4View v{b};
  Ipv4Repr r;
  r.src_addr = v.src_addr();
  r.dst_addr = v.dst_addr();
  r.protocol = v.protocol();
  r.header_len = v.header_len();
  std::size_t total = v.total_len();
  r.payload_len = static_cast<uint16_t>(total > r.header_len ? total - r.header_len : 0);
  r.hop_limit = v.hop_limit();
  r.tos = v.tos();
  r.ident = v.ident();
  r.dont_frag = v.dont_frag();
  r.more_frags = v.more_frags();
  r.frag_offset = v.frag_offset();
  return r;
}

void Ipv4Repr::emit(std::span<std::byte> out) const {
  store8(out, VER_IHL, 0x45);
  store8(out, TOS, tos);
  store_be16(out, LENGTH, static_cast<uint16_t>(kIpv4MinHeaderLen + payload_len));
  store_be16(out, IDENT, ident);
  uint16_t flags = static_cast<uint16_t>((dont_frag ? 0x4000 : 0) | (more_frags ? 0x2000 : 0) | ((frag_offset / 8) & 0x1fff));
  store_be16(out, FLG_OFF, flags);
  store8(out, TTL, hop_limit);
  store8(out, PROTOCOL, protocol);
  store_be16(out, CHECKSUM, 0);
  store_be32(out, SRC, src_addr.value);
  store_be32(out, DST, dst_addr.value);
}

}  // namespace demi::net::wire
