// TCP (RFC 9293) over the IPv4 layer: the demultiplexer, the socket table and the socket API
// the module layer drives. Everything is non-blocking: an operation that cannot complete now
// answers EAGAIN / EINPROGRESS, and the socket's WaitQueue (events()) is notified whenever
// anything about the socket changes (readable, writable, connected, accepted, closed, error).
//
//  - receive: a segment is parsed and checked (its checksum unless the device did), then goes
//    to the connection of its 4-tuple, else to the listener of its port, else it is answered
//    with a RST (RFC 9293 3.10.7.1). Every drop has a reason and a counter.
//  - send is zero copy and all-or-nothing: the connection keeps references to the caller's
//    buffers until the peer acknowledges them, and takes the whole push or (EAGAIN) none of it.
//    A push into an empty queue is always taken, however large, so that no push can wait forever.
//  - recv is zero copy: views of the receive buffers, trimmed to what was asked.
//  - close is graceful (FIN after the queued data; RST instead if unread data is dropped,
//    RFC 2525 2.17); the connection lingers in the table until CLOSED (after TIME-WAIT). abort
//    sends a RST at once (SO_LINGER 0).
//  - ARP failure for a host fails the connections still in SYN-SENT to it with EHOSTUNREACH.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <demi/result.h>

#include "mem/buffer.h"
#include "net/counters.h"
#include "net/ip_output.h"
#include "net/tcp/congestion/congestion_control.h"
#include "net/tcp/four_tuple.h"
#include "net/tcp/isn_generator.h"
#include "net/tcp/syn_cookie.h"
#include "net/tcp/tcp_config.h"
#include "net/tcp/tcp_connection.h"
#include "net/tcp/tcp_segment.h"
#include "net/tcp/transition_coverage.h"
#include "net/transport.h"
#include "sched/scheduler.h"
#include "sched/timer.h"
#include "sched/wait_queue.h"

namespace demi::net::tcp {

using CongestionFactory =
    std::function<std::unique_ptr<CongestionControl>(std::string_view name, uint32_t mss, sched::Instant now)>;

struct KeepaliveOptions {
  bool enabled = false;
  sched::Duration idle{};
  sched::Duration interval{};
  int count = 0;
};

class TcpLayer final : public TransportReceiver, public UnreachableListener {
 public:
  struct Counters {
    uint64_t rx_segments = 0;   // segments handed to us
    uint64_t tx_segments = 0;   // segments IPv4 took
    uint64_t tx_errors = 0;     // segments IPv4 refused (no buffer, unreachable)
    uint64_t tx_deferred = 0;   // ... of them for want of room (ENOBUFS): sent again from the next pass
    uint64_t tx_no_buffer = 0;  // no header buffer for a segment
    uint64_t rsts_sent = 0;
    uint64_t drop_truncated = 0;  // shorter than a header or its data offset
    uint64_t drop_bad_offset = 0;
    uint64_t drop_bad_options = 0;
    uint64_t drop_bad_checksum = 0;
    uint64_t drop_bad_address = 0;    // from or to a broadcast/multicast address, or port 0
    uint64_t drop_fragmented = 0;     // a reassembled segment too large to linearize
    uint64_t drop_no_connection = 0;  // answered with a RST (or dropped, if it was a RST)
    uint64_t drop_listen = 0;         // refused by a listener (bad flags, queues full)
    uint64_t drop_paws = 0;
    uint64_t drop_out_of_window = 0;
    uint64_t drop_bad_ack = 0;       // RFC 5961 5.2 ACK acceptability
    uint64_t drop_no_timestamp = 0;  // RFC 7323 3.2: timestamps negotiated, none in the segment
    uint64_t drop_ooo_full = 0;      // out-of-order segment beyond the queue's bound
    uint64_t challenge_acks = 0;
    uint64_t challenge_acks_limited = 0;
    uint64_t syn_cookies_sent = 0;
    uint64_t syn_cookies_accepted = 0;
    uint64_t syn_cookies_rejected = 0;
    uint64_t syn_dropped = 0;        // SYNs refused: queues full and no cookies
    uint64_t accept_queue_full = 0;  // handshakes left in SYN-RECEIVED for want of backlog
    uint64_t connections_opened = 0;
    uint64_t connections_accepted = 0;
    uint64_t connections_reset = 0;  // by a RST from the peer
    uint64_t connections_timed_out = 0;
    uint64_t connections_unreachable = 0;
    uint64_t retransmits = 0;
    uint64_t timeouts = 0;
  };

