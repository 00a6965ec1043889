// The LibOS's contracts (docs: DESIGN.md, "Contracts") over a fake network module on virtual
// time: descriptors, qtokens, wait / wait_any / wait_all, drop, close, failures, limits,
// module installation and application memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <set>
#include <vector>

#include "libos_fixture.h"
#include "sched/scheduler.h"
#include "sched/task.h"

namespace demi::fakes {
namespace {

using namespace std::chrono_literals;

sockaddr_in ipv4_address() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(80);
  a.sin_addr.s_addr = htonl(0x0a000001);
  return a;
}

// ================================================================ descriptors

using Descriptors = LibOSTest;

TEST_F(Descriptors, StartAtOneAndCountUp) {
  EXPECT_EQ(socket(), 1);
  EXPECT_EQ(socket(), 2);
  EXPECT_EQ(socket(), 3);
  EXPECT_TRUE(libos->is_qd_valid(1));
  EXPECT_TRUE(libos->is_qd_valid(3));
  EXPECT_FALSE(libos->is_qd_valid(4));
  EXPECT_FALSE(libos->is_qd_valid(0));
  EXPECT_EQ(fake->opened, (std::vector<QueueId>{100, 101, 102}));
  EXPECT_EQ(host().descriptors().open_count(), 3u);
}

TEST_F(Descriptors, BadDescriptorsAreEbadfForEveryCall) {
  QDesc open = socket();
  QDesc closed = socket();
  ASSERT_EQ(libos->close(closed), 0);
  Sga s = sga();
  sockaddr_in a = ipv4_address();
  auto* sa = reinterpret_cast<const sockaddr*>(&a);
  for (QDesc qd : {0, -1, -100, 3, 1000, closed}) {
    SCOPED_TRACE(qd);
    EXPECT_FALSE(libos->is_qd_valid(qd));
    EXPECT_EQ(libos->pop(qd).error(), EBADF);
    EXPECT_EQ(libos->push(qd, s).error(), EBADF);
    EXPECT_EQ(libos->accept(qd).error(), EBADF);
    EXPECT_EQ(libos->connect(qd, sa, sizeof a).error(), EBADF);
    EXPECT_EQ(libos->pushto(qd, s, sa, sizeof a).error(), EBADF);
    EXPECT_EQ(libos->bind(qd, sa, sizeof a), EBADF);
    EXPECT_EQ(libos->listen(qd, 1), EBADF);
    EXPECT_EQ(libos->close(qd), EBADF);
    EXPECT_EQ(libos->lseek(qd, 0, SEEK_SET).error(), EBADF);
  }
  EXPECT_GE(host().counters().bad_qd, 6u * 9u);
  EXPECT_TRUE(libos->is_qd_valid(open));
  EXPECT_EQ(host().qtokens().live(), 0u);  // no operation was started
  EXPECT_EQ(libos->sgafree(s), 0);
}

TEST_F(Descriptors, CloseTellsTheModuleAndTheQdIsGone) {
  QDesc qd = socket();
  EXPECT_EQ(libos->close(qd), 0);
  EXPECT_EQ(fake->closed, std::vector<QueueId>{100});
  EXPECT_FALSE(libos->is_qd_valid(qd));
  EXPECT_EQ(libos->close(qd), EBADF);
  EXPECT_EQ(fake->closed.size(), 1u);
  EXPECT_EQ(host().descriptors().open_count(), 0u);
}

TEST_F(Descriptors, FreedDescriptorsAreReusedOnlyAfterADelayInFifoOrder) {
  // A stale qd kept by the application should find nothing rather than someone else's queue:
  // freed qds wait in line before they are handed out again.
  std::vector<QDesc> got;
  for (int i = 0; i < 67; ++i) {
    QDesc qd = socket();
    got.push_back(qd);
    ASSERT_EQ(libos->close(qd), 0);
  }
  for (int i = 0; i < 65; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i + 1);
  EXPECT_EQ(got[65], 1);
  EXPECT_EQ(got[66], 2);
}

TEST_F(Descriptors, AClosedQdIsNotReusedWhileAnOperationOnItIsPending) {
  // The smallest table, full: a new socket can only get a recycled qd.
  start(with({{"libos.max_queues", "16"}}));
  std::vector<QDesc> qds;
  for (int i = 0; i < 16; ++i) qds.push_back(socket());
  EXPECT_EQ(libos->socket(AF_INET, SOCK_STREAM, 0).error(), ENFILE);
  const QDesc victim = qds[4];
  QToken qt = pop(victim);
  ASSERT_EQ(libos->close(victim), 0);
  EXPECT_FALSE(libos->is_qd_valid(victim));
  // The pop is cancelled by the module at its next run; until then the qd stays taken.
  EXPECT_EQ(fake->unfinished(), 1u);
  EXPECT_EQ(libos->socket(AF_INET, SOCK_STREAM, 0).error(), ENFILE);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r), ECANCELED);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECANCELED);
  EXPECT_EQ(r.qd, victim);
  EXPECT_EQ(r.qt, qt);
  // Now it is free, and the only one.
  EXPECT_EQ(socket(), victim);
}

