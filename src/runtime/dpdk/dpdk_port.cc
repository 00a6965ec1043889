#include "runtime/dpdk/dpdk_port.h"

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "base/log.h"
#include "runtime/dpdk/eal.h"

namespace demi::runtime::dpdk {

// What an external payload attachment needs to release its Block when DPDK is done with it.
struct DpdkPort::ExtBuffer {
  rte_mbuf_ext_shared_info shinfo;
  mem::Block* block;
  rte_mempool* pool;
};

namespace {

constexpr uint16_t kPrivSize = RTE_ALIGN(sizeof(mem::Block), RTE_MBUF_PRIV_ALIGN);
int pool_serial = 0;

void ext_free(void* /*addr*/, void* opaque) {
  auto* ext = static_cast<DpdkPort::ExtBuffer*>(opaque);
  mem::block_unref(ext->block);
  rte_mempool_put(ext->pool, ext);
}

std::string port_name_of(const std::string& spec) { return spec.substr(0, spec.find(',')); }

// Leaving a memif link.
//
// DPDK 22.11's memif PMD tears a connection down from its interrupt thread: when the peer's
// control socket closes, that thread marks the link down and unmaps the shared rings, while the
// application's thread may be inside rte_eth_rx_burst reading them. A busy-polling process that
// is preempted in the middle of a burst resumes on unmapped memory and dies with SIGSEGV (seen
// about once in ten exits on a loaded machine, in the bench's raw memif row). The PMD offers no
// event or lock to wait on, so demi's ports agree on the moment themselves, in band:
//   - a port that closes while its link is up first sends a LEAVE frame and waits (bounded) for
//     the peer's ACK before it stops the port;
//   - a port that receives LEAVE answers ACK and then "parks": no burst touches the port until
//     its link is seen down (plus a grace period for the interrupt thread to finish the unmap),
//     or kParkMax has passed. Frames sent meanwhile are dropped and counted;
//   - when both sides leave at once, each answers the other's LEAVE; the server then touches
//     the rings no more and waits for the link to go down, and the client closes once it has
//     the server's ACK (so never while the server may still be in a burst).
// Since the rings are FIFO, the ACK also proves that the peer has read every frame sent before
// the LEAVE. A peer that is not demi ignores the frame (an experimental EtherType); the leaving
// side then closes after kLeaveAckWait, as before. A peer killed without closing still races.
constexpr uint8_t kControlType[2] = {0x88, 0xb6};  // IEEE 802 local experimental EtherType 2
constexpr char kControlMagic[8] = {'d', 'e', 'm', 'i', 'l', 'i', 'n', 'k'};
constexpr std::size_t kControlLength = 14 + sizeof kControlMagic + 1;
constexpr uint8_t kLeave = 1, kLeaveAck = 2;
constexpr std::chrono::milliseconds kLeaveAckWait{250};
constexpr std::chrono::milliseconds kParkMax{2000};
constexpr std::chrono::milliseconds kDownGrace{20};

}  // namespace

Result<std::unique_ptr<DpdkPort>> DpdkPort::open(const Config& config) {
  if (int rc = init_eal(config)) return Error{rc};
  std::unique_ptr<DpdkPort> p{new DpdkPort};
  if (int rc = p->setup(config)) return Error{rc};
  return p;
}

int DpdkPort::setup(const Config& config) {
  const std::string& spec = config.get_string("dpdk.port");
  if (spec.empty()) {
    DEMI_ERROR("dpdk", "no port configured: set dpdk.port (a --vdev string such as net_memif0,... or a PCI address)");
    return EINVAL;
  }
  std::string name = port_name_of(spec);
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_) != 0) {
    DEMI_ERROR("dpdk", "port '{}' not found: is its PMD installed, and is the device given to the EAL?", name);
    return ENODEV;
  }
  burst_ = static_cast<uint16_t>(config.get_int("dpdk.burst"));
  copy_threshold_ = static_cast<std::size_t>(config.get_int("dpdk.tx_copy_threshold"));
  auto mtu = static_cast<uint32_t>(config.get_int("dpdk.mtu"));

  rte_eth_dev_info dev{};
  if (int rc = rte_eth_dev_info_get(port_, &dev); rc != 0) {
    DEMI_ERROR("dpdk", "rte_eth_dev_info_get({}): {}", name, rte_strerror(-rc));
    return -rc;
  }
  info_.name = name;
  info_.mtu = mtu;
  leave_handshake_ = dev.driver_name && std::strcmp(dev.driver_name, "net_memif") == 0;
  // The arguments the driver was given (the port string, or a --vdev of dpdk.eal_args).
  const rte_devargs* devargs = rte_dev_devargs(dev.device);
  const std::string args = devargs && devargs->args ? devargs->args : "";
  const std::optional<std::string> role = devarg(args, "role");
  memif_server_ = !role || (*role != "client" && *role != "slave");  // memif's default role: server

  int socket = rte_eth_dev_socket_id(port_);
  if (socket < 0) socket = 0;
  ++pool_serial;
  std::string tag = std::to_string(getpid()) + "_" + std::to_string(port_) + "_" + std::to_string(pool_serial);
  // Room for a whole frame after the standard headroom: frames never span mbufs on RX.
  // At least DPDK's usual 2 KiB: some PMDs size their receive frames so (af_packet's 2048-byte
  // frames need 2016 bytes of room) and refuse smaller mbufs.
  auto data_room = static_cast<uint16_t>(
      std::max<uint32_t>(RTE_MBUF_DEFAULT_BUF_SIZE, RTE_PKTMBUF_HEADROOM + mtu + 14 + 4 + 64));
  auto mbufs = static_cast<unsigned>(config.get_int("dpdk.mbufs"));
  pool_ = rte_pktmbuf_pool_create(("demi_pkt_" + tag).c_str(), mbufs, 256, kPrivSize, data_room, socket);
  ext_pool_ = rte_pktmbuf_pool_create(("demi_ext_" + tag).c_str(), mbufs, 256, 0, 0, socket);
  shinfo_pool_ = rte_mempool_create(("demi_shi_" + tag).c_str(), mbufs, sizeof(ExtBuffer), 256, 0, nullptr, nullptr,
                                    nullptr, nullptr, socket, 0);
  if (!pool_ || !ext_pool_ || !shinfo_pool_) {
    DEMI_ERROR("dpdk", "cannot create mbuf pools of {} buffers: {} (give the EAL more memory: -m, or hugepages)",
               mbufs, rte_strerror(rte_errno));
    return ENOMEM;
  }

  rte_eth_conf conf{};
  uint64_t want_rx = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
  uint64_t want_tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  conf.rxmode.offloads = dev.rx_offload_capa & want_rx;
  tx_offloads_ = dev.tx_offload_capa & want_tx;
  // Payloads are chained external buffers: a port that cannot send chains gets them copied.
  tx_offloads_ |= dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  conf.txmode.offloads = tx_offloads_;
  info_.rx_checksum = (conf.rxmode.offloads & want_rx) == want_rx;
  info_.tx_ipv4_checksum = tx_offloads_ & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  info_.tx_l4_checksum = (tx_offloads_ & (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) ==
                         (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
  // net_memif (DPDK 22.11) declares 1518-byte frames at most, yet its rings carry a frame as long
  // as one of its buffers, which device_spec() sized for dpdk.mtu: the port is configured at the
  // largest MTU the driver accepts, and the stack uses dpdk.mtu (both ends must agree on it, as
  // on any network with jumbo frames).
  const uint32_t frame = mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
  const bool memif_jumbo = leave_handshake_ && dev.max_rx_pktlen != 0 && frame > dev.max_rx_pktlen;
  if (memif_jumbo && memif_server_) {
    // memif's client allocates the buffers, and the server uses the client's size.
    DEMI_INFO("dpdk", "{}: MTU {} over memif (the driver declares {}-byte frames at most); the client's "
              "buffers must hold {} bytes: a demi client with the same dpdk.mtu has them",
              name, mtu, dev.max_rx_pktlen, mtu + RTE_ETHER_HDR_LEN);
  } else if (memif_jumbo) {
    const std::size_t bsize = memif_buffer_size(args);
    if (bsize < mtu + std::size_t{RTE_ETHER_HDR_LEN}) {
      DEMI_ERROR("dpdk", "{}: MTU {} needs memif buffers of at least {} bytes, and the port has bsize={} "
                 "(DPDK 22.11's memif does not carry a frame spread over several buffers intact)",
                 name, mtu, mtu + RTE_ETHER_HDR_LEN, bsize);
      return EINVAL;
    }
    DEMI_INFO("dpdk", "{}: MTU {} over memif buffers of {} bytes (the driver declares {}-byte frames at most)",
              name, mtu, bsize, dev.max_rx_pktlen);
  }
  conf.rxmode.mtu = memif_jumbo ? dev.max_rx_pktlen - RTE_ETHER_HDR_LEN - RTE_ETHER_CRC_LEN : mtu;

  if (int rc = rte_eth_dev_configure(port_, 1, 1, &conf); rc != 0) {
    DEMI_ERROR("dpdk", "rte_eth_dev_configure({}): {}", name, rte_strerror(-rc));
    return -rc;
  }
  if (int rc = memif_jumbo ? 0 : rte_eth_dev_set_mtu(port_, static_cast<uint16_t>(mtu)); rc != 0 && rc != -ENOTSUP) {
    DEMI_ERROR("dpdk", "{}: MTU {} refused: {}", name, mtu, rte_strerror(-rc));
    return -rc;
  }
  auto rxd = static_cast<uint16_t>(config.get_int("dpdk.rx_descriptors"));
  auto txd = static_cast<uint16_t>(config.get_int("dpdk.tx_descriptors"));
  rte_eth_dev_adjust_nb_rx_tx_desc(port_, &rxd, &txd);
  rte_eth_rxconf rxconf = dev.default_rxconf;
  rxconf.offloads = conf.rxmode.offloads;
  rte_eth_txconf txconf = dev.default_txconf;
  txconf.offloads = conf.txmode.offloads;
  if (int rc = rte_eth_rx_queue_setup(port_, 0, rxd, static_cast<unsigned>(socket), &rxconf, pool_); rc != 0) {
    DEMI_ERROR("dpdk", "{}: RX queue setup: {}", name, rte_strerror(-rc));
    return -rc;
  }
  if (int rc = rte_eth_tx_queue_setup(port_, 0, txd, static_cast<unsigned>(socket), &txconf); rc != 0) {
    DEMI_ERROR("dpdk", "{}: TX queue setup: {}", name, rte_strerror(-rc));
    return -rc;
  }
  if (int rc = rte_eth_dev_start(port_); rc != 0) {
    DEMI_ERROR("dpdk", "{}: start: {}", name, rte_strerror(-rc));
    return -rc;
  }
  started_ = true;

  rte_ether_addr mac{};
  rte_eth_macaddr_get(port_, &mac);
  std::memcpy(info_.mac.data(), mac.addr_bytes, 6);

  // Wait for the link, bounded: a peer that never comes is a clear error, not a hang.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.get_int("dpdk.link_wait_ms"));
  for (bool wait = config.get_int("dpdk.link_wait_ms") > 0; wait;) {
    rte_eth_link link{};
    rte_eth_link_get_nowait(port_, &link);
    if (link.link_status == RTE_ETH_LINK_UP) {
      DEMI_INFO("dpdk", "{} up: {} Mbit/s, MTU {}, rx csum offload {}, tx csum offload {}", name, link.link_speed, mtu,
                info_.rx_checksum, info_.tx_l4_checksum);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      DEMI_ERROR("dpdk", "{}: link still down after dpdk.link_wait_ms = {} ms (is the peer running?)", name,
                 config.get_int("dpdk.link_wait_ms"));
      return ENETDOWN;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

DpdkPort::~DpdkPort() {
  if (started_) {
    if (leave_handshake_) leave();
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
  }
  // Pools are left to rte_eal_cleanup: buffers the application still holds must stay valid.
}

unsigned DpdkPort::free_mbufs() const { return pool_ ? rte_mempool_avail_count(pool_) : 0; }

mem::Block* DpdkPort::wrap(rte_mbuf* m) {
  auto* b = static_cast<mem::Block*>(rte_mbuf_to_priv(m));
  b->data = static_cast<std::byte*>(m->buf_addr);
  b->capacity = m->buf_len;
  b->refs = 1;
  b->owner = this;
  b->cookie = m;
  return b;
}

void DpdkPort::release(mem::Block* b) noexcept {
  auto* m = static_cast<rte_mbuf*>(b->cookie);
  // A transmission still holds the mbuf: drop demi's reference only. Touching the chain now
  // would cut the payload segments off a frame the device has not sent yet.
  if (rte_mbuf_refcnt_read(m) > 1) {
    rte_mbuf_refcnt_update(m, -1);
    return;
  }
  // The last reference. Chained payload segments belonged to transmissions, which freed them.
  m->next = nullptr;
  m->nb_segs = 1;
  rte_pktmbuf_free_seg(m);
}

bool DpdkPort::link_up() const {
  rte_eth_link link{};
  rte_eth_link_get_nowait(port_, &link);
  return link.link_status == RTE_ETH_LINK_UP;
}

// LEAVE or ACK for a demi control frame, -1 for any other frame.
int DpdkPort::control_kind(const rte_mbuf* m) const {
  if (m->data_len < kControlLength) return -1;
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  if (p[12] != kControlType[0] || p[13] != kControlType[1]) return -1;
  if (std::memcmp(p + 14, kControlMagic, sizeof kControlMagic) != 0) return -1;
  return p[14 + sizeof kControlMagic];
}

bool DpdkPort::send_control(uint8_t kind, std::chrono::milliseconds patience) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (!m) return false;
  auto* p = static_cast<uint8_t*>(static_cast<void*>(rte_pktmbuf_append(m, 60)));
  if (!p) return rte_pktmbuf_free(m), false;
  std::memset(p, 0, 60);
  std::memset(p, 0xff, 6);
  std::memcpy(p + 6, info_.mac.data(), 6);
  std::memcpy(p + 12, kControlType, 2);
  std::memcpy(p + 14, kControlMagic, sizeof kControlMagic);
  p[14 + sizeof kControlMagic] = kind;
  // The ring may be full for a moment (the peer descheduled): retry, bounded.
  auto until = std::chrono::steady_clock::now() + patience;
  while (rte_eth_tx_burst(port_, 0, &m, 1) == 0) {
    if (std::chrono::steady_clock::now() >= until) return rte_pktmbuf_free(m), false;
  }
  return true;
}

// Whether the port must stay untouched: the peer said it is leaving and its disconnection has
// not finished yet.
bool DpdkPort::still_parked() {
  const auto now = std::chrono::steady_clock::now();
  if (!link_up()) {
    if (!down_since_) down_since_ = now;
    if (now - *down_since_ < kDownGrace) return true;
    DEMI_INFO("dpdk", "{}: the peer has left; polling again", info_.name);
  } else if (now - *parked_since_ < kParkMax) {
    return true;
  } else {
    DEMI_WARN("dpdk", "{}: the peer said it was leaving {} ms ago but its link is still up; polling again",
              info_.name, kParkMax.count());
  }
  parked_since_.reset();
  down_since_.reset();
  return false;
}

void DpdkPort::wait_link_down(std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (link_up() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  std::this_thread::sleep_for(kDownGrace);
}

void DpdkPort::leave() {
  if (parked_since_) {  // the peer leaves first: let its disconnection finish before ours
    const auto parked_for = std::chrono::steady_clock::now() - *parked_since_;
    wait_link_down(parked_for < kParkMax ? std::chrono::duration_cast<std::chrono::milliseconds>(kParkMax - parked_for)
                                         : std::chrono::milliseconds(0));
    return;
  }
  if (!link_up()) {
    // No peer; or one that just went, whose disconnection memif's interrupt thread may still be
    // carrying out: ours must not run beside it.
    std::this_thread::sleep_for(kDownGrace);
    return;
  }
  // A ring that stays full means a peer that does not read, perhaps descheduled in a burst:
  // closing under it is the crash this avoids, so keep trying as long as the answer may take.
  if (!send_control(kLeave, kLeaveAckWait)) {
    DEMI_WARN("dpdk", "{}: could not announce leaving in {} ms (the peer reads nothing); closing anyway",
              info_.name, kLeaveAckWait.count());
    return;
  }
  bool answered = false, mutual = false;
  const auto until = std::chrono::steady_clock::now() + kLeaveAckWait;
  rte_mbuf* burst[32];
  while (!answered && link_up() && std::chrono::steady_clock::now() < until) {
    uint16_t n = rte_eth_rx_burst(port_, 0, burst, 32);
    for (uint16_t i = 0; i < n; ++i) {
      int kind = control_kind(burst[i]);
      if (kind == kLeaveAck) answered = true;
      if (kind == kLeave) {  // both sides leave at once: each answers the other
        ++stats_.peer_leaves;
        send_control(kLeaveAck);
        mutual = true;
      }
      if (kind < 0) ++stats_.rx_dropped;  // data after the application closed the port
      rte_pktmbuf_free(burst[i]);
    }
    // Both leaving: the server touches the rings no more once it has answered, and the client
    // closes only once it has that answer; so the server waits for the link to go down.
    if (mutual && memif_server_) {
      DEMI_DEBUG("dpdk", "{}: both sides leave; waiting for the client to go", info_.name);
      wait_link_down(kLeaveAckWait);
      return;
    }
  }
  DEMI_DEBUG("dpdk", "{}: leaving: acknowledged {}, both leaving {}", info_.name, answered, mutual);
  if (answered || !link_up()) {
    // The peer may still be finishing the burst that carried its answer (memif reads the ring's
    // flags and signals after publishing the frame), descheduled at worst; or it went away
    // meanwhile and its disconnection is under way: the grace period either way.
    std::this_thread::sleep_for(kDownGrace);
  } else {
    DEMI_INFO("dpdk", "{}: the peer did not acknowledge that this side is leaving (not a demi peer, or stalled)",
              info_.name);
  }
}

std::size_t DpdkPort::receive(std::span<RxFrame> frames) {
  if (parked_since_ && still_parked()) return 0;
  rte_mbuf* burst[512];
  auto want = static_cast<uint16_t>(std::min<std::size_t>({frames.size(), std::size_t{burst_}, std::size_t{512}}));
  uint16_t n = rte_eth_rx_burst(port_, 0, burst, want);
  std::size_t out = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = burst[i];
    if (leave_handshake_ && control_kind(m) >= 0) {
      if (control_kind(m) == kLeave) {
        ++stats_.peer_leaves;
        send_control(kLeaveAck);
        if (!parked_since_) parked_since_ = std::chrono::steady_clock::now();
        DEMI_INFO("dpdk", "{}: the peer is leaving; the port is idle until its link is down", info_.name);
      }
      rte_pktmbuf_free(m);
      continue;
    }
    if (m->nb_segs != 1) {
      // Frames larger than one mbuf do not happen with the data room sized from the MTU.
      ++stats_.rx_dropped;
      rte_pktmbuf_free(m);
      continue;
    }
    mem::Block* b = wrap(m);
    RxFrame& f = frames[out++];
    f.data = mem::BufRef::adopt(b, m->data_off, m->data_len);
    f.flags = 0;
    uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD) f.flags |= kRxIpChecksumGood;
    if (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD) f.flags |= kRxIpChecksumBad;
    if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD) f.flags |= kRxL4ChecksumGood;
    if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD) f.flags |= kRxL4ChecksumBad;
    ++stats_.rx_packets;
    stats_.rx_bytes += m->data_len;
  }
  return out;
}

