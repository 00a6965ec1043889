// A LibOS on a virtual clock with one FakeNetwork installed.
#pragma once

#include <demi/libos.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fake_network.h"
#include "libos/module_host.h"
#include "sched/clock.h"

namespace demi::fakes {

class LibOSTest : public ::testing::Test {
 protected:
  void SetUp() override { start(Config{}); }

  // (Re)creates the LibOS with `config`; the virtual clock keeps running.
  void start(Config config) {
    libos.reset();
    libos = std::make_unique<LibOS>(LibOSOptions{std::move(config), &clock});
    auto m = std::make_unique<FakeNetwork>();
    fake = m.get();
    ASSERT_EQ(libos->install(std::move(m)), 0);
  }
  // A config with `key` set to `value` (checked).
  static Config with(std::vector<std::pair<std::string, std::string>> settings) {
    Config c;
    for (const auto& [key, value] : settings) EXPECT_EQ(c.set(key, value), 0) << key;
    return c;
  }

  ModuleHost& host() { return libos->host(); }
  QDesc socket() {
    auto qd = libos->socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_TRUE(qd.ok()) << qd.error();
    return qd.ok() ? *qd : -1;
  }
  QToken pop(QDesc qd) {
    auto qt = libos->pop(qd);
    EXPECT_TRUE(qt.ok()) << qt.error();
    return qt.ok() ? *qt : 0;
  }
  QToken push(QDesc qd, const Sga& sga) {
    auto qt = libos->push(qd, sga);
    EXPECT_TRUE(qt.ok()) << qt.error();
    return qt.ok() ? *qt : 0;
  }
  Sga sga(std::size_t size = 64) {
    auto s = libos->sgaalloc(size);
    EXPECT_TRUE(s.ok()) << s.error();
    return s.ok() ? *s : Sga{};
  }
  std::size_t live_sgas() { return host().sgas().live(); }
  sched::Instant at(sched::Duration d) const { return sched::Instant{} + d; }

  sched::VirtualClock clock;
  std::unique_ptr<LibOS> libos;
  FakeNetwork* fake = nullptr;
};

}  // namespace demi::fakes
