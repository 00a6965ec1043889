#include "sched/scheduler.h"

#include <array>
#include <cassert>
#include <cstdlib>
#include <new>

namespace demi::sched {

// ---------------------------------------------------------------- frame pool

namespace {
constexpr std::size_t kClassBytes = 64;
constexpr std::size_t kClasses = 64;  // frames up to 4 KiB are pooled; larger go to the heap

struct FreeFrame {
  FreeFrame* next;
};

struct FrameLists {
  std::array<FreeFrame*, kClasses> heads{};
  std::size_t heap_allocations = 0;
  ~FrameLists() {
    for (FreeFrame*& head : heads) {
      while (head) {
        FreeFrame* n = head->next;
        ::operator delete(head);
        head = n;
      }
    }
  }
};

thread_local FrameLists frame_lists;

std::size_t class_of(std::size_t n) { return (n + kClassBytes - 1) / kClassBytes - 1; }
}  // namespace

void* FramePool::allocate(std::size_t size) {
  std::size_t c = class_of(size);
  if (c < kClasses) {
    if (FreeFrame* f = frame_lists.heads[c]) {
      frame_lists.heads[c] = f->next;
      return f;
    }
    ++frame_lists.heap_allocations;
    return ::operator new((c + 1) * kClassBytes);
  }
  ++frame_lists.heap_allocations;
  return ::operator new(size);
}

void FramePool::deallocate(void* p, std::size_t size) noexcept {
  std::size_t c = class_of(size);
  if (c < kClasses) {
    auto* f = static_cast<FreeFrame*>(p);
    f->next = frame_lists.heads[c];
    frame_lists.heads[c] = f;
    return;
  }
  ::operator delete(p);
}

std::size_t FramePool::heap_allocations() { return frame_lists.heap_allocations; }

// ---------------------------------------------------------------- tasks

Task::promise_type::~promise_type() {
  if (sched) sched->unlink_task(*this);
}

void Scheduler::unlink_task(Task::promise_type& p) {
  if (p.prev) p.prev->next = p.next;
  else live_ = p.next;
  if (p.next) p.next->prev = p.prev;
  p.prev = p.next = nullptr;
  p.sched = nullptr;
  --live_count_;
}

Scheduler::Scheduler(Clock& clock) : clock_(clock) {
  ready_.resize(64);
  heap_.reserve(64);
}

Scheduler::~Scheduler() {
  destroying_ = true;
  // Destroy suspended tasks: their frames' destructors unlink waiters and cancel timers.
  while (live_) {
    auto h = Task::Handle::from_promise(*live_);
    h.destroy();
  }
  for (Timer* t : heap_) t->index_ = Timer::kNotArmed;
  heap_.clear();
}

void Scheduler::spawn(Task task) {
  Task::Handle h = task.release();
  auto& p = h.promise();
  p.sched = this;
  p.next = live_;
  if (live_) live_->prev = &p;
  live_ = &p;
  ++live_count_;
  make_ready(h);
}

void Scheduler::make_ready(std::coroutine_handle<> h) {
  std::size_t cap = ready_.size();
  if ((ready_tail_ + 1) % cap == ready_head_) {
    // Full: grow to twice the size, keeping order.
    std::vector<std::coroutine_handle<>> bigger(cap * 2);
    std::size_t n = 0;
    for (std::size_t i = ready_head_; i != ready_tail_; i = (i + 1) % cap) bigger[n++] = ready_[i];
    ready_ = std::move(bigger);
    ready_head_ = 0;
    ready_tail_ = n;
    cap = ready_.size();
  }
  ready_[ready_tail_] = h;
  ready_tail_ = (ready_tail_ + 1) % cap;
}

bool Scheduler::run_once() {
  bool ran = false;
  Instant t = now();
  // Fire only timers armed before this run: one that a callback arms for a time already due
  // fires at the next run, so a timer re-armed for "now" cannot keep this loop busy forever.
  const uint64_t armed_before = timer_seq_;
  while (!heap_.empty() && heap_.front()->deadline_ <= t && heap_.front()->seq_ <= armed_before) {
    Timer* timer = heap_.front();
    heap_remove(0);
    ran = true;
    timer->on_fire_();
  }
  // Resume only what is ready now; what these make ready runs on the next call, so a pair of
  // coroutines that wake each other cannot starve device polling. Counted, not compared with
  // the tail's index: make_ready may grow the ring, which renumbers its slots.
  std::size_t n = (ready_tail_ + ready_.size() - ready_head_) % ready_.size();
  for (; n > 0; --n) {
    std::coroutine_handle<> h = ready_[ready_head_];
    ready_head_ = (ready_head_ + 1) % ready_.size();
    ran = true;
    h.resume();
  }
  return ran;
}

std::optional<Instant> Scheduler::next_deadline() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front()->deadline_;
}

