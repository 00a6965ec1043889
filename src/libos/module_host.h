// What a module may use of the LibOS it is installed in, and the LibOS's own state: the
// scheduler and clock, application memory (allocator + sga table), the configuration, the
// descriptor and qtoken tables, and the completion path. demi::LibOS is a thin face over it.
#pragma once

#include <demi/config.h>
#include <demi/libos.h>
#include <demi/module.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "libos/descriptor_table.h"
#include "libos/qtoken_table.h"
#include "mem/allocator.h"
#include "mem/sga_table.h"
#include "sched/clock.h"
#include "sched/scheduler.h"

namespace demi {

// Bad input answered with an errno: counted, never fatal.
struct LibOSCounters {
  uint64_t bad_qd = 0;
  uint64_t bad_qtoken = 0;
  uint64_t bad_sga = 0;
  uint64_t bad_argument = 0;
  uint64_t stalls = 0;            // stall warnings given
  uint64_t late_timers = 0;       // timers found overdue when the application came back
  sched::Duration longest_stall{};
};

class ModuleHost {
 public:
  explicit ModuleHost(LibOSOptions options);
  ~ModuleHost();

  sched::Scheduler& scheduler() { return *sched_; }
  sched::Clock& clock() { return *clock_; }
  const Config& config() const { return config_; }
  mem::SgaTable& sgas() { return sgas_; }
  mem::Allocator& allocator() { return *allocator_; }
  // Replaces the application-memory allocator (the DPDK runtime installs one over its region).
  // EBUSY once any Sga is live.
  int set_allocator(std::unique_ptr<mem::Allocator> a);
  LibOSCounters& counters() { return counters_; }
  libos::DescriptorTable& descriptors() { return qds_; }
  libos::QTokenTable& qtokens() { return qts_; }

  // For simulations: called by wait() on a virtual clock when nothing progressed, to let the
  // rest of the simulated world run and time advance. Returns false if nothing can happen.
  void set_idle_hook(std::function<bool()> hook) { idle_hook_ = std::move(hook); }

  // The completion path (Completion's methods land here).
  void complete(QToken qt, Opcode opcode, int ret, const Sga* sga);
  void complete_accept(QToken qt, QueueId queue, const sockaddr_in& peer);

  // ---- the LibOS, implemented (demi::LibOS forwards here)
  int install(std::unique_ptr<Module> module);
  Module* module(std::string_view name) const;
  Module* default_network() const;
  Module* default_storage() const;
  // The open descriptor, counting and logging a bad one.
  libos::Descriptor* descriptor(QDesc qd, const char* call);
  // Starts an operation on qd: makes its qtoken, then calls begin(descriptor, completion); an
  // errno from begin means it never started and the token is withdrawn. A template, so that the
  // fast path builds no std::function.
  template <typename Begin>
  Result<QToken> start(QDesc qd, Opcode op, const char* call, Begin&& begin) {
    libos::Descriptor* d = descriptor(qd, call);
    if (!d) return Error{EBADF};
    io_starting();
    QToken qt = qts_.create(qd, op);
    if (qt == 0) return too_many_ops(call);
    qts_.find(qt)->module = d->module;
    qds_.op_started(qd);
    if (int rc = begin(*d, Completion{this, qt})) {
      withdraw(qt);
      return Error{rc};
    }
    return qt;
  }
  int wait_any(std::span<const QToken> qts, QResult* out, std::size_t* index, Timeout timeout);
  int wait_all(std::span<const QToken> qts, std::span<QResult> out, Timeout timeout);
  int drop(QToken qt);
  bool step();  // one pass: poll modules, run timers and ready coroutines
  bool poll();  // step() as an entry into the libOS (LibOS::poll_once), seen by the stall watchdog
  // Teardown (LibOS::~LibOS): every module's shutdown(), then the stack runs until no module
  // has lingering() work or the longest shutdown_linger() passed, then abort_lingering().
  // Once only.
  void shutdown();

 private:
  Error too_many_ops(const char* call);
  void withdraw(QToken qt);
  void enter();
  void leave();
  void io_starting();
  bool idle(std::optional<sched::Instant> deadline);
  int take(QToken qt, QResult* out);

  Config config_;
  std::unique_ptr<sched::RealClock> own_clock_;
  sched::Clock* clock_;
  std::unique_ptr<sched::Scheduler> sched_;
  std::unique_ptr<mem::Allocator> allocator_;
  mem::SgaTable sgas_;
  libos::DescriptorTable qds_;
  libos::QTokenTable qts_;
  std::vector<std::unique_ptr<Module>> modules_;
  LibOSCounters counters_;
  std::function<bool()> idle_hook_;
  int epoll_fd_ = -1;       // every module's wait_fd, for sleeping when idle
  bool must_spin_ = false;  // a module has no wait_fd (kernel bypass)
  bool busy_poll_ = false;
  sched::Duration stall_threshold_{};
  std::optional<sched::Instant> last_exit_;
  int depth_ = 0;
  bool shut_down_ = false;
};

}  // namespace demi
