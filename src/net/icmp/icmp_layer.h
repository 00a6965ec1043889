// ICMP for IPv4 (RFC 792, with RFC 1122 3.2.2's rules for hosts).
//
//  - Echo requests to our address are always answered; the reply carries the request's data
//    as views of the request's own buffer (no copy) and its checksum is the request's, updated
//    for the changed type (RFC 1624). Requests to a broadcast address are ignored, as Linux does.
//  - Errors we send (destination unreachable for a closed UDP port or an unknown protocol, time
//    exceeded for a reassembly that timed out) pass a token bucket (catnip.icmp.error_rate and
//    error_burst) and are never sent about an ICMP error, a broadcast, a fragment other than the
//    first, or a source that is not a host (RFC 1122 3.2.2). They quote the offending header and
//    as much of its data as keeps the message within 576 bytes (RFC 1812 4.3.2.3).
//  - Errors we receive about packets we sent are handed to the transport that sent them (UDP,
//    TCP) with the errno they mean, as Linux maps them.
//  - Echo replies go to the EchoListener, if one is set (the stack's ping).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "net/counters.h"
#include "net/icmp/token_bucket.h"
#include "net/ip_output.h"
#include "net/transport.h"
#include "net/wire/icmp.h"
#include "sched/scheduler.h"

namespace demi::net {

class IcmpLayer final : public TransportReceiver {
 public:
  // ICMP message types and codes this layer speaks (RFC 792).
  enum Type : uint8_t {
    kEchoReply = wire::kIcmpEchoReply,
    kDestUnreachable = wire::kIcmpDestUnreachable,
    kSourceQuench = 4,
    kRedirect = 5,
    kEchoRequest = wire::kIcmpEchoRequest,
    kTimeExceeded = wire::kIcmpTimeExceeded,
    kParameterProblem = 12,
  };
  enum UnreachableCode : uint8_t {
    kNetUnreachable = 0,
    kHostUnreachable = 1,
    kProtocolUnreachable = 2,
    kPortUnreachable = wire::kIcmpPortUnreachable,
    kFragmentationNeeded = wire::kIcmpFragNeeded,
  };
  enum TimeExceededCode : uint8_t { kTtlExceeded = 0, kReassemblyTimeExceeded = 1 };

  static constexpr std::size_t kHeaderLength = wire::kIcmpHeaderLen;

  class EchoListener {
   public:
    // An echo reply to us; `data` is what follows the 8-byte ICMP header.
    virtual void echo_reply(wire::Ipv4Address from, uint16_t ident, uint16_t seq, Payload data) = 0;

   protected:
    ~EchoListener() = default;
  };

  struct Counters {
    uint64_t rx_messages = 0;
    uint64_t echo_requests = 0;
    uint64_t echo_replies_sent = 0;
    uint64_t echo_replies_received = 0;
    uint64_t errors_received = 0;      // handed to a transport
    uint64_t errors_sent = 0;
    uint64_t errors_rate_limited = 0;  // errors the token bucket held back
    uint64_t errors_suppressed = 0;    // errors RFC 1122 forbids (about errors, broadcasts, ...)
    uint64_t drop_malformed = 0;
    uint64_t drop_bad_checksum = 0;
    uint64_t drop_broadcast_echo = 0;
    uint64_t drop_unhandled = 0;       // types we do not act on, errors no transport claims
    uint64_t tx_failed = 0;            // IPv4 refused a message (no buffer, unreachable)
  };

  IcmpLayer(sched::Scheduler& sched, IpOutput& ip, uint64_t error_rate, uint64_t error_burst);

  // The transport that receives errors about its packets of `protocol` (17 UDP, 6 TCP).
  void set_error_receiver(uint8_t protocol, TransportReceiver* r);
  void set_echo_listener(EchoListener* l) { echo_listener_ = l; }

  void receive(const Ipv4Packet& ip, Payload payload, uint32_t rx_flags) override;

  // Destination unreachable about a datagram we received (`payload` is what followed its IP
  // header). Rate limited; silently not sent where RFC 1122 forbids it.
  void send_unreachable(UnreachableCode code, const Ipv4Packet& ip, Payload payload);
  // Time exceeded about a datagram whose header is `header` and whose first data is `payload`.
  void send_time_exceeded(TimeExceededCode code, std::span<const std::byte> header, const mem::BufRef& payload);
  // An echo request with `data` after the header. 0 or an errno of IpOutput::send.
  int send_echo_request(wire::Ipv4Address dst, uint16_t ident, uint16_t seq, std::span<const std::byte> data);

  const Counters& counters() const { return counters_; }
  void append_counters(CounterList& out) const;

 private:
  void answer_echo(const Ipv4Packet& ip, Payload payload, uint16_t request_checksum);
  void deliver_error(uint8_t type, uint8_t code, uint16_t mtu, Payload payload);
  void send_error(uint8_t type, uint8_t code, std::span<const std::byte> header, Payload data);

  sched::Scheduler& sched_;
  IpOutput& ip_;
  TokenBucket bucket_;
  std::array<TransportReceiver*, 256> error_receivers_{};
  EchoListener* echo_listener_ = nullptr;
  Counters counters_;
};

}  // namespace demi::net