TEST_F(Descriptors, ClosingWithPendingOperationsCancelsEachOnce) {
  QDesc qd = socket();
  QDesc other = socket();
  Sga data = sga(100);
  QToken p1 = pop(qd);
  QToken p2 = push(qd, data);
  QToken a = libos->accept(qd).value();
  QToken survivor = pop(other);
  ASSERT_EQ(libos->close(qd), 0);
  EXPECT_EQ(libos->pop(qd).error(), EBADF);  // closed at once for the application
  std::array<QToken, 3> cancelled = {p1, p2, a};
  std::array<QResult, 3> rs;
  EXPECT_EQ(libos->wait_all(cancelled, rs), ECANCELED);
  for (const QResult& r : rs) {
    EXPECT_EQ(r.opcode, Opcode::Failed);
    EXPECT_EQ(r.ret, ECANCELED);
    EXPECT_EQ(r.qd, qd);
  }
  // The pushed sga was only borrowed: it is the application's again, to free once.
  EXPECT_EQ(libos->sgafree(data), 0);
  EXPECT_EQ(live_sgas(), 0u);
  // The other queue's operation is untouched.
  EXPECT_TRUE(fake->complete(survivor));
  QResult r;
  EXPECT_EQ(libos->wait(survivor, &r), 0);
  EXPECT_EQ(r.qd, other);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Descriptors, ModuleThatCancelsInsideCloseRecyclesTheQdAtOnce) {
  start(with({{"libos.max_queues", "16"}}));
  fake->cancel_later = false;
  std::vector<QDesc> qds;
  for (int i = 0; i < 16; ++i) qds.push_back(socket());
  QToken qt = pop(qds[0]);
  ASSERT_EQ(libos->close(qds[0]), 0);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ECANCELED);
  EXPECT_EQ(socket(), qds[0]);
}

// ================================================================ qtokens and waiting

using Waiting = LibOSTest;

TEST_F(Waiting, QtokensAreUniqueAndNeverZero) {
  QDesc qd = socket();
  fake->complete_inline = true;
  std::set<QToken> seen;
  std::vector<QToken> outstanding;
  for (int i = 0; i < 600; ++i) {
    QToken qt = pop(qd);
    ASSERT_NE(qt, 0u);
    ASSERT_TRUE(seen.insert(qt).second) << "qtoken " << qt << " repeated at op " << i;
    outstanding.push_back(qt);
    // Consume in bursts, so slots are recycled while others are still outstanding.
    if (outstanding.size() == 7 || i % 13 == 0) {
      for (QToken t : outstanding) {
        QResult r;
        ASSERT_EQ(libos->wait(t, &r), 0);
        ASSERT_EQ(libos->sgafree(r.sga), 0);
      }
      outstanding.clear();
    }
  }
  for (QToken t : outstanding) EXPECT_EQ(libos->drop(t), 0);
  EXPECT_EQ(live_sgas(), 0u);
}

TEST_F(Waiting, ACompletedResultNamesItsOperation) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  fake->complete(qt);
  QResult r;
  ASSERT_EQ(libos->wait(qt, &r), 0);
  EXPECT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(r.qd, qd);
  EXPECT_EQ(r.qt, qt);
  EXPECT_EQ(r.ret, 0);
  ASSERT_EQ(r.sga.numsegs, 1u);
  EXPECT_EQ(r.sga.length(), fake->pop_bytes);
  EXPECT_EQ(static_cast<const char*>(r.sga.segs[0].buf)[0], 'p');
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, UnknownOrConsumedTokensAreEinvalAndNeverBlock) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  fake->complete(qt);
  QResult r;
  ASSERT_EQ(libos->wait(qt, &r), 0);
  ASSERT_EQ(libos->sgafree(r.sga), 0);
  const uint64_t bad_before = host().counters().bad_qtoken;
  for (QToken bad : {qt, QToken{0}, QToken{1}, qt + 1, ~QToken{0}, QToken{0xdeadbeef}}) {
    SCOPED_TRACE(bad);
    r.opcode = Opcode::Push;
    EXPECT_EQ(libos->wait(bad, &r), EINVAL);
    EXPECT_EQ(r.opcode, Opcode::Invalid);  // *out is cleared, never left half-filled
    EXPECT_EQ(libos->wait(bad, &r, 0ns), EINVAL);
    EXPECT_EQ(libos->drop(bad), EINVAL);
  }
  EXPECT_EQ(host().counters().bad_qtoken, bad_before + 18);
  EXPECT_EQ(clock.now(), sched::Instant{});  // nothing waited
}

TEST_F(Waiting, TimeoutZeroOnAPendingOperationIsEtimedoutAndTheTokenStaysValid) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  QResult r;
  r.opcode = Opcode::Push;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(r.opcode, Opcode::Invalid);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);
  EXPECT_EQ(libos->wait(qt, nullptr, 0ns), ETIMEDOUT);
  EXPECT_EQ(clock.now(), sched::Instant{});  // a zero timeout does not move virtual time
  fake->complete(qt);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), 0);
  EXPECT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

