// Two LibOS instances, "a" (10.0.0.1) and "b" (10.0.0.2), each with a catnip module over a port
// of one simulated network, sharing one virtual clock. When either LibOS waits and has nothing
// to do, its idle hook runs the other one and then moves time to the next event (a frame due, a
// timer), so a test can wait on one host while the other answers. A test may destroy one host
// early (destroy()), as a process exit would; the other runs on alone.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <demi/catnip.h>
#include <demi/libos.h>

#include "libos/module_host.h"
#include "modules/catnip/catnip_module.h"
#include "runtime/sim/network.h"
#include "sched/clock.h"

namespace demi::catnip::test {

inline constexpr runtime::LinkAddress kMacA{0x02, 0, 0, 0, 0, 0x0a};
inline constexpr runtime::LinkAddress kMacB{0x02, 0, 0, 0, 0, 0x0b};

class SimPair {
 public:
  explicit SimPair(uint64_t seed = 1, std::function<void(Config&)> tweak = {})
      : net_(clock_, seed),
        port_a_(net_.add_host(kMacA, "a")),
        port_b_(net_.add_host(kMacB, "b")),
        a_(std::in_place, options("10.0.0.1", seed, tweak)),
        b_(std::in_place, options("10.0.0.2", seed + 1, tweak)),
        live_a_(&*a_),
        live_b_(&*b_) {
    EXPECT_EQ(a_->install(make_catnip_module(*port_a_, a_->config())), 0);
    EXPECT_EQ(b_->install(make_catnip_module(*port_b_, b_->config())), 0);
    a_->host().set_idle_hook([this] { return idle(); });
    b_->host().set_idle_hook([this] { return idle(); });
  }
  // Both hosts finish their connections (the LibOS's shutdown linger) while the other one still
  // answers; only then does either go.
  ~SimPair() {
    for (LibOS* l : {live_b_, live_a_})
      if (l) l->host().shutdown();
  }
  SimPair(const SimPair&) = delete;
  SimPair& operator=(const SimPair&) = delete;

  LibOS& a() { return *a_; }
  LibOS& b() { return *b_; }
  // Destroys one host now, as its process exiting would: its LibOS closes its queues and lingers
  // while the other host answers, then goes. Its idle hook reaches it until then.
  void destroy(LibOS& l) {
    if (&l == live_a_) {
      a_.reset();
      live_a_ = nullptr;
    } else if (&l == live_b_) {
      b_.reset();
      live_b_ = nullptr;
    }
  }
  CatnipModule& module(LibOS& l) { return *static_cast<CatnipModule*>(l.module("catnip")); }
  net::InetStack& stack(LibOS& l) { return *module(l).stack(); }
  runtime::sim::Network& network() { return net_; }
  sched::VirtualClock& clock() { return clock_; }

  // Runs both hosts until `done` or until nothing can happen any more; true if `done`.
  bool run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 1000000; ++i) {
      if (done()) return true;
      if (!idle()) return done();
    }
    ADD_FAILURE() << "run_until: no end in sight";
    return false;
  }

 private:
  LibOSOptions options(const std::string& address, uint64_t seed, const std::function<void(Config&)>& tweak) {
    LibOSOptions o;
    o.clock = &clock_;
    EXPECT_EQ(o.config.set("catnip.ipv4.address", address), 0);
    EXPECT_EQ(o.config.set("catnip.tcp.isn_seed", std::to_string(seed)), 0);  // repeatable runs
    EXPECT_EQ(o.config.set("libos.stall_warning_ms", "0"), 0);  // the other host's time is not a stall
    if (tweak) tweak(o.config);
    return o;
  }
  // One round: both hosts poll and run; if neither did anything, time jumps to the next event.
  bool idle() {
    bool progress = false;
    for (LibOS* l : {live_a_, live_b_})
      if (l) progress = l->poll_once() || progress;
    if (progress) return true;
    std::optional<sched::Instant> next = net_.next_delivery();
    for (LibOS* l : {live_a_, live_b_}) {
      if (!l) continue;
      auto t = l->host().scheduler().next_deadline();
      if (t && (!next || *t < *next)) next = t;
    }
    if (!next || *next <= clock_.now()) return false;
    clock_.advance_to(*next);
    return true;
  }

  sched::VirtualClock clock_;
  runtime::sim::Network net_;  // outlives the LibOS instances, which borrow its ports
  runtime::sim::Port* port_a_;
  runtime::sim::Port* port_b_;
  std::optional<LibOS> a_;
  std::optional<LibOS> b_;
  // The hosts not destroyed yet; valid while one is being destroyed too (it lingers then).
  LibOS* live_a_;
  LibOS* live_b_;
};

}  // namespace demi::catnip::test
