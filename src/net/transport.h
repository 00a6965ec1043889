// The seam between IPv4 and the protocols above it (ICMP, UDP, TCP) on the receive side: what
// a transport is handed for each datagram, and what it hears of ICMP errors about the packets
// it sent. (The send side is IpOutput, in ip_output.h.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mem/buffer.h"
#include "net/wire/ipv4.h"

namespace demi::net {

// An IPv4 datagram addressed to us, as the transport sees it.
struct Ipv4Packet {
  wire::Ipv4Repr repr;                 // parsed header; for a reassembled datagram, the whole one's
  std::span<const std::byte> header;   // the raw header (the first fragment's), for ICMP quoting
  bool broadcast = false;              // sent to a broadcast address
  bool reassembled = false;
};

// The transport's bytes: one view of the receive buffer, or a chain of them after reassembly.
// The receiver may move the views out.
using Payload = std::span<mem::BufRef>;

// An ICMP destination-unreachable, time-exceeded or parameter-problem message about a packet we
// sent (RFC 792, RFC 1122 3.2.2): the errno it means for a socket, and what it quotes.
struct IcmpError {
  int error = 0;  // ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EMSGSIZE, ...
  uint8_t type = 0;
  uint8_t code = 0;
  uint16_t next_hop_mtu = 0;     // "fragmentation needed" (RFC 1191), else 0
  wire::Ipv4Repr original;       // the header of the packet we sent
  std::span<const std::byte> transport;  // its first transport bytes (at least 8)
};

class TransportReceiver {
 public:
  virtual void receive(const Ipv4Packet& ip, Payload payload, uint32_t rx_flags) = 0;
  virtual void icmp_error(const IcmpError&) {}

 protected:
  ~TransportReceiver() = default;
};

// A transport address.
struct Endpoint {
  wire::Ipv4Address addr{};
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// The total length of a payload chain.
inline std::size_t payload_length(Payload p) {
  std::size_t n = 0;
  for (const mem::BufRef& b : p) n += b.size();
  return n;
}

}  // namespace demi::net
