#include "unit/scripts/script_runner.h"

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include <demi/config.h>

#include "mem/allocator.h"
#include "net/inet_stack.h"
#include "net/tcp/tcp_layer.h"
#include "net/wire/arp.h"
#include "net/wire/ethernet.h"
#include "net/wire/icmp.h"
#include "net/wire/ipv4.h"
#include "net/wire/tcp.h"
#include "net/wire/udp.h"
#include "sched/clock.h"
#include "sched/scheduler.h"
#include "unit/net/fake_device.h"

namespace demi::scripts {

namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;
namespace wire = net::wire;

// Script time 0 on the virtual clock: far enough from the epoch that no timer or timestamp
// logic sees a zero instant.
constexpr sched::Duration kStart = 1000s;
constexpr uint8_t kSyn = wire::TcpFlags::SYN;
constexpr uint8_t kAck = wire::TcpFlags::ACK;
// Iterations of the scheduler per step before the stack counts as spinning.
constexpr int kMaxRunsPerStep = 100'000;
// How far a missing frame is looked for, to say when it did come.
constexpr sched::Duration kLookAhead = 600s;

wire::Ipv4Address ip_of(uint32_t v) {
  return wire::Ipv4Address::from_u32(v);
}
wire::EthernetAddress host_mac(uint32_t ip) {
  return wire::EthernetAddress{{0x02, 0, 0, 0, 0, uint8_t(ip & 0xff)}};
}
wire::EthernetAddress mac_of(uint64_t v) {
  wire::EthernetAddress m{};
  for (int i = 5; i >= 0; --i, v >>= 8) m.octets[static_cast<std::size_t>(i)] = static_cast<uint8_t>(v & 0xff);
  return m;
}

// Payload patterns, so that a byte out of place shows: TCP data by its offset in the stream
// (the peer's upper case, ours lower case), ICMP echo and UDP data by offset in the message.
std::byte peer_byte(uint64_t offset) {
  return static_cast<std::byte>('A' + offset % 26);
}
std::byte our_byte(uint64_t offset) {
  return static_cast<std::byte>('a' + offset % 26);
}
std::byte message_byte(uint64_t offset) {
  return static_cast<std::byte>('0' + offset % 10);
}

std::string flags_text(uint8_t f) {
  std::string s;
  if (f & wire::TcpFlags::SYN) s += 'S';
  if (f & wire::TcpFlags::FIN) s += 'F';
  if (f & wire::TcpFlags::RST) s += 'R';
  if (f & wire::TcpFlags::PSH) s += 'P';
  if (f & wire::TcpFlags::ACK) s += '.';
  if (f & ~(wire::TcpFlags::SYN | wire::TcpFlags::FIN | wire::TcpFlags::RST | wire::TcpFlags::PSH | kAck))
    s += "+0x" + fmt::format("{:02x}", f);
  return s.empty() ? "(none)" : s;
}

// A frame the stack sent, and when (script milliseconds, rounded up).
struct Captured {
  uint64_t time_ms = 0;
  sched::Duration exact{};
  Bytes bytes;
};

// A sent frame taken apart as far as it goes.
struct Decoded {
  std::optional<wire::EthernetRepr> eth;
  std::optional<wire::ArpRepr> arp;
  std::optional<wire::Ipv4Repr> ip;
  bool ip_checksum_ok = false;
  std::span<const std::byte> l4;
};

Decoded decode(const Bytes& frame) {
  Decoded d;
  d.eth = wire::EthernetRepr::parse(std::span<const std::byte>(frame));
  if (!d.eth) return d;
  auto body = std::span<const std::byte>(frame).subspan(wire::kEthernetHeaderLen);
  if (d.eth->ethertype == wire::EtherType::Arp) {
    d.arp = wire::ArpRepr::parse(body);
  } else if (d.eth->ethertype == wire::EtherType::Ipv4) {
    auto view = wire::Ipv4View::checked(body);
    if (!view) return d;
    d.ip = wire::Ipv4Repr::parse(*view);
    d.ip_checksum_ok = view->verify_checksum();
    d.l4 = view->payload();
  }
  return d;
}

class Runner {
 public:
  Runner(const Script& script, const RunLimits& limits) : script_(script), limits_(limits) {}

  RunOutcome run() {
    if (!start()) return outcome(0);
    for (const Event& e : script_.events) {
      current_ = &e;
      if (!advance_to(e.time_ms) || !execute(e)) return outcome(e.line);
    }
    current_ = nullptr;
    pump();
    if (!captured_.empty()) {
      fail("a frame nobody expected", "", describe(captured_.front()));
      return outcome(script_.events.empty() ? 0 : script_.events.back().line);
    }
    return RunOutcome{};
  }

