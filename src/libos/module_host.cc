#include "libos/module_host.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "base/log.h"
#include "sched/timer.h"

namespace demi {

ModuleHost::ModuleHost(LibOSOptions options)
    : config_(std::move(options.config)),
      own_clock_(options.clock ? nullptr : std::make_unique<sched::RealClock>()),
      clock_(options.clock ? options.clock : own_clock_.get()),
      sched_(std::make_unique<sched::Scheduler>(*clock_)),
      allocator_(std::make_unique<mem::HeapAllocator>()),
      qds_(static_cast<std::size_t>(config_.get_int("libos.max_queues"))),
      qts_(static_cast<std::size_t>(config_.get_int("libos.max_pending_ops"))) {
  if (!std::getenv("DEMI_LOG_LEVEL")) {
    log::Level l;
    if (log::parse_level(config_.get_string("libos.log_level"), &l)) log::set_level(l);
  }
  busy_poll_ = config_.get_bool("libos.busy_poll");
  stall_threshold_ = std::chrono::milliseconds(config_.get_int("libos.stall_warning_ms"));
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    DEMI_WARN("libos", "epoll_create1 failed ({}): wait() will busy-poll", std::strerror(errno));
    must_spin_ = true;
  }
}

ModuleHost::~ModuleHost() {
  // Operations are coroutines that refer to their modules: end them before the modules go.
  sched_.reset();
  modules_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

int ModuleHost::set_allocator(std::unique_ptr<mem::Allocator> a) {
  if (sgas_.live() > 0) {
    DEMI_ERROR("libos", "cannot replace the allocator while {} sgas are live", sgas_.live());
    return EBUSY;
  }
  // Blocks stay referenced after sgafree while a send queue or a device holds them: releasing
  // one into a destroyed allocator would write freed memory.
  if (allocator_ && allocator_->stats().live_blocks > 0) {
    DEMI_ERROR("libos", "cannot replace the allocator while {} of its blocks are still referenced",
               allocator_->stats().live_blocks);
    return EBUSY;
  }
  allocator_ = std::move(a);
  return 0;
}

int ModuleHost::install(std::unique_ptr<Module> m) {
  if (!m) return EINVAL;
  if (module(m->name())) {
    DEMI_ERROR("libos", "a module named '{}' is already installed", m->name());
    return EEXIST;
  }
  if (int rc = m->attach(*this)) {
    DEMI_ERROR("libos", "module '{}' failed to attach: {}", m->name(), std::strerror(rc));
    return rc;
  }
  int fd = m->wait_fd();
  if (fd < 0) {
    must_spin_ = true;
  } else if (epoll_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      DEMI_WARN("libos", "cannot watch module '{}' fd {} ({}): busy-polling", m->name(), fd, std::strerror(errno));
      must_spin_ = true;
    }
  }
  DEMI_DEBUG("libos", "installed module '{}'", m->name());
  modules_.push_back(std::move(m));
  return 0;
}

Module* ModuleHost::module(std::string_view name) const {
  for (const auto& m : modules_)
    if (m->name() == name) return m.get();
  return nullptr;
}

Module* ModuleHost::default_network() const {
  for (const auto& m : modules_)
    if (m->kind() == ModuleKind::Network) return m.get();
  return nullptr;
}

Module* ModuleHost::default_storage() const {
  for (const auto& m : modules_)
    if (m->kind() == ModuleKind::Storage) return m.get();
  return nullptr;
}

libos::Descriptor* ModuleHost::descriptor(QDesc qd, const char* call) {
  libos::Descriptor* d = qds_.get(qd);
  if (!d) {
    ++counters_.bad_qd;
    DEMI_DEBUG("libos", "{}: qd {} is not an open queue", call, qd);
  }
  return d;
}

Error ModuleHost::too_many_ops(const char* call) {
  DEMI_ERROR("libos", "{}: {} operations are pending, the most libos.max_pending_ops allows", call, qts_.live());
  return Error{ENOBUFS};
}

