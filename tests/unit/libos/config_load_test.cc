// demi::Config: defaults from the schema, YAML files checked key by key with errors that name the
// key and its line, --config / $DEMI_CONFIG, set(), and the generated Markdown.
#include <demi/config.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "libos/config_schema.h"

namespace demi {
namespace {

// Expects `yaml` to be refused with EINVAL and a message holding every one of `parts`.
void expect_rejected(const std::string& yaml, const std::vector<std::string>& parts) {
  SCOPED_TRACE(yaml);
  std::string why;
  auto c = Config::from_string(yaml, &why);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), EINVAL);
  for (const std::string& p : parts) EXPECT_NE(why.find(p), std::string::npos) << "'" << p << "' not in: " << why;
}

// A scratch directory for config files, removed at the end.
class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("demi-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

// Sets an environment variable for one scope, restoring what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// ---------------------------------------------------------------- defaults

TEST(ConfigDefaults, ComeFromTheSchema) {
  Config c;
  EXPECT_EQ(c.source(), "defaults");
  EXPECT_EQ(c.get_string("libos.log_level"), "info");
  EXPECT_EQ(c.get_int("libos.stall_warning_ms"), 10);
  EXPECT_FALSE(c.get_bool("libos.busy_poll"));
  EXPECT_EQ(c.get_int("libos.max_queues"), 65536);
  EXPECT_EQ(c.get_int("libos.max_pending_ops"), 1048576);
  EXPECT_EQ(c.get_list("dpdk.eal_args"), (std::vector<std::string>{"--no-pci", "--no-huge", "-m", "512"}));
  EXPECT_EQ(c.get_string("dpdk.port"), "");
}

TEST(ConfigDefaults, EveryKeyIsReadableAsItsType) {
  Config c;
  for (const config::KeySpec& k : config::schema()) {
    SCOPED_TRACE(std::string{k.key});
    switch (k.type) {
      case config::Type::Int: {
        int64_t v = c.get_int(k.key);
        EXPECT_GE(v, k.min);
        EXPECT_LE(v, k.max);
        break;
      }
      case config::Type::Double: (void)c.get_double(k.key); break;
      case config::Type::Bool: (void)c.get_bool(k.key); break;
      case config::Type::String: (void)c.get_string(k.key); break;
      case config::Type::StringList: (void)c.get_list(k.key); break;
    }
    EXPECT_FALSE(k.doc.empty()) << "every key is documented";
    EXPECT_EQ(config::find_key(k.key), &k);
  }
  EXPECT_EQ(config::find_key("libos.nope"), nullptr);
}

TEST(ConfigDefaults, ReadingAKeyOutsideTheSchemaIsABugAndAborts) {
  Config c;
  EXPECT_DEATH((void)c.get_int("libos.no_such_key"), "not in the schema");
  EXPECT_DEATH((void)c.get_string("libos.max_queues"), "wrong type");
}

// ---------------------------------------------------------------- YAML

TEST(ConfigYaml, ValidFileSetsEveryKindOfValue) {
  std::string why;
  auto c = Config::from_string(
      "# a comment\n"
      "libos:\n"
      "  log_level: debug\n"
      "  stall_warning_ms: 25\n"
      "  busy_poll: yes\n"
      "  max_queues: 0x100\n"
      "posix:\n"
      "  recv_size: 4096\n"
      "dpdk:\n"
      "  port: net_memif0,role=server\n"
      "  eal_args: [--no-pci, -m, '256']\n",
      &why);
  ASSERT_TRUE(c.ok()) << why;
  EXPECT_EQ(c->source(), "string");
  EXPECT_EQ(c->get_string("libos.log_level"), "debug");
  EXPECT_EQ(c->get_int("libos.stall_warning_ms"), 25);
  EXPECT_TRUE(c->get_bool("libos.busy_poll"));
  EXPECT_EQ(c->get_int("libos.max_queues"), 256);
  EXPECT_EQ(c->get_int("posix.recv_size"), 4096);
  EXPECT_EQ(c->get_string("dpdk.port"), "net_memif0,role=server");
  EXPECT_EQ(c->get_list("dpdk.eal_args"), (std::vector<std::string>{"--no-pci", "-m", "256"}));
  // Keys not given keep their defaults.
  EXPECT_EQ(c->get_int("libos.max_pending_ops"), 1048576);
}

TEST(ConfigYaml, EmptyDocumentsAndEmptySectionsGiveDefaults) {
  for (const char* yaml : {"", "\n", "# nothing\n", "libos:\n", "libos:\nposix:\n"}) {
    SCOPED_TRACE(yaml);
    auto c = Config::from_string(yaml);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->get_int("libos.stall_warning_ms"), 10);
  }
}

