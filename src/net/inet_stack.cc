#include "net/inet_stack.h"

#include "base/log.h"
#if DEMI_HAVE_TCP
#include "net/tcp/tcp_layer.h"
#endif

namespace demi::net {

InetStack::InetStack(runtime::Device& device, sched::Scheduler& sched, const InetConfig& config)
    : device_(device),
      sched_(sched),
      config_(config),
      ethernet_(device, *config.mac, config.tx_queue, config.burst),
      arp_(sched, ethernet_, config.ipv4.address, config.arp),
      ipv4_(sched, ethernet_, arp_, config.ipv4),
      icmp_(sched, ipv4_, config.icmp_error_rate, config.icmp_error_burst),
      udp_(sched, ipv4_, icmp_, config.udp) {
  ethernet_.set_receiver(wire::EtherType::Arp, &arp_);
  ethernet_.set_receiver(wire::EtherType::Ipv4, &ipv4_);
  ipv4_.set_icmp(&icmp_);
  ipv4_.set_transport(wire::kProtocolIcmp, &icmp_);
  ipv4_.set_transport(wire::kProtocolUdp, &udp_);
  icmp_.set_error_receiver(wire::kProtocolUdp, &udp_);
  arp_.add_listener(&udp_);
#if DEMI_HAVE_TCP
  tcp_.reset(new tcp::TcpLayer(sched, ipv4_, config.tcp));
  ipv4_.set_transport(wire::kProtocolTcp, tcp_.get());
  icmp_.set_error_receiver(wire::kProtocolTcp, tcp_.get());
  arp_.add_listener(tcp_.get());
#endif
}

void InetStack::TcpDeleter::operator()(tcp::TcpLayer* t) const {
#if DEMI_HAVE_TCP
  delete t;
#else
  (void)t;  // never made without the TCP layer
#endif
}

InetStack::~InetStack() = default;

Result<std::unique_ptr<InetStack>> InetStack::create(runtime::Device& device, sched::Scheduler& sched,
                                                     InetConfig config, std::string* why) {
  if (int rc = config.resolve(device.info(), why)) return Error{rc};
  return std::make_unique<InetStack>(device, sched, config);
}

void InetStack::start() {
  DEMI_INFO("catnip", "{} on {}: {} netmask {}{}{}, MTU {}", config_.ipv4.address, device_.info().name, *config_.mac,
            config_.ipv4.netmask, config_.ipv4.gateway ? ", gateway " : "",
            config_.ipv4.gateway ? fmt::format("{}", *config_.ipv4.gateway) : "", config_.ipv4.mtu);
  arp_.start();
}

bool InetStack::poll() {
  bool progress = ethernet_.poll_receive() > 0;
  progress |= ethernet_.flush();
  return progress;
}

bool InetStack::flush() { return ethernet_.flush(); }

CounterList InetStack::counters() const {
  CounterList out;
  ethernet_.append_counters(out);
  arp_.append_counters(out);
  ipv4_.append_counters(out);
  icmp_.append_counters(out);
  udp_.append_counters(out);
#if DEMI_HAVE_TCP
  tcp_->append_counters(out);
#endif
  return out;
}

}  // namespace demi::net
