#include "net/inet_config.h"

#include <fmt/format.h>

#include <cerrno>
#include <random>

#include "base/log.h"

namespace demi::net {

namespace {

int invalid(std::string* why, std::string text) {
  DEMI_ERROR("catnip", "{}", text);
  if (why) *why = std::move(text);
  return EINVAL;
}

using std::chrono::milliseconds;
using std::chrono::seconds;

int read_tcp(const Config& c, tcp::TcpConfig& t, std::string* why) {
  t.mss = static_cast<uint32_t>(c.get_int("catnip.tcp.mss"));
  t.send_buffer = static_cast<std::size_t>(c.get_int("catnip.tcp.send_buffer"));
  t.receive_buffer = static_cast<std::size_t>(c.get_int("catnip.tcp.receive_buffer"));
  t.max_out_of_order = static_cast<std::size_t>(c.get_int("catnip.tcp.max_out_of_order"));
  t.window_scaling = c.get_bool("catnip.tcp.window_scaling");
  t.timestamps = c.get_bool("catnip.tcp.timestamps");
  t.sack = c.get_bool("catnip.tcp.sack");
  t.rto_initial = milliseconds(c.get_int("catnip.tcp.rto_initial_ms"));
  t.rto_min = milliseconds(c.get_int("catnip.tcp.rto_min_ms"));
  t.rto_max = milliseconds(c.get_int("catnip.tcp.rto_max_ms"));
  if (t.rto_min > t.rto_initial || t.rto_initial > t.rto_max)
    return invalid(why, "config: 'catnip.tcp.rto_min_ms' <= 'catnip.tcp.rto_initial_ms' <= 'catnip.tcp.rto_max_ms' "
                        "does not hold");
  const int64_t delayed_ack = c.get_int("catnip.tcp.delayed_ack_ms");
  t.delayed_ack_enabled = delayed_ack > 0;
  t.delayed_ack = milliseconds(delayed_ack);
  t.msl = milliseconds(c.get_int("catnip.tcp.msl_ms"));
  t.fin_wait_2_timeout = milliseconds(c.get_int("catnip.tcp.fin_wait_2_timeout_ms"));
  t.shutdown_linger = milliseconds(c.get_int("catnip.tcp.shutdown_linger_ms"));
  t.syn_retries = static_cast<int>(c.get_int("catnip.tcp.syn_retries"));
  t.data_retries = static_cast<int>(c.get_int("catnip.tcp.data_retries"));
  t.keepalive_idle = seconds(c.get_int("catnip.tcp.keepalive_idle_s"));
  t.keepalive_interval = seconds(c.get_int("catnip.tcp.keepalive_interval_s"));
  t.keepalive_count = static_cast<int>(c.get_int("catnip.tcp.keepalive_count"));
  t.backlog_max = static_cast<int>(c.get_int("catnip.tcp.backlog_max"));
  t.syn_queue_max = static_cast<std::size_t>(c.get_int("catnip.tcp.syn_queue_max"));
  t.syn_cookies = c.get_bool("catnip.tcp.syn_cookies");
  t.challenge_ack_limit = static_cast<uint32_t>(c.get_int("catnip.tcp.challenge_ack_limit"));
  t.congestion_control = c.get_string("catnip.tcp.congestion");
  t.hystart = c.get_bool("catnip.tcp.hystart");
  if (const int64_t seed = c.get_int("catnip.tcp.isn_seed"); seed != 0) {
    t.isn_secret = tcp::TcpConfig::secret_from_seed(static_cast<uint64_t>(seed));
  } else {
    // RFC 6528: a secret nobody can guess, drawn once per stack.
    std::random_device rd;
    auto draw = [&rd] { return (uint64_t{rd()} << 32) | rd(); };
    t.isn_secret.k0 = draw();
    t.isn_secret.k1 = draw();
  }
  return 0;
}

}  // namespace

Result<InetConfig> InetConfig::from(const Config& c, std::string* why) {
  InetConfig out;
  auto address = [&](std::string_view key, bool required) -> Result<std::optional<wire::Ipv4Address>> {
    const std::string& text = c.get_string(key);
    if (text.empty()) {
      if (required) return Error{invalid(why, fmt::format("config: '{}' must be set (this host's IPv4 address)", key))};
      return std::optional<wire::Ipv4Address>{};
    }
    auto a = wire::Ipv4Address::parse(text);
    if (!a) return Error{invalid(why, fmt::format("config: '{}' is '{}', not an IPv4 address", key, text))};
    return std::optional<wire::Ipv4Address>{*a};
  };

  auto addr = address("catnip.ipv4.address", true);
  if (!addr) return Error{addr.error()};
  out.ipv4.address = **addr;
  if (!out.ipv4.address.is_unicast() || out.ipv4.address.is_unspecified())
    return Error{invalid(why, fmt::format("config: 'catnip.ipv4.address' is {}, not a host address", out.ipv4.address))};

  auto mask = address("catnip.ipv4.netmask", true);
  if (!mask) return Error{mask.error()};
  out.ipv4.netmask = **mask;
  const uint32_t m = out.ipv4.netmask.to_u32();
  if ((~m & (~m + 1)) != 0)  // the host part must be a run of low ones
    return Error{invalid(why, fmt::format("config: 'catnip.ipv4.netmask' is {}, not a contiguous mask", out.ipv4.netmask))};

  auto gw = address("catnip.ipv4.gateway", false);
  if (!gw) return Error{gw.error()};
  out.ipv4.gateway = *gw;
  if (out.ipv4.gateway) {
    if ((out.ipv4.gateway->to_u32() & m) != (out.ipv4.address.to_u32() & m) || *out.ipv4.gateway == out.ipv4.address)
      return Error{invalid(why, fmt::format("config: 'catnip.ipv4.gateway' {} is not another host on the subnet of {}/{}",
                                            *out.ipv4.gateway, out.ipv4.address, out.ipv4.netmask))};
  }
  out.ipv4.ttl = static_cast<uint8_t>(c.get_int("catnip.ipv4.ttl"));
  out.ipv4.reassembly_timeout = std::chrono::milliseconds(c.get_int("catnip.ipv4.reassembly_timeout_ms"));
  out.ipv4.reassembly_memory = static_cast<std::size_t>(c.get_int("catnip.ipv4.reassembly_memory"));

  if (const std::string& text = c.get_string("catnip.mac"); !text.empty()) {
    auto mac = wire::EthernetAddress::parse(text);
    if (!mac || !mac->is_unicast())
      return Error{invalid(why, fmt::format("config: 'catnip.mac' is '{}', not a unicast Ethernet address", text))};
    out.mac = *mac;
  }
  out.mtu = static_cast<uint32_t>(c.get_int("catnip.mtu"));
  if (out.mtu != 0 && out.mtu < 576)
    return Error{invalid(why, fmt::format("config: 'catnip.mtu' is {}; IPv4 needs at least 576 (or 0: the device's)", out.mtu))};
  out.burst = static_cast<std::size_t>(c.get_int("catnip.burst"));
  out.tx_queue = static_cast<std::size_t>(c.get_int("catnip.tx_queue"));

  out.arp.entry_timeout = std::chrono::milliseconds(c.get_int("catnip.arp.entry_timeout_ms"));
  out.arp.request_timeout = std::chrono::milliseconds(c.get_int("catnip.arp.request_timeout_ms"));
  out.arp.retries = static_cast<uint32_t>(c.get_int("catnip.arp.retries"));
  out.arp.failure_hold = std::chrono::milliseconds(c.get_int("catnip.arp.failure_hold_ms"));
  out.arp.queue_limit = static_cast<std::size_t>(c.get_int("catnip.arp.queue_limit"));
  out.arp.gratuitous = c.get_bool("catnip.arp.gratuitous");
  for (const std::string& item : c.get_list("catnip.arp.static")) {
    const auto eq = item.find('=');
    auto ip = eq == std::string::npos ? std::nullopt : wire::Ipv4Address::parse(std::string_view(item).substr(0, eq));
    auto mac = eq == std::string::npos ? std::nullopt : wire::EthernetAddress::parse(std::string_view(item).substr(eq + 1));
    if (!ip || !mac || !mac->is_unicast())
      return Error{invalid(why, fmt::format("config: 'catnip.arp.static' item '{}' is not ip=mac "
                                            "(10.0.0.1=02:00:00:00:00:01)", item))};
    out.arp.static_entries.emplace_back(*ip, *mac);
  }

  out.icmp_error_rate = static_cast<uint64_t>(c.get_int("catnip.icmp.error_rate"));
  out.icmp_error_burst = static_cast<uint64_t>(c.get_int("catnip.icmp.error_burst"));
  out.udp.queue_datagrams = static_cast<std::size_t>(c.get_int("catnip.udp.queue_datagrams"));
  out.udp.queue_bytes = static_cast<std::size_t>(c.get_int("catnip.udp.queue_bytes"));
  if (int rc = read_tcp(c, out.tcp, why)) return Error{rc};
  return out;
}

int InetConfig::resolve(const runtime::DeviceInfo& device, std::string* why) {
  if (!mac) mac = wire::EthernetAddress{device.mac};
  if (!mac->is_unicast())
    return invalid(why, fmt::format("catnip: device {} has no unicast MAC address; set catnip.mac", device.name));
  if (mtu == 0) mtu = device.mtu;
  if (mtu > device.mtu)
    return invalid(why, fmt::format("config: 'catnip.mtu' is {}, more than device {} carries ({})", mtu, device.name,
                                    device.mtu));
  if (mtu < 576)
    return invalid(why, fmt::format("catnip: device {} has an MTU of {}; IPv4 needs at least 576", device.name, mtu));
  ipv4.mtu = mtu;
  // TCP's segments travel without fragments: header room for IPv4 and TCP (RFC 9293 3.7.1).
  if (tcp.mss > mtu - 40)
    return invalid(why, fmt::format("config: 'catnip.tcp.mss' is {}, more than the MTU {} allows ({})", tcp.mss, mtu,
                                    mtu - 40));
  return 0;
}

}  // namespace demi::net
