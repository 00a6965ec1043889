#include "net/tcp/tcp_connection.h"

#include <algorithm>
#include <cerrno>

#include "base/log.h"
#include "net/tcp/tcp_layer.h"

namespace demi::net::tcp {

namespace {

constexpr const char* kLog = "tcp";
// RFC 9293 3.7.1: the MSS a peer that sends no MSS option accepts.
constexpr uint16_t kDefaultMss = 536;
constexpr uint32_t kMinMss = 64;
// The automatic bound on out-of-order segments held (catnip.tcp.max_out_of_order = 0).
constexpr std::size_t kMinOutOfOrder = 64;
constexpr std::size_t kMaxOutOfOrder = 65536;
constexpr std::size_t kMaxScoreboardBlocks = 65536;
// The TCP header without options (RFC 9293 3.1).
constexpr uint32_t kFixedHeaderLen = 20;
// RFC 7323 5.5: TS.Recent older than this is invalid (24 days).
constexpr sched::Duration kTsRecentMaxAge = std::chrono::hours(24 * 24);

}  // namespace

TcpConnection::TcpConnection(TcpLayer& layer, SocketId id, const TcpConfig& config)
    : layer_(layer),
      id_(id),
      cfg_(config),
      events_(layer.sched_),
      cc_name_(config.congestion_control),
      receive_queue_(config.max_out_of_order ? config.max_out_of_order : kMinOutOfOrder),
      rtt_(config.rto_initial, config.rto_min, config.rto_max),
      keepalive_(config.keepalive),
      ka_idle_(config.keepalive_idle),
      ka_interval_(config.keepalive_interval),
      ka_count_(config.keepalive_count),
      rtx_timer_(layer.sched_, [this] { on_rtx_timer(); }),
      delack_timer_(layer.sched_, [this] { on_delack_timer(); }),
      keepalive_timer_(layer.sched_, [this] { on_keepalive_timer(); }),
      wait_timer_(layer.sched_, [this] { on_wait_timer(); }),
      retry_timer_(layer.sched_, [this] { on_retry_timer(); }) {
  stats_.congestion_control = cc_name_;
}

TcpConnection::~TcpConnection() = default;

TcpInfo TcpConnection::info() const {
  TcpInfo i = stats_;
  i.state = state_;
  i.snd_mss = effective_mss();
  i.rcv_mss = our_mss_;
  i.cwnd = cc_ ? cc_->cwnd() + inflation_ : 0;
  i.ssthresh = cc_ ? cc_->ssthresh() : 0;
  i.snd_wnd = snd_wnd_;
  i.rcv_wnd = seq_gt(rcv_adv_, rcv_nxt_) ? static_cast<uint32_t>(rcv_adv_ - rcv_nxt_) : 0;
  i.snd_wscale = snd_wscale_;
  i.rcv_wscale = rcv_wscale_;
  i.sack = sack_ok_;
  i.timestamps = ts_ok_;
  i.window_scaling = ws_ok_;
  i.syn_cookie = syn_cookie_;
  i.srtt = rtt_.srtt();
  i.rttvar = rtt_.rttvar();
  i.rto = rtt_.timeout();
  i.flight = is_synchronized(state_) ? flight() : 0;
  i.send_queued = send_queue_.size();
  i.recv_queued = receive_queue_.readable();
  i.out_of_order = receive_queue_.out_of_order_segments();
  i.congestion_control = cc_ ? std::string(cc_->name()) : cc_name_;
  return i;
}

// ================================================================ state changes

void TcpConnection::set_state(TcpState to, TransitionCause cause) {
  DEMI_TRACE(kLog, "[{}] {} -> {} on {}", id_, state_name(state_), state_name(to), cause_name(cause));
  layer_.coverage_.record(state_, to, cause);
  state_ = to;
  notify();
}

void TcpConnection::became_established(TransitionCause cause) {
  set_state(TcpState::Established, cause);
  was_established_ = true;
  retries_ = 0;
  rtx_timer_.cancel();
  if (!cc_) cc_ = layer_.make_cc(cc_name_, effective_mss());
  if (!cc_) cc_ = layer_.make_cc(layer_.config_.congestion_control, effective_mss());
  size_for_buffers();
  if (passive_ && listener_) {
    --listener_->syn_queue_;
    listener_->accept_queue_.push_back(this);
    listener_->notify();
  }
  last_rx_ = layer_.sched_.now();
  rearm_keepalive();
  if (close_requested_) start_close();
}

void TcpConnection::enter_closed(TransitionCause cause, int error) {
  if (state_ == TcpState::Closed) return;
  if (error != 0) error_ = error;
  set_state(TcpState::Closed, cause);
  rtx_timer_.cancel();
  delack_timer_.cancel();
  keepalive_timer_.cancel();
  wait_timer_.cancel();
  retry_timer_.cancel();
  rtx_head_pending_ = false;
  ack_pending_ = ack_now_ = false;
  send_queue_.clear();
  scoreboard_.clear();
  if (error != 0 && !app_owned_) receive_queue_.clear();
  layer_.unlink(*this);
  if (listener_) {
    if (was_established_) {
      // Waiting in the accept queue: leave it.
      for (std::size_t i = 0; i < listener_->accept_queue_.size(); ++i) {
        if (listener_->accept_queue_[i] == this) {
          listener_->accept_queue_.erase(i);
          break;
        }
      }
    } else if (listener_->syn_queue_ > 0) {
      --listener_->syn_queue_;
    }
    listener_ = nullptr;
  }
  if (!app_owned_) layer_.to_reap(*this);
  notify();
}

void TcpConnection::enter_time_wait(TransitionCause cause) {
  set_state(TcpState::TimeWait, cause);
  rtx_timer_.cancel();
  keepalive_timer_.cancel();
  send_queue_.clear();
  wait_timer_.arm_in(2 * cfg_.msl);
}

// ================================================================ opening

void TcpConnection::start_listen(int backlog) {
  backlog_ = backlog;
  set_state(TcpState::Listen, TransitionCause::PassiveOpen);
}

void TcpConnection::init_send_space(uint32_t iss) {
  iss_ = SeqNumber{iss};
  snd_una_ = snd_nxt_ = snd_max_ = iss_;
  snd_data_ = iss_ + 1;
  snd_wl2_ = iss_;
  snd_sml_ = iss_;
  recover_ = iss_;
  ts_offset_ = layer_.isn_.ts_offset(tuple_);
  our_mss_ = layer_.mss_for_mtu();
  choose_window_scale();
}

int TcpConnection::start_connect() {
  init_send_space(layer_.isn_.isn(tuple_, layer_.sched_.now()));
  set_state(TcpState::SynSent, TransitionCause::ActiveOpen);
  const int rc = send_syn(false);
  if (rc == EHOSTUNREACH) {
    ++layer_.counters_.connections_unreachable;
    enter_closed(TransitionCause::Unreachable, EHOSTUNREACH);
    return EHOSTUNREACH;
  }
  arm_retransmit();
  return 0;
}

void TcpConnection::inherit(const TcpConnection& listener) {
  cfg_ = listener.cfg_;
  nodelay_ = listener.nodelay_;
  linger_ = listener.linger_;
  cc_name_ = listener.cc_name_;
  keepalive_ = listener.keepalive_;
  ka_idle_ = listener.ka_idle_;
  ka_interval_ = listener.ka_interval_;
  ka_count_ = listener.ka_count_;
  rtt_ = RttEstimator(cfg_.rto_initial, cfg_.rto_min, cfg_.rto_max);
  stats_.congestion_control = cc_name_;
}

void TcpConnection::start_from_syn(const TcpSegment& seg, TcpConnection& listener) {
  inherit(listener);
  tuple_ = FourTuple{seg.dst, seg.h.dst_port, seg.src, seg.h.src_port};
  passive_ = true;
  app_owned_ = false;
  listener_ = &listener;
  ++listener.syn_queue_;
  init_send_space(layer_.isn_.isn(tuple_, layer_.sched_.now()));
  irs_ = seg.h.seq;
  rcv_nxt_ = rcv_adv_ = irs_ + 1;
  apply_syn_options(seg);
  // RFC 9293 3.10.7.2: the window of a SYN is never scaled.
  snd_wnd_ = max_snd_wnd_ = seg.h.window;
  snd_wl1_ = seg.h.seq;
  last_ack_sent_ = rcv_nxt_;
  layer_.link(*this);
  state_ = TcpState::Listen;
  set_state(TcpState::SynReceived, TransitionCause::RcvSyn);
  // Data on a SYN is not kept (no TCP Fast Open): it is not acknowledged, so the peer sends it again.
  send_syn(true);
  arm_retransmit();
}

void TcpConnection::start_from_cookie(const TcpSegment& seg, TcpConnection& listener, uint16_t mss) {
  inherit(listener);
  tuple_ = FourTuple{seg.dst, seg.h.dst_port, seg.src, seg.h.src_port};
  passive_ = true;
  app_owned_ = false;
  listener_ = &listener;
  syn_cookie_ = true;
  init_send_space((seg.h.ack - 1).raw());
  snd_una_ = snd_nxt_ = snd_max_ = seg.h.ack;
  irs_ = seg.h.seq - 1;
  rcv_nxt_ = seg.h.seq;
  // The SYN,ACK advertised an unscaled window of at most 64 KiB.
  rcv_adv_ = seq_add(rcv_nxt_, std::min<std::size_t>(cfg_.receive_buffer, 65535));
  snd_mss_ = std::max<uint32_t>(kMinMss, std::min<uint32_t>(mss, our_mss_));
  if (cfg_.timestamps && seg.h.timestamps) {
    ts_ok_ = true;
    ts_recent_ = seg.h.timestamps->tsval;
    ts_recent_stamp_ = layer_.sched_.now();
    std::optional<uint8_t> ws;
    bool sack = false;
    SynCookie::decode_options(seg.h.timestamps->tsecr, ws, sack);
    ws_ok_ = cfg_.window_scaling && ws.has_value();
    snd_wscale_ = ws_ok_ ? *ws : 0;
    if (!ws_ok_) rcv_wscale_ = 0;
    sack_ok_ = cfg_.sack && sack;
  } else {
    rcv_wscale_ = 0;
  }
  snd_wnd_ = max_snd_wnd_ = static_cast<uint32_t>(seg.h.window) << snd_wscale_;
  snd_wl1_ = seg.h.seq;
  snd_wl2_ = seg.h.ack;
  last_ack_sent_ = rcv_nxt_;
  layer_.link(*this);
  ++listener.syn_queue_;  // became_established moves it to the accept queue
  state_ = TcpState::Listen;
  became_established(TransitionCause::SynCookie);
}

void TcpConnection::apply_syn_options(const TcpSegment& seg) {
  const uint16_t peer_mss = seg.h.mss.value_or(kDefaultMss);
  snd_mss_ = std::max<uint32_t>(kMinMss, std::min<uint32_t>(peer_mss, our_mss_));
  // RFC 7323 2.2: scaling is on only if both sides sent the option.
  ws_ok_ = cfg_.window_scaling && seg.h.window_scale.has_value();
  if (ws_ok_) {
    snd_wscale_ = std::min<uint8_t>(*seg.h.window_scale, 14);
  } else {
    snd_wscale_ = 0;
    rcv_wscale_ = 0;
  }
  sack_ok_ = cfg_.sack && seg.h.sack_permitted;
  ts_ok_ = cfg_.timestamps && seg.h.timestamps.has_value();
  if (ts_ok_) {
    ts_recent_ = seg.h.timestamps->tsval;
    ts_recent_stamp_ = layer_.sched_.now();
  }
}

void TcpConnection::size_for_buffers() {
  std::size_t n = cfg_.max_out_of_order;
  if (n == 0) {
    // Automatic: as many segments as the window can hold out of order, i.e. the receive buffer
    // in the peer's full-sized segments. The window, not a count, is what bounds a legitimate
    // sender; a smaller bound throws away what a slow-start overshoot or a burst of loss left
    // beyond a hole, and every such segment is sent again (seen in demi-simbench goodput: 591
    // of 1046 retransmissions were segments the receiver had dropped with a bound of 64).
    const uint32_t options = ts_ok_ ? static_cast<uint32_t>(kTimestampOptionLen) : 0;
    const uint32_t segment = std::max(our_mss_ > options ? our_mss_ - options : 0, kMinMss);
    n = std::clamp<std::size_t>(cfg_.receive_buffer / segment + 1, kMinOutOfOrder, kMaxOutOfOrder);
  }
  if (n != receive_queue_.out_of_order_limit()) receive_queue_.set_out_of_order_limit(n);
  // A flight of F bytes with every other segment lost leaves F / (2 * SMSS) SACKed ranges. A
  // scoreboard that forgets the highest of them counts what they hold as still in the network
  // (RFC 6675 pipe), and recovery stalls until the RTO (seen with 32 blocks and a 500 KB window).
  const std::size_t ranges = cfg_.send_buffer / (2 * std::size_t{effective_mss()}) + 2;
  const std::size_t blocks = std::clamp<std::size_t>(ranges, SackScoreboard::kDefaultCapacity, kMaxScoreboardBlocks);
  if (blocks > scoreboard_.capacity()) scoreboard_.set_capacity(blocks);
  // One entry per segment of the send buffer at most (a segment is logged once per recovery).
  const std::size_t segments = std::min<std::size_t>(cfg_.send_buffer / effective_mss() + 1, kMaxScoreboardBlocks);
  if (segments > rtx_log_.capacity()) rtx_log_.reserve(segments);
}

void TcpConnection::choose_window_scale() {
  // RFC 7323 2.3: the smallest shift that lets the window cover the whole receive buffer.
  rcv_wscale_ = 0;
  if (!cfg_.window_scaling) return;
  while (rcv_wscale_ < 14 && (cfg_.receive_buffer >> rcv_wscale_) > 65535) ++rcv_wscale_;
}

// ================================================================ segment arrival

void TcpConnection::on_segment(const TcpSegment& seg) {
  ++stats_.segments_received;
  last_rx_ = layer_.sched_.now();
  ka_probes_ = 0;
  switch (state_) {
    case TcpState::Listen:
      on_segment_listen(seg);
      return;
    case TcpState::SynSent:
      on_segment_syn_sent(seg);
      break;
    case TcpState::Closed:
      layer_.reply_reset(seg);
      return;
    default:
      on_segment_synchronized(seg);
      break;
  }
  if (state_ == TcpState::Closed) return;
  output();
  if (ack_now_) send_ack();
}

// RFC 9293 3.10.7.2
void TcpConnection::on_segment_listen(const TcpSegment& seg) {
  const auto& h = seg.h;
  if (seg.has(kRst)) return;  // first: a RST can only be for an old connection
  if (seg.has(kAck)) {
    // second: an ACK in LISTEN is bad, unless it completes a SYN cookie handshake.
    if (cfg_.syn_cookies && !seg.has(kSyn)) {
      const FourTuple t{seg.dst, h.dst_port, seg.src, h.src_port};
      if (auto mss = layer_.cookies_.check(t, (h.ack - 1).raw(), (h.seq - 1).raw(), layer_.sched_.now())) {
        if (static_cast<int>(accept_queue_.size()) >= backlog_) {
          ++layer_.counters_.accept_queue_full;
          return;
        }
        ++layer_.counters_.syn_cookies_accepted;
        DEMI_TRACE(kLog, "[{}] LISTEN: valid SYN cookie from {}:{}", id_, seg.src, h.src_port);
        TcpConnection* child = layer_.create();
        child->start_from_cookie(seg, *this, *mss);
        child->on_segment(seg);  // its data and FIN, if any
        return;
      }
      ++layer_.counters_.syn_cookies_rejected;
    }
    DEMI_TRACE(kLog, "[{}] LISTEN: ACK without a connection, RST", id_);
    layer_.reply_reset(seg);
    return;
  }
  if (!seg.has(kSyn)) {
    ++layer_.counters_.drop_listen;
    return;
  }
  // third: security (not implemented); fourth: SYN.
  if (static_cast<int>(accept_queue_.size()) >= backlog_) {
    // Nowhere to put the connection once established: let the peer try again (as Linux does).
    ++layer_.counters_.accept_queue_full;
    ++layer_.counters_.syn_dropped;
    return;
  }
  if (syn_queue_ >= cfg_.syn_queue_max) {
    if (cfg_.syn_cookies) {
      send_cookie_syn_ack(seg);
    } else {
      ++layer_.counters_.syn_dropped;
    }
    return;
  }
  DEMI_TRACE(kLog, "[{}] LISTEN: SYN from {}:{}", id_, seg.src, h.src_port);
  TcpConnection* child = layer_.create();
  child->start_from_syn(seg, *this);
}

// A SYN,ACK whose ISN is a SYN cookie: the listener keeps no state for it (syn_cookie.h).
void TcpConnection::send_cookie_syn_ack(const TcpSegment& seg) {
  const FourTuple t{seg.dst, seg.h.dst_port, seg.src, seg.h.src_port};
  const sched::Instant now = layer_.sched_.now();
  TcpRepr r;
  r.src_port = t.local_port;
  r.dst_port = t.remote_port;
  r.seq = SeqNumber{layer_.cookies_.make(t, seg.h.seq.raw(), seg.h.mss.value_or(kDefaultMss), now)};
  r.ack = seg.h.seq + 1;
  r.flags = kSyn | kAck;
  r.window = static_cast<uint16_t>(std::min<std::size_t>(cfg_.receive_buffer, 65535));
  r.mss = static_cast<uint16_t>(layer_.mss_for_mtu());
  if (cfg_.timestamps && seg.h.timestamps) {
    // Window scale and SACK-permitted ride in the low bits of TSval; kept below the clock so
    // the connection's later TSvals never go backwards.
    const bool ws = cfg_.window_scaling && seg.h.window_scale.has_value();
    const bool sack = cfg_.sack && seg.h.sack_permitted;
    const uint32_t clock = ts_clock(now) + layer_.isn_.ts_offset(t);
    const uint32_t bits = SynCookie::encode_options(ws ? seg.h.window_scale : std::nullopt, sack);
    r.timestamps = TcpTimestamps{((clock - SynCookie::kTsOptionMask - 1) & ~SynCookie::kTsOptionMask) | bits,
                                 seg.h.timestamps->tsval};
    if (ws) {
      uint8_t shift = 0;
      while (shift < 14 && (cfg_.receive_buffer >> shift) > 65535) ++shift;
      r.window_scale = shift;
    }
    r.sack_permitted = sack;
  }
  ++layer_.counters_.syn_cookies_sent;
  DEMI_TRACE(kLog, "[{}] LISTEN: SYN queue full, SYN cookie to {}:{}", id_, seg.src, seg.h.src_port);
  uint32_t len = 0;
  layer_.emit(t.local_addr, t.remote_addr, r, nullptr, 0, len);
}

// RFC 9293 3.10.7.3
void TcpConnection::on_segment_syn_sent(const TcpSegment& seg) {
  const auto& h = seg.h;
  bool ack_acceptable = false;
  // first: the ACK must acknowledge our SYN.
  if (seg.has(kAck)) {
    if (h.ack <= iss_ || h.ack > snd_max_) {
      DEMI_TRACE(kLog, "[{}] SYN-SENT: unacceptable ACK {}, RST", id_, h.ack.raw());
      if (!seg.has(kRst)) layer_.reply_reset(seg);
      return;
    }
    ack_acceptable = true;
  }
  // second: a RST is believed only with an acceptable ACK.
  if (seg.has(kRst)) {
    if (ack_acceptable) {
      DEMI_TRACE(kLog, "[{}] SYN-SENT: RST, connection refused", id_);
      enter_closed(TransitionCause::RcvRst, ECONNREFUSED);
    }
    return;
  }
  // fourth: SYN.
  if (!seg.has(kSyn)) return;
  irs_ = h.seq;
  rcv_nxt_ = rcv_adv_ = irs_ + 1;
  apply_syn_options(seg);
  snd_wnd_ = max_snd_wnd_ = h.window;  // never scaled in a SYN
  snd_wl1_ = h.seq;
  if (ack_acceptable) {
    snd_wl2_ = h.ack;
    take_rtt_sample(seg, h.ack);
    snd_una_ = h.ack;
    if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
    DEMI_TRACE(kLog, "[{}] SYN-SENT: SYN,ACK, mss {} ws {}/{} sack {} ts {}", id_, snd_mss_, snd_wscale_, rcv_wscale_,
               sack_ok_, ts_ok_);
    became_established(TransitionCause::RcvSynAck);
    rtt_.reset_backoff();
    schedule_ack(true);
    // sixth and on: data carried by the SYN,ACK.
    if (seg.data_len() > 0 || seg.has(kFin)) process_text(seg);
    return;
  }
  // Simultaneous open (RFC 9293 3.5 Figure 8): answer with SYN,ACK.
  DEMI_TRACE(kLog, "[{}] SYN-SENT: SYN, simultaneous open", id_);
  set_state(TcpState::SynReceived, TransitionCause::RcvSyn);
  send_syn(true);
  arm_retransmit();
}

// RFC 9293 3.10.7.4, for SYN-RECEIVED and every state after it.
void TcpConnection::on_segment_synchronized(const TcpSegment& seg) {
  // A retransmitted SYN while our SYN,ACK is unanswered: it was lost, send it again.
  if (state_ == TcpState::SynReceived && seg.has(kSyn) && !seg.has(kAck) && seg.h.seq == irs_) {
    DEMI_TRACE(kLog, "[{}] SYN-RECEIVED: SYN again, SYN,ACK again", id_);
    send_syn(true);
    return;
  }
  if (state_ == TcpState::SynReceived && !passive_ && seg.has(kSyn) && seg.has(kAck) && seg.h.seq == irs_) {
    // Simultaneous open (RFC 9293 3.5 Figure 8): the peer's SYN,ACK. Its SYN is the one we have
    // (at IRS, just below RCV.NXT), so the window check would call the whole segment old and
    // answer with a bare ACK, leaving us in SYN-RECEIVED until our SYN,ACK is retransmitted.
    // Without the SYN (as BSD's tcp_input trims it) it is the ACK that establishes us.
    TcpSegment rest = seg;
    rest.h.flags = static_cast<uint8_t>(rest.h.flags & ~kSyn);
    rest.h.seq = irs_ + 1;
    on_segment_synchronized(rest);
    // RFC 7323 2.2: the window of a SYN is never scaled.
    if (state_ == TcpState::Established && snd_wl1_ == rest.h.seq) snd_wnd_ = max_snd_wnd_ = seg.h.window;
    return;
  }
  if (!check_paws(seg)) return;
  if (!check_sequence(seg)) return;  // first
  if (!check_rst(seg)) return;       // second
  // third: security and precedence are not implemented (RFC 9293 3.10.7.4 allows it).
  if (!check_syn(seg)) return;  // fourth
  // fifth: ACK; a segment without one is dropped.
  if (!seg.has(kAck)) return;
  if (!process_ack(seg)) return;
  // sixth: URG is ignored (RFC 6093: new applications should not use urgent data).
  // seventh and eighth: text and FIN.
  process_text(seg);
}

// RFC 7323 5.3: PAWS, before the sequence number check.
bool TcpConnection::check_paws(const TcpSegment& seg) {
  if (!ts_ok_) return true;
  if (!seg.h.timestamps) {
    if (seg.has(kRst)) return true;
    // RFC 7323 3.2: after negotiation, a segment without the option is dropped.
    ++layer_.counters_.drop_no_timestamp;
    return false;
  }
  if (seg.has(kRst)) return true;  // RFC 7323 5.3 R1: RSTs are judged by sequence number only
  const uint32_t tsval = seg.h.timestamps->tsval;
  if (static_cast<int32_t>(tsval - ts_recent_) < 0) {
    if (layer_.sched_.now() - ts_recent_stamp_ > kTsRecentMaxAge) {
      // R3: TS.Recent has gone stale (24 days idle): it no longer says anything.
      ts_recent_ = tsval;
      ts_recent_stamp_ = layer_.sched_.now();
      return true;
    }
    DEMI_TRACE(kLog, "[{}] {}: PAWS drop, TSval {} < TS.Recent {}", id_, state_name(state_), tsval, ts_recent_);
    ++layer_.counters_.drop_paws;
    ++stats_.paws_drops;
    schedule_ack(true);
    return false;
  }
  return true;
}

// First: is the segment (partly) within the receive window? (RFC 9293 3.10.7.4 table.)
bool TcpConnection::check_sequence(const TcpSegment& seg) {
  const uint32_t len = seg.seg_len();
  const SeqNumber seq = seg.h.seq;
  const uint32_t wnd = rcv_adv_ > rcv_nxt_ ? static_cast<uint32_t>(rcv_adv_ - rcv_nxt_) : 0;
  const SeqNumber right = rcv_nxt_ + wnd;
  bool ok;
  if (len == 0) {
    ok = wnd == 0 ? seq == rcv_nxt_ : seq_in(seq, rcv_nxt_, right);
  } else if (wnd == 0) {
    // Nothing fits, but the ACK and RST of a segment at RCV.NXT are still processed (3.10.7.4:
    // "special allowance should be made to accept valid ACKs, URGs, and RSTs").
    ok = seq == rcv_nxt_;
  } else {
    ok = seq_in(seq, rcv_nxt_, right) || seq_in(seq + (len - 1), rcv_nxt_, right);
  }
  if (!ok) {
    if (seg.has(kRst)) return false;
    DEMI_TRACE(kLog, "[{}] {}: seq {} len {} outside window [{}, +{}), ACK", id_, state_name(state_), seq.raw(), len,
               rcv_nxt_.raw(), wnd);
    ++layer_.counters_.drop_out_of_window;
    // TIME-WAIT: a retransmitted FIN restarts the 2 MSL timer (3.10.7.4, eighth).
    if (state_ == TcpState::TimeWait && seg.has(kFin)) wait_timer_.arm_in(2 * cfg_.msl);
    schedule_ack(true);
    return false;
  }
  // RFC 7323 4.3 (2): remember the timestamp of the segment our next ACK will acknowledge.
  if (ts_ok_ && seg.h.timestamps && seq <= last_ack_sent_ &&
      static_cast<int32_t>(seg.h.timestamps->tsval - ts_recent_) >= 0) {
    ts_recent_ = seg.h.timestamps->tsval;
    ts_recent_stamp_ = layer_.sched_.now();
  }
  return true;
}

// Second: RST (RFC 5961 3.2: only an exact match resets; one elsewhere in the window gets a
// challenge ACK).
bool TcpConnection::check_rst(const TcpSegment& seg) {
  if (!seg.has(kRst)) return true;
  if (seg.h.seq != rcv_nxt_) {
    DEMI_TRACE(kLog, "[{}] {}: RST in window but not at RCV.NXT, challenge ACK", id_, state_name(state_));
    send_challenge_ack();
    return false;
  }
  DEMI_TRACE(kLog, "[{}] {}: RST", id_, state_name(state_));
  switch (state_) {
    case TcpState::SynReceived:
      // Passive open: back to LISTEN, which for us means the half-open child goes away.
      enter_closed(TransitionCause::RcvRst, passive_ ? 0 : ECONNREFUSED);
      break;
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
    case TcpState::CloseWait:
      ++layer_.counters_.connections_reset;
      enter_closed(TransitionCause::RcvRst, ECONNRESET);
      break;
    default:  // CLOSING, LAST-ACK, TIME-WAIT
      enter_closed(TransitionCause::RcvRst, 0);
      break;
  }
  return false;
}

// Fourth: a SYN in a synchronized state (RFC 5961 4.2: challenge ACK, whatever its sequence number).
bool TcpConnection::check_syn(const TcpSegment& seg) {
  if (!seg.has(kSyn)) return true;
  DEMI_TRACE(kLog, "[{}] {}: SYN, challenge ACK", id_, state_name(state_));
  send_challenge_ack();
  return false;
}

// Fifth: ACK. False when the segment is done with.
bool TcpConnection::process_ack(const TcpSegment& seg) {
  const SeqNumber ack = seg.h.ack;
  if (state_ == TcpState::SynReceived) {
    if (!(ack > snd_una_ && ack <= snd_max_)) {
      DEMI_TRACE(kLog, "[{}] SYN-RECEIVED: unacceptable ACK {}, RST", id_, ack.raw());
      layer_.reply_reset(seg);
      return false;
    }
    if (passive_ && listener_ && static_cast<int>(listener_->accept_queue_.size()) >= listener_->backlog_) {
      // No room to accept: ignore the ACK, the SYN,ACK goes out again and the peer answers again.
      ++layer_.counters_.accept_queue_full;
      return false;
    }
    take_rtt_sample(seg, ack);
    snd_una_ = ack;
    if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
    snd_wnd_ = max_snd_wnd_ = static_cast<uint32_t>(seg.h.window) << snd_wscale_;
    snd_wl1_ = seg.h.seq;
    snd_wl2_ = ack;
    rtt_.reset_backoff();
    DEMI_TRACE(kLog, "[{}] SYN-RECEIVED: ACK of SYN", id_);
    became_established(TransitionCause::RcvAck);
  }
  // RFC 5961 5.2: acceptable only within [SND.UNA - MAX.SND.WND, SND.NXT].
  if (ack > snd_max_ || ack < snd_una_ - std::max<uint32_t>(max_snd_wnd_, 1)) {
    DEMI_TRACE(kLog, "[{}] {}: ACK {} outside [{} - {}, {}], ACK", id_, state_name(state_), ack.raw(), snd_una_.raw(),
               max_snd_wnd_, snd_max_.raw());
    ++layer_.counters_.drop_bad_ack;
    schedule_ack(true);
    return false;
  }
  if (state_ == TcpState::TimeWait) return true;  // nothing to acknowledge; a FIN may follow

  // RFC 5681 2 (and RFC 6675 for SACK): is this a duplicate ACK? Judged before the window update.
  const uint32_t seg_wnd = static_cast<uint32_t>(seg.h.window) << snd_wscale_;
  bool sack_grew = false;
  const bool new_ack = ack > snd_una_;
  if (new_ack) on_new_ack(seg, ack);
  if (sack_ok_ && seg.h.sack_count > 0) {
    const auto n = std::min<std::size_t>(seg.h.sack_count, wire::kTcpMaxSackBlocks);
    sack_grew = scoreboard_.update(std::span<const SackBlock>(seg.h.sack.data(), n), snd_una_, snd_max_);
    if (sack_grew && recovery_ == Recovery::Sack) detect_lost_retransmissions();
  }
  if (!new_ack && ack == snd_una_ && snd_max_ != snd_una_) {
    const bool classic_dup = seg.data_len() == 0 && !seg.has(kSyn) && !seg.has(kFin) && seg_wnd == snd_wnd_;
    if (classic_dup || sack_grew) on_duplicate_ack(seg, sack_grew);
  }
  if (ack >= snd_una_) update_send_window(seg);
  if (rtx_mode_ == RtxMode::Persist) retries_ = 0;  // the peer answers our probes

  switch (state_) {
    case TcpState::FinWait1:
      if (our_fin_acked()) {
        set_state(TcpState::FinWait2, TransitionCause::RcvAck);
        if (!app_owned_ && cfg_.fin_wait_2_timeout > sched::Duration::zero())
          wait_timer_.arm_in(cfg_.fin_wait_2_timeout);
      }
      return true;
    case TcpState::Closing:
      if (our_fin_acked()) enter_time_wait(TransitionCause::RcvAck);
      return true;
    case TcpState::LastAck:
      if (our_fin_acked()) {
        enter_closed(TransitionCause::RcvAck, 0);
        return false;
      }
      return true;
    default:
      return true;
  }
}

void TcpConnection::update_send_window(const TcpSegment& seg) {
  // RFC 9293 3.10.7.4: only a segment newer than the last one that set the window may set it.
  if (snd_wl1_ < seg.h.seq || (snd_wl1_ == seg.h.seq && snd_wl2_ <= seg.h.ack)) {
    snd_wnd_ = static_cast<uint32_t>(seg.h.window) << snd_wscale_;
    snd_wl1_ = seg.h.seq;
    snd_wl2_ = seg.h.ack;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    if (snd_wnd_ > 0 && rtx_mode_ == RtxMode::Persist && rtx_timer_.armed()) {
      rtx_timer_.cancel();
      rtt_.reset_backoff();
    }
  }
}

void TcpConnection::on_new_ack(const TcpSegment& seg, SeqNumber ack) {
  rtx_head_pending_ = false;  // the head a refused retransmission meant is acknowledged now
  const uint32_t acked = static_cast<uint32_t>(ack - snd_una_);
  const uint32_t flight_before = static_cast<uint32_t>(snd_max_ - snd_una_);
  const sched::Duration rtt = take_rtt_sample(seg, ack);
  // Release the acknowledged data: the application's buffers go back as the peer confirms them.
  const SeqNumber data_end = seq_add(snd_data_, send_queue_.size());
  const SeqNumber upto = seq_min(ack, data_end);
  if (upto > snd_data_) {
    const auto n = static_cast<std::size_t>(upto - snd_data_);
    send_queue_.consume(n);
    stats_.bytes_acked += n;
    snd_data_ = upto;
  }
  snd_una_ = ack;
  if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
  scoreboard_.advance(snd_una_);
  if (high_rxt_ < snd_una_) high_rxt_ = snd_una_;
  retries_ = 0;
  // New data was acknowledged: the path works again, so the backoff ends here rather than at
  // the next RTT sample (RFC 6298 would keep it until a sample; without timestamps, under
  // loss both ways, go-back-N leaves few unretransmitted segments to time, and the backed-off
  // timer then stalls the connection for minutes: seen in the loopback test at 5% loss).
  rtt_.reset_backoff();

  while (!rtx_log_.empty() && rtx_log_.front().seq + rtx_log_.front().len <= snd_una_) {
    if (rtx_log_.front().lost) rtx_lost_bytes_ -= rtx_log_.front().len;
    rtx_log_.pop_front();
  }
  if (recovery_ != Recovery::None) {
    if (ack >= recover_) {
      DEMI_TRACE(kLog, "[{}] recovery ends at {}", id_, ack.raw());
      forget_retransmissions();
      recovery_ = Recovery::None;
      inflation_ = 0;
      dupacks_ = 0;
      if (cc_) cc_->on_recovery_end(layer_.sched_.now());
    } else if (recovery_ == Recovery::NewReno) {
      // RFC 6582 3.2 step 5: a partial ACK: retransmit the next hole, deflate by what was
      // acknowledged and add back one segment.
      inflation_ = inflation_ > acked ? inflation_ - acked : 0;
      inflation_ += effective_mss();
      retransmit_head();
    }
  } else {
    dupacks_ = 0;
    if (cc_) cc_->on_ack(acked, flight_before, rtt, layer_.sched_.now());
  }
  if (snd_una_ == snd_max_) {
    if (rtx_mode_ == RtxMode::Retransmit) rtx_timer_.cancel();
  } else {
    arm_retransmit();  // RFC 6298 5.3
  }
  notify();  // room in the send buffer
}

void TcpConnection::on_duplicate_ack(const TcpSegment& seg, bool sack_grew) {
  (void)seg;
  ++dupacks_;
  ++stats_.dupacks;
  if (recovery_ == Recovery::None) {
    // RFC 6582 3.2 step 2 (and RFC 6675's RecoveryPoint): no new recovery for losses of the
    // window a previous recovery or RTO already dealt with.
    if (snd_una_ < recover_) return;
    const bool lost = dupacks_ >= SackScoreboard::kDupThresh ||
                      (sack_ok_ && sack_grew && scoreboard_.is_lost(snd_una_, effective_mss()));
    if (lost) enter_recovery();
  } else if (recovery_ == Recovery::NewReno) {
    inflation_ += effective_mss();  // RFC 6582 3.2 step 4
  }
}

void TcpConnection::enter_recovery() {
  ++stats_.fast_retransmits;
  recover_ = snd_max_;
  if (cc_) cc_->on_loss(flight(), layer_.sched_.now());
  rtt_timing_ = false;
  if (sack_ok_) {
    DEMI_TRACE(kLog, "[{}] SACK loss recovery from {} to {}", id_, snd_una_.raw(), recover_.raw());
    ++stats_.sack_recoveries;
    recovery_ = Recovery::Sack;
    forget_retransmissions();
    inflation_ = 0;
    high_rxt_ = snd_una_;
    retransmit_head();
  } else {
    DEMI_TRACE(kLog, "[{}] fast retransmit (NewReno) from {} to {}", id_, snd_una_.raw(), recover_.raw());
    recovery_ = Recovery::NewReno;
    inflation_ = 3 * effective_mss();
    retransmit_head();
  }
}

// The first unacknowledged segment, again.
void TcpConnection::retransmit_head() {
  const SeqNumber data_end = seq_add(snd_data_, send_queue_.size());
  if (snd_una_ < data_end) {
    const auto len = std::min<uint32_t>(effective_mss(), static_cast<uint32_t>(data_end - snd_una_));
    rtx_head_pending_ = !send_data(snd_una_, len);
    if (!rtx_head_pending_ && recovery_ == Recovery::Sack) high_rxt_ = seq_max(high_rxt_, snd_una_ + len);
  } else if (fin_queued_ && snd_una_ == fin_seq_) {
    rtx_head_pending_ = !send_fin_only(fin_seq_);
  }
}

sched::Duration TcpConnection::take_rtt_sample(const TcpSegment& seg, SeqNumber ack) {
  const sched::Instant now = layer_.sched_.now();
  if (rtt_timing_ && ack > rtt_seq_) {
    // A segment sent once and now acknowledged (Karn: timing stops on any retransmission).
    rtt_timing_ = false;
    const sched::Duration r = now - rtt_start_;
    rtt_.sample(r);
    return r;
  }
  // A handshake whose SYN (or SYN,ACK) went out more than once: the peer may echo the TSval of
  // the first copy (its TS.Recent is not refreshed by a retransmitted SYN it takes for old), so
  // the sample would include our backoff: seconds, which then hold the RTO up for the whole
  // connection (seen at 20% loss). Take none; the data gives samples soon enough.
  const bool handshake_retransmitted =
      (state_ == TcpState::SynSent || state_ == TcpState::SynReceived) && retries_ > 0;
  // Karn's rule for timestamps: an ACK that covers retransmitted data but echoes a TSval older
  // than that retransmission answers an earlier copy whose ACK was lost; the peer echoes its
  // oldest unacknowledged timestamp (RFC 7323 4.3), and the sample would include our timeout.
  const bool echo_predates_rtx = rtx_sent_ && ack > rtx_seq_ && seg.h.timestamps &&
                                 static_cast<int32_t>(seg.h.timestamps->tsecr - rtx_tsval_) < 0;
  if (ts_ok_ && seg.h.timestamps && seg.h.timestamps->tsecr != 0 && !handshake_retransmitted && !echo_predates_rtx) {
    // RFC 7323 4.1: the echoed TSval dates the segment this ACK answers, retransmitted or not.
    const uint32_t ms = ts_clock(now) + ts_offset_ - seg.h.timestamps->tsecr;
    if (ms < 3'600'000u) {
      const sched::Duration r = std::chrono::milliseconds(ms);
      rtt_.sample(r);
      return r;
    }
  }
  return sched::Duration::zero();
}

// Seventh and eighth steps: segment text and FIN.
void TcpConnection::process_text(const TcpSegment& seg) {
  bool fin = seg.has(kFin);
  std::size_t len = seg.data_len();
  if (len == 0 && !fin) return;
  switch (state_) {
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
      break;
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN came already; the eighth step
      // for a FIN here is an ACK (and in TIME-WAIT a restart of the 2 MSL timer).
      if (fin && seg.h.seq + static_cast<uint32_t>(len) + 1 == rcv_nxt_) {
        if (state_ == TcpState::TimeWait) wait_timer_.arm_in(2 * cfg_.msl);
        schedule_ack(true);
      }
      return;
  }
  SeqNumber seq = seg.h.seq;
  if (seg.has(kSyn)) seq = seq + 1;
  mem::BufRef data = len > 0 ? seg.payload : mem::BufRef{};
  // Trim what was received already...
  if (seq < rcv_nxt_) {
    const auto old = static_cast<std::size_t>(rcv_nxt_ - seq);
    if (old >= len) {
      // All the data is old; only a FIN right at RCV.NXT is new.
      if (!(fin && old == len)) return;
      data.reset();
      len = 0;
    } else {
      data.trim_front(old);
      len -= old;
    }
    seq = rcv_nxt_;
  }
  // ...and what lies beyond the window we advertised (with the FIN behind it).
  const SeqNumber right = seq_max(rcv_adv_, rcv_nxt_);
  if (seq_add(seq, len) > right) {
    const auto over = static_cast<std::size_t>(seq_add(seq, len) - right);
    const std::size_t cut = std::min(over, len);
    data.trim_back(cut);
    len -= cut;
    fin = false;
  }
  if (len == 0 && !fin) {
    schedule_ack(true);
    return;
  }
  if (!app_owned_ && len > 0 && (state_ == TcpState::FinWait1 || state_ == TcpState::FinWait2)) {
    // Nobody will read it (RFC 9293 3.10.4, RFC 2525 2.17): reset the connection.
    DEMI_TRACE(kLog, "[{}] {}: data after close, RST", id_, state_name(state_));
    send_rst(snd_nxt_);
    enter_closed(TransitionCause::Abort, 0);
    return;
  }

  if (seq == rcv_nxt_) {
    const bool had_holes = receive_queue_.out_of_order_segments() > 0;
    if (len > 0) {
      receive_queue_.push(std::move(data));
      rcv_nxt_ = seq_add(rcv_nxt_, len);
      stats_.bytes_received += len;
      unacked_bytes_ += static_cast<uint32_t>(len);
      largest_rx_segment_ = std::max(largest_rx_segment_, static_cast<uint32_t>(len));
    }
    bool fin_reached = fin;
    if (had_holes && !fin) {
      bool ooo_fin = false;
      const std::size_t moved = receive_queue_.drain(rcv_nxt_, ooo_fin);
      stats_.bytes_received += moved;
      fin_reached = ooo_fin;
    }
    if (len > 0 || had_holes) notify();
    if (fin_reached) {
      process_fin();
    } else if (had_holes) {
      schedule_ack(true);  // RFC 5681 4.2: ACK at once when a hole fills
    } else {
      // RFC 5681 4.2 / RFC 9293 3.8.6.3: at least every second full-sized segment.
      schedule_ack(unacked_bytes_ >= 2 * std::max<uint32_t>(largest_rx_segment_, 1));
    }
    return;
  }
  // Out of order: keep it (bounded) and send a duplicate ACK at once, with SACK blocks.
  if (!receive_queue_.add_out_of_order(seq, std::move(data), fin, rcv_nxt_)) {
    if (receive_queue_.out_of_order_segments() >= receive_queue_.out_of_order_limit()) ++layer_.counters_.drop_ooo_full;
  }
  schedule_ack(true);
}

// Eighth: the peer's FIN, reached in sequence.
void TcpConnection::process_fin() {
  if (fin_received_) return;
  fin_received_ = true;
  rcv_nxt_ = rcv_nxt_ + 1;
  schedule_ack(true);
  notify();
  DEMI_TRACE(kLog, "[{}] {}: FIN", id_, state_name(state_));
  switch (state_) {
    case TcpState::SynReceived:
    case TcpState::Established:
      set_state(TcpState::CloseWait, TransitionCause::RcvFin);
      break;
    case TcpState::FinWait1:
      // Our FIN is not acknowledged (the ACK step would have moved us to FIN-WAIT-2).
      set_state(TcpState::Closing, TransitionCause::RcvFin);
      break;
    case TcpState::FinWait2:
      wait_timer_.cancel();
      enter_time_wait(TransitionCause::RcvFin);
      break;
    default:
      break;
  }
}

// ================================================================ sending

bool TcpConnection::can_send_data() const { return sends_data(state_); }

std::size_t TcpConnection::unsent_bytes() const {
  const int32_t off = snd_nxt_ - snd_data_;
  if (off < 0) return 0;
  const auto o = static_cast<std::size_t>(off);
  return send_queue_.size() > o ? send_queue_.size() - o : 0;
}

uint32_t TcpConnection::effective_mss() const {
  // RFC 6691: the MSS counts no options; every segment carries timestamps once negotiated.
  const uint32_t opts = ts_ok_ ? static_cast<uint32_t>(kTimestampOptionLen) : 0;
  return snd_mss_ > opts + kMinMss ? snd_mss_ - opts : kMinMss;
}

uint32_t TcpConnection::ts_clock(sched::Instant now) {
  // A 1 ms timestamp clock (RFC 7323 5.4 allows 1 ms to 1 s per tick).
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
}

uint32_t TcpConnection::tsval() const {
  return ts_clock(layer_.sched_.now()) + ts_offset_;
}

// Nagle (RFC 896, RFC 9293 3.7.4) with Minshall's refinement (a small segment may go when no
// other small segment is unacknowledged, so the tail of a large write is not held), and
// sender-side SWS avoidance (RFC 9293 3.8.6.2.1).
// What may be in flight: the send buffer, but never less than four segments (a buffer below
// one segment would leave Nagle waiting for a full segment that can never be sent).
uint32_t TcpConnection::send_buffer_limit() const {
  const std::size_t floor = 4 * std::size_t{effective_mss()};
  return static_cast<uint32_t>(std::min<std::size_t>(std::max(cfg_.send_buffer, floor), UINT32_MAX));
}

bool TcpConnection::nagle_allows(uint32_t len, std::size_t unsent) const {
  if (len >= effective_mss()) return true;
  const bool idle = flight() == 0;
  // A small segment beyond SND.NXT is not in flight: a timeout sent SND.NXT back (go-back-N) and
  // the segment is presumed lost; it is the data about to go again (Linux's Minshall check too).
  const bool no_small_in_flight = snd_sml_ <= snd_una_ || snd_sml_ > snd_nxt_;
  if (len == unsent && (nodelay_ || idle || fin_queued_ || no_small_in_flight)) return true;
  if (max_snd_wnd_ > 0 && len >= max_snd_wnd_ / 2 && (nodelay_ || idle)) return true;
  return false;
}

void TcpConnection::output() {
  if (!can_send_data()) return;
  const sched::Instant now = layer_.sched_.now();
  if (cc_ && flight() == 0 && last_send_ != sched::Instant{} && now - last_send_ > rtt_.rto() && unsent_bytes() > 0)
    cc_->on_idle_restart(now);  // RFC 5681 4.1
  if (recovery_ == Recovery::Sack) {
    output_sack_recovery();
  } else {
    // NewReno's inflation during recovery (RFC 6582), or limited transmit (RFC 3042): on the
    // first two duplicate ACKs, one new segment each beyond cwnd.
    const uint32_t extra = recovery_ == Recovery::None ? std::min<uint32_t>(dupacks_, 2) * effective_mss() : inflation_;
    const uint32_t base = cc_ ? cc_->cwnd() : UINT32_MAX;
    const uint32_t cwnd = base > UINT32_MAX - extra ? UINT32_MAX : base + extra;
    for (;;) {
      const std::size_t unsent = unsent_bytes();
      if (unsent == 0) {
        if (fin_queued_ && snd_nxt_ == fin_seq_) send_fin_only(fin_seq_);
        break;
      }
      // In flight at most the send buffer: the queue may hold one push more (TcpLayer::send),
      // and the SACK scoreboard and the retransmission log are sized for the buffer.
      const uint32_t wnd = std::min({cwnd, snd_wnd_, send_buffer_limit()});
      const uint32_t in_flight = flight();
      if (in_flight >= wnd) break;
      const auto len = static_cast<uint32_t>(
          std::min<std::size_t>({unsent, effective_mss(), static_cast<std::size_t>(wnd - in_flight)}));
      if (!nagle_allows(len, unsent)) break;
      if (!send_data(snd_nxt_, len)) break;  // no room below: the retry timer goes on
    }
  }
  // Data waits with nothing in flight: a zero window, or a window too small to be worth it.
  if (unsent_bytes() > 0 && flight() == 0 && !rtx_timer_.armed()) arm_persist();
}

// RFC 6675 5 (C): while cwnd - pipe >= 1 SMSS, send NextSeg().
void TcpConnection::output_sack_recovery() {
  const uint32_t mss = effective_mss();
  for (int guard = 0; guard < 1024; ++guard) {
    // Retransmissions found lost are no longer in the network (detect_lost_retransmissions).
    const uint32_t counted = scoreboard_.pipe(snd_una_, snd_max_, high_rxt_, mss);
    const uint32_t pipe = counted > rtx_lost_bytes_ ? counted - rtx_lost_bytes_ : 0;
    const uint32_t cwnd = cc_ ? cc_->cwnd() : UINT32_MAX;
    if (pipe >= cwnd || cwnd - pipe < mss) break;
    SeqNumber seq;
    uint32_t len = 0;
    // A lost retransmission first: it is the oldest data the receiver lacks.
    if (rtx_lost_bytes_ > 0) {
      bool resent = false;
      for (std::size_t i = 0; i < rtx_log_.size(); ++i) {
        Retransmission& r = rtx_log_[i];
        if (!r.lost) continue;
        if (r.seq < snd_una_ || scoreboard_.is_sacked(r.seq)) {
          // It arrived after all (partly acknowledged, or SACKed since): nothing to send.
          r.lost = false;
          rtx_lost_bytes_ -= r.len;
          continue;
        }
        if (!send_data(r.seq, r.len)) return;  // logs it again: no longer lost
        resent = true;
        break;
      }
      if (resent) continue;
    }
    // Rule 1: the first lost unSACKed range above HighRxt.
    if (scoreboard_.next_lost(high_rxt_, snd_una_, mss, seq, len)) {
      if (!send_data(seq, len)) return;
      high_rxt_ = seq_max(high_rxt_, seq + len);
      continue;
    }
    // Rule 2: new data, if the receiver's window allows.
    const std::size_t unsent = unsent_bytes();
    if (unsent > 0) {
      const uint32_t limit = std::min(snd_wnd_, send_buffer_limit());
      const uint32_t in_window = limit > flight() ? limit - flight() : 0;
      const auto n = static_cast<uint32_t>(std::min<std::size_t>({unsent, mss, in_window}));
      if (n > 0 && (n == mss || n == unsent)) {
        if (!send_data(snd_nxt_, n)) return;
        continue;
      }
    } else if (fin_queued_ && snd_nxt_ == fin_seq_) {
      if (!send_fin_only(fin_seq_)) return;
      continue;
    }
    // Rule 3: an unSACKed range not yet deemed lost.
    if (scoreboard_.next_unsacked(high_rxt_, snd_una_, mss, seq, len)) {
      rtx_rule3_ = true;
      const bool sent = send_data(seq, len);
      rtx_rule3_ = false;
      if (!sent) return;
      high_rxt_ = seq_max(high_rxt_, seq + len);
      continue;
    }
    break;
  }
}

int TcpConnection::send_syn(bool with_ack) {
  uint8_t flags = kSyn | (with_ack ? kAck : 0);
  uint32_t len = 0;
  const int rc = transmit(flags, iss_, len, true);
  if (snd_nxt_ <= iss_) snd_nxt_ = iss_ + 1;
  if (snd_max_ <= iss_) snd_max_ = iss_ + 1;
  if (retries_ == 0 && !rtt_timing_) {
    rtt_timing_ = true;
    rtt_seq_ = iss_;
    rtt_start_ = layer_.sched_.now();
  } else if (retries_ > 0) {
    rtt_timing_ = false;  // Karn
    ++stats_.retransmits;
    ++layer_.counters_.retransmits;
  }
  return rc;
}

bool TcpConnection::send_data(SeqNumber seq, uint32_t len) {
  uint8_t flags = kAck;
  if (fin_queued_ && seq + len == fin_seq_) flags |= kFin;
  if (data_offset(seq + len) == send_queue_.size()) flags |= kPsh;
  const bool retransmission = seq < snd_max_;
  // Small for Nagle is what was asked for, not a full segment that SACK blocks shortened.
  const bool small = len < effective_mss();
  // No room below (a full transmit queue, no header buffer): not sent, so not lost either.
  if (transmit(flags, seq, len, false) == ENOBUFS) return false;
  if (seq == snd_una_) rtx_head_pending_ = false;  // the head went (by whichever path)
  if (small) snd_sml_ = seq_max(snd_sml_, seq + len);
  const SeqNumber end = seq + len + ((flags & kFin) ? 1u : 0u);
  if (end > snd_nxt_) snd_nxt_ = end;
  if (end > snd_max_) {
    const SeqNumber from = seq_max(seq, snd_max_);
    const SeqNumber data_end = seq_min(end, seq_add(snd_data_, send_queue_.size()));
    if (data_end > from) stats_.bytes_sent += static_cast<uint32_t>(data_end - from);
    snd_max_ = end;
  }
  if (retransmission) {
    ++stats_.retransmits;
    ++layer_.counters_.retransmits;
    note_retransmission(seq);
    if (recovery_ == Recovery::Sack && len > 0) log_retransmission(seq, len);
    if (rtt_timing_ && seq <= rtt_seq_) rtt_timing_ = false;  // Karn's rule
  } else if (!rtt_timing_ && len > 0 && recovery_ == Recovery::None) {
    // Not during loss recovery: the ACK covering new data sent now waits for the holes below
    // it to be repaired, and the sample would measure the recovery, not the path (seen at 20%
    // loss: samples of seconds drove the RTO to its 60 s ceiling and the transfer crawled).
    rtt_timing_ = true;
    rtt_seq_ = seq;
    rtt_start_ = layer_.sched_.now();
  }
  if (!rtx_timer_.armed() || rtx_mode_ == RtxMode::Persist) arm_retransmit();
  return true;
}

bool TcpConnection::send_fin_only(SeqNumber seq) {
  uint8_t flags = kAck | kFin;
  uint32_t len = 0;
  const bool retransmission = seq < snd_max_;
  if (transmit(flags, seq, len, false) == ENOBUFS) return false;
  if (seq == snd_una_) rtx_head_pending_ = false;
  if (seq + 1 > snd_nxt_) snd_nxt_ = seq + 1;
  if (seq + 1 > snd_max_) snd_max_ = seq + 1;
  if (retransmission) {
    ++stats_.retransmits;
    ++layer_.counters_.retransmits;
    note_retransmission(seq);
  }
  if (!rtx_timer_.armed() || rtx_mode_ == RtxMode::Persist) arm_retransmit();
  return true;
}

void TcpConnection::note_retransmission(SeqNumber seq) {
  rtx_sent_ = true;
  rtx_seq_ = seq;
  rtx_tsval_ = tsval();
}

void TcpConnection::log_retransmission(SeqNumber seq, uint32_t len) {
  for (std::size_t i = rtx_log_.size(); i-- > 0;) {
    Retransmission& r = rtx_log_[i];
    if (r.seq != seq) continue;
    // Sent again (it was found lost): it is in the network once more, as of now.
    if (r.lost) rtx_lost_bytes_ -= r.len;
    r.len = len;
    r.lost = false;
    r.sent_before = snd_max_;
    r.order = ++rtx_order_;
    r.of_lost = true;
    return;
  }
  // Retransmissions go out in sequence order (NextSeg walks up from HighRxt), so appending keeps
  // the log sorted; one that is not above the last is not tracked (and left to the RTO).
  if (rtx_log_.size() == rtx_log_.capacity()) return;  // full: never grow on the data path
  if (!rtx_log_.empty() && seq <= rtx_log_.back().seq) return;
  rtx_log_.push_back(Retransmission{seq, len, snd_max_, ++rtx_order_, false, !rtx_rule3_});
}

void TcpConnection::detect_lost_retransmissions() {
  const uint32_t mss = effective_mss();
  // The DupThresh-th latest retransmission that the receiver has SACKed: every retransmission
  // sent before it has DupThresh later ones delivered.
  std::array<uint32_t, SackScoreboard::kDupThresh> latest{};  // descending; 0 = none
  for (std::size_t i = 0; i < rtx_log_.size(); ++i) {
    const Retransmission& r = rtx_log_[i];
    if (!r.of_lost || !scoreboard_.is_sacked(r.seq)) continue;
    uint32_t o = r.order;
    for (uint32_t& l : latest)
      if (o > l) std::swap(o, l);
  }
  const uint32_t order_bar = latest.back();
  for (std::size_t i = 0; i < rtx_log_.size(); ++i) {
    Retransmission& r = rtx_log_[i];
    if (r.lost || r.seq < snd_una_ || scoreboard_.is_sacked(r.seq)) continue;
    const bool later_data_delivered =
        scoreboard_.sacked_from(r.sent_before) > static_cast<uint64_t>(SackScoreboard::kDupThresh - 1) * mss;
    const bool later_rtx_delivered = order_bar > r.order;
    if (!later_data_delivered && !later_rtx_delivered) continue;
    DEMI_TRACE(kLog, "[{}] retransmission of {} lost", id_, r.seq.raw());
    r.lost = true;
    rtx_lost_bytes_ += r.len;
    ++stats_.lost_retransmits;
  }
}

void TcpConnection::forget_retransmissions() {
  rtx_log_.clear();
  rtx_lost_bytes_ = 0;
}

void TcpConnection::send_ack() {
  uint8_t flags = kAck;
  uint32_t len = 0;
  // SND.MAX, not SND.NXT: after a timeout SND.NXT goes back to SND.UNA (go-back-N), and an
  // ACK numbered below what the peer already received is out of its window and dropped with
  // its acknowledgment and window (BSD's tcp_output does the same).
  transmit(flags, snd_max_, len, false);
}

// RFC 5961 7: challenge ACKs, at most challenge_ack_limit per second per connection.
void TcpConnection::send_challenge_ack() {
  const sched::Instant now = layer_.sched_.now();
  if (now - challenge_window_ >= std::chrono::seconds(1)) {
    challenge_window_ = now;
    challenge_count_ = 0;
  }
  if (challenge_count_ >= cfg_.challenge_ack_limit) {
    ++layer_.counters_.challenge_acks_limited;
    return;
  }
  ++challenge_count_;
  ++stats_.challenge_acks;
  ++layer_.counters_.challenge_acks;
  send_ack();
}

void TcpConnection::send_rst(SeqNumber seq) {
  uint8_t flags = kRst;
  uint32_t len = 0;
  transmit(flags, seq, len, false);
  ++layer_.counters_.rsts_sent;
}

void TcpConnection::send_probe() {
  // SEG.SEQ = SND.UNA - 1: already acknowledged, so the peer answers with its ACK and window.
  uint8_t flags = kAck;
  uint32_t len = 0;
  transmit(flags, snd_una_ - 1, len, false);
}

void TcpConnection::fill_options(TcpRepr& h, bool syn) const {
  if (syn) {
    h.mss = static_cast<uint16_t>(std::min<uint32_t>(our_mss_, 65535));
    const bool offer = !(h.flags & kAck);  // a SYN offers what we have; a SYN,ACK answers the peer's offer
    if (cfg_.window_scaling && (offer || ws_ok_)) h.window_scale = rcv_wscale_;
    if (cfg_.sack && (offer || sack_ok_)) h.sack_permitted = true;
    if (cfg_.timestamps && (offer || ts_ok_)) h.timestamps = TcpTimestamps{tsval(), ts_ok_ ? ts_recent_ : 0};
    return;
  }
  if (ts_ok_) h.timestamps = TcpTimestamps{tsval(), ts_recent_};
  if (sack_ok_ && !(h.flags & kRst) && receive_queue_.out_of_order_segments() > 0) {
    // RFC 2018 3: at most 3 blocks beside timestamps in the 40 bytes of options.
    const std::size_t max = ts_ok_ ? 3 : 4;
    h.sack_count = static_cast<uint8_t>(receive_queue_.sack_blocks(std::span<SackBlock>(h.sack.data(), max)));
  }
}

// RFC 9293 3.8.6.2.2: the receiver's side of SWS avoidance: the right edge moves only by at
// least min(buffer / 2, MSS), and never moves left (3.8.6: a window is not shrunk).
uint16_t TcpConnection::window_to_advertise(bool syn) {
  const std::size_t buffer = cfg_.receive_buffer;
  const std::size_t used = receive_queue_.readable();
  const std::size_t free = buffer > used ? buffer - used : 0;
  if (syn) {
    const auto w = static_cast<uint16_t>(std::min<std::size_t>(free, 65535));
    rcv_adv_ = seq_max(rcv_adv_, seq_add(rcv_nxt_, w));
    return w;
  }
  const std::size_t current = rcv_adv_ > rcv_nxt_ ? static_cast<std::size_t>(rcv_adv_ - rcv_nxt_) : 0;
  const std::size_t step = std::min<std::size_t>(buffer / 2, our_mss_);
  std::size_t w = current;
  if (free > current && free - current >= step) w = free;
  // Scaled down, the window loses its low bits; where that would move the edge left, round up
  // instead (RFC 7323 2.4: the window must not shrink).
  const std::size_t unit = std::size_t{1} << rcv_wscale_;
  std::size_t field = w >> rcv_wscale_;
  if ((field << rcv_wscale_) < current) field = (current + unit - 1) >> rcv_wscale_;
  field = std::min<std::size_t>(field, 65535);
  rcv_adv_ = seq_max(rcv_adv_, seq_add(rcv_nxt_, field << rcv_wscale_));
  return static_cast<uint16_t>(field);
}

// After the application read: is the window worth announcing? (It grew by the SWS step and
// at least doubled, or it was closed.)
bool TcpConnection::window_update_due() const {
  if (!is_synchronized(state_) || fin_received_) return false;
  const std::size_t buffer = cfg_.receive_buffer;
  const std::size_t used = receive_queue_.readable();
  // Room beyond what the window field can say does not count: without window scaling a
  // 256 KiB buffer still advertises 65535, and a read that frees 10 bytes of it moves the
  // edge by 10 bytes only, no update worth a segment (RFC 9293 3.8.6.2.2).
  const std::size_t most = std::size_t{65535} << rcv_wscale_;
  const std::size_t free = std::min(buffer > used ? buffer - used : 0, most);
  const std::size_t current = rcv_adv_ > rcv_nxt_ ? static_cast<std::size_t>(rcv_adv_ - rcv_nxt_) : 0;
  const std::size_t step = std::min<std::size_t>(buffer / 2, our_mss_);
  return free > current && free - current >= step && free >= 2 * current;
}

void TcpConnection::schedule_ack(bool immediate) {
  ack_pending_ = true;
  if (immediate || !cfg_.delayed_ack_enabled) {
    ack_now_ = true;
  } else if (!delack_timer_.armed()) {
    delack_timer_.arm_in(cfg_.delayed_ack);
  }
}

int TcpConnection::transmit(uint8_t& flags, SeqNumber seq, uint32_t& len, bool syn_options) {
  TcpRepr h;
  h.src_port = tuple_.local_port;
  h.dst_port = tuple_.remote_port;
  h.seq = seq;
  h.flags = flags;
  if (flags & kAck) h.ack = rcv_nxt_;
  if (!(flags & kRst)) h.window = window_to_advertise(flags & kSyn);
  fill_options(h, syn_options);
  const std::size_t want = len;
  // RFC 6691 / RFC 9293 3.7.1: the peer's MSS bounds the data *and* the options beyond the fixed
  // header. effective_mss() leaves room for the timestamps every segment carries; SACK blocks
  // come and go, and a segment that carries them carries that much less data (else the IPv4
  // packet would exceed the path's MTU and be refused).
  const uint32_t options = static_cast<uint32_t>(h.emitted_header_len()) - kFixedHeaderLen;
  if (len > 0 && len + options > snd_mss_) {
    len = snd_mss_ > options + 1 ? snd_mss_ - options : 1;
    h.flags = static_cast<uint8_t>(h.flags & ~kFin);
  }
  const int rc = layer_.emit(tuple_.local_addr, tuple_.remote_addr, h, &send_queue_, len ? data_offset(seq) : 0, len);
  if (len < want) flags = h.flags;  // a FIN is not sent on a shortened segment
  if (rc == ENOBUFS) {
    // Nothing left: whatever this segment carried (data, the ACK) is still to be sent, from the
    // next pass. A SYN or a RST is not: the retransmission timer sends a SYN again, and a RST
    // answers a segment that will come again.
    if (!(flags & (kSyn | kRst))) {
      if (flags & kAck) ack_pending_ = ack_now_ = true;  // the window update or ACK it carried is owed
      defer_output();
    }
    return rc;
  }
  ++stats_.segments_sent;
  last_send_ = layer_.sched_.now();
  if (flags & kAck) {
    last_ack_sent_ = rcv_nxt_;
    ack_pending_ = ack_now_ = false;
    unacked_bytes_ = 0;
    delack_timer_.cancel();
  }
  return rc;
}

void TcpConnection::path_mtu_changed(uint32_t mtu) {
  const uint32_t mss = mtu > 40 + kMinMss ? mtu - 40 : kMinMss;
  if (mss >= snd_mss_) return;
  DEMI_DEBUG(kLog, "[{}] path MTU {}: MSS {} -> {}", id_, mtu, snd_mss_, mss);
  snd_mss_ = mss;
  if (cc_) cc_->set_mss(effective_mss());
}

// ================================================================ timers

void TcpConnection::arm_retransmit() {
  rtx_mode_ = RtxMode::Retransmit;
  rtx_timer_.arm_in(rtt_.timeout());
}

void TcpConnection::arm_persist() {
  rtx_mode_ = RtxMode::Persist;
  rtx_timer_.arm_in(rtt_.timeout());
}

void TcpConnection::on_rtx_timer() {
  if (rtx_mode_ == RtxMode::Persist) {
    on_persist_timeout();
  } else {
    on_retransmit_timeout();
  }
  if (state_ != TcpState::Closed && ack_now_) send_ack();
}

// RFC 6298 5.4-5.7, RFC 5681 3.1, RFC 9293 3.8.3 (R2: give up after data_retries).
void TcpConnection::on_retransmit_timeout() {
  ++stats_.timeouts;
  ++layer_.counters_.timeouts;
  ++retries_;
  rtt_.back_off();
  if (state_ == TcpState::SynSent || state_ == TcpState::SynReceived) {
    if (retries_ > cfg_.syn_retries) {
      DEMI_TRACE(kLog, "[{}] {}: handshake timed out", id_, state_name(state_));
      ++layer_.counters_.connections_timed_out;
      enter_closed(TransitionCause::Timeout, ETIMEDOUT);
      return;
    }
    send_syn(state_ == TcpState::SynReceived);
    arm_retransmit();
    return;
  }
  if (!is_synchronized(state_) || state_ == TcpState::TimeWait) return;
  if (snd_una_ == snd_max_) return;  // nothing outstanding
  if (retries_ > cfg_.data_retries) {
    DEMI_TRACE(kLog, "[{}] {}: retransmissions exhausted", id_, state_name(state_));
    ++layer_.counters_.connections_timed_out;
    enter_closed(TransitionCause::Timeout, ETIMEDOUT);
    return;
  }
  DEMI_TRACE(kLog, "[{}] {}: RTO #{} at {}, rto {} ms", id_, state_name(state_), retries_, snd_una_.raw(),
             sched::to_ms(rtt_.timeout()));
  if (cc_) cc_->on_timeout(static_cast<uint32_t>(snd_max_ - snd_una_), layer_.sched_.now());
  // Everything outstanding is presumed lost: leave recovery, forget SACK information (the
  // receiver may have reneged, RFC 2018 8) and go back to SND.UNA.
  recovery_ = Recovery::None;
  forget_retransmissions();
  inflation_ = 0;
  dupacks_ = 0;
  scoreboard_.clear();
  recover_ = snd_max_;
  rtt_timing_ = false;
  snd_nxt_ = snd_una_;
  retransmit_head();
  arm_retransmit();
}

// The persist timer (RFC 9293 3.8.6.1): probe a zero window; or, when a small window has kept
// data waiting with nothing in flight, send what fits (the SWS override timeout).
void TcpConnection::on_persist_timeout() {
  if (!can_send_data() || unsent_bytes() == 0) return;
  if (snd_wnd_ == 0) {
    ++retries_;
    if (retries_ > cfg_.data_retries) {
      ++layer_.counters_.connections_timed_out;
      enter_closed(TransitionCause::Timeout, ETIMEDOUT);
      return;
    }
    ++stats_.zero_window_probes;
    DEMI_TRACE(kLog, "[{}] {}: zero window probe", id_, state_name(state_));
    send_probe();
    rtt_.back_off();
    arm_persist();
    return;
  }
  const uint32_t in_window = snd_wnd_ > flight() ? snd_wnd_ - flight() : 0;
  const auto len = static_cast<uint32_t>(std::min<std::size_t>({unsent_bytes(), effective_mss(), in_window}));
  if (len > 0) {
    send_data(snd_nxt_, len);
  } else {
    arm_persist();
  }
}

void TcpConnection::on_delack_timer() {
  if (ack_pending_ && is_synchronized(state_)) send_ack();
}

void TcpConnection::defer_output() {
  ++stats_.tx_deferred;
  ++layer_.counters_.tx_deferred;
  if (!retry_timer_.armed()) retry_timer_.arm_in(sched::Duration::zero());
}

// What found no room below goes again; a queue still full defers it once more.
void TcpConnection::on_retry_timer() {
  if (state_ == TcpState::Closed) return;
  if (rtx_head_pending_) retransmit_head();
  output();
  if (state_ != TcpState::Closed && is_synchronized(state_) && ack_now_) send_ack();
}

void TcpConnection::rearm_keepalive() {
  if (!keepalive_ || !is_synchronized(state_)) {
    keepalive_timer_.cancel();
    return;
  }
  keepalive_timer_.arm_at(last_rx_ + ka_idle_);
}

// RFC 9293 3.8.4 / RFC 1122 4.2.3.6: after idle time, probes at intervals; no answer to
// `count` of them ends the connection.
void TcpConnection::on_keepalive_timer() {
  if (!keepalive_) return;
  if (state_ != TcpState::Established && state_ != TcpState::CloseWait && state_ != TcpState::FinWait2) return;
  const sched::Instant now = layer_.sched_.now();
  if (ka_probes_ == 0 && now - last_rx_ < ka_idle_) {
    keepalive_timer_.arm_at(last_rx_ + ka_idle_);
    return;
  }
  if (snd_una_ != snd_max_ || unsent_bytes() > 0) {
    // Data is outstanding: the retransmission timer watches the peer.
    keepalive_timer_.arm_in(ka_interval_);
    return;
  }
  if (ka_probes_ >= ka_count_) {
    DEMI_TRACE(kLog, "[{}] {}: keep-alive unanswered", id_, state_name(state_));
    ++layer_.counters_.connections_timed_out;
    enter_closed(TransitionCause::Timeout, ETIMEDOUT);
    return;
  }
  ++ka_probes_;
  ++stats_.keepalive_probes;
  send_probe();
  keepalive_timer_.arm_in(ka_interval_);
}

void TcpConnection::on_wait_timer() {
  if (state_ == TcpState::TimeWait) {
    enter_closed(TransitionCause::TimeWaitEnd, 0);
  } else if (state_ == TcpState::FinWait2 && !app_owned_) {
    DEMI_TRACE(kLog, "[{}] FIN-WAIT-2: no FIN in time", id_);
    enter_closed(TransitionCause::Timeout, 0);
  }
}

// ================================================================ application calls

void TcpConnection::start_close() {
  close_requested_ = false;
  fin_queued_ = true;
  fin_seq_ = seq_add(snd_data_, send_queue_.size());
  if (state_ == TcpState::Established) {
    set_state(TcpState::FinWait1, TransitionCause::Close);
  } else if (state_ == TcpState::CloseWait) {
    set_state(TcpState::LastAck, TransitionCause::Close);
  }
  output();
}

int TcpConnection::shutdown_by_app() {
  switch (state_) {
    case TcpState::SynSent:
    case TcpState::SynReceived:
      close_requested_ = true;  // FIN once established (RFC 9293 3.10.4)
      return 0;
    case TcpState::Established:
    case TcpState::CloseWait:
      start_close();
      return 0;
    case TcpState::FinWait1:
    case TcpState::FinWait2:
    case TcpState::Closing:
    case TcpState::LastAck:
    case TcpState::TimeWait:
      return 0;
    default:
      return ENOTCONN;
  }
}

void TcpConnection::close_by_app() {
  app_owned_ = false;
  if (linger_ && *linger_ == sched::Duration::zero()) {
    abort_by_app();
    return;
  }
  if (receive_queue_.readable() > 0 && is_synchronized(state_) && state_ != TcpState::TimeWait) {
    // RFC 2525 2.17 / RFC 9293 3.10.4: data the application will never read: reset.
    DEMI_TRACE(kLog, "[{}] {}: close with unread data, RST", id_, state_name(state_));
    abort_by_app();
    return;
  }
  switch (state_) {
    case TcpState::Closed:
      layer_.to_reap(*this);
      break;
    case TcpState::Listen:
      layer_.abort_children(*this);
      enter_closed(TransitionCause::Close, 0);
      break;
    case TcpState::SynSent:
      enter_closed(TransitionCause::Close, 0);
      break;
    case TcpState::SynReceived:
      close_requested_ = true;
      break;
    case TcpState::Established:
    case TcpState::CloseWait:
      start_close();
      break;
    case TcpState::FinWait2:
      if (cfg_.fin_wait_2_timeout > sched::Duration::zero()) wait_timer_.arm_in(cfg_.fin_wait_2_timeout);
      break;
    default:
      break;  // FIN-WAIT-1, CLOSING, LAST-ACK, TIME-WAIT: closing already
  }
}

void TcpConnection::abort_by_app() {
  app_owned_ = false;
  switch (state_) {
    case TcpState::Closed:
      layer_.to_reap(*this);
      break;
    case TcpState::Listen:
      layer_.abort_children(*this);
      enter_closed(TransitionCause::Close, 0);
      break;
    case TcpState::SynSent:
      enter_closed(TransitionCause::Abort, 0);
      break;
    case TcpState::SynReceived:
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
    case TcpState::CloseWait:
      // RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>.
      send_rst(snd_max_);
      enter_closed(TransitionCause::Abort, 0);
      break;
    default:  // CLOSING, LAST-ACK, TIME-WAIT: just delete the TCB
      enter_closed(TransitionCause::Abort, 0);
      break;
  }
}

}  // namespace demi::net::tcp
