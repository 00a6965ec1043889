// The lwip module's netif (device in, device out), its control path (sockets, addresses,
// options, close) and the UDP data path. TCP's operations are in lwip_tcp.cc.
#include "modules/lwip/lwip_module.h"

#include <arpa/inet.h>
#include <lwip/etharp.h>
#include <lwip/init.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/ip.h>
#include <lwip/netif.h>
#include <netif/ethernet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <demi/lwip.h>

#include "base/log.h"
#include "libos/module_host.h"
#include "modules/lwip/lwip_stack.h"

namespace demi {

namespace {
std::unique_ptr<Module> make(std::unique_ptr<runtime::Device> owned, runtime::Device& device, const Config& config) {
  auto c = lwip::LwipConfig::from(config);
  if (!c) return nullptr;  // the reason is in the log
  return std::make_unique<lwip::LwipModule>(std::move(owned), device, *c);
}
}  // namespace

std::unique_ptr<Module> make_lwip_module(std::unique_ptr<runtime::Device> device, const Config& config) {
  if (!device) {
    DEMI_ERROR("lwip", "make_lwip_module: no device");
    return nullptr;
  }
  runtime::Device& d = *device;
  return make(std::move(device), d, config);
}

std::unique_ptr<Module> make_lwip_module(runtime::Device& device, const Config& config) {
  return make(nullptr, device, config);
}

}  // namespace demi

namespace demi::lwip {

namespace {

constexpr const char* kLog = "lwip";
// The largest UDP payload an IPv4 datagram carries (65535 - 20 - 8).
constexpr std::size_t kMaxUdpPayload = 65507;

bool parse_ip(const Config& config, const char* key, ip4_addr_t* out, bool required) {
  const std::string& text = config.get_string(key);
  if (text.empty()) {
    if (required) DEMI_ERROR(kLog, "{} is required (this host's IPv4 address)", key);
    ip4_addr_set_zero(out);
    return !required;
  }
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
    DEMI_ERROR(kLog, "{}: '{}' is not a dotted-quad IPv4 address", key, text);
    return false;
  }
  out->addr = a.s_addr;  // both in network order
  return true;
}

sockaddr_in sockaddr_of(const ip4_addr_t& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = ip.addr;
  return a;
}

void copy_out(const sockaddr_in& a, sockaddr* addr, socklen_t* len) {
  std::memcpy(addr, &a, std::min<std::size_t>(*len, sizeof a));
  *len = sizeof a;
}

int write_int(int v, void* val, socklen_t* len) {
  if (*len < static_cast<socklen_t>(sizeof(int))) return EINVAL;
  std::memcpy(val, &v, sizeof v);
  *len = sizeof v;
  return 0;
}

ip_addr_t ip_of(const ip4_addr_t& a) {
  ip_addr_t ip;
  ip_addr_copy_from_ip4(ip, a);
  return ip;
}

}  // namespace

std::optional<LwipConfig> LwipConfig::from(const Config& config) {
  LwipConfig c;
  if (!parse_ip(config, "lwip.address", &c.address, true)) return std::nullopt;
  if (!parse_ip(config, "lwip.netmask", &c.netmask, true)) return std::nullopt;
  if (!parse_ip(config, "lwip.gateway", &c.gateway, false)) return std::nullopt;
  const uint32_t mask = ntohl(c.netmask.addr);
  if (mask == 0 || (~mask & (~mask + 1)) != 0) {
    DEMI_ERROR(kLog, "lwip.netmask: {} is not a contiguous netmask", config.get_string("lwip.netmask"));
    return std::nullopt;
  }
  if (!ip4_addr_isany_val(c.gateway) && !ip4_addr_netcmp(&c.gateway, &c.address, &c.netmask)) {
    DEMI_ERROR(kLog, "lwip.gateway: {} is not inside the subnet of lwip.address", config.get_string("lwip.gateway"));
    return std::nullopt;
  }
  c.mtu = static_cast<uint32_t>(config.get_int("lwip.mtu"));
  c.burst = static_cast<std::size_t>(config.get_int("lwip.burst"));
  c.udp_queue = static_cast<std::size_t>(config.get_int("lwip.udp_queue"));
  c.backlog_max = static_cast<int>(config.get_int("lwip.backlog_max"));
  return c;
}

