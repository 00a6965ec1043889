#include "net/wire/checksum.h"

#include "net/wire/wire_error.h"

namespace demi::net::wire {

void Checksum::add(std::span<const std::byte> bytes) {
  std::size_t i = 0;
  if (odd_ && !bytes.empty()) {
    sum_ += static_cast<uint8_t>(bytes[0]);
    odd_ = false;
    i = 1;
  }
  for (; i + 1 < bytes.size(); i += 2)
    sum_ += (static_cast<unsigned>(bytes[i]) << 8) | static_cast<unsigned>(bytes[i + 1]);
  if (i < bytes.size()) {
    sum_ += static_cast<unsigned>(bytes[i]) << 8;
    odd_ = true;
  }
}

void Checksum::add16(uint16_t word) { sum_ += word; }

void Checksum::add_pseudo_header(uint32_t src, uint32_t dst, uint8_t protocol, uint16_t length) {
  add32(src);
  add32(dst);
  add16(protocol);
  add16(length);
}

uint16_t Checksum::folded() const {
  uint64_t s = sum_;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

uint16_t checksum_adjust(uint16_t old_checksum, uint16_t old_word, uint16_t new_word) {
  uint32_t s = static_cast<uint16_t>(~old_checksum);
  s += static_cast<uint16_t>(~old_word);
  s += new_word;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

const char* wire_error_name(WireError e) {
  switch (e) {
    case WireError::Truncated: return "truncated";
    case WireError::BadVersion: return "bad_version";
    case WireError::BadHeaderLength: return "bad_header_length";
    case WireError::BadLength: return "bad_length";
    case WireError::BadChecksum: return "bad_checksum";
    case WireError::BadOption: return "bad_option";
    case WireError::Unsupported: return "unsupported";
  }
  return "?";
}

}  // namespace demi::net::wire
