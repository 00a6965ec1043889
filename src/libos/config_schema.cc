#include "libos/config_schema.h"

namespace demi::config {

namespace {
// Keep sorted by section; docs/config.md is generated from this table (`demi-config --markdown`).
constexpr KeySpec kSchema[] = {
    // ---- libos
    {"libos.log_level", Type::String, "info", INT64_MIN, INT64_MAX, "error|warn|info|debug|trace",
     "Lowest level of log line written to stderr. $DEMI_LOG_LEVEL overrides it."},
    {"libos.stall_warning_ms", Type::Int, "10", 0, 60000, "",
     "Warn when the application stays out of the libOS longer than this while I/O is in flight "
     "(timers then fire late and peers retransmit). 0 turns the warning off."},
    {"libos.busy_poll", Type::Bool, "false", INT64_MIN, INT64_MAX, "",
     "Spin in wait() even when every module could sleep in the kernel (lowest latency, one core "
     "at 100%). Modules on a kernel-bypass device always spin."},
    {"libos.max_queues", Type::Int, "65536", 16, 16777216, "", "Most queue descriptors open at once."},
    {"libos.max_pending_ops", Type::Int, "1048576", 16, 16777215, "",
     "Most operations (qtokens) not yet consumed at once; past it push/pop/accept answer ENOBUFS."},
    // ---- posix
    {"posix.recv_size", Type::Int, "65536", 1, 67108864, "",
     "Largest number of bytes a pop on a kernel socket returns when the pop names no length."},
    {"posix.listen_backlog_max", Type::Int, "4096", 1, 65535, "", "Upper bound applied to listen()'s backlog."},
    // ---- catnip (keys added by the Catnip module's author go here)
    // ---- storage
    {"storage.queue_depth", Type::Int, "256", 1, 32768, "", "Entries of the storage module's io_uring."},
    {"storage.read_size", Type::Int, "65536", 1, 1073741824, "",
     "Bytes a pop on a file reads when the pop names no length."},
    {"storage.durable", Type::Bool, "false", INT64_MIN, INT64_MAX, "",
     "Every push completes only once its data is on stable storage (RWF_DSYNC). Per file: open with O_DSYNC."},
    {"storage.direct_alignment", Type::Int, "4096", 512, 1048576, "",
     "Alignment O_DIRECT files need of buffers, lengths and offsets; misaligned pushes and pops answer EINVAL."},
    // ---- dpdk
    {"dpdk.eal_args", Type::StringList, "--no-pci,--no-huge,-m,512", INT64_MIN, INT64_MAX, "",
     "Arguments for rte_eal_init (one list item per argument). demi adds `-l <core>` unless given, "
     "and a unique `--file-prefix` so that two processes on one machine do not collide."},
    {"dpdk.port", Type::String, "", INT64_MIN, INT64_MAX, "",
     "The device, as an EAL --vdev string (`net_memif0,role=server,socket=/tmp/demi.sock,socket-abstract=no`) "
     "or a PCI address (`0000:3b:00.0`, for a real NIC; drop --no-pci from eal_args)."},
    {"dpdk.rx_descriptors", Type::Int, "1024", 64, 32768, "", "RX ring size."},
    {"dpdk.tx_descriptors", Type::Int, "1024", 64, 32768, "", "TX ring size."},
    {"dpdk.mbufs", Type::Int, "8191", 1023, 1048575, "", "Packet buffers in the port's mbuf pool."},
    {"dpdk.mtu", Type::Int, "1500", 68, 9600, "", "IP MTU of the port (9000 for jumbo frames)."},
    {"dpdk.link_wait_ms", Type::Int, "3000", 0, 60000, "",
     "How long to wait for the link to come up before failing with a clear error; 0 = do not wait."},
    {"dpdk.memory_mb", Type::Int, "256", 1, 1048576, "",
     "Size of the application-memory region every sgaalloc is served from (registered with DPDK, so "
     "any buffer is sent without a copy). sgaalloc answers ENOMEM when it is exhausted."},
    {"dpdk.memory_hugepages", Type::Bool, "true", INT64_MIN, INT64_MAX, "",
     "Back the application region with 2 MiB hugepages when the machine has them (else ordinary pages, "
     "with a warning)."},
    {"dpdk.burst", Type::Int, "32", 1, 512, "", "Packets received or sent per burst."},
};
}  // namespace

std::span<const KeySpec> schema() { return kSchema; }

const KeySpec* find_key(std::string_view key) {
  for (const KeySpec& k : kSchema)
    if (k.key == key) return &k;
  return nullptr;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::Int: return "integer";
    case Type::Double: return "number";
    case Type::Bool: return "boolean";
    case Type::String: return "string";
    case Type::StringList: return "list of strings";
  }
  return "?";
}

}  // namespace demi::config
