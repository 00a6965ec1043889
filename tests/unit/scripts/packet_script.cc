#include "unit/scripts/packet_script.h"

#include <cerrno>
#include <charconv>
#include <limits>

namespace demi::scripts {

namespace {

constexpr std::pair<std::string_view, int> kErrnoNames[] = {
    {"ECONNRESET", ECONNRESET},
    {"ECONNREFUSED", ECONNREFUSED},
    {"ETIMEDOUT", ETIMEDOUT},
    {"EAGAIN", EAGAIN},
    {"EPIPE", EPIPE},
    {"ENOTCONN", ENOTCONN},
    {"EHOSTUNREACH", EHOSTUNREACH},
    {"EINVAL", EINVAL},
    {"EADDRINUSE", EADDRINUSE},
    {"EISCONN", EISCONN},
    {"EALREADY", EALREADY},
    {"EINPROGRESS", EINPROGRESS},
    {"EBADF", EBADF},
};

constexpr std::string_view kStateNames[] = {
    "CLOSED",     "LISTEN",     "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
    "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",  "LAST-ACK",     "TIME-WAIT",
};

// Thrown nowhere: every helper returns false and leaves the message in `error`.
class LineParser {
 public:
  LineParser(std::vector<std::string_view> tokens, std::string& error) : t_(std::move(tokens)), error_(error) {}

  bool done() const { return i_ >= t_.size(); }
  std::string_view peek() const { return done() ? std::string_view{} : t_[i_]; }
  bool next(std::string_view& out, std::string_view what) {
    if (done()) return fail("missing " + std::string(what));
    out = t_[i_++];
    return true;
  }
  bool accept(std::string_view word) {
    if (!done() && t_[i_] == word) {
      ++i_;
      return true;
    }
    return false;
  }
  bool expect(std::string_view word) {
    if (accept(word)) return true;
    return fail("expected '" + std::string(word) + "'" +
                (done() ? " at the end" : ", not '" + std::string(peek()) + "'"));
  }
  bool end() {
    if (done()) return true;
    return fail("unexpected '" + std::string(peek()) + "'");
  }

  template <typename T>
  bool number(T& out, std::string_view what, uint64_t max = std::numeric_limits<T>::max()) {
    std::string_view tok;
    if (!next(tok, what)) return false;
    return to_number(tok, out, what, max);
  }
  template <typename T>
  bool to_number(std::string_view tok, T& out, std::string_view what, uint64_t max = std::numeric_limits<T>::max()) {
    uint64_t v = 0;
    const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (tok.empty() || r.ec != std::errc{} || r.ptr != tok.data() + tok.size())
      return fail(std::string(what) + ": '" + std::string(tok) + "' is not a number");
    if (v > max) return fail(std::string(what) + ": " + std::string(tok) + " is more than " + std::to_string(max));
    out = static_cast<T>(v);
    return true;
  }

  bool address(uint32_t& out, std::string_view tok) {
    uint32_t v = 0;
    std::size_t at = 0;
    for (int part = 0; part < 4; ++part) {
      const std::size_t dot = part < 3 ? tok.find('.', at) : tok.size();
      if (dot == std::string_view::npos) return fail("'" + std::string(tok) + "' is not an IPv4 address");
      uint32_t octet = 0;
      if (!to_number(tok.substr(at, dot - at), octet, "address octet", 255)) return false;
      v = (v << 8) | octet;
      at = dot + 1;
    }
    if ((v >> 8) != (kStackIp >> 8)) return fail("'" + std::string(tok) + "' is not on 10.0.0.0/24");
    out = v;
    return true;
  }
  bool address(uint32_t& out) {
    std::string_view tok;
    return next(tok, "an address") && address(out, tok);
  }
  bool endpoint(uint32_t& addr, uint16_t& port) {
    std::string_view tok;
    if (!next(tok, "an address:port")) return false;
    const std::size_t colon = tok.find(':');
    if (colon == std::string_view::npos) return fail("'" + std::string(tok) + "' is not address:port");
    return address(addr, tok.substr(0, colon)) && to_number(tok.substr(colon + 1), port, "port");
  }
  bool mac(uint64_t& out) {
    std::string_view tok;
    if (!next(tok, "an Ethernet address")) return false;
    if (tok.size() != 17) return fail("'" + std::string(tok) + "' is not an Ethernet address");
    uint64_t v = 0;
    for (std::size_t i = 0; i < 17; i += 3) {
      if (i > 0 && tok[i - 1] != ':') return fail("'" + std::string(tok) + "' is not an Ethernet address");
      uint8_t byte = 0;
      const auto r = std::from_chars(tok.data() + i, tok.data() + i + 2, byte, 16);
      if (r.ec != std::errc{} || r.ptr != tok.data() + i + 2)
        return fail("'" + std::string(tok) + "' is not an Ethernet address");
      v = (v << 8) | byte;
    }
    out = v;
    return true;
  }
  // "= NAME" at the end of a call: the result it must give.
  bool result(int& out, bool eof_allowed) {
    out = 0;
    if (!accept("=")) return true;
    std::string_view tok;
    if (!next(tok, "a result after '='")) return false;
    if (tok == "0" || tok == "OK") return true;
    if (tok == "EOF") {
      if (!eof_allowed) return fail("EOF is a result of pop only");
      out = kResultEof;
      return true;
    }
    auto e = errno_from_name(tok);
    if (!e) return fail("unknown result '" + std::string(tok) + "'");
    out = *e;
    return true;
  }

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  std::vector<std::string_view>& tokens() { return t_; }
  std::size_t position() const { return i_; }

