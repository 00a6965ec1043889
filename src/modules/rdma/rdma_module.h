// RdmaModule: rdma_cm connection set-up and reliable-connected queue pairs behind the queue API
// (see include/demi/rdma.h for what an application sees, framing.h for the wire format,
// credits.h for flow control, memory.h for registration).
//
// Nothing blocks and no thread is started. The rdma_cm event channel and one completion channel
// per device are non-blocking and sit in one epoll instance, which wait_fd() hands to the LibOS
// so that an idle wait() sleeps in the kernel. poll() reads connection events, drains each
// device's single completion queue (shared by every queue pair on the device) and re-arms its
// notification. Operations are coroutines that wait on their endpoint's `changed` queue.
#pragma once

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <demi/module.h>

#include "mem/buffer.h"
#include "modules/rdma/credits.h"
#include "modules/rdma/framing.h"
#include "modules/rdma/memory.h"
#include "sched/task.h"
#include "sched/wait_queue.h"

namespace demi::rdma {

struct RdmaSettings {
  uint32_t recv_buffers = 16;
  uint32_t recv_buffer_size = 256 * 1024;
  uint32_t send_queue_depth = 64;
  int cq_entries = 8192;
  std::size_t memory_bytes = std::size_t{64} << 20;
  std::size_t mr_cache_entries = 256;
  int resolve_timeout_ms = 2000;
  std::size_t max_message_bytes = std::size_t{64} << 20;
};

class RdmaModule final : public Module {
 public:
  RdmaModule() = default;
  ~RdmaModule() override;
  RdmaModule(const RdmaModule&) = delete;
  RdmaModule& operator=(const RdmaModule&) = delete;

  std::string_view name() const override { return "rdma"; }
  ModuleKind kind() const override { return ModuleKind::Network; }
  int attach(ModuleHost& host) override;
  bool poll() override;
  int wait_fd() const override { return epfd_; }

  Result<QueueId> socket(int domain, int type, int protocol) override;
  int bind(QueueId q, const sockaddr* addr, socklen_t len) override;
  int listen(QueueId q, int backlog) override;
  int accept(QueueId q, Completion done) override;
  int connect(QueueId q, const sockaddr* addr, socklen_t len, Completion done) override;
  int getsockname(QueueId q, sockaddr* addr, socklen_t* len) override;
  int getpeername(QueueId q, sockaddr* addr, socklen_t* len) override;
  int push(QueueId q, const Sga& sga, Completion done) override;
  int pop(QueueId q, std::size_t max_len, Completion done) override;
  int close(QueueId q) override;

  // For tests: how memory is registered.
  bool region_registered() const;
  std::size_t registrations() const;

 private:
  struct Device {
    ibv_context* ctx = nullptr;
    ibv_pd* pd = nullptr;
    ibv_comp_channel* channel = nullptr;
    ibv_cq* cq = nullptr;
    bool armed = false;
    uint32_t max_sge = 1;
    std::unique_ptr<MemoryRegistry> memory;
  };

  // One push, living in its coroutine's frame while the endpoint sends it.
  struct PushRequest {
    Sga sga;
    std::array<mem::BufRef, kSgaMaxSegments> pins;  // the blocks under the segments
    std::array<uint32_t, kSgaMaxSegments> lkeys{};
    FragmentCursor cursor;
    bool finished = false;
    int result = 0;
  };

  struct SendSlot {
    PushRequest* req = nullptr;  // nullptr: a credit-only message, or a request already ended
    bool last = false;
  };

  struct Fragment {
    mem::BufRef buf;
    bool end = false;
  };

  enum class State { Idle, Bound, Listening, Resolving, Connecting, Accepting, Established, Failed };

