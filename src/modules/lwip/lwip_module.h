// LwipModule: lwIP's raw TCP and UDP APIs behind the queue API (include/demi/lwip.h says what
// an application sees), over one runtime::Device.
//
// The module is one lwIP netif whose link output is the device's transmit and whose input is
// fed by poll() from the device's receive burst. Each queue names a TCP or UDP PCB bound to
// that netif. lwIP reports events through callbacks (data received, bytes acknowledged,
// connected, accepted, error); they only record the event in the queue and wake the queue's
// WaitQueue. Operations that may wait (pops, accept, a TCP connect, a TCP push that does not
// fit) are coroutines on the LibOS's scheduler that wait there, as in the catnip module; the
// pushes of a queue, and its pops, take turns in the order they were started.
//
// Lifetimes: a Queue object never moves (the table holds pointers), and lwIP's callbacks carry
// a pointer to it; closing a queue first clears the PCB's callbacks, so lwIP never calls into a
// closed queue, and lwIP frees the PCB itself when the connection ends.
#pragma once

#include <lwip/ip4_addr.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/tcp.h>
#include <lwip/udp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <demi/config.h>
#include <demi/module.h>

#include "mem/buffer.h"
#include "runtime/device.h"
#include "sched/task.h"
#include "sched/wait_queue.h"

namespace demi::lwip {

struct LwipConfig {
  ip4_addr_t address{};
  ip4_addr_t netmask{};
  ip4_addr_t gateway{};  // 0: none
  uint32_t mtu = 0;      // 0: the device's
  std::size_t burst = 32;
  std::size_t udp_queue = 1024;  // datagrams a UDP queue keeps for its pops
  int backlog_max = 4096;

  // nullopt, with the reason in the log, for a configuration that makes no sense.
  static std::optional<LwipConfig> from(const Config& config);
};

// What the module counts (bad or refused input is counted, never fatal).
struct LwipCounters {
  uint64_t rx_frames = 0;
  uint64_t rx_no_pbuf = 0;        // no lwIP memory for a received frame: dropped
  uint64_t rx_too_long = 0;       // longer than a pbuf can describe: dropped
  uint64_t rx_ipv6 = 0;           // IPv6 frames: dropped (the module is IPv4 only)
  uint64_t rx_martian = 0;        // from this host's own address or to/from 127/8: dropped
  uint64_t rx_not_ours = 0;       // IPv4 to another host (lwIP would forward it): dropped
  uint64_t tx_frames = 0;
  uint64_t tx_no_buffer = 0;      // the device had no header buffer
  uint64_t tx_refused = 0;        // the device did not take the frame
  uint64_t tx_zero_copy = 0;      // payload segments sent from the application's buffers
  uint64_t tx_copied = 0;         // frames sent as one copy (headers and payload)
  uint64_t udp_queue_full = 0;    // datagrams dropped because their queue was full
  uint64_t backlog_full = 0;      // connections reset because their listener's backlog was full
};

class LwipModule final : public Module {
 public:
  LwipModule(std::unique_ptr<runtime::Device> owned, runtime::Device& device, LwipConfig config);
  ~LwipModule() override;
  LwipModule(const LwipModule&) = delete;
  LwipModule& operator=(const LwipModule&) = delete;

  std::string_view name() const override { return "lwip"; }
  ModuleKind kind() const override { return ModuleKind::Network; }
  int attach(ModuleHost& host) override;
  bool poll() override;
  int wait_fd() const override { return device_.wait_fd(); }

  Result<QueueId> socket(int domain, int type, int protocol) override;
  int bind(QueueId q, const sockaddr* addr, socklen_t len) override;
  int listen(QueueId q, int backlog) override;
  int accept(QueueId q, Completion done) override;
  int connect(QueueId q, const sockaddr* addr, socklen_t len, Completion done) override;
  int getsockname(QueueId q, sockaddr* addr, socklen_t* len) override;
  int getpeername(QueueId q, sockaddr* addr, socklen_t* len) override;
  int setsockopt(QueueId q, int level, int optname, const void* val, socklen_t len) override;
  int getsockopt(QueueId q, int level, int optname, void* val, socklen_t* len) override;
  int pushto(QueueId q, const Sga& sga, const sockaddr* addr, socklen_t len, Completion done) override;
  int push(QueueId q, const Sga& sga, Completion done) override;
  int pop(QueueId q, std::size_t max_len, Completion done) override;
  int close(QueueId q) override;

