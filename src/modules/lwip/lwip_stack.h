// The process's one lwIP: what every lwip module in a process shares.
//
// lwIP keeps its state in globals (the PCB lists, the netif list, the ARP table, its timers), so
// a process has one lwIP however many LibOS instances it runs. Each lwip module is one netif in
// it, and binds every PCB it makes to that netif (tcp_bind_netif / udp_bind_netif): lwIP then
// routes each PCB's output through its own module's device and matches input only on it, so two
// modules in one process behave as two hosts (the simulator's two-host tests rely on this).
//
// Debian's liblwip is built with NO_SYS=0 for the Hurd (sys_arch on pthreads, a tcpip thread
// for the sequential and socket APIs). demi uses none of that: it never calls tcpip_init, so no
// lwIP thread exists, and it calls the raw API from the LibOS's thread only. lwIP's core-locking
// check (sys_check_core_locking) only asserts once a tcpip thread has been marked, which never
// happens here. The cyclic timers are not lwIP's own (those would read the library's sys_now,
// the kernel's clock): this class calls tcp_tmr, etharp_tmr and ip_reass_tmr at their intervals
// on the LibOS clock, so in the simulator lwIP runs on virtual time.
#pragma once

#include <lwip/err.h>

#include <cstddef>
#include <optional>
#include <thread>

#include "sched/clock.h"

namespace demi::lwip {

class LwipStack {
 public:
  // The process's lwIP, initialised (lwip_init) on first use.
  static LwipStack& get();

  // A module joins (attach) or leaves (its destructor). The first module fixes the thread that
  // may use lwIP and starts the timers at `now`; EBUSY for a module on another thread while one
  // is attached (lwIP has no locks of its own here).
  int join(sched::Instant now);
  void leave();

  // Runs every cyclic timer due by `now`. Any module may call it; a timer fires once per
  // interval however many modules poll.
  void run_timers(sched::Instant now);
  // When the next timer is due (for the modules' timer coroutines).
  sched::Instant next_timer() const;

  std::size_t modules() const { return modules_; }

 private:
  LwipStack();
  std::size_t modules_ = 0;
  std::thread::id owner_;
  sched::Instant next_tcp_{};
  sched::Instant next_arp_{};
  sched::Instant next_reass_{};
  sched::Instant last_now_{};
};

// An lwIP error as an errno (for a call's own result; connection errors are mapped where the
// connection's state is known).
int errno_of(err_t e);

}  // namespace demi::lwip
