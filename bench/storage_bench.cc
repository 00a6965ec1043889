// demi-storage-bench: 4 KiB random reads and writes per second through the storage module
// (io_uring, queue depth 1 and a deeper pipeline) beside pread/pwrite on the same file, in one run.
//
//   demi-storage-bench [--dir D] [--file-mb M] [--ops N] [--depth Q] [--json]
//
// The file is created and filled first (not timed). Each phase issues N operations at random
// 4 KiB-aligned offsets drawn from one seeded generator, so every phase touches the same blocks.
// Writes are not durable (page cache) in every phase alike: this compares the submission paths,
// not the disk. Reads after the writes hit the page cache likewise.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <demi/libos.h>
#include <demi/storage.h>

using namespace demi;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kBlock = 4096;

struct Options {
  std::string dir = std::filesystem::temp_directory_path().string();
  std::size_t file_mb = 256;
  std::size_t ops = 100000;
  std::size_t depth = 32;
  bool json = false;
};

int usage() {
  std::fprintf(stderr, "usage: demi-storage-bench [--dir D] [--file-mb M] [--ops N] [--depth Q] [--json]\n");
  return 2;
}

std::vector<off_t> offsets(const Options& o) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::size_t> pick(0, o.file_mb * (1u << 20) / kBlock - 1);
  std::vector<off_t> v(o.ops);
  for (auto& x : v) x = static_cast<off_t>(pick(rng) * kBlock);
  return v;
}

double posix_phase(int fd, const std::vector<off_t>& at, bool write) {
  std::vector<char> buf(kBlock, 'p');
  auto t0 = Clock::now();
  for (off_t off : at) {
    ssize_t n = write ? ::pwrite(fd, buf.data(), kBlock, off) : ::pread(fd, buf.data(), kBlock, off);
    if (n != static_cast<ssize_t>(kBlock)) {
      std::fprintf(stderr, "demi-storage-bench: %s: %s\n", write ? "pwrite" : "pread", std::strerror(errno));
      std::exit(1);
    }
  }
  return static_cast<double>(at.size()) / std::chrono::duration<double>(Clock::now() - t0).count();
}

// Up to `depth` operations in flight on one file queue; each seeks first (the queue's offset is
// taken when the operation starts).
double demi_phase(LibOS& libos, QDesc qd, const std::vector<off_t>& at, bool write, std::size_t depth) {
  auto sga = libos.sgaalloc(kBlock);
  if (!sga) std::exit(1);
  std::memset(sga->segs[0].buf, 'd', kBlock);
  std::vector<QToken> inflight;
  std::size_t next = 0;
  auto t0 = Clock::now();
  while (next < at.size() || !inflight.empty()) {
    while (next < at.size() && inflight.size() < depth) {
      if (!libos.lseek(qd, at[next], SEEK_SET)) std::exit(1);
      auto qt = write ? libos.push(qd, *sga) : libos.pop(qd, kBlock);
      if (!qt) {
        std::fprintf(stderr, "demi-storage-bench: %s: %s\n", write ? "push" : "pop", std::strerror(qt.error()));
        std::exit(1);
      }
      inflight.push_back(*qt);
      ++next;
    }
    QResult r;
    std::size_t index = 0;
    int rc = libos.wait_any(inflight, &r, &index);
    if (rc) {
      std::fprintf(stderr, "demi-storage-bench: wait: %s\n", std::strerror(rc));
      std::exit(1);
    }
    if (!write) {
      if (r.sga.length() != kBlock) std::exit(1);
      libos.sgafree(r.sga);
    }
    inflight[index] = inflight.back();
    inflight.pop_back();
  }
  double rate = static_cast<double>(at.size()) / std::chrono::duration<double>(Clock::now() - t0).count();
  libos.sgafree(*sga);
  return rate;
}

}  // namespace

int main(int argc, char* argv[]) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (k == "--json") {
      o.json = true;
    } else if (!(v = value())) {
      return usage();
    } else if (k == "--dir") {
      o.dir = v;
    } else if (k == "--file-mb") {
      o.file_mb = std::strtoull(v, nullptr, 10);
    } else if (k == "--ops") {
      o.ops = std::strtoull(v, nullptr, 10);
    } else if (k == "--depth") {
      o.depth = std::strtoull(v, nullptr, 10);
    } else {
      return usage();
    }
  }
  if (o.file_mb == 0 || o.ops == 0 || o.depth == 0) return usage();
  std::string path = o.dir + "/demi-storage-bench-" + std::to_string(getpid());
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "demi-storage-bench: %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  {
    std::vector<char> chunk(1u << 20, 'f');
    for (std::size_t i = 0; i < o.file_mb; ++i)
      if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) return 1;
  }
  auto at = offsets(o);
  LibOS libos;
  if (libos.install(make_storage_module()) != 0) return 1;
  auto qd = libos.open(path.c_str(), O_RDWR, 0);
  if (!qd) return 1;
  // Each pair once unmeasured first, so that the page cache and the ring are warm alike.
  posix_phase(fd, at, true);
  demi_phase(libos, *qd, at, true, 1);
  double pw = posix_phase(fd, at, true), pr = posix_phase(fd, at, false);
  double dw1 = demi_phase(libos, *qd, at, true, 1), dr1 = demi_phase(libos, *qd, at, false, 1);
  double dwq = demi_phase(libos, *qd, at, true, o.depth), drq = demi_phase(libos, *qd, at, false, o.depth);
  libos.close(*qd);
  ::close(fd);
  std::filesystem::remove(path);
  if (o.json) {
    std::printf("{\"ops\": %zu, \"file_mb\": %zu, \"depth\": %zu, \"pwrite_per_s\": %.0f, \"pread_per_s\": %.0f, "
                "\"demi_write_qd1_per_s\": %.0f, \"demi_read_qd1_per_s\": %.0f, \"demi_write_qdN_per_s\": %.0f, "
                "\"demi_read_qdN_per_s\": %.0f}\n",
                o.ops, o.file_mb, o.depth, pw, pr, dw1, dr1, dwq, drq);
  } else {
    std::printf("4 KiB random operations per second, %zu each, %zu MiB file (page cache)\n", o.ops, o.file_mb);
    std::printf("  %-28s %12s %12s\n", "", "writes/s", "reads/s");
    std::printf("  %-28s %12.0f %12.0f\n", "pwrite / pread", pw, pr);
    std::printf("  %-28s %12.0f %12.0f   (%.2fx, %.2fx of pwrite/pread)\n", "demi storage, depth 1", dw1, dr1,
                dw1 / pw, dr1 / pr);
    char label[64];
    std::snprintf(label, sizeof label, "demi storage, depth %zu", o.depth);
    std::printf("  %-28s %12.0f %12.0f   (%.2fx, %.2fx of pwrite/pread)\n", label, dwq, drq, dwq / pw, drq / pr);
  }
  return 0;
}
