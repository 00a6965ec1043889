// Catnip on DPDK: the one place that puts a DPDK port, its application region and the catnip
// module together in a LibOS. Everything comes from the configuration, so that an application
// (demi-echo, through dmtr_init) runs on memif, af_packet, af_xdp or a real NIC unchanged.
#include <cerrno>

#include <demi/catnip.h>
#include <demi/libos.h>

#include "base/log.h"
#include "libos/module_host.h"
#include "modules/catnip/catnip_module.h"
#include "runtime/dpdk/dpdk_port.h"
#include "runtime/dpdk/external_memory.h"

namespace demi {

int install_catnip_dpdk(LibOS& libos) {
  const Config& config = libos.config();
  auto port = runtime::dpdk::DpdkPort::open(config);
  if (!port) {
    DEMI_ERROR("catnip", "cannot open the DPDK port '{}' (see above)", config.get_string("dpdk.port"));
    return port.error();
  }
  // The region first: catnip's zero-copy sends need application buffers the port can attach.
  auto region = runtime::dpdk::ExternalMemory::create(config, (*port)->port_id());
  if (!region) return region.error();
  if (int rc = libos.host().set_allocator(runtime::dpdk::ExternalMemory::into_allocator(std::move(*region))))
    return rc;
  auto module = make_catnip_module(std::move(*port), config);
  if (!module) return EINVAL;  // the reason (a catnip.* value) is in the log
  return libos.install(std::move(module));
}

std::vector<CatnipCounter> catnip_counters(const LibOS& libos) {
  std::vector<CatnipCounter> out;
  auto* m = dynamic_cast<catnip::CatnipModule*>(libos.module("catnip"));
  if (!m) return out;
  runtime::DeviceStats d = m->device().stats();
  out.push_back({"device.rx_packets", d.rx_packets});
  out.push_back({"device.rx_bytes", d.rx_bytes});
  out.push_back({"device.rx_dropped", d.rx_dropped});
  out.push_back({"device.tx_packets", d.tx_packets});
  out.push_back({"device.tx_bytes", d.tx_bytes});
  out.push_back({"device.tx_dropped", d.tx_dropped});
  out.push_back({"device.tx_busy", d.tx_busy});
  out.push_back({"device.tx_payload_attached", d.tx_payload_attached});
  out.push_back({"device.tx_payload_copied", d.tx_payload_copied});
  out.push_back({"device.peer_leaves", d.peer_leaves});
  if (net::InetStack* stack = m->stack())
    for (const net::Counter& c : stack->counters()) out.push_back({std::string{c.name}, c.value});
  return out;
}

}  // namespace demi
