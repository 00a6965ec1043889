// Everything the inet stack is configured with, read and checked once from demi's Config
// (the catnip.* keys): an address that does not parse, a netmask with holes, a gateway off the
// subnet, a static ARP entry without '=' or RTO bounds out of order is an error that names its
// key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <demi/config.h>
#include <demi/result.h>

#include "net/arp/arp_cache.h"
#include "net/ipv4/ipv4_layer.h"
#include "net/tcp/tcp_config.h"
#include "net/udp/udp_layer.h"
#include "net/wire/ethernet.h"
#include "net/wire/ipv4.h"
#include "runtime/device.h"

namespace demi::net {

struct InetConfig {
  std::optional<wire::EthernetAddress> mac;  // empty: the device's
  uint32_t mtu = 0;                          // 0: the device's
  std::size_t burst = 32;
  std::size_t tx_queue = 1024;
  Ipv4Config ipv4;
  ArpConfig arp;
  uint64_t icmp_error_rate = 1000;
  uint64_t icmp_error_burst = 50;
  UdpConfig udp;
  tcp::TcpConfig tcp;

  // Reads the catnip.* keys. EINVAL, with *why naming the key, for a value that does not make
  // sense (the Config checked types and bounds already).
  static Result<InetConfig> from(const Config& config, std::string* why = nullptr);
  // Fills what comes from the device (MAC, MTU) and checks the two agree. EINVAL with *why.
  int resolve(const runtime::DeviceInfo& device, std::string* why = nullptr);
};

}  // namespace demi::net
