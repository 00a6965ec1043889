// demi::LibOS: the public C++ interface. A LibOS starts empty; the application installs the
// modules it wants and then opens queues. Every I/O call returns a qtoken at once; wait() runs
// the stack (polls devices, fires timers, resumes operations) until the token completes.
//
// A LibOS is single-threaded: all calls on one LibOS come from one thread. Several LibOS
// instances may live in one process (the simulator runs two hosts side by side).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include <demi/config.h>
#include <demi/module.h>
#include <demi/result.h>
#include <demi/types.h>

namespace demi {

namespace sched {
class Clock;
}

using Timeout = std::optional<std::chrono::nanoseconds>;  // nullopt = forever, 0 = poll once

struct LibOSOptions {
  Config config;
  sched::Clock* clock = nullptr;  // nullptr: the real clock. The simulator passes its own.
};

class LibOS {
 public:
  explicit LibOS(LibOSOptions options = {});
  ~LibOS();
  LibOS(const LibOS&) = delete;
  LibOS& operator=(const LibOS&) = delete;

  // Installs a module. The first network module installed is the default for socket().
  // EEXIST for a second module of the same name; the module's own errno if it cannot attach.
  int install(std::unique_ptr<Module> module);
  Module* module(std::string_view name) const;

  // Network queues. `module` names the module to use; empty = the default network module.
  Result<QDesc> socket(int domain, int type, int protocol, std::string_view module = {});
  int bind(QDesc qd, const sockaddr* addr, socklen_t len);
  int listen(QDesc qd, int backlog);
  Result<QToken> accept(QDesc qd);
  Result<QToken> connect(QDesc qd, const sockaddr* addr, socklen_t len);
  int getsockname(QDesc qd, sockaddr* addr, socklen_t* len);
  int getpeername(QDesc qd, sockaddr* addr, socklen_t* len);
  int setsockopt(QDesc qd, int level, int optname, const void* val, socklen_t len);
  int getsockopt(QDesc qd, int level, int optname, void* val, socklen_t* len);
  Result<QToken> pushto(QDesc qd, const Sga& sga, const sockaddr* addr, socklen_t len);

  // File queues, served by the storage module.
  Result<QDesc> open(const char* path, int flags, mode_t mode = 0);
  Result<off_t> lseek(QDesc qd, off_t offset, int whence);

  // Every queue.
  Result<QToken> push(QDesc qd, const Sga& sga);
  Result<QToken> pop(QDesc qd, std::size_t max_len = 0);
  int close(QDesc qd);
  bool is_qd_valid(QDesc qd) const;

  // Completion. Each returns: the operation's ret (0 on success) once it completed, with *out
  // filled and the token consumed; ETIMEDOUT if the timeout passed first (token still valid);
  // EINVAL for an unknown, dropped or already consumed token.
  int wait(QToken qt, QResult* out, Timeout timeout = std::nullopt);
  int wait_any(std::span<const QToken> qts, QResult* out, std::size_t* index, Timeout timeout = std::nullopt);
  // Waits for every token; fills out[i] for each; returns the first non-zero ret, or 0.
  int wait_all(std::span<const QToken> qts, std::span<QResult> out, Timeout timeout = std::nullopt);
  // Forgets a token: its result, when it comes, is discarded (and a popped Sga freed).
  int drop(QToken qt);

  // Application memory. An Sga from sgaalloc or a completed pop is freed exactly once.
  Result<Sga> sgaalloc(std::size_t size);
  Result<Sga> sgaalloc(std::span<const std::size_t> segment_sizes);
  int sgafree(const Sga& sga);

  // Runs the stack once without waiting for anything: for simulations that drive hosts in turn.
  bool poll_once();
  const Config& config() const;
  ModuleHost& host();

 private:
  std::unique_ptr<ModuleHost> host_;
};

}  // namespace demi
