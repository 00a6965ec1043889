// WaitQueue: notify_one / notify_all in FIFO order, and timed waits where either the notify or
// the deadline comes first — each waiter is resumed exactly once, whichever wins.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "sched/scheduler.h"

namespace demi::sched {
namespace {

using namespace std::chrono_literals;

Task wait_then_record(WaitQueue& q, std::vector<int>& log, int id) {
  co_await q.wait();
  log.push_back(id);
}

// Records (id, notified) each time it resumes from its timed wait.
struct Wake {
  int id;
  bool notified;
  bool operator==(const Wake&) const = default;
};

Task timed_wait(WaitQueue& q, std::optional<Instant> deadline, std::vector<Wake>& log, int id) {
  bool notified = co_await q.wait_until(deadline);
  log.push_back({id, notified});
}

// Waits on the queue `rounds` times, recording each wake-up.
Task wait_repeatedly(WaitQueue& q, int rounds, std::vector<int>& log, int id) {
  for (int i = 0; i < rounds; ++i) {
    co_await q.wait();
    log.push_back(id);
  }
}

class WaitQueueTest : public ::testing::Test {
 protected:
  Instant at(Duration d) const { return Instant{} + d; }
  void run_at(Duration d) {
    clock.advance_to(at(d));
    sched.run_once();
  }
  VirtualClock clock;
  Scheduler sched{clock};
  WaitQueue queue{sched};
  std::vector<int> log;
  std::vector<Wake> wakes;
};

TEST_F(WaitQueueTest, NotifyOnAnEmptyQueueDoesNothing) {
  EXPECT_TRUE(queue.empty());
  queue.notify_one();
  queue.notify_all();
  EXPECT_FALSE(sched.has_ready());
}

TEST_F(WaitQueueTest, WaiterSleepsUntilNotified) {
  sched.spawn(wait_then_record(queue, log, 1));
  sched.run_once();
  EXPECT_FALSE(queue.empty());
  sched.run_once();
  clock.advance(1h);
  sched.run_once();
  EXPECT_TRUE(log.empty());
  queue.notify_one();
  EXPECT_TRUE(queue.empty());
  EXPECT_TRUE(log.empty());  // made ready, not resumed inside notify
  sched.run_once();
  EXPECT_EQ(log, std::vector<int>{1});
  EXPECT_EQ(sched.live_tasks(), 0u);
}

TEST_F(WaitQueueTest, NotifyOneWakesTheOldestWaiterOnly) {
  for (int i = 1; i <= 3; ++i) sched.spawn(wait_then_record(queue, log, i));
  sched.run_once();
  queue.notify_one();
  sched.run_once();
  EXPECT_EQ(log, std::vector<int>{1});
  queue.notify_one();
  queue.notify_one();
  sched.run_once();
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(queue.empty());
}

TEST_F(WaitQueueTest, NotifyAllWakesEveryWaiterInOrder) {
  for (int i = 1; i <= 5; ++i) sched.spawn(wait_then_record(queue, log, i));
  sched.run_once();
  queue.notify_all();
  EXPECT_TRUE(queue.empty());
  sched.run_once();
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST_F(WaitQueueTest, NotifyWakesOnlyThoseAlreadyWaiting) {
  sched.spawn(wait_repeatedly(queue, 2, log, 1));
  sched.run_once();
  queue.notify_all();
  sched.run_once();  // 1 wakes, records, and waits again
  EXPECT_EQ(log, std::vector<int>{1});
  EXPECT_FALSE(queue.empty());
  sched.run_once();
  EXPECT_EQ(log, std::vector<int>{1});  // not woken by the earlier notify
  queue.notify_all();
  sched.run_once();
  EXPECT_EQ(log, (std::vector<int>{1, 1}));
}

TEST_F(WaitQueueTest, TimedWaitNotifiedBeforeTheDeadlineResumesOnceWithTrue) {
  sched.spawn(timed_wait(queue, at(10ms), wakes, 1));
  sched.run_once();
  EXPECT_EQ(sched.armed_timers(), 1u);
  clock.advance(3ms);
  queue.notify_one();
  EXPECT_EQ(sched.armed_timers(), 0u);  // the timeout is cancelled at once
  sched.run_once();
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, true}}));
  // Past the old deadline: the timer must not resume the (finished) coroutine again.
  run_at(20ms);
  run_at(30ms);
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, true}}));
  EXPECT_EQ(sched.live_tasks(), 0u);
}

