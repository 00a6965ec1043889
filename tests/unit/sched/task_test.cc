// Tasks on the scheduler: when spawned tasks first run, in what order, what a run resumes,
// coroutines sleeping on virtual time, and a scheduler destroyed with tasks still suspended.
#include <gtest/gtest.h>

#include <coroutine>
#include <memory>
#include <string>
#include <vector>

#include "sched/scheduler.h"

namespace demi::sched {
namespace {

using namespace std::chrono_literals;

// co_await Yield{s}: give the other ready coroutines a turn; resumes at the next run_once.
struct Yield {
  Scheduler& sched;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const { sched.make_ready(h); }
  void await_resume() const noexcept {}
};

Task record(std::vector<int>& log, int id) {
  log.push_back(id);
  co_return;
}

Task record_steps(Scheduler& s, std::vector<std::string>& log, std::string name, int steps) {
  for (int i = 0; i < steps; ++i) {
    log.push_back(name + std::to_string(i));
    co_await Yield{s};
  }
}

Task spawn_many(Scheduler& s, std::vector<int>& log, int first, int count) {
  log.push_back(-1);
  for (int i = 0; i < count; ++i) s.spawn(record(log, first + i));
  co_return;
}

Task sleep_then_record(Scheduler& s, Duration d, std::vector<int>& log, int id) {
  co_await s.sleep_for(d);
  log.push_back(id);
}

Task sleep_until_then_record(Scheduler& s, Instant t, std::vector<int>& log, int id) {
  co_await s.sleep_until(t);
  log.push_back(id);
}

Task tick(Scheduler& s, Duration period, int times, std::vector<Instant>& woke) {
  for (int i = 0; i < times; ++i) {
    co_await s.sleep_for(period);
    woke.push_back(s.now());
  }
}

class TaskTest : public ::testing::Test {
 protected:
  Instant at(Duration d) const { return Instant{} + d; }
  VirtualClock clock;
  Scheduler sched{clock};
  std::vector<int> log;
};

TEST_F(TaskTest, SpawnedTaskRunsAtTheNextRunOnceNotBefore) {
  sched.spawn(record(log, 1));
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(sched.live_tasks(), 1u);
  EXPECT_TRUE(sched.has_ready());
  EXPECT_TRUE(sched.run_once());
  EXPECT_EQ(log, std::vector<int>{1});
  EXPECT_EQ(sched.live_tasks(), 0u);  // finished tasks free themselves
  EXPECT_FALSE(sched.has_ready());
  EXPECT_FALSE(sched.run_once());
}

TEST_F(TaskTest, TasksFirstRunInSpawnOrder) {
  for (int i = 0; i < 10; ++i) sched.spawn(record(log, i));
  EXPECT_EQ(sched.live_tasks(), 10u);
  sched.run_once();
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(TaskTest, ATaskThatIsNeverSpawnedIsDestroyedWithoutRunning) {
  {
    Task t = record(log, 1);
    Task moved = std::move(t);
  }
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(sched.live_tasks(), 0u);
  EXPECT_FALSE(sched.run_once());
}

TEST_F(TaskTest, YieldingTasksTakeTurnsOnePassPerRun) {
  std::vector<std::string> steps;
  sched.spawn(record_steps(sched, steps, "a", 3));
  sched.spawn(record_steps(sched, steps, "b", 2));
  sched.run_once();
  EXPECT_EQ(steps, (std::vector<std::string>{"a0", "b0"}));
  sched.run_once();
  EXPECT_EQ(steps, (std::vector<std::string>{"a0", "b0", "a1", "b1"}));
  sched.run_once();
  EXPECT_EQ(steps, (std::vector<std::string>{"a0", "b0", "a1", "b1", "a2"}));
  EXPECT_EQ(sched.live_tasks(), 1u);  // a's last resume ends it at the next run
  sched.run_once();
  EXPECT_EQ(sched.live_tasks(), 0u);
  EXPECT_FALSE(sched.run_once());
}

TEST_F(TaskTest, TasksSpawnedDuringARunWaitForTheNextRun) {
  sched.spawn(spawn_many(sched, log, 100, 3));
  sched.run_once();
  EXPECT_EQ(log, std::vector<int>{-1});
  sched.run_once();
  EXPECT_EQ(log, (std::vector<int>{-1, 100, 101, 102}));
}

// A run resumes exactly what was ready when it started, even when what it resumes makes so much
// more ready that the ready ring must grow. (Before the fix, the ring's growth renumbered its
// slots under run_once, which then resumed a task spawned during the run in the same run.)
TEST_F(TaskTest, ReadyRingGrowingDuringARunDoesNotChangeWhatTheRunResumes) {
  sched.spawn(spawn_many(sched, log, 1000, 200));  // 200 more: the ring (64 at start) grows
  for (int i = 0; i < 9; ++i) sched.spawn(record(log, i));
  sched.run_once();
  EXPECT_EQ(log, (std::vector<int>{-1, 0, 1, 2, 3, 4, 5, 6, 7, 8}));
  sched.run_once();
  ASSERT_EQ(log.size(), 210u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(log[static_cast<std::size_t>(10 + i)], 1000 + i);
  EXPECT_FALSE(sched.run_once());
  EXPECT_EQ(sched.live_tasks(), 0u);
}

TEST_F(TaskTest, ManyReadyTasksKeepTheirOrderAcrossRingGrowth) {
  // The ring wraps before it grows: make its head move first.
  for (int i = 0; i < 50; ++i) sched.spawn(record(log, -2));
  sched.run_once();
  log.clear();
  for (int i = 0; i < 1000; ++i) sched.spawn(record(log, i));
  sched.run_once();
  ASSERT_EQ(log.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(log[static_cast<std::size_t>(i)], i);
}

TEST_F(TaskTest, SleepingTaskWakesAtItsDeadline) {
  sched.spawn(sleep_then_record(sched, 10ms, log, 1));
  sched.run_once();
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(sched.live_tasks(), 1u);
  EXPECT_EQ(sched.armed_timers(), 1u);
  EXPECT_EQ(sched.next_deadline(), at(10ms));
  clock.advance(9ms);
  sched.run_once();
  EXPECT_TRUE(log.empty());
  clock.advance(1ms);
  sched.run_once();  // the timer makes the task ready, and the same run resumes it
  EXPECT_EQ(log, std::vector<int>{1});
  EXPECT_EQ(sched.live_tasks(), 0u);
  EXPECT_EQ(sched.armed_timers(), 0u);
}

TEST_F(TaskTest, SleepUntilAPastInstantDoesNotSuspend) {
  clock.advance(5ms);
  sched.spawn(sleep_until_then_record(sched, at(1ms), log, 1));
  sched.spawn(sleep_then_record(sched, 0ms, log, 2));
  sched.run_once();
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
  EXPECT_EQ(sched.armed_timers(), 0u);
}

TEST_F(TaskTest, SleepersWakeInDeadlineOrderTiesInSleepOrder) {
  sched.spawn(sleep_then_record(sched, 30ms, log, 1));
  sched.spawn(sleep_then_record(sched, 10ms, log, 2));
  sched.spawn(sleep_then_record(sched, 20ms, log, 3));
  sched.spawn(sleep_then_record(sched, 10ms, log, 4));
  sched.run_once();
  clock.advance(1s);
  sched.run_once();
  EXPECT_EQ(log, (std::vector<int>{2, 4, 3, 1}));
}

TEST_F(TaskTest, PeriodicSleepFollowsVirtualTime) {
  std::vector<Instant> woke;
  sched.spawn(tick(sched, 7ms, 4, woke));
  sched.run_once();
  // Drive time the way a simulation does: jump to the next deadline, run.
  while (auto next = sched.next_deadline()) {
    clock.advance_to(*next);
    sched.run_once();
  }
  EXPECT_EQ(woke, (std::vector<Instant>{at(7ms), at(14ms), at(21ms), at(28ms)}));
  EXPECT_EQ(sched.live_tasks(), 0u);
}

// ---------------------------------------------------------------- destruction

// Counts the live copies of itself. Passed by value, a copy lives in the coroutine frame from
// the moment the task is created, so `live` tells how many frames still exist.
struct Tracked {
  int* live;
  explicit Tracked(int* l) : live(l) { ++*live; }
  Tracked(const Tracked& o) : live(o.live) { ++*live; }
  Tracked& operator=(const Tracked&) = delete;
  ~Tracked() { --*live; }
};

Task guarded_sleep(Scheduler& s, Tracked, int& finished) {
  co_await s.sleep_for(1h);
  ++finished;
}

Task guarded_wait(WaitQueue& q, Tracked, int& finished) {
  co_await q.wait();
  ++finished;
}

Task guarded_timed_wait(WaitQueue& q, Instant deadline, Tracked, int& finished) {
  co_await q.wait_until(deadline);
  ++finished;
}

Task guarded_yield_forever(Scheduler& s, Tracked, int& finished) {
  while (finished == 0) co_await Yield{s};
  ++finished;
}

TEST(SchedulerDestruction, DestroysEverySuspendedTaskAndItsTimers) {
  VirtualClock clock;
  int live = 0, finished = 0;
  auto sched = std::make_unique<Scheduler>(clock);
  auto queue = std::make_unique<WaitQueue>(*sched);
  for (int i = 0; i < 3; ++i) sched->spawn(guarded_sleep(*sched, Tracked{&live}, finished));
  for (int i = 0; i < 3; ++i) sched->spawn(guarded_wait(*queue, Tracked{&live}, finished));
  for (int i = 0; i < 3; ++i) sched->spawn(guarded_timed_wait(*queue, Instant{} + 1h, Tracked{&live}, finished));
  sched->spawn(guarded_yield_forever(*sched, Tracked{&live}, finished));
  sched->run_once();
  // Spawned but never run: still only at its initial suspend point.
  for (int i = 0; i < 2; ++i) sched->spawn(guarded_sleep(*sched, Tracked{&live}, finished));
  EXPECT_EQ(sched->live_tasks(), 12u);
  EXPECT_EQ(sched->armed_timers(), 6u);
  EXPECT_FALSE(queue->empty());
  EXPECT_EQ(live, 12);

  sched.reset();  // the queue outlives the scheduler: the frames must leave it
  EXPECT_EQ(live, 0);
  EXPECT_EQ(finished, 0);
  EXPECT_TRUE(queue->empty());
  // Under ASan, a frame that was not destroyed is a reported leak.
}

TEST(SchedulerDestruction, WaitQueueDestroyedBeforeTheScheduler) {
  VirtualClock clock;
  int live = 0, finished = 0;
  auto sched = std::make_unique<Scheduler>(clock);
  auto queue = std::make_unique<WaitQueue>(*sched);
  for (int i = 0; i < 2; ++i) sched->spawn(guarded_wait(*queue, Tracked{&live}, finished));
  sched->spawn(guarded_timed_wait(*queue, Instant{} + 1h, Tracked{&live}, finished));
  sched->run_once();
  queue.reset();  // waiters are unlinked; their coroutines stay suspended
  EXPECT_EQ(live, 3);
  sched.reset();
  EXPECT_EQ(live, 0);
  EXPECT_EQ(finished, 0);
}

TEST(SchedulerDestruction, ReadyButNotYetResumedTasksAreDestroyed) {
  VirtualClock clock;
  int live = 0, finished = 0;
  auto sched = std::make_unique<Scheduler>(clock);
  auto queue = std::make_unique<WaitQueue>(*sched);
  sched->spawn(guarded_wait(*queue, Tracked{&live}, finished));
  sched->spawn(guarded_sleep(*sched, Tracked{&live}, finished));
  sched->run_once();
  queue->notify_all();  // ready, not resumed
  clock.advance(2h);    // the sleeper's timer is due, not fired
  EXPECT_TRUE(sched->has_ready());
  EXPECT_EQ(live, 2);
  queue.reset();
  sched.reset();
  EXPECT_EQ(live, 0);
  EXPECT_EQ(finished, 0);
}

}  // namespace
}  // namespace demi::sched