LwipModule::LwipModule(std::unique_ptr<runtime::Device> owned, runtime::Device& device, LwipConfig config)
    : owned_(std::move(owned)), device_(device), config_(config) {}

LwipModule::~LwipModule() {
  // The LibOS ended every operation's coroutine before its modules. Now give lwIP back every
  // PCB of this netif, quietly (no callback into a queue that is going away): open queues,
  // connections still closing, TIME_WAIT (which would otherwise keep a port in use for the next
  // module on this address), then the netif, which also drops ARP's queued packets.
  // Nothing is sent any more: at process exit the device (a DPDK port whose EAL may already be
  // cleaned up) cannot be trusted, so the peers learn of the end from their own timers.
  silent_ = true;
  for (auto& q : queues_) {
    if (!q->open) continue;
    if (q->tcp) {
      tcp_unwatch(q->tcp);
      if (q->listening) ::tcp_close(q->tcp);
      else ::tcp_abort(q->tcp);
      q->tcp = nullptr;
    }
    if (q->udp) {
      udp_remove(q->udp);
      q->udp = nullptr;
    }
    release_queue(*q);
  }
  if (netif_up_) {
    const u8_t index = netif_get_index(&netif_);
    for (tcp_pcb** list : {&tcp_active_pcbs, &tcp_tw_pcbs}) {
      for (tcp_pcb* pcb = *list; pcb;) {
        tcp_pcb* next = pcb->next;
        if (pcb->netif_idx == index) {
          tcp_unwatch(pcb);
          ::tcp_abort(pcb);
        }
        pcb = next;
      }
    }
    netif_set_down(&netif_);
    netif_remove(&netif_);
  }
  if (joined_) LwipStack::get().leave();
  if (tx_refs_in_use() != 0)
    DEMI_WARN(kLog, "{} zero-copy send buffers are still held by lwIP at the module's end", tx_refs_in_use());
}

// ---------------------------------------------------------------- the netif

err_t LwipModule::netif_init_cb(netif* n) {
  auto* m = static_cast<LwipModule*>(n->state);
  const runtime::DeviceInfo& info = m->device_.info();
  n->name[0] = 'd';
  n->name[1] = 'm';
  n->hwaddr_len = ETH_HWADDR_LEN;
  std::memcpy(n->hwaddr, info.mac.data(), ETH_HWADDR_LEN);
  n->mtu = static_cast<u16_t>(m->config_.mtu == 0 ? info.mtu : m->config_.mtu);
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  n->output = etharp_output;
  n->linkoutput = link_output_cb;
  return ERR_OK;
}

int LwipModule::attach(ModuleHost& host) {
  if (host_) {
    DEMI_ERROR(kLog, "attach: the module is already installed in a LibOS");
    return EBUSY;
  }
  const runtime::DeviceInfo& info = device_.info();
  if (config_.mtu > info.mtu) {
    DEMI_ERROR(kLog, "lwip.mtu {} is larger than device {}'s MTU {}", config_.mtu, info.name, info.mtu);
    return EINVAL;
  }
  if ((config_.mtu == 0 ? info.mtu : config_.mtu) < 576) {
    DEMI_ERROR(kLog, "an MTU of {} is below IPv4's minimum of 576", config_.mtu == 0 ? info.mtu : config_.mtu);
    return EINVAL;
  }
  LwipStack& stack = LwipStack::get();
  if (int rc = stack.join(host.clock().now())) return rc;
  joined_ = true;
  // Another module of this process already on this address would take this one's traffic.
  for (netif* n = netif_list; n; n = n->next) {
    if (ip4_addr_cmp(netif_ip4_addr(n), &config_.address)) {
      DEMI_ERROR(kLog, "attach: address {} is already used by another lwip module of this process",
                 ip4addr_ntoa(&config_.address));
      return EADDRINUSE;
    }
  }
  if (!netif_add(&netif_, &config_.address, &config_.netmask, &config_.gateway, this, netif_init_cb, ethernet_input)) {
    DEMI_ERROR(kLog, "attach: lwIP refused the interface (netif_add)");
    return ENOMEM;
  }
  netif_up_ = true;
  netif_set_up(&netif_);  // announces the address (gratuitous ARP)
  host_ = &host;
  rx_frames_.resize(config_.burst);
  host.scheduler().spawn(timer_op());
  DEMI_INFO(kLog, "lwIP {} on {}: {}/{} MTU {}", LWIP_VERSION_STRING, info.name, ip4addr_ntoa(&config_.address),
            ip4_addr_netmask_valid(config_.netmask.addr) ? 32 - __builtin_ctz(ntohl(config_.netmask.addr)) : 0,
            netif_.mtu);
  return 0;
}