TEST_F(WaitQueueTest, TimedWaitNotifiedAndDeadlinePassedBeforeItResumes) {
  // Notified, then time jumps past the deadline before the waiter got to run.
  sched.spawn(timed_wait(queue, at(10ms), wakes, 1));
  sched.run_once();
  queue.notify_one();
  run_at(50ms);
  sched.run_once();
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, true}}));
}

TEST_F(WaitQueueTest, TimedWaitDeadlineFirstResumesOnceWithFalse) {
  sched.spawn(timed_wait(queue, at(10ms), wakes, 1));
  sched.spawn(wait_then_record(queue, log, 2));
  sched.run_once();
  run_at(9ms);
  EXPECT_TRUE(wakes.empty());
  run_at(10ms);
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, false}}));
  // The timed-out waiter has left the queue: a notify now reaches the next one.
  queue.notify_one();
  sched.run_once();
  EXPECT_EQ(log, std::vector<int>{2});
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, false}}));
  EXPECT_TRUE(queue.empty());
}

TEST_F(WaitQueueTest, TimedOutWaiterIsNotResumedAgainByANotify) {
  sched.spawn(timed_wait(queue, at(10ms), wakes, 1));
  sched.run_once();
  clock.advance_to(at(10ms));
  sched.run_once();
  queue.notify_all();
  EXPECT_FALSE(sched.has_ready());
  sched.run_once();
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, false}}));
}

TEST_F(WaitQueueTest, TimedWaitAndNotifyAtTheSameInstantNotifyArmedFirst) {
  // A timer armed before the waiter's timeout, due at the same instant, notifies: it fires first,
  // so the waiter is notified and its timeout (cancelled inside the firing loop) never fires.
  Timer notifier(sched, [&] { queue.notify_one(); });
  notifier.arm_at(at(10ms));
  sched.spawn(timed_wait(queue, at(10ms), wakes, 1));
  sched.run_once();
  run_at(10ms);
  sched.run_once();
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, true}}));
  EXPECT_EQ(sched.armed_timers(), 0u);
}

TEST_F(WaitQueueTest, TimedWaitAndNotifyAtTheSameInstantTimeoutArmedFirst) {
  sched.spawn(timed_wait(queue, at(10ms), wakes, 1));
  sched.run_once();
  Timer notifier(sched, [&] { queue.notify_one(); });
  notifier.arm_at(at(10ms));
  run_at(10ms);
  sched.run_once();
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, false}}));
}

TEST_F(WaitQueueTest, TimedWaitWithoutDeadlineWaitsForNotify) {
  sched.spawn(timed_wait(queue, std::nullopt, wakes, 1));
  sched.run_once();
  EXPECT_EQ(sched.armed_timers(), 0u);
  run_at(24h);
  EXPECT_TRUE(wakes.empty());
  queue.notify_one();
  sched.run_once();
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, true}}));
}

TEST_F(WaitQueueTest, TimedWaitWithADeadlineAlreadyPast) {
  clock.advance(5ms);
  sched.spawn(timed_wait(queue, at(1ms), wakes, 1));
  sched.run_once();  // suspends and arms a timer that is already due
  sched.run_once();
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, false}}));
  EXPECT_TRUE(queue.empty());
}

TEST_F(WaitQueueTest, MixedTimedWaitersEachResumeExactlyOnce) {
  // Waiters 1 (deadline 10 ms), 3 (20 ms), 4 (none), 5 (40 ms), then 2 (30 ms) at 15 ms. 1 times
  // out; notify_one at 15 ms reaches 3, the oldest still waiting; notify_all at 25 ms the rest.
  sched.spawn(timed_wait(queue, at(10ms), wakes, 1));
  sched.spawn(timed_wait(queue, at(20ms), wakes, 3));
  sched.spawn(timed_wait(queue, std::nullopt, wakes, 4));
  sched.run_once();
  sched.spawn(timed_wait(queue, at(40ms), wakes, 5));
  sched.run_once();
  run_at(10ms);
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, false}}));
  clock.advance_to(at(15ms));
  sched.spawn(timed_wait(queue, at(30ms), wakes, 2));
  sched.run_once();
  // Queue order now: 3, 4, 5, 2.
  queue.notify_one();
  run_at(16ms);
  run_at(20ms);
  run_at(25ms);
  queue.notify_all();
  for (int ms = 26; ms <= 60; ms += 2) run_at(std::chrono::milliseconds(ms));
  EXPECT_EQ(wakes, (std::vector<Wake>{{1, false}, {3, true}, {4, true}, {5, true}, {2, true}}));
  EXPECT_EQ(sched.live_tasks(), 0u);
  EXPECT_EQ(sched.armed_timers(), 0u);
}

}  // namespace
}  // namespace demi::sched
