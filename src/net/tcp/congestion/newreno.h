// NewReno: the standard TCP congestion control of RFC 5681, with the window rules of RFC 6582
// for loss recovery, RFC 6928's initial window and RFC 3465's Appropriate Byte Counting.
//
// What cwnd() means, for the connection that uses it:
//  - Outside recovery it is RFC 5681's cwnd: the most bytes the connection may have in flight.
//  - on_loss() sets ssthresh = max(FlightSize / 2, 2 * SMSS) and cwnd = ssthresh at once
//    (RFC 5681 3.2 step 2, RFC 6582 3.2 step 3 without the "+ 3 * SMSS"). During the recovery
//    that follows cwnd() stays at that value, which is the cwnd RFC 6675 compares with pipe. The
//    NewReno (non-SACK) inflation -- 3 * SMSS at entry, + SMSS per further duplicate ACK, and
//    the deflation on partial ACKs (RFC 6582 3.2 steps 3-5) -- is the connection's to add on
//    top: it sees the duplicate and partial ACKs, the controller does not.
//  - on_recovery_end() is the "full acknowledgment" of RFC 6582 3.2 step 6: cwnd = ssthresh
//    (option 2), so once the connection drops its inflation the window is the halved one.
//  - on_timeout() leaves cwnd = 1 SMSS (the loss window) below ssthresh, i.e. slow start.
// on_ack() is for ACKs outside recovery only; it grows cwnd in slow start by min(acked, 2 SMSS)
// and in congestion avoidance by one SMSS per cwnd of bytes acknowledged. With `hystart`, the
// initial slow start is RFC 9406's HyStart++ (see hystart.h).
#pragma once

#include <cstdint>
#include <string_view>

#include "net/tcp/congestion/congestion_control.h"
#include "net/tcp/congestion/hystart.h"

namespace demi::net::tcp {

class NewReno final : public CongestionControl {
 public:
  explicit NewReno(uint32_t mss, bool hystart = false);

  std::string_view name() const override { return "newreno"; }
  uint32_t cwnd() const override { return cwnd_; }
  uint32_t ssthresh() const override { return ssthresh_; }

  void on_ack(uint32_t bytes_acked, uint32_t flight, sched::Duration rtt, sched::Instant now) override;
  void on_loss(uint32_t flight, sched::Instant now) override;
  void on_recovery_end(sched::Instant now) override;
  void on_timeout(uint32_t flight, sched::Instant now) override;
  void on_idle_restart(sched::Instant now) override;
  // Right after the handshake (nothing acknowledged yet) cwnd becomes the new SMSS's initial
  // window; later, cwnd and ssthresh keep their size in segments.
  void set_mss(uint32_t mss) override;

  uint32_t mss() const { return mss_; }
  const HyStartPlusPlus& hystart() const { return hystart_; }

 private:
  // RFC 5681 eq. 4 halving, shared by fast retransmit and timeout.
  void halve_ssthresh(uint32_t flight);

  uint32_t mss_;
  uint32_t cwnd_;
  uint32_t ssthresh_;
  // RFC 3465 2.1 / RFC 5681 3.1: bytes acknowledged in congestion avoidance since cwnd last grew.
  uint64_t bytes_acked_ = 0;
  // The last event was a retransmission timeout: a further timeout of the same data must not
  // lower ssthresh again (RFC 5681 3.1, the note after eq. 4).
  bool timed_out_ = false;
  // cwnd is still the initial window: set_mss recomputes it instead of rescaling.
  bool initial_ = true;
  HyStartPlusPlus hystart_;
};

}  // namespace demi::net::tcp