 private:
  // ---------------------------------------------------------------- the host

  bool start() {
    const std::pair<const char*, const char*> defaults[] = {
        {"catnip.ipv4.address", "10.0.0.2"}, {"catnip.ipv4.netmask", "255.255.255.0"},
        {"catnip.arp.gratuitous", "false"},  {"catnip.arp.static", "10.0.0.1=02:00:00:00:00:01"},
        {"catnip.tcp.isn_seed", "1"},
    };
    for (auto [k, v] : defaults) (void)config_.set(k, v);
    for (const auto& [k, v] : script_.config) {
      std::string why;
      if (config_.set(k, v, &why) != 0) return fail("config " + k + " " + v + ": " + why);
    }
    std::string why;
    auto ic = net::InetConfig::from(config_, &why);
    if (!ic) return fail("config: " + why);
    auto s = net::InetStack::create(dev_, sched_, *ic, &why);
    if (!s) return fail("config: " + why);
    stack_ = std::move(*s);
    if (stack_->tcp()) {
      rcvbuf_ = stack_->tcp()->config().receive_buffer;
      sndbuf_ = stack_->tcp()->config().send_buffer;
    }
    stack_->start();
    return pump();
  }

  sched::Duration since_start() const { return clock_.now() - (sched::Instant{} + kStart); }

  // Everything due runs; frames that left are stamped with the time.
  bool pump() {
    stack_->poll();
    int runs = 0;
    while (sched_.run_once()) {
      stack_->poll();
      if (++runs > kMaxRunsPerStep) return fail("the stack does not settle (timers firing without end)");
    }
    stack_->poll();
    const sched::Duration t = since_start();
    const auto ms = static_cast<uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(t).count());
    for (Bytes& f : dev_.sent) captured_.push_back(Captured{ms, t, std::move(f)});
    dev_.sent.clear();
    return true;
  }

  bool step_until(sched::Instant target) {
    for (;;) {
      auto next = sched_.next_deadline();
      if (!next || *next > target) break;
      if (++steps_ > limits_.max_steps) return fail("more than " + std::to_string(limits_.max_steps) + " timer steps");
      clock_.advance_to(*next);
      if (!pump()) return false;
    }
    clock_.advance_to(target);
    return pump();
  }

  bool advance_to(uint64_t ms) { return step_until(sched::Instant{} + kStart + std::chrono::milliseconds(ms)); }

  // ---------------------------------------------------------------- one line

  bool execute(const Event& e) {
    if (e.kind == Kind::TcpOut || e.kind == Kind::ArpRequestOut || e.kind == Kind::ArpReplyOut ||
        e.kind == Kind::EchoOut || e.kind == Kind::UnreachableOut || e.kind == Kind::UdpOut)
      return expect_frame(e);
    if (!captured_.empty()) return fail("a frame nobody expected", "", describe(captured_.front()));
    switch (e.kind) {
      case Kind::TcpIn:
        return inject_tcp(e);
      case Kind::ArpRequestIn:
      case Kind::ArpReplyIn:
        return inject_arp(e);
      case Kind::EchoIn:
        return inject_echo(e);
      case Kind::UdpIn:
        return inject_udp(e);
      case Kind::UdpBind:
      case Kind::UdpSend:
      case Kind::UdpRecv:
        return udp_call(e);
      case Kind::ExpectState:
        return expect_state(e);
      case Kind::ExpectCounter:
        return expect_counter(e);
      case Kind::ExpectNone:
        return true;
      default:
        return tcp_call(e);
    }
  }

  // ---------------------------------------------------------------- TCP numbering

  uint16_t our_port(const TcpSpec& s) const { return s.our_port.value_or(local_port_); }
  uint16_t peer_port(const TcpSpec& s) const { return s.peer_port.value_or(remote_port_); }
  // Our sequence space: relative to our ISN once a SYN of ours showed it, absolute before.
  uint32_t our_abs(uint32_t rel) const { return rel + our_isn_.value_or(0); }
  uint32_t our_rel(uint32_t abs) const { return abs - our_isn_.value_or(0); }
  uint32_t peer_abs(uint32_t rel) const { return rel + script_.peer_isn; }
  uint32_t peer_rel(uint32_t abs) const { return abs - script_.peer_isn; }