  struct Endpoint {
    explicit Endpoint(sched::Scheduler& s) : changed(s) {}
    QueueId id = 0;
    rdma_cm_id* cm = nullptr;
    State state = State::Idle;
    int error = 0;           // why the endpoint failed
    bool closed = false;     // the application closed the queue
    bool peer_left = false;  // DISCONNECTED seen
    Endpoint* listener = nullptr;  // a passive connection not yet accepted
    uint32_t ops = 0;              // coroutines that refer to this endpoint
    Device* dev = nullptr;
    ibv_qp* qp = nullptr;
    CreditState credits;
    uint32_t frag_size = 0;  // the peer's receive-buffer size
    uint32_t posted = 0;     // receives posted and not completed
    uint32_t sq_outstanding = 0;
    uint32_t sq_depth = 0;
    std::vector<mem::BufRef> recv_slots;
    std::vector<uint32_t> recv_free;
    std::vector<SendSlot> send_slots;
    std::vector<uint32_t> send_free;
    std::deque<Fragment> rx;
    std::size_t rx_messages = 0;
    std::size_t rx_partial_bytes = 0;
    std::deque<PushRequest*> txq;  // requests with fragments still to post
    std::deque<QueueId> backlog;   // a listener's established connections, not yet accepted
    sched::WaitQueue changed;      // notified on every change of the above
  };

  class EndpointRef {
   public:
    EndpointRef(RdmaModule* m, Endpoint* e) : m_(m), e_(e) { ++e_->ops; }
    EndpointRef(EndpointRef&& o) noexcept : m_(o.m_), e_(o.e_) { o.e_ = nullptr; }
    EndpointRef(const EndpointRef&) = delete;
    EndpointRef& operator=(const EndpointRef&) = delete;
    EndpointRef& operator=(EndpointRef&&) = delete;
    ~EndpointRef() {
      if (e_) m_->unref(*e_);
    }
    Endpoint& operator*() const { return *e_; }

   private:
    RdmaModule* m_;
    Endpoint* e_;
  };

  // Operations (rdma_operations.cc).
  sched::Task accept_op(EndpointRef ref, Completion done);
  sched::Task connect_op(EndpointRef ref, Completion done);
  sched::Task push_op(EndpointRef ref, PushRequest req, Completion done);
  sched::Task pop_op(EndpointRef ref, Completion done);
  // Hands the oldest whole message to `done`; ENOMEM if a copy was needed and failed.
  int deliver(Endpoint& ep, Completion& done);

  // Connection management (rdma_module.cc).
  Endpoint* open_endpoint(QueueId q, const char* call);
  Result<QueueId> add_endpoint(rdma_cm_id* cm, State state);
  void unref(Endpoint& ep);
  void free_slot(QueueId q);
  Device* device_of(ibv_context* ctx);
  bool poll_cm();
  void on_cm_event(rdma_cm_event_type type, rdma_cm_id* id, rdma_cm_id* listen_id, int status,
                   std::span<const uint8_t> private_data);
  void on_connect_request(Endpoint& listener, rdma_cm_id* child, std::span<const uint8_t> private_data);
  // Creates the queue pair on ep's device and posts the initial receive window.
  int setup_qp(Endpoint& ep);
  void establish(Endpoint& ep, const WindowAnnouncement& peer);
  void fail(Endpoint& ep, int err, const char* why);
  void teardown(Endpoint& ep);  // frees the queue pair and the cm id

  // Data path (rdma_datapath.cc).
  bool poll_device(Device& d);
  bool drain_cq(Device& d);
  void on_completion(const ibv_wc& wc);
  int post_recv(Endpoint& ep, mem::BufRef buf);
  int refill(Endpoint& ep, bool announce);
  void try_send(Endpoint& ep);
  int post_send(Endpoint& ep, std::span<ibv_sge> sges, FragmentHeader h, PushRequest* req);
  int prepare_push(Endpoint& ep, PushRequest& req);

  ModuleHost* host_ = nullptr;
  RdmaSettings cfg_;
  rdma_event_channel* events_ = nullptr;
  ibv_context** device_list_ = nullptr;
  std::vector<std::unique_ptr<Device>> devices_;
  RegisteredRegion* region_ = nullptr;  // the allocator we installed, if we did
  int epfd_ = -1;
  std::vector<std::unique_ptr<Endpoint>> slots_;  // index = QueueId
  std::vector<QueueId> free_ids_;
  std::unordered_map<uint32_t, Endpoint*> by_qp_;
  bool refill_pending_ = false;  // a receive buffer could not be allocated: retry in poll()
};

}  // namespace demi::rdma
