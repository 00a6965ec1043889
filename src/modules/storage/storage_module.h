// StorageModule: files as queues through one io_uring (see include/demi/storage.h).
//
// Each operation is a coroutine: it fills one submission entry whose user_data points at a
// request in its own frame, and suspends; poll() reaps completions and resumes the owners.
// Submissions are batched: poll() submits what operations queued since the last call. The
// ring's eventfd is the module's wait_fd, so an idle LibOS sleeps until the kernel completes.
// Completion order per queue is the issue order: a finished operation waits for its turn.
#pragma once

#include <liburing.h>

#include <coroutine>
#include <memory>
#include <vector>

#include <demi/module.h>

#include "sched/task.h"
#include "sched/wait_queue.h"

namespace demi::storage {

class StorageModule final : public Module {
 public:
  StorageModule() = default;
  ~StorageModule() override;
  StorageModule(const StorageModule&) = delete;
  StorageModule& operator=(const StorageModule&) = delete;

  std::string_view name() const override { return "storage"; }
  ModuleKind kind() const override { return ModuleKind::Storage; }
  int attach(ModuleHost& host) override;
  bool poll() override;
  // Submits what the coroutines queued during the pass at once, not at the next poll.
  void flush() override;
  int wait_fd() const override { return event_fd_; }

  Result<QueueId> open(const char* path, int flags, mode_t mode) override;
  Result<off_t> lseek(QueueId q, off_t offset, int whence) override;
  int push(QueueId q, const Sga& sga, Completion done) override;
  int pop(QueueId q, std::size_t max_len, Completion done) override;
  int close(QueueId q) override;

  // A file is not a socket: network calls on a file queue are EBADF.
  int bind(QueueId, const sockaddr*, socklen_t) override;
  int listen(QueueId, int) override;
  int accept(QueueId, Completion) override;
  int connect(QueueId, const sockaddr*, socklen_t, Completion) override;
  int pushto(QueueId, const Sga&, const sockaddr*, socklen_t, Completion) override;
  int getsockname(QueueId, sockaddr*, socklen_t*) override;
  int getpeername(QueueId, sockaddr*, socklen_t*) override;
  int setsockopt(QueueId, int, int, const void*, socklen_t) override;
  int getsockopt(QueueId, int, int, void*, socklen_t*) override;

  struct File;
  struct Request;

  // Reads and writes that went through the registered region (for tests and counters).
  uint64_t fixed_ops() const { return fixed_ops_; }

 private:
  File* file(QueueId q, const char* call);
  void release(File& f);
  io_uring_sqe* sqe();
  void drain_eventfd();
  bool submit();  // hands the queued entries to the kernel; true if it took any
  int check_direct(const File& f, const Sga& sga, off_t offset) const;
  int fixed_buffer(const void* p, std::size_t len);
  sched::Task push_op(File& f, Sga sga, off_t offset, uint64_t seq, Completion done);
  sched::Task pop_op(File& f, std::size_t len, off_t offset, uint64_t seq, Completion done);

  ModuleHost* host_ = nullptr;
  io_uring ring_{};
  bool ring_ready_ = false;
  int event_fd_ = -1;
  bool need_submit_ = false;
  std::size_t outstanding_ = 0;  // submissions (SQEs taken) whose completion is not reaped yet
  std::size_t read_size_ = 65536;
  bool durable_ = false;
  std::size_t direct_alignment_ = 4096;
  // The allocator's region, registered with the ring as fixed buffers (1 GiB each) the first time
  // I/O is issued, so that reads and writes of application buffers skip the kernel's per-call
  // page pinning. Blocks outside it (the heap allocator) use ordinary reads and writes.
  const std::byte* fixed_base_ = nullptr;
  std::size_t fixed_size_ = 0;
  bool fixed_tried_ = false;
  uint64_t fixed_ops_ = 0;
  std::vector<std::unique_ptr<File>> files_;
  std::vector<QueueId> free_;
};

}  // namespace demi::storage
