// UDP (RFC 768) sockets over the IPv4 layer.
//
//  - bind: a port (0 picks an ephemeral one, 49152-65535 as RFC 6335 suggests), on our address or
//    on any; the first send binds an unbound socket to an ephemeral port.
//  - connect: sets the default destination and accepts datagrams only from it.
//  - receive: each socket holds a bounded queue (datagrams and bytes, catnip.udp.*, SO_RCVBUF);
//    a datagram that does not fit is dropped and counted. A queued datagram is a view of the
//    device's receive buffer (a chain of views after reassembly): popping it hands the same
//    memory to the application.
//  - send: the payload's buffers are attached to the frame as they are (zero copy); only a
//    payload not made of stack buffers, or in too many pieces, is copied into the header buffer.
//    Whether a small payload is cheaper to copy than to attach is the device's call, made once
//    for every protocol (the DPDK port copies payloads up to dpdk.tx_copy_threshold behind the
//    headers; the simulated network copies every frame anyway). The checksum is computed in software over header and payload, or left to
//    the device when it offers checksum offload and the datagram is not fragmented.
//  - a datagram for a port nobody holds is answered with ICMP port unreachable (rate limited);
//    ICMP errors about what a socket sent are kept as the socket's pending error, which the next
//    receive reports (ECONNREFUSED for port unreachable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "mem/buffer.h"
#include "net/counters.h"
#include "net/ip_output.h"
#include "net/transport.h"
#include "sched/scheduler.h"
#include "sched/wait_queue.h"

namespace demi::net {

class IcmpLayer;

struct UdpConfig {
  std::size_t queue_datagrams = 1024;
  std::size_t queue_bytes = 1 << 20;
};

// A received datagram: its source and its payload, one view of a receive buffer (`more` is
// empty unless the datagram was reassembled from fragments, so a queued datagram costs no
// allocation).
struct UdpDatagram {
  Endpoint from;
  mem::BufRef data;
  std::vector<mem::BufRef> more;
  std::size_t length = 0;
  std::size_t pieces() const { return 1 + more.size(); }
};

// One piece of a payload to send: its bytes, and the buffer they lie in when the stack may keep
// a reference to it instead of copying (nullptr: the bytes must be copied).
struct OutSegment {
  std::span<const std::byte> bytes;
  const mem::BufRef* ref = nullptr;
};

class UdpLayer final : public TransportReceiver, public UnreachableListener {
 public:
  using SocketId = uint32_t;
  static constexpr uint16_t kEphemeralFirst = 49152;
  static constexpr uint16_t kEphemeralLast = 65535;
  static constexpr std::size_t kMaxPayload = 65535 - 20 - 8;

  struct Counters {
    uint64_t rx_datagrams = 0;   // delivered to a socket's queue
    uint64_t rx_bytes = 0;
    uint64_t tx_datagrams = 0;
    uint64_t tx_bytes = 0;
    uint64_t tx_copied = 0;      // sends whose payload was copied (foreign or in too many pieces)
    uint64_t tx_errors = 0;      // sends IPv4 refused
    uint64_t drop_malformed = 0;  // shorter than a header, or a length field past the data
    uint64_t drop_bad_checksum = 0;
    uint64_t drop_no_socket = 0;
    uint64_t drop_not_from_peer = 0;  // a connected socket's datagram from someone else
    uint64_t drop_queue_full = 0;
    uint64_t linearized = 0;      // reassembled datagrams in more pieces than an Sga holds: copied
    uint64_t icmp_errors = 0;     // ICMP errors recorded on a socket
  };

  UdpLayer(sched::Scheduler& sched, IpOutput& ip, IcmpLayer& icmp, const UdpConfig& config);
  ~UdpLayer();
  UdpLayer(const UdpLayer&) = delete;
  UdpLayer& operator=(const UdpLayer&) = delete;

  SocketId open();
  // 0, EADDRINUSE, EADDRNOTAVAIL (not our address), EINVAL (already bound), EAGAIN (no port left).
  int bind(SocketId s, Endpoint local);
  // Binds if needed; 0 or an error of bind.
  int connect(SocketId s, Endpoint remote);
  // Sends one datagram to `to`, or to the connected peer when `to` is empty. 0 or
  // EDESTADDRREQ, EMSGSIZE, ENOBUFS, ENETUNREACH, EHOSTUNREACH, EAGAIN (no port to bind).
  int send(SocketId s, const std::optional<Endpoint>& to, std::span<const OutSegment> payload);
  // The oldest queued datagram, if any.
  std::optional<UdpDatagram> recv(SocketId s);
  // The pending error (ICMP, or an unreachable neighbour), cleared by reading it; 0 if none.
  int take_error(SocketId s);
  bool readable(SocketId s) const;
  // Notified when a datagram or an error arrives.
  sched::WaitQueue& events(SocketId s);
  // Frees the port and the queue; wakes every waiter.
  void close(SocketId s);

  Endpoint local(SocketId s) const;
  std::optional<Endpoint> remote(SocketId s) const;
  // SO_RCVBUF: the byte limit of the socket's queue.
  void set_queue_bytes(SocketId s, std::size_t bytes);
  std::size_t queue_bytes(SocketId s) const;

  void receive(const Ipv4Packet& ip, Payload payload, uint32_t rx_flags) override;
  void icmp_error(const IcmpError& err) override;
  void host_unreachable(wire::Ipv4Address dst) override;

  const Counters& counters() const { return counters_; }
  void append_counters(CounterList& out) const;

 private:
  struct Socket;
  Socket* socket(SocketId s) const;
  int bind_ephemeral(SocketId id);
  int transmit(Socket& s, const Endpoint& to, std::span<const OutSegment> payload);

  sched::Scheduler& sched_;
  IpOutput& ip_;
  IcmpLayer& icmp_;
  UdpConfig config_;
  std::vector<std::unique_ptr<Socket>> sockets_;  // index = SocketId
  std::vector<SocketId> free_;
  std::vector<SocketId> ports_;  // local port -> socket, kNone if free
  uint16_t next_ephemeral_;
  Counters counters_;
};

}  // namespace demi::net
