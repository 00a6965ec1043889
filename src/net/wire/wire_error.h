// Why a packet was refused by a parser: the stack counts drops by these reasons.
#pragma once

namespace demi::net::wire {

enum class WireError {
  Truncated,        // shorter than its header, or than a length field says
  BadVersion,       // IPv4 version != 4
  BadHeaderLength,  // header length field too small or past the buffer
  BadLength,        // a total/UDP length that is inconsistent
  BadChecksum,
  BadOption,        // a TCP option with a bad length or running past the header
  Unsupported,      // well formed, but not something we speak (ARP for other protocols, ...)
};

const char* wire_error_name(WireError e);

}  // namespace demi::net::wire
