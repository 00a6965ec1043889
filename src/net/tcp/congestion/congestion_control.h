// The congestion controller of one TCP connection: it owns cwnd and ssthresh and nothing else.
// Loss detection and recovery (dupacks, RFC 6675 SACK pipe, NewReno partial acks, RTO) live in
// the connection, which reports events here; the controller answers with the window.
// NewReno (RFC 5681 / RFC 6582) and CUBIC (RFC 9438) implement it, chosen per socket or in the
// configuration.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "sched/clock.h"

namespace demi::net::tcp {

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;
  virtual std::string_view name() const = 0;

  // Bytes the connection may have in flight (outside recovery; the connection applies RFC 6675
  // or RFC 6582 rules on top of it during recovery).
  virtual uint32_t cwnd() const = 0;
  virtual uint32_t ssthresh() const = 0;
  bool in_slow_start() const { return cwnd() < ssthresh(); }

  // New data was cumulatively acknowledged outside recovery. `rtt` is a fresh RTT sample, or
  // zero when there is none (Karn's rule); `flight` is the bytes in flight before this ACK.
  virtual void on_ack(uint32_t bytes_acked, uint32_t flight, sched::Duration rtt, sched::Instant now) = 0;
  // A loss was detected by duplicate ACKs or SACK (fast retransmit): ssthresh and cwnd drop
  // once per window of data (RFC 5681 3.2, RFC 9438 4.6). `flight` is FlightSize.
  virtual void on_loss(uint32_t flight, sched::Instant now) = 0;
  // Recovery ended (the recovery point was acknowledged).
  virtual void on_recovery_end(sched::Instant now) = 0;
  // The retransmission timer expired (RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize/2, 2 SMSS),
  // cwnd = 1 SMSS).
  virtual void on_timeout(uint32_t flight, sched::Instant now) = 0;
  // The sender was idle for more than an RTO (RFC 5681 4.1: restart window).
  virtual void on_idle_restart(sched::Instant now) = 0;
  // The connection's SMSS changed (after the handshake, or path MTU).
  virtual void set_mss(uint32_t mss) = 0;
};

// What a controller is built with, besides its SMSS.
struct CongestionOptions {
  // HyStart++ (RFC 9406) in the initial slow start (catnip.tcp.hystart). Off here, so that a
  // controller built bare is RFC 5681's; the TCP configuration turns it on by default.
  bool hystart = false;
};

// "newreno" or "cubic"; nullptr for an unknown name. Initial window per RFC 5681 3.1 / RFC 6928
// (IW = min(10 * SMSS, max(2 * SMSS, 14600))).
std::unique_ptr<CongestionControl> make_congestion_control(std::string_view name, uint32_t mss, sched::Instant now,
                                                           const CongestionOptions& options = {});

}  // namespace demi::net::tcp
