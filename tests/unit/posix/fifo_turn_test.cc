// FifoTurn on a bare scheduler: the turn goes to waiters in the order they came, and a newer
// operation that runs first cannot take it from an older one that was already handed it.
#include <gtest/gtest.h>

#include <string>

#include "modules/posix/fifo_turn.h"
#include "sched/scheduler.h"

namespace {

using demi::posix::FifoTurn;
using demi::sched::Scheduler;
using demi::sched::Task;
using demi::sched::VirtualClock;
using demi::sched::WaitQueue;

// Takes the turn, notes `name`, optionally waits on `gate` while holding it, then passes it on.
Task user(FifoTurn& turn, std::string& log, char name, WaitQueue* gate) {
  co_await turn.acquire();
  log += name;
  if (gate) co_await gate->wait();
  turn.release();
}

TEST(FifoTurn, AWaiterHandedTheTurnIsNotOvertakenByANewcomer) {
  VirtualClock clock;
  Scheduler sched(clock);
  FifoTurn turn(sched);
  WaitQueue gate(sched);
  std::string log;
  sched.spawn(user(turn, log, 'A', &gate));
  sched.spawn(user(turn, log, 'B', nullptr));
  sched.run_once();  // A holds the turn and waits on the gate; B waits for the turn
  EXPECT_EQ(log, "A");
  gate.notify_one();                           // A is ready ...
  sched.spawn(user(turn, log, 'C', nullptr));  // ... and C right behind it, ahead of B
  sched.run_once();                            // A releases, handing the turn to B; C must wait
  sched.run_once();
  sched.run_once();
  EXPECT_EQ(log, "ABC");
  EXPECT_EQ(sched.live_tasks(), 0u);
}

TEST(FifoTurn, WakeAllResumesEveryWaiter) {
  VirtualClock clock;
  Scheduler sched(clock);
  FifoTurn turn(sched);
  WaitQueue gate(sched);
  std::string log;
  sched.spawn(user(turn, log, 'A', &gate));
  sched.spawn(user(turn, log, 'B', nullptr));
  sched.spawn(user(turn, log, 'C', nullptr));
  sched.run_once();
  turn.wake_all();
  sched.run_once();
  EXPECT_EQ(log, "ABC");
  EXPECT_EQ(sched.live_tasks(), 1u);  // only A, still on its gate
}

}  // namespace
