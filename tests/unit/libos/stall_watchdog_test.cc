// The stall watchdog: when the application stays out of the libOS longer than
// libos.stall_warning_ms while I/O is in flight, the next entry logs one warning and counts it.
#include <gtest/gtest.h>

#include "base/log.h"
#include "libos_fixture.h"

namespace demi::fakes {
namespace {

using namespace std::chrono_literals;

class StallWatchdog : public LibOSTest {
 protected:
  void SetUp() override {
    LibOSTest::SetUp();
    qd = socket();
  }
  unsigned long warnings_since_mark() const { return log::warnings_written() - mark; }
  void set_mark() { mark = log::warnings_written(); }
  const LibOSCounters& counters() { return host().counters(); }

  QDesc qd = -1;
  unsigned long mark = 0;
};

TEST_F(StallWatchdog, TheDefaultThresholdIsTenMilliseconds) {
  EXPECT_EQ(libos->config().get_int("libos.stall_warning_ms"), 10);
}

// Start an operation, stay away 50 ms, come back with a zero-timeout wait: exactly one warning.
// (Before the fix, the first entry into the libOS was never checked, so this stall went unseen.)
TEST_F(StallWatchdog, OneWarningForAStallWithAnOperationInFlight) {
  QToken qt = pop(qd);
  clock.advance(50ms);
  set_mark();
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 1u);
  EXPECT_EQ(counters().stalls, 1u);
  EXPECT_EQ(counters().longest_stall, 50ms);
  // Coming straight back is no stall.
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 1u);
  EXPECT_EQ(counters().stalls, 1u);
  EXPECT_EQ(libos->drop(qt), 0);
}

TEST_F(StallWatchdog, EveryStallIsCountedAndTheLongestKept) {
  QToken qt = pop(qd);
  QResult r;
  set_mark();
  for (auto gap : {20ms, 80ms, 30ms}) {
    clock.advance(gap);
    EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  }
  EXPECT_EQ(warnings_since_mark(), 3u);
  EXPECT_EQ(counters().stalls, 3u);
  EXPECT_EQ(counters().longest_stall, 80ms);
  EXPECT_EQ(libos->drop(qt), 0);
}

TEST_F(StallWatchdog, AtTheThresholdIsNoStall) {
  QToken qt = pop(qd);
  QResult r;
  set_mark();
  clock.advance(10ms);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  clock.advance(10ms + 1ns);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 1u);
  EXPECT_EQ(counters().stalls, 1u);
  EXPECT_EQ(libos->drop(qt), 0);
}

// An application with nothing in flight may stay away as long as it likes; the stall clock
// starts when it next puts I/O in flight. (Before the fix, the idle time before the operation
// was counted, and this warned.)
TEST_F(StallWatchdog, NoWarningWhenNothingWasInFlight) {
  fake->complete_inline = true;
  QToken first = pop(qd);
  QResult r;
  ASSERT_EQ(libos->wait(first, &r), 0);
  ASSERT_EQ(libos->sgafree(r.sga), 0);
  fake->complete_inline = false;
  clock.advance(500ms);  // idle: nothing in flight
  set_mark();
  QToken qt = pop(qd);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 0u);
  EXPECT_EQ(counters().stalls, 0u);
  // From here on the pop is in flight: staying away now is a stall.
  clock.advance(50ms);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 1u);
  EXPECT_EQ(counters().stalls, 1u);
  EXPECT_EQ(counters().longest_stall, 50ms);
  EXPECT_EQ(libos->drop(qt), 0);
}

TEST_F(StallWatchdog, NoWarningBeforeAnythingWasEverInFlight) {
  clock.advance(1s);  // set-up time before the first operation
  set_mark();
  QToken qt = pop(qd);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 0u);
  EXPECT_EQ(counters().stalls, 0u);
  EXPECT_EQ(libos->drop(qt), 0);
}

TEST_F(StallWatchdog, TheTimeTheLibOSItselfSpendsWaitingIsNoStall) {
  fake->delay = 200ms;
  QToken qt = pop(qd);
  set_mark();
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r), 0);  // virtual time runs 200 ms inside wait
  EXPECT_EQ(libos->sgafree(r.sga), 0);
  EXPECT_EQ(warnings_since_mark(), 0u);
  EXPECT_EQ(counters().stalls, 0u);
}

TEST_F(StallWatchdog, OverdueTimersAreCountedAsLate) {
  fake->delay = 5ms;
  QToken qt = pop(qd);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);  // the module's 5 ms timer is armed
  clock.advance(50ms);
  set_mark();
  EXPECT_EQ(libos->wait(qt, &r, 0ns), 0);  // the late timer fires now
  EXPECT_EQ(libos->sgafree(r.sga), 0);
  EXPECT_EQ(warnings_since_mark(), 1u);
  EXPECT_EQ(counters().stalls, 1u);
  EXPECT_EQ(counters().late_timers, 1u);
}

TEST_F(StallWatchdog, ZeroThresholdTurnsTheWarningOff) {
  start(with({{"libos.stall_warning_ms", "0"}}));
  qd = socket();
  QToken qt = pop(qd);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  clock.advance(10s);
  set_mark();
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 0u);
  EXPECT_EQ(counters().stalls, 0u);
  EXPECT_EQ(libos->drop(qt), 0);
}

TEST_F(StallWatchdog, AHigherThresholdIsHonoured) {
  start(with({{"libos.stall_warning_ms", "100"}}));
  qd = socket();
  QToken qt = pop(qd);
  QResult r;
  set_mark();
  clock.advance(60ms);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 0u);
  clock.advance(120ms);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 1u);
  EXPECT_EQ(libos->drop(qt), 0);
}

// poll_once runs the stack just as wait does: an application that drives the libOS with it is
// not stalling. (Before the fix, poll_once did not count as an entry, so the next wait measured
// from the last wait and warned about 100 ms during which the stack had run every 5 ms.)
TEST_F(StallWatchdog, PollOnceCountsAsEnteringTheLibOS) {
  QToken qt = pop(qd);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  set_mark();
  for (int i = 0; i < 20; ++i) {
    clock.advance(5ms);
    libos->poll_once();
  }
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(warnings_since_mark(), 0u);
  EXPECT_EQ(counters().stalls, 0u);
  // And a long absence before a poll_once is a stall like any other.
  clock.advance(40ms);
  libos->poll_once();
  EXPECT_EQ(warnings_since_mark(), 1u);
  EXPECT_EQ(counters().stalls, 1u);
  EXPECT_EQ(libos->drop(qt), 0);
}

}  // namespace
}  // namespace demi::fakes
