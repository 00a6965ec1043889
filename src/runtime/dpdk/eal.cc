#include "runtime/dpdk/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/log.h"

namespace demi::runtime::dpdk {

namespace {

bool has_arg(const std::vector<std::string>& args, std::initializer_list<const char*> names) {
  for (const std::string& a : args)
    for (const char* n : names)
      if (a == n || a.rfind(std::string{n} + "=", 0) == 0) return true;
  return false;
}

// The first CPU this thread may run on: `taskset -c 1 app` then puts the EAL's main lcore there.
int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) return c;
  return 0;
}

int eal_result = -1;  // -1: not tried yet
bool cleanup_registered = false;

std::string runtime_dir;  // removed at exit: a demi process leaves nothing behind

void cleanup_eal() {
  rte_eal_cleanup();
  if (runtime_dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir, ec);
}

// True when the runtime directory is demi's own (we chose the --file-prefix), so removing it
// at exit cannot touch another process's files.
bool args_name_prefix(const std::vector<std::string>& args) {
  for (const std::string& a : args)
    if (a.rfind("--file-prefix=demi-", 0) == 0) return true;
  return false;
}

}  // namespace

bool is_memif(std::string_view spec) { return spec.rfind("net_memif", 0) == 0; }

std::optional<std::string> devarg(std::string_view spec, std::string_view key) {
  std::optional<std::string> value;
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=')
      value = std::string(item.substr(key.size() + 1));
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return value;
}

std::size_t memif_buffer_size(std::string_view spec) {
  const std::optional<std::string> b = devarg(spec, "bsize");
  return b ? static_cast<std::size_t>(std::strtoull(b->c_str(), nullptr, 10)) : 2048;
}

std::string device_spec(const Config& config) {
  std::string spec = config.get_string("dpdk.port");
  const auto frame = static_cast<std::size_t>(config.get_int("dpdk.mtu")) + 14;
  if (is_memif(spec) && !devarg(spec, "bsize") && frame > memif_buffer_size(spec)) {
    std::size_t b = 2048;
    while (b < frame) b *= 2;
    spec += ",bsize=" + std::to_string(b);
  }
  return spec;
}

std::vector<std::string> eal_arguments(const Config& config) {
  std::vector<std::string> args{"demi"};
  // The configured port first: devices are probed in order (a memif server must exist before a
  // client on the same socket in the same process).
  const std::string port = device_spec(config);
  if (!port.empty()) {
    if (port.rfind("net_", 0) == 0) args.push_back("--vdev=" + port);
    else args.push_back("--allow=" + port);
  }
  for (const std::string& a : config.get_list("dpdk.eal_args")) args.push_back(a);
  if (!has_arg(args, {"-l", "--lcores", "-c"})) {
    args.push_back("-l");
    args.push_back(std::to_string(first_allowed_cpu()));
  }
  // Two demi processes on one machine must not share hugepage files or runtime directories.
  if (!has_arg(args, {"--file-prefix", "--in-memory"})) args.push_back("--file-prefix=demi-" + std::to_string(getpid()));
  if (!has_arg(args, {"--log-level"})) args.push_back("--log-level=warning");
  if (!has_arg(args, {"--telemetry", "--no-telemetry"})) args.push_back("--no-telemetry");
  return args;
}

int init_eal(const Config& config) {
  if (eal_result >= 0) return eal_result;
  std::vector<std::string> args = eal_arguments(config);
  std::string line;
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
    line += a + " ";
  }
  argv.push_back(nullptr);
  DEMI_INFO("dpdk", "rte_eal_init: {}", line);
  int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
  if (rc < 0) {
    int err = rte_errno ? rte_errno : EINVAL;
    DEMI_ERROR("dpdk", "rte_eal_init failed: {} (arguments: {})", rte_strerror(err), line);
    eal_result = err;
    return err;
  }
  eal_result = 0;
  if (args_name_prefix(args)) runtime_dir = rte_eal_get_runtime_dir();
  if (!cleanup_registered) {
    // Leaves no hugepage files behind at exit.
    std::atexit(cleanup_eal);
    cleanup_registered = true;
  }
  return 0;
}

}  // namespace demi::runtime::dpdk