  bool inject_tcp(const Event& e) {
    const TcpSpec& s = e.tcp;
    if (!stack_->tcp()) return fail("this build has no TCP layer");
    wire::TcpRepr r;
    r.src_port = peer_port(s);
    r.dst_port = our_port(s);
    if (r.src_port == 0 || r.dst_port == 0) return fail("no connection to take the ports from: give sport and dport");
    r.seq = wire::SeqNumber{peer_abs(s.seq)};
    if (s.ack) r.ack = wire::SeqNumber{our_abs(*s.ack)};
    r.flags = s.flags;
    r.window = s.window.value_or(65535);
    r.mss = s.mss;
    r.window_scale = s.wscale;
    r.sack_permitted = s.sack_permitted;
    if (s.timestamps) {
      // TS ecr echoes one of our TSvals, relative like them; before we sent one, only 0.
      if (!ts_base_ && s.ts_ecr.value_or(0) != 0)
        return fail("TS ecr names our TSval, and no segment of ours has shown one yet");
      const uint32_t ecr = ts_base_ ? s.ts_ecr.value_or(0) + *ts_base_ : 0;
      r.timestamps = wire::TcpTimestamps{s.ts_val.value_or(0), ecr};
    }
    for (const auto& [l, rt] : s.sack)
      r.sack[r.sack_count++] = wire::SackBlock{wire::SeqNumber{our_abs(l)}, wire::SeqNumber{our_abs(rt)}};
    const std::size_t hl = r.emitted_header_len();
    if (wire::kIpv4MinHeaderLen + hl + s.len > 1500) return fail("the segment does not fit in a 1500-byte MTU");
    Bytes seg(hl + s.len);
    // Data starts after the SYN's sequence number; offsets count from the first data byte.
    const uint32_t first = s.seq + ((s.flags & kSyn) ? 1 : 0);
    for (uint32_t i = 0; i < s.len; ++i) seg[hl + i] = peer_byte(uint64_t{first} + i - 1);
    auto seg_span = std::span<std::byte>(seg);
    r.emit(seg_span.first(hl), seg_span.subspan(hl), ip_of(remote_addr_), ip_of(kStackIp));
    if (e.bad_checksum) seg[wire::tcp_field::CHECKSUM] ^= std::byte{0x5a};
    inject_ip(remote_addr_, wire::kProtocolTcp, seg);
    return pump();
  }

  void inject_ip(uint32_t from, uint8_t protocol, std::span<const std::byte> transport) {
    Bytes frame(wire::kEthernetHeaderLen + wire::kIpv4MinHeaderLen + transport.size());
    wire::EthernetRepr{host_mac(from), our_mac(), wire::EtherType::Ipv4}.emit(frame);
    wire::Ipv4Repr ip;
    ip.src_addr = ip_of(from);
    ip.dst_addr = ip_of(kStackIp);
    ip.protocol = protocol;
    ip.payload_len = static_cast<uint16_t>(transport.size());
    ip.ident = ++ip_ident_;
    ip.dont_frag = true;
    ip.emit(std::span<std::byte>(frame).subspan(wire::kEthernetHeaderLen), wire::TxChecksum::Compute);
    std::memcpy(frame.data() + wire::kEthernetHeaderLen + wire::kIpv4MinHeaderLen, transport.data(), transport.size());
    dev_.inject(frame);
  }

  wire::EthernetAddress our_mac() const { return host_mac(kStackIp); }

  // ---------------------------------------------------------------- other frames in

  bool inject_arp(const Event& e) {
    wire::ArpRepr a;
    wire::EthernetAddress src, dst;
    if (e.kind == Kind::ArpRequestIn) {
      a.operation = wire::ArpOperation::Request;
      a.source_hardware_addr = src = host_mac(e.addr2);
      a.source_protocol_addr = ip_of(e.addr2);
      a.target_protocol_addr = ip_of(e.addr);
      dst = wire::EthernetAddress::broadcast();
    } else {
      a.operation = wire::ArpOperation::Reply;
      a.source_hardware_addr = src = mac_of(e.mac);
      a.source_protocol_addr = ip_of(e.addr);
      a.target_hardware_addr = dst = our_mac();
      a.target_protocol_addr = ip_of(kStackIp);
    }
    Bytes frame(wire::kEthernetHeaderLen + wire::ArpRepr::kLength);
    wire::EthernetRepr{src, dst, wire::EtherType::Arp}.emit(frame);
    a.emit(std::span<std::byte>(frame).subspan(wire::kEthernetHeaderLen));
    dev_.inject(frame);
    return pump();
  }

  bool inject_echo(const Event& e) {
    Bytes data(e.count);
    for (uint32_t i = 0; i < e.count; ++i) data[i] = message_byte(i);
    const wire::IcmpRepr r = wire::IcmpRepr::echo_request(e.ident, e.sequence, data);
    Bytes m(r.buffer_len());
    r.emit(m);
    inject_ip(e.addr, wire::kProtocolIcmp, m);
    return pump();
  }

