// A re-armable timer on a Scheduler's indexed heap. Arming, re-arming and cancelling are
// O(log n) and never allocate; the callback is set once, when the owner is created.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>

#include "sched/clock.h"

namespace demi::sched {

class Scheduler;

class Timer {
 public:
  explicit Timer(Scheduler& sched, std::function<void()> on_fire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm_at(Instant deadline);
  void arm_in(Duration d);
  void cancel();
  bool armed() const { return index_ != kNotArmed; }
  Instant deadline() const { return deadline_; }

 private:
  friend class Scheduler;
  static constexpr std::size_t kNotArmed = std::numeric_limits<std::size_t>::max();
  Scheduler& sched_;
  std::function<void()> on_fire_;
  Instant deadline_{};
  uint64_t seq_ = 0;  // arming order: breaks ties between equal deadlines deterministically
  std::size_t index_ = kNotArmed;
};

}  // namespace demi::sched
