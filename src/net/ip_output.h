// The seam between the transport protocols (UDP, TCP, ICMP) and IPv4: what a transport needs to
// send a packet and to hear that a destination cannot be reached. The IPv4 layer implements
// it; transport tests implement it with a fake that captures packets.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mem/buffer.h"
#include "net/wire/ipv4.h"
#include "runtime/device.h"

namespace demi::net {

// Bytes a transport must leave free in front of its header: Ethernet + IPv4 without options.
inline constexpr std::size_t kIpHeadroom = 14 + 20;

class IpOutput {
 public:
  virtual ~IpOutput() = default;

  // Sends one IPv4 packet to `dst` (resolving the next hop with ARP, queueing while it
  // resolves). `frame.head` holds the transport header (and any copied payload) with at least
  // kIpHeadroom bytes of headroom; `frame.payload` carries zero-copy payload segments. The
  // transport fills its own checksum unless offload_checksum() is true, in which case it sets
  // frame.offload_l4_checksum and writes the pseudo-header sum into the checksum field.
  // Returns 0 (sent or queued for ARP), EHOSTUNREACH (the next hop is known unreachable),
  // ENOBUFS (no buffer or the ARP queue is full), EMSGSIZE (longer than the MTU with DF).
  virtual int send(wire::Ipv4Address dst, uint8_t protocol, runtime::TxFrame frame) = 0;

  // A header buffer with kIpHeadroom + `transport_room` bytes free; empty when none is left.
  virtual mem::BufRef alloc_header(std::size_t transport_room) = 0;

  virtual wire::Ipv4Address local_address() const = 0;
  // The largest IPv4 packet (headers included) the link carries.
  virtual uint32_t mtu() const = 0;
  virtual bool offload_checksum() const = 0;
};

// Told by the IPv4 layer when ARP gives up on a next hop, so that operations waiting on that
// destination fail with EHOSTUNREACH instead of timing out much later.
class UnreachableListener {
 public:
  virtual void host_unreachable(wire::Ipv4Address dst) = 0;

 protected:
  ~UnreachableListener() = default;
};

}  // namespace demi::net