mem::BufRef DpdkPort::alloc_tx(std::size_t headroom) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (!m) return {};
  mem::Block* b = wrap(m);
  if (headroom > b->capacity) headroom = b->capacity;
  return mem::BufRef::adopt(b, headroom, 0);
}

// Builds the mbuf chain for one frame; nullptr when it cannot, with *never set when it never
// will (the frame does not fit what this device takes) rather than for want of buffers now.
rte_mbuf* DpdkPort::to_mbuf(const TxFrame& frame, bool* never) {
  *never = false;
  rte_mbuf* head;
  if (frame.head.block() && frame.head.block()->owner == this) {
    head = static_cast<rte_mbuf*>(frame.head.block()->cookie);
    rte_mbuf_refcnt_update(head, 1);  // the transmission's own reference
  } else {
    // A header built elsewhere: copy it into one of our mbufs.
    head = rte_pktmbuf_alloc(pool_);
    if (!head) return nullptr;
    if (frame.head.size() > rte_pktmbuf_tailroom(head)) {
      rte_pktmbuf_free(head);
      *never = true;
      return nullptr;
    }
    std::memcpy(rte_pktmbuf_mtod(head, void*), frame.head.data(), frame.head.size());
  }
  if (head->buf_addr == frame.head.block()->data) head->data_off = static_cast<uint16_t>(frame.head.offset());
  head->data_len = static_cast<uint16_t>(frame.head.size());
  head->pkt_len = head->data_len;
  head->next = nullptr;
  head->nb_segs = 1;
  head->ol_flags = 0;

  bool chain = tx_offloads_ & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  uint64_t attached = 0, copied = 0;  // counted once the frame is complete
  for (uint8_t i = 0; i < frame.payload_segments; ++i) {
    const mem::BufRef& p = frame.payload[i];
    if (p.size() == 0) continue;
    // Small payloads are copied behind the header while nothing is chained yet: below the
    // threshold a copy costs less than attaching an external buffer (dpdk.tx_copy_threshold).
    bool copy_small = p.size() <= copy_threshold_ && head->nb_segs == 1 && p.size() <= rte_pktmbuf_tailroom(head);
    if (!chain || copy_small) {
      // The PMD takes one segment only: copy the payload behind the header.
      if (p.size() > rte_pktmbuf_tailroom(rte_pktmbuf_lastseg(head))) {
        *never = true;
        goto fail;
      }
      std::memcpy(rte_pktmbuf_append(head, static_cast<uint16_t>(p.size())), p.data(), p.size());
      ++copied;
      continue;
    }
    rte_mbuf* seg = rte_pktmbuf_alloc(ext_pool_);
    void* obj = nullptr;
    if (!seg || rte_mempool_get(shinfo_pool_, &obj) != 0) {
      if (seg) rte_pktmbuf_free(seg);
      goto fail;
    }
    auto* ext = static_cast<ExtBuffer*>(obj);
    ext->block = p.block();
    ext->pool = shinfo_pool_;
    mem::block_ref(ext->block);
    ext->shinfo.free_cb = ext_free;
    ext->shinfo.fcb_opaque = ext;
    rte_mbuf_ext_refcnt_set(&ext->shinfo, 1);
    rte_iova_t iova = rte_mem_virt2iova(p.data());
    if (iova == RTE_BAD_IOVA) iova = reinterpret_cast<rte_iova_t>(p.data());
    rte_pktmbuf_attach_extbuf(seg, p.data(), iova, static_cast<uint16_t>(p.size()), &ext->shinfo);
    seg->data_len = static_cast<uint16_t>(p.size());
    seg->pkt_len = seg->data_len;
    if (rte_pktmbuf_chain(head, seg) != 0) {  // more segments than an mbuf chain holds
      rte_pktmbuf_free(seg);
      *never = true;
      goto fail;
    }
    ++attached;
  }
  if (frame.offload_ip_checksum && info_.tx_ipv4_checksum) {
    head->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
  } else if (frame.offload_l4_checksum) {
    head->ol_flags |= RTE_MBUF_F_TX_IPV4;
  }
  if (frame.offload_l4_checksum && info_.tx_l4_checksum)
    head->ol_flags |= frame.l4_protocol == 6 ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM;
  head->l2_len = frame.l2_len;
  head->l3_len = frame.l3_len;
  head->l4_len = frame.l4_len;
  stats_.tx_payload_attached += attached;
  stats_.tx_payload_copied += copied;
  return head;

fail:
  rte_pktmbuf_free(head);
  return nullptr;
}