// "zero = poll once" (DESIGN.md): a zero timeout runs the stack once before giving up, so an
// application that polls with wait(qt, 0) makes progress. (Before the fix, the deadline was
// checked before the first poll, and such a loop never completed anything.)
TEST_F(Waiting, TimeoutZeroPollsTheStackOnce) {
  QDesc qd = socket();
  fake->delay = 0ns;  // completes at the scheduler's next run
  QToken qt = pop(qd);
  const int polls_before = fake->polls;
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), 0);
  EXPECT_EQ(fake->polls, polls_before + 1);
  EXPECT_EQ(r.opcode, Opcode::Pop);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, PollingWithTimeoutZeroSeesADelayedCompletionOnceTimeHasCome) {
  QDesc qd = socket();
  fake->delay = 5ms;
  QToken qt = pop(qd);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), ETIMEDOUT);  // arms the module's timer on its first run
  clock.advance(5ms);
  EXPECT_EQ(libos->wait(qt, &r, 0ns), 0);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, TimeoutRunsVirtualTimeToTheDeadline) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 7ms), ETIMEDOUT);
  EXPECT_EQ(clock.now(), at(7ms));
  EXPECT_EQ(libos->wait(qt, &r, 3ms), ETIMEDOUT);
  EXPECT_EQ(clock.now(), at(10ms));
  EXPECT_EQ(libos->drop(qt), 0);
}

TEST_F(Waiting, WaitWithoutTimeoutRunsVirtualTimeUntilTheOperationCompletes) {
  QDesc qd = socket();
  fake->delay = 30ms;
  QToken qt = pop(qd);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r), 0);
  EXPECT_EQ(clock.now(), at(30ms));
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, TimeoutLongerThanTheOperationReturnsAtCompletion) {
  QDesc qd = socket();
  fake->delay = 4ms;
  QToken qt = pop(qd);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 1s), 0);
  EXPECT_EQ(clock.now(), at(4ms));
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, NothingThatCouldEverCompleteIsEdeadlkNotAHang) {
  QDesc qd = socket();
  QToken qt = pop(qd);  // completes only when the test says, which it will not
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r), EDEADLK);
  EXPECT_EQ(r.opcode, Opcode::Invalid);
  fake->complete(qt);  // the token stayed valid
  EXPECT_EQ(libos->wait(qt, &r), 0);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, OperationCompletedInsideItsStartIsReadyAtOnce) {
  QDesc qd = socket();
  fake->complete_inline = true;
  Sga data = sga(10);
  QToken qt = push(qd, data);
  EXPECT_EQ(fake->pushed_bytes, 10u);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), 0);
  EXPECT_EQ(r.opcode, Opcode::Push);
  EXPECT_EQ(libos->sgafree(data), 0);
}

TEST_F(Waiting, WaitAnyReturnsTheIndexOfTheCompletedToken) {
  QDesc qd = socket();
  std::array<QToken, 3> qts = {pop(qd), pop(qd), pop(qd)};
  fake->complete(qts[2]);
  QResult r;
  std::size_t index = 99;
  ASSERT_EQ(libos->wait_any(qts, &r, &index), 0);
  EXPECT_EQ(index, 2u);
  EXPECT_EQ(r.qt, qts[2]);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
  // The others are untouched.
  std::array<QToken, 2> rest = {qts[0], qts[1]};
  EXPECT_EQ(libos->wait_any(rest, &r, &index, 0ns), ETIMEDOUT);
  fake->complete(qts[1]);
  ASSERT_EQ(libos->wait_any(rest, &r, &index), 0);
  EXPECT_EQ(index, 1u);
  EXPECT_EQ(r.qt, qts[1]);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
  EXPECT_EQ(libos->drop(qts[0]), 0);
}

TEST_F(Waiting, WaitAnyOnDelayedOperationsTakesTheFirstToFinish) {
  QDesc qd = socket();
  std::array<QToken, 3> qts{};
  for (auto [i, d] : {std::pair{0, 30ms}, std::pair{1, 10ms}, std::pair{2, 20ms}}) {
    fake->delay = d;
    qts[static_cast<std::size_t>(i)] = pop(qd);
  }
  std::vector<std::size_t> order;
  std::vector<QToken> remaining(qts.begin(), qts.end());
  while (!remaining.empty()) {
    QResult r;
    std::size_t index = 99;
    ASSERT_EQ(libos->wait_any(remaining, &r, &index), 0);
    ASSERT_LT(index, remaining.size());
    EXPECT_EQ(r.qt, remaining[index]);
    order.push_back(static_cast<std::size_t>(std::find(qts.begin(), qts.end(), r.qt) - qts.begin()));
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(index));
    EXPECT_EQ(libos->sgafree(r.sga), 0);
  }
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 2, 0}));
  EXPECT_EQ(clock.now(), at(30ms));
}

