// A connection's identity: local and remote address and port.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "net/wire/ipv4.h"

namespace demi::net::tcp {

struct FourTuple {
  wire::Ipv4Address local_addr{};
  uint16_t local_port = 0;
  wire::Ipv4Address remote_addr{};
  uint16_t remote_port = 0;
  bool operator==(const FourTuple& o) const {
    return local_addr.to_u32() == o.local_addr.to_u32() && local_port == o.local_port &&
           remote_addr.to_u32() == o.remote_addr.to_u32() && remote_port == o.remote_port;
  }
};

struct FourTupleHash {
  std::size_t operator()(const FourTuple& t) const {
    uint64_t a = (static_cast<uint64_t>(t.local_addr.to_u32()) << 32) | t.remote_addr.to_u32();
    uint64_t b = (static_cast<uint64_t>(t.local_port) << 16) | t.remote_port;
    uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull + (a << 6) + (a >> 2));
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

}  // namespace demi::net::tcp