void ModuleHost::withdraw(QToken qt) {
  if (libos::Operation* op = qts_.find(qt)) {
    qds_.op_finished(op->qd);
    qts_.release(qt);
  }
}

// ---------------------------------------------------------------- completion

void ModuleHost::complete(QToken qt, Opcode opcode, int ret, const Sga* sga) {
  libos::Operation* op = qts_.find(qt);
  if (!op || op->done) {
    DEMI_ERROR("libos", "bug: a module completed qtoken {:#x} twice or after it was released", qt);
    if (sga) sgas_.free(*sga);
    return;
  }
  op->done = true;
  QResult& r = op->result;
  r.qd = op->qd;
  r.qt = qt;
  r.ret = ret;
  r.opcode = ret != 0 ? Opcode::Failed : opcode;
  if (opcode == Opcode::Failed && ret == 0) r.ret = EIO;  // a failure always carries an errno
  if (sga) r.sga = *sga;
  qds_.op_finished(op->qd);
  if (op->dropped) {
    if (sga && ret == 0) sgas_.free(*sga);
    qts_.release(qt);
  }
}

void ModuleHost::complete_accept(QToken qt, QueueId queue, const sockaddr_in& peer) {
  libos::Operation* op = qts_.find(qt);
  if (!op || op->done) {
    complete(qt, Opcode::Accept, 0, nullptr);  // logs the module bug
    return;
  }
  Module* m = op->module;
  if (op->dropped || !qds_.get(op->qd)) {
    // Nobody will ever see this connection (the token was dropped, or the listener closed):
    // close it in its module instead of leaving it open until the LibOS ends.
    m->close(queue);
    complete(qt, Opcode::Accept, ECANCELED, nullptr);
    return;
  }
  QDesc qd = qds_.add(m, queue);
  if (qd < 0) {
    DEMI_ERROR("libos", "accept: descriptor table full (libos.max_queues); closing the new connection");
    m->close(queue);
    complete(qt, Opcode::Failed, ENFILE, nullptr);
    return;
  }
  op->result.accept.qd = qd;
  op->result.accept.addr = peer;
  complete(qt, Opcode::Accept, 0, nullptr);
}

// ---------------------------------------------------------------- waiting

void ModuleHost::enter() {
  if (depth_++ > 0) return;
  sched::Instant now = clock_->now();
  if (!last_exit_ || stall_threshold_.count() == 0) return;
  sched::Duration gap = now - *last_exit_;
  if (gap <= stall_threshold_) return;
  // Only a stall while I/O is in flight matters: timers ran late and peers may retransmit.
  if (qts_.live() == 0 && sched_->armed_timers() == 0) return;
  std::size_t late = sched_->overdue_timers(now);
  sched::Duration lateness{};
  if (auto next = sched_->next_deadline(); next && *next < now) lateness = now - *next;
  ++counters_.stalls;
  counters_.late_timers += late;
  if (gap > counters_.longest_stall) counters_.longest_stall = gap;
  DEMI_WARN("libos",
            "stall: the application did not enter the libOS for {:.1f} ms (libos.stall_warning_ms = {}); "
            "{} timer(s) fired late, the latest by {:.1f} ms, and {} operation(s) were in flight; "
            "peers may have retransmitted meanwhile. Call wait/poll more often.",
            sched::to_ms(gap), stall_threshold_.count() / 1000000, late, sched::to_ms(lateness), qts_.live());
}

void ModuleHost::leave() {
  if (--depth_ == 0) last_exit_ = clock_->now();
}

void ModuleHost::io_starting() {
  // A stall is time away from the libOS while I/O is in flight. Time spent idle before this
  // operation (nothing in flight, or the libOS never entered yet) does not count.
  if (depth_ > 0) return;
  if (!last_exit_ || (qts_.live() == 0 && sched_->armed_timers() == 0)) last_exit_ = clock_->now();
}