TEST_F(Waiting, WaitAnyWithABadTokenIsEinvalAndConsumesNothing) {
  QDesc qd = socket();
  QToken good = pop(qd);
  fake->complete(good);
  std::array<QToken, 2> qts = {good, QToken{12345}};
  QResult r;
  std::size_t index = 99;
  EXPECT_EQ(libos->wait_any(qts, &r, &index), EINVAL);
  EXPECT_EQ(index, 99u);
  EXPECT_EQ(libos->wait_any(std::span<const QToken>{}, &r, &index), EINVAL);
  EXPECT_EQ(libos->wait(good, &r), 0);  // still there
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, WaitAllFillsEveryResultInOrder) {
  QDesc qd = socket();
  Sga data = sga(8);
  fake->delay = 3ms;
  sockaddr_in a = ipv4_address();
  std::array<QToken, 3> qts = {pop(qd), push(qd, data),
                               libos->connect(qd, reinterpret_cast<const sockaddr*>(&a), sizeof a).value()};
  std::array<QResult, 3> rs;
  ASSERT_EQ(libos->wait_all(qts, rs), 0);
  EXPECT_EQ(rs[0].opcode, Opcode::Pop);
  EXPECT_EQ(rs[1].opcode, Opcode::Push);
  EXPECT_EQ(rs[2].opcode, Opcode::Connect);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(rs[i].qt, qts[i]);
  EXPECT_EQ(libos->sgafree(rs[0].sga), 0);
  EXPECT_EQ(libos->sgafree(data), 0);
  for (QToken qt : qts) EXPECT_EQ(libos->wait(qt, nullptr, 0ns), EINVAL);  // all consumed
}

TEST_F(Waiting, WaitAllReturnsTheFirstFailureButConsumesEverything) {
  QDesc qd = socket();
  std::array<QToken, 3> qts = {pop(qd), pop(qd), pop(qd)};
  fake->complete(qts[0]);
  fake->complete(qts[1], ECONNRESET);
  fake->complete(qts[2], EPIPE);
  std::array<QResult, 3> rs;
  EXPECT_EQ(libos->wait_all(qts, rs), ECONNRESET);
  EXPECT_EQ(rs[0].opcode, Opcode::Pop);
  EXPECT_EQ(rs[1].opcode, Opcode::Failed);
  EXPECT_EQ(rs[1].ret, ECONNRESET);
  EXPECT_EQ(rs[2].ret, EPIPE);
  EXPECT_EQ(libos->sgafree(rs[0].sga), 0);
  EXPECT_EQ(host().qtokens().live(), 0u);
}

TEST_F(Waiting, WaitAllTimeoutConsumesNothing) {
  QDesc qd = socket();
  std::array<QToken, 2> qts = {pop(qd), pop(qd)};
  fake->complete(qts[0]);
  std::array<QResult, 2> rs;
  EXPECT_EQ(libos->wait_all(qts, rs, 5ms), ETIMEDOUT);
  EXPECT_EQ(clock.now(), at(5ms));
  EXPECT_EQ(host().qtokens().live(), 2u);
  fake->complete(qts[1]);
  EXPECT_EQ(libos->wait_all(qts, rs, 0ns), 0);
  for (QResult& r : rs) EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, WaitAllRejectsBadArguments) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  std::array<QToken, 2> two = {qt, QToken{777}};
  std::array<QResult, 2> rs;
  EXPECT_EQ(libos->wait_all(two, rs), EINVAL);
  std::array<QResult, 1> too_few;
  std::array<QToken, 2> ok = {qt, pop(qd)};
  EXPECT_EQ(libos->wait_all(ok, too_few), EINVAL);
  EXPECT_EQ(libos->wait_all(std::span<const QToken>{}, rs), EINVAL);
  EXPECT_EQ(host().qtokens().live(), 2u);
  for (QToken t : ok) EXPECT_EQ(libos->drop(t), 0);
}

// The same token twice in one wait_all: the second is already consumed when its turn comes, so
// the call is EINVAL ("waiting on an already-consumed token returns EINVAL"), not a crash.
// (Before the fix, wait_all dereferenced the released operation: a segfault.)
TEST_F(Waiting, WaitAllWithTheSameTokenTwiceIsEinval) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  fake->complete(qt);
  std::array<QToken, 2> twice = {qt, qt};
  std::array<QResult, 2> rs;
  EXPECT_EQ(libos->wait_all(twice, rs), EINVAL);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r), 0);  // nothing was consumed
  EXPECT_EQ(libos->sgafree(r.sga), 0);
}

TEST_F(Waiting, WaitWithoutAResultBufferFreesAPoppedSga) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  fake->complete(qt);
  EXPECT_EQ(live_sgas(), 1u);
  EXPECT_EQ(libos->wait(qt, nullptr), 0);
  EXPECT_EQ(live_sgas(), 0u);
}

// ================================================================ drop

using Dropping = LibOSTest;