  TcpLayer(sched::Scheduler& sched, IpOutput& ip, const TcpConfig& config);
  ~TcpLayer();
  TcpLayer(const TcpLayer&) = delete;
  TcpLayer& operator=(const TcpLayer&) = delete;

  // ---- receive side
  // One TCP segment (header and payload in one buffer) from IPv4.
  void receive(const wire::Ipv4Repr& ip, mem::BufRef segment, bool checksum_verified);
  // TransportReceiver: the same for a datagram as IPv4 hands it up (a reassembled one is
  // linearized into one buffer first).
  void receive(const Ipv4Packet& ip, Payload payload, uint32_t rx_flags) override;
  void icmp_error(const IcmpError& err) override;
  // UnreachableListener: ARP gave up on `dst`.
  void host_unreachable(wire::Ipv4Address dst) override;

  // ---- socket API
  Result<SocketId> open();
  // 0, EBADF, EINVAL (bound already, or not in CLOSED), EADDRINUSE, EADDRNOTAVAIL, EAGAIN (no
  // ephemeral port left). Port 0 picks an ephemeral port.
  int bind(SocketId s, wire::Ipv4Address addr, uint16_t port);
  // 0, EBADF, EINVAL (not CLOSED). Binds an ephemeral port if unbound.
  int listen(SocketId s, int backlog);
  // An established connection, or EAGAIN; EINVAL if `s` is not listening.
  Result<SocketId> try_accept(SocketId s);
  // Starts the handshake: 0 (SYN sent; connect_status says when it completes), EBADF, EISCONN,
  // EALREADY, EINVAL, EADDRINUSE, EHOSTUNREACH, EAGAIN (no ephemeral port).
  int connect(SocketId s, wire::Ipv4Address addr, uint16_t port);
  // 0 once established (and after a graceful close), EINPROGRESS during the handshake,
  // ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ECONNRESET, ENOTCONN, EBADF.
  int connect_status(SocketId s) const;
  // Queues all of `data` (references kept, no copy) or nothing: the byte count, or EAGAIN (the
  // queue already holds the send buffer's worth), EMSGSIZE (more than kMaxPush in one call),
  // EPIPE (after shutdown_write/close), ENOTCONN, ECONNRESET, ETIMEDOUT, EBADF.
  static constexpr std::size_t kMaxPush = std::size_t{1} << 30;
  Result<std::size_t> send(SocketId s, std::span<const mem::BufRef> data);
  // Appends views of up to max_len received bytes to `out`: the byte count; 0 at EOF (the peer's
  // FIN and everything before it were read); EAGAIN when nothing is there yet; ECONNRESET,
  // ETIMEDOUT, ENOTCONN, EBADF.
  Result<std::size_t> recv(SocketId s, std::size_t max_len, std::vector<mem::BufRef>& out);
  // Bytes recv would return now, and room for send.
  std::size_t readable(SocketId s) const;
  std::size_t writable(SocketId s) const;
  // FIN after the queued data; reading goes on. 0, EBADF, ENOTCONN.
  int shutdown_write(SocketId s);
  // Releases the socket: graceful close (linger 0: abort). The connection lingers internally.
  int close(SocketId s);
  // Sends a RST (when synchronized) and releases the socket.
  int abort(SocketId s);
  // Teardown (the catnip module's linger, catnip.tcp.shutdown_linger_ms): the connections the
  // application released that still owe the peer data or a FIN, or wait for its ACK (released
  // in SYN-RECEIVED, ESTABLISHED, CLOSE-WAIT, FIN-WAIT-1, CLOSING, LAST-ACK). FIN-WAIT-2 and
  // TIME-WAIT are finished: everything we sent has been acknowledged.
  std::size_t unfinished() const;
  // Resets each of them (RFC 9293 3.10.5 ABORT) and answers how many there were.
  std::size_t abort_unfinished();

