#include "net/tcp/transition_coverage.h"

#include <array>

#include <fmt/core.h>

#include "base/log.h"

namespace demi::net::tcp {

namespace {

using S = TcpState;
using C = TransitionCause;

constexpr std::array kImplemented = {
    Transition{S::Closed, S::Listen, C::PassiveOpen},
    Transition{S::Closed, S::SynSent, C::ActiveOpen},
    Transition{S::Listen, S::SynReceived, C::RcvSyn},
    Transition{S::Listen, S::Established, C::SynCookie},
    Transition{S::Listen, S::Closed, C::Close},
    Transition{S::SynSent, S::Established, C::RcvSynAck},
    Transition{S::SynSent, S::SynReceived, C::RcvSyn},
    Transition{S::SynSent, S::Closed, C::RcvRst},
    Transition{S::SynSent, S::Closed, C::Close},
    Transition{S::SynSent, S::Closed, C::Abort},
    Transition{S::SynSent, S::Closed, C::Timeout},
    Transition{S::SynSent, S::Closed, C::Unreachable},
    Transition{S::SynReceived, S::Established, C::RcvAck},
    Transition{S::SynReceived, S::Closed, C::RcvRst},
    Transition{S::SynReceived, S::Closed, C::Abort},
    Transition{S::SynReceived, S::Closed, C::Timeout},
    Transition{S::Established, S::FinWait1, C::Close},
    Transition{S::Established, S::CloseWait, C::RcvFin},
    Transition{S::Established, S::Closed, C::RcvRst},
    Transition{S::Established, S::Closed, C::Abort},
    Transition{S::Established, S::Closed, C::Timeout},
    Transition{S::FinWait1, S::FinWait2, C::RcvAck},
    Transition{S::FinWait1, S::Closing, C::RcvFin},
    Transition{S::FinWait1, S::Closed, C::RcvRst},
    Transition{S::FinWait1, S::Closed, C::Abort},
    Transition{S::FinWait1, S::Closed, C::Timeout},
    Transition{S::FinWait2, S::TimeWait, C::RcvFin},
    Transition{S::FinWait2, S::Closed, C::RcvRst},
    Transition{S::FinWait2, S::Closed, C::Abort},
    Transition{S::FinWait2, S::Closed, C::Timeout},
    Transition{S::CloseWait, S::LastAck, C::Close},
    Transition{S::CloseWait, S::Closed, C::RcvRst},
    Transition{S::CloseWait, S::Closed, C::Abort},
    Transition{S::CloseWait, S::Closed, C::Timeout},
    Transition{S::Closing, S::TimeWait, C::RcvAck},
    Transition{S::Closing, S::Closed, C::RcvRst},
    Transition{S::Closing, S::Closed, C::Timeout},
    Transition{S::Closing, S::Closed, C::Abort},
    Transition{S::LastAck, S::Closed, C::RcvAck},
    Transition{S::LastAck, S::Closed, C::RcvRst},
    Transition{S::LastAck, S::Closed, C::Timeout},
    Transition{S::LastAck, S::Closed, C::Abort},
    Transition{S::TimeWait, S::Closed, C::TimeWaitEnd},
    Transition{S::TimeWait, S::Closed, C::RcvRst},
    Transition{S::TimeWait, S::Closed, C::Abort},
};

}  // namespace

std::string_view cause_name(TransitionCause c) {
  switch (c) {
    case C::PassiveOpen:
      return "listen";
    case C::ActiveOpen:
      return "connect";
    case C::RcvSyn:
      return "rcv SYN";
    case C::RcvSynAck:
      return "rcv SYN,ACK";
    case C::RcvAck:
      return "rcv ACK";
    case C::RcvFin:
      return "rcv FIN";
    case C::RcvRst:
      return "rcv RST";
    case C::SynCookie:
      return "rcv ACK with SYN cookie";
    case C::Close:
      return "close";
    case C::Abort:
      return "abort";
    case C::Timeout:
      return "timeout";
    case C::Unreachable:
      return "host unreachable";
    case C::TimeWaitEnd:
      return "2MSL timeout";
  }
  return "?";
}

TransitionCoverage::TransitionCoverage() {
  entries_.reserve(kImplemented.size());
  for (const Transition& t : kImplemented) entries_.push_back({t, 0});
}

std::span<const Transition> TransitionCoverage::implemented() {
  return kImplemented;
}

void TransitionCoverage::record(TcpState from, TcpState to, TransitionCause cause) {
  const Transition t{from, to, cause};
  for (Entry& e : entries_) {
    if (e.transition == t) {
      ++e.count;
      return;
    }
  }
  ++unlisted_;
  DEMI_WARN("tcp", "unlisted transition {} -> {} ({})", state_name(from), state_name(to), cause_name(cause));
}

uint64_t TransitionCoverage::count(TcpState from, TcpState to, TransitionCause cause) const {
  const Transition t{from, to, cause};
  for (const Entry& e : entries_)
    if (e.transition == t) return e.count;
  return 0;
}

std::vector<Transition> TransitionCoverage::never_taken() const {
  std::vector<Transition> out;
  for (const Entry& e : entries_)
    if (e.count == 0) out.push_back(e.transition);
  return out;
}

std::string TransitionCoverage::report() const {
  std::string out;
  for (const Entry& e : entries_) {
    out += fmt::format("{:>12} -> {:<12} ({}): {}\n", state_name(e.transition.from), state_name(e.transition.to),
                       cause_name(e.transition.cause), e.count);
  }
  if (unlisted_) out += fmt::format("unlisted transitions: {}\n", unlisted_);
  return out;
}

void TransitionCoverage::merge(const TransitionCoverage& other) {
  for (std::size_t i = 0; i < entries_.size() && i < other.entries_.size(); ++i)
    entries_[i].count += other.entries_[i].count;
  unlisted_ += other.unlisted_;
}

}  // namespace demi::net::tcp
