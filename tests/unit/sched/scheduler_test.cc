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
