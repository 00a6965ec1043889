// demi-sim: one two-host TCP exchange on the simulated network, replayable from its seed.
//
//   demi-sim --seed N --profile P [--bytes B] [--conns C] [--cc newreno|cubic]
//
// Prints the invariant checks, the link and stack counters and the TCP state-transition table
// (sim/exchange.h says what is checked); exits 1 when an invariant broke, 2 on bad arguments.
// The same arguments print the same bytes.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sim/exchange.h"

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "demi-sim: %s\n"
               "usage: demi-sim --seed N --profile P [--bytes B] [--conns C] [--cc newreno|cubic]\n"
               "profiles: clean loss1 loss5 loss20 reorder dup corrupt slow partition\n",
               why);
  return 2;
}

bool parse_u64(const char* s, uint64_t* out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-') return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  demi::sim::ExchangeOptions o;
  bool have_seed = false;
  bool have_profile = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    uint64_t v = 0;
    if (arg == "--help" || arg == "-h") {
      usage("a two-host TCP exchange on the simulated network");
      return 0;
    }
    if (!value) return usage("every option takes a value");
    if (arg == "--seed") {
      if (!parse_u64(value, &o.seed)) return usage("--seed takes a non-negative integer");
      have_seed = true;
    } else if (arg == "--profile") {
      o.profile = value;
      have_profile = true;
    } else if (arg == "--bytes") {
      if (!parse_u64(value, &v)) return usage("--bytes takes a non-negative integer");
      o.bytes = static_cast<std::size_t>(v);
    } else if (arg == "--conns") {
      if (!parse_u64(value, &v) || v > 1000) return usage("--conns takes a small positive integer");
      o.conns = static_cast<int>(v);
    } else if (arg == "--cc") {
      o.congestion = value;
    } else {
      return usage("unknown option");
    }
  }
  if (!have_seed || !have_profile) return usage("--seed and --profile are required");
  std::string why;
  if (!demi::sim::validate(o, &why)) return usage(why.c_str());
  const demi::sim::ExchangeReport report = demi::sim::run_exchange(o);
  const std::string text = report.format();
  std::fwrite(text.data(), 1, text.size(), stdout);
  return report.ok ? 0 : 1;
}
