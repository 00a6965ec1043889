// CUBIC (RFC 9438): congestion avoidance that grows the window along a cubic function of the time
// since the last congestion event, so that a long-RTT, high-BDP path regains its window in a
// time that does not depend on the RTT, while staying at least as fast as Reno where Reno would
// do better (the "Reno-friendly" region).
//
// Scope:
//  - Slow start is standard RFC 5681 slow start with ABC, L = 2 * SMSS (RFC 9438 4.10 allows
//    it), with HyStart++ (RFC 9406, hystart.h) in the initial slow start when built with
//    `hystart`. Leaving it without a loss starts congestion avoidance with W_max = cwnd and
//    K = 0 (RFC 9438 4.10).
//  - No undo of spurious congestion events (RFC 9438 4.9): the interface has no such event.
//  - Windows are kept in bytes; the RFC's formulas, written in segments, are applied with the
//    current SMSS (W in segments = bytes / SMSS). Time is seconds as a double, taken only from
//    the Instants passed in, so a simulation replays exactly.
//
// cwnd() has the same meaning as for NewReno (see newreno.h): on_loss() drops it to
// ssthresh = max(0.7 * FlightSize, 2 * SMSS) at once and it stays there during recovery (the
// connection adds NewReno inflation on top, or uses it as RFC 6675's cwnd against pipe);
// on_recovery_end() starts the congestion avoidance stage, and the cubic curve's time t with it.
#pragma once

#include <cstdint>
#include <string_view>

#include "net/tcp/congestion/congestion_control.h"
#include "net/tcp/congestion/hystart.h"

namespace demi::net::tcp {

class Cubic final : public CongestionControl {
 public:
  // RFC 9438 4.1 constants.
  static constexpr double kC = 0.4;
  static constexpr double kBeta = 0.7;
  // RFC 9438 4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic), about 0.529.
  static constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

  // Which rule set the window on the last ACK (RFC 9438 4.3-4.5), for tests and statistics.
  enum class Region { SlowStart, RenoFriendly, Concave, Convex };

  explicit Cubic(uint32_t mss, bool hystart = false);

  std::string_view name() const override { return "cubic"; }
  uint32_t cwnd() const override { return static_cast<uint32_t>(cwnd_); }
  uint32_t ssthresh() const override { return ssthresh_; }

  void on_ack(uint32_t bytes_acked, uint32_t flight, sched::Duration rtt, sched::Instant now) override;
  void on_loss(uint32_t flight, sched::Instant now) override;
  void on_recovery_end(sched::Instant now) override;
  void on_timeout(uint32_t flight, sched::Instant now) override;
  void on_idle_restart(sched::Instant now) override;
  // As NewReno: the initial window for the new SMSS before anything was acknowledged, otherwise
  // every window keeps its size in segments (and K, in seconds, is unchanged).
  void set_mss(uint32_t mss) override;

  // RFC 9438 4.2, eq. 1: W_cubic(t) = C * (t - K)^3 + W_max, in bytes, t in seconds since t_epoch.
  double w_cubic(double t) const;

  uint32_t mss() const { return mss_; }
  const HyStartPlusPlus& hystart() const { return hystart_; }
  // The RFC 9438 4.1 state, windows in bytes. w_max() is 0 while unknown (no congestion event
  // yet, or a timeout since: then the next stage starts with K = 0, RFC 9438 4.8).
  double w_max() const { return w_max_; }
  double cwnd_prior() const { return cwnd_prior_; }
  double w_est() const { return w_est_; }
  double cwnd_epoch() const { return cwnd_epoch_; }
  double k() const { return k_; }  // seconds
  bool epoch_started() const { return epoch_started_; }
  sched::Instant t_epoch() const { return t_epoch_; }
  sched::Duration srtt() const { return srtt_; }
  Region region() const { return region_; }

 private:
  // RFC 9438 4.2: the congestion avoidance stage begins; fixes t_epoch, cwnd_epoch and K.
  void start_epoch(sched::Instant now);
  void congestion_avoidance(uint32_t bytes_acked, sched::Instant now);
  // RFC 9438 4.6: ssthresh = FlightSize * beta_cubic, at least 2 * SMSS.
  uint32_t reduced_ssthresh(uint32_t flight) const;

  uint32_t mss_;
  double cwnd_;  // bytes; the fraction carries congestion-avoidance growth between ACKs
  uint32_t ssthresh_;
  double w_max_ = 0.0;
  double cwnd_prior_ = 0.0;
  double w_est_ = 0.0;
  double cwnd_epoch_ = 0.0;
  double k_ = 0.0;
  bool epoch_started_ = false;
  sched::Instant t_epoch_{};
  // The RTT of RFC 9438 4.2's target: smoothed from the samples on_ack gets (gain 1/8, as
  // RFC 6298 SRTT); zero until the first sample.
  sched::Duration srtt_{};
  // The last ACK: the start of an idle period, which t must not count (RFC 9438 5.8).
  sched::Instant last_ack_{};
  bool acked_once_ = false;
  bool timed_out_ = false;  // as NewReno: a repeated timeout keeps ssthresh
  bool initial_ = true;     // cwnd is still the initial window
  Region region_ = Region::SlowStart;
  HyStartPlusPlus hystart_;
};

}  // namespace demi::net::tcp
