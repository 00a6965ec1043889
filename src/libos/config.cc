#include <demi/config.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "libos/config_schema.h"

namespace demi {

using config::KeySpec;
using config::Type;

namespace {

void set_why(std::string* why, std::string text) {
  DEMI_ERROR("config", "{}", text);
  if (why) *why = std::move(text);
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string{s};
}

// Parses one scalar as `spec` says; false (with *err) when it does not fit.
bool parse_scalar(const KeySpec& spec, const std::string& text, Config::Value* out, std::string* err) {
  switch (spec.type) {
    case Type::Int: {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(text.c_str(), &end, 0);
      if (text.empty() || *end != '\0' || errno == ERANGE) {
        *err = "expects an integer, got '" + text + "'";
        return false;
      }
      if (v < spec.min || v > spec.max) {
        *err = fmt::format("is {}, outside [{}, {}]", v, spec.min, spec.max);
        return false;
      }
      *out = int64_t{v};
      return true;
    }
    case Type::Double: {
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') {
        *err = "expects a number, got '" + text + "'";
        return false;
      }
      *out = v;
      return true;
    }
    case Type::Bool:
      if (text == "true" || text == "yes" || text == "on" || text == "1") *out = true;
      else if (text == "false" || text == "no" || text == "off" || text == "0") *out = false;
      else {
        *err = "expects true or false, got '" + text + "'";
        return false;
      }
      return true;
    case Type::String: {
      if (!spec.choices.empty()) {
        bool found = false;
        std::string_view rest = spec.choices;
        while (!rest.empty()) {
          auto bar = rest.find('|');
          if (rest.substr(0, bar) == text) found = true;
          if (bar == std::string_view::npos) break;
          rest.remove_prefix(bar + 1);
        }
        if (!found) {
          *err = fmt::format("is '{}', expected one of {}", text, spec.choices);
          return false;
        }
      }
      *out = text;
      return true;
    }
    case Type::StringList: {
      std::vector<std::string> items;
      std::string_view rest = text;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string item = trim(rest.substr(0, comma));
        if (!item.empty()) items.push_back(item);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      *out = std::move(items);
      return true;
    }
  }
  return false;
}

bool has_section(std::string_view prefix) {
  for (const KeySpec& k : config::schema())
    if (k.key.size() > prefix.size() && k.key.substr(0, prefix.size()) == prefix && k.key[prefix.size()] == '.')
      return true;
  return false;
}

int load_node(const YAML::Node& node, const std::string& path, std::map<std::string, Config::Value, std::less<>>& values,
              std::string* why) {
  auto where = [&](const YAML::Node& n) { return fmt::format("line {}", n.Mark().line + 1); };
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string name = kv.first.as<std::string>();
      std::string key = path.empty() ? name : path + "." + name;
      const KeySpec* spec = config::find_key(key);
      if (!spec && !has_section(key)) {
        set_why(why, fmt::format("config: unknown key '{}' ({})", key, where(kv.first)));
        return EINVAL;
      }
      if (!spec) {
        if (!kv.second.IsMap() && !kv.second.IsNull()) {
          set_why(why, fmt::format("config: '{}' is a section and takes keys, not a value ({})", key, where(kv.first)));
          return EINVAL;
        }
        if (int rc = load_node(kv.second, key, values, why)) return rc;
        continue;
      }
      std::string text;
      if (spec->type == Type::StringList && kv.second.IsSequence()) {
        // Items are taken whole: an item may itself hold commas (a DPDK --vdev string does).
        std::vector<std::string> items;
        for (const auto& item : kv.second) {
          if (!item.IsScalar()) {
            set_why(why, fmt::format("config: '{}' expects a list of strings ({})", key, where(item)));
            return EINVAL;
          }
          items.push_back(item.as<std::string>());
        }
        values[key] = std::move(items);
        continue;
      }
      if (kv.second.IsScalar()) {
        text = kv.second.as<std::string>();
      } else {
        set_why(why, fmt::format("config: '{}' expects a {} ({})", key, config::type_name(spec->type), where(kv.first)));
        return EINVAL;
      }
      Config::Value v;
      std::string err;
      if (!parse_scalar(*spec, text, &v, &err)) {
        set_why(why, fmt::format("config: '{}' {} ({})", key, err, where(kv.second)));
        return EINVAL;
      }
      values[key] = std::move(v);
    }
    return 0;
  }
  if (node.IsNull()) return 0;
  set_why(why, fmt::format("config: expected a map of sections at '{}'", path.empty() ? "top level" : path));
  return EINVAL;
}

}  // namespace

Config::Config() {
  for (const KeySpec& k : config::schema()) {
    Value v;
    std::string err;
    if (!parse_scalar(k, std::string{k.default_value}, &v, &err)) {
      std::fprintf(stderr, "demi: bad default for config key %.*s: %s\n", static_cast<int>(k.key.size()), k.key.data(),
                   err.c_str());
      std::abort();
    }
    values_.emplace(std::string{k.key}, std::move(v));
  }
}