bool ModuleHost::poll() {
  enter();
  bool progress = step();
  leave();
  return progress;
}

void ModuleHost::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Inside the libOS from here on, without the stall watchdog: the time the application spent
  // before it let the LibOS go is not a stall of this teardown.
  ++depth_;
  sched::Duration linger{0};
  for (const auto& m : modules_) {
    m->shutdown();
    linger = std::max(linger, std::chrono::duration_cast<sched::Duration>(m->shutdown_linger()));
  }
  auto lingering = [this] {
    return std::any_of(modules_.begin(), modules_.end(), [](const auto& m) { return m->lingering() > 0; });
  };
  const sched::Instant deadline = clock_->now() + linger;
  // A timer at the bound, so that whoever sleeps or moves time (idle, a simulation's idle hook)
  // wakes there and not at some later event.
  sched::Timer bound(*sched_, [] {});
  if (linger > sched::Duration{0}) bound.arm_at(deadline);
  while (lingering() && clock_->now() < deadline) {
    if (!step() && !idle(deadline)) break;  // nothing can happen any more (a simulation at its end)
  }
  std::size_t aborted = 0;
  for (const auto& m : modules_) aborted += m->abort_lingering();
  if (aborted > 0) step();  // the resets leave now
  --depth_;
}

bool ModuleHost::step() {
  // Ends the pass however step() is left, or now() would stay frozen at this pass's time.
  struct Pass {
    sched::Scheduler& s;
    explicit Pass(sched::Scheduler& sched) : s(sched) { s.begin_pass(); }
    ~Pass() { s.end_pass(); }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
  } pass(*sched_);
  bool progress = false;
  for (const auto& m : modules_) progress |= m->poll();
  if (sched_->run_once()) {
    progress = true;
    // What the coroutines just pushed goes out now, not one pass later.
    for (const auto& m : modules_) m->flush();
  }
  return progress;
}

bool ModuleHost::idle(std::optional<sched::Instant> deadline) {
  if (sched_->has_ready()) return true;
  std::optional<sched::Instant> wake = sched_->next_deadline();
  if (deadline && (!wake || *deadline < *wake)) wake = deadline;
  if (clock_->is_virtual()) {
    if (idle_hook_) return idle_hook_();
    if (!wake) return false;  // nothing can ever happen
    static_cast<sched::VirtualClock*>(clock_)->advance_to(*wake);
    return true;
  }
  if (must_spin_ || busy_poll_ || epoll_fd_ < 0) return true;
  // Every module can wake us through its fd: sleep in the kernel until one does or a timer is due.
  sched::Instant now = clock_->now();
  timespec ts{};
  timespec* tsp = nullptr;
  if (wake) {
    sched::Duration d = *wake > now ? *wake - now : sched::Duration{0};
    ts.tv_sec = static_cast<time_t>(d.count() / 1000000000);
    ts.tv_nsec = static_cast<long>(d.count() % 1000000000);
    tsp = &ts;
  }
  epoll_event ev[8];
  // epoll_pwait2 (Linux 5.11) sleeps with nanosecond precision; where the kernel (or valgrind)
  // does not know it, fall back to epoll_wait's milliseconds for good.
  static bool have_pwait2 = true;
  if (have_pwait2) {
    int n = ::epoll_pwait2(epoll_fd_, ev, 8, tsp, nullptr);
    if (n >= 0 || errno != ENOSYS) return true;
    have_pwait2 = false;
  }
  int ms = tsp ? static_cast<int>((ts.tv_sec * 1000) + (ts.tv_nsec + 999999) / 1000000) : -1;
  ::epoll_wait(epoll_fd_, ev, 8, ms);
  return true;
}

