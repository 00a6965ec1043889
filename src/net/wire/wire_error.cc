#include "net/wire/wire_error.h"

namespace demi::net::wire {

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
  return "unknown";  // a value cast in from outside the enumeration
}

}  // namespace demi::net::wire