TEST(ConfigYaml, BooleansInEveryAcceptedSpelling) {
  for (const char* t : {"true", "yes", "on", "1"}) {
    auto c = Config::from_string(std::string{"libos:\n  busy_poll: "} + t + "\n");
    ASSERT_TRUE(c.ok()) << t;
    EXPECT_TRUE(c->get_bool("libos.busy_poll")) << t;
  }
  for (const char* f : {"false", "no", "off", "0"}) {
    auto c = Config::from_string(std::string{"libos:\n  busy_poll: "} + f + "\n");
    ASSERT_TRUE(c.ok()) << f;
    EXPECT_FALSE(c->get_bool("libos.busy_poll")) << f;
  }
}

TEST(ConfigYaml, UnknownKeyIsNamedWithItsLine) {
  expect_rejected("libos:\n  stall_warning_ms: 5\n  stall_warnig_ms: 7\n", {"unknown key", "'libos.stall_warnig_ms'", "line 3"});
  expect_rejected("\n\nposix:\n  recv_size: 10\n  bogus: 1\n", {"'posix.bogus'", "line 5"});
}

TEST(ConfigYaml, UnknownSectionIsNamedWithItsLine) {
  expect_rejected("libos:\n  busy_poll: true\nnetwork:\n  mtu: 1500\n", {"'network'", "line 3"});
  expect_rejected("catnipp:\n  mtu: 1500\n", {"'catnipp'", "line 1"});
}

TEST(ConfigYaml, ASectionGivenAValueIsRefused) {
  expect_rejected("libos: 5\n", {"'libos'", "section", "line 1"});
  expect_rejected("libos: [a, b]\n", {"'libos'", "section"});
}

TEST(ConfigYaml, WrongTypeIsNamedWithItsLine) {
  expect_rejected("libos:\n  max_queues: lots\n", {"'libos.max_queues'", "integer", "lots", "line 2"});
  expect_rejected("libos:\n  max_queues: 12.5\n", {"'libos.max_queues'", "integer"});
  expect_rejected("libos:\n  busy_poll: maybe\n", {"'libos.busy_poll'", "true or false", "line 2"});
  expect_rejected("libos:\n  max_queues: [1, 2]\n", {"'libos.max_queues'", "integer", "line 2"});
  expect_rejected("libos:\n  max_queues: {a: 1}\n", {"'libos.max_queues'"});
  expect_rejected("libos:\n  max_queues:\n", {"'libos.max_queues'"});
  expect_rejected("dpdk:\n  eal_args: [[nested]]\n", {"'dpdk.eal_args'", "list of strings"});
}

TEST(ConfigYaml, OutOfRangeIntegersAreRefusedWithTheRange) {
  expect_rejected("libos:\n  max_queues: 15\n", {"'libos.max_queues'", "15", "[16, 16777216]", "line 2"});
  expect_rejected("libos:\n  max_queues: 16777217\n", {"'libos.max_queues'", "16777217"});
  expect_rejected("libos:\n  stall_warning_ms: -1\n", {"'libos.stall_warning_ms'", "-1", "[0, 60000]"});
  expect_rejected("libos:\n  max_queues: 99999999999999999999999\n", {"'libos.max_queues'"});
  // The bounds themselves are fine.
  auto lo = Config::from_string("libos:\n  max_queues: 16\n");
  auto hi = Config::from_string("libos:\n  max_queues: 16777216\n");
  ASSERT_TRUE(lo.ok());
  ASSERT_TRUE(hi.ok());
  EXPECT_EQ(lo->get_int("libos.max_queues"), 16);
  EXPECT_EQ(hi->get_int("libos.max_queues"), 16777216);
}

TEST(ConfigYaml, AChoiceOutsideTheListIsRefusedWithTheChoices) {
  expect_rejected("libos:\n  log_level: loud\n", {"'libos.log_level'", "loud", "error|warn|info|debug|trace", "line 2"});
  for (const char* level : {"error", "warn", "info", "debug", "trace"}) {
    auto c = Config::from_string(std::string{"libos:\n  log_level: "} + level + "\n");
    ASSERT_TRUE(c.ok()) << level;
    EXPECT_EQ(c->get_string("libos.log_level"), level);
  }
}

TEST(ConfigYaml, ListsAsSequencesKeepItemsWholeAndAsTextAreSplitOnCommas) {
  auto block = Config::from_string(
      "dpdk:\n"
      "  eal_args:\n"
      "    - --vdev=net_memif0,role=server,socket=/tmp/x.sock\n"
      "    - --no-pci\n");
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(block->get_list("dpdk.eal_args"),
            (std::vector<std::string>{"--vdev=net_memif0,role=server,socket=/tmp/x.sock", "--no-pci"}));
  auto text = Config::from_string("dpdk:\n  eal_args: \" -a ,b,, c \"\n");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->get_list("dpdk.eal_args"), (std::vector<std::string>{"-a", "b", "c"}));
  auto empty = Config::from_string("dpdk:\n  eal_args: []\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->get_list("dpdk.eal_args").empty());
}