int ModuleHost::take(QToken qt, QResult* out) {
  libos::Operation* op = qts_.find(qt);
  int ret = op->result.ret;
  if (out) {
    *out = op->result;
  } else if (op->result.opcode == Opcode::Pop) {
    sgas_.free(op->result.sga);
  } else if (op->result.opcode == Opcode::Accept) {
    // A completed accept that was dropped: its connection has no owner; close it.
    QDesc qd = op->result.accept.qd;
    if (libos::Descriptor* d = qds_.get(qd)) {
      Module* m = d->module;
      QueueId q = d->queue;
      qds_.close(qd);
      m->close(q);
    }
  }
  qts_.release(qt);
  return ret;
}

int ModuleHost::wait_any(std::span<const QToken> qts, QResult* out, std::size_t* index, Timeout timeout) {
  if (qts.empty()) {
    ++counters_.bad_argument;
    return EINVAL;
  }
  for (QToken qt : qts) {
    libos::Operation* op = qts_.find(qt);
    if (!op || op->dropped) {
      ++counters_.bad_qtoken;
      DEMI_DEBUG("libos", "wait: qtoken {:#x} is unknown, dropped or already consumed", qt);
      if (out) *out = QResult{};
      return EINVAL;
    }
  }
  enter();
  std::optional<sched::Instant> deadline;
  if (timeout) deadline = clock_->now() + *timeout;
  int rc = ETIMEDOUT;
  bool polled = false;  // a zero timeout still polls once
  for (;;) {
    bool found = false;
    for (std::size_t i = 0; i < qts.size(); ++i) {
      if (qts_.find(qts[i])->done) {
        if (index) *index = i;
        rc = take(qts[i], out);
        found = true;
        break;
      }
    }
    if (found) break;
    if (polled && deadline && sched_->last_pass() >= *deadline) {  // the pass just run
      if (out) *out = QResult{};
      break;
    }
    polled = true;
    if (!step() && !idle(deadline)) {
      DEMI_ERROR("libos", "wait: nothing can complete the token(s) on this virtual clock");
      if (out) *out = QResult{};
      rc = EDEADLK;
      break;
    }
  }
  leave();
  return rc;
}

int ModuleHost::wait_all(std::span<const QToken> qts, std::span<QResult> out, Timeout timeout) {
  if (qts.empty() || out.size() < qts.size()) {
    ++counters_.bad_argument;
    return EINVAL;
  }
  for (std::size_t i = 0; i < qts.size(); ++i) {
    libos::Operation* op = qts_.find(qts[i]);
    // A token given twice would be consumed by its first mention and unknown at its second.
    bool repeated = std::find(qts.begin(), qts.begin() + static_cast<std::ptrdiff_t>(i), qts[i]) !=
                    qts.begin() + static_cast<std::ptrdiff_t>(i);
    if (!op || op->dropped || repeated) {
      ++counters_.bad_qtoken;
      return EINVAL;
    }
  }
  enter();
  std::optional<sched::Instant> deadline;
  if (timeout) deadline = clock_->now() + *timeout;
  int rc = 0;
  bool polled = false;  // a zero timeout still polls once
  for (;;) {
    bool all = true;
    for (QToken qt : qts) all = all && qts_.find(qt)->done;
    if (all) {
      for (std::size_t i = 0; i < qts.size(); ++i) {
        int r = take(qts[i], &out[i]);
        if (rc == 0) rc = r;
      }
      break;
    }
    if (polled && deadline && sched_->last_pass() >= *deadline) {  // the pass just run
      rc = ETIMEDOUT;  // nothing consumed: every token stays valid
      break;
    }
    polled = true;
    if (!step() && !idle(deadline)) {
      rc = EDEADLK;
      break;
    }
  }
  leave();
  return rc;
}

int ModuleHost::drop(QToken qt) {
  libos::Operation* op = qts_.find(qt);
  if (!op || op->dropped) {
    ++counters_.bad_qtoken;
    return EINVAL;
  }
  if (op->done) {
    take(qt, nullptr);
    return 0;
  }
  op->dropped = true;
  return 0;
}

}  // namespace demi