sched::Task LwipModule::timer_op() {
  LwipStack& stack = LwipStack::get();
  sched::Scheduler& sched = host_->scheduler();
  for (;;) {
    co_await sched.sleep_until(stack.next_timer());
    stack.run_timers(sched.now());
  }
}

bool LwipModule::accept_frame(std::span<const std::byte> f) {
  constexpr std::size_t kEthertype = 12;
  constexpr std::size_t kIpSource = 14 + 12;
  constexpr std::size_t kIpDestination = 14 + 16;
  if (f.size() < 14) return true;  // lwIP counts and drops runts itself
  const auto type = static_cast<uint16_t>((std::to_integer<unsigned>(f[kEthertype]) << 8) |
                                          std::to_integer<unsigned>(f[kEthertype + 1]));
  if (type == 0x86DD) {
    ++counters_.rx_ipv6;  // the netif has no IPv6 address; keep lwIP's IPv6 code out of it
    return false;
  }
  if (type != 0x0800 || f.size() < kIpDestination + 4) return true;
  ip4_addr_t src;
  ip4_addr_t dst;
  std::memcpy(&src.addr, f.data() + kIpSource, 4);
  std::memcpy(&dst.addr, f.data() + kIpDestination, 4);
  // Anything lwIP would answer through its loopback path (our own address, 127/8) is dropped:
  // Debian's lwIP loops such packets back through the tcpip thread, which does not exist here.
  if (ip4_addr_cmp(&src, &config_.address) || ip4_addr_isloopback(&src) || ip4_addr_isloopback(&dst)) {
    ++counters_.rx_martian;
    return false;
  }
  // Only what is addressed to this host: lwIP (built with IP_FORWARD) would otherwise forward
  // it, or hand it to another lwip module of this process as if it had arrived there.
  if (!ip4_addr_cmp(&dst, &config_.address) && !ip4_addr_isbroadcast(&dst, &netif_) && !ip4_addr_ismulticast(&dst)) {
    ++counters_.rx_not_ours;
    return false;
  }
  return true;
}

void LwipModule::route_first() {
  // lwIP routes the packets no PCB owns (a RST for a segment to no connection, ICMP errors) by
  // the first netif on the destination's subnet. With several lwip modules of one process on
  // one subnet, that must be the one the packet came in on: put it first.
  if (netif_list == &netif_) return;
  for (netif* n = netif_list; n; n = n->next) {
    if (n->next == &netif_) {
      n->next = netif_.next;
      netif_.next = netif_list;
      netif_list = &netif_;
      return;
    }
  }
}

bool LwipModule::routable(const ip4_addr_t& dst, const char* call) const {
  if (ip4_addr_cmp(&dst, &config_.address) || ip4_addr_isloopback(&dst)) {
    // Debian's lwIP delivers such packets through its tcpip thread, which demi does not run.
    DEMI_DEBUG(kLog, "{}: {} is this host: the lwip module has no loopback path", call, ip4addr_ntoa(&dst));
    return false;
  }
  return true;
}

