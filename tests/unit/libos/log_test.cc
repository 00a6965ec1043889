// The log the LibOS speaks through: level names, filtering, and the warning count that tests
// (the stall watchdog's among them) rely on.
#include <gtest/gtest.h>

#include "base/log.h"

namespace demi::log {
namespace {

// Restores the process-wide level after a test changes it.
class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { set_level(saved_); }
  Level saved_ = level();
};

TEST_F(LogTest, LevelNamesParse) {
  Level l = Level::Error;
  const std::pair<const char*, Level> names[] = {
      {"error", Level::Error}, {"warn", Level::Warn}, {"info", Level::Info}, {"debug", Level::Debug}, {"trace", Level::Trace}};
  for (const auto& [name, want] : names) {
    ASSERT_TRUE(parse_level(name, &l)) << name;
    EXPECT_EQ(l, want) << name;
  }
  l = Level::Debug;
  for (const char* bad : {"", "warning", "ERROR", "info ", "5"}) {
    EXPECT_FALSE(parse_level(bad, &l)) << bad;
    EXPECT_EQ(l, Level::Debug) << "left alone on failure";
  }
}

TEST_F(LogTest, LevelsFilterWhatIsWritten) {
  set_level(Level::Warn);
  EXPECT_EQ(level(), Level::Warn);
  EXPECT_TRUE(enabled(Level::Error));
  EXPECT_TRUE(enabled(Level::Warn));
  EXPECT_FALSE(enabled(Level::Info));
  set_level(Level::Trace);
  EXPECT_TRUE(enabled(Level::Trace));
}

TEST_F(LogTest, WarningsAndErrorsAreCountedInfoIsNot) {
  set_level(Level::Trace);
  const unsigned long before = warnings_written();
  DEMI_INFO("test", "an info line {}", 1);
  DEMI_DEBUG("test", "a debug line");
  EXPECT_EQ(warnings_written(), before);
  DEMI_WARN("test", "a warning about {}", "something");
  EXPECT_EQ(warnings_written(), before + 1);
  DEMI_ERROR("test", "an error");
  EXPECT_EQ(warnings_written(), before + 2);
}

TEST_F(LogTest, FilteredWarningsAreNotCounted) {
  set_level(Level::Error);
  const unsigned long before = warnings_written();
  DEMI_WARN("test", "not written");
  EXPECT_EQ(warnings_written(), before);
  DEMI_ERROR("test", "written");
  EXPECT_EQ(warnings_written(), before + 1);
}

}  // namespace
}  // namespace demi::log
