// Protocol state coverage: once every test of tcp_tests has run, each transition the stack
// implements (TransitionCoverage::implemented(), RFC 9293 Figure 5 with its causes) must have
// been taken at least once somewhere in the suite; the check fails listing those that were not.
// It prints the whole table, with counts, either way. A partial run (--gtest_filter) cannot judge
// coverage and only prints.
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <cstdio>
#include <string>

#include "unit/tcp/coverage_registry.h"

namespace demi::net::tcp::test {
namespace {

class CoverageCheck final : public ::testing::Environment {
 public:
  void TearDown() override {
    const TransitionCoverage& c = suite_coverage();
    std::size_t taken = 0;
    for (const auto& e : c.entries()) taken += e.count > 0 ? 1 : 0;
    std::fputs(fmt::format("\nTCP state-transition coverage of tcp_tests: {} of {} implemented transitions taken\n{}",
                           taken, c.entries().size(), c.report())
                   .c_str(),
               stdout);
    const std::string filter = ::testing::GTEST_FLAG(filter);
    if (filter != "*" && !filter.empty()) {
      std::fputs("(a filtered run: coverage not judged)\n", stdout);
      return;
    }
    std::string missing;
    for (const Transition& t : c.never_taken())
      missing += fmt::format("\n  {} -> {} ({})", state_name(t.from), state_name(t.to), cause_name(t.cause));
    EXPECT_TRUE(missing.empty()) << "implemented transitions no test exercised:" << missing;
    EXPECT_EQ(c.unlisted(), 0u) << "transitions the table does not list were taken";
  }
};

const auto* const kCheck = ::testing::AddGlobalTestEnvironment(new CoverageCheck);

}  // namespace
}  // namespace demi::net::tcp::test
