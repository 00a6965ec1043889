// One TCP connection (or listener): the RFC 9293 state machine, its send and receive queues,
// options (RFC 7323 window scaling, timestamps and PAWS; RFC 2018 SACK), retransmission
// (RFC 6298), loss recovery (RFC 5681 / 6582 NewReno, RFC 6675 SACK) and its timers.
//
// Segment processing follows RFC 9293 3.10.7 in its event order, one function per state group:
//   on_segment_listen        3.10.7.2  LISTEN
//   on_segment_syn_sent      3.10.7.3  SYN-SENT
//   on_segment_synchronized  3.10.7.4  SYN-RECEIVED and every state after it, in the RFC's
//                                      eight steps (sequence number, RST, SYN, ACK, URG, text, FIN)
// with RFC 7323 PAWS before the sequence check and RFC 5961's rules inside it. Sending is one
// function (output) that decides what may leave now: new data within the congestion and send
// windows, Nagle and sender-side SWS avoidance, retransmissions during recovery, FIN, or a bare
// ACK. Every state change goes through set_state, which traces and records it.
//
// A connection lives in its TcpLayer's table from open() until it is CLOSED and its socket was
// closed by the application (or was never handed to it); the layer owns and destroys it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mem/buffer.h"
#include "net/tcp/congestion/congestion_control.h"
#include "net/tcp/four_tuple.h"
#include "net/tcp/receive_queue.h"
#include "net/tcp/ring.h"
#include "net/tcp/rtt_estimator.h"
#include "net/tcp/sack_scoreboard.h"
#include "net/tcp/send_queue.h"
#include "net/tcp/tcp_config.h"
#include "net/tcp/tcp_segment.h"
#include "net/tcp/tcp_state.h"
#include "net/tcp/transition_coverage.h"
#include "sched/clock.h"
#include "sched/timer.h"
#include "sched/wait_queue.h"

namespace demi::net::tcp {

class TcpLayer;
using SocketId = uint32_t;

// What a connection reports about itself (TCP_INFO in spirit).
struct TcpInfo {
  TcpState state = TcpState::Closed;
  uint32_t snd_mss = 0;  // the payload bytes of a full segment we send (options excluded)
  uint32_t rcv_mss = 0;  // the MSS we announced
  uint32_t cwnd = 0;
  uint32_t ssthresh = 0;
  uint32_t snd_wnd = 0;  // the peer's window, scaled
  uint32_t rcv_wnd = 0;  // the window we last advertised, scaled
  uint8_t snd_wscale = 0;
  uint8_t rcv_wscale = 0;
  bool sack = false;
  bool timestamps = false;
  bool window_scaling = false;
  bool syn_cookie = false;  // set up through a SYN cookie
  sched::Duration srtt{};
  sched::Duration rttvar{};
  sched::Duration rto{};
  uint32_t flight = 0;           // bytes sent and not acknowledged
  std::size_t send_queued = 0;   // bytes held for (re)transmission
  std::size_t recv_queued = 0;   // bytes readable
  std::size_t out_of_order = 0;  // out-of-order segments held
  uint64_t segments_sent = 0;
  uint64_t segments_received = 0;
  uint64_t bytes_sent = 0;  // new data bytes
  uint64_t bytes_acked = 0;
  uint64_t bytes_received = 0;    // in-order data bytes
  uint64_t retransmits = 0;       // segments sent again
  uint64_t tx_deferred = 0;       // segments IPv4 had no room for (ENOBUFS): sent from the next pass
  uint64_t timeouts = 0;          // RTO expiries
  uint64_t fast_retransmits = 0;  // recoveries entered by dupacks or SACK
  uint64_t sack_recoveries = 0;
  uint64_t lost_retransmits = 0;  // retransmissions found lost during SACK recovery
  uint64_t dupacks = 0;
  uint64_t zero_window_probes = 0;
  uint64_t keepalive_probes = 0;
  uint64_t challenge_acks = 0;
  uint64_t paws_drops = 0;
  std::string congestion_control;
};

class TcpConnection {
 public:
  TcpConnection(TcpLayer& layer, SocketId id, const TcpConfig& config);
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  SocketId id() const { return id_; }
  TcpState state() const { return state_; }
  const FourTuple& tuple() const { return tuple_; }
  sched::WaitQueue& events() { return events_; }
  TcpInfo info() const;

