// A Module does the I/O behind some queues: catnip (our inet stack), posix (kernel sockets),
// storage (files). An application builds modules and installs them into a LibOS; the LibOS's
// descriptor table maps each qd to (module, module-private queue id).
//
// Operations that complete later (push, pop, accept, connect) receive a Completion; the module
// calls exactly one of its *_done methods exactly once, from its own coroutine, when the
// operation ends. Calls that return an int return 0 or an errno, and an errno return means the
// operation never started (the Completion is then dropped unused).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <demi/result.h>
#include <demi/types.h>

namespace demi {

class ModuleHost;  // what a module may use of its LibOS: scheduler, memory, config, completions
using QueueId = uint32_t;

enum class ModuleKind { Network, Storage };

class Completion {
 public:
  Completion() = default;
  Completion(ModuleHost* host, QToken qt) : host_(host), qt_(qt) {}
  QToken qtoken() const { return qt_; }
  explicit operator bool() const { return host_ != nullptr; }

  void push_done(int ret);
  void pop_done(const Sga& sga);  // the Sga is now the application's
  void accept_done(QueueId queue, const sockaddr_in& peer);
  void connect_done(int ret);
  void fail(int err);  // any operation: completes with opcode Failed and ret = err

 private:
  ModuleHost* host_ = nullptr;
  QToken qt_ = 0;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string_view name() const = 0;
  virtual ModuleKind kind() const = 0;

  // Called once by LibOS::install. 0 or an errno (the install then fails with it).
  virtual int attach(ModuleHost& host) = 0;
  // Does whatever I/O is ready without blocking. True if anything progressed.
  virtual bool poll() = 0;
  // Hands to the device what the coroutines run since the last poll() produced (frames queued
  // for a burst), without receiving. The LibOS calls it after running them, so that an echo
  // pushed from a completion leaves in the same pass rather than at the next poll.
  virtual void flush() {}
  // A file descriptor that becomes readable when poll() has work, or -1 for a module that must
  // be busy-polled (a kernel-bypass device). Lets an idle LibOS sleep in the kernel.
  virtual int wait_fd() const { return -1; }

  // Network queues. Defaults answer ENOTSUP.
  virtual Result<QueueId> socket(int domain, int type, int protocol);
  virtual int bind(QueueId q, const sockaddr* addr, socklen_t len);
  virtual int listen(QueueId q, int backlog);
  virtual int accept(QueueId q, Completion done);
  virtual int connect(QueueId q, const sockaddr* addr, socklen_t len, Completion done);
  virtual int getsockname(QueueId q, sockaddr* addr, socklen_t* len);
  virtual int getpeername(QueueId q, sockaddr* addr, socklen_t* len);
  virtual int setsockopt(QueueId q, int level, int optname, const void* val, socklen_t len);
  virtual int getsockopt(QueueId q, int level, int optname, void* val, socklen_t* len);
  virtual int pushto(QueueId q, const Sga& sga, const sockaddr* addr, socklen_t len, Completion done);

  // File queues. Defaults answer ENOTSUP.
  virtual Result<QueueId> open(const char* path, int flags, mode_t mode);
  virtual Result<off_t> lseek(QueueId q, off_t offset, int whence);

  // Every queue. The module borrows `sga` until `done` completes.
  virtual int push(QueueId q, const Sga& sga, Completion done) = 0;
  // max_len 0 means "whatever is there, up to the module's receive size".
  virtual int pop(QueueId q, std::size_t max_len, Completion done) = 0;
  // Pending operations on the queue complete with ECANCELED; the queue id may then be reused.
  virtual int close(QueueId q) = 0;

  // Teardown, when the LibOS is destroyed (through dmtr: at process exit). A kernel keeps
  // sending what a process wrote after it exits; a module whose stack runs only inside the
  // libOS must do it before it goes. So the LibOS first calls shutdown() on every module, which
  // closes what the application left open, as an exit closes its descriptors. While any module
  // then reports lingering() work (closed connections whose data or FIN the peer has not yet
  // acknowledged), the LibOS keeps polling, firing timers and running operations, for at most
  // the longest shutdown_linger() of its modules; then abort_lingering() ends what is left (a
  // RST each) and logs how many it ended and why. The defaults: nothing to finish.
  virtual void shutdown() {}
  virtual std::chrono::nanoseconds shutdown_linger() const { return std::chrono::nanoseconds{0}; }
  virtual std::size_t lingering() const { return 0; }
  virtual std::size_t abort_lingering() { return 0; }
};

}  // namespace demi
