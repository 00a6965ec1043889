// One DPDK ethdev port as a demi Device: RX/TX in bursts, zero copy in both directions.
//
// Memory: every received frame stays in its mbuf; the stack and then the application hold it as
// a mem::Block that lives in the mbuf's private area, and freeing the last reference frees the
// mbuf. To send, the header buffer is an mbuf from the same pool, and each payload segment
// (application memory, or a received mbuf being echoed back) is attached to a small
// header-only mbuf as an external buffer whose release callback drops a Block reference. The
// mbuf reference count stands for "all of demi's references" plus one per transmission in
// flight, so the application may free its Sga while the NIC still reads it.
#pragma once

#include <demi/config.h>
#include <demi/result.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "runtime/device.h"

struct rte_mempool;
struct rte_mbuf;

namespace demi::runtime::dpdk {

class DpdkPort final : public Device, public mem::BlockOwner {
 public:
  // Initialises the EAL if needed, finds the port named by dpdk.port, configures it with the
  // offloads it offers, starts it and waits for the link (dpdk.link_wait_ms).
  static Result<std::unique_ptr<DpdkPort>> open(const Config& config);
  ~DpdkPort() override;

  const DeviceInfo& info() const override { return info_; }
  std::size_t receive(std::span<RxFrame> frames) override;
  std::size_t transmit(std::span<TxFrame> frames) override;
  mem::BufRef alloc_tx(std::size_t headroom) override;
  DeviceStats stats() const override { return stats_; }

  void release(mem::Block* b) noexcept override;
  uint16_t port_id() const { return port_; }
  // True while the peer has said it is leaving and no burst may touch the port (see receive()).
  bool parked() const { return parked_since_.has_value(); }
  // The link's state as the driver last set it (no burst, no ring access).
  bool link_up() const;
  // Sleeps (no burst) until the link is down or `limit` has passed, then for the grace period
  // that memif's interrupt thread takes to finish a disconnection.
  void wait_link_down(std::chrono::milliseconds limit);
  // dpdk.tx_copy_threshold, changed at run time (for the benchmark that measures it).
  void set_copy_threshold(std::size_t bytes) { copy_threshold_ = bytes; }
  // mbufs of the packet pool not in use (for leak checks).
  unsigned free_mbufs() const;

  struct ExtBuffer;  // an external-buffer attachment in flight (see dpdk_port.cc)

 private:
  DpdkPort() = default;
  int setup(const Config& config);
  mem::Block* wrap(rte_mbuf* m);
  rte_mbuf* to_mbuf(const TxFrame& frame, bool* never);
  // The memif leave handshake (see "Leaving a memif link" in dpdk_port.cc).
  bool send_control(uint8_t kind, std::chrono::milliseconds patience = std::chrono::milliseconds(50));
  int control_kind(const rte_mbuf* m) const;
  bool still_parked();
  void leave();

  uint16_t port_ = 0;
  bool started_ = false;
  DeviceInfo info_;
  DeviceStats stats_;
  rte_mempool* pool_ = nullptr;      // packet buffers (RX and TX headers)
  rte_mempool* ext_pool_ = nullptr;  // header-only mbufs for external payload buffers
  rte_mempool* shinfo_pool_ = nullptr;
  uint64_t tx_offloads_ = 0;
  uint16_t burst_ = 32;
  // Since when the TX ring has refused the head frame, taking nothing (see transmit()).
  static constexpr std::chrono::milliseconds kMaxRefusal{100};
  std::optional<std::chrono::steady_clock::time_point> refused_since_;
  std::size_t copy_threshold_ = 0;  // payload segments up to this size are copied, not attached
  bool leave_handshake_ = false;    // a net_memif port: each side announces that it is leaving
  bool memif_server_ = false;
  std::optional<std::chrono::steady_clock::time_point> parked_since_;  // the peer is leaving
  std::optional<std::chrono::steady_clock::time_point> down_since_;    // ... and its link is down
};

}  // namespace demi::runtime::dpdk
