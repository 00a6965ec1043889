#include "base/log.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace demi::log {

namespace {
Level initial_level() {
  Level l = Level::Info;
  if (const char* env = std::getenv("DEMI_LOG_LEVEL")) parse_level(env, &l);
  return l;
}
Level current = initial_level();
unsigned long warnings = 0;
constexpr const char* kNames[] = {"error", "warn", "info", "debug", "trace"};
}  // namespace

Level level() { return current; }
void set_level(Level l) { current = l; }

bool parse_level(std::string_view name, Level* out) {
  for (int i = 0; i < 5; ++i) {
    if (name == kNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

void write(Level l, std::string_view component, std::string_view message) {
  if (l <= Level::Warn) ++warnings;
  std::string line = fmt::format("demi {} [{}] {}\n", kNames[static_cast<int>(l)], component, message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

unsigned long warnings_written() { return warnings; }

}  // namespace demi::log
