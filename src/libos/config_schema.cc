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
    {"catnip.ipv4.address", Type::String, "", INT64_MIN, INT64_MAX, "",
     "This host's IPv4 address (dotted quad). Required: the catnip module refuses to start without it."},
    {"catnip.ipv4.netmask", Type::String, "255.255.255.0", INT64_MIN, INT64_MAX, "",
     "Netmask of the attached subnet (contiguous, dotted quad). Destinations inside it are reached directly."},
    {"catnip.ipv4.gateway", Type::String, "", INT64_MIN, INT64_MAX, "",
     "Default gateway (inside the subnet) that off-subnet traffic is sent to. Empty: none, and sending "
     "off the subnet fails with ENETUNREACH."},
    {"catnip.ipv4.ttl", Type::Int, "64", 1, 255, "", "Time to live of the IPv4 packets catnip sends."},
    {"catnip.ipv4.reassembly_timeout_ms", Type::Int, "30000", 1, 600000, "",
     "How long the fragments of an incomplete datagram are kept before it is dropped (RFC 791); an "
     "ICMP time-exceeded goes back if the first fragment had come."},
    {"catnip.ipv4.reassembly_memory", Type::Int, "4194304", 0, 1073741824, "",
     "Bytes of receive buffers that incomplete datagrams may hold at once; past it the oldest are "
     "dropped. 0 drops every fragment."},
    {"catnip.mac", Type::String, "", INT64_MIN, INT64_MAX, "",
     "This host's Ethernet address (`02:00:00:00:00:01`). Empty: the device's own. Another address "
     "only works on a device that receives frames sent to it (promiscuous)."},
    {"catnip.mtu", Type::Int, "0", 0, 9216, "",
     "IP MTU in bytes (at least 576). 0: the device's. It may not exceed the device's."},
    {"catnip.burst", Type::Int, "32", 1, 512, "", "Frames received from the device per poll, and sent per burst."},
    {"catnip.tx_queue", Type::Int, "1024", 16, 65536, "",
     "Frames waiting for room in the device's transmit ring; past it a send fails with ENOBUFS."},
    {"catnip.arp.entry_timeout_ms", Type::Int, "60000", 1, 86400000, "",
     "How long a learned neighbour's Ethernet address is used before it is resolved again."},
    {"catnip.arp.request_timeout_ms", Type::Int, "250", 1, 60000, "",
     "Wait for a reply to the first ARP request; it doubles after every retry (exponential backoff)."},
    {"catnip.arp.retries", Type::Int, "3", 0, 16, "",
     "ARP requests sent again after the first before a neighbour is declared unreachable: its queued "
     "packets are dropped and operations waiting on it fail with EHOSTUNREACH."},
    {"catnip.arp.failure_hold_ms", Type::Int, "1000", 0, 600000, "",
     "How long a neighbour that did not answer stays unreachable (sends fail with EHOSTUNREACH at "
     "once) before ARP tries it again."},
    {"catnip.arp.queue_limit", Type::Int, "64", 1, 4096, "",
     "Packets kept per neighbour while its address is being resolved; more fail with ENOBUFS. At "
     "least 45: the IPv4 fragments of one largest UDP datagram (65,507 B) at MTU 1500."},
    {"catnip.arp.static", Type::StringList, "", INT64_MIN, INT64_MAX, "",
     "Permanent neighbours, one `ip=mac` item each (`10.0.0.1=02:00:00:00:00:01`); never expire, "
     "never overwritten by ARP traffic."},
    {"catnip.arp.gratuitous", Type::Bool, "true", INT64_MIN, INT64_MAX, "",
     "Announce this host's address with a gratuitous ARP when the module starts (RFC 5227 2.3)."},
    {"catnip.icmp.error_rate", Type::Int, "1000", 0, 1000000, "",
     "ICMP error messages (destination unreachable, time exceeded) sent per second at most, a token "
     "bucket refill rate (RFC 1812 4.3.2.8). 0 sends none. Echo replies are never limited."},
    {"catnip.icmp.error_burst", Type::Int, "50", 1, 1000000, "", "Depth of the ICMP error token bucket."},
    {"catnip.udp.queue_datagrams", Type::Int, "1024", 1, 1048576, "",
     "Datagrams a UDP socket holds for the application; more are dropped and counted."},
    {"catnip.udp.queue_bytes", Type::Int, "1048576", 1, 1073741824, "",
     "Payload bytes a UDP socket holds for the application (SO_RCVBUF overrides it per socket); more "
     "are dropped and counted."},
    {"catnip.tcp.mss", Type::Int, "0", 0, 9176, "",
     "The MSS announced and the largest segment sent (RFC 9293 3.7.1). 0: the MTU less 40 bytes."},
    {"catnip.tcp.send_buffer", Type::Int, "262144", 1024, 1073741824, "",
     "Bytes a connection holds unacknowledged (SO_SNDBUF overrides it per socket)."},
    {"catnip.tcp.receive_buffer", Type::Int, "262144", 1024, 1073741824, "",
     "Bytes a connection holds for the application; sets the window advertised (SO_RCVBUF overrides "
     "it per socket)."},
    {"catnip.tcp.max_out_of_order", Type::Int, "0", 0, 65536, "",
     "Out-of-order segments held per connection; more are dropped. 0: as many full-sized segments as "
     "the receive buffer holds (at least 64)."},
    {"catnip.tcp.window_scaling", Type::Bool, "true", INT64_MIN, INT64_MAX, "", "Offer window scaling (RFC 7323 2)."},
    {"catnip.tcp.timestamps", Type::Bool, "true", INT64_MIN, INT64_MAX, "", "Offer timestamps (RFC 7323 3-5)."},
    {"catnip.tcp.sack", Type::Bool, "true", INT64_MIN, INT64_MAX, "",
     "Offer selective acknowledgments (RFC 2018, loss recovery by RFC 6675)."},
    {"catnip.tcp.rto_initial_ms", Type::Int, "1000", 1, 600000, "",
     "Retransmission timeout before the first RTT sample (RFC 6298 2.1)."},
    {"catnip.tcp.rto_min_ms", Type::Int, "200", 1, 600000, "",
     "Lower bound of the retransmission timeout (RFC 6298 2.4 says 1 s; datacenters use far less)."},
    {"catnip.tcp.rto_max_ms", Type::Int, "60000", 1, 3600000, "", "Upper bound of the retransmission timeout."},
    {"catnip.tcp.delayed_ack_ms", Type::Int, "40", 0, 500, "",
     "Longest delay of an ACK (RFC 9293 3.8.6.3); every second full segment is acknowledged at once. "
     "0 acknowledges every segment at once."},
    {"catnip.tcp.msl_ms", Type::Int, "30000", 0, 600000, "",
     "Maximum segment lifetime: TIME-WAIT lasts twice as long (RFC 9293 3.4.2)."},
    {"catnip.tcp.fin_wait_2_timeout_ms", Type::Int, "60000", 0, 3600000, "",
     "How long a connection the application closed waits for the peer's FIN; 0 = forever."},
    {"catnip.tcp.shutdown_linger_ms", Type::Int, "2000", 0, 600000, "",
     "At teardown (LibOS destroyed, dmtr at process exit) catnip closes every connection still open "
     "and keeps running its stack until each closed connection has had its data and FIN acknowledged, "
     "for at most this long; what is left then is reset (RST) and the count logged. 0 = no linger: "
     "connections with data or a FIN unacknowledged are reset at once."},
    {"catnip.tcp.syn_retries", Type::Int, "6", 1, 32, "",
     "SYN (and SYN,ACK) retransmissions before a connection attempt fails with ETIMEDOUT."},
    {"catnip.tcp.data_retries", Type::Int, "15", 1, 64, "",
     "Retransmissions of data (or unanswered window probes) before the connection fails with ETIMEDOUT."},
    {"catnip.tcp.keepalive_idle_s", Type::Int, "7200", 1, 864000, "",
     "With SO_KEEPALIVE: idle time before the first probe (RFC 1122 4.2.3.6)."},
    {"catnip.tcp.keepalive_interval_s", Type::Int, "75", 1, 86400, "", "With SO_KEEPALIVE: time between probes."},
    {"catnip.tcp.keepalive_count", Type::Int, "9", 1, 255, "",
     "With SO_KEEPALIVE: unanswered probes before the connection fails with ETIMEDOUT."},
    {"catnip.tcp.backlog_max", Type::Int, "4096", 1, 65535, "", "Upper bound applied to listen()'s backlog."},
    {"catnip.tcp.syn_queue_max", Type::Int, "256", 1, 1048576, "",
     "Half-open connections per listener; past it, SYN cookies answer (or SYNs are dropped without them)."},
    {"catnip.tcp.syn_cookies", Type::Bool, "true", INT64_MIN, INT64_MAX, "",
     "Answer SYNs with SYN cookies (RFC 4987 3.6) when a listener's queues are full."},
    {"catnip.tcp.challenge_ack_limit", Type::Int, "10", 0, 1000000, "",
     "Challenge ACKs per connection per second (RFC 5961 7)."},
    {"catnip.tcp.congestion", Type::String, "newreno", INT64_MIN, INT64_MAX, "newreno|cubic",
     "Congestion control of new connections (RFC 5681/6582 NewReno, RFC 9438 CUBIC); kTcpCongestion "
     "chooses per socket."},
    {"catnip.tcp.hystart", Type::Bool, "true", INT64_MIN, INT64_MAX, "",
     "HyStart++ (RFC 9406) in the initial slow start of either controller: leave slow start when the "
     "round trip time rises, before the window overshoots the path."},
    {"catnip.tcp.isn_seed", Type::Int, "0", 0, INT64_MAX, "",
     "Seed of the secret behind initial sequence numbers and SYN cookies (RFC 6528). 0: a random "
     "secret at start (production); any other value makes runs repeatable (simulations)."},
    // ---- lwip (Debian's lwIP on a packet device; its TCP parameters are fixed by Debian's build)
    {"lwip.address", Type::String, "", INT64_MIN, INT64_MAX, "",
     "This host's IPv4 address for the lwip module (dotted quad). Required: the module refuses to start "
     "without it."},
    {"lwip.netmask", Type::String, "255.255.255.0", INT64_MIN, INT64_MAX, "",
     "Netmask of the lwip module's subnet (contiguous, dotted quad)."},
    {"lwip.gateway", Type::String, "", INT64_MIN, INT64_MAX, "",
     "Gateway (inside the subnet) for off-subnet destinations. Empty: none, and lwIP drops what it "
     "cannot route (EHOSTUNREACH)."},
    {"lwip.mtu", Type::Int, "0", 0, 9216, "", "IP MTU of the lwip module (at least 576). 0: the device's."},
    {"lwip.burst", Type::Int, "32", 1, 512, "", "Frames the lwip module receives from its device per poll."},
    {"lwip.udp_queue", Type::Int, "1024", 1, 1048576, "",
     "Datagrams a UDP queue of the lwip module keeps for its pops; more are dropped and counted."},
    {"lwip.backlog_max", Type::Int, "4096", 1, 65535, "",
     "Upper bound applied to listen()'s backlog; a connection beyond a listener's backlog is reset."},
    // ---- storage
    {"storage.queue_depth", Type::Int, "256", 1, 32768, "", "Entries of the storage module's io_uring."},
    {"storage.read_size", Type::Int, "65536", 1, 1073741824, "",
     "Bytes a pop on a file reads when the pop names no length."},
    {"storage.durable", Type::Bool, "false", INT64_MIN, INT64_MAX, "",
     "Every push completes only once its data is on stable storage (RWF_DSYNC). Per file: open with O_DSYNC."},
    {"storage.direct_alignment", Type::Int, "4096", 512, 1048576, "",
     "Alignment O_DIRECT files need of buffers, lengths and offsets; misaligned pushes and pops answer EINVAL."},
    // ---- rdma
    {"rdma.recv_buffers", Type::Int, "16", 4, 4096, "",
     "Receive buffers each RDMA connection keeps posted: the credit window the peer may fill "
     "before it must wait for credits to come back."},
    {"rdma.recv_buffer_size", Type::Int, "262144", 4096, 16777216, "",
     "Bytes in each receive buffer: the largest fragment a peer sends. Larger messages are carried "
     "in several fragments; a pop of a message of at most 16 fragments hands out the buffers "
     "themselves (zero copy), a larger one is gathered into one buffer."},
    {"rdma.send_queue_depth", Type::Int, "64", 8, 16384, "", "Work requests in flight per queue pair's send queue."},
    {"rdma.cq_entries", Type::Int, "8192", 256, 4194304, "",
     "Entries of each device's completion queue, shared by every connection on the device; it must "
     "hold every connection's receive buffers and send queue."},
    {"rdma.memory_mb", Type::Int, "64", 0, 1048576, "",
     "Size of the application-memory region the rdma module maps, registers with the device once and "
     "serves every sgaalloc from (zero-copy sends, pops that hand out receive buffers). 0, or another "
     "allocator installed first: blocks are registered one by one, lazily, through a cache."},
    {"rdma.mr_cache_entries", Type::Int, "256", 16, 1048576, "",
     "Blocks kept registered when blocks are registered one by one (rdma.memory_mb 0)."},
    {"rdma.resolve_timeout_ms", Type::Int, "2000", 10, 600000, "",
     "Time allowed to resolve a peer's address and route; past it connect fails with ETIMEDOUT."},
    {"rdma.max_message_bytes", Type::Int, "67108864", 1, 1073741824, "",
     "Largest message a push may send or a peer may deliver (EMSGSIZE beyond it)."},
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
    {"dpdk.tx_copy_threshold", Type::Int, "512", 0, 4096, "",
     "Payload segments of at most this many bytes are copied behind the headers instead of being "
     "attached to the frame as external buffers (zero copy), where a copy is cheaper. Measured with "
     "`build/bin/demi-txcopy` (docs/dpdk.md)."},
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
