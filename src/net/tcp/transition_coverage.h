// Which RFC 9293 state transitions the stack implements, and how often each was taken. Every
// connection of a TcpLayer records into one table, so that a simulation can print it and fail
// when an implemented transition was never exercised.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/tcp/tcp_state.h"

namespace demi::net::tcp {

// What made a connection change state.
enum class TransitionCause : uint8_t {
  PassiveOpen,  // listen()
  ActiveOpen,   // connect()
  RcvSyn,       // a SYN arrived (passive open, simultaneous open)
  RcvSynAck,    // a SYN,ACK acknowledging our SYN arrived
  RcvAck,       // an ACK of our SYN or of our FIN arrived
  RcvFin,       // the peer's FIN arrived in sequence
  RcvRst,       // an acceptable RST arrived
  SynCookie,    // an ACK carrying a valid SYN cookie arrived at a listener
  Close,        // close() or shutdown_write()
  Abort,        // abort(), or the listener holding this connection closed
  Timeout,      // retransmissions, keep-alive probes or the FIN-WAIT-2 timer ran out
  Unreachable,  // the host is unreachable (ARP gave up, or an ICMP hard error)
  TimeWaitEnd,  // 2 * MSL passed in TIME-WAIT
};

std::string_view cause_name(TransitionCause c);

struct Transition {
  TcpState from;
  TcpState to;
  TransitionCause cause;
  bool operator==(const Transition&) const = default;
};

class TransitionCoverage {
 public:
  struct Entry {
    Transition transition;
    uint64_t count = 0;
  };

  TransitionCoverage();

  // Every transition this implementation can take (RFC 9293 Figure 5, with its causes spelled
  // out: RST, abort and timeouts from each synchronized state, SYN cookies).
  static std::span<const Transition> implemented();

  void record(TcpState from, TcpState to, TransitionCause cause);
  // The implemented transitions with how often each was taken, in the order of implemented().
  std::span<const Entry> entries() const { return entries_; }
  uint64_t count(TcpState from, TcpState to, TransitionCause cause) const;
  std::vector<Transition> never_taken() const;
  // Transitions recorded that implemented() does not list: a bug in the table or the stack.
  uint64_t unlisted() const { return unlisted_; }
  // One line per transition: "SYN-SENT -> ESTABLISHED (rcv SYN,ACK): 12".
  std::string report() const;
  void merge(const TransitionCoverage& other);

 private:
  std::vector<Entry> entries_;
  uint64_t unlisted_ = 0;
};

}  // namespace demi::net::tcp