TEST(ConfigYaml, MalformedYamlOrTopLevelIsRefused) {
  expect_rejected("libos:\n  busy_poll: [true\n", {"not valid YAML"});
  expect_rejected("42\n", {"top level"});
  expect_rejected("- libos\n- posix\n", {"top level"});
}

// ---------------------------------------------------------------- files and arguments

TEST_F(ConfigFiles, FromFileReadsAndRemembersThePath) {
  std::string path = write("demi.yaml", "libos:\n  stall_warning_ms: 42\n");
  std::string why;
  auto c = Config::from_file(path, &why);
  ASSERT_TRUE(c.ok()) << why;
  EXPECT_EQ(c->get_int("libos.stall_warning_ms"), 42);
  EXPECT_EQ(c->source(), path);
}

TEST_F(ConfigFiles, MissingFileIsEnoent) {
  std::string why;
  std::string path = (dir_ / "absent.yaml").string();
  auto c = Config::from_file(path, &why);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), ENOENT);
  EXPECT_NE(why.find(path), std::string::npos) << why;
}

// A directory cannot be read as a configuration file. (Before the fix, reading it gave no bytes
// and no error, and the defaults were silently used in its name.)
TEST_F(ConfigFiles, ADirectoryIsNotAConfigFile) {
  std::string why;
  auto c = Config::from_file(dir_.string(), &why);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), EISDIR);
  EXPECT_NE(why.find(dir_.string()), std::string::npos) << why;
}

TEST_F(ConfigFiles, AnErrorInAFileNamesTheFileTheKeyAndTheLine) {
  std::string path = write("bad.yaml", "libos:\n  busy_poll: true\n  nonsense: 3\n");
  std::string why;
  auto c = Config::from_file(path, &why);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), EINVAL);
  EXPECT_NE(why.find(path), std::string::npos) << why;
  EXPECT_NE(why.find("'libos.nonsense'"), std::string::npos) << why;
  EXPECT_NE(why.find("line 3"), std::string::npos) << why;
}

TEST_F(ConfigFiles, FromArgsTakesConfigWithASpaceOrAnEqualsSign) {
  ScopedEnv no_env("DEMI_CONFIG", nullptr);
  std::string path = write("a.yaml", "libos:\n  stall_warning_ms: 7\n");
  {
    const char* argv[] = {"prog", "-v", "--config", path.c_str(), "--other"};
    auto c = Config::from_args(5, const_cast<char* const*>(argv));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->get_int("libos.stall_warning_ms"), 7);
    EXPECT_EQ(c->source(), path);
  }
  {
    std::string arg = "--config=" + path;
    const char* argv[] = {"prog", arg.c_str()};
    auto c = Config::from_args(2, const_cast<char* const*>(argv));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->get_int("libos.stall_warning_ms"), 7);
  }
}

TEST_F(ConfigFiles, FromArgsWithoutAFileNameOrWithAMissingFileFails) {
  ScopedEnv no_env("DEMI_CONFIG", nullptr);
  const char* dangling[] = {"prog", "--config"};
  std::string why;
  auto c = Config::from_args(2, const_cast<char* const*>(dangling), &why);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), EINVAL);
  EXPECT_NE(why.find("--config"), std::string::npos);
  std::string missing = "--config=" + (dir_ / "nope.yaml").string();
  const char* argv[] = {"prog", missing.c_str()};
  EXPECT_EQ(Config::from_args(2, const_cast<char* const*>(argv)).error(), ENOENT);
}

TEST_F(ConfigFiles, FromArgsFallsBackToDemiConfigThenToDefaults) {
  std::string env_path = write("env.yaml", "libos:\n  stall_warning_ms: 3\n");
  std::string arg_path = write("arg.yaml", "libos:\n  stall_warning_ms: 4\n");
  const char* bare[] = {"prog"};
  {
    ScopedEnv env("DEMI_CONFIG", env_path.c_str());
    auto c = Config::from_args(1, const_cast<char* const*>(bare));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->get_int("libos.stall_warning_ms"), 3);
    EXPECT_EQ(c->source(), env_path);
    // An explicit --config wins over the environment.
    const char* argv[] = {"prog", "--config", arg_path.c_str()};
    auto d = Config::from_args(3, const_cast<char* const*>(argv));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->get_int("libos.stall_warning_ms"), 4);
  }
  {
    ScopedEnv env("DEMI_CONFIG", "");
    auto c = Config::from_args(1, const_cast<char* const*>(bare));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->source(), "defaults");
  }
  {
    ScopedEnv env("DEMI_CONFIG", nullptr);
    auto c = Config::from_args(1, const_cast<char* const*>(bare));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->source(), "defaults");
  }
  {
    ScopedEnv env("DEMI_CONFIG", (dir_ / "gone.yaml").c_str());
    EXPECT_EQ(Config::from_args(1, const_cast<char* const*>(bare)).error(), ENOENT);
  }
}

