// Why a packet was refused by a parser. The stack counts drops by these reasons, so each value
// names one kind of damage; wire_error_name() gives the counter's label.
#pragma once

#include <cstddef>
#include <optional>

namespace demi::net::wire {

enum class WireError {
  Truncated,        // shorter than its header, or than a length field says
  BadVersion,       // IPv4 version != 4
  BadHeaderLength,  // a header length field below the fixed header (IPv4 IHL < 5, TCP offset < 5)
  BadLength,        // a total/UDP length that is inconsistent with the header it covers
  BadChecksum,
  BadOption,        // a TCP option with a bad length or running past the header
  Unsupported,      // well formed, but not something we speak (ARP for other protocols, ...)
};

// For arrays of drop counters indexed by WireError.
inline constexpr std::size_t kWireErrorCount = static_cast<std::size_t>(WireError::Unsupported) + 1;

// A stable lower_snake_case label ("bad_checksum"); never null.
const char* wire_error_name(WireError e);

namespace detail {
// Records why a parse failed (when the caller asked) and yields the empty result, so a parser
// can say `return refuse(err, WireError::Truncated);`.
inline std::nullopt_t refuse(WireError* err, WireError e) {
  if (err) *err = e;
  return std::nullopt;
}
}  // namespace detail

}  // namespace demi::net::wire