  bool inject_udp(const Event& e) {
    Bytes d(wire::kUdpHeaderLen + e.count);
    wire::UdpRepr r;
    r.src_port = e.port;
    r.dst_port = e.port2;
    r.length = static_cast<uint16_t>(d.size());
    r.emit(d);
    for (uint32_t i = 0; i < e.count; ++i) d[wire::kUdpHeaderLen + i] = message_byte(i);
    uint16_t sum = wire::UdpRepr::compute_checksum(d, ip_of(e.addr), ip_of(kStackIp));
    if (e.bad_checksum) sum = static_cast<uint16_t>(sum ^ 0x5a5a);
    wire::UdpRepr::write_checksum(d, sum);
    inject_ip(e.addr, wire::kProtocolUdp, d);
    return pump();
  }

  // ---------------------------------------------------------------- frames out

  bool expect_frame(const Event& e) {
    if (captured_.empty()) {
      // Say when (and whether) the frame did come, for the message.
      const sched::Instant until = clock_.now() + kLookAhead;
      while (captured_.empty()) {
        auto next = sched_.next_deadline();
        if (!next || *next > until || ++steps_ > limits_.max_steps) break;
        clock_.advance_to(*next);
        if (!pump()) return false;
      }
      return fail("nothing was sent by " + std::to_string(e.time_ms) + " ms", e.text,
                  captured_.empty() ? "nothing in the next " + std::to_string(kLookAhead / 1s) + " s"
                                    : describe(captured_.front()));
    }
    Captured f = std::move(captured_.front());
    captured_.pop_front();
    std::string why;
    bool ok = false;
    switch (e.kind) {
      case Kind::TcpOut:
        ok = match_tcp(e, f, why);
        break;
      case Kind::ArpRequestOut:
      case Kind::ArpReplyOut:
        ok = match_arp(e, f, why);
        break;
      case Kind::EchoOut:
      case Kind::UnreachableOut:
        ok = match_icmp(e, f, why);
        break;
      default:
        ok = match_udp(e, f, why);
        break;
    }
    if (!ok) return fail(why, e.text, describe(f));
    if (f.time_ms != e.time_ms)
      return fail("sent at " + ms_text(f.exact) + ", expected at " + std::to_string(e.time_ms) + " ms", e.text,
                  describe(f));
    return true;
  }