TEST_F(Dropping, APendingPopsSgaIsFreedWhenItCompletes) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  EXPECT_EQ(libos->drop(qt), 0);
  EXPECT_EQ(libos->drop(qt), EINVAL);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r, 0ns), EINVAL);
  EXPECT_TRUE(fake->complete(qt));
  EXPECT_EQ(live_sgas(), 0u);  // nobody will ever see it: freed by the LibOS
  EXPECT_EQ(host().qtokens().live(), 0u);
  EXPECT_EQ(host().allocator().stats().live_blocks, 0u);
}

TEST_F(Dropping, ACompletedPopsSgaIsFreedAtOnce) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  fake->complete(qt);
  EXPECT_EQ(live_sgas(), 1u);
  EXPECT_EQ(libos->drop(qt), 0);
  EXPECT_EQ(live_sgas(), 0u);
  EXPECT_EQ(host().qtokens().live(), 0u);
  EXPECT_EQ(libos->drop(qt), EINVAL);
}

TEST_F(Dropping, DroppedFailedPopHasNothingToFree) {
  QDesc qd = socket();
  QToken a = pop(qd), b = pop(qd);
  EXPECT_EQ(libos->drop(a), 0);
  fake->complete(a, ECONNRESET);
  fake->complete(b, ECONNRESET);
  EXPECT_EQ(libos->drop(b), 0);
  EXPECT_EQ(host().qtokens().live(), 0u);
  EXPECT_EQ(live_sgas(), 0u);
}

TEST_F(Dropping, ADroppedPushLeavesTheApplicationsSgaToTheApplication) {
  QDesc qd = socket();
  Sga data = sga(32);
  QToken qt = push(qd, data);
  EXPECT_EQ(libos->drop(qt), 0);
  fake->complete(qt);
  EXPECT_EQ(live_sgas(), 1u);
  EXPECT_EQ(libos->sgafree(data), 0);
}

TEST_F(Dropping, DroppedDelayedOperationsAllowTheQdToBeRecycled) {
  start(with({{"libos.max_queues", "16"}}));
  fake->delay = 2ms;
  std::vector<QDesc> qds;
  for (int i = 0; i < 16; ++i) qds.push_back(socket());
  QToken qt = pop(qds[3]);
  EXPECT_EQ(libos->drop(qt), 0);
  ASSERT_EQ(libos->close(qds[3]), 0);
  EXPECT_EQ(libos->socket(AF_INET, SOCK_STREAM, 0).error(), ENFILE);  // cancellation pending
  clock.advance(1ms);
  libos->poll_once();
  EXPECT_EQ(socket(), qds[3]);
  EXPECT_EQ(live_sgas(), 0u);
}

TEST_F(Dropping, APendingAcceptsConnectionIsClosedWhenItArrives) {
  QDesc listener = socket();
  QToken qt = libos->accept(listener).value();
  EXPECT_EQ(libos->drop(qt), 0);
  const std::size_t open_before = host().descriptors().open_count();
  fake->complete(qt);
  EXPECT_EQ(fake->closed, std::vector<QueueId>{101});  // the new connection's queue
  EXPECT_EQ(host().descriptors().open_count(), open_before);
  EXPECT_EQ(host().qtokens().live(), 0u);
}

TEST_F(Dropping, ACompletedAcceptsConnectionIsClosed) {
  QDesc listener = socket();
  QToken qt = libos->accept(listener).value();
  fake->complete(qt);
  EXPECT_EQ(host().descriptors().open_count(), 2u);  // the listener and the new connection
  EXPECT_EQ(libos->drop(qt), 0);
  EXPECT_EQ(fake->closed, std::vector<QueueId>{101});
  EXPECT_EQ(host().descriptors().open_count(), 1u);
  EXPECT_TRUE(libos->is_qd_valid(listener));
}

TEST_F(Dropping, UnknownTokensAreEinval) {
  EXPECT_EQ(libos->drop(0), EINVAL);
  EXPECT_EQ(libos->drop(42), EINVAL);
}

// ================================================================ accept and connect

using Connections = LibOSTest;

TEST_F(Connections, AcceptHandsOutANewQdAndThePeer) {
  QDesc listener = socket();
  fake->peer = ipv4_address();
  QToken qt = libos->accept(listener).value();
  fake->complete(qt);
  QResult r;
  ASSERT_EQ(libos->wait(qt, &r), 0);
  EXPECT_EQ(r.opcode, Opcode::Accept);
  EXPECT_EQ(r.qd, listener);
  EXPECT_NE(r.accept.qd, listener);
  EXPECT_TRUE(libos->is_qd_valid(r.accept.qd));
  EXPECT_EQ(r.accept.addr.sin_port, htons(80));
  // The new qd reaches the module's new queue.
  QToken p = pop(r.accept.qd);
  EXPECT_EQ(libos->close(r.accept.qd), 0);
  EXPECT_EQ(fake->closed, std::vector<QueueId>{101});
  EXPECT_EQ(libos->wait(p, nullptr), ECANCELED);
}

