// Every tunable of the TCP layer, with its default. The module layer fills it from the
// configuration file (catnip.tcp.*); tests and the simulator set what they exercise.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "net/tcp/siphash.h"
#include "sched/clock.h"

namespace demi::net::tcp {

using namespace std::chrono_literals;

struct TcpConfig {
  // The MSS we announce and the largest segment we send (RFC 9293 3.7.1): at most the link's
  // MTU - 40; 0 = derive it from the MTU.
  uint32_t mss = 0;
  // Per-socket buffer limits (SO_SNDBUF / SO_RCVBUF defaults). The receive buffer sets the
  // window we advertise; the send buffer bounds the bytes a socket holds unacknowledged.
  std::size_t send_buffer = 256 * 1024;
  std::size_t receive_buffer = 256 * 1024;
  // Out-of-order segments held per connection (RFC 9293 3.10.7.4 "seventh": kept within the
  // window); past this, new out-of-order segments are dropped. 0 = as many full-sized segments
  // as the receive buffer holds (at least 64), set when the connection is established.
  std::size_t max_out_of_order = 0;

  bool window_scaling = true;  // RFC 7323 2
  bool timestamps = true;      // RFC 7323 3-5
  bool sack = true;            // RFC 2018, RFC 6675

  // Retransmission timer (RFC 6298). RFC 6298 2.4 says 1 s minimum; datacenter stacks use far
  // less, so it is configurable.
  sched::Duration rto_initial = 1s;
  sched::Duration rto_min = 200ms;
  sched::Duration rto_max = 60s;
  // Delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2): at most this long, and at least every second
  // full-sized segment.
  sched::Duration delayed_ack = 40ms;
  bool delayed_ack_enabled = true;
  // Maximum segment lifetime: TIME-WAIT lasts 2 * msl (RFC 9293 3.4.2).
  sched::Duration msl = 30s;
  // How long an orphaned connection (closed by the application) may wait in FIN-WAIT-2 for the
  // peer's FIN (Linux tcp_fin_timeout); 0 = forever.
  sched::Duration fin_wait_2_timeout = 60s;
  // Teardown: how long the stack keeps running, once the LibOS is being destroyed, for the
  // connections the application closed to deliver their data and FIN (a kernel keeps sending
  // them after the process exits); then they are reset. 0 = reset at once.
  sched::Duration shutdown_linger = 2s;

  // SYN (and SYN,ACK) retransmissions before giving up with ETIMEDOUT (RFC 9293 3.8.3 R2 for SYNs).
  int syn_retries = 6;
  // Retransmissions of data (or unanswered zero-window probes) before ETIMEDOUT (R2).
  int data_retries = 15;

  // Keep-alive (RFC 9293 3.8.4, RFC 1122 4.2.3.6), off by default, per socket on request.
  bool keepalive = false;
  sched::Duration keepalive_idle = 2h;
  sched::Duration keepalive_interval = 75s;
  int keepalive_count = 9;

  // Listen queues: established connections waiting for accept (the socket's backlog is capped
  // at backlog_max), and half-open connections per listener; when those are full, SYN cookies.
  int backlog_max = 4096;
  std::size_t syn_queue_max = 256;
  bool syn_cookies = true;

  // RFC 5961 7: challenge ACKs per connection per second.
  uint32_t challenge_ack_limit = 10;

  // Ephemeral ports (RFC 6335 suggests 49152-65535).
  uint16_t ephemeral_first = 49152;
  uint16_t ephemeral_last = 65535;

  // The default congestion controller (make_congestion_control's names: "newreno", "cubic").
  std::string congestion_control = "newreno";
  // HyStart++ (RFC 9406) in the initial slow start of either controller.
  bool hystart = true;

  // The secret of the ISN hash (RFC 6528) and of SYN cookies. Production draws it from a
  // random source at start; tests and the simulator derive it from their seed.
  SipKey isn_secret{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

  // A secret derived from a seed (splitmix64), for deterministic runs.
  static SipKey secret_from_seed(uint64_t seed) {
    auto next = [&seed] {
      uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    };
    SipKey k;
    k.k0 = next();
    k.k1 = next();
    return k;
  }
};

}  // namespace demi::net::tcp