 private:
  friend class TcpLayer;

  enum class Recovery : uint8_t { None, NewReno, Sack };
  enum class RtxMode : uint8_t { Retransmit, Persist };

  // ---- opening
  void start_listen(int backlog);
  int start_connect();
  // A child of this listener for a SYN (passive open, SYN-RECEIVED).
  void start_from_syn(const TcpSegment& seg, TcpConnection& listener);
  // A child of this listener for an ACK carrying a valid SYN cookie (ESTABLISHED at once).
  void start_from_cookie(const TcpSegment& seg, TcpConnection& listener, uint16_t mss);
  void init_send_space(uint32_t iss);
  void inherit(const TcpConnection& listener);
  void send_cookie_syn_ack(const TcpSegment& seg);

  // ---- segment arrival (RFC 9293 3.10.7)
  void on_segment(const TcpSegment& seg);
  void on_segment_listen(const TcpSegment& seg);
  void on_segment_syn_sent(const TcpSegment& seg);
  void on_segment_synchronized(const TcpSegment& seg);
  // The steps of 3.10.7.4; each returns false when the segment is done with.
  bool check_paws(const TcpSegment& seg);
  bool check_sequence(const TcpSegment& seg);
  bool check_rst(const TcpSegment& seg);
  bool check_syn(const TcpSegment& seg);
  bool process_ack(const TcpSegment& seg);
  void process_text(const TcpSegment& seg);
  void process_fin();

  // ---- ACK processing
  void update_send_window(const TcpSegment& seg);
  void on_new_ack(const TcpSegment& seg, SeqNumber ack);
  void on_duplicate_ack(const TcpSegment& seg, bool sack_grew);
  void enter_recovery();
  void retransmit_head();
  // An RTT sample from this ACK (timed segment, else the echoed timestamp); zero if none.
  sched::Duration take_rtt_sample(const TcpSegment& seg, SeqNumber ack);
  bool our_fin_acked() const { return fin_queued_ && snd_una_ > fin_seq_; }

  // ---- options
  void apply_syn_options(const TcpSegment& seg);
  void choose_window_scale();
  // Sizes what grows with the buffers: the bound on the out-of-order queue (from
  // catnip.tcp.max_out_of_order, or the receive buffer) and the SACK scoreboard's room (from the
  // send buffer). Both reserve their memory here, never per segment.
  void size_for_buffers();
  void path_mtu_changed(uint32_t mtu);  // ICMP "fragmentation needed" (RFC 1191)

  // ---- sending
  void output();
  void output_sack_recovery();
  int send_syn(bool with_ack);
  // Sends [seq, seq + len) of queued data, with FIN if the data ends where the FIN goes.
  // False when IPv4 had no room (ENOBUFS): nothing changed, and the retry timer sends it from
  // the next pass.
  bool send_data(SeqNumber seq, uint32_t len);
  bool send_fin_only(SeqNumber seq);
  void defer_output();
  void send_ack();
  void note_retransmission(SeqNumber seq);
  // Lost retransmissions in SACK recovery (see rtx_log_).
  void log_retransmission(SeqNumber seq, uint32_t len);
  void detect_lost_retransmissions();
  void forget_retransmissions();
  void send_challenge_ack();
  void send_rst(SeqNumber seq);
  void send_probe();  // zero-window or keep-alive probe: SEG.SEQ = SND.UNA - 1, no data
  // Builds and transmits one segment. `len` may shrink (and FIN go from `flags`) when the
  // payload is in too many pieces to go out without copying and cannot be copied either.
  int transmit(uint8_t& flags, SeqNumber seq, uint32_t& len, bool syn_options);
  void fill_options(TcpRepr& h, bool syn) const;
  uint16_t window_to_advertise(bool syn);
  bool window_update_due() const;
  uint32_t effective_mss() const;  // data bytes per full segment after the options we always send
  uint32_t flight() const { return static_cast<uint32_t>(snd_nxt_ - snd_una_); }
  std::size_t unsent_bytes() const;
  std::size_t data_offset(SeqNumber seq) const { return static_cast<std::size_t>(seq - snd_data_); }
  bool can_send_data() const;
  bool nagle_allows(uint32_t len, std::size_t unsent) const;
  uint32_t send_buffer_limit() const;
  static uint32_t ts_clock(sched::Instant now);
  uint32_t tsval() const;
  void schedule_ack(bool immediate);

