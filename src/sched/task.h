// sched::Task: a fire-and-forget coroutine owned by a Scheduler. Operations (push, pop, accept,
// connect, ...) are Tasks; each completes its qtoken exactly once and then its frame goes back
// to the frame pool.
#pragma once

#include <coroutine>
#include <cstdlib>

#include "sched/frame_pool.h"

namespace demi::sched {

class Scheduler;

class Task {
 public:
  struct promise_type {
    Scheduler* sched = nullptr;
    promise_type* prev = nullptr;  // intrusive list of live tasks, so a Scheduler can destroy
    promise_type* next = nullptr;  // what is still suspended when it goes away

    Task get_return_object() { return Task{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    // demi code does not throw; an exception escaping an operation is a bug.
    void unhandled_exception() noexcept { std::abort(); }
    ~promise_type();

    static void* operator new(std::size_t n) { return FramePool::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { FramePool::deallocate(p, n); }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task(Task&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Task& operator=(Task&&) = delete;
  Task(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();  // never spawned
  }
  Handle release() {
    Handle h = h_;
    h_ = nullptr;
    return h;
  }

 private:
  explicit Task(Handle h) : h_(h) {}
  Handle h_;
};

}  // namespace demi::sched
