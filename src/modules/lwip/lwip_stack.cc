#include "modules/lwip/lwip_stack.h"

#include <lwip/etharp.h>
#include <lwip/init.h>
#include <lwip/ip4_frag.h>
#include <lwip/priv/tcp_priv.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "base/log.h"

namespace demi::lwip {

namespace {

constexpr const char* kLog = "lwip";
constexpr sched::Duration kTcpInterval = std::chrono::milliseconds(TCP_TMR_INTERVAL);
constexpr sched::Duration kArpInterval = std::chrono::milliseconds(ARP_TMR_INTERVAL);
constexpr sched::Duration kReassInterval = std::chrono::milliseconds(IP_TMR_INTERVAL);
// A LibOS that was away longer than this many intervals does not replay every tick it missed:
// lwIP counts ticks, and a burst of them would expire every timer at once.
constexpr int kMaxCatchUp = 8;

// Fires `fn` for each interval elapsed by `now`, at most kMaxCatchUp times, and moves `next`.
template <typename Fn>
void fire(sched::Instant& next, sched::Duration interval, sched::Instant now, Fn fn) {
  int n = 0;
  while (next <= now && n < kMaxCatchUp) {
    fn();
    next += interval;
    ++n;
  }
  if (next <= now) next = now + interval;  // skipped the rest of a long absence
}

}  // namespace

LwipStack::LwipStack() {
  // Debian's build (NO_SYS=0) also sets up its sys_arch and registers lwIP's own cyclic
  // timeouts; those only run from sys_check_timeouts or the tcpip thread, neither of which demi
  // uses, so they stay inert.
  lwip_init();
  DEMI_DEBUG(kLog, "lwIP {} initialised", LWIP_VERSION_STRING);
}

LwipStack& LwipStack::get() {
  static LwipStack stack;
  return stack;
}

int LwipStack::join(sched::Instant now) {
  if (modules_ > 0 && owner_ != std::this_thread::get_id()) {
    DEMI_ERROR(kLog, "lwIP is one stack per process and is already used by another thread; every lwip module "
                     "of a process must run on one thread");
    return EBUSY;
  }
  if (modules_ == 0) {
    owner_ = std::this_thread::get_id();
    next_tcp_ = now + kTcpInterval;
    next_arp_ = now + kArpInterval;
    next_reass_ = now + kReassInterval;
    last_now_ = now;
  }
  ++modules_;
  return 0;
}

void LwipStack::leave() {
  if (modules_ > 0) --modules_;
}

void LwipStack::run_timers(sched::Instant now) {
  if (now < last_now_) {
    // Clocks of two time bases (a virtual and a real one) in one process: keep going on the new
    // one rather than stall every timer until the old time comes back.
    DEMI_WARN(kLog, "the clock went back by {} us: lwip modules of one process must share a time base",
              sched::to_us(last_now_ - now));
    next_tcp_ = now + kTcpInterval;
    next_arp_ = now + kArpInterval;
    next_reass_ = now + kReassInterval;
  }
  last_now_ = now;
  fire(next_tcp_, kTcpInterval, now, [] { tcp_tmr(); });
  fire(next_arp_, kArpInterval, now, [] { etharp_tmr(); });
  fire(next_reass_, kReassInterval, now, [] { ip_reass_tmr(); });
}

sched::Instant LwipStack::next_timer() const { return std::min({next_tcp_, next_arp_, next_reass_}); }

int errno_of(err_t e) {
  switch (e) {
    case ERR_OK: return 0;
    case ERR_MEM: return ENOMEM;
    case ERR_BUF: return ENOBUFS;
    case ERR_TIMEOUT: return ETIMEDOUT;
    case ERR_RTE: return EHOSTUNREACH;
    case ERR_INPROGRESS: return EINPROGRESS;
    case ERR_VAL: return EINVAL;
    case ERR_WOULDBLOCK: return EAGAIN;
    case ERR_USE: return EADDRINUSE;
    case ERR_ALREADY: return EALREADY;
    case ERR_ISCONN: return EISCONN;
    case ERR_CONN: return ENOTCONN;
    case ERR_IF: return EIO;
    case ERR_ABRT: return ECONNABORTED;
    case ERR_RST: return ECONNRESET;
    case ERR_CLSD: return ENOTCONN;
    case ERR_ARG: return EINVAL;
    default: return EIO;
  }
}

}  // namespace demi::lwip
