// The packet scripts of tests/scripts, one test each; then the parser's refusals (a line-numbered
// error for every malformed line), and the runner's own test: a script with one expectation made
// wrong on purpose must fail, at that line, saying what came instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.h"
#include "unit/scripts/packet_script.h"
#include "unit/scripts/script_runner.h"

namespace demi::scripts {
namespace {

std::vector<std::string> script_files() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(DEMI_SCRIPTS_DIR, ec))
    if (entry.path().extension() == ".pkt") out.push_back(entry.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses and runs; the empty string when the script passed, else the whole story.
std::string run_text(std::string_view text, const std::string& name = "inline") {
  log::set_level(log::Level::Error);
  ParseError err;
  auto script = parse_script(text, &err);
  if (!script) return name + ":" + std::to_string(err.line) + ": parse error: " + err.message;
  const RunOutcome r = run_script(*script);
  if (r.passed) return {};
  return name + ":" + std::to_string(r.line) + ": " + r.message;
}

class PacketScript : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { log::set_level(log::Level::Error); }
};

TEST_P(PacketScript, runs) {
  const std::string& path = GetParam();
  const std::string text = read_file(path);
  ASSERT_FALSE(text.empty()) << path;
  const std::string failure = run_text(text, path);
  EXPECT_TRUE(failure.empty()) << failure;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = std::filesystem::path(info.param).stem().string();
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Scripts, PacketScript, ::testing::ValuesIn(script_files()), test_name);

TEST(PacketScripts, there_are_at_least_forty) {
  EXPECT_GE(script_files().size(), 40u);
}

// ---------------------------------------------------------------- the parser

struct Malformed {
  const char* text;
  int line;
  const char* says;  // a piece of the message
};

TEST(ScriptParser, refuses_malformed_lines_by_number) {
  const Malformed cases[] = {
      {"0 listen 8080\n0 < S 0:0(0)\nbogus\n", 3, "not a number"},
      {"0 listen 8080\n\n# comment\n0 < Q 0:0(0)\n", 4, "flags are"},
      {"0 < S 0:10(5)\n", 1, "END - START"},
      {"0 < S. 0:0(0)\n", 1, "without 'ack N'"},
      {"0 < S 0:0(0) ack 1\n", 1, "without the '.' flag"},
      {"0 < S 0:0(0) <mss 1460\n", 1, "without '>'"},
      {"0 < S 0:0(0) <mss 99999>\n", 1, "more than"},
      {"0 < S 0:0(0) <wscale 15>\n", 1, "more than 14"},
      {"0 < S 0:0(0) <TS val * ecr 0>\n", 1, "only in an expected"},
      {"0 < S 0:0(0) <frob 1>\n", 1, "unknown option"},
      {"0 < . 1:1(0) ack 1 <sack 1:2 3:4 5:6 7:8 9:10>\n", 1, "more than 4"},
      {"0 < . 1:1(0) ack 1 <sack 1-2>\n", 1, "left:right"},
      {"10 listen 1\n5 accept\n", 2, "before the line above"},
      {"0 listen 1\nconfig catnip.tcp.sack false\n", 2, "after the first timed line"},
      {"0 connect 10.0.0.1\n", 1, "address:port"},
      {"0 connect 10.0.0.256:80\n", 1, "more than 255"},
      {"0 connect 192.168.0.1:80\n", 1, "10.0.0.0/24"},
      {"0 push 10 = EWHATEVER\n", 1, "unknown result"},
      {"0 push 10 = EOF\n", 1, "pop only"},
      {"0 expect-state SORT-OF-OPEN\n", 1, "unknown state"},
      {"0 setopt turbo\n", 1, "options are"},
      {"0 < arp reply 10.0.0.3 is-at 02:00:00:00:00\n", 1, "not an Ethernet address"},
      {"0 > icmp unreachable mood to 10.0.0.1\n", 1, "unreachable codes"},
      {"0 < udp from 10.0.0.1:9 to 7\n", 1, "expected 'len'"},
      {"+99999999999 expect-none\n", 1, "more than"},
      {"0 listen 8080 extra\n", 1, "unexpected 'extra'"},
      {"0 frobnicate\n", 1, "unknown directive"},
      {"0\n", 1, "missing a directive"},
  };
  for (const Malformed& c : cases) {
    ParseError err;
    EXPECT_FALSE(parse_script(c.text, &err).has_value()) << c.text;
    EXPECT_EQ(err.line, c.line) << c.text << " -> " << err.to_string();
    EXPECT_NE(err.message.find(c.says), std::string::npos) << c.text << " -> " << err.to_string();
  }
}

TEST(ScriptParser, refuses_a_nul_byte) {
  ParseError err;
  EXPECT_FALSE(parse_script(std::string_view("0 listen 1\n0 accept\0\n", 22), &err).has_value());
  EXPECT_EQ(err.line, 2);
  EXPECT_NE(err.message.find("NUL"), std::string::npos) << err.message;
}

TEST(ScriptParser, reads_a_segment_with_every_option) {
  ParseError err;
  auto s = parse_script(
      "peer-isn 7\n0 > S. 0:0(0) ack 1 win 100 <mss 1460,sackOK,TS val * ecr 5,nop,wscale 7> dport 80\n"
      "+5 < P. 1:11(10) ack 1 <nop,nop,sack 3:4 5:6> sport 9 bad-csum\n",
      &err);
  ASSERT_TRUE(s.has_value()) << err.to_string();
  ASSERT_EQ(s->events.size(), 2u);
  EXPECT_EQ(s->peer_isn, 7u);
  const TcpSpec& a = s->events[0].tcp;
  EXPECT_EQ(a.flags, 0x12);
  EXPECT_EQ(a.ack, 1u);
  EXPECT_EQ(a.window, 100);
  EXPECT_EQ(a.mss, 1460);
  EXPECT_EQ(a.wscale, 7);
  EXPECT_TRUE(a.sack_permitted);
  EXPECT_TRUE(a.timestamps);
  EXPECT_FALSE(a.ts_val.has_value());
  EXPECT_EQ(a.ts_ecr, 5u);
  EXPECT_EQ(a.our_port, 80);
  const Event& b = s->events[1];
  EXPECT_EQ(b.time_ms, 5u);
  EXPECT_EQ(b.tcp.len, 10u);
  EXPECT_EQ(b.tcp.sack.size(), 2u);
  EXPECT_EQ(b.tcp.peer_port, 9);
  EXPECT_TRUE(b.bad_checksum);
}

// ---------------------------------------------------------------- the runner can fail

// A passive open whose handshake measures an RTT of 10 ms, then 100 bytes pushed that the peer
// never acknowledges: the retransmission comes one RTO later, 200 ms (RFC 6298 2.2: SRTT + 4 *
// RTTVAR = 30 ms, raised to catnip.tcp.rto_min_ms).
constexpr std::string_view kRetransmit = R"(
config catnip.tcp.timestamps false
0    listen 8080
0    < S 0:0(0) win 65535 <mss 1460>
0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+10  < . 1:1(0) ack 1 win 65535
10   accept
10   push 100
10   > P. 1:101(100) ack 1 win 65535
210  > P. 1:101(100) ack 1 win 65535
)";