TEST_F(Connections, AcceptCompletingAfterTheListenerClosedIsCancelled) {
  QDesc listener = socket();
  fake->cancel_later = true;
  QToken qt = libos->accept(listener).value();
  // The module had a connection ready just as the listener was closed.
  ASSERT_EQ(libos->close(listener), 0);
  fake->complete(qt);
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r), ECANCELED);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(host().descriptors().open_count(), 0u);
  EXPECT_EQ(fake->closed, (std::vector<QueueId>{100, 101}));  // listener, then the orphan
}

TEST_F(Connections, AddressArgumentsAreChecked) {
  QDesc qd = socket();
  sockaddr_in a = ipv4_address();
  auto* sa = reinterpret_cast<const sockaddr*>(&a);
  EXPECT_EQ(libos->bind(qd, nullptr, sizeof a), EINVAL);
  EXPECT_EQ(libos->bind(qd, sa, sizeof a - 1), EINVAL);
  EXPECT_EQ(libos->bind(qd, sa, sizeof a), 0);
  EXPECT_EQ(libos->listen(qd, -1), EINVAL);
  EXPECT_EQ(libos->listen(qd, 16), 0);
  EXPECT_EQ(libos->connect(qd, nullptr, 0).error(), EINVAL);
  Sga s = sga();
  EXPECT_EQ(libos->pushto(qd, s, nullptr, 0).error(), EINVAL);
  EXPECT_EQ(host().counters().bad_argument, 5u);
  EXPECT_EQ(host().qtokens().live(), 0u);
  EXPECT_EQ(libos->sgafree(s), 0);
}

// ================================================================ failures and limits

using Failures = LibOSTest;

TEST_F(Failures, FailedOperationsCompleteAsFailedWithTheirErrno) {
  QDesc qd = socket();
  Sga data = sga();
  QToken p = pop(qd);
  QToken s = push(qd, data);
  fake->complete(p, ECONNRESET);
  fake->complete(s, EPIPE);
  QResult r;
  EXPECT_EQ(libos->wait(p, &r), ECONNRESET);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECONNRESET);
  EXPECT_EQ(r.qd, qd);
  EXPECT_EQ(r.qt, p);
  EXPECT_EQ(r.sga.numsegs, 0u);
  EXPECT_EQ(libos->wait(s, &r), EPIPE);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(libos->sgafree(data), 0);
  EXPECT_EQ(live_sgas(), 0u);
}

TEST_F(Failures, DelayedFailureArrivesOnTime) {
  QDesc qd = socket();
  fake->delay = 8ms;
  fake->finish_error = ECONNREFUSED;
  sockaddr_in a = ipv4_address();
  QToken qt = libos->connect(qd, reinterpret_cast<const sockaddr*>(&a), sizeof a).value();
  QResult r;
  EXPECT_EQ(libos->wait(qt, &r), ECONNREFUSED);
  EXPECT_EQ(r.opcode, Opcode::Failed);
  EXPECT_EQ(r.ret, ECONNREFUSED);
  EXPECT_EQ(clock.now(), at(8ms));
}

TEST_F(Failures, AnOperationTheModuleRefusesNeverGetsAToken) {
  QDesc qd = socket();
  fake->start_error = ENOTCONN;
  EXPECT_EQ(libos->pop(qd).error(), ENOTCONN);
  EXPECT_EQ(host().qtokens().live(), 0u);
  EXPECT_EQ(host().descriptors().get(qd)->pending, 0u);
  // Nothing pending: closing recycles the qd normally.
  fake->start_error = 0;
  EXPECT_EQ(libos->close(qd), 0);
}

TEST_F(Failures, TooManyPendingOperationsIsEnobufs) {
  start(with({{"libos.max_pending_ops", "16"}}));
  QDesc qd = socket();
  std::vector<QToken> qts;
  for (int i = 0; i < 16; ++i) qts.push_back(pop(qd));
  EXPECT_EQ(libos->pop(qd).error(), ENOBUFS);
  Sga data = sga();
  EXPECT_EQ(libos->push(qd, data).error(), ENOBUFS);
  EXPECT_EQ(libos->accept(qd).error(), ENOBUFS);
  // A completed but unconsumed operation still holds its token.
  fake->complete(qts[0]);
  EXPECT_EQ(libos->pop(qd).error(), ENOBUFS);
  QResult r;
  ASSERT_EQ(libos->wait(qts[0], &r), 0);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
  QToken again = pop(qd);  // room for exactly one more
  EXPECT_NE(again, 0u);
  EXPECT_EQ(libos->pop(qd).error(), ENOBUFS);
  EXPECT_EQ(host().descriptors().get(qd)->pending, 16u);  // refused ops left no trace
  EXPECT_EQ(libos->sgafree(data), 0);
}

