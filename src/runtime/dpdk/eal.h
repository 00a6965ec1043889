// The DPDK Environment Abstraction Layer, initialised once per process from the configuration.
#pragma once

#include <demi/config.h>

#include <string>
#include <vector>

namespace demi::runtime::dpdk {

// The argument list handed to rte_eal_init: dpdk.eal_args, plus what demi adds (the port as a
// --vdev or -a, one lcore taken from the thread's affinity, a --file-prefix unique to this
// process) unless the configuration already says it.
std::vector<std::string> eal_arguments(const Config& config);

// Initialises the EAL (once; later calls return the first call's result). 0 or an errno, with a
// log line naming the cause.
int init_eal(const Config& config);

}  // namespace demi::runtime::dpdk
