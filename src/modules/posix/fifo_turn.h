// FifoTurn: lets the operations of one direction of a socket (its pops and accepts, or its
// pushes) run one at a time, in the order they were started. Only the operation holding the turn
// touches the socket in that direction, so concurrent pops are served first come, first served
// and the bytes of concurrent pushes never interleave.
//
// The turn is handed straight to the oldest waiter on release instead of being set free: a newer
// operation that happens to run before the woken one would otherwise find the turn free and
// overtake it. Waiters are intrusive nodes in the waiting coroutines' frames (no allocation).
#pragma once

#include <coroutine>

#include "sched/wait_queue.h"

namespace demi::posix {

class FifoTurn {
 public:
  explicit FifoTurn(sched::Scheduler& sched) : waiters_(sched) {}

  // co_await turn.acquire(): resumes holding the turn, or because wake_all() was called (the
  // caller tells the two apart by its own state, e.g. its socket was closed).
  class Acquire {
   public:
    explicit Acquire(FifoTurn& t) : turn_(t), wait_(t.waiters_) {}
    bool await_ready() noexcept {
      if (turn_.held_) return false;
      turn_.held_ = true;
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) { wait_.await_suspend(h); }
    void await_resume() noexcept {}

   private:
    FifoTurn& turn_;
    sched::WaitQueue::WaitAwaiter wait_;
  };
  Acquire acquire() { return Acquire{*this}; }

  // Passes the turn to the oldest waiter, or frees it if nobody waits.
  void release() {
    if (waiters_.empty())
      held_ = false;
    else
      waiters_.notify_one();
  }

  // Resumes every waiter (the socket is going away); the turn is meaningless afterwards.
  void wake_all() { waiters_.notify_all(); }

 private:
  sched::WaitQueue waiters_;
  bool held_ = false;
};

}  // namespace demi::posix