Result<Config> Config::from_string(std::string_view yaml, std::string* why) {
  Config c;
  YAML::Node root;
  try {
    root = YAML::Load(std::string{yaml});
  } catch (const YAML::Exception& e) {
    set_why(why, fmt::format("config: not valid YAML: {}", e.what()));
    return Error{EINVAL};
  }
  try {
    if (int rc = load_node(root, "", c.values_, why)) return Error{rc};
  } catch (const YAML::Exception& e) {
    set_why(why, fmt::format("config: {}", e.what()));
    return Error{EINVAL};
  }
  c.source_ = "string";
  return c;
}

Result<Config> Config::from_file(const std::string& path, std::string* why) {
  // A directory opens as a stream that reads nothing: say so instead of taking the defaults.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    set_why(why, fmt::format("config: cannot read '{}': {}", path, std::strerror(EISDIR)));
    return Error{EISDIR};
  }
  std::ifstream in(path);
  if (!in) {
    int err = errno ? errno : ENOENT;
    set_why(why, fmt::format("config: cannot read '{}': {}", path, std::strerror(err)));
    return Error{err};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = from_string(ss.str(), why);
  if (!r) {
    if (why) *why = path + ": " + *why;
    return r;
  }
  r->source_ = path;
  return r;
}

Result<Config> Config::from_args(int argc, char* const argv[], std::string* why) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i] ? argv[i] : "";
    if (a == "--config") {
      if (i + 1 >= argc) {
        set_why(why, "config: --config needs a file name");
        return Error{EINVAL};
      }
      return from_file(argv[i + 1], why);
    }
    if (a.substr(0, 9) == "--config=") return from_file(std::string{a.substr(9)}, why);
  }
  if (const char* env = std::getenv("DEMI_CONFIG"); env && *env) return from_file(env, why);
  return Config{};
}

int Config::set(std::string_view key, std::string_view value, std::string* why) {
  const KeySpec* spec = config::find_key(key);
  if (!spec) {
    set_why(why, fmt::format("config: unknown key '{}'", key));
    return EINVAL;
  }
  // A list may be given as a YAML flow sequence ("[a, 'b,c']") so that items can hold commas.
  if (spec->type == Type::StringList && !value.empty() && value.front() == '[') {
    std::string_view doc = value;
    try {
      YAML::Node seq = YAML::Load(std::string{doc});
      if (seq.IsSequence()) {
        std::vector<std::string> items;
        for (const auto& item : seq) items.push_back(item.as<std::string>());
        values_[std::string{key}] = std::move(items);
        return 0;
      }
    } catch (const YAML::Exception& e) {
      set_why(why, fmt::format("config: '{}' is not a valid list: {}", key, e.what()));
      return EINVAL;
    }
  }
  Value v;
  std::string err;
  if (!parse_scalar(*spec, std::string{value}, &v, &err)) {
    set_why(why, fmt::format("config: '{}' {}", key, err));
    return EINVAL;
  }
  values_[std::string{key}] = std::move(v);
  return 0;
}

const Config::Value& Config::lookup(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    std::fprintf(stderr, "demi: bug: config key '%.*s' is not in the schema\n", static_cast<int>(key.size()), key.data());
    std::abort();
  }
  return it->second;
}

template <typename T>
static const T& typed(const Config::Value& v, std::string_view key) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  std::fprintf(stderr, "demi: bug: config key '%.*s' read as the wrong type\n", static_cast<int>(key.size()), key.data());
  std::abort();
}

int64_t Config::get_int(std::string_view key) const { return typed<int64_t>(lookup(key), key); }
double Config::get_double(std::string_view key) const { return typed<double>(lookup(key), key); }
bool Config::get_bool(std::string_view key) const { return typed<bool>(lookup(key), key); }
const std::string& Config::get_string(std::string_view key) const { return typed<std::string>(lookup(key), key); }
const std::vector<std::string>& Config::get_list(std::string_view key) const {
  return typed<std::vector<std::string>>(lookup(key), key);
}

std::string Config::schema_markdown() {
  std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const KeySpec& k : config::schema()) {
    std::string type = config::type_name(k.type);
    if (k.type == Type::Int && (k.min != INT64_MIN || k.max != INT64_MAX)) type += fmt::format(" [{}, {}]", k.min, k.max);
    if (!k.choices.empty()) {
      std::string choices;
      for (char ch : k.choices) choices += ch == '|' ? std::string{", "} : std::string{ch};
      type += fmt::format(" ({})", choices);
    }
    out += fmt::format("| `{}` | {} | `{}` | {} |\n", k.key, type, k.default_value, k.doc);
  }
  return out;
}

}  // namespace demi
