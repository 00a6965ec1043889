// demi's log: one line per event on stderr, with a level and the component that speaks.
// Errors and warnings always name their cause; debug lines are compiled in but filtered at run
// time ($DEMI_LOG_LEVEL or the config key libos.log_level: error|warn|info|debug|trace).
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace demi::log {

enum class Level : int { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 };

Level level();
void set_level(Level l);
// Parses a level name; false for an unknown name.
bool parse_level(std::string_view name, Level* out);
inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }
void write(Level l, std::string_view component, std::string_view message);
// Lines written at Warn or Error since start, for tests that check a warning was given.
unsigned long warnings_written();

template <typename... Args>
void emit(Level l, std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (!enabled(l)) return;
  write(l, component, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace demi::log

#define DEMI_ERROR(component, ...) ::demi::log::emit(::demi::log::Level::Error, component, __VA_ARGS__)
#define DEMI_WARN(component, ...) ::demi::log::emit(::demi::log::Level::Warn, component, __VA_ARGS__)
#define DEMI_INFO(component, ...) ::demi::log::emit(::demi::log::Level::Info, component, __VA_ARGS__)
#define DEMI_DEBUG(component, ...) ::demi::log::emit(::demi::log::Level::Debug, component, __VA_ARGS__)
#define DEMI_TRACE(component, ...) ::demi::log::emit(::demi::log::Level::Trace, component, __VA_ARGS__)
