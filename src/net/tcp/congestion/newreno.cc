#include "net/tcp/congestion/newreno.h"

#include <algorithm>

#include "net/tcp/congestion/window_rules.h"

namespace demi::net::tcp {

NewReno::NewReno(uint32_t mss, bool hystart)
    : mss_(window_rules::clamp_mss(mss)),
      cwnd_(window_rules::initial_window(mss_)),
      ssthresh_(window_rules::kInitialSsthresh),
      hystart_(hystart) {}

void NewReno::on_ack(uint32_t bytes_acked, uint32_t flight, sched::Duration rtt, sched::Instant now) {
  // NewReno needs no time; RTT and FlightSize only for HyStart++ in slow start.
  (void)now;
  if (bytes_acked == 0) {
    return;
  }
  timed_out_ = false;
  initial_ = false;
  uint32_t left = bytes_acked;
  if (cwnd_ < ssthresh_) {
    // RFC 5681 3.1 slow start, RFC 3465 2.2 ABC with L = 2 * SMSS; HyStart++ may slow it down
    // (CSS) or end it (RFC 9406 4.2).
    const HyStartPlusPlus::Verdict v = hystart_.on_ack(bytes_acked, flight, rtt);
    if (v == HyStartPlusPlus::Verdict::Exit) {
      ssthresh_ = std::max(cwnd_, window_rules::min_ssthresh(mss_));
    } else {
      const uint32_t divisor = v == HyStartPlusPlus::Verdict::GrowCss ? HyStartPlusPlus::kCssGrowthDivisor : 1;
      left = window_rules::slow_start(cwnd_, ssthresh_, bytes_acked, mss_, divisor);
      if (left == 0) {
        return;
      }
    }
  }
  // RFC 5681 3.1 congestion avoidance, counted in bytes (RFC 3465 2.1): once a full cwnd of
  // data has been acknowledged, cwnd grows by one SMSS. Unlike SMSS * SMSS / cwnd per ACK this
  // gives one SMSS per RTT whatever the ACK pattern (delayed or stretch ACKs).
  bytes_acked_ += left;
  if (bytes_acked_ >= cwnd_) {
    bytes_acked_ -= cwnd_;
    cwnd_ = std::min(cwnd_ + mss_, window_rules::kMaxCwnd);
  }
}

void NewReno::halve_ssthresh(uint32_t flight) {
  // RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS).
  ssthresh_ = std::max(flight / 2, window_rules::min_ssthresh(mss_));
}

void NewReno::on_loss(uint32_t flight, sched::Instant now) {
  (void)now;
  // RFC 5681 3.2 step 2 / RFC 6582 3.2 step 2-3. The connection calls this once per window of
  // data (RFC 6582's "recover" check is its job) and inflates on top of cwnd itself.
  halve_ssthresh(flight);
  cwnd_ = ssthresh_;
  bytes_acked_ = 0;
  timed_out_ = false;
  initial_ = false;
  hystart_.stop();  // RFC 9406 4.3: the initial slow start only
}

void NewReno::on_recovery_end(sched::Instant now) {
  (void)now;
  // RFC 6582 3.2 step 6, option (2): a full acknowledgment deflates the window to ssthresh.
  // Option (1) needs FlightSize at that moment; the connection has it and can pace instead.
  cwnd_ = std::min(cwnd_, ssthresh_);
  bytes_acked_ = 0;
}

void NewReno::on_timeout(uint32_t flight, sched::Instant now) {
  (void)now;
  // RFC 5681 3.1: on the first timeout of a window ssthresh = max(FlightSize / 2, 2 * SMSS);
  // when data already retransmitted by the timer times out again, ssthresh is held constant.
  if (!timed_out_) {
    halve_ssthresh(flight);
  }
  cwnd_ = window_rules::loss_window(mss_);
  bytes_acked_ = 0;
  timed_out_ = true;
  initial_ = false;
  hystart_.stop();
}

void NewReno::on_idle_restart(sched::Instant now) {
  (void)now;
  // RFC 5681 4.1: after an idle period longer than an RTO, cwnd = RW = min(IW, cwnd); the
  // ACK clock is gone, and a full old window would go out as one burst.
  cwnd_ = std::min(cwnd_, window_rules::initial_window(mss_));
  bytes_acked_ = 0;
}

void NewReno::set_mss(uint32_t mss) {
  mss = window_rules::clamp_mss(mss);
  if (mss == mss_) {
    return;
  }
  const uint32_t old = mss_;
  mss_ = mss;
  if (initial_) {
    cwnd_ = window_rules::initial_window(mss_);
    return;
  }
  // Keep the window's size in segments: the number of packets the path carried is what the
  // controller learned (a smaller path MTU then shrinks the window in bytes, conservatively).
  cwnd_ = std::max(window_rules::rescale(cwnd_, old, mss_), window_rules::loss_window(mss_));
  if (ssthresh_ != window_rules::kInitialSsthresh) {
    ssthresh_ = std::max(window_rules::rescale(ssthresh_, old, mss_), window_rules::min_ssthresh(mss_));
  }
  bytes_acked_ = 0;
}

}  // namespace demi::net::tcp
