// Counters of the inet stack, read as a flat list of (name, value): every drop has a reason and
// every reason a counter, so that a packet that vanished can be accounted for.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace demi::net {

struct Counter {
  std::string_view name;  // "<layer>.<event>", e.g. "ipv4.drop.bad_checksum"
  uint64_t value = 0;
};

using CounterList = std::vector<Counter>;

// The value of the counter named `name` in `list`, 0 if there is none.
inline uint64_t counter_value(const CounterList& list, std::string_view name) {
  for (const Counter& c : list)
    if (c.name == name) return c.value;
  return 0;
}

}  // namespace demi::net
