#include "net/wire/icmp.h"

#include <cassert>
#include <cstring>

#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

namespace demi::net::wire {

using namespace icmp_field;

std::optional<IcmpView> IcmpView::check(std::span<const std::byte> b, WireError* err) {
  if (b.size() < kIcmpHeaderLen) return detail::refuse(err, WireError::Truncated);
  return IcmpView{b};
}

uint8_t IcmpView::type() const { return load8(b_, TYPE); }
uint8_t IcmpView::code() const { return load8(b_, CODE); }
uint16_t IcmpView::checksum() const { return load_be16(b_, CHECKSUM); }
uint16_t IcmpView::echo_ident() const { return load_be16(b_, ECHO_IDENT); }
uint16_t IcmpView::echo_seq() const { return load_be16(b_, ECHO_SEQ); }
uint16_t IcmpView::next_hop_mtu() const { return load_be16(b_, NEXT_HOP_MTU); }
bool IcmpView::verify_checksum() const {
  Checksum c;
  c.add(b_);
  return c.verifies();
}

void IcmpView::set_type(uint8_t v) { store8(w_, TYPE, v); }
void IcmpView::set_code(uint8_t v) { store8(w_, CODE, v); }
void IcmpView::set_checksum(uint16_t v) { store_be16(w_, CHECKSUM, v); }
void IcmpView::set_echo_ident(uint16_t v) { store_be16(w_, ECHO_IDENT, v); }
void IcmpView::set_echo_seq(uint16_t v) { store_be16(w_, ECHO_SEQ, v); }
void IcmpView::fill_checksum() {
  set_checksum(0);
  set_checksum(internet_checksum(w_));
}

namespace {
// The quoted datagram must hold a sane IP header and the 8 bytes after it.
std::optional<Ipv4Repr> parse_quote(std::span<const std::byte> quote, WireError* err) {
  auto original = Ipv4Repr::parse_quoted(quote, err);
  if (!original) return std::nullopt;
  if (quote.size() < original->header_len + kIcmpQuotedPayloadLen) return detail::refuse(err, WireError::Truncated);
  return original;
}
}  // namespace

std::optional<IcmpRepr> IcmpRepr::parse(std::span<const std::byte> message, bool verify, WireError* err) {
  auto v = IcmpView::check(message, err);
  if (!v) return std::nullopt;
  if (verify && !v->verify_checksum()) return detail::refuse(err, WireError::BadChecksum);
  IcmpRepr r;
  r.type = v->type();
  r.code = v->code();
  r.data = v->data();
  if (r.is_echo()) {
    r.ident = v->echo_ident();
    r.seq = v->echo_seq();
    return r;
  }
  if (!r.is_error()) return detail::refuse(err, WireError::Unsupported);
  auto original = parse_quote(r.data, err);
  if (!original) return std::nullopt;
  r.original = *original;
  if (r.type == kIcmpDestUnreachable && r.code == kIcmpFragNeeded) r.next_hop_mtu = v->next_hop_mtu();
  return r;
}

IcmpRepr IcmpRepr::echo_request(uint16_t ident, uint16_t seq, std::span<const std::byte> data) {
  IcmpRepr r;
  r.type = kIcmpEchoRequest;
  r.ident = ident;
  r.seq = seq;
  r.data = data;
  return r;
}

IcmpRepr IcmpRepr::echo_reply(const IcmpRepr& request) {
  IcmpRepr r = echo_request(request.ident, request.seq, request.data);
  r.type = kIcmpEchoReply;
  return r;
}

std::optional<IcmpRepr> IcmpRepr::error(uint8_t type, uint8_t code, std::span<const std::byte> datagram,
                                        uint16_t next_hop_mtu, WireError* err) {
  IcmpRepr r;
  r.type = type;
  r.code = code;
  if (!r.is_error()) return detail::refuse(err, WireError::Unsupported);
  auto original = parse_quote(datagram, err);
  if (!original) return std::nullopt;
  r.next_hop_mtu = next_hop_mtu;
  r.original = *original;
  r.data = datagram.first(original->header_len + kIcmpQuotedPayloadLen);
  return r;
}

void IcmpRepr::emit(std::span<std::byte> out) const {
  assert(out.size() >= buffer_len());
  store8(out, TYPE, type);
  store8(out, CODE, code);
  store_be16(out, CHECKSUM, 0);
  if (is_echo()) {
    store_be16(out, ECHO_IDENT, ident);
    store_be16(out, ECHO_SEQ, seq);
  } else {
    store_be32(out, UNUSED, 0);
    if (type == kIcmpDestUnreachable && code == kIcmpFragNeeded) store_be16(out, NEXT_HOP_MTU, next_hop_mtu);
  }
  // memmove: the data may already be in place, or overlap it.
  if (!data.empty()) std::memmove(out.subspan(DATA, data.size()).data(), data.data(), data.size());
  store_be16(out, CHECKSUM, internet_checksum(out.first(buffer_len())));
}

}  // namespace demi::net::wire