bool LwipModule::poll() {
  if (!host_) return false;
  route_first();
  const std::size_t n = device_.receive(std::span<runtime::RxFrame>(rx_frames_.data(), rx_frames_.size()));
  for (std::size_t i = 0; i < n; ++i) {
    mem::BufRef frame = std::move(rx_frames_[i].data);
    ++counters_.rx_frames;
    if (frame.size() > 0xFFFF) {
      ++counters_.rx_too_long;
      continue;
    }
    if (!accept_frame(frame.bytes())) continue;
    // One copy into lwIP's memory: lwIP's input path may keep a pbuf (out-of-order segments,
    // reassembly) for as long as it likes, and Debian's build has no hook for foreign buffers
    // on input.
    const auto len = static_cast<u16_t>(frame.size());
    pbuf* p = pbuf_alloc(PBUF_RAW, len, PBUF_RAM);
    if (!p) {
      ++counters_.rx_no_pbuf;
      continue;
    }
    std::memcpy(p->payload, frame.data(), len);
    frame.reset();
    if (netif_.input(p, &netif_) != ERR_OK) pbuf_free(p);
  }
  LwipStack::get().run_timers(host_->scheduler().now());  // the pass's time, as timer_op sees it
  return n > 0;
}

bool LwipModule::is_tx_ref(const pbuf* p) const {
  return (p->flags & PBUF_FLAG_IS_CUSTOM) != 0 &&
         reinterpret_cast<const pbuf_custom*>(p)->custom_free_function == tx_ref_free_cb;
}

err_t LwipModule::link_output_cb(netif* n, pbuf* p) { return static_cast<LwipModule*>(n->state)->link_output(p); }

err_t LwipModule::link_output(pbuf* p) {
  if (silent_) return ERR_OK;  // the module is going away
  runtime::TxFrame frame;
  frame.head = device_.alloc_tx(0);
  if (!frame.head) {
    ++counters_.tx_no_buffer;
    return ERR_BUF;
  }
  // Zero copy when the chain is headers (copied into the device's buffer) followed only by
  // pbufs over application memory, at most as many as a frame carries; otherwise one copy.
  std::size_t head_len = 0;
  std::size_t refs = 0;
  bool zero_copy = true;
  for (const pbuf* q = p; q; q = q->next) {
    if (is_tx_ref(q)) ++refs;
    else if (refs > 0) zero_copy = false;  // copied bytes after referenced ones
    else head_len += q->len;
  }
  if (refs == 0 || refs > runtime::kMaxPayloadSegments) zero_copy = false;
  const std::size_t copy_len = zero_copy ? head_len : p->tot_len;
  if (frame.head.tailroom() < copy_len) {
    ++counters_.tx_refused;
    return ERR_BUF;
  }
  frame.head.set_length(copy_len);
  pbuf_copy_partial(p, frame.head.data(), static_cast<u16_t>(copy_len), 0);
  if (zero_copy) {
    for (const pbuf* q = p; q; q = q->next) {
      if (!is_tx_ref(q)) continue;
      const auto* t = static_cast<const TxRef*>(reinterpret_cast<const pbuf_custom*>(q));
      const auto off = static_cast<std::size_t>(static_cast<const std::byte*>(q->payload) - t->ref.data());
      frame.add_payload(t->ref.slice(off, q->len));
      ++counters_.tx_zero_copy;
    }
  } else {
    ++counters_.tx_copied;
  }
  if (device_.transmit(std::span<runtime::TxFrame>(&frame, 1)) != 1) {
    ++counters_.tx_refused;
    return ERR_BUF;  // TCP keeps the segment and sends it again; a UDP push fails with ENOBUFS
  }
  ++counters_.tx_frames;
  return ERR_OK;
}

LwipModule::TxRef* LwipModule::take_tx_ref() {
  if (free_tx_refs_.empty()) {
    // Grows only when more zero-copy sends are in lwIP at once than ever before.
    tx_refs_.push_back(std::make_unique<TxRef>());
    tx_refs_.back()->module = this;
    free_tx_refs_.push_back(tx_refs_.back().get());
  }
  TxRef* t = free_tx_refs_.back();
  free_tx_refs_.pop_back();
  return t;
}