  // ---- timers
  void arm_retransmit();
  void arm_persist();
  void on_rtx_timer();
  void on_retransmit_timeout();
  void on_persist_timeout();
  void on_delack_timer();
  void on_retry_timer();
  void on_keepalive_timer();
  void rearm_keepalive();
  void on_wait_timer();
  void enter_time_wait(TransitionCause cause);

  // ---- state and teardown
  void set_state(TcpState to, TransitionCause cause);
  // To CLOSED: cancels timers, drops what can no longer be sent, wakes everyone.
  void enter_closed(TransitionCause cause, int error);
  void became_established(TransitionCause cause);
  void notify() { events_.notify_all(); }
  void close_by_app();
  void abort_by_app();
  int shutdown_by_app();
  void start_close();  // queue our FIN behind the data (CLOSE in ESTABLISHED or CLOSE-WAIT)

  TcpLayer& layer_;
  const SocketId id_;
  TcpConfig cfg_;
  TcpState state_ = TcpState::Closed;
  FourTuple tuple_{};
  bool bound_ = false;     // holds a port reference in the layer
  bool app_owned_ = true;  // the application holds its SocketId
  bool passive_ = false;   // opened by a listener (SYN-RECEIVED goes back to LISTEN on RST)
  bool was_established_ = false;
  bool close_requested_ = false;  // CLOSE before ESTABLISHED: FIN once there
  bool syn_cookie_ = false;
  int error_ = 0;                      // why the connection failed (connect_status, send, recv report it)
  TcpConnection* listener_ = nullptr;  // the listener of a child not yet accepted
  sched::WaitQueue events_;

  // Socket options
  bool nodelay_ = false;
  std::optional<sched::Duration> linger_;
  std::string cc_name_;

  // Listener
  int backlog_ = 0;
  Ring<TcpConnection*> accept_queue_;
  std::size_t syn_queue_ = 0;  // children in SYN-RECEIVED

  // Send sequence space (RFC 9293 3.3.1)
  SeqNumber iss_{0};
  SeqNumber snd_una_{0};
  SeqNumber snd_nxt_{0};
  SeqNumber snd_max_{0};  // one past the highest sequence number sent (SND.NXT before go-back-N)
  SeqNumber snd_wl1_{0};
  SeqNumber snd_wl2_{0};
  SeqNumber snd_data_{0};  // the sequence number of send_queue_'s first byte
  SeqNumber snd_sml_{0};   // end of the last small segment sent (Minshall's Nagle)
  uint32_t snd_wnd_ = 0;   // scaled
  uint32_t max_snd_wnd_ = 0;
  SendQueue send_queue_;
  bool fin_queued_ = false;  // shutdown: a FIN follows the queued data
  SeqNumber fin_seq_{0};     // its sequence number

  // Receive sequence space
  SeqNumber irs_{0};
  SeqNumber rcv_nxt_{0};
  SeqNumber rcv_adv_{0};  // the right edge we advertised (RCV.NXT + RCV.WND when sent)
  ReceiveQueue receive_queue_;
  bool fin_received_ = false;

