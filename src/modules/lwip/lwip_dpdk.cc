// The lwip module on a DPDK port: opens the port that dpdk.* names (initialising the EAL) and
// builds the module over it, which then owns it. This is the lwip module's own way onto DPDK
// until a shared one exists for every module on a packet device.
#include <cerrno>

#include <demi/lwip.h>

#include "base/log.h"
#include "runtime/dpdk/dpdk_port.h"

namespace demi {

Result<std::unique_ptr<Module>> make_lwip_dpdk_module(const Config& config) {
  auto port = runtime::dpdk::DpdkPort::open(config);
  if (!port) return Error{port.error()};  // the reason is in the log
  std::unique_ptr<Module> m = make_lwip_module(std::unique_ptr<runtime::Device>(std::move(*port)), config);
  if (!m) return Error{EINVAL};
  return m;
}

}  // namespace demi