void LwipModule::tx_ref_free_cb(pbuf* p) {
  auto* t = static_cast<TxRef*>(reinterpret_cast<pbuf_custom*>(p));
  t->ref.reset();
  t->module->free_tx_refs_.push_back(t);
}

// ---------------------------------------------------------------- the queue table

LwipModule::Queue* LwipModule::open_queue(QueueId q, const char* call) {
  if (q < queues_.size() && queues_[q]->open && !queues_[q]->closed) return queues_[q].get();
  DEMI_DEBUG(kLog, "{}: queue {} is not an open socket", call, q);
  return nullptr;
}

QueueId LwipModule::add_queue(Kind kind) {
  QueueId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<QueueId>(queues_.size());
    queues_.push_back(std::make_unique<Queue>());
    queues_.back()->events = std::make_unique<sched::WaitQueue>(host_->scheduler());
  }
  Queue& q = *queues_[id];
  // Fresh state, keeping the slot's WaitQueue and vector capacities.
  auto events = std::move(q.events);
  auto rx = std::move(q.rx);
  auto backlog = std::move(q.backlog);
  auto dgrams = std::move(q.dgrams);
  q = Queue{};
  q.events = std::move(events);
  q.rx = std::move(rx);
  q.backlog = std::move(backlog);
  q.dgrams = std::move(dgrams);
  q.module = this;
  q.id = id;
  q.kind = kind;
  q.open = true;
  return id;
}

void LwipModule::release_queue(Queue& q) {
  for (std::size_t i = q.rx_head; i < q.rx.size(); ++i) pbuf_free(q.rx[i]);
  q.rx.clear();
  q.rx_head = q.rx_offset = q.rx_bytes = 0;
  for (std::size_t i = 0; i < q.dg_count; ++i) pbuf_free(q.dgrams[(q.dg_head + i) % q.dgrams.size()].p);
  q.dg_head = q.dg_count = 0;
}

void LwipModule::unref(QueueId q) {
  Queue& queue = *queues_[q];
  if (--queue.ops == 0 && queue.closed) {
    queue.open = false;
    free_ids_.push_back(q);
  }
}

ip4_addr_t LwipModule::bind_address(const sockaddr_in& a) const {
  ip4_addr_t ip;
  ip.addr = a.sin_addr.s_addr;
  // INADDR_ANY is this module's address: lwIP is shared by the process's modules, and "any"
  // would take another module's traffic.
  if (ip4_addr_isany_val(ip)) ip = config_.address;
  return ip;
}

// ---------------------------------------------------------------- control calls

Result<QueueId> LwipModule::socket(int domain, int type, int protocol) {
  if (!host_) {
    DEMI_ERROR(kLog, "socket: the module is not installed in a LibOS");
    return Error{ENXIO};
  }
  if (domain != AF_INET) {
    DEMI_DEBUG(kLog, "socket: domain {} is not supported (AF_INET only)", domain);
    return Error{EAFNOSUPPORT};
  }
  const int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base == SOCK_STREAM) {
    if (protocol != 0 && protocol != IPPROTO_TCP) return Error{EPROTONOSUPPORT};
    return stream_socket();
  }
  if (base != SOCK_DGRAM) {
    DEMI_DEBUG(kLog, "socket: type {} is not supported (SOCK_STREAM or SOCK_DGRAM)", type);
    return Error{ESOCKTNOSUPPORT};
  }
  if (protocol != 0 && protocol != IPPROTO_UDP) return Error{EPROTONOSUPPORT};
  udp_pcb* pcb = udp_new();
  if (!pcb) {
    DEMI_WARN(kLog, "socket: lwIP has no memory for a UDP PCB");
    return Error{ENOMEM};
  }
  udp_bind_netif(pcb, &netif_);
  const QueueId id = add_queue(Kind::Udp);
  Queue& q = *queues_[id];
  q.udp = pcb;
  q.dgrams.resize(config_.udp_queue);
  udp_recv(pcb, udp_recv_cb, &q);
  return id;
}

