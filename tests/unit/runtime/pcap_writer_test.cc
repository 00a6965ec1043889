#include "runtime/sim/pcap_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include "runtime/sim/network.h"
#include "sim_frames.h"

namespace demi::runtime::sim {
namespace {

using namespace std::chrono_literals;
using namespace test;
using sched::Instant;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint32_t le32(const std::vector<uint8_t>& b, std::size_t at) {
  return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 | uint32_t{b[at + 3]} << 24;
}
uint16_t le16(const std::vector<uint8_t>& b, std::size_t at) {
  return static_cast<uint16_t>(b[at] | b[at + 1] << 8);
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "demi_" + name + "_" + std::to_string(::getpid()) + ".pcap";
}

TEST(PcapWriter, WritesTheGlobalHeaderAndRecords) {
  const std::string path = temp_path("writer");
  {
    auto w = PcapWriter::open(path, 8);
    ASSERT_NE(w, nullptr);
    const std::vector<std::byte> frame(12, std::byte{0xab});
    w->write(Instant{2s + 5ns}, frame);
    EXPECT_EQ(w->records(), 1u);
    EXPECT_FALSE(w->failed());
  }
  const auto b = read_file(path);
  ASSERT_EQ(b.size(), 24u + 16u + 8u);  // cut at the snaplen
  EXPECT_EQ(le32(b, 0), 0xa1b23c4du);   // nanosecond timestamps, little-endian
  EXPECT_EQ(le16(b, 4), 2u);
  EXPECT_EQ(le16(b, 6), 4u);
  EXPECT_EQ(le32(b, 16), 8u);  // snaplen
  EXPECT_EQ(le32(b, 20), 1u);  // LINKTYPE_ETHERNET
  EXPECT_EQ(le32(b, 24), 2u);
  EXPECT_EQ(le32(b, 28), 5u);
  EXPECT_EQ(le32(b, 32), 8u);   // captured
  EXPECT_EQ(le32(b, 36), 12u);  // on the wire
  EXPECT_EQ(b[40], 0xab);
  std::remove(path.c_str());
}

TEST(PcapWriter, OpenFailsCleanly) {
  EXPECT_EQ(PcapWriter::open("/nonexistent-directory/x.pcap"), nullptr);
  sched::VirtualClock clock;
  Network net(clock, 1);
  EXPECT_FALSE(net.capture("/nonexistent-directory/x.pcap"));
}

TEST(PcapWriter, NetworkCaptureRecordsEveryDeliveredFrame) {
  const std::string path = temp_path("capture");
  sched::VirtualClock clock;
  Network net(clock, 1);
  Port* a = net.add_host(kMacA, "a");
  Port* b = net.add_host(kMacB, "b");
  Port* c = net.add_host(kMacC, "c");
  LinkProfile p;
  p.delay = 250us;
  net.set_profile_all(p);
  ASSERT_TRUE(net.capture(path));

  clock.advance_to(Instant{1500ms});
  send_seq(*a, kMacB, 1, 60);
  clock.advance_to(Instant{2s + 7ns});
  send_seq(*b, kBroadcast, 2, 42);  // to a and c: two records
  send_seq(*a, kMacNobody, 3, 42);  // never delivered, never captured
  clock.advance(1ms);
  for (Port* h : {a, b, c}) {
    (void)receive_all(*h);
  }
  net.stop_capture();

  const auto bytes = read_file(path);
  ASSERT_GE(bytes.size(), 24u);
  EXPECT_EQ(le32(bytes, 0), 0xa1b23c4du);
  EXPECT_EQ(le32(bytes, 20), 1u);
  struct Record {
    uint32_t sec, nsec, incl, orig;
    std::size_t at;
  };
  std::vector<Record> records;
  for (std::size_t at = 24; at + 16 <= bytes.size();) {
    Record r{le32(bytes, at), le32(bytes, at + 4), le32(bytes, at + 8), le32(bytes, at + 12), at + 16};
    records.push_back(r);
    at += 16 + r.incl;
    ASSERT_LE(at, bytes.size());
  }
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].sec, 1u);
  EXPECT_EQ(records[0].nsec, 500'250'000u);
  EXPECT_EQ(records[0].incl, 60u);
  EXPECT_EQ(records[0].orig, 60u);
  const auto first = expected_bytes(kMacB, kMacA, 1, 60);
  EXPECT_EQ(std::memcmp(bytes.data() + records[0].at, first.data(), 60), 0);
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(records[i].sec, 2u);
    EXPECT_EQ(records[i].nsec, 250'007u);
    EXPECT_EQ(records[i].incl, 42u);
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace demi::runtime::sim
