// demi::Result<T>: a value or an errno. The C++ API never throws across its public surface;
// every failure is an errno value (and a log line naming the cause where it happened).
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace demi {

struct Error {
  int code;  // an errno value, never 0
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(e) { assert(e.code != 0); }  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  int error() const { return ok() ? 0 : std::get<1>(v_).code; }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace demi
