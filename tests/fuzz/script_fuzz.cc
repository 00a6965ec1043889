// libFuzzer target: the packet-script parser (tests/unit/scripts), and the runner on what it
// accepts. Any text must either parse or be refused with a line-numbered error, never crash;
// a script that parses runs against a whole stack, bounded in timer steps and virtual time,
// and must pass or fail with a message, never crash, leak or touch memory it does not own.
// The seed corpus is tests/scripts (ctest passes it after a scratch directory).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/log.h"
#include "unit/scripts/packet_script.h"
#include "unit/scripts/script_runner.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  demi::log::set_level(demi::log::Level::Error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace demi::scripts;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseError err;
  auto script = parse_script(text, &err);
  if (!script) {
    // A refusal names a line of the input.
    if (err.line < 1 || err.message.empty()) __builtin_trap();
    return 0;
  }
  // Each line costs a stack call or a frame at most; keep one input to milliseconds.
  if (script->events.size() > 200) return 0;
  // The configuration has its own validation and tests; here only the TCP tunables vary.
  for (const auto& [key, value] : script->config)
    if (key.rfind("catnip.tcp.", 0) != 0) return 0;
  RunLimits limits;
  limits.max_steps = 20'000;
  const RunOutcome r = run_script(*script, limits);
  if (!r.passed && r.message.empty()) __builtin_trap();
  return 0;
}
