#include "net/icmp/icmp_layer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "net/copy_buffer.h"
#include "net/wire/checksum.h"

namespace demi::net {

namespace {
constexpr const char* kLog = "icmp";
// RFC 1812 4.3.2.3: an ICMP error, IP header included, is at most 576 bytes.
constexpr std::size_t kMaxErrorDatagram = 576;
constexpr std::size_t kMinIpHeader = wire::kIpv4MinHeaderLen;
constexpr std::size_t kMaxIpHeader = 60;
// What an error must quote for us to act on it: the IP header and 8 bytes (RFC 792).
constexpr std::size_t kQuotedTransport = 8;

// The errno an ICMP error means to the socket whose packet caused it (as Linux's
// icmp_err_convert has it).
int errno_of(uint8_t type, uint8_t code) {
  if (type == IcmpLayer::kTimeExceeded) return EHOSTUNREACH;
  if (type == IcmpLayer::kParameterProblem) return EPROTO;
  switch (code) {
    case 0: return ENETUNREACH;   // net unreachable
    case 1: return EHOSTUNREACH;  // host unreachable
    case 2: return ENOPROTOOPT;   // protocol unreachable
    case 3: return ECONNREFUSED;  // port unreachable
    case 4: return EMSGSIZE;      // fragmentation needed and DF set
    case 5: return EOPNOTSUPP;    // source route failed
    case 6: return ENETUNREACH;   // destination network unknown
    case 7: return EHOSTDOWN;     // destination host unknown
    case 8: return ENONET;        // source host isolated
    case 9:
    case 11: return ENETUNREACH;  // network prohibited, unreachable for TOS
    default: return EHOSTUNREACH; // host prohibited, unreachable for TOS, filtered, precedence
  }
}

bool is_error_type(uint8_t type) {
  return type == IcmpLayer::kDestUnreachable || type == IcmpLayer::kSourceQuench || type == IcmpLayer::kRedirect ||
         type == IcmpLayer::kTimeExceeded || type == IcmpLayer::kParameterProblem;
}

// A source that an error may go back to: a unicast host (RFC 1122 3.2.2).
bool is_host(wire::Ipv4Address a) { return a.is_unicast() && !a.is_unspecified(); }

// Copies the first out.size() bytes of a payload chain (fewer if it is shorter); returns how many.
std::size_t gather(Payload p, std::span<std::byte> out) {
  std::size_t done = 0;
  for (const mem::BufRef& part : p) {
    const std::size_t n = std::min(part.size(), out.size() - done);
    std::memcpy(out.data() + done, part.data(), n);
    done += n;
    if (done == out.size()) break;
  }
  return done;
}
}  // namespace

IcmpLayer::IcmpLayer(sched::Scheduler& sched, IpOutput& ip, uint64_t error_rate, uint64_t error_burst)
    : sched_(sched), ip_(ip), bucket_(error_rate, error_burst, sched.now()) {}

void IcmpLayer::set_error_receiver(uint8_t protocol, TransportReceiver* r) { error_receivers_[protocol] = r; }

void IcmpLayer::receive(const Ipv4Packet& ip, Payload payload, uint32_t) {
  ++counters_.rx_messages;
  if (payload.empty() || payload[0].size() < kHeaderLength) {
    ++counters_.drop_malformed;
    return;
  }
  wire::Checksum sum;
  for (const mem::BufRef& part : payload) sum.add(part.bytes());
  if (sum.folded() != 0xffff) {
    ++counters_.drop_bad_checksum;
    return;
  }
  const wire::IcmpView msg{payload[0].bytes()};
  switch (msg.type()) {
    case kEchoRequest:
      ++counters_.echo_requests;
      if (ip.broadcast) {
        ++counters_.drop_broadcast_echo;
        return;
      }
      answer_echo(ip, payload, msg.checksum());
      return;
    case kEchoReply: {
      ++counters_.echo_replies_received;
      if (!echo_listener_) {
        ++counters_.drop_unhandled;
        return;
      }
      const uint16_t ident = msg.echo_ident();
      const uint16_t seq = msg.echo_seq();
      payload[0].trim_front(kHeaderLength);
      echo_listener_->echo_reply(ip.repr.src_addr, ident, seq, payload);
      return;
    }
    case kDestUnreachable:
    case kTimeExceeded:
    case kParameterProblem:
      deliver_error(msg.type(), msg.code(), msg.next_hop_mtu(), payload);
      return;
    default:
      // Source quench (deprecated, RFC 6633), redirects (we have one gateway), timestamps, ...
      ++counters_.drop_unhandled;
      return;
  }
}

void IcmpLayer::answer_echo(const Ipv4Packet& ip, Payload payload, uint16_t request_checksum) {
  mem::BufRef head = ip_.alloc_header(kHeaderLength);
  if (!head) {
    ++counters_.tx_failed;
    return;
  }
  head.prepend(kHeaderLength);
  std::memcpy(head.data(), payload[0].data(), kHeaderLength);
  // The request's checksum, updated for the one word that changes (RFC 1624): the data need not
  // be summed again.
  const uint16_t checksum = wire::checksum_adjust(request_checksum, static_cast<uint16_t>(kEchoRequest << 8),
                                                  static_cast<uint16_t>(kEchoReply << 8));
  wire::IcmpView reply{head.bytes()};
  reply.set_type(kEchoReply);
  reply.set_code(0);
  reply.set_checksum(checksum);

  // The data goes back as views of the request's buffers.
  runtime::TxFrame frame;
  payload[0].trim_front(kHeaderLength);
  std::size_t pieces = 0;
  std::size_t length = 0;
  for (const mem::BufRef& part : payload) {
    pieces += part.size() ? 1 : 0;
    length += part.size();
  }
  if (pieces <= runtime::kMaxPayloadSegments) {
    for (mem::BufRef& part : payload)
      if (part.size()) frame.add_payload(std::move(part));
  } else if (head.tailroom() >= length) {
    gather(payload, std::span<std::byte>(head.data() + kHeaderLength, length));
    head.set_length(kHeaderLength + length);
  } else {
    mem::BufRef body = copy_buffer(length);
    if (!body) {
      ++counters_.tx_failed;
      return;
    }
    gather(payload, body.bytes());
    frame.add_payload(std::move(body));
  }
  frame.head = std::move(head);
  if (int rc = ip_.send(ip.repr.src_addr, wire::kProtocolIcmp, std::move(frame)); rc != 0) {
    ++counters_.tx_failed;
    DEMI_DEBUG(kLog, "echo reply to {} not sent: {}", ip.repr.src_addr, std::strerror(rc));
    return;
  }
  ++counters_.echo_replies_sent;
}

void IcmpLayer::deliver_error(uint8_t type, uint8_t code, uint16_t mtu, Payload payload) {
  // The quoted header and transport bytes, made contiguous (a few dozen bytes, error path only).
  std::array<std::byte, kHeaderLength + kMaxIpHeader + kQuotedTransport> quoted{};
  const std::size_t n = gather(payload, quoted);
  if (n < kHeaderLength + kMinIpHeader + kQuotedTransport) {
    ++counters_.drop_malformed;
    return;
  }
  std::span<const std::byte> inner(quoted.data() + kHeaderLength, n - kHeaderLength);
  // The quoted header is what a router received, its TTL and checksum already changed on the
  // way: check its shape, not its checksum.
  auto original = wire::Ipv4Repr::parse_quoted(inner);
  if (!original || inner.size() < original->header_len + kQuotedTransport) {
    ++counters_.drop_malformed;
    return;
  }
  TransportReceiver* r = error_receivers_[original->protocol];
  if (!r) {
    ++counters_.drop_unhandled;
    return;
  }
  IcmpError err;
  err.error = errno_of(type, code);
  err.type = type;
  err.code = code;
  err.next_hop_mtu = type == kDestUnreachable && code == kFragmentationNeeded ? mtu : 0;
  err.original = *original;
  err.transport = inner.subspan(original->header_len);
  ++counters_.errors_received;
  r->icmp_error(err);
}

void IcmpLayer::send_unreachable(UnreachableCode code, const Ipv4Packet& ip, Payload payload) {
  if (ip.broadcast || !ip.repr.dst_addr.is_unicast() || !is_host(ip.repr.src_addr)) {
    ++counters_.errors_suppressed;
    return;
  }
  if (ip.repr.protocol == wire::kProtocolIcmp && !payload.empty() && payload[0].size() > 0 &&
      is_error_type(static_cast<uint8_t>(payload[0].data()[0]))) {
    ++counters_.errors_suppressed;  // never an error about an error (RFC 1122 3.2.2)
    return;
  }
  send_error(kDestUnreachable, code, ip.header, payload);
}

void IcmpLayer::send_time_exceeded(TimeExceededCode code, std::span<const std::byte> header,
                                   const mem::BufRef& payload) {
  auto original = wire::Ipv4Repr::parse_quoted(header);
  if (!original || !is_host(original->src_addr) || !original->dst_addr.is_unicast()) {
    ++counters_.errors_suppressed;
    return;
  }
  mem::BufRef copy = payload;
  send_error(kTimeExceeded, code, header, Payload(&copy, 1));
}

void IcmpLayer::send_error(uint8_t type, uint8_t code, std::span<const std::byte> header, Payload data) {
  auto original = wire::Ipv4Repr::parse_quoted(header);
  if (!original) {
    ++counters_.errors_suppressed;
    return;
  }
  if (!bucket_.take(sched_.now())) {
    ++counters_.errors_rate_limited;
    return;
  }
  const std::size_t quote = std::min(payload_length(data), kMaxErrorDatagram - kMinIpHeader - kHeaderLength - header.size());
  const std::size_t length = kHeaderLength + header.size() + quote;
  mem::BufRef head = ip_.alloc_header(kHeaderLength);
  if (!head || head.tailroom() < length - kHeaderLength) {
    ++counters_.tx_failed;
    return;
  }
  head.prepend(kHeaderLength);
  head.set_length(length);
  std::memset(head.data(), 0, kHeaderLength);
  std::memcpy(head.data() + kHeaderLength, header.data(), header.size());
  gather(data, std::span<std::byte>(head.data() + kHeaderLength + header.size(), quote));
  wire::IcmpView msg{head.bytes()};
  msg.set_type(type);
  msg.set_code(code);
  msg.fill_checksum();
  runtime::TxFrame frame;
  frame.head = std::move(head);
  if (int rc = ip_.send(original->src_addr, wire::kProtocolIcmp, std::move(frame)); rc != 0) {
    ++counters_.tx_failed;
    DEMI_DEBUG(kLog, "error (type {} code {}) to {} not sent: {}", type, code, original->src_addr, std::strerror(rc));
    return;
  }
  ++counters_.errors_sent;
}

int IcmpLayer::send_echo_request(wire::Ipv4Address dst, uint16_t ident, uint16_t seq, std::span<const std::byte> data) {
  mem::BufRef head = ip_.alloc_header(kHeaderLength);
  if (!head) return ENOBUFS;
  runtime::TxFrame frame;
  head.prepend(kHeaderLength);
  if (head.tailroom() >= data.size()) {
    if (!data.empty()) std::memcpy(head.data() + kHeaderLength, data.data(), data.size());
    head.set_length(kHeaderLength + data.size());
  } else {
    mem::BufRef body = copy_buffer(data.size());
    if (!body) return ENOBUFS;
    std::memcpy(body.data(), data.data(), data.size());
    frame.add_payload(std::move(body));
  }
  wire::IcmpView msg{head.bytes()};
  std::memset(head.data(), 0, kHeaderLength);
  msg.set_type(kEchoRequest);
  msg.set_code(0);
  msg.set_echo_ident(ident);
  msg.set_echo_seq(seq);
  wire::Checksum sum;
  sum.add(head.bytes());
  for (uint8_t i = 0; i < frame.payload_segments; ++i) sum.add(frame.payload[i].bytes());
  msg.set_checksum(sum.checksum());
  frame.head = std::move(head);
  return ip_.send(dst, wire::kProtocolIcmp, std::move(frame));
}

void IcmpLayer::append_counters(CounterList& out) const {
  const Counters& c = counters_;
  out.push_back({"icmp.rx_messages", c.rx_messages});
  out.push_back({"icmp.echo_requests", c.echo_requests});
  out.push_back({"icmp.echo_replies_sent", c.echo_replies_sent});
  out.push_back({"icmp.echo_replies_received", c.echo_replies_received});
  out.push_back({"icmp.errors_received", c.errors_received});
  out.push_back({"icmp.errors_sent", c.errors_sent});
  out.push_back({"icmp.errors_rate_limited", c.errors_rate_limited});
  out.push_back({"icmp.errors_suppressed", c.errors_suppressed});
  out.push_back({"icmp.drop.malformed", c.drop_malformed});
  out.push_back({"icmp.drop.bad_checksum", c.drop_bad_checksum});
  out.push_back({"icmp.drop.broadcast_echo", c.drop_broadcast_echo});
  out.push_back({"icmp.drop.unhandled", c.drop_unhandled});
  out.push_back({"icmp.tx_failed", c.tx_failed});
}

}  // namespace demi::net
