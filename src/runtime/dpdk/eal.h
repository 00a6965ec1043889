// The DPDK Environment Abstraction Layer, initialised once per process from the configuration.
#pragma once

#include <demi/config.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace demi::runtime::dpdk {

// The argument list handed to rte_eal_init: dpdk.eal_args, plus what demi adds (the port as a
// --vdev or -a, one lcore taken from the thread's affinity, a --file-prefix unique to this
// process) unless the configuration already says it.
std::vector<std::string> eal_arguments(const Config& config);

// The device string given to the EAL for dpdk.port. A net_memif port whose dpdk.mtu makes frames
// longer than memif's default 2048-byte buffers gets a buffer size that holds a whole frame
// (bsize=, the next power of two), unless the string sets one: DPDK 22.11's memif does not carry
// a frame spread over several buffers intact (seen here: drops and crashes).
std::string device_spec(const Config& config);
// The buffer size of a net_memif device string: its bsize=, or memif's default. (memif's client
// allocates the buffers: the server uses the client's size, whatever its own string says.)
std::size_t memif_buffer_size(std::string_view spec);
bool is_memif(std::string_view spec);
// The value of `key` in a device string's comma-separated key=value list
// ("net_memif0,role=client,bsize=4096"): the last one, as DPDK's drivers read them.
std::optional<std::string> devarg(std::string_view spec, std::string_view key);

// Initialises the EAL (once; later calls return the first call's result). 0 or an errno, with a
// log line naming the cause.
int init_eal(const Config& config);

}  // namespace demi::runtime::dpdk
