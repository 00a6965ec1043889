// Two LibOS instances, "a" (10.0.0.1) and "b" (10.0.0.2), on one simulated network with one
// virtual clock, each with an lwip or a catnip module over its port. When a LibOS waits with
// nothing to do, its idle hook runs the other one and moves time to the next event, so a test
// may wait on one host while the other answers.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <demi/catnip.h>
#include <demi/libos.h>
#include <demi/lwip.h>

#include "libos/module_host.h"
#include "modules/lwip/lwip_module.h"
#include "runtime/sim/network.h"
#include "sched/clock.h"

namespace demi::lwip::test {

inline constexpr runtime::LinkAddress kMacA{0x02, 0, 0, 0, 0, 0x0a};
inline constexpr runtime::LinkAddress kMacB{0x02, 0, 0, 0, 0, 0x0b};

enum class Stack { Lwip, Catnip };

class SimHosts {
 public:
  explicit SimHosts(uint64_t seed = 1, Stack a = Stack::Lwip, Stack b = Stack::Lwip,
                    const std::function<void(runtime::sim::Network&)>& setup = {})
      : net_(clock_, seed),
        port_a_(net_.add_host(kMacA, "a")),
        port_b_(net_.add_host(kMacB, "b")),
        a_(options("10.0.0.1", seed)),
        b_(options("10.0.0.2", seed + 1)) {
    if (setup) setup(net_);
    EXPECT_EQ(a_.install(make(a, *port_a_, a_)), 0);
    EXPECT_EQ(b_.install(make(b, *port_b_, b_)), 0);
    a_.host().set_idle_hook([this] { return idle(); });
    b_.host().set_idle_hook([this] { return idle(); });
  }

  // Both hosts finish their connections (the LibOS's shutdown linger) while the other one still
  // answers; only then does either go (the idle hook of each runs the other).
  ~SimHosts() {
    b_.host().shutdown();
    a_.host().shutdown();
  }
  SimHosts(const SimHosts&) = delete;
  SimHosts& operator=(const SimHosts&) = delete;

  LibOS& a() { return a_; }
  LibOS& b() { return b_; }
  runtime::sim::Network& network() { return net_; }
  runtime::sim::Port& port_a() { return *port_a_; }
  runtime::sim::Port& port_b() { return *port_b_; }
  sched::VirtualClock& clock() { return clock_; }
  static LwipModule* lwip(LibOS& l) { return static_cast<LwipModule*>(l.module("lwip")); }

  // One round: both hosts poll and run; if neither did anything, time jumps to the next event
  // (a frame due, a timer). False if nothing can ever happen again.
  bool idle() {
    bool progress = a_.poll_once();
    progress = b_.poll_once() || progress;
    if (progress) return true;
    std::optional<sched::Instant> next = net_.next_delivery();
    for (LibOS* l : {&a_, &b_}) {
      auto t = l->host().scheduler().next_deadline();
      if (t && (!next || *t < *next)) next = t;
    }
    if (!next || *next <= clock_.now()) return false;
    clock_.advance_to(*next);
    return true;
  }

 private:
  static std::unique_ptr<Module> make(Stack s, runtime::sim::Port& port, LibOS& l) {
    if (s == Stack::Lwip) return make_lwip_module(port, l.config());
    return make_catnip_module(port, l.config());
  }
  LibOSOptions options(const std::string& address, uint64_t seed) {
    LibOSOptions o;
    o.clock = &clock_;
    EXPECT_EQ(o.config.set("lwip.address", address), 0);
    EXPECT_EQ(o.config.set("catnip.ipv4.address", address), 0);
    EXPECT_EQ(o.config.set("catnip.tcp.isn_seed", std::to_string(seed)), 0);
    EXPECT_EQ(o.config.set("libos.stall_warning_ms", "0"), 0);  // the other host's time is not a stall
    return o;
  }

  sched::VirtualClock clock_;
  runtime::sim::Network net_;  // outlives the LibOS instances, which borrow its ports
  runtime::sim::Port* port_a_;
  runtime::sim::Port* port_b_;
  LibOS a_;
  LibOS b_;
};

}  // namespace demi::lwip::test
