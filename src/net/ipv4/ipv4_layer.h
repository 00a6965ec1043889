// IPv4 (RFC 791, with RFC 1122's rules for hosts) between Ethernet/ARP and the transports.
//
// Sending (IpOutput): routes the destination (on the subnet: to itself; off it: to the default
// gateway, or ENETUNREACH when there is none; broadcast: to everyone), prepends the header in the
// buffer's headroom (TTL from catnip.ipv4.ttl, DF on TCP, checksum in software or by the device),
// and hands the packet to ARP. A datagram longer than the MTU is fragmented, unless DF is set
// (EMSGSIZE): each fragment gets a fresh header buffer and carries views of the original
// payload, so fragmenting copies only the few bytes that sat in the original header buffer.
//
// Receiving: drops and counts, by reason, what is malformed, fails its checksum, is not for us
// or comes from an impossible source; reassembles fragments (Reassembler); and hands each
// datagram to the transport registered for its protocol, or answers with ICMP protocol
// unreachable. IP options are accepted and ignored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include <demi/result.h>

#include "net/arp/arp_layer.h"
#include "net/counters.h"
#include "net/ethernet/ethernet_layer.h"
#include "net/ip_output.h"
#include "net/ipv4/reassembler.h"
#include "net/transport.h"
#include "sched/scheduler.h"

namespace demi::net {

class IcmpLayer;

struct Ipv4Config {
  wire::Ipv4Address address{};
  wire::Ipv4Address netmask{};
  std::optional<wire::Ipv4Address> gateway;
  uint8_t ttl = 64;
  uint32_t mtu = 1500;
  sched::Duration reassembly_timeout = std::chrono::seconds(30);
  std::size_t reassembly_memory = 4 << 20;
};

class Ipv4Layer final : public IpOutput, public EthernetLayer::Receiver {
 public:
  static constexpr std::size_t kHeaderLength = wire::kIpv4MinHeaderLen;  // what we send: no options

  struct Counters {
    uint64_t rx_packets = 0;
    uint64_t rx_delivered = 0;          // datagrams handed to a transport
    uint64_t drop_malformed = 0;        // bad version, header length or total length
    uint64_t drop_bad_checksum = 0;
    uint64_t drop_wrong_destination = 0;  // not our address, not a broadcast
    uint64_t drop_bad_source = 0;       // broadcast, multicast or our own address as source
    uint64_t drop_unknown_protocol = 0;
    uint64_t tx_packets = 0;            // packets handed on (fragments counted one by one)
    uint64_t tx_fragmented = 0;         // datagrams sent in fragments
    uint64_t tx_fragments = 0;
    uint64_t tx_no_route = 0;           // ENETUNREACH: off the subnet and no gateway
    uint64_t tx_too_big = 0;            // EMSGSIZE
    uint64_t tx_no_buffer = 0;          // ENOBUFS: no header buffer (fragments), or below
    uint64_t tx_unreachable = 0;        // EHOSTUNREACH from ARP
  };

  // Where a packet goes next.
  struct Route {
    enum class Kind { Direct, Gateway, Broadcast } kind;
    wire::Ipv4Address next_hop;
  };

  Ipv4Layer(sched::Scheduler& sched, EthernetLayer& ethernet, ArpLayer& arp, const Ipv4Config& config);
  ~Ipv4Layer() override;
  Ipv4Layer(const Ipv4Layer&) = delete;
  Ipv4Layer& operator=(const Ipv4Layer&) = delete;

  // The transport that receives datagrams of `protocol`, and the ICMP layer for errors.
  void set_transport(uint8_t protocol, TransportReceiver* r) { transports_[protocol] = r; }
  void set_icmp(IcmpLayer* icmp) { icmp_ = icmp; }

  // The next hop for `dst`; ENETUNREACH when it is off the subnet and there is no gateway.
  Result<Route> route(wire::Ipv4Address dst) const;
  bool is_broadcast(wire::Ipv4Address a) const;
  bool on_link(wire::Ipv4Address a) const;

  // IpOutput
  int send(wire::Ipv4Address dst, uint8_t protocol, runtime::TxFrame frame) override;
  mem::BufRef alloc_header(std::size_t transport_room) override;
  wire::Ipv4Address local_address() const override { return config_.address; }
  uint32_t mtu() const override { return config_.mtu; }
  bool offload_checksum() const override;

  // EthernetLayer::Receiver
  void receive(const wire::EthernetRepr& eth, mem::BufRef payload, uint32_t rx_flags) override;

  const Ipv4Config& config() const { return config_; }
  const Reassembler& reassembler() const { return reassembler_; }
  const Counters& counters() const { return counters_; }
  void append_counters(CounterList& out) const;

 private:
  int send_fragments(const Route& r, wire::Ipv4Address dst, uint8_t protocol, uint16_t ident, runtime::TxFrame& frame);
  // Prepends the header to frame.head and hands the packet to the link.
  int emit(const Route& r, wire::Ipv4Address dst, uint8_t protocol, uint16_t ident, bool dont_fragment,
           bool more_fragments, uint16_t fragment_offset, runtime::TxFrame frame);
  void deliver(const Ipv4Packet& pkt, Payload payload, uint32_t rx_flags);

  EthernetLayer& ethernet_;
  ArpLayer& arp_;
  Ipv4Config config_;
  bool offload_ip_checksum_ = false;
  bool offload_l4_checksum_ = false;
  uint16_t next_ident_;
  Reassembler reassembler_;
  IcmpLayer* icmp_ = nullptr;
  std::array<TransportReceiver*, 256> transports_{};
  Counters counters_;
};

}  // namespace demi::net
