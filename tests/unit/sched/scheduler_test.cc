#include <gtest/gtest.h>

#include "sched/scheduler.h"

using namespace demi::sched;
using namespace std::chrono_literals;

TEST(Scheduler, TimersFireInDeadlineOrder) {
  VirtualClock clock;
  Scheduler s(clock);
  std::vector<int> fired;
  Timer a(s, [&] { fired.push_back(1); });
  Timer b(s, [&] { fired.push_back(2); });
  a.arm_in(20ms);
  b.arm_in(10ms);
  clock.advance(15ms);
  s.run_once();
  EXPECT_EQ(fired, std::vector<int>{2});
  clock.advance(10ms);
  s.run_once();
  EXPECT_EQ(fired, (std::vector<int>{2, 1}));
}

// Inside a pass every reader sees the time the pass began; outside, the clock's.
TEST(Scheduler, APassReadsTheClockOnce) {
  VirtualClock clock;
  Scheduler s(clock);
  clock.advance(5ms);
  s.begin_pass();
  const Instant t = s.now();
  EXPECT_EQ(t, clock.now());
  clock.advance(1ms);
  EXPECT_EQ(s.now(), t);  // still the pass's time
  s.begin_pass();         // nested: the same pass
  EXPECT_EQ(s.now(), t);
  s.end_pass();
  EXPECT_EQ(s.now(), t);
  s.end_pass();
  EXPECT_EQ(s.now(), clock.now());  // outside: the clock again
  EXPECT_EQ(s.last_pass(), t);
}

// A timer due after the pass began waits for the next pass.
TEST(Scheduler, ATimerDueDuringAPassFiresAtTheNextOne) {
  VirtualClock clock;
  Scheduler s(clock);
  int fired = 0;
  Timer timer(s, [&] { ++fired; });
  timer.arm_in(1ms);
  s.begin_pass();
  clock.advance(2ms);
  s.run_once();
  s.end_pass();
  EXPECT_EQ(fired, 0);
  s.begin_pass();
  s.run_once();
  s.end_pass();
  EXPECT_EQ(fired, 1);
}
