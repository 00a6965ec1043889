// Two-peer simulations: the exchange of apps/sim (sim/exchange.h) under every link profile,
// across many seeds. Each run checks its invariants (bytes exactly once and in order, both ends
// CLOSED, every buffer returned, memory within the buffers) and, when one breaks, prints its
// seed and the command that replays it.
//
// Seeds per profile: DEMI_SIM_SEEDS (256 in an ordinary build, 9 x 256 = 2,304 runs; 24 under
// sanitizers, where a run costs many times as much). The seeds that once found a bug are pinned
// below, with the bug they found.
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <string>

#include "sim/exchange.h"
#include "unit/tcp/coverage_registry.h"

namespace demi::sim::test {
namespace {

#ifndef DEMI_SIM_SEEDS
#define DEMI_SIM_SEEDS 256
#endif
// Bytes each way in the long runs (a quarter of that on the slow link); less under sanitizers.
#ifndef DEMI_SIM_LONG_BYTES
#define DEMI_SIM_LONG_BYTES (1024 * 1024)
#endif

// Runs one exchange; on failure, the whole report and the replay command.
void expect_ok(const ExchangeOptions& o) {
  const ExchangeReport r = run_exchange(o);
  net::tcp::test::suite_coverage().merge(r.coverage);
  EXPECT_TRUE(r.ok) << "seed " << o.seed << " profile " << o.profile << ": " << r.failure << "\n"
                    << "replay: " << r.replay_command() << "\n"
                    << r.format();
}

class SimProfileTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SimProfileTest, streams_both_ways_across_seeds) {
  ExchangeOptions o;
  o.profile = GetParam();
  // A slow link carries fewer bytes, so that the set stays quick; two connections on half of
  // the seeds, so that connections share the link and the listener's accept queue.
  o.bytes = o.profile == "slow" ? 24 * 1024 : 48 * 1024;
  int failures = 0;
  for (uint64_t seed = 1; seed <= DEMI_SIM_SEEDS && failures < 3; ++seed) {
    o.seed = seed;
    o.conns = seed % 2 == 0 ? 2 : 1;
    const ExchangeReport r = run_exchange(o);
    net::tcp::test::suite_coverage().merge(r.coverage);
    if (!r.ok) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << " profile " << o.profile << ": " << r.failure << "\n"
                    << "replay: " << r.replay_command() << "\n"
                    << r.format();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Profiles, SimProfileTest,
                         ::testing::Values("clean", "loss1", "loss5", "loss20", "reorder", "dup", "corrupt", "slow",
                                           "partition"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

// A larger transfer per profile: many windows' worth, so that loss recovery, window updates
// and the slow link's queue are exercised at length.
TEST(SimLongTest, a_megabyte_each_way_under_every_profile) {
  for (const char* p : {"clean", "loss1", "loss5", "loss20", "reorder", "dup", "corrupt", "slow", "partition"}) {
    ExchangeOptions o;
    o.seed = 7;
    o.profile = p;
    o.bytes = std::string_view(p) == "slow" ? DEMI_SIM_LONG_BYTES / 4 : DEMI_SIM_LONG_BYTES;
    o.conns = 2;
    expect_ok(o);
  }
}

// The same options give the same report, byte for byte.
TEST(SimDeterminismTest, the_same_seed_gives_the_same_report) {
  for (const char* p : {"loss5", "reorder", "partition"}) {
    ExchangeOptions o;
    o.seed = 42;
    o.profile = p;
    o.bytes = 100 * 1000;
    o.conns = 2;
    const std::string first = run_exchange(o).format();
    const std::string second = run_exchange(o).format();
    EXPECT_EQ(first, second) << p;
    o.seed = 43;
    EXPECT_NE(run_exchange(o).format(), first) << p << ": another seed should differ";
  }
}

// Seeds that found bugs, kept as regression tests. Each failed before the fix named beside it
// (the unit tests named there pin the same bugs at the segment level).
TEST(SimRegressionTest, pinned_seeds) {
  struct Pin {
    uint64_t seed;
    const char* profile;
    int conns;
    const char* bug;
  };
  const Pin pins[] = {
      // A full-sized segment carrying SACK blocks exceeded the MTU; IPv4 refused it and every
      // retransmission, until the connection timed out (rfc6691_sack_blocks_shorten_...).
      {32, "loss1", 2, "SACK blocks pushed a full segment past the MTU"},
      {7, "loss5", 1, "SACK blocks pushed a full segment past the MTU; ACKs below the peer's window"},
      // After a timeout, bare ACKs carried SEQ = SND.NXT (gone back to SND.UNA), below the
      // peer's RCV.NXT: dropped as out of window, answered by ACKs that met the same fate
      // (after_go_back_n_a_bare_ack_carries_the_highest_sequence_number_sent).
      {4, "loss20", 2, "ACKs below the peer's window after go-back-N"},
      {48, "reorder", 2, "ACKs below the peer's window after go-back-N"},
      // RTT samples that measured a SYN's backoff (the peer echoed the first SYN's TSval) or a
      // loss recovery (new data timed while holes were open) drove the RTO to 60 s: the run
      // crawled past the 900 s bound.
      {1016, "loss20", 3, "RTT samples measuring the handshake's backoff or a recovery"},
      {1042, "loss20", 3, "RTT samples measuring the handshake's backoff or a recovery"},
      // An ACK of a retransmitted segment that echoed the TSval of the earlier copy (whose ACK
      // was lost) gave a sample including the timeout: Karn's rule now applies to timestamps.
      {1062, "loss20", 3, "a timestamp echo older than the retransmission it acknowledges"},
  };
  for (const Pin& p : pins) {
    ExchangeOptions o;
    o.seed = p.seed;
    o.profile = p.profile;
    o.bytes = p.seed > 1000 ? 200000 : 48 * 1024;
    o.conns = p.conns;
    SCOPED_TRACE(p.bug);
    expect_ok(o);
  }
}

}  // namespace
}  // namespace demi::sim::test
