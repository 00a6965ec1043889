// A packet device: what the inet stack sends Ethernet frames through. DPDK ports (any PMD) and
// the simulated network implement it; the stack (src/net) sees nothing else, so it runs
// unchanged on both.
//
// Zero copy: a received frame is a BufRef into the device's own buffer (an mbuf under DPDK),
// handed up the stack and, for data, on to the application without copying. A frame to send is
// a header buffer plus up to kMaxPayloadSegments payload references (application memory); the
// device takes references, so the application may free its Sga as soon as the push completes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "mem/buffer.h"

namespace demi::runtime {

using LinkAddress = std::array<uint8_t, 6>;

struct DeviceInfo {
  std::string name;
  LinkAddress mac{};
  uint32_t mtu = 1500;           // IP MTU: the largest IPv4 packet, headers included
  bool rx_checksum = false;      // the device verifies IPv4/TCP/UDP checksums and flags the result
  bool tx_ipv4_checksum = false; // the device fills the IPv4 header checksum
  bool tx_l4_checksum = false;   // the device fills TCP/UDP checksums (pseudo-header sum given)
  bool tso = false;              // the device segments large TCP sends
};

// Per-frame facts from a device that checks checksums itself.
enum RxFlags : uint32_t {
  kRxIpChecksumGood = 1u << 0,
  kRxL4ChecksumGood = 1u << 1,
  kRxIpChecksumBad = 1u << 2,
  kRxL4ChecksumBad = 1u << 3,
};

struct RxFrame {
  mem::BufRef data;  // the whole Ethernet frame
  uint32_t flags = 0;
};

inline constexpr std::size_t kMaxPayloadSegments = 4;

struct TxFrame {
  mem::BufRef head;  // Ethernet + IPv4 + L4 headers (and small payloads copied in)
  std::array<mem::BufRef, kMaxPayloadSegments> payload{};
  uint8_t payload_segments = 0;
  // Offload requests, honoured only where DeviceInfo says the device can.
  uint8_t l2_len = 14;
  uint8_t l3_len = 20;
  uint8_t l4_len = 0;
  bool offload_ip_checksum = false;
  bool offload_l4_checksum = false;  // l4 checksum field holds the pseudo-header sum
  uint8_t l4_protocol = 0;           // 6 TCP, 17 UDP
  uint16_t tso_segment_size = 0;     // 0: no segmentation offload

  std::size_t length() const {
    std::size_t n = head.size();
    for (uint8_t i = 0; i < payload_segments; ++i) n += payload[i].size();
    return n;
  }
  bool add_payload(mem::BufRef r) {
    if (payload_segments == kMaxPayloadSegments) return false;
    payload[payload_segments++] = std::move(r);
    return true;
  }
};

struct DeviceStats {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_dropped = 0;  // no buffer to receive into
  uint64_t tx_dropped = 0;  // frames the device could never send (too long for it)
  uint64_t tx_busy = 0;     // times the ring or the buffers were full: frames waited for the next flush
  // Payload segments sent without a copy (attached to the frame as external buffers) and those
  // copied behind the header (below the copy threshold, or for a device that takes one segment).
  uint64_t tx_payload_attached = 0;
  uint64_t tx_payload_copied = 0;
  // Times a peer announced that it was leaving the link (net_memif; see DpdkPort).
  uint64_t peer_leaves = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;
  // Receives up to frames.size() frames; returns how many were filled.
  virtual std::size_t receive(std::span<RxFrame> frames) = 0;
  // Sends frames in order; returns how many the device took. The rest stay with the caller.
  virtual std::size_t transmit(std::span<TxFrame> frames) = 0;
  // An empty buffer for outgoing headers, with `headroom` bytes free in front; empty when the
  // device's pool is exhausted.
  virtual mem::BufRef alloc_tx(std::size_t headroom) = 0;
  virtual DeviceStats stats() const = 0;
  // A descriptor that is readable when frames arrive, or -1 for a device that must be polled.
  virtual int wait_fd() const { return -1; }
};

}  // namespace demi::runtime
