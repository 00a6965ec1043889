// CatnipModule: the inet stack (src/net) behind the queue API (see include/demi/catnip.h for
// what an application sees).
//
// The module keeps a table of queues, each naming a socket of the UDP or TCP layer. Calls that
// cannot wait (socket, bind, getsockname, a UDP push or connect) act at once; operations that may
// wait (pops, accept, a TCP connect or push) are coroutines on the LibOS scheduler that wait on
// their socket's WaitQueue, which the stack notifies when data, room, a connection or an error
// arrives. The pushes of one TCP queue, and its pops, take turns in the order they were started,
// so that bytes never interleave or go to a later pop first. poll() drives the stack: a receive
// burst up, queued frames down.
//
// TCP's operations live in catnip_tcp.cc, the module's one contact with the TCP layer; in a
// build without it (no src/net/tcp) SOCK_STREAM is refused and the rest works the same.
//
// Device ownership: the module holds a reference to its device and, when it was given one by
// unique_ptr, owns it too. The stack only ever sees the reference.
#pragma once

#include <cstddef>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <demi/module.h>

#include "mem/buffer.h"
#include "net/inet_config.h"
#include "net/inet_stack.h"
#include "runtime/device.h"
#include "sched/task.h"

namespace demi::catnip {

class CatnipModule final : public Module {
 public:
  // `owned` is null when the device is borrowed; otherwise `device` is *owned.
  CatnipModule(std::unique_ptr<runtime::Device> owned, runtime::Device& device, net::InetConfig config);
  ~CatnipModule() override;
  CatnipModule(const CatnipModule&) = delete;
  CatnipModule& operator=(const CatnipModule&) = delete;

  std::string_view name() const override { return "catnip"; }
  ModuleKind kind() const override { return ModuleKind::Network; }
  int attach(ModuleHost& host) override;
  bool poll() override;
  void flush() override;
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

  // Teardown (see Module): every open queue is closed; the LibOS then runs the stack while TCP
  // connections still owe their peers data or a FIN, for at most catnip.tcp.shutdown_linger_ms.
  void shutdown() override;
  std::chrono::nanoseconds shutdown_linger() const override;
  std::size_t lingering() const override;
  std::size_t abort_lingering() override;

  // The stack, once the module is installed (nullptr before): for counters, and for tests.
  net::InetStack* stack() const { return stack_.get(); }
  runtime::Device& device() const { return device_; }

 private:
  enum class Kind : uint8_t { Udp, Tcp };
  struct Queue {
    Kind kind = Kind::Udp;
    uint32_t socket = 0;  // the socket id in its layer
    bool open = false;    // the slot is in use (until the last operation on a closed queue ends)
    bool closed = false;  // the application closed the queue
    uint32_t ops = 0;     // operations in flight that refer to the slot
    // Options as the application set them, for getsockopt.
    int sndbuf = 0;
    int rcvbuf = 0;
    bool nodelay = false;
    bool keepalive = false;
    bool linger_on = false;
    int linger_seconds = 0;
    // TCP: the turns of pushes and of pops, in the order they were started.
    uint64_t push_tickets = 0;
    uint64_t push_turn = 0;
    uint64_t pop_tickets = 0;
    uint64_t pop_turn = 0;
  };
  // A TCP push's payload: references to the application's buffers (or one copy of a foreign Sga).
  struct Outgoing {
    std::array<mem::BufRef, kSgaMaxSegments> bufs;
    std::size_t count = 0;
  };

  // Keeps a queue's slot from being reused while an operation's coroutine refers to it.
  class QueueRef {
   public:
    QueueRef(CatnipModule* m, QueueId q) : m_(m), q_(q) { ++m_->queues_[q_].ops; }
    QueueRef(QueueRef&& o) noexcept : m_(std::exchange(o.m_, nullptr)), q_(o.q_) {}
    QueueRef(const QueueRef&) = delete;
    QueueRef& operator=(const QueueRef&) = delete;
    QueueRef& operator=(QueueRef&&) = delete;
    ~QueueRef() {
      if (m_) m_->unref(q_);
    }
    Queue& operator*() const { return m_->queues_[q_]; }
    Queue* operator->() const { return &m_->queues_[q_]; }
    QueueId id() const { return q_; }

   private:
    CatnipModule* m_;
    QueueId q_;
  };

  sched::Task udp_pop_op(QueueRef ref, std::size_t max_len, Completion done);

  // TCP (catnip_tcp.cc).
  bool have_tcp() const;
  Result<QueueId> tcp_socket();
  int tcp_bind(Queue& queue, const sockaddr_in& a);
  int tcp_listen(Queue& queue, int backlog);
  int tcp_accept(QueueId q, Completion done);
  int tcp_connect(QueueId q, const sockaddr_in& a, Completion done);
  int tcp_name(Queue& queue, bool peer, sockaddr_in* out);
  int tcp_setsockopt(Queue& queue, int level, int optname, const void* val, socklen_t len);
  int tcp_getsockopt(Queue& queue, int level, int optname, void* val, socklen_t* len);
  int tcp_push(QueueId q, const Sga& sga, Completion done);
  int tcp_pop(QueueId q, std::size_t max_len, Completion done);
  void tcp_close(Queue& queue);
  sched::Task tcp_accept_op(QueueRef ref, Completion done);
  sched::Task tcp_connect_op(QueueRef ref, int early_error, Completion done);
  sched::Task tcp_push_op(QueueRef ref, Outgoing out, uint64_t ticket, Completion done);
  sched::Task tcp_pop_op(QueueRef ref, std::size_t max_len, uint64_t ticket, Completion done);

  Queue* open_queue(QueueId q, const char* call);
  QueueId add_queue(Kind kind, uint32_t socket);
  void unref(QueueId q);
  int udp_send(Queue& queue, const Sga& sga, const sockaddr_in* to, Completion done);

  std::unique_ptr<runtime::Device> owned_;
  runtime::Device& device_;
  net::InetConfig config_;
  ModuleHost* host_ = nullptr;
  std::unique_ptr<net::InetStack> stack_;
  std::vector<Queue> queues_;  // index = QueueId
  std::vector<QueueId> free_ids_;
  std::vector<mem::BufRef> received_;  // a TCP pop's views, reused: no allocation once warm
};

}  // namespace demi::catnip