int LwipModule::bind(QueueId q, const sockaddr* addr, socklen_t len) {
  Queue* queue = open_queue(q, "bind");
  if (!queue) return EBADF;
  if (addr->sa_family != AF_INET || len < sizeof(sockaddr_in)) return EAFNOSUPPORT;
  sockaddr_in a;
  std::memcpy(&a, addr, sizeof a);
  const ip4_addr_t ip4 = bind_address(a);
  if (!ip4_addr_cmp(&ip4, &config_.address)) {
    DEMI_DEBUG(kLog, "bind: {} is not this module's address", ip4addr_ntoa(&ip4));
    return EADDRNOTAVAIL;
  }
  const ip_addr_t ip = ip_of(ip4);
  err_t e = ERR_OK;
  if (queue->kind == Kind::Udp) {
    e = udp_bind(queue->udp, &ip, ntohs(a.sin_port));
  } else {
    if (!queue->tcp || queue->tcp->state != CLOSED) return EINVAL;
    // Like a server's SO_REUSEADDR: a port whose last connection is in TIME_WAIT can be bound
    // again (lwIP's tcp_bind skips the TIME_WAIT list for such a PCB).
    ip_set_option(queue->tcp, SOF_REUSEADDR);
    e = tcp_bind(queue->tcp, &ip, ntohs(a.sin_port));
  }
  if (e != ERR_OK) DEMI_DEBUG(kLog, "bind: queue {}: lwIP answered {}", q, static_cast<int>(e));
  return errno_of(e);
}

int LwipModule::listen(QueueId q, int backlog) {
  Queue* queue = open_queue(q, "listen");
  if (!queue) return EBADF;
  if (queue->kind != Kind::Tcp) {
    DEMI_DEBUG(kLog, "listen: queue {} is a UDP socket", q);
    return EOPNOTSUPP;
  }
  return stream_listen(*queue, backlog);
}

int LwipModule::accept(QueueId q, Completion done) {
  Queue* queue = open_queue(q, "accept");
  if (!queue) return EBADF;
  if (queue->kind != Kind::Tcp) {
    DEMI_DEBUG(kLog, "accept: queue {} is a UDP socket", q);
    return EOPNOTSUPP;
  }
  return stream_accept(q, done);
}

int LwipModule::connect(QueueId q, const sockaddr* addr, socklen_t len, Completion done) {
  Queue* queue = open_queue(q, "connect");
  if (!queue) return EBADF;
  if (addr->sa_family != AF_INET || len < sizeof(sockaddr_in)) return EAFNOSUPPORT;
  sockaddr_in a;
  std::memcpy(&a, addr, sizeof a);
  ip4_addr_t ip4;
  ip4.addr = a.sin_addr.s_addr;
  if (!routable(ip4, "connect")) return ENETUNREACH;
  if (queue->kind == Kind::Tcp) return stream_connect(q, a, done);
  // UDP: the default destination and the source filter; nothing to wait for.
  const ip_addr_t ip = ip_of(ip4);
  if (err_t e = udp_connect(queue->udp, &ip, ntohs(a.sin_port)); e != ERR_OK) return errno_of(e);
  done.connect_done(0);
  return 0;
}

int LwipModule::getsockname(QueueId q, sockaddr* addr, socklen_t* len) {
  Queue* queue = open_queue(q, "getsockname");
  if (!queue) return EBADF;
  const ip_addr_t* ip = nullptr;
  uint16_t port = 0;
  if (queue->kind == Kind::Udp) {
    ip = &queue->udp->local_ip;
    port = queue->udp->local_port;
  } else if (queue->tcp) {
    ip = &queue->tcp->local_ip;
    port = queue->tcp->local_port;
  } else {
    return EINVAL;  // the connection is gone
  }
  ip4_addr_t ip4 = *ip_2_ip4(ip);
  // Bound to "any" (not bound yet): report this module's address, which every send uses.
  if (ip4_addr_isany_val(ip4)) ip4 = config_.address;
  copy_out(sockaddr_of(ip4, port), addr, len);
  return 0;
}

