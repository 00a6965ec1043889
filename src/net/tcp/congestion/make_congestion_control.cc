// The factory of congestion_control.h: a controller by name.
#include <memory>
#include <string_view>

#include "net/tcp/congestion/congestion_control.h"
#include "net/tcp/congestion/cubic.h"
#include "net/tcp/congestion/newreno.h"

namespace demi::net::tcp {

std::unique_ptr<CongestionControl> make_congestion_control(std::string_view name, uint32_t mss, sched::Instant now,
                                                           const CongestionOptions& options) {
  // Neither controller needs the time of its creation: CUBIC's clock starts at its first
  // congestion avoidance stage (RFC 9438 4.1, t_epoch).
  (void)now;
  if (name == "newreno") {
    return std::make_unique<NewReno>(mss, options.hystart);
  }
  if (name == "cubic") {
    return std::make_unique<Cubic>(mss, options.hystart);
  }
  return nullptr;
}

}  // namespace demi::net::tcp
