#include "runtime/sim/link_profile.h"

#include <array>
#include <chrono>

namespace demi::runtime::sim {

using namespace std::chrono_literals;

namespace {

constexpr sched::Duration kPresetDelay = 100us;

constexpr std::array<std::string_view, 9> kNames = {
    "clean", "loss1", "loss5", "loss20", "reorder", "dup", "corrupt", "slow", "partition",
};

}  // namespace

LinkProfile LinkProfile::clean() {
  LinkProfile p;
  p.delay = kPresetDelay;
  return p;
}

LinkProfile LinkProfile::loss(double rate) {
  LinkProfile p = clean();
  p.drop = rate;
  return p;
}

LinkProfile LinkProfile::reordering() {
  LinkProfile p = clean();
  p.reorder = 0.10;
  p.reorder_delay = 1ms;
  p.jitter = 20us;
  return p;
}

LinkProfile LinkProfile::duplicating() {
  LinkProfile p = clean();
  p.duplicate = 0.05;
  return p;
}

LinkProfile LinkProfile::corrupting() {
  LinkProfile p = clean();
  p.corrupt = 0.02;
  return p;
}

LinkProfile LinkProfile::slow() {
  LinkProfile p;
  p.delay = 1ms;
  p.bandwidth_bps = 10'000'000;
  p.queue_bytes = uint64_t{64} * 1024;
  return p;
}

LinkProfile LinkProfile::partitioned_window() {
  LinkProfile p = clean();
  p.partitions.push_back({sched::Instant{1s}, sched::Instant{3s}});
  return p;
}

std::optional<LinkProfile> profile_by_name(std::string_view name) {
  if (name == "clean") {
    return LinkProfile::clean();
  }
  if (name == "loss1") {
    return LinkProfile::loss(0.01);
  }
  if (name == "loss5") {
    return LinkProfile::loss(0.05);
  }
  if (name == "loss20") {
    return LinkProfile::loss(0.20);
  }
  if (name == "reorder") {
    return LinkProfile::reordering();
  }
  if (name == "dup") {
    return LinkProfile::duplicating();
  }
  if (name == "corrupt") {
    return LinkProfile::corrupting();
  }
  if (name == "slow") {
    return LinkProfile::slow();
  }
  if (name == "partition") {
    return LinkProfile::partitioned_window();
  }
  return std::nullopt;
}

std::span<const std::string_view> profile_names() {
  return kNames;
}

}  // namespace demi::runtime::sim
