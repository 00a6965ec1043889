// The connection states of RFC 9293 3.3.2 (Figure 5).
#pragma once

#include <cstdint>
#include <string_view>

namespace demi::net::tcp {

enum class TcpState : uint8_t {
  Closed,
  Listen,
  SynSent,
  SynReceived,
  Established,
  FinWait1,
  FinWait2,
  CloseWait,
  Closing,
  LastAck,
  TimeWait,
};

inline constexpr int kTcpStateCount = 11;

constexpr std::string_view state_name(TcpState s) {
  switch (s) {
    case TcpState::Closed:
      return "CLOSED";
    case TcpState::Listen:
      return "LISTEN";
    case TcpState::SynSent:
      return "SYN-SENT";
    case TcpState::SynReceived:
      return "SYN-RECEIVED";
    case TcpState::Established:
      return "ESTABLISHED";
    case TcpState::FinWait1:
      return "FIN-WAIT-1";
    case TcpState::FinWait2:
      return "FIN-WAIT-2";
    case TcpState::CloseWait:
      return "CLOSE-WAIT";
    case TcpState::Closing:
      return "CLOSING";
    case TcpState::LastAck:
      return "LAST-ACK";
    case TcpState::TimeWait:
      return "TIME-WAIT";
  }
  return "?";
}

// RFC 9293 3.3.2: the states after the handshake, where sequence numbers are synchronized.
constexpr bool is_synchronized(TcpState s) {
  return s != TcpState::Closed && s != TcpState::Listen && s != TcpState::SynSent;
}

// The states that may send data: established, and closing while our data or FIN is still going.
constexpr bool sends_data(TcpState s) {
  switch (s) {
    case TcpState::Established:
    case TcpState::CloseWait:
    case TcpState::FinWait1:
    case TcpState::Closing:
    case TcpState::LastAck:
      return true;
    default:
      return false;
  }
}

}  // namespace demi::net::tcp