std::size_t Scheduler::overdue_timers(Instant t) const {
  // Walk only the part of the heap that is due: a due node's parent is due too.
  std::size_t n = 0;
  std::vector<std::size_t> stack;
  if (!heap_.empty() && heap_[0]->deadline_ < t) stack.push_back(0);
  while (!stack.empty()) {
    std::size_t i = stack.back();
    stack.pop_back();
    ++n;
    for (std::size_t c = 2 * i + 1; c <= 2 * i + 2 && c < heap_.size(); ++c)
      if (heap_[c]->deadline_ < t) stack.push_back(c);
  }
  return n;
}

// ---------------------------------------------------------------- timers

bool Scheduler::before(const Timer* a, const Timer* b) const {
  if (a->deadline_ != b->deadline_) return a->deadline_ < b->deadline_;
  return a->seq_ < b->seq_;
}

void Scheduler::sift_up(std::size_t i) {
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(heap_[i], heap_[parent])) break;
    std::swap(heap_[i], heap_[parent]);
    heap_[i]->index_ = i;
    heap_[parent]->index_ = parent;
    i = parent;
  }
}

void Scheduler::sift_down(std::size_t i) {
  for (;;) {
    std::size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_.size() && before(heap_[l], heap_[m])) m = l;
    if (r < heap_.size() && before(heap_[r], heap_[m])) m = r;
    if (m == i) return;
    std::swap(heap_[i], heap_[m]);
    heap_[i]->index_ = i;
    heap_[m]->index_ = m;
    i = m;
  }
}

void Scheduler::heap_remove(std::size_t i) {
  Timer* t = heap_[i];
  t->index_ = Timer::kNotArmed;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (last == t) return;
  heap_[i] = last;
  last->index_ = i;
  sift_up(i);
  sift_down(last->index_);
}

void Scheduler::arm(Timer& t, Instant deadline) {
  if (destroying_) return;
  if (t.armed()) heap_remove(t.index_);
  t.deadline_ = deadline;
  t.seq_ = ++timer_seq_;
  t.index_ = heap_.size();
  heap_.push_back(&t);
  sift_up(t.index_);
}

void Scheduler::cancel(Timer& t) {
  if (t.armed()) heap_remove(t.index_);
}

Timer::Timer(Scheduler& sched, std::function<void()> on_fire) : sched_(sched), on_fire_(std::move(on_fire)) {}
Timer::~Timer() { cancel(); }
void Timer::arm_at(Instant deadline) { sched_.arm(*this, deadline); }
void Timer::arm_in(Duration d) { sched_.arm(*this, sched_.now() + d); }
void Timer::cancel() { sched_.cancel(*this); }

Scheduler::SleepAwaiter::SleepAwaiter(Scheduler& s, Instant t)
    : sched_(s), deadline_(t), timer_(s, [this] { sched_.make_ready(handle_); }) {}

void Scheduler::SleepAwaiter::await_suspend(std::coroutine_handle<> h) {
  handle_ = h;
  timer_.arm_at(deadline_);
}

// ---------------------------------------------------------------- wait queues

void WaitQueue::Waiter::unlink() {
  if (!queue) return;
  if (prev) prev->next = next;
  else queue->head_ = next;
  if (next) next->prev = prev;
  else queue->tail_ = prev;
  prev = next = nullptr;
  queue = nullptr;
}

WaitQueue::~WaitQueue() {
  while (head_) head_->unlink();
}

void WaitQueue::push(Waiter& w) {
  w.queue = this;
  w.prev = tail_;
  w.next = nullptr;
  if (tail_) tail_->next = &w;
  else head_ = &w;
  tail_ = &w;
}

void WaitQueue::wake(Waiter& w) {
  w.unlink();
  if (w.timeout) w.timeout->cancel();
  w.notified = true;
  sched_.make_ready(w.handle);
}

void WaitQueue::notify_one() {
  if (head_) wake(*head_);
}

void WaitQueue::notify_all() {
  while (head_) wake(*head_);
}

void WaitQueue::WaitAwaiter::await_suspend(std::coroutine_handle<> h) {
  w_.handle = h;
  q_.push(w_);
}

WaitQueue::TimedAwaiter::TimedAwaiter(WaitQueue& q, std::optional<Instant> deadline)
    : q_(q), deadline_(deadline), timer_(q.sched_, [this] {
        // Deadline first: leave the queue and resume with notified == false.
        w_.unlink();
        q_.sched_.make_ready(w_.handle);
      }) {}

void WaitQueue::TimedAwaiter::await_suspend(std::coroutine_handle<> h) {
  w_.handle = h;
  q_.push(w_);
  if (deadline_) {
    w_.timeout = &timer_;
    timer_.arm_at(*deadline_);
  }
}

}  // namespace demi::sched
