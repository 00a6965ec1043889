// Every read of time in demi goes through a Clock, so that the simulator owns time.
#pragma once

#include <chrono>
#include <cstdint>

namespace demi::sched {

using Duration = std::chrono::nanoseconds;

// The epoch of demi's instants: a steady clock for RealClock, time zero for VirtualClock.
struct Epoch {
  using duration = Duration;
  using rep = Duration::rep;
  using period = Duration::period;
  using time_point = std::chrono::time_point<Epoch, Duration>;
  static constexpr bool is_steady = true;
};
using Instant = Epoch::time_point;

inline int64_t to_us(Duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }
inline double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
  // True for a clock that only moves when told to (the simulator's).
  virtual bool is_virtual() const { return false; }
};

// Monotonic time from the kernel (CLOCK_MONOTONIC through std::chrono::steady_clock).
class RealClock final : public Clock {
 public:
  Instant now() const override;
};

// Time that moves only when advanced: the simulator's clock. Deterministic by construction.
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(Instant start = Instant{}) : now_(start) {}
  Instant now() const override { return now_; }
  bool is_virtual() const override { return true; }
  // Moves time forward; never backward.
  void advance_to(Instant t) {
    if (t > now_) now_ = t;
  }
  void advance(Duration d) { advance_to(now_ + d); }

 private:
  Instant now_;
};

// The process-wide real clock, for code that has no LibOS at hand.
RealClock& real_clock();

}  // namespace demi::sched