TEST_F(Failures, APushOfABadSgaIsEinval) {
  QDesc qd = socket();
  Sga none;  // no segments
  EXPECT_EQ(libos->push(qd, none).error(), EINVAL);
  Sga empty = sga(16);
  Sga zero = empty;
  zero.segs[0].len = 0;
  EXPECT_EQ(libos->push(qd, zero).error(), EINVAL);  // nothing to send
  Sga null_seg;
  null_seg.numsegs = 1;
  null_seg.segs[0] = {nullptr, 5};
  EXPECT_EQ(libos->push(qd, null_seg).error(), EINVAL);
  EXPECT_EQ(host().counters().bad_sga, 3u);
  EXPECT_EQ(host().qtokens().live(), 0u);
  EXPECT_EQ(libos->sgafree(empty), 0);
}

TEST_F(Failures, APushOfTheApplicationsOwnMemoryIsAccepted) {
  // Memory that did not come from sgaalloc is fine to push (a module copies it).
  QDesc qd = socket();
  char bytes[12] = "hello world";
  Sga own;
  own.numsegs = 1;
  own.segs[0] = {bytes, sizeof bytes};
  fake->complete_inline = true;
  QToken qt = push(qd, own);
  EXPECT_EQ(libos->wait(qt, nullptr), 0);
  EXPECT_EQ(fake->pushed_bytes, sizeof bytes);
}

// ================================================================ modules

using Modules = LibOSTest;

TEST_F(Modules, InstallingASecondModuleOfTheSameNameIsEexist) {
  EXPECT_EQ(libos->install(std::make_unique<FakeNetwork>("fake")), EEXIST);
  EXPECT_EQ(libos->module("fake"), fake);
  EXPECT_EQ(fake->attaches, 1);
}

TEST_F(Modules, AModuleThatCannotAttachIsNotInstalled) {
  auto broken = std::make_unique<FakeNetwork>("broken");
  broken->attach_error = ENODEV;
  EXPECT_EQ(libos->install(std::move(broken)), ENODEV);
  EXPECT_EQ(libos->module("broken"), nullptr);
  EXPECT_EQ(libos->socket(AF_INET, SOCK_STREAM, 0, "broken").error(), ENOENT);
  EXPECT_EQ(libos->install(nullptr), EINVAL);
}

TEST_F(Modules, TheFirstNetworkModuleIsTheDefaultAndOthersAreNamed) {
  auto second = std::make_unique<FakeNetwork>("second");
  FakeNetwork* s = second.get();
  ASSERT_EQ(libos->install(std::move(second)), 0);
  EXPECT_EQ(s->attaches, 1);
  EXPECT_EQ(libos->module("second"), s);
  EXPECT_EQ(libos->module("nope"), nullptr);
  QDesc a = socket();
  QDesc b = libos->socket(AF_INET, SOCK_DGRAM, 0, "second").value();
  EXPECT_EQ(fake->opened.size(), 1u);
  EXPECT_EQ(s->opened.size(), 1u);
  QToken qa = pop(a);
  QToken qb = pop(b);
  EXPECT_EQ(fake->unfinished(), 1u);
  EXPECT_EQ(s->unfinished(), 1u);
  // Both modules are polled by one wait.
  const int polls_a = fake->polls, polls_b = s->polls;
  EXPECT_EQ(libos->wait(qa, nullptr, 0ns), ETIMEDOUT);
  EXPECT_GT(fake->polls, polls_a);
  EXPECT_GT(s->polls, polls_b);
  EXPECT_EQ(libos->drop(qa), 0);
  EXPECT_EQ(libos->drop(qb), 0);
}

TEST(ModulesEmpty, SocketWithoutANetworkModuleIsEnetdown) {
  sched::VirtualClock clock;
  LibOS libos(LibOSOptions{Config{}, &clock});
  EXPECT_EQ(libos.socket(AF_INET, SOCK_STREAM, 0).error(), ENETDOWN);
  EXPECT_EQ(libos.socket(AF_INET, SOCK_STREAM, 0, "catnip").error(), ENOENT);
  EXPECT_EQ(libos.open("/tmp/x", 0).error(), ENOTSUP);
  EXPECT_EQ(libos.open(nullptr, 0).error(), EINVAL);
  // A storage module is no network module.
  ASSERT_EQ(libos.install(std::make_unique<FakeNetwork>("disk", ModuleKind::Storage)), 0);
  EXPECT_EQ(libos.socket(AF_INET, SOCK_STREAM, 0).error(), ENETDOWN);
  EXPECT_EQ(libos.socket(AF_INET, SOCK_STREAM, 0, "disk").error(), EINVAL);
}

TEST_F(Modules, TheModulesSocketErrorIsPassedOn) {
  fake->socket_error = EAFNOSUPPORT;
  EXPECT_EQ(libos->socket(AF_INET6, SOCK_STREAM, 0).error(), EAFNOSUPPORT);
  EXPECT_EQ(host().descriptors().open_count(), 0u);
}

