// InetStack: the whole inet stack over one packet device, bottom to top:
//
//   Device (not owned) <- EthernetLayer -> ArpLayer
//                                       -> Ipv4Layer (+ Reassembler) -> IcmpLayer
//                                                                    -> UdpLayer
//                                                                    -> tcp::TcpLayer
//
// Single-threaded, driven by its owner: poll() receives one burst from the device, runs it up
// the stack (which may answer at once: ARP replies, echo replies, ACKs), and hands every queued
// frame to the device. Timers (ARP retries, reassembly timeouts, TCP's) run on the Scheduler
// given at construction. Nothing on the receive or send path allocates once warm: frames are
// views of device buffers, headers go in the headroom of buffers from the device's pool (or
// the stack's own, for a device that has none).
#pragma once

#include <memory>

#include "net/arp/arp_layer.h"
#include "net/counters.h"
#include "net/ethernet/ethernet_layer.h"
#include "net/icmp/icmp_layer.h"
#include "net/inet_config.h"
#include "net/ipv4/ipv4_layer.h"
#include "net/udp/udp_layer.h"
#include "runtime/device.h"
#include "sched/scheduler.h"

namespace demi::net {

namespace tcp {
class TcpLayer;
}

class InetStack {
 public:
  // `config` must have been resolve()d against `device`'s info (InetStack::create does it).
  InetStack(runtime::Device& device, sched::Scheduler& sched, const InetConfig& config);
  ~InetStack();
  InetStack(const InetStack&) = delete;
  InetStack& operator=(const InetStack&) = delete;

  // Resolves `config` against the device and builds the stack; EINVAL (with *why) for a
  // configuration the device cannot serve.
  static Result<std::unique_ptr<InetStack>> create(runtime::Device& device, sched::Scheduler& sched,
                                                   InetConfig config, std::string* why = nullptr);

  // Loads static ARP entries and announces our address.
  void start();
  // One receive burst up the stack, then every queued frame to the device. True if anything
  // was received or sent.
  bool poll();
  // Transmits the frames queued since the last poll (no receive).
  bool flush();

  runtime::Device& device() const { return device_; }
  sched::Scheduler& scheduler() const { return sched_; }
  const InetConfig& config() const { return config_; }
  EthernetLayer& ethernet() { return ethernet_; }
  ArpLayer& arp() { return arp_; }
  Ipv4Layer& ipv4() { return ipv4_; }
  IcmpLayer& icmp() { return icmp_; }
  UdpLayer& udp() { return udp_; }
  // TCP: nullptr in a build without the TCP layer (src/net/tcp), where catnip serves UDP only.
  // The seam is here and nowhere else in the stack: TCP registers with IPv4, ICMP and ARP like
  // UDP does.
  tcp::TcpLayer* tcp() const { return tcp_.get(); }

  // Every counter of every layer, "<layer>.<event>" = value, in layer order.
  CounterList counters() const;

 private:
  runtime::Device& device_;
  sched::Scheduler& sched_;
  InetConfig config_;
  EthernetLayer ethernet_;
  ArpLayer arp_;
  Ipv4Layer ipv4_;
  IcmpLayer icmp_;
  UdpLayer udp_;
  struct TcpDeleter {
    void operator()(tcp::TcpLayer* t) const;
  };
  std::unique_ptr<tcp::TcpLayer, TcpDeleter> tcp_;
};

}  // namespace demi::net
