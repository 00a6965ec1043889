// The schema of every configuration key demi knows: its type, default, bounds and meaning.
// One table serves validation (Config::from_*) and documentation (docs/config.md).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace demi::config {

enum class Type { Int, Double, Bool, String, StringList };

struct KeySpec {
  std::string_view key;  // dotted path: "libos.stall_warning_ms"
  Type type;
  std::string_view default_value;  // as YAML text; lists as comma-separated
  int64_t min = INT64_MIN;          // for Int
  int64_t max = INT64_MAX;
  std::string_view choices;         // for String: "a|b|c", empty = any
  std::string_view doc;
};

std::span<const KeySpec> schema();
const KeySpec* find_key(std::string_view key);
const char* type_name(Type t);

}  // namespace demi::config