  // ---- options
  int set_nodelay(SocketId s, bool on);
  // SO_LINGER: nullopt = off; zero = close() aborts.
  int set_linger(SocketId s, std::optional<sched::Duration> linger);
  int set_keepalive(SocketId s, const KeepaliveOptions& ka);
  // A name make_congestion_control knows (EINVAL otherwise); before or after connecting.
  int set_congestion_control(SocketId s, std::string_view name);
  // SO_SNDBUF / SO_RCVBUF; the receive buffer's window scale is fixed once the SYN is sent.
  int set_buffer_sizes(SocketId s, std::size_t send_bytes, std::size_t receive_bytes);

  // ---- introspection
  sched::WaitQueue& events(SocketId s);
  Result<Endpoint> local_address(SocketId s) const;
  Result<Endpoint> remote_address(SocketId s) const;
  Result<TcpInfo> info(SocketId s) const;
  std::optional<TcpState> state(SocketId s) const;
  // Connections in the table, application-owned or lingering.
  std::size_t connections() const { return sockets_.size(); }
  // Bytes the connections hold: queued for (re)transmission, and received (readable or out of
  // order). The simulator checks them against the configured buffer sizes.
  struct Memory {
    std::size_t send_bytes = 0;
    std::size_t receive_bytes = 0;
    std::size_t out_of_order_bytes = 0;
  };
  Memory memory() const;
  const TransitionCoverage& coverage() const { return coverage_; }
  const Counters& counters() const { return counters_; }
  void append_counters(CounterList& out) const;
  const TcpConfig& config() const { return config_; }

  // Tests and the simulator: a controller factory other than make_congestion_control.
  void set_congestion_factory(CongestionFactory f) { cc_factory_ = std::move(f); }

 private:
  friend class TcpConnection;
  class Busy;

  TcpConnection* socket(SocketId s) const;  // application-owned only
  TcpConnection* find(SocketId s) const;    // any
  TcpConnection* create();
  TcpConnection* listener_for(wire::Ipv4Address addr, uint16_t port) const;
  int bind_port(TcpConnection& c, wire::Ipv4Address addr, uint16_t port);
  int pick_ephemeral(TcpConnection& c, wire::Ipv4Address remote, uint16_t remote_port);
  void release_port(TcpConnection& c);
  bool port_used(uint16_t port) const { return port_users_.count(port) != 0; }
  void link(TcpConnection& c);    // into the 4-tuple table
  void unlink(TcpConnection& c);  // out of the 4-tuple and listener tables
  // Marks a CLOSED, released connection for deletion: at the end of the current entry point,
  // or from a timer when it closed in one of its own timers.
  void to_reap(TcpConnection& c);
  void reap();
  void schedule_reap() { reap_timer_.arm_at(sched_.now()); }
  void abort_children(TcpConnection& listener);
  void reply_reset(const TcpSegment& seg);  // RFC 9293 3.10.7.1
  // Emits one segment: header `h` and [offset, offset + len) of `q`, zero copy where it can.
  // May shorten len (and drop FIN from h.flags) when the payload cannot go out whole.
  int emit(wire::Ipv4Address src, wire::Ipv4Address dst, TcpRepr& h, const SendQueue* q, std::size_t offset,
           uint32_t& len);
  int transmit_frame(wire::Ipv4Address dst, runtime::TxFrame frame);
  std::unique_ptr<CongestionControl> make_cc(std::string_view name, uint32_t mss);
  uint32_t mss_for_mtu() const;

  sched::Scheduler& sched_;
  IpOutput& ip_;
  TcpConfig config_;
  IsnGenerator isn_;
  SynCookie cookies_;
  CongestionFactory cc_factory_;
  TransitionCoverage coverage_;
  Counters counters_;

  SocketId next_id_ = 1;
  std::unordered_map<SocketId, std::unique_ptr<TcpConnection>> sockets_;
  std::unordered_map<FourTuple, TcpConnection*, FourTupleHash> connections_;
  std::unordered_map<uint16_t, TcpConnection*> listeners_;  // by local port
  std::unordered_map<uint16_t, uint32_t> port_users_;       // sockets holding a bound port
  uint16_t next_ephemeral_;
  std::vector<SocketId> reap_list_;
  int depth_ = 0;  // nesting of public entry points
  sched::Timer reap_timer_;
  sched::WaitQueue no_events_;  // events() of an unknown socket
};

}  // namespace demi::net::tcp
