// A two-host TCP exchange on the simulated network, in one process, from one seed.
//
// Host a (10.0.0.1) listens on port 80; host b (10.0.0.2) opens `conns` connections to it. On
// every connection each side pushes `bytes` bytes of a pattern that depends on the seed, the
// connection and the direction, in pushes of seeded sizes, and pops what the other side sends
// while it pushes. The link profile (the presets of runtime/sim/link_profile.h) applies to both
// directions; the partition preset's 2 s cut starts when a seeded share (0 to 95%) of the bytes
// has arrived rather than at 1 s, which a short exchange would never reach. Each connection closes in a seeded order: the client first, the server first, or
// both at once (which takes the simultaneous close path through CLOSING).
//
// Invariants checked at the end of every run:
//   bytes    each side received exactly the bytes the other pushed, once, in order, and no
//            operation failed;
//   closed   every connection (and the listener) reached CLOSED and left both TCP tables;
//   buffers  every application buffer was freed, no Sga is live, and every packet buffer of the
//            network and of both ports is back in its pool;
//   memory   what the TCP layers held stayed within the configured send and receive buffers
//            (sampled at every step), and the application's buffers within the pushes in flight;
//   finished the exchange ended within its virtual-time and step bounds.
//
// The same options give the same report, byte for byte: the network, the stacks (ISNs from
// catnip.tcp.isn_seed) and the driver draw only from the seed, and time is virtual.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "net/counters.h"
#include "net/tcp/transition_coverage.h"
#include "runtime/sim/network.h"

namespace demi::sim {

struct ExchangeOptions {
  uint64_t seed = 1;
  std::string profile = "clean";  // a name from runtime::sim::profile_names()
  std::size_t bytes = 64 * 1024;  // per connection and direction
  int conns = 1;
  // Empty: by the seed (odd seeds CUBIC, even ones NewReno), so both get the same faults.
  std::string congestion;
};

struct InvariantCheck {
  std::string name;
  bool ok = true;
  std::string detail;  // what was measured, or what broke
};

struct ExchangeReport {
  ExchangeOptions options;
  std::string congestion;
  bool ok = false;
  std::vector<InvariantCheck> checks;
  net::CounterList counters_a;  // server
  net::CounterList counters_b;  // client
  runtime::sim::LinkCounters a_to_b;
  runtime::sim::LinkCounters b_to_a;
  net::tcp::TransitionCoverage coverage;  // both hosts
  double virtual_ms = 0;                  // virtual time the exchange took
  uint64_t steps = 0;
  uint64_t digest = 0;  // the network's digest of every frame delivered
  std::string failure;  // the first broken invariant, empty when ok
  std::string notes;    // how the run was shaped: the partition's window, the close orders

  // The command that replays this run.
  std::string replay_command() const;
  // Everything above as text: invariants, counters, the transition table. Deterministic.
  std::string format() const;
};

// False (and *why) for options that cannot run: an unknown profile, zero connections, ...
bool validate(const ExchangeOptions& options, std::string* why);
ExchangeReport run_exchange(const ExchangeOptions& options);

}  // namespace demi::sim