  const LwipCounters& counters() const { return counters_; }
  runtime::Device& device() const { return device_; }
  // TX pbufs that reference application buffers and that lwIP still holds (for leak checks).
  std::size_t tx_refs_in_use() const { return tx_refs_.size() - free_tx_refs_.size(); }

 private:
  enum class Kind : uint8_t { Udp, Tcp };
  struct Datagram {
    pbuf* p = nullptr;
    ip4_addr_t from{};
    uint16_t port = 0;
  };
  struct Queue {
    LwipModule* module = nullptr;
    QueueId id = 0;
    Kind kind = Kind::Udp;
    bool open = false;    // the slot is in use (until the last operation on a closed queue ends)
    bool closed = false;  // the application closed the queue
    uint32_t ops = 0;     // operations in flight that refer to the slot
    std::unique_ptr<sched::WaitQueue> events;
    udp_pcb* udp = nullptr;
    tcp_pcb* tcp = nullptr;  // null once lwIP has freed it (reset, timeout) or after close
    // TCP state as the callbacks saw it.
    bool listening = false;
    bool connecting = false;
    bool connected = false;
    bool fin = false;     // the peer closed its side
    int error = 0;        // the connection's error (ECONNREFUSED, ECONNRESET, ETIMEDOUT)
    // TCP receive: pbuf chains in arrival order; the first is consumed from rx_offset.
    std::vector<pbuf*> rx;
    std::size_t rx_head = 0;
    std::size_t rx_offset = 0;
    std::size_t rx_bytes = 0;
    // A listener's accepted connections that no accept has taken yet (queue ids), FIFO.
    std::vector<QueueId> backlog;
    std::size_t backlog_head = 0;
    int backlog_max = 0;
    // UDP receive: a ring of datagrams.
    std::vector<Datagram> dgrams;
    std::size_t dg_head = 0;
    std::size_t dg_count = 0;
    // The turns of pushes and of pops, in the order they were started.
    uint64_t push_tickets = 0;
    uint64_t push_turn = 0;
    uint64_t pop_tickets = 0;
    uint64_t pop_turn = 0;
    // Options as the application set them, for getsockopt.
    bool nodelay = false;
    bool keepalive = false;
    bool linger_on = false;
    int linger_seconds = 0;
  };

  // Keeps a queue's slot from being reused while an operation's coroutine refers to it.
  class QueueRef {
   public:
    QueueRef(LwipModule* m, QueueId q) : m_(m), q_(q) { ++m_->queues_[q_]->ops; }
    QueueRef(QueueRef&& o) noexcept : m_(std::exchange(o.m_, nullptr)), q_(o.q_) {}
    QueueRef(const QueueRef&) = delete;
    QueueRef& operator=(const QueueRef&) = delete;
    QueueRef& operator=(QueueRef&&) = delete;
    ~QueueRef() {
      if (m_) m_->unref(q_);
    }
    Queue& operator*() const { return *m_->queues_[q_]; }
    Queue* operator->() const { return m_->queues_[q_].get(); }
    QueueId id() const { return q_; }

   private:
    LwipModule* m_;
    QueueId q_;
  };

  // A TCP push's bytes: spans over the application's buffers (kept alive by `keep`), or one
  // copy of a hand-built Sga's bytes; `index`/`offset` say how far lwIP has taken them.
  struct Outgoing {
    std::array<std::span<const std::byte>, kSgaMaxSegments> parts{};
    std::array<mem::BufRef, kSgaMaxSegments> keep{};
    std::size_t count = 0;
    std::size_t index = 0;
    std::size_t offset = 0;
    bool done() const { return index == count; }
  };

