// Packet scripts: a small line format for the whole inet stack's behaviour on the wire, in the
// spirit of packetdrill. One directive per line, each at a time in milliseconds of virtual time
// (absolute, or "+N" after the line before): inject a frame from a peer ("<"), expect the stack
// to emit one at exactly that time (">"), call the socket API, or check a state, an error or a
// counter. The format is described in docs/packet-scripts.md.
//
// The parser only turns text into events: it never runs anything, never trusts a number it did
// not range-check, and reports the first malformed line by number (it is fuzzed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace demi::scripts {

// The hosts of a script: the stack under test is 10.0.0.2; any other 10.0.0.x is a peer whose
// Ethernet address is 02:00:00:00:00:xx (its last octet).
inline constexpr uint32_t kStackIp = 0x0a000002;
inline constexpr uint32_t kPeerIp = 0x0a000001;

// A TCP segment as a script writes it. Sequence numbers are relative: ours to our ISN (the
// sequence number of the first SYN we send), the peer's to its ISN (Script::peer_isn). Our
// TSvals are relative too: to the script's time 0 on a 1 ms clock (see the runner).
struct TcpSpec {
  uint8_t flags = 0;
  uint32_t seq = 0;
  uint32_t len = 0;  // payload bytes
  std::optional<uint32_t> ack;
  std::optional<uint16_t> window;  // the raw 16-bit field; an injected segment defaults to 65535
  bool options_given = false;      // "<...>" was written (expected: the options must match it)
  std::optional<uint16_t> mss;
  std::optional<uint8_t> wscale;
  bool sack_permitted = false;
  bool timestamps = false;
  std::optional<uint32_t> ts_val;  // nullopt: any ("*", expected segments only)
  std::optional<uint32_t> ts_ecr;
  std::vector<std::pair<uint32_t, uint32_t>> sack;  // [left, right) blocks
  std::optional<uint16_t> peer_port;                // "sport N": the peer's port, if not the connection's
  std::optional<uint16_t> our_port;                 // "dport N": ours
};

enum class Kind : uint8_t {
  // frames
  TcpIn,
  TcpOut,
  ArpRequestIn,    // < arp who-has A tell B
  ArpReplyIn,      // < arp reply A is-at MAC
  ArpRequestOut,   // > arp who-has A tell B
  ArpReplyOut,     // > arp reply A is-at MAC
  EchoIn,          // < icmp echo-request from A id N seq N len N
  EchoOut,         // > icmp echo-reply to A id N seq N len N
  UnreachableOut,  // > icmp unreachable CODE to A
  UdpIn,           // < udp from A:P to P len N
  UdpOut,          // > udp to A:P from P len N
  // TCP socket calls, each with an expected result
  Listen,
  Connect,
  Accept,
  Push,
  Pop,
  Shutdown,
  Close,
  Abort,
  SetOpt,
  // UDP socket calls
  UdpBind,
  UdpSend,
  UdpRecv,
  // checks
  ExpectState,
  ExpectError,
  ExpectCounter,
  ExpectNone,  // nothing (more) is emitted up to this line's time
};

enum class SockOpt : uint8_t { NoDelay, Keepalive, Linger, ReceiveBuffer, SendBuffer };

// What a socket call must return: 0 (the default), an errno, or end of file (pop).
inline constexpr int kResultEof = -1;

struct Event {
  int line = 0;
  uint64_t time_ms = 0;
  Kind kind = Kind::ExpectNone;
  std::string text;  // the line as written, for messages
  TcpSpec tcp;
  uint32_t addr = 0;          // the peer's IPv4 address (frames, connect, udp-send, udp-recv from)
  uint32_t addr2 = 0;         // ARP: the other address ("tell B")
  uint64_t mac = 0;           // ARP: the Ethernet address of a reply, 48 bits
  uint16_t port = 0;          // the peer's port (UDP, connect), or ours (listen, udp-bind)
  uint16_t port2 = 0;         // UDP frames: our port
  uint32_t count = 0;         // bytes (push, pop, udp), ICMP echo data length
  uint16_t ident = 0;         // ICMP echo
  uint16_t sequence = 0;      // ICMP echo
  uint8_t code = 0;           // ICMP unreachable code
  bool any_count = false;     // "pop" without a count: whatever is readable
  bool has_from = false;      // udp-recv: the source was given
  bool bad_checksum = false;  // injected TCP or UDP: "bad-csum"
  int result = 0;             // the expected result of a call: 0, an errno, or kResultEof
  SockOpt opt = SockOpt::NoDelay;
  uint64_t opt_values[3] = {0, 0, 0};
  std::string name;  // state or counter name
  uint64_t value = 0;
};

struct Script {
  std::vector<std::pair<std::string, std::string>> config;  // "config KEY VALUE", in order
  uint32_t peer_isn = 1'000'000;                            // "peer-isn N"
  uint16_t peer_port = 40000;                               // "peer-port N": the peer's port toward a listener
  std::vector<Event> events;
};

struct ParseError {
  int line = 0;
  std::string message;
  std::string to_string() const { return "line " + std::to_string(line) + ": " + message; }
};

// The latest time a script may name: about 11.5 days of virtual time.
inline constexpr uint64_t kMaxScriptTimeMs = 1'000'000'000;

// Parses a whole script; on the first malformed line, nullopt and *err names it.
std::optional<Script> parse_script(std::string_view text, ParseError* err);

// errno names the format knows ("ECONNRESET", ...), and back.
std::optional<int> errno_from_name(std::string_view name);
std::string errno_name(int code);

}  // namespace demi::scripts
