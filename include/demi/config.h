// demi's configuration: one YAML file, every key known to a schema with its type, default,
// bounds and documentation (docs/config.md is generated from the same table). Loading checks
// every key; a bad one is named in the error, with its line.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <demi/result.h>

namespace demi {

class Config {
 public:
  using Value = std::variant<int64_t, double, bool, std::string, std::vector<std::string>>;

  Config();  // every key at its default

  // EINVAL with `*why` naming the key (and line) for an unknown key, a wrong type or a value
  // out of bounds; ENOENT / EACCES for a file that cannot be read.
  static Result<Config> from_file(const std::string& path, std::string* why = nullptr);
  static Result<Config> from_string(std::string_view yaml, std::string* why = nullptr);
  // `--config FILE` / `--config=FILE` in argv, else $DEMI_CONFIG, else defaults.
  static Result<Config> from_args(int argc, char* const argv[], std::string* why = nullptr);

  // Sets one key from text, checked like a file's value ("catnip.ipv4.address", "10.0.0.2").
  int set(std::string_view key, std::string_view value, std::string* why = nullptr);

  // Typed reads. Reading a key that is not in the schema, or as the wrong type, is a bug in
  // demi and aborts with a message naming the key.
  int64_t get_int(std::string_view key) const;
  double get_double(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const std::vector<std::string>& get_list(std::string_view key) const;
  // Where the configuration came from ("defaults", a path, "string").
  const std::string& source() const { return source_; }

  // The schema as Markdown, for docs/config.md.
  static std::string schema_markdown();

 private:
  const Value& lookup(std::string_view key) const;
  std::map<std::string, Value, std::less<>> values_;
  std::string source_ = "defaults";
};

}  // namespace demi
