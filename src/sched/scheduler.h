// The single-thread cooperative scheduler of one LibOS: ready coroutines, timers, and time.
// Nothing here blocks; the LibOS wait loop calls run_once() between device polls.
#pragma once

#include <coroutine>
#include <cstddef>
#include <optional>
#include <vector>

#include "sched/clock.h"
#include "sched/task.h"
#include "sched/timer.h"
#include "sched/wait_queue.h"

namespace demi::sched {

class Scheduler {
 public:
  explicit Scheduler(Clock& clock);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Clock& clock() const { return clock_; }
  // The time. Inside a pass of the LibOS loop (begin_pass .. end_pass) it is the time the pass
  // began, read from the clock once and shared by everything the pass runs: a packet's handling
  // reads the time a dozen times (timers, RTT, timestamps, ARP ages), and one clock read costs
  // 20 ns on this VM when it is quiet, 150 ns when it is loaded. A pass lasts microseconds, so
  // what it sees is that stale at most (Linux's TCP does the same with its per-batch
  // tcp_mstamp). Outside a pass (the application's calls, tests driving the scheduler
  // directly) it reads the clock.
  Instant now() const { return pass_depth_ > 0 ? pass_now_ : clock_.now(); }
  void begin_pass() {
    if (pass_depth_++ == 0) pass_now_ = clock_.now();
  }
  void end_pass() { --pass_depth_; }
  // When the latest pass began.
  Instant last_pass() const { return pass_now_; }

  // Takes ownership of a task; it first runs at the next run_once().
  void spawn(Task task);
  // Makes a suspended coroutine runnable.
  void make_ready(std::coroutine_handle<> h);

  // Fires due timers, then resumes every coroutine that was ready. True if anything ran.
  bool run_once();
  bool has_ready() const { return ready_head_ != ready_tail_; }
  std::optional<Instant> next_deadline() const;
  // Armed timers whose deadline is already behind `t`: how late the stack is running.
  std::size_t overdue_timers(Instant t) const;
  std::size_t live_tasks() const { return live_count_; }
  std::size_t armed_timers() const { return heap_.size(); }

  // co_await sched.sleep_until(t)
  class SleepAwaiter {
   public:
    SleepAwaiter(Scheduler& s, Instant t);
    bool await_ready() const noexcept { return deadline_ <= sched_.now(); }
    void await_suspend(std::coroutine_handle<> h);
    void await_resume() noexcept {}

   private:
    Scheduler& sched_;
    Instant deadline_;
    std::coroutine_handle<> handle_;
    Timer timer_;
  };
  SleepAwaiter sleep_until(Instant t) { return SleepAwaiter{*this, t}; }
  SleepAwaiter sleep_for(Duration d) { return SleepAwaiter{*this, now() + d}; }

 private:
  friend class Timer;
  friend struct Task::promise_type;
  void arm(Timer& t, Instant deadline);
  void cancel(Timer& t);
  bool before(const Timer* a, const Timer* b) const;
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void heap_remove(std::size_t i);
  void unlink_task(Task::promise_type& p);

  Clock& clock_;
  Instant pass_now_{};
  int pass_depth_ = 0;
  std::vector<Timer*> heap_;
  uint64_t timer_seq_ = 0;
  // Ready coroutines: a ring that grows (rarely) but never shrinks.
  std::vector<std::coroutine_handle<>> ready_;
  std::size_t ready_head_ = 0;
  std::size_t ready_tail_ = 0;
  Task::promise_type* live_ = nullptr;
  std::size_t live_count_ = 0;
  bool destroying_ = false;
};

}  // namespace demi::sched
