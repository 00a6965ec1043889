// Runs a parsed packet script against a whole inet stack (Ethernet, ARP, IPv4, ICMP, UDP, TCP)
// over a fake device, on a virtual clock, deterministically.
//
// Time: the script's time 0 is when the stack starts; before each line the runner moves the
// clock to the line's time by stepping from one timer deadline to the next, so every frame the
// stack emits is stamped with the exact virtual millisecond it left at. An expected frame must
// come at exactly its line's time, and every frame must be expected: one that nobody expected
// fails the script at the next line that is not an expectation (or at the end).
//
// The stack is 10.0.0.2 (02:00:00:00:00:02) on 10.0.0.0/24, its TCP ISNs seeded, gratuitous ARP
// off, and 10.0.0.1 (the TCP peer) in its ARP table as a static entry; "config" lines change that.
// No gtest here: the fuzzer runs scripts too.
#pragma once

#include <cstdint>
#include <string>

#include "unit/scripts/packet_script.h"

namespace demi::scripts {

struct RunLimits {
  // Timer deadlines the runner steps through, in all; a script that needs more fails.
  uint64_t max_steps = 2'000'000;
};

struct RunOutcome {
  bool passed = true;
  int line = 0;         // the line that failed (0: before the first line, or at the end)
  std::string message;  // what was expected and what happened
};

RunOutcome run_script(const Script& script, const RunLimits& limits = {});

}  // namespace demi::scripts
