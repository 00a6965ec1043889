#include "net/wire/icmp.h"

#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

namespace demi::net::wire {

using namespace icmp_field;

std::optional<IcmpView> IcmpView::checked(std::span<const std::byte> b, WireError* err) {
  if (b.size() < kIcmpHeaderLen) {
    if (err) *err = WireError::Truncated;
    return std::nullopt;
  }
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
  return c.folded() == 0xffff;
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

}  // namespace demi::net::wire
