#include "net/wire/ipv4.h"

#include <cassert>

#include "net/wire/bytes.h"

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
    // At most 4 digits are read, so "0001" and "2555" fail below instead of overflowing.
    while (n < text.size() && n < 4 && text[n] >= '0' && text[n] <= '9')
      octet = octet * 10 + static_cast<unsigned>(text[n++] - '0');
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

std::size_t ihl_bytes(std::span<const std::byte> b) { return static_cast<std::size_t>(load8(b, VER_IHL) & 0x0fu) * 4; }

// RFC 791 3.1 and RFC 1122 3.2.1.1-2: the checks every received header must pass before any
// field is trusted. `need_total` is false for a header quoted in an ICMP error, which is cut
// after 8 bytes of its payload.
bool header_ok(std::span<const std::byte> b, bool need_total, WireError* err) {
  auto fail = [err](WireError e) {
    detail::refuse(err, e);
    return false;
  };
  if (b.size() < kIpv4MinHeaderLen) return fail(WireError::Truncated);
  if ((load8(b, VER_IHL) >> 4) != kIpv4Version) return fail(WireError::BadVersion);
  const std::size_t hl = ihl_bytes(b);
  if (hl < kIpv4MinHeaderLen) return fail(WireError::BadHeaderLength);
  if (hl > b.size()) return fail(WireError::Truncated);
  if (need_total) {
    const std::size_t total = load_be16(b, LENGTH);
    if (total < hl) return fail(WireError::BadLength);
    if (total > b.size()) return fail(WireError::Truncated);
  }
  return true;
}

Ipv4Repr repr_of(const Ipv4View& v, std::size_t total) {
  Ipv4Repr r;
  r.src_addr = v.src_addr();
  r.dst_addr = v.dst_addr();
  r.protocol = v.protocol();
  r.header_len = v.header_len();
  r.payload_len = static_cast<uint16_t>(total > r.header_len ? total - r.header_len : 0);
  r.hop_limit = v.hop_limit();
  r.tos = v.tos();
  r.ident = v.ident();
  r.dont_frag = v.dont_frag();
  r.more_frags = v.more_frags();
  r.frag_offset = v.frag_offset();
  return r;
}

}  // namespace

std::optional<Ipv4View> Ipv4View::check(std::span<const std::byte> b, WireError* err) {
  if (!header_ok(b, true, err)) return std::nullopt;
  return Ipv4View{b};
}

uint8_t Ipv4View::version() const { return load8(b_, VER_IHL) >> 4; }
std::size_t Ipv4View::header_len() const { return ihl_bytes(b_); }
uint8_t Ipv4View::tos() const { return load8(b_, TOS); }
std::size_t Ipv4View::total_len() const { return load_be16(b_, LENGTH); }
uint16_t Ipv4View::ident() const { return load_be16(b_, IDENT); }
bool Ipv4View::dont_frag() const { return (load_be16(b_, FLG_OFF) & FLAG_DF) != 0; }
bool Ipv4View::more_frags() const { return (load_be16(b_, FLG_OFF) & FLAG_MF) != 0; }
uint16_t Ipv4View::frag_offset() const {
  return static_cast<uint16_t>((load_be16(b_, FLG_OFF) & OFFSET_MASK) * OFFSET_UNIT);
}
uint8_t Ipv4View::hop_limit() const { return load8(b_, TTL); }
uint8_t Ipv4View::protocol() const { return load8(b_, PROTOCOL); }
uint16_t Ipv4View::checksum() const { return load_be16(b_, CHECKSUM); }
Ipv4Address Ipv4View::src_addr() const { return Ipv4Address{load_be32(b_, SRC)}; }
Ipv4Address Ipv4View::dst_addr() const { return Ipv4Address{load_be32(b_, DST)}; }
std::span<const std::byte> Ipv4View::options() const { return b_.subspan(OPTIONS, header_len() - OPTIONS); }

bool Ipv4View::verify_checksum() const {
  Checksum c;
  c.add(header());
  return c.verifies();
}

void Ipv4View::set_checksum(uint16_t c) {
  if (w_.size() >= kIpv4MinHeaderLen) store_be16(w_, CHECKSUM, c);  // a read-only view writes nothing
}

void Ipv4View::fill_checksum() {
  if (w_.size() < kIpv4MinHeaderLen) return;
  set_checksum(0);
  set_checksum(internet_checksum(w_.first(header_len())));
}

std::optional<Ipv4Repr> Ipv4Repr::parse(const Ipv4View& v, bool verify, WireError* err) {
  if (verify && !v.verify_checksum()) return detail::refuse(err, WireError::BadChecksum);
  return repr_of(v, v.total_len());
}

std::optional<Ipv4Repr> Ipv4Repr::parse(std::span<const std::byte> packet, bool verify, WireError* err) {
  auto v = Ipv4View::check(packet, err);
  if (!v) return std::nullopt;
  return parse(*v, verify, err);
}

std::optional<Ipv4Repr> Ipv4Repr::parse_quoted(std::span<const std::byte> b, WireError* err) {
  if (!header_ok(b, false, err)) return std::nullopt;
  const Ipv4View v{b};
  return repr_of(v, v.total_len());
}

void Ipv4Repr::emit(std::span<std::byte> out, TxChecksum checksum) const {
  assert(out.size() >= kIpv4MinHeaderLen);
  assert(payload_len <= kIpv4MaxTotalLen - kIpv4MinHeaderLen);
  store8(out, VER_IHL, static_cast<uint8_t>((kIpv4Version << 4) | (kIpv4MinHeaderLen / 4)));
  store8(out, TOS, tos);
  store_be16(out, LENGTH, static_cast<uint16_t>(kIpv4MinHeaderLen + payload_len));
  store_be16(out, IDENT, ident);
  const uint16_t flags = static_cast<uint16_t>((dont_frag ? FLAG_DF : 0) | (more_frags ? FLAG_MF : 0) |
                                               ((frag_offset / OFFSET_UNIT) & OFFSET_MASK));
  store_be16(out, FLG_OFF, flags);
  store8(out, TTL, hop_limit);
  store8(out, PROTOCOL, protocol);
  store_be16(out, CHECKSUM, 0);
  store_be32(out, SRC, src_addr.value);
  store_be32(out, DST, dst_addr.value);
  if (checksum == TxChecksum::Compute) store_be16(out, CHECKSUM, internet_checksum(out.first(kIpv4MinHeaderLen)));
}

uint16_t pseudo_header_sum(Ipv4Address src, Ipv4Address dst, uint8_t protocol, uint16_t length) {
  Checksum c;
  c.add_pseudo_header(src.value, dst.value, protocol, length);
  return c.folded();
}

}  // namespace demi::net::wire