// Sends frames in order until the TX ring or the mbuf pools are full, and returns how many the
// device took. The rest stay with the caller, with their references (their mbuf chains are
// rebuilt at the next try), for its next flush (EthernetLayer keeps them queued): dropping them
// instead turned a full ring into TCP losses, and a loss at the end of a flight into a
// retransmission timeout.
std::size_t DpdkPort::transmit(std::span<TxFrame> frames) {
  if (parked_since_) {  // the peer is leaving (see receive()): nothing may touch the rings
    stats_.tx_dropped += frames.size();
    for (TxFrame& f : frames) f = TxFrame{};
    return frames.size();
  }
  rte_mbuf* burst[512];
  std::size_t done = 0;
  while (done < frames.size()) {
    uint16_t n = 0;
    bool never = false;
    while (done + n < frames.size() && n < burst_ && n < 512) {
      rte_mbuf* m = to_mbuf(frames[done + n], &never);
      if (!m) break;  // no mbuf for it now: it waits, with the frames behind it
      burst[n++] = m;
    }
    if (n == 0) {
      if (never) {  // this frame cannot go out on this device, ever: dropped, counted
        ++stats_.tx_dropped;
        frames[done] = TxFrame{};
        ++done;
        continue;
      }
      ++stats_.tx_busy;
      // Out of mbufs: many PMDs free the ones they finished sending only inside tx_burst, which
      // is not being called; ask for that cleanup explicitly (harmless where unsupported).
      rte_eth_tx_done_cleanup(port_, 0, 0);
      break;
    }
    const uint16_t sent = rte_eth_tx_burst(port_, 0, burst, n);
    for (uint16_t k = 0; k < sent; ++k) {
      ++stats_.tx_packets;
      stats_.tx_bytes += burst[k]->pkt_len;
    }
    // Refused: drop the transmission's references only (the head mbuf and the buffers stay the
    // frame's; the next attempt rebuilds the chain).
    for (uint16_t k = sent; k < n; ++k) rte_pktmbuf_free(burst[k]);
    done += sent;
    if (sent < n) {
      ++stats_.tx_busy;
      // A ring that stays full drains as the peer reads; a frame the PMD refuses every time
      // (a limit of its own that to_mbuf cannot see, or a link that is down) would block every
      // frame behind it. Once the head frame has been refused for kMaxRefusal without a single
      // frame taken, it is dropped (counted; TCP recovers it): a time, not a count of tries,
      // so that a peer descheduled for a moment costs no loss.
      if (sent == 0) {
        const auto now = std::chrono::steady_clock::now();
        if (!refused_since_) {
          refused_since_ = now;
        } else if (now - *refused_since_ >= kMaxRefusal) {
          refused_since_.reset();
          ++stats_.tx_dropped;
          frames[done] = TxFrame{};
          ++done;
        }
      } else {
        refused_since_.reset();
      }
      break;
    }
    refused_since_.reset();
  }
  return done;
}

}  // namespace demi::runtime::dpdk