  // Negotiated options
  uint32_t our_mss_ = 536;  // what we announce
  uint32_t snd_mss_ = 536;  // min(peer's MSS, ours)
  uint8_t snd_wscale_ = 0;  // the peer's shift, applied to windows it sends
  uint8_t rcv_wscale_ = 0;  // our shift, applied to windows we send
  bool ws_ok_ = false;
  bool sack_ok_ = false;
  bool ts_ok_ = false;
  uint32_t ts_recent_ = 0;
  sched::Instant ts_recent_stamp_{};
  uint32_t ts_offset_ = 0;
  // The latest retransmission: its first sequence number and the TSval it carried (Karn's rule
  // for timestamps, take_rtt_sample).
  bool rtx_sent_ = false;
  SeqNumber rtx_seq_{0};
  uint32_t rtx_tsval_ = 0;
  SeqNumber last_ack_sent_{0};

  // Retransmission (RFC 6298)
  RttEstimator rtt_;
  bool rtt_timing_ = false;  // an RTT measurement without timestamps is running
  SeqNumber rtt_seq_{0};
  sched::Instant rtt_start_{};
  int retries_ = 0;  // RTO expiries (or unanswered probes) in a row
  RtxMode rtx_mode_ = RtxMode::Retransmit;
  sched::Instant last_send_{};

  // Congestion control and loss recovery
  std::unique_ptr<CongestionControl> cc_;
  Recovery recovery_ = Recovery::None;
  SeqNumber recover_{0};    // RFC 6582 "recover" / RFC 6675 RecoveryPoint
  uint32_t inflation_ = 0;  // NewReno: cwnd inflation during fast recovery
  uint32_t dupacks_ = 0;
  SackScoreboard scoreboard_;
  SeqNumber high_rxt_{0};  // one past the highest byte retransmitted in SACK recovery
  // The retransmissions of the current SACK recovery, by sequence number. RFC 6675 has no way to
  // see that a retransmission was lost: its octets stay below HighRxt, counted in pipe, never
  // chosen again by NextSeg, and only the RTO repairs them (seen in demi-simbench goodput: the
  // burst of retransmissions after a slow-start overshoot meets a full queue). As RACK does
  // (RFC 8985 6.2), a retransmission is deemed lost once data sent after it was delivered: more
  // than (DupThresh - 1) * SMSS SACKed above what had been sent when it left, or DupThresh
  // later retransmissions SACKed. It is then out of pipe and goes again before anything else.
  struct Retransmission {
    SeqNumber seq{0};
    uint32_t len = 0;
    SeqNumber sent_before{0};  // SND.MAX when it left: data from there on was sent after it
    uint32_t order = 0;        // its place among this recovery's retransmissions
    bool lost = false;
    // Its original was deemed lost (NextSeg rule 1, the first retransmission, a resend), not
    // just unSACKed (rule 3): only then does its arrival say that earlier ones should have too.
    bool of_lost = true;
  };
  Ring<Retransmission> rtx_log_;  // capacity reserved by size_for_buffers; full = not logged
  uint32_t rtx_order_ = 0;
  uint32_t rtx_lost_bytes_ = 0;  // retransmissions deemed lost and not yet sent again
  bool rtx_rule3_ = false;       // the retransmission being sent is NextSeg rule 3's

  // Delayed ACK
  bool ack_pending_ = false;    // an ACK is owed (the delayed-ACK timer runs)
  bool ack_now_ = false;        // ... and must go out before this event is done
  uint32_t unacked_bytes_ = 0;  // in-order bytes received since our last ACK
  uint32_t largest_rx_segment_ = 0;

  // RFC 5961 7: challenge ACK rate limit
  sched::Instant challenge_window_{};
  uint32_t challenge_count_ = 0;

  // Keep-alive
  bool keepalive_ = false;
  sched::Duration ka_idle_{};
  sched::Duration ka_interval_{};
  int ka_count_ = 0;
  int ka_probes_ = 0;
  sched::Instant last_rx_{};

  sched::Timer rtx_timer_;  // retransmission, or persist
  sched::Timer delack_timer_;
  sched::Timer keepalive_timer_;
  sched::Timer wait_timer_;  // TIME-WAIT, or an orphan's FIN-WAIT-2
  // A segment found no room below (a full transmit queue, no buffer): output again next pass.
  sched::Timer retry_timer_;
  bool rtx_head_pending_ = false;  // ... and it was retransmit_head()'s

  TcpInfo stats_;
};

}  // namespace demi::net::tcp