std::string with_line(std::string_view text, std::string_view from, std::string_view to) {
  std::string s(text);
  const std::size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(ScriptRunner, passes_the_right_script) {
  EXPECT_EQ(run_text(kRetransmit), "");
}

TEST(ScriptRunner, fails_a_retransmission_expected_too_early) {
  const std::string f = run_text(with_line(kRetransmit, "210  >", "200  >"));
  EXPECT_NE(f.find("inline:10:"), std::string::npos) << f;
  EXPECT_NE(f.find("nothing was sent by 200 ms"), std::string::npos) << f;
  EXPECT_NE(f.find("at 210 ms: > P. 1:101(100) ack 1"), std::string::npos) << f;
}

TEST(ScriptRunner, fails_a_retransmission_expected_too_late) {
  const std::string f = run_text(with_line(kRetransmit, "210  >", "220  >"));
  EXPECT_NE(f.find("inline:10:"), std::string::npos) << f;
  EXPECT_NE(f.find("sent at 210 ms, expected at 220 ms"), std::string::npos) << f;
}

TEST(ScriptRunner, fails_a_wrong_window) {
  const std::string f = run_text(with_line(kRetransmit, "ack 1 win 65535 <mss", "ack 1 win 1000 <mss"));
  EXPECT_NE(f.find("inline:5:"), std::string::npos) << f;
  EXPECT_NE(f.find("wrong window"), std::string::npos) << f;
  EXPECT_NE(f.find("expected: 0    > S. 0:0(0) ack 1 win 1000"), std::string::npos) << f;
  EXPECT_NE(f.find("actual:   at 0 ms: > S. 0:0(0) ack 1 win 65535 <mss 1460>"), std::string::npos) << f;
}

TEST(ScriptRunner, fails_wrong_options_sequence_and_length) {
  EXPECT_NE(
      run_text(with_line(kRetransmit, "win 65535 <mss 1460>\n+10", "win 65535 <mss 1400>\n+10")).find("wrong mss"),
      std::string::npos);
  EXPECT_NE(run_text(with_line(kRetransmit, "10   > P. 1:101(100)", "10   > P. 2:102(100)")).find("wrong sequence"),
            std::string::npos);
  EXPECT_NE(
      run_text(with_line(kRetransmit, "10   > P. 1:101(100)", "10   > P. 1:100(99)")).find("wrong payload length"),
      std::string::npos);
  EXPECT_NE(run_text(with_line(kRetransmit, "10   > P. 1:101(100)", "10   > . 1:101(100)")).find("wrong flags"),
            std::string::npos);
}

TEST(ScriptRunner, fails_on_a_frame_nobody_expected) {
  // Without the line expecting the first copy, that copy is unexpected at the next line.
  const std::string f = run_text(with_line(kRetransmit, "10   > P. 1:101(100) ack 1 win 65535\n", ""));
  EXPECT_NE(f.find("inline:9:"), std::string::npos) << f;
  EXPECT_NE(f.find("sent at 10 ms, expected at 210 ms"), std::string::npos) << f;
  // A frame after the last line is unexpected too.
  const std::string g = run_text(std::string(kRetransmit) + "610 expect-none\n");
  EXPECT_NE(g.find("a frame nobody expected"), std::string::npos) << g;
  EXPECT_NE(g.find("at 610 ms: > P. 1:101(100)"), std::string::npos) << g;
}

TEST(ScriptRunner, fails_wrong_states_results_and_counters) {
  EXPECT_NE(run_text(std::string(kRetransmit) + "210 expect-state CLOSE-WAIT\n").find("expected: CLOSE-WAIT"),
            std::string::npos);
  EXPECT_NE(run_text(std::string(kRetransmit) + "210 pop\n").find("expected: OK"), std::string::npos);
  EXPECT_NE(run_text(std::string(kRetransmit) + "210 expect-counter tcp.retransmits 2\n").find("actual:   1"),
            std::string::npos);
  EXPECT_NE(run_text(std::string(kRetransmit) + "210 expect-counter tcp.nonsense 2\n").find("no counter"),
            std::string::npos);
  EXPECT_EQ(run_text(std::string(kRetransmit) + "210 expect-counter tcp.retransmits 1\n210 pop = EAGAIN\n"), "");
}

TEST(ScriptRunner, checks_the_payload_bytes) {
  // The peer sends 10 bytes; popping 11 is wrong, 10 is right.
  const std::string base = std::string(kRetransmit) + "210 < P. 1:11(10) ack 101 win 65535\n";
  EXPECT_NE(run_text(base + "210 pop 11\n").find("popped another amount"), std::string::npos);
  EXPECT_EQ(run_text(base + "210 pop 10\n250 > . 101:101(0) ack 11 win 65535\n"), "");
}

}  // namespace
}  // namespace demi::scripts
