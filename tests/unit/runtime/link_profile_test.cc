#include "runtime/sim/link_profile.h"

#include <gtest/gtest.h>

#include <chrono>

namespace demi::runtime::sim {
namespace {

using namespace std::chrono_literals;

TEST(LinkProfile, EveryNamedPresetExists) {
  ASSERT_EQ(profile_names().size(), 9u);
  for (std::string_view name : profile_names()) {
    EXPECT_TRUE(profile_by_name(name).has_value()) << name;
  }
  EXPECT_FALSE(profile_by_name("loss2").has_value());
  EXPECT_FALSE(profile_by_name("").has_value());
}

TEST(LinkProfile, PresetsMeanWhatTheirNamesSay) {
  const LinkProfile clean = *profile_by_name("clean");
  EXPECT_EQ(clean.drop, 0.0);
  EXPECT_EQ(clean.duplicate, 0.0);
  EXPECT_EQ(clean.reorder, 0.0);
  EXPECT_EQ(clean.corrupt, 0.0);
  EXPECT_EQ(clean.bandwidth_bps, 0u);
  EXPECT_TRUE(clean.partitions.empty());
  EXPECT_EQ(profile_by_name("loss1")->drop, 0.01);
  EXPECT_EQ(profile_by_name("loss5")->drop, 0.05);
  EXPECT_EQ(profile_by_name("loss20")->drop, 0.20);
  EXPECT_GT(profile_by_name("reorder")->reorder, 0.0);
  EXPECT_GT(profile_by_name("reorder")->reorder_delay, profile_by_name("reorder")->jitter);
  EXPECT_GT(profile_by_name("dup")->duplicate, 0.0);
  EXPECT_GT(profile_by_name("corrupt")->corrupt, 0.0);

  const LinkProfile slow = *profile_by_name("slow");
  EXPECT_EQ(slow.bandwidth_bps, 10'000'000u);
  EXPECT_EQ(slow.queue_bytes, 64u * 1024);
  EXPECT_EQ(slow.delay, 1ms);

  const LinkProfile part = *profile_by_name("partition");
  ASSERT_EQ(part.partitions.size(), 1u);
  EXPECT_EQ(part.partitions[0].end - part.partitions[0].start, 2s);
  EXPECT_FALSE(part.partitioned(sched::Instant{999ms}));
  EXPECT_TRUE(part.partitioned(sched::Instant{1s}));
  EXPECT_TRUE(part.partitioned(sched::Instant{2999ms}));
  EXPECT_FALSE(part.partitioned(sched::Instant{3s}));  // [start, end): healed at the end
}

}  // namespace
}  // namespace demi::runtime::sim