  // A pbuf that references application memory for a zero-copy UDP send; the BufRef keeps the
  // memory alive until lwIP frees the pbuf (after the device took its own reference).
  struct TxRef : pbuf_custom {
    mem::BufRef ref;
    LwipModule* module = nullptr;
  };

  // ---- lwIP's side (static trampolines; `arg` is a Queue* or the module)
  static err_t netif_init_cb(netif* n);
  static err_t link_output_cb(netif* n, pbuf* p);
  static void udp_recv_cb(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* addr, u16_t port);
  static err_t tcp_accept_cb(void* arg, tcp_pcb* newpcb, err_t err);
  static err_t tcp_connected_cb(void* arg, tcp_pcb* pcb, err_t err);
  static err_t tcp_recv_cb(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
  static err_t tcp_sent_cb(void* arg, tcp_pcb* pcb, u16_t len);
  static void tcp_err_cb(void* arg, err_t err);
  static void tx_ref_free_cb(pbuf* p);

  err_t link_output(pbuf* p);
  bool accept_frame(std::span<const std::byte> frame);
  void route_first();
  bool routable(const ip4_addr_t& dst, const char* call) const;
  TxRef* take_tx_ref();
  bool is_tx_ref(const pbuf* p) const;

  // ---- the queue table
  Queue* open_queue(QueueId q, const char* call);
  QueueId add_queue(Kind kind);
  void unref(QueueId q);
  void release_queue(Queue& q);  // frees what the queue holds (pbufs); the slot stays
  ip4_addr_t bind_address(const sockaddr_in& a) const;
  Result<Sga> empty_sga();

  // ---- UDP
  int udp_send(Queue& queue, const Sga& sga, const sockaddr_in* to, Completion done);
  sched::Task udp_pop_op(QueueRef ref, std::size_t max_len, Completion done);

  // ---- TCP (lwip_tcp.cc)
  Result<QueueId> stream_socket();
  void tcp_watch(Queue& queue, tcp_pcb* pcb);
  static void tcp_unwatch(tcp_pcb* pcb);
  int stream_listen(Queue& queue, int backlog);
  int stream_accept(QueueId q, Completion done);
  int stream_connect(QueueId q, const sockaddr_in& a, Completion done);
  int stream_setsockopt(Queue& queue, int level, int optname, const void* val, socklen_t len);
  int stream_getsockopt(Queue& queue, int level, int optname, void* val, socklen_t* len);
  int stream_push(QueueId q, const Sga& sga, Completion done);
  int stream_pop(QueueId q, std::size_t max_len, Completion done);
  void stream_close(Queue& queue);
  int stream_write_some(Queue& queue, Outgoing& out);
  std::size_t stream_take(Queue& queue, std::byte* dst, std::size_t n);
  sched::Task stream_accept_op(QueueRef ref, Completion done);
  sched::Task stream_connect_op(QueueRef ref, Completion done);
  sched::Task stream_push_op(QueueRef ref, Outgoing out, uint64_t ticket, Completion done);
  sched::Task stream_pop_op(QueueRef ref, std::size_t max_len, uint64_t ticket, Completion done);

  sched::Task timer_op();

  std::unique_ptr<runtime::Device> owned_;
  runtime::Device& device_;
  LwipConfig config_;
  ModuleHost* host_ = nullptr;
  bool joined_ = false;  // counted in LwipStack
  bool netif_up_ = false;
  bool silent_ = false;  // being destroyed: frames are no longer sent
  netif netif_{};
  std::vector<std::unique_ptr<Queue>> queues_;  // index = QueueId
  std::vector<QueueId> free_ids_;
  std::vector<runtime::RxFrame> rx_frames_;
  std::vector<std::unique_ptr<TxRef>> tx_refs_;
  std::vector<TxRef*> free_tx_refs_;
  LwipCounters counters_;
};

}  // namespace demi::lwip