TEST_F(Modules, DestroyingTheLibOSWithOperationsInFlightIsClean) {
  // Coroutines still sleeping, tokens unconsumed, sgas unfreed: all released (ASan checks).
  QDesc qd = socket();
  fake->delay = 1h;
  for (int i = 0; i < 5; ++i) pop(qd);
  fake->delay.reset();
  QToken done = pop(qd);
  fake->complete(done);
  Sga kept = sga(100);
  (void)kept;
  libos->poll_once();
  libos.reset();
  SUCCEED();
}

// ================================================================ application memory

using Memory = LibOSTest;

TEST_F(Memory, SgaallocAndSgafreeThroughTheLibOS) {
  auto one = libos->sgaalloc(1000);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->numsegs, 1u);
  EXPECT_EQ(one->length(), 1000u);
  std::array<std::size_t, 3> sizes = {1, 2, 3};
  auto three = libos->sgaalloc(sizes);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->numsegs, 3u);
  EXPECT_EQ(three->length(), 6u);
  EXPECT_EQ(live_sgas(), 2u);
  EXPECT_EQ(libos->sgafree(*one), 0);
  EXPECT_EQ(libos->sgafree(*three), 0);
  EXPECT_EQ(live_sgas(), 0u);
  EXPECT_EQ(host().allocator().stats().live_blocks, 0u);
  EXPECT_EQ(host().counters().bad_sga, 0u);
}

TEST_F(Memory, DoubleAndForeignFreesAreEinval) {
  Sga s = sga(10);
  const Sga copy = s;
  EXPECT_EQ(libos->sgafree(s), 0);
  EXPECT_EQ(libos->sgafree(copy), EINVAL);
  int x = 0;
  Sga foreign;
  foreign.numsegs = 1;
  foreign.segs[0] = {&x, sizeof x};
  EXPECT_EQ(libos->sgafree(foreign), EINVAL);
  Sga fresh = sga(10);
  EXPECT_EQ(libos->sgafree(copy), EINVAL);  // stale even though the slot is in use again
  EXPECT_EQ(host().counters().bad_sga, 3u);
  EXPECT_EQ(libos->sgafree(fresh), 0);
}

TEST_F(Memory, BadAllocationRequestsAreEinval) {
  EXPECT_EQ(libos->sgaalloc(0).error(), EINVAL);
  std::array<std::size_t, 17> seventeen{};
  seventeen.fill(1);
  EXPECT_EQ(libos->sgaalloc(seventeen).error(), EINVAL);
  std::array<std::size_t, 2> zeros = {0, 0};
  EXPECT_EQ(libos->sgaalloc(zeros).error(), EINVAL);
  EXPECT_EQ(libos->sgaalloc(std::span<const std::size_t>{}).error(), EINVAL);
  EXPECT_EQ(host().counters().bad_argument, 4u);
  EXPECT_EQ(live_sgas(), 0u);
}

TEST_F(Memory, APoppedSgaIsFreedOnceWithSgafree) {
  QDesc qd = socket();
  QToken qt = pop(qd);
  fake->complete(qt);
  QResult r;
  ASSERT_EQ(libos->wait(qt, &r), 0);
  EXPECT_EQ(live_sgas(), 1u);
  EXPECT_EQ(libos->sgafree(r.sga), 0);
  EXPECT_EQ(libos->sgafree(r.sga), EINVAL);
  EXPECT_EQ(live_sgas(), 0u);
}

// A block still referenced after its sga was freed (a send queue, a device holding it) keeps
// the allocator in place too: releasing it into a destroyed allocator would write freed memory.
TEST_F(Memory, TheAllocatorCannotBeReplacedWhileABlockIsReferenced) {
  mem::Block* held = host().allocator().allocate(100);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(host().set_allocator(std::make_unique<mem::HeapAllocator>()), EBUSY);
  mem::block_unref(held);
  EXPECT_EQ(host().set_allocator(std::make_unique<mem::HeapAllocator>()), 0);
}

TEST_F(Memory, TheAllocatorCannotBeReplacedWhileSgasAreLive) {
  Sga s = sga();
  EXPECT_EQ(host().set_allocator(std::make_unique<mem::HeapAllocator>()), EBUSY);
  EXPECT_EQ(libos->sgafree(s), 0);
  EXPECT_EQ(host().set_allocator(std::make_unique<mem::HeapAllocator>()), 0);
  Sga t = sga();
  EXPECT_EQ(host().allocator().stats().live_blocks, 1u);
  EXPECT_EQ(libos->sgafree(t), 0);
}

sched::Task ran_once(bool* ran) {
  *ran = true;
  co_return;
}

// What coroutines produce in a pass is flushed to the modules in that pass; an idle pass does
// not flush.
TEST_F(Descriptors, APassThatRanCoroutinesFlushesTheModules) {
  libos->poll_once();
  EXPECT_EQ(fake->flushes, 0);
  bool ran = false;
  host().scheduler().spawn(ran_once(&ran));
  libos->poll_once();
  EXPECT_TRUE(ran);
  EXPECT_EQ(fake->flushes, 1);
  libos->poll_once();
  EXPECT_EQ(fake->flushes, 1);
}

}  // namespace
}  // namespace demi::fakes
