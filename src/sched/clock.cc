#include "sched/clock.h"

namespace demi::sched {

Instant RealClock::now() const {
  auto d = std::chrono::steady_clock::now().time_since_epoch();
  return Instant{std::chrono::duration_cast<Duration>(d)};
}

RealClock& real_clock() {
  static RealClock clock;
  return clock;
}

}  // namespace demi::sched