int LwipModule::getpeername(QueueId q, sockaddr* addr, socklen_t* len) {
  Queue* queue = open_queue(q, "getpeername");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Udp) {
    if ((queue->udp->flags & UDP_FLAGS_CONNECTED) == 0) return ENOTCONN;
    copy_out(sockaddr_of(*ip_2_ip4(&queue->udp->remote_ip), queue->udp->remote_port), addr, len);
    return 0;
  }
  if (!queue->tcp || !queue->connected || queue->listening) return ENOTCONN;
  copy_out(sockaddr_of(*ip_2_ip4(&queue->tcp->remote_ip), queue->tcp->remote_port), addr, len);
  return 0;
}

int LwipModule::setsockopt(QueueId q, int level, int optname, const void* val, socklen_t len) {
  Queue* queue = open_queue(q, "setsockopt");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return stream_setsockopt(*queue, level, optname, val, len);
  DEMI_DEBUG(kLog, "setsockopt: option {} at level {} does not apply to an lwIP UDP socket", optname, level);
  return ENOPROTOOPT;
}

int LwipModule::getsockopt(QueueId q, int level, int optname, void* val, socklen_t* len) {
  Queue* queue = open_queue(q, "getsockopt");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return stream_getsockopt(*queue, level, optname, val, len);
  if (level == SOL_SOCKET && optname == SO_TYPE) return write_int(SOCK_DGRAM, val, len);
  if (level == SOL_SOCKET && optname == SO_ERROR) return write_int(0, val, len);
  return ENOPROTOOPT;
}

int LwipModule::close(QueueId q) {
  Queue* queue = open_queue(q, "close");
  if (!queue) return EBADF;
  queue->closed = true;
  if (queue->kind == Kind::Tcp) {
    stream_close(*queue);
  } else {
    udp_remove(queue->udp);
    queue->udp = nullptr;
    release_queue(*queue);
  }
  // Every pending operation sees `closed` and completes with ECANCELED.
  queue->events->notify_all();
  if (queue->ops == 0) {
    queue->open = false;
    free_ids_.push_back(q);
  }
  return 0;
}

// ---------------------------------------------------------------- UDP

Result<Sga> LwipModule::empty_sga() {
  // One empty segment (an empty datagram, or the end of a TCP stream), as catnip and posix say it.
  mem::BufRef none;
  return host_->sgas().adopt(std::span<mem::BufRef>(&none, 1));
}

void LwipModule::udp_recv_cb(void* arg, udp_pcb*, pbuf* p, const ip_addr_t* addr, u16_t port) {
  auto& q = *static_cast<Queue*>(arg);
  if (q.dg_count == q.dgrams.size()) {
    ++q.module->counters_.udp_queue_full;
    pbuf_free(p);
    return;
  }
  Datagram& d = q.dgrams[(q.dg_head + q.dg_count) % q.dgrams.size()];
  d.p = p;
  d.from = *ip_2_ip4(addr);
  d.port = port;
  ++q.dg_count;
  q.events->notify_all();
}

