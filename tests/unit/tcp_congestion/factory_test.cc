// make_congestion_control: the controllers by name.
#include <gtest/gtest.h>

#include "net/tcp/congestion/congestion_control.h"
#include "net/tcp/congestion/cubic.h"
#include "net/tcp/congestion/newreno.h"

namespace demi::net::tcp::test {
namespace {

TEST(MakeCongestionControl, newreno) {
  auto cc = make_congestion_control("newreno", 1460, sched::Instant{});
  ASSERT_NE(cc, nullptr);
  EXPECT_NE(dynamic_cast<NewReno*>(cc.get()), nullptr);
  EXPECT_EQ(cc->name(), "newreno");
  EXPECT_EQ(cc->cwnd(), 14600u);
}

TEST(MakeCongestionControl, cubic) {
  auto cc = make_congestion_control("cubic", 536, sched::Instant{} + std::chrono::seconds(7));
  ASSERT_NE(cc, nullptr);
  EXPECT_NE(dynamic_cast<Cubic*>(cc.get()), nullptr);
  EXPECT_EQ(cc->name(), "cubic");
  EXPECT_EQ(cc->cwnd(), 5360u);
}

TEST(MakeCongestionControl, unknown_names_give_nullptr) {
  // Names are exact, as the configuration file spells them.
  for (const char* name : {"", "reno", "bbr", "CUBIC", "NewReno", "cubic ", "newreno\n"}) {
    EXPECT_EQ(make_congestion_control(name, 1460, sched::Instant{}), nullptr) << '"' << name << '"';
  }
}

}  // namespace
}  // namespace demi::net::tcp::test