  static std::string ms_text(sched::Duration d) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    if (us % 1000 == 0) return std::to_string(us / 1000) + " ms";
    return fmt::format("{:.3f} ms", static_cast<double>(us) / 1000.0);
  }

  bool ip_from_us(const Decoded& d, uint8_t protocol, uint32_t to, std::string& why) const {
    if (!d.ip) return (why = "not an IPv4 packet"), false;
    if (!d.ip_checksum_ok) return (why = "bad IPv4 header checksum"), false;
    if (d.ip->protocol != protocol) return (why = "another protocol"), false;
    if (d.ip->src_addr != ip_of(kStackIp)) return (why = "not from " + ip_of(kStackIp).to_string()), false;
    if (d.ip->dst_addr != ip_of(to)) return (why = "not to " + ip_of(to).to_string()), false;
    if (d.eth->src != our_mac()) return (why = "Ethernet source is not ours"), false;
    if (d.eth->dst != host_mac(to)) return (why = "Ethernet destination is not " + host_mac(to).to_string()), false;
    return true;
  }

  bool match_tcp(const Event& e, const Captured& f, std::string& why) {
    const TcpSpec& s = e.tcp;
    const Decoded d = decode(f.bytes);
    if (!ip_from_us(d, wire::kProtocolTcp, remote_addr_, why)) return false;
    wire::WireError err{};
    auto r = wire::TcpRepr::parse(d.l4, d.ip->src_addr, d.ip->dst_addr, true, &err);
    if (!r) return (why = "not a valid TCP segment (bad checksum or header)"), false;
    // The first SYN of ours names our ISN, and the first timestamp our TS clock's offset.
    if (!our_isn_ && (r->flags & kSyn)) our_isn_ = r->seq.raw() - s.seq;
    if (!ts_base_ && r->timestamps) {
      const auto ms = static_cast<uint32_t>(std::chrono::floor<std::chrono::milliseconds>(f.exact).count());
      ts_base_ = r->timestamps->tsval - ms;
    }
    if (r->dst_port != peer_port(s) || r->src_port != our_port(s))
      return (why = "wrong ports: expected " + std::to_string(our_port(s)) + ">" + std::to_string(peer_port(s))), false;
    if (r->flags != s.flags) return (why = "wrong flags"), false;
    if (our_rel(r->seq.raw()) != s.seq) return (why = "wrong sequence number"), false;
    if (s.ack && peer_rel(r->ack.raw()) != *s.ack) return (why = "wrong acknowledgment number"), false;
    if (r->payload_len != s.len) return (why = "wrong payload length"), false;
    if (s.window && r->window != *s.window) return (why = "wrong window"), false;
    if (s.options_given) {
      if (r->mss != s.mss) return (why = "wrong mss option"), false;
      if (r->window_scale != s.wscale) return (why = "wrong wscale option"), false;
      if (r->sack_permitted != s.sack_permitted) return (why = "wrong sackOK option"), false;
      if (r->timestamps.has_value() != s.timestamps) return (why = "TS option present or missing"), false;
      if (r->timestamps) {
        if (s.ts_val && r->timestamps->tsval - *ts_base_ != *s.ts_val) return (why = "wrong TS val"), false;
        if (s.ts_ecr && r->timestamps->tsecr != *s.ts_ecr) return (why = "wrong TS ecr"), false;
      }
      if (r->sack_count != s.sack.size()) return (why = "wrong number of SACK blocks"), false;
      for (std::size_t i = 0; i < s.sack.size(); ++i) {
        if (peer_rel(r->sack[i].left.raw()) != s.sack[i].first || peer_rel(r->sack[i].right.raw()) != s.sack[i].second)
          return (why = "wrong SACK block " + std::to_string(i + 1)), false;
      }
    }
    // The payload must be the application's bytes at that place in the stream.
    const auto payload = d.l4.subspan(r->header_len, r->payload_len);
    const uint32_t first = s.seq + ((s.flags & kSyn) ? 1 : 0);
    for (std::size_t i = 0; i < payload.size(); ++i) {
      if (payload[i] != our_byte(uint64_t{first} + i - 1))
        return (why = "payload byte " + std::to_string(i) + " is not the pushed data at that offset"), false;
    }
    return true;
  }

  bool match_arp(const Event& e, const Captured& f, std::string& why) {
    const Decoded d = decode(f.bytes);
    if (!d.arp) return (why = "not an ARP packet"), false;
    const wire::ArpRepr& a = *d.arp;
    if (d.eth->src != our_mac()) return (why = "Ethernet source is not ours"), false;
    if (e.kind == Kind::ArpRequestOut) {
      if (a.operation != wire::ArpOperation::Request) return (why = "not a request"), false;
      if (!d.eth->dst.is_broadcast()) return (why = "a request not broadcast"), false;
      if (a.source_hardware_addr != our_mac()) return (why = "sender hardware address is not ours"), false;
      if (a.target_protocol_addr != ip_of(e.addr)) return (why = "asks for another address"), false;
      if (a.source_protocol_addr != ip_of(e.addr2)) return (why = "wrong sender address"), false;
      return true;
    }
    if (a.operation != wire::ArpOperation::Reply) return (why = "not a reply"), false;
    if (a.source_protocol_addr != ip_of(e.addr) || a.source_hardware_addr != mac_of(e.mac))
      return (why = "answers with another binding"), false;
    if (d.eth->dst != a.target_hardware_addr || d.eth->dst.is_broadcast())
      return (why = "a reply not sent to the asker"), false;
    return true;
  }

  bool match_icmp(const Event& e, const Captured& f, std::string& why) {
    const Decoded d = decode(f.bytes);
    if (!ip_from_us(d, wire::kProtocolIcmp, e.addr, why)) return false;
    auto r = wire::IcmpRepr::parse(d.l4, true);
    if (!r) return (why = "not a valid ICMP message"), false;
    if (e.kind == Kind::EchoOut) {
      if (r->type != wire::kIcmpEchoReply || r->code != 0) return (why = "not an echo reply"), false;
      if (r->ident != e.ident || r->seq != e.sequence) return (why = "wrong id or seq"), false;
      if (r->data.size() != e.count) return (why = "wrong length"), false;
      for (std::size_t i = 0; i < r->data.size(); ++i)
        if (r->data[i] != message_byte(i)) return (why = "data differ from the request's"), false;
      return true;
    }
    if (r->type != wire::kIcmpDestUnreachable || r->code != e.code) return (why = "wrong type or code"), false;
    if (r->original.src_addr != ip_of(e.addr) || r->original.dst_addr != ip_of(kStackIp))
      return (why = "quotes another datagram"), false;
    return true;
  }

  bool match_udp(const Event& e, const Captured& f, std::string& why) {
    const Decoded d = decode(f.bytes);
    if (!ip_from_us(d, wire::kProtocolUdp, e.addr, why)) return false;
    auto r = wire::UdpRepr::parse(d.l4, d.ip->src_addr, d.ip->dst_addr, true);
    if (!r) return (why = "not a valid UDP datagram (bad checksum or length)"), false;
    if (r->src_port != e.port2 || r->dst_port != e.port) return (why = "wrong ports"), false;
    const auto payload = r->payload(d.l4);
    if (payload.size() != e.count) return (why = "wrong length"), false;
    for (std::size_t i = 0; i < payload.size(); ++i)
      if (payload[i] != message_byte(i)) return (why = "wrong payload"), false;
    return true;
  }

  // A sent frame in the script's own syntax (as far as it can be written in it).
  std::string describe(const Captured& f) const {
    const Decoded d = decode(f.bytes);
    std::string s = "at " + ms_text(f.exact) + ": ";
    if (!d.eth) return s + std::to_string(f.bytes.size()) + " bytes that are not Ethernet";
    if (d.arp) {
      const wire::ArpRepr& a = *d.arp;
      if (a.operation == wire::ArpOperation::Request)
        return s + "> arp who-has " + a.target_protocol_addr.to_string() + " tell " +
               a.source_protocol_addr.to_string();
      return s + "> arp reply " + a.source_protocol_addr.to_string() + " is-at " + a.source_hardware_addr.to_string() +
             " (to " + d.eth->dst.to_string() + ")";
    }
    if (!d.ip)
      return s + fmt::format("ethertype 0x{:04x}, {} bytes", static_cast<uint16_t>(d.eth->ethertype), f.bytes.size());
    const std::string to = d.ip->dst_addr.to_string();
    if (d.ip->protocol == wire::kProtocolTcp) {
      auto r = wire::TcpRepr::parse(d.l4, d.ip->src_addr, d.ip->dst_addr, false);
      if (!r) return s + "a malformed TCP segment to " + to;
      const uint32_t seq = our_rel(r->seq.raw());
      s += "> " + flags_text(r->flags) + " " + std::to_string(seq) + ":" + std::to_string(seq + r->payload_len) + "(" +
           std::to_string(r->payload_len) + ")";
      if (r->flags & kAck) s += " ack " + std::to_string(peer_rel(r->ack.raw()));
      s += " win " + std::to_string(r->window);
      std::vector<std::string> o;
      if (r->mss) o.push_back("mss " + std::to_string(*r->mss));
      if (r->sack_permitted) o.push_back("sackOK");
      if (r->timestamps) {
        const std::string val = ts_base_ ? std::to_string(r->timestamps->tsval - *ts_base_)
                                         : std::to_string(r->timestamps->tsval) + "(absolute)";
        o.push_back("TS val " + val + " ecr " + std::to_string(r->timestamps->tsecr));
      }
      if (r->window_scale) o.push_back("wscale " + std::to_string(*r->window_scale));
      if (r->sack_count > 0) {
        std::string b = "sack";
        for (uint8_t i = 0; i < r->sack_count; ++i)
          b += " " + std::to_string(peer_rel(r->sack[i].left.raw())) + ":" +
               std::to_string(peer_rel(r->sack[i].right.raw()));
        o.push_back(b);
      }
      for (std::size_t i = 0; i < o.size(); ++i) s += (i == 0 ? " <" : ",") + o[i];
      if (!o.empty()) s += ">";
      if (r->src_port != local_port_ || r->dst_port != remote_port_)
        s += " sport " + std::to_string(r->dst_port) + " dport " + std::to_string(r->src_port);
      return s;
    }
    if (d.ip->protocol == wire::kProtocolIcmp) {
      auto r = wire::IcmpRepr::parse(d.l4, false);
      if (!r) return s + "a malformed ICMP message to " + to;
      if (r->type == wire::kIcmpEchoReply)
        return s + fmt::format("> icmp echo-reply to {} id {} seq {} len {}", to, r->ident, r->seq, r->data.size());
      return s + fmt::format("> icmp type {} code {} to {}", r->type, r->code, to);
    }
    if (d.ip->protocol == wire::kProtocolUdp) {
      auto r = wire::UdpRepr::parse(d.l4, d.ip->src_addr, d.ip->dst_addr, false);
      if (!r) return s + "a malformed UDP datagram to " + to;
      return s + fmt::format("> udp to {}:{} from {} len {}", to, r->dst_port, r->src_port, r->payload_len());
    }
    return s + fmt::format("IPv4 protocol {} to {}", d.ip->protocol, to);
  }

  // ---------------------------------------------------------------- socket calls

  bool result_is(int got, const Event& e) {
    if (got == e.result) return true;
    return fail("wrong result", errno_name(e.result), errno_name(got));
  }

  // The socket a call or check is about: the connection, else the listener.
  std::optional<net::tcp::SocketId> target() const {
    if (conn_) return conn_;
    return listener_;
  }

  int apply(net::tcp::SocketId s, const Event& e) {
    net::tcp::TcpLayer& tcp = *stack_->tcp();
    switch (e.opt) {
      case SockOpt::NoDelay:
        return tcp.set_nodelay(s, true);
      case SockOpt::Keepalive:
        return tcp.set_keepalive(s, net::tcp::KeepaliveOptions{true, std::chrono::milliseconds(e.opt_values[0]),
                                                               std::chrono::milliseconds(e.opt_values[1]),
                                                               static_cast<int>(e.opt_values[2])});
      case SockOpt::Linger:
        return tcp.set_linger(s, std::chrono::milliseconds(e.opt_values[0]));
      case SockOpt::ReceiveBuffer:
        rcvbuf_ = e.opt_values[0];
        return tcp.set_buffer_sizes(s, sndbuf_, rcvbuf_);
      case SockOpt::SendBuffer:
        sndbuf_ = e.opt_values[0];
        return tcp.set_buffer_sizes(s, sndbuf_, rcvbuf_);
    }
    return EINVAL;
  }

  // A new socket, with the options set before it existed.
  bool open_socket(net::tcp::SocketId& out) {
    auto s = stack_->tcp()->open();
    if (!s) return fail("open failed", "a socket", errno_name(s.error()));
    out = *s;
    for (const Event* opt : pending_opts_) {
      const int rc = apply(out, *opt);
      if (rc != opt->result)
        return fail("setopt on the new socket (line " + std::to_string(opt->line) + ")", errno_name(opt->result),
                    errno_name(rc));
    }
    pending_opts_.clear();
    return true;
  }

  bool tcp_call(const Event& e) {
    if (!stack_->tcp()) return fail("this build has no TCP layer");
    net::tcp::TcpLayer& tcp = *stack_->tcp();
    switch (e.kind) {
      case Kind::Listen: {
        net::tcp::SocketId s = 0;
        if (!open_socket(s)) return false;
        listener_ = s;
        int rc = tcp.bind(s, ip_of(kStackIp), e.port);
        if (rc == 0) rc = tcp.listen(s, 16);
        local_port_ = e.port;
        remote_port_ = script_.peer_port;
        remote_addr_ = kPeerIp;
        return result_is(rc, e) && pump();
      }
      case Kind::Connect: {
        net::tcp::SocketId s = 0;
        if (!open_socket(s)) return false;
        conn_ = s;
        const int rc = tcp.connect(s, ip_of(e.addr), e.port);
        remote_addr_ = e.addr;
        remote_port_ = e.port;
        if (auto local = tcp.local_address(s)) local_port_ = local->port;
        return result_is(rc, e) && pump();
      }
      case Kind::Accept: {
        if (!listener_) return fail("accept without listen");
        auto a = tcp.try_accept(*listener_);
        if (a) conn_ = *a;
        return result_is(a ? 0 : a.error(), e) && pump();
      }
      case Kind::SetOpt: {
        if (!target()) {
          pending_opts_.push_back(&e);
          return true;
        }
        return result_is(apply(*target(), e), e) && pump();
      }
      case Kind::ExpectError: {
        if (!conn_) return fail("no connection");
        const int rc = tcp.connect_status(*conn_);
        return rc == e.result || fail("wrong connection error", errno_name(e.result), errno_name(rc));
      }
      default:
        break;
    }
    if (!conn_) return fail("no connection: connect or accept first");
    const net::tcp::SocketId c = *conn_;
    switch (e.kind) {
      case Kind::Push: {
        mem::Block* b = app_memory_.allocate(std::max<std::size_t>(e.count, 1));
        std::byte* p = b->data;
        for (uint32_t i = 0; i < e.count; ++i) p[i] = our_byte(pushed_ + i);
        mem::BufRef buf = mem::BufRef::adopt(b, 0, e.count);
        auto n = tcp.send(c, std::span<const mem::BufRef>(&buf, 1));
        if (n && *n != e.count) return fail("a partial push", std::to_string(e.count), std::to_string(*n));
        if (n) pushed_ += e.count;
        return result_is(n ? 0 : n.error(), e) && pump();
      }
      case Kind::Pop: {
        std::vector<mem::BufRef> out;
        auto n = tcp.recv(c, std::size_t{1} << 24, out);
        const int got = !n ? n.error() : *n == 0 ? kResultEof : 0;
        if (!result_is(got, e)) return false;
        if (n && *n > 0) {
          if (!e.any_count && *n != e.count)
            return fail("popped another amount", std::to_string(e.count), std::to_string(*n));
          for (const mem::BufRef& b : out) {
            for (std::size_t i = 0; i < b.size(); ++i, ++popped_)
              if (b.bytes()[i] != peer_byte(popped_))
                return fail("popped data is not the peer's stream at offset " + std::to_string(popped_));
          }
        }
        return pump();
      }
      case Kind::Shutdown:
        return result_is(tcp.shutdown_write(c), e) && pump();
      case Kind::Close:
        return result_is(tcp.close(c), e) && pump();
      case Kind::Abort:
        return result_is(tcp.abort(c), e) && pump();
      default:
        return fail("not a TCP call");
    }
  }

  bool udp_call(const Event& e) {
    net::UdpLayer& udp = stack_->udp();
    if (!udp_) udp_ = udp.open();
    const net::UdpLayer::SocketId s = *udp_;
    switch (e.kind) {
      case Kind::UdpBind:
        return result_is(udp.bind(s, net::Endpoint{ip_of(kStackIp), e.port}), e) && pump();
      case Kind::UdpSend: {
        Bytes data(e.count);
        for (uint32_t i = 0; i < e.count; ++i) data[i] = message_byte(i);
        const net::OutSegment seg{data, nullptr};
        const int rc = udp.send(s, net::Endpoint{ip_of(e.addr), e.port}, std::span<const net::OutSegment>(&seg, 1));
        return result_is(rc, e) && pump();
      }
      default:
        break;
    }
    if (e.result != 0 && e.result != EAGAIN) return result_is(udp.take_error(s), e);
    auto dg = udp.recv(s);
    if (!dg) return result_is(EAGAIN, e);
    if (!result_is(0, e)) return false;
    if (!e.any_count && dg->length != e.count)
      return fail("a datagram of another length", std::to_string(e.count), std::to_string(dg->length));
    if (e.has_from && !(dg->from == net::Endpoint{ip_of(e.addr), e.port}))
      return fail("a datagram from elsewhere", ip_of(e.addr).to_string() + ":" + std::to_string(e.port),
                  dg->from.addr.to_string() + ":" + std::to_string(dg->from.port));
    std::size_t at = 0;
    auto check = [&](const mem::BufRef& b) {
      for (std::size_t i = 0; i < b.size(); ++i, ++at)
        if (b.bytes()[i] != message_byte(at)) return false;
      return true;
    };
    bool same = check(dg->data);
    for (const mem::BufRef& b : dg->more) same = same && check(b);
    return same || fail("the datagram's bytes differ from what was sent");
  }

  // ---------------------------------------------------------------- checks

  bool expect_state(const Event& e) {
    if (!stack_->tcp()) return fail("this build has no TCP layer");
    if (!target()) return fail("no socket");
    auto st = stack_->tcp()->state(*target());
    const std::string got = st ? std::string(net::tcp::state_name(*st)) : "CLOSED";
    return got == e.name || fail("wrong state", e.name, got);
  }

  bool expect_counter(const Event& e) {
    for (const net::Counter& c : stack_->counters()) {
      if (c.name == e.name)
        return c.value == e.value || fail("wrong counter value", std::to_string(e.value), std::to_string(c.value));
    }
    return fail("no counter named " + e.name);
  }

  // ---------------------------------------------------------------- failure

  bool fail(std::string why, std::string expected = {}, std::string actual = {}) {
    if (failed_) return false;
    failed_ = true;
    message_ = current_ ? "`" + current_->text + "`: " + why : why;
    if (!expected.empty()) message_ += "\n  expected: " + expected;
    if (!actual.empty()) message_ += "\n  actual:   " + actual;
    return false;
  }
  RunOutcome outcome(int line) const { return RunOutcome{false, line, message_}; }

  const Script& script_;
  const RunLimits limits_;
  const Event* current_ = nullptr;
  bool failed_ = false;
  std::string message_;
  uint64_t steps_ = 0;

  // Declared in the order they may be destroyed last: the stack holds buffers of both.
  mem::HeapAllocator app_memory_;
  sched::VirtualClock clock_{sched::Instant{} + kStart};
  sched::Scheduler sched_{clock_};
  Config config_;
  net::test::FakeDevice dev_{runtime::LinkAddress{0x02, 0, 0, 0, 0, 0x02}};
  std::unique_ptr<net::InetStack> stack_;

  std::deque<Captured> captured_;
  std::optional<uint32_t> our_isn_;
  std::optional<uint32_t> ts_base_;  // our TSval at script time 0
  uint16_t ip_ident_ = 0;

  std::optional<net::tcp::SocketId> listener_;
  std::optional<net::tcp::SocketId> conn_;
  std::optional<net::UdpLayer::SocketId> udp_;
  std::vector<const Event*> pending_opts_;
  uint16_t local_port_ = 0;
  uint16_t remote_port_ = 0;
  uint32_t remote_addr_ = kPeerIp;
  std::size_t rcvbuf_ = 0;
  std::size_t sndbuf_ = 0;
  uint64_t pushed_ = 0;  // bytes of our stream pushed so far
  uint64_t popped_ = 0;  // bytes of the peer's stream popped so far
};

}  // namespace

RunOutcome run_script(const Script& script, const RunLimits& limits) {
  Runner r(script, limits);
  return r.run();
}

}  // namespace demi::scripts
