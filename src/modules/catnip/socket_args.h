// The arguments of socket calls as the module reads and writes them: sockaddr_in <-> Endpoint,
// and integer option values, checked for length as setsockopt(2)/getsockopt(2) do.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net/transport.h"

namespace demi::catnip {

inline net::Endpoint endpoint_of(const sockaddr_in& a) {
  return net::Endpoint{net::wire::Ipv4Address::from_u32(ntohl(a.sin_addr.s_addr)), ntohs(a.sin_port)};
}

inline sockaddr_in sockaddr_of(const net::Endpoint& e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(e.port);
  a.sin_addr.s_addr = htonl(e.addr.to_u32());
  return a;
}

// Copies a sockaddr_in out as getsockname(2) does: truncated to *len, *len set to its size.
inline void copy_out(const sockaddr_in& a, sockaddr* addr, socklen_t* len) {
  std::memcpy(addr, &a, std::min<std::size_t>(*len, sizeof a));
  *len = sizeof a;
}

inline bool read_int(const void* val, socklen_t len, int* out) {
  if (len < static_cast<socklen_t>(sizeof(int))) return false;
  std::memcpy(out, val, sizeof(int));
  return true;
}

inline int write_int(int v, void* val, socklen_t* len) {
  if (*len < static_cast<socklen_t>(sizeof(int))) return EINVAL;
  std::memcpy(val, &v, sizeof v);
  *len = sizeof v;
  return 0;
}

}  // namespace demi::catnip
