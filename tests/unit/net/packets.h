// Frames for the inet stack's tests, built with the wire layer's emitters, and the reverse:
// a sent frame taken apart into its headers.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "net/wire/arp.h"
#include "net/wire/bytes.h"
#include "net/wire/checksum.h"
#include "net/wire/ethernet.h"
#include "net/wire/icmp.h"
#include "net/wire/ipv4.h"
#include "net/wire/udp.h"

namespace demi::net::test {

using Bytes = std::vector<std::byte>;

inline wire::Ipv4Address ip(std::string_view text) { return *wire::Ipv4Address::parse(text); }
inline wire::EthernetAddress mac(std::string_view text) { return *wire::EthernetAddress::parse(text); }

inline Bytes bytes_of(std::string_view s) {
  Bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}
inline std::string string_of(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
inline Bytes concat(std::span<const std::byte> a, std::span<const std::byte> b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

inline Bytes ethernet(const wire::EthernetAddress& dst, const wire::EthernetAddress& src, wire::EtherType type,
                      std::span<const std::byte> payload) {
  Bytes f(wire::kEthernetHeaderLen);
  wire::EthernetRepr{src, dst, type}.emit(f);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

inline Bytes arp(wire::ArpOperation op, const wire::EthernetAddress& sha, wire::Ipv4Address spa,
                 const wire::EthernetAddress& tha, wire::Ipv4Address tpa) {
  Bytes b(wire::ArpRepr::kLength);
  wire::ArpRepr r;
  r.operation = op;
  r.source_hardware_addr = sha;
  r.source_protocol_addr = spa;
  r.target_hardware_addr = tha;
  r.target_protocol_addr = tpa;
  r.emit(b);
  return b;
}

struct IpOptions {
  uint8_t ttl = 64;
  uint16_t ident = 0x1234;
  bool df = false;
  bool mf = false;
  uint16_t frag_offset = 0;  // bytes
  std::optional<uint16_t> total_length;  // to lie about it
};

inline Bytes ipv4(wire::Ipv4Address src, wire::Ipv4Address dst, uint8_t protocol, std::span<const std::byte> payload,
                  const IpOptions& o = {}) {
  Bytes p(wire::kIpv4MinHeaderLen);
  wire::Ipv4Repr r;
  r.src_addr = src;
  r.dst_addr = dst;
  r.protocol = protocol;
  r.payload_len = static_cast<uint16_t>(payload.size());
  r.hop_limit = o.ttl;
  r.ident = o.ident;
  r.dont_frag = o.df;
  r.more_frags = o.mf;
  r.frag_offset = o.frag_offset;
  r.emit(p);
  if (o.total_length) wire::store_be16(p, wire::ipv4_field::LENGTH, *o.total_length);
  wire::Ipv4View{std::span<std::byte>(p)}.fill_checksum();
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

inline Bytes udp(wire::Ipv4Address src, wire::Ipv4Address dst, uint16_t sport, uint16_t dport,
                 std::span<const std::byte> payload, bool with_checksum = true) {
  Bytes d(wire::kUdpHeaderLen + payload.size());
  wire::UdpRepr r;
  r.src_port = sport;
  r.dst_port = dport;
  r.length = static_cast<uint16_t>(wire::kUdpHeaderLen + payload.size());
  r.emit(std::span<std::byte>(d).first(wire::kUdpHeaderLen));
  if (!payload.empty()) std::memcpy(d.data() + wire::kUdpHeaderLen, payload.data(), payload.size());
  if (with_checksum) wire::UdpRepr::write_checksum(d, wire::UdpRepr::compute_checksum(d, src, dst));
  return d;
}

inline Bytes icmp_echo(uint8_t type, uint16_t ident, uint16_t seq, std::span<const std::byte> data) {
  // Sized once and filled by copy: g++ 12 at -O3 misreads an insert into a small vector as an
  // out-of-bounds memcpy (-Warray-bounds), which fails the Release build.
  Bytes m(wire::kIcmpHeaderLen + data.size());
  if (!data.empty()) std::memcpy(m.data() + wire::kIcmpHeaderLen, data.data(), data.size());
  wire::IcmpView v{std::span<std::byte>(m)};
  v.set_type(type);
  v.set_code(0);
  v.set_echo_ident(ident);
  v.set_echo_seq(seq);
  v.fill_checksum();
  return m;
}

// A whole frame: Ethernet + IPv4 + the given transport bytes.
inline Bytes ip_frame(const wire::EthernetAddress& dst_mac, const wire::EthernetAddress& src_mac,
                      wire::Ipv4Address src, wire::Ipv4Address dst, uint8_t protocol,
                      std::span<const std::byte> transport, const IpOptions& o = {}) {
  return ethernet(dst_mac, src_mac, wire::EtherType::Ipv4, ipv4(src, dst, protocol, transport, o));
}

// A sent frame, taken apart.
struct Parsed {
  wire::EthernetRepr eth;
  std::optional<wire::ArpRepr> arp;
  std::optional<wire::Ipv4Repr> ip;
  bool ip_checksum_ok = false;
  Bytes ip_header;
  Bytes l4;  // what follows the IPv4 header
};

inline Parsed parse(std::span<const std::byte> frame) {
  Parsed p;
  auto eth = wire::EthernetRepr::parse(wire::EthernetView{frame});
  EXPECT_TRUE(eth.has_value());
  if (!eth) return p;
  p.eth = *eth;
  auto body = frame.subspan(wire::kEthernetHeaderLen);
  if (eth->ethertype == wire::EtherType::Arp) {
    p.arp = wire::ArpRepr::parse(body);
  } else if (eth->ethertype == wire::EtherType::Ipv4) {
    auto view = wire::Ipv4View::checked(body);
    EXPECT_TRUE(view.has_value());
    if (!view) return p;
    p.ip = wire::Ipv4Repr::parse(*view);
    p.ip_checksum_ok = view->verify_checksum();
    p.ip_header.assign(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(view->header_len()));
    auto l4 = view->payload();
    p.l4.assign(l4.begin(), l4.end());
  }
  return p;
}

}  // namespace demi::net::test
