// The TCP state transitions taken by the whole tcp_tests suite: every TcpLayer a test builds (the
// fixture's, the loopback's) and every simulated exchange adds its table here, and the coverage
// check (tcp_coverage_test.cc) compares the sum with what the stack implements.
#pragma once

#include "net/tcp/transition_coverage.h"

namespace demi::net::tcp::test {

inline TransitionCoverage& suite_coverage() {
  static TransitionCoverage coverage;
  return coverage;
}

}  // namespace demi::net::tcp::test
