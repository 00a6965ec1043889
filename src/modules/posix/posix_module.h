// PosixModule: kernel TCP and UDP sockets behind the queue API (see include/demi/posix.h for
// what an application sees).
//
// Every socket is non-blocking and registered once, at socket() or accept() time, with the
// module's epoll instance; wait_fd() hands that epoll fd to the LibOS so an idle wait() sleeps in
// the kernel. poll() drains readiness with epoll_wait(..., 0) and wakes the operations waiting on
// it. Each operation is a coroutine on the LibOS scheduler that tries its syscall first and waits
// for readiness only after EAGAIN.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <demi/module.h>

#include "mem/buffer.h"
#include "modules/posix/kernel_socket.h"
#include "sched/task.h"

namespace demi::posix {

class PosixModule final : public Module {
 public:
  PosixModule() = default;
  ~PosixModule() override;
  PosixModule(const PosixModule&) = delete;
  PosixModule& operator=(const PosixModule&) = delete;

  std::string_view name() const override { return "posix"; }
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
  int setsockopt(QueueId q, int level, int optname, const void* val, socklen_t len) override;
  int getsockopt(QueueId q, int level, int optname, void* val, socklen_t* len) override;
  int pushto(QueueId q, const Sga& sga, const sockaddr* addr, socklen_t len, Completion done) override;
  int push(QueueId q, const Sga& sga, Completion done) override;
  int pop(QueueId q, std::size_t max_len, Completion done) override;
  int close(QueueId q) override;

  // The most a single pop asks the allocator for, whatever its max_len: a TCP pop may return
  // less than max_len anyway, and no datagram is this large.
  static constexpr std::size_t kMaxPopBytes = std::size_t{64} << 20;

 private:
  // Keeps a socket's state alive while an operation's coroutine refers to it: close() may end
  // the queue at any time, and the coroutine still has to wake up and cancel.
  class SocketRef {
   public:
    SocketRef(PosixModule* m, KernelSocket* s) : m_(m), s_(s) { ++s_->ops; }
    SocketRef(SocketRef&& o) noexcept : m_(o.m_), s_(o.s_) { o.s_ = nullptr; }
    SocketRef(const SocketRef&) = delete;
    SocketRef& operator=(const SocketRef&) = delete;
    SocketRef& operator=(SocketRef&&) = delete;
    ~SocketRef() {
      if (s_) m_->unref(*s_);
    }
    KernelSocket& operator*() const { return *s_; }

   private:
    PosixModule* m_;
    KernelSocket* s_;
  };

  // What a push carries into its coroutine: a copy of the application's Sga, references that
  // keep its blocks alive until the push completes (so an early sgafree cannot pull memory from
  // under sendmsg), and the destination of a pushto.
  struct Outgoing {
    Sga sga;
    std::array<mem::BufRef, kSgaMaxSegments> pins;
    sockaddr_in to{};
    bool has_to = false;
  };

  struct Slot {
    std::unique_ptr<KernelSocket> socket;
    uint32_t generation = 0;  // bumped when the slot is freed: stale epoll events are ignored
  };

  // The operations (posix_operations.cc).
  sched::Task accept_op(SocketRef ref, Completion done);
  sched::Task connect_op(SocketRef ref, int early_error, Completion done);
  sched::Task push_op(SocketRef ref, Outgoing out, Completion done);
  sched::Task pop_op(SocketRef ref, std::size_t limit, Completion done);

  // The open socket behind q, or nullptr (logged, for `call`).
  KernelSocket* open_socket(QueueId q, const char* call);
  // Registers a new non-blocking fd with epoll and gives it a queue id; closes fd on failure.
  Result<QueueId> add_socket(int fd, int type);
  void unref(KernelSocket& s);
  void free_slot(QueueId id);
  // Records a connection reset on s and maps the errno a syscall gave to the one to report.
  static int note_error(KernelSocket& s, int err);
  static uint64_t epoll_token(QueueId id, uint32_t generation) { return (uint64_t{generation} << 32) | id; }

  ModuleHost* host_ = nullptr;
  int epfd_ = -1;
  std::size_t recv_size_ = 65536;
  int backlog_max_ = 4096;
  std::vector<Slot> slots_;  // index = QueueId
  std::vector<QueueId> free_ids_;
  static constexpr int kMaxEvents = 128;
  std::array<epoll_event, kMaxEvents> events_{};
};

}  // namespace demi::posix
