// Coroutines waiting for a condition (data arrived, buffer space freed, connection established).
// Waiters are intrusive nodes that live in the waiting coroutine's frame: no allocation.
#pragma once

#include <coroutine>
#include <optional>

#include "sched/clock.h"
#include "sched/timer.h"

namespace demi::sched {

class Scheduler;

class WaitQueue {
 public:
  explicit WaitQueue(Scheduler& sched) : sched_(sched) {}
  ~WaitQueue();
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  struct Waiter {
    std::coroutine_handle<> handle;
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    WaitQueue* queue = nullptr;
    bool notified = false;
    Timer* timeout = nullptr;  // cancelled when the waiter is notified first
    void unlink();
  };

  // co_await q.wait(): resumes after a notify.
  class WaitAwaiter {
   public:
    explicit WaitAwaiter(WaitQueue& q) : q_(q) {}
    ~WaitAwaiter() { w_.unlink(); }
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h);
    void await_resume() noexcept {}

   private:
    WaitQueue& q_;
    Waiter w_;
  };

  // co_await q.wait_until(t): true if notified, false if the deadline passed first.
  class TimedAwaiter {
   public:
    TimedAwaiter(WaitQueue& q, std::optional<Instant> deadline);
    ~TimedAwaiter() { w_.unlink(); }
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h);
    bool await_resume() noexcept { return w_.notified; }

   private:
    WaitQueue& q_;
    std::optional<Instant> deadline_;
    Waiter w_;
    Timer timer_;
  };

  WaitAwaiter wait() { return WaitAwaiter{*this}; }
  TimedAwaiter wait_until(std::optional<Instant> deadline) { return TimedAwaiter{*this, deadline}; }

  void notify_one();
  void notify_all();
  bool empty() const { return head_ == nullptr; }

 private:
  void push(Waiter& w);
  void wake(Waiter& w);
  Scheduler& sched_;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

}  // namespace demi::sched
