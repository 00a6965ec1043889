#include "net/tcp/congestion/cubic.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "net/tcp/congestion/window_rules.h"

namespace demi::net::tcp {
namespace {

constexpr double kMaxCwnd = static_cast<double>(window_rules::kMaxCwnd);

double seconds(sched::Duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Cubic::Cubic(uint32_t mss, bool hystart)
    : mss_(window_rules::clamp_mss(mss)),
      cwnd_(static_cast<double>(window_rules::initial_window(mss_))),
      ssthresh_(window_rules::kInitialSsthresh),
      hystart_(hystart) {}

double Cubic::w_cubic(double t) const {
  const double d = t - k_;
  return kC * d * d * d * static_cast<double>(mss_) + w_max_;
}

uint32_t Cubic::reduced_ssthresh(uint32_t flight) const {
  // beta_cubic = 0.7 as the exact fraction 7/10: 0.7 has no exact double, and the truncated
  // product could land one byte low.
  const auto reduced = static_cast<uint32_t>(uint64_t{flight} * 7 / 10);
  return std::max(reduced, window_rules::min_ssthresh(mss_));
}

void Cubic::on_ack(uint32_t bytes_acked, uint32_t flight, sched::Duration rtt, sched::Instant now) {
  if (rtt > sched::Duration::zero()) {
    srtt_ = srtt_ == sched::Duration::zero() ? rtt : (7 * srtt_ + rtt) / 8;
  }
  if (bytes_acked == 0) {
    return;
  }
  timed_out_ = false;
  initial_ = false;
  last_ack_ = now;
  acked_once_ = true;
  uint32_t left = bytes_acked;
  if (cwnd() < ssthresh_) {
    // RFC 9438 4.10: Reno slow start (RFC 5681 3.1 with RFC 3465 ABC), and HyStart++.
    const HyStartPlusPlus::Verdict v = hystart_.on_ack(bytes_acked, flight, rtt);
    if (v == HyStartPlusPlus::Verdict::Exit) {
      // RFC 9406 4.2: ssthresh = cwnd. RFC 9438 4.10: W_max is unknown without a loss, so
      // cwnd_prior = cwnd, and the stage starting now has K = 0 and W_max = cwnd (start_epoch).
      ssthresh_ = std::max(cwnd(), window_rules::min_ssthresh(mss_));
      cwnd_prior_ = cwnd_;
      w_max_ = 0.0;
      epoch_started_ = false;
    } else {
      region_ = Region::SlowStart;
      const uint32_t divisor = v == HyStartPlusPlus::Verdict::GrowCss ? HyStartPlusPlus::kCssGrowthDivisor : 1;
      uint32_t w = cwnd();
      left = window_rules::slow_start(w, ssthresh_, bytes_acked, mss_, divisor);
      cwnd_ = static_cast<double>(w);
      if (left == 0) {
        return;
      }
    }
  }
  congestion_avoidance(left, now);
}

void Cubic::start_epoch(sched::Instant now) {
  epoch_started_ = true;
  t_epoch_ = now;
  cwnd_epoch_ = cwnd_;
  if (w_max_ <= cwnd_epoch_) {
    // RFC 9438 4.8: after a timeout (and, by the same reasoning, before any congestion event)
    // the stage starts with K = 0 and W_max = cwnd at its beginning: the curve is convex at
    // once, probing from where the window stands.
    w_max_ = cwnd_epoch_;
    k_ = 0.0;
  } else {
    // RFC 9438 4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), windows in segments. std::cbrt is
    // a pure function: the same inputs give the same K on every run.
    k_ = std::cbrt((w_max_ - cwnd_epoch_) / static_cast<double>(mss_) / kC);
  }
  // RFC 9438 4.3: W_est starts at cwnd_epoch.
  w_est_ = cwnd_epoch_;
}

void Cubic::congestion_avoidance(uint32_t bytes_acked, sched::Instant now) {
  if (!epoch_started_) {
    start_epoch(now);
  }
  const double t = now > t_epoch_ ? seconds(now - t_epoch_) : 0.0;
  const double acked = static_cast<double>(bytes_acked);
  const double mss = static_cast<double>(mss_);

  // RFC 9438 4.3: W_est grows by alpha_cubic * segments_acked / cwnd (in segments), i.e.
  // alpha * acked * SMSS / cwnd in bytes; alpha_cubic becomes 1 (Reno's rate) once W_est has
  // reached the window before the last reduction.
  const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kAlpha;
  w_est_ = std::min(w_est_ + alpha * acked * mss / cwnd_, kMaxCwnd);

  if (w_cubic(t) < w_est_) {
    // RFC 9438 4.3: Reno-friendly region, cwnd = W_est (never lowered by it).
    region_ = Region::RenoFriendly;
    cwnd_ = std::max(cwnd_, w_est_);
  } else {
    // RFC 9438 4.2: target = W_cubic(t + RTT), bounded to [cwnd, 1.5 * cwnd] so that the
    // increase rate never falls and never exceeds slow start's.
    const double target = std::clamp(w_cubic(t + seconds(srtt_)), cwnd_, 1.5 * cwnd_);
    // RFC 9438 4.4 (concave, cwnd < W_max) and 4.5 (convex): cwnd += (target - cwnd) / cwnd
    // per SMSS acknowledged; in bytes, (target - cwnd) * acked / cwnd.
    region_ = cwnd_ < w_max_ ? Region::Concave : Region::Convex;
    cwnd_ += (target - cwnd_) * acked / cwnd_;
  }
  cwnd_ = std::min(cwnd_, kMaxCwnd);
}

void Cubic::on_loss(uint32_t flight, sched::Instant now) {
  (void)now;
  // RFC 9438 4.7 fast convergence: a loss before the window regained the previous W_max means
  // the available bandwidth shrank (a new flow arrived): release more of it.
  w_max_ = cwnd_ < w_max_ ? cwnd_ * (1.0 + kBeta) / 2.0 : cwnd_;
  // RFC 9438 4.6: multiplicative decrease by beta_cubic = 0.7.
  cwnd_prior_ = cwnd_;
  ssthresh_ = reduced_ssthresh(flight);
  cwnd_ = static_cast<double>(ssthresh_);
  // The next congestion avoidance stage has a new t_epoch, cwnd_epoch and K.
  epoch_started_ = false;
  timed_out_ = false;
  initial_ = false;
  hystart_.stop();  // RFC 9406 4.3: the initial slow start only
}

void Cubic::on_recovery_end(sched::Instant now) {
  cwnd_ = std::min(cwnd_, static_cast<double>(ssthresh_));
  // RFC 9438 4.1: t_epoch is when congestion avoidance starts, which is now, when recovery ends.
  if (!epoch_started_ && cwnd() >= ssthresh_) {
    start_epoch(now);
  }
}

void Cubic::on_timeout(uint32_t flight, sched::Instant now) {
  (void)now;
  // RFC 9438 4.8: cwnd as Reno (the loss window, RFC 5681 3.1), but ssthresh by beta_cubic as
  // in 4.6; held constant when retransmitted data times out again (RFC 5681 3.1).
  if (!timed_out_) {
    cwnd_prior_ = cwnd_;
    ssthresh_ = reduced_ssthresh(flight);
    // The first congestion avoidance stage after a timeout uses K = 0 and W_max = cwnd at its
    // start (RFC 9438 4.8): forget W_max, start_epoch() then sets both.
    w_max_ = 0.0;
  }
  cwnd_ = static_cast<double>(window_rules::loss_window(mss_));
  epoch_started_ = false;
  region_ = Region::SlowStart;
  timed_out_ = true;
  initial_ = false;
  hystart_.stop();
}

void Cubic::on_idle_restart(sched::Instant now) {
  const double iw = static_cast<double>(window_rules::initial_window(mss_));
  if (cwnd_ > iw) {
    // RFC 5681 4.1: cwnd = RW = min(IW, cwnd). The window starts a new slow start (or a new
    // congestion avoidance stage, if IW >= ssthresh), so a new epoch too.
    cwnd_ = iw;
    epoch_started_ = false;
  } else if (epoch_started_ && acked_once_ && now > last_ack_) {
    // RFC 9438 5.8: t must not count the time the sender had nothing to send; the idle period
    // began with the ACK that emptied the flight, so slide t_epoch forward by it.
    t_epoch_ += now - last_ack_;
  }
}

void Cubic::set_mss(uint32_t mss) {
  mss = window_rules::clamp_mss(mss);
  if (mss == mss_) {
    return;
  }
  const uint32_t old = mss_;
  mss_ = mss;
  if (initial_) {
    cwnd_ = static_cast<double>(window_rules::initial_window(mss_));
    return;
  }
  // Windows keep their size in segments, so K and the curve in segments are unchanged.
  const double f = static_cast<double>(mss_) / static_cast<double>(old);
  cwnd_ = std::clamp(cwnd_ * f, static_cast<double>(window_rules::loss_window(mss_)), kMaxCwnd);
  if (ssthresh_ != window_rules::kInitialSsthresh) {
    ssthresh_ = std::max(window_rules::rescale(ssthresh_, old, mss_), window_rules::min_ssthresh(mss_));
  }
  w_max_ *= f;
  cwnd_prior_ *= f;
  w_est_ *= f;
  cwnd_epoch_ *= f;
}

}  // namespace demi::net::tcp