 private:
  std::vector<std::string_view> t_;
  std::size_t i_ = 0;
  std::string& error_;
};

std::vector<std::string_view> split(std::string_view s, char extra = ' ') {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  auto space = [extra](char c) { return c == ' ' || c == '\t' || c == '\r' || c == extra; };
  while (i < s.size()) {
    while (i < s.size() && space(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !space(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool parse_flags(std::string_view tok, uint8_t& flags, std::string& error) {
  flags = 0;
  for (char c : tok) {
    uint8_t f = 0;
    switch (c) {
      case 'S':
        f = 0x02;
        break;
      case 'F':
        f = 0x01;
        break;
      case 'R':
        f = 0x04;
        break;
      case 'P':
        f = 0x08;
        break;
      case '.':
        f = 0x10;
        break;
      default:
        error = "'" + std::string(tok) + "': flags are S, F, R, P and '.' (ACK)";
        return false;
    }
    if (flags & f) {
      error = "'" + std::string(tok) + "': a flag twice";
      return false;
    }
    flags |= f;
  }
  if (flags == 0) {
    error = "missing flags";
    return false;
  }
  return true;
}

// "<mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7,sack 1:2 3:4>"
bool parse_tcp_options(std::string_view text, TcpSpec& spec, bool expected, std::string& error) {
  spec.options_given = true;
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t comma = text.find(',', at);
    if (comma == std::string_view::npos) comma = text.size();
    const auto words = split(text.substr(at, comma - at));
    at = comma + 1;
    if (words.empty()) {
      if (comma == text.size() && text.find_first_not_of(' ') == std::string_view::npos) break;
      error = "an empty option";
      return false;
    }
    LineParser p(words, error);
    std::string_view kind;
    (void)p.next(kind, "option");
    if (kind == "nop" || kind == "eol") {
      // padding: the runner writes and compares options by meaning, not by layout
    } else if (kind == "sackOK") {
      if (spec.sack_permitted) return p.fail("sackOK twice");
      spec.sack_permitted = true;
    } else if (kind == "mss") {
      uint16_t v = 0;
      if (spec.mss) return p.fail("mss twice");
      if (!p.number(v, "mss")) return false;
      spec.mss = v;
    } else if (kind == "wscale") {
      uint8_t v = 0;
      if (spec.wscale) return p.fail("wscale twice");
      if (!p.number(v, "wscale", 14)) return false;
      spec.wscale = v;
    } else if (kind == "TS") {
      if (spec.timestamps) return p.fail("TS twice");
      spec.timestamps = true;
      for (auto [word, slot] : {std::pair{"val", &spec.ts_val}, std::pair{"ecr", &spec.ts_ecr}}) {
        if (!p.expect(word)) return false;
        if (p.accept("*")) {
          if (!expected) return p.fail("'*' only in an expected segment");
          continue;
        }
        uint32_t v = 0;
        if (!p.number(v, word)) return false;
        *slot = v;
      }
    } else if (kind == "sack") {
      if (!spec.sack.empty()) return p.fail("sack twice");
      while (!p.done()) {
        std::string_view block;
        (void)p.next(block, "block");
        const std::size_t colon = block.find(':');
        if (colon == std::string_view::npos) return p.fail("sack block '" + std::string(block) + "' is not left:right");
        uint32_t l = 0, r = 0;
        if (!p.to_number(block.substr(0, colon), l, "sack left") ||
            !p.to_number(block.substr(colon + 1), r, "sack right"))
          return false;
        if (spec.sack.size() == 4) return p.fail("more than 4 sack blocks");
        spec.sack.emplace_back(l, r);
      }
      if (spec.sack.empty()) return p.fail("sack without blocks");
    } else {
      return p.fail("unknown option '" + std::string(kind) + "'");
    }
    if (!p.end()) return false;
    if (comma == text.size()) break;
  }
  return true;
}

// FLAGS START:END(LEN) [ack N] [win N] [<options>] [sport N] [dport N] [bad-csum]
bool parse_tcp(LineParser& p, Event& e, bool expected, std::string& error) {
  TcpSpec& s = e.tcp;
  std::string_view tok;
  if (!p.next(tok, "flags")) return false;
  if (!parse_flags(tok, s.flags, error)) return false;
  if (!p.next(tok, "START:END(LEN)")) return false;
  const std::size_t colon = tok.find(':');
  const std::size_t open = tok.find('(');
  if (colon == std::string_view::npos || open == std::string_view::npos || open < colon || tok.back() != ')')
    return p.fail("'" + std::string(tok) + "' is not START:END(LEN)");
  uint32_t end = 0;
  if (!p.to_number(tok.substr(0, colon), s.seq, "start") ||
      !p.to_number(tok.substr(colon + 1, open - colon - 1), end, "end") ||
      !p.to_number(tok.substr(open + 1, tok.size() - open - 2), s.len, "length", 65000))
    return false;
  if (end - s.seq != s.len) return p.fail("'" + std::string(tok) + "': END - START is not LEN");
  if (p.accept("ack")) {
    uint32_t a = 0;
    if (!p.number(a, "ack")) return false;
    s.ack = a;
  }
  if (((s.flags & 0x10) != 0) != s.ack.has_value())
    return p.fail(s.ack ? "'ack N' without the '.' flag" : "the '.' flag without 'ack N'");
  if (p.accept("win")) {
    uint16_t w = 0;
    if (!p.number(w, "win")) return false;
    s.window = w;
  }
  if (!p.done() && !p.peek().empty() && p.peek().front() == '<') {
    // The options may contain spaces: gather tokens up to the one that ends with '>'.
    auto& t = p.tokens();
    std::size_t i = p.position();
    const char* first = t[i].data();
    while (i < t.size() && t[i].back() != '>') ++i;
    if (i == t.size()) return p.fail("'<' without '>'");
    const char* last = t[i].data() + t[i].size();
    std::string_view inner(first + 1, static_cast<std::size_t>(last - first - 2));
    if (inner.find('<') != std::string_view::npos || inner.find('>') != std::string_view::npos)
      return p.fail("stray '<' or '>' in the options");
    for (std::size_t k = p.position(); k <= i; ++k) (void)p.next(tok, "");
    if (!parse_tcp_options(inner, s, expected, error)) return false;
  }
  while (!p.done()) {
    if (p.accept("sport")) {
      uint16_t v = 0;
      if (!p.number(v, "sport")) return false;
      s.peer_port = v;
    } else if (p.accept("dport")) {
      uint16_t v = 0;
      if (!p.number(v, "dport")) return false;
      s.our_port = v;
    } else if (!expected && p.accept("bad-csum")) {
      e.bad_checksum = true;
    } else {
      return p.end();
    }
  }
  return true;
}

bool parse_frame(LineParser& p, Event& e, bool in, std::string& error) {
  std::string_view proto = p.peek();
  if (proto == "arp") {
    (void)p.accept("arp");
    if (p.accept("who-has")) {
      e.kind = in ? Kind::ArpRequestIn : Kind::ArpRequestOut;
      return p.address(e.addr) && p.expect("tell") && p.address(e.addr2) && p.end();
    }
    if (p.accept("reply")) {
      e.kind = in ? Kind::ArpReplyIn : Kind::ArpReplyOut;
      return p.address(e.addr) && p.expect("is-at") && p.mac(e.mac) && p.end();
    }
    return p.fail("arp: who-has or reply");
  }
  if (proto == "icmp") {
    (void)p.accept("icmp");
    if (in) {
      e.kind = Kind::EchoIn;
      if (!p.expect("echo-request") || !p.expect("from") || !p.address(e.addr)) return false;
    } else if (p.accept("echo-reply")) {
      e.kind = Kind::EchoOut;
      if (!p.expect("to") || !p.address(e.addr)) return false;
    } else if (p.accept("unreachable")) {
      e.kind = Kind::UnreachableOut;
      std::string_view code;
      if (!p.next(code, "an unreachable code")) return false;
      if (code == "net")
        e.code = 0;
      else if (code == "host")
        e.code = 1;
      else if (code == "protocol")
        e.code = 2;
      else if (code == "port")
        e.code = 3;
      else
        return p.fail("unreachable codes are net, host, protocol and port");
      return p.expect("to") && p.address(e.addr) && p.end();
    } else {
      return p.fail("icmp: echo-reply or unreachable");
    }
    return p.expect("id") && p.number(e.ident, "id") && p.expect("seq") && p.number(e.sequence, "seq") &&
           p.expect("len") && p.number(e.count, "len", 1400) && p.end();
  }
  if (proto == "udp") {
    (void)p.accept("udp");
    e.kind = in ? Kind::UdpIn : Kind::UdpOut;
    if (!p.expect(in ? "from" : "to") || !p.endpoint(e.addr, e.port) || !p.expect(in ? "to" : "from") ||
        !p.number(e.port2, "port") || !p.expect("len") || !p.number(e.count, "len", 1400))
      return false;
    if (in && p.accept("bad-csum")) e.bad_checksum = true;
    return p.end();
  }
  e.kind = in ? Kind::TcpIn : Kind::TcpOut;
  return parse_tcp(p, e, !in, error);
}

bool parse_call(LineParser& p, std::string_view word, Event& e) {
  if (word == "listen") {
    e.kind = Kind::Listen;
    return p.number(e.port, "port") && p.result(e.result, false) && p.end();
  }
  if (word == "connect") {
    e.kind = Kind::Connect;
    return p.endpoint(e.addr, e.port) && p.result(e.result, false) && p.end();
  }
  if (word == "accept" || word == "shutdown" || word == "close" || word == "abort") {
    e.kind = word == "accept"     ? Kind::Accept
             : word == "shutdown" ? Kind::Shutdown
             : word == "close"    ? Kind::Close
                                  : Kind::Abort;
    return p.result(e.result, false) && p.end();
  }
  if (word == "push") {
    e.kind = Kind::Push;
    return p.number(e.count, "bytes", 1u << 20) && p.result(e.result, false) && p.end();
  }
  if (word == "pop") {
    e.kind = Kind::Pop;
    e.any_count = true;
    if (!p.done() && p.peek() != "=") {
      e.any_count = false;
      if (!p.number(e.count, "bytes", 1u << 24)) return false;
    }
    return p.result(e.result, true) && p.end();
  }
  if (word == "setopt") {
    e.kind = Kind::SetOpt;
    std::string_view name;
    if (!p.next(name, "an option")) return false;
    if (name == "nodelay") {
      e.opt = SockOpt::NoDelay;
    } else if (name == "keepalive") {
      e.opt = SockOpt::Keepalive;
      if (!p.number(e.opt_values[0], "idle ms", kMaxScriptTimeMs) ||
          !p.number(e.opt_values[1], "interval ms", kMaxScriptTimeMs) || !p.number(e.opt_values[2], "count", 1000))
        return false;
    } else if (name == "linger") {
      e.opt = SockOpt::Linger;
      if (!p.number(e.opt_values[0], "linger ms", kMaxScriptTimeMs)) return false;
    } else if (name == "rcvbuf" || name == "sndbuf") {
      e.opt = name == "rcvbuf" ? SockOpt::ReceiveBuffer : SockOpt::SendBuffer;
      if (!p.number(e.opt_values[0], "bytes", 1u << 30)) return false;
      if (e.opt_values[0] == 0) return p.fail("a buffer of 0 bytes");
    } else {
      return p.fail("options are nodelay, keepalive, linger, rcvbuf and sndbuf");
    }
    return p.result(e.result, false) && p.end();
  }
  if (word == "udp-bind") {
    e.kind = Kind::UdpBind;
    return p.number(e.port, "port") && p.result(e.result, false) && p.end();
  }
  if (word == "udp-send") {
    e.kind = Kind::UdpSend;
    return p.endpoint(e.addr, e.port) && p.number(e.count, "bytes", 1400) && p.result(e.result, false) && p.end();
  }
  if (word == "udp-recv") {
    e.kind = Kind::UdpRecv;
    e.any_count = true;
    if (!p.done() && p.peek() != "=") {
      e.any_count = false;
      if (!p.number(e.count, "bytes", 65535)) return false;
      if (p.accept("from")) {
        e.has_from = true;
        if (!p.endpoint(e.addr, e.port)) return false;
      }
    }
    return p.result(e.result, false) && p.end();
  }
  if (word == "expect-state") {
    e.kind = Kind::ExpectState;
    std::string_view name;
    if (!p.next(name, "a state")) return false;
    bool known = false;
    for (auto s : kStateNames) known = known || s == name;
    if (!known) return p.fail("unknown state '" + std::string(name) + "'");
    e.name = std::string(name);
    return p.end();
  }
  if (word == "expect-error") {
    e.kind = Kind::ExpectError;
    std::string_view name;
    if (!p.next(name, "an errno name")) return false;
    if (name == "none") {
      e.result = 0;
    } else {
      auto code = errno_from_name(name);
      if (!code) return p.fail("unknown errno '" + std::string(name) + "'");
      e.result = *code;
    }
    return p.end();
  }
  if (word == "expect-counter") {
    e.kind = Kind::ExpectCounter;
    std::string_view name;
    if (!p.next(name, "a counter name")) return false;
    e.name = std::string(name);
    return p.number(e.value, "value") && p.end();
  }
  if (word == "expect-none") {
    e.kind = Kind::ExpectNone;
    return p.end();
  }
  return p.fail("unknown directive '" + std::string(word) + "'");
}

}  // namespace

std::optional<int> errno_from_name(std::string_view name) {
  for (auto [n, code] : kErrnoNames)
    if (n == name) return code;
  return std::nullopt;
}

std::string errno_name(int code) {
  if (code == 0) return "OK";
  if (code == kResultEof) return "EOF";
  for (auto [n, c] : kErrnoNames)
    if (c == code) return std::string(n);
  return "errno " + std::to_string(code);
}

std::optional<Script> parse_script(std::string_view text, ParseError* err) {
  Script script;
  uint64_t now = 0;
  bool timed = false;
  int line_no = 0;
  std::size_t at = 0;
  std::string error;
  auto fail = [&](std::string message) -> std::optional<Script> {
    if (err) *err = ParseError{line_no, std::move(message)};
    return std::nullopt;
  };
  while (at < text.size()) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    if (line.find('\0') != std::string_view::npos) return fail("a NUL byte");
    const std::size_t hash = line.find('#');
    const std::string_view body = hash == std::string_view::npos ? line : line.substr(0, hash);
    auto tokens = split(body);
    if (tokens.empty()) continue;
    LineParser p(tokens, error);
    std::string_view first;
    (void)p.next(first, "");

    if (first == "config" || first == "peer-isn" || first == "peer-port") {
      if (timed) return fail("'" + std::string(first) + "' after the first timed line");
      if (first == "config") {
        std::string_view key, value;
        if (!p.next(key, "a key") || !p.next(value, "a value") || !p.end()) return fail(error);
        script.config.emplace_back(std::string(key), value == "\"\"" ? std::string() : std::string(value));
      } else if (first == "peer-isn") {
        if (!p.number(script.peer_isn, "peer-isn") || !p.end()) return fail(error);
      } else if (!p.number(script.peer_port, "peer-port") || !p.end()) {
        return fail(error);
      }
      continue;
    }

    Event e;
    e.line = line_no;
    e.text = std::string(body.substr(0, body.find_last_not_of(" \t\r") + 1));
    e.text.erase(0, e.text.find_first_not_of(" \t"));
    uint64_t t = 0;
    if (first.front() == '+') {
      if (!p.to_number(first.substr(1), t, "time", kMaxScriptTimeMs)) return fail(error);
      t += now;
    } else {
      if (!p.to_number(first, t, "time", kMaxScriptTimeMs)) return fail(error);
      if (t < now) return fail("time " + std::to_string(t) + " is before the line above (" + std::to_string(now) + ")");
    }
    if (t > kMaxScriptTimeMs) return fail("time beyond " + std::to_string(kMaxScriptTimeMs) + " ms");
    now = t;
    timed = true;
    e.time_ms = t;

    std::string_view word;
    if (!p.next(word, "a directive")) return fail(error);
    const bool ok = (word == "<" || word == ">") ? parse_frame(p, e, word == "<", error) : parse_call(p, word, e);
    if (!ok) return fail(error.empty() ? "malformed line" : error);
    if (script.events.size() >= 100'000) return fail("more than 100000 lines");
    script.events.push_back(std::move(e));
  }
  return script;
}

}  // namespace demi::scripts