int LwipModule::udp_send(Queue& queue, const Sga& sga, const sockaddr_in* to, Completion done) {
  const std::size_t total = sga.length();
  if (total > kMaxUdpPayload) return EMSGSIZE;
  if (!to && (queue.udp->flags & UDP_FLAGS_CONNECTED) == 0) return EDESTADDRREQ;
  pbuf* p = nullptr;
  if (const std::vector<mem::BufRef>* refs = host_->sgas().segments(sga)) {
    // The application's own buffers, referenced: one pbuf per segment, each holding a
    // reference to its block until lwIP lets it go (after the device took its own).
    for (uint32_t i = 0; i < sga.numsegs; ++i) {
      if (sga.segs[i].len == 0) continue;
      TxRef* t = take_tx_ref();
      t->ref = (*refs)[i].slice(0, sga.segs[i].len);
      t->custom_free_function = tx_ref_free_cb;
      const auto n = static_cast<u16_t>(sga.segs[i].len);
      pbuf* seg = pbuf_alloced_custom(PBUF_RAW, n, PBUF_ROM, t, t->ref.data(), n);
      if (p) pbuf_cat(p, seg);
      else p = seg;
    }
  }
  if (!p) {
    // Built by hand (or empty): one copy, since the bytes are not ours to hold.
    p = pbuf_alloc(PBUF_TRANSPORT, static_cast<u16_t>(total), PBUF_RAM);
    if (!p) return ENOMEM;
    std::size_t at = 0;
    for (uint32_t i = 0; i < sga.numsegs; ++i) {
      if (sga.segs[i].len == 0) continue;
      pbuf_take_at(p, sga.segs[i].buf, static_cast<u16_t>(sga.segs[i].len), static_cast<u16_t>(at));
      at += sga.segs[i].len;
    }
  }
  err_t e;
  if (to) {
    ip4_addr_t ip4;
    ip4.addr = to->sin_addr.s_addr;
    const ip_addr_t ip = ip_of(ip4);
    e = ::udp_sendto(queue.udp, p, &ip, ntohs(to->sin_port));
  } else {
    e = ::udp_send(queue.udp, p);
  }
  pbuf_free(p);
  // A datagram is sent, queued for ARP, or refused: nothing to wait for.
  if (e == ERR_OK) done.push_done(0);
  else done.fail(errno_of(e));
  return 0;
}

int LwipModule::pushto(QueueId q, const Sga& sga, const sockaddr* addr, socklen_t len, Completion done) {
  Queue* queue = open_queue(q, "pushto");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) {
    DEMI_DEBUG(kLog, "pushto: queue {} is a TCP socket; use push", q);
    return EOPNOTSUPP;
  }
  if (addr->sa_family != AF_INET || len < sizeof(sockaddr_in)) return EAFNOSUPPORT;
  sockaddr_in to;
  std::memcpy(&to, addr, sizeof to);
  ip4_addr_t ip4;
  ip4.addr = to.sin_addr.s_addr;
  if (!routable(ip4, "pushto")) return ENETUNREACH;
  return udp_send(*queue, sga, &to, done);
}

int LwipModule::push(QueueId q, const Sga& sga, Completion done) {
  Queue* queue = open_queue(q, "push");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return stream_push(q, sga, done);
  return udp_send(*queue, sga, nullptr, done);
}

int LwipModule::pop(QueueId q, std::size_t max_len, Completion done) {
  Queue* queue = open_queue(q, "pop");
  if (!queue) return EBADF;
  if (queue->kind == Kind::Tcp) return stream_pop(q, max_len, done);
  host_->scheduler().spawn(udp_pop_op(QueueRef{this, q}, max_len, done));
  return 0;
}

sched::Task LwipModule::udp_pop_op(QueueRef ref, std::size_t max_len, Completion done) {
  for (;;) {
    if (ref->closed) {
      done.fail(ECANCELED);
      co_return;
    }
    if (ref->dg_count > 0) {
      Datagram d = ref->dgrams[ref->dg_head];
      ref->dg_head = (ref->dg_head + 1) % ref->dgrams.size();
      --ref->dg_count;
      // One copy, out of lwIP's pbuf; a datagram longer than max_len is truncated.
      const std::size_t n = max_len == 0 ? d.p->tot_len : std::min<std::size_t>(max_len, d.p->tot_len);
      Result<Sga> sga = n == 0 ? empty_sga() : host_->sgas().allocate(host_->allocator(), std::span<const std::size_t>(&n, 1));
      if (!sga) {
        pbuf_free(d.p);
        done.fail(sga.error());
        co_return;
      }
      if (n > 0) pbuf_copy_partial(d.p, sga->segs[0].buf, static_cast<u16_t>(n), 0);
      sga->addr = sockaddr_of(d.from, d.port);
      pbuf_free(d.p);
      done.pop_done(*sga);
      co_return;
    }
    co_await ref->events->wait();
  }
}

}  // namespace demi::lwip