// ---------------------------------------------------------------- set()

TEST(ConfigSet, SetsAKeyCheckedLikeAFilesValue) {
  Config c;
  EXPECT_EQ(c.set("libos.max_queues", "1024"), 0);
  EXPECT_EQ(c.get_int("libos.max_queues"), 1024);
  EXPECT_EQ(c.set("libos.busy_poll", "on"), 0);
  EXPECT_TRUE(c.get_bool("libos.busy_poll"));
  EXPECT_EQ(c.set("libos.log_level", "warn"), 0);
  EXPECT_EQ(c.get_string("libos.log_level"), "warn");
  EXPECT_EQ(c.set("dpdk.port", "0000:3b:00.0"), 0);
  EXPECT_EQ(c.get_string("dpdk.port"), "0000:3b:00.0");
}

TEST(ConfigSet, BadValuesAreEinvalNameTheKeyAndChangeNothing) {
  Config c;
  std::string why;
  EXPECT_EQ(c.set("libos.max_queues", "3", &why), EINVAL);
  EXPECT_NE(why.find("'libos.max_queues'"), std::string::npos) << why;
  EXPECT_EQ(c.set("libos.max_queues", "many", &why), EINVAL);
  EXPECT_EQ(c.set("libos.max_queues", "", &why), EINVAL);
  EXPECT_EQ(c.set("libos.busy_poll", "perhaps", &why), EINVAL);
  EXPECT_NE(why.find("'libos.busy_poll'"), std::string::npos) << why;
  EXPECT_EQ(c.set("libos.log_level", "chatty", &why), EINVAL);
  EXPECT_EQ(c.get_int("libos.max_queues"), 65536);
  EXPECT_FALSE(c.get_bool("libos.busy_poll"));
  EXPECT_EQ(c.get_string("libos.log_level"), "info");
}

TEST(ConfigSet, UnknownKeyIsEinvalAndNamed) {
  Config c;
  std::string why;
  EXPECT_EQ(c.set("libos.max_queue", "100", &why), EINVAL);
  EXPECT_NE(why.find("'libos.max_queue'"), std::string::npos) << why;
  EXPECT_EQ(c.set("libos", "1", &why), EINVAL);  // a section is not a key
}

TEST(ConfigSet, ListsAsFlowSequencesOrCommaSeparatedText) {
  Config c;
  EXPECT_EQ(c.set("dpdk.eal_args", "[--vdev=net_tap0,iface=x, 'a,b', c]"), 0);
  // In a flow sequence, an unquoted comma still separates items; quoted ones stay whole.
  EXPECT_EQ(c.get_list("dpdk.eal_args"), (std::vector<std::string>{"--vdev=net_tap0", "iface=x", "a,b", "c"}));
  EXPECT_EQ(c.set("dpdk.eal_args", "-l, 2, --no-huge"), 0);
  EXPECT_EQ(c.get_list("dpdk.eal_args"), (std::vector<std::string>{"-l", "2", "--no-huge"}));
  std::string why;
  EXPECT_EQ(c.set("dpdk.eal_args", "[unterminated", &why), EINVAL);
  EXPECT_NE(why.find("'dpdk.eal_args'"), std::string::npos) << why;
  EXPECT_EQ(c.set("dpdk.eal_args", "[[nested]]", &why), EINVAL);
  EXPECT_EQ(c.get_list("dpdk.eal_args"), (std::vector<std::string>{"-l", "2", "--no-huge"}));
}

// ---------------------------------------------------------------- documentation

TEST(ConfigDocs, SchemaMarkdownListsEveryKeyWithItsDefault) {
  const std::string md = Config::schema_markdown();
  EXPECT_EQ(md.rfind("| key | type | default | meaning |", 0), 0u);
  std::size_t rows = 0;
  for (char ch : md) rows += ch == '\n' ? 1 : 0;
  EXPECT_EQ(rows, config::schema().size() + 2);  // header, rule, one row per key
  for (const config::KeySpec& k : config::schema()) {
    SCOPED_TRACE(std::string{k.key});
    const std::string cell = "| `" + std::string{k.key} + "` |";
    const std::size_t at = md.find(cell);
    ASSERT_NE(at, std::string::npos);
    const std::string row = md.substr(at, md.find('\n', at) - at);
    EXPECT_NE(row.find("`" + std::string{k.default_value} + "`"), std::string::npos) << row;
  }
  EXPECT_NE(md.find("integer [16, 16777216]"), std::string::npos);
  EXPECT_NE(md.find("(error, warn, info, debug, trace)"), std::string::npos);
}

}  // namespace
}  // namespace demi
