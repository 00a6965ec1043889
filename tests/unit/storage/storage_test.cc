// The storage module through the LibOS: files as queues over io_uring.
#include <demi/libos.h>
#include <demi/storage.h>
#include <demi/module.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "libos/module_host.h"
#include "mem/region_allocator.h"
#include "modules/storage/storage_module.h"

using namespace demi;

namespace {

class Storage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(libos.install(make_storage_module()), 0);
    dir = std::filesystem::temp_directory_path() / ("demi-storage-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::string path(const char* name) { return (dir / name).string(); }

  // Pushes `bytes` as one (or several) segments and waits; returns the op's ret.
  int write(QDesc qd, const std::vector<uint8_t>& bytes, std::size_t segments = 1) {
    std::vector<std::size_t> sizes(segments, bytes.size() / segments);
    sizes.back() += bytes.size() % segments;
    auto sga = libos.sgaalloc(sizes);
    if (!sga) return sga.error();
    std::size_t at = 0;
    for (uint32_t i = 0; i < sga->numsegs; ++i) {
      std::memcpy(sga->segs[i].buf, bytes.data() + at, sga->segs[i].len);
      at += sga->segs[i].len;
    }
    auto qt = libos.push(qd, *sga);
    if (!qt) return qt.error();
    QResult r;
    int rc = libos.wait(*qt, &r);
    EXPECT_EQ(libos.sgafree(*sga), 0);
    return rc;
  }

  // Pops up to `len` bytes; appends them to *out; returns the op's ret.
  int read(QDesc qd, std::size_t len, std::vector<uint8_t>* out) {
    auto qt = libos.pop(qd, len);
    if (!qt) return qt.error();
    QResult r;
    int rc = libos.wait(*qt, &r);
    if (rc) return rc;
    for (uint32_t i = 0; i < r.sga.numsegs; ++i) {
      auto* p = static_cast<uint8_t*>(r.sga.segs[i].buf);
      out->insert(out->end(), p, p + r.sga.segs[i].len);
    }
    EXPECT_EQ(libos.sgafree(r.sga), 0);
    return 0;
  }

  static std::vector<uint8_t> pattern(std::size_t n, unsigned seed) {
    std::vector<uint8_t> v(n);
    uint32_t x = seed * 2654435761u + 1;
    for (auto& b : v) {
      x = x * 1664525u + 1013904223u;
      b = static_cast<uint8_t>(x >> 24);
    }
    return v;
  }

  LibOS libos;
  std::filesystem::path dir;
};

}  // namespace

TEST_F(Storage, WritesThenReadsBackEverySizeByteExact) {
  for (std::size_t size : {std::size_t{1}, std::size_t{4096}, std::size_t{65537}, std::size_t{1} << 20,
                           std::size_t{64} << 20}) {
    auto qd = libos.open(path("f").c_str(), O_CREAT | O_TRUNC | O_RDWR, 0644);
    ASSERT_TRUE(qd) << qd.error();
    auto data = pattern(size, static_cast<unsigned>(size));
    ASSERT_EQ(write(*qd, data, size > 16 ? 3 : 1), 0) << size;
    ASSERT_EQ(*libos.lseek(*qd, 0, SEEK_SET), 0);
    std::vector<uint8_t> got;
    while (got.size() < size) {
      std::size_t before = got.size();
      ASSERT_EQ(read(*qd, 1 << 20, &got), 0);
      ASSERT_GT(got.size(), before) << "early end of file at " << before;
    }
    EXPECT_EQ(got, data) << size;
    ASSERT_EQ(libos.close(*qd), 0);
  }
}

TEST_F(Storage, EndOfFileIsAZeroLengthPop) {
  auto qd = libos.open(path("eof").c_str(), O_CREAT | O_TRUNC | O_RDWR, 0644);
  ASSERT_TRUE(qd);
  ASSERT_EQ(write(*qd, pattern(10, 1)), 0);
  ASSERT_EQ(*libos.lseek(*qd, 4, SEEK_SET), 4);
  std::vector<uint8_t> got;
  ASSERT_EQ(read(*qd, 100, &got), 0);
  EXPECT_EQ(got.size(), 6u);
  got.clear();
  ASSERT_EQ(read(*qd, 100, &got), 0);
  EXPECT_EQ(got.size(), 0u);  // end of file
  EXPECT_EQ(*libos.lseek(*qd, 0, SEEK_CUR), 10);
  EXPECT_EQ(*libos.lseek(*qd, -3, SEEK_END), 7);
  EXPECT_EQ(libos.lseek(*qd, -1, SEEK_SET).error(), EINVAL);
  EXPECT_EQ(libos.lseek(*qd, 0, 42).error(), EINVAL);
}

// Many operations in flight on one queue complete in issue order and land at their offsets.
TEST_F(Storage, PipelinedPushesKeepTheirOrder) {
  auto qd = libos.open(path("order").c_str(), O_CREAT | O_TRUNC | O_RDWR, 0644);
  ASSERT_TRUE(qd);
  std::vector<QToken> qts;
  std::vector<Sga> sgas;
  std::vector<uint8_t> expect;
  for (int i = 0; i < 64; ++i) {
    auto chunk = pattern(1000 + static_cast<std::size_t>(i) * 13, static_cast<unsigned>(i));
    auto sga = libos.sgaalloc(chunk.size());
    ASSERT_TRUE(sga);
    std::memcpy(sga->segs[0].buf, chunk.data(), chunk.size());
    expect.insert(expect.end(), chunk.begin(), chunk.end());
    qts.push_back(*libos.push(*qd, *sga));
    sgas.push_back(*sga);
  }
  for (QToken qt : qts) {
    std::size_t index = 99;
    QResult r;
    ASSERT_EQ(libos.wait_any(std::span<const QToken>(&qt, 1), &r, &index), 0);
  }
  for (auto& s : sgas) ASSERT_EQ(libos.sgafree(s), 0);
  ASSERT_EQ(*libos.lseek(*qd, 0, SEEK_SET), 0);
  std::vector<uint8_t> got;
  ASSERT_EQ(read(*qd, expect.size() + 10, &got), 0);
  EXPECT_EQ(got, expect);
}

TEST_F(Storage, AppendModeAppends) {
  auto qd = libos.open(path("log").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
  ASSERT_TRUE(qd);
  ASSERT_EQ(write(*qd, pattern(100, 1)), 0);
  ASSERT_EQ(write(*qd, pattern(50, 2)), 0);
  EXPECT_EQ(std::filesystem::file_size(path("log")), 150u);
}

TEST_F(Storage, DurablePushesWithODsync) {
  auto qd = libos.open(path("durable").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_DSYNC, 0644);
  ASSERT_TRUE(qd);
  ASSERT_EQ(write(*qd, pattern(4096, 3)), 0);
  EXPECT_EQ(std::filesystem::file_size(path("durable")), 4096u);
}

TEST_F(Storage, Errors) {
  EXPECT_EQ(libos.open(path("missing").c_str(), O_RDONLY).error(), ENOENT);
  EXPECT_EQ(libos.open(dir.c_str(), O_RDONLY).error(), EISDIR);
  auto qd = libos.open(path("e").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_TRUE(qd);
  // A file is not a socket.
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  EXPECT_EQ(libos.bind(*qd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), EBADF);
  EXPECT_EQ(libos.listen(*qd, 1), EBADF);
  EXPECT_EQ(libos.accept(*qd).error(), EBADF);
  ASSERT_EQ(libos.close(*qd), 0);
  EXPECT_EQ(libos.pop(*qd).error(), EBADF);
  EXPECT_EQ(libos.close(*qd), EBADF);
  // Permission: as root only a file the kernel itself refuses shows EACCES.
  const char* denied = geteuid() == 0 ? "/sys/kernel/notes" : nullptr;
  std::string mine = path("denied");
  if (!denied) {
    int fd = ::open(mine.c_str(), O_CREAT | O_WRONLY, 0000);
    ::close(fd);
    denied = mine.c_str();
  }
  auto r = libos.open(denied, O_WRONLY);
  if (r) GTEST_SKIP() << "this kernel lets us write " << denied;
  EXPECT_EQ(r.error(), EACCES);
}

// Closing with operations in the kernel: they finish there and complete with ECANCELED.
TEST_F(Storage, CloseCancelsPendingOperations) {
  auto qd = libos.open(path("c").c_str(), O_CREAT | O_TRUNC | O_RDWR, 0644);
  ASSERT_TRUE(qd);
  auto qt = libos.pop(*qd, 4096);
  ASSERT_TRUE(qt);
  ASSERT_EQ(libos.close(*qd), 0);
  QResult r;
  EXPECT_EQ(libos.wait(*qt, &r), ECANCELED);
  EXPECT_EQ(r.opcode, Opcode::Failed);
}

namespace {

// A module whose only job is to give the LibOS a region allocator, as the DPDK runtime does.
class RegionProvider final : public Module {
 public:
  RegionProvider(std::byte* base, std::size_t size) : base_(base), size_(size) {}
  std::string_view name() const override { return "region-provider"; }
  ModuleKind kind() const override { return ModuleKind::Network; }
  int attach(ModuleHost& host) override {
    return host.set_allocator(std::make_unique<mem::RegionAllocator>(base_, size_));
  }
  bool poll() override { return false; }
  int push(QueueId, const Sga&, Completion) override { return ENOTSUP; }
  int pop(QueueId, std::size_t, Completion) override { return ENOTSUP; }
  int close(QueueId) override { return EBADF; }

 private:
  std::byte* base_;
  std::size_t size_;
};

// With a region allocator, the region is registered with io_uring once and application buffers
// are read and written as fixed buffers; the bytes are the same either way.
TEST(StorageFixedBuffers, RegionBuffersUseRegisteredFixedBuffers) {
  constexpr std::size_t kRegion = 64u << 20;
  std::vector<std::byte> region(kRegion + 4096);
  auto* base = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(region.data()) + 4095) & ~uintptr_t{4095});
  LibOS libos;
  auto storage = make_storage_module();
  auto* module = dynamic_cast<storage::StorageModule*>(storage.get());
  ASSERT_NE(module, nullptr);
  ASSERT_EQ(libos.install(std::move(storage)), 0);
  ASSERT_EQ(libos.install(std::make_unique<RegionProvider>(base, kRegion)), 0);

  auto dir = std::filesystem::temp_directory_path() / ("demi-fixed-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto qd = libos.open((dir / "f").c_str(), O_CREAT | O_TRUNC | O_RDWR, 0644);
  ASSERT_TRUE(qd) << qd.error();
  constexpr std::size_t kSize = (1u << 20) + 17;
  auto sga = libos.sgaalloc(kSize);
  ASSERT_TRUE(sga);
  auto* p = static_cast<uint8_t*>(sga->segs[0].buf);
  for (std::size_t i = 0; i < kSize; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  auto qt = libos.push(*qd, *sga);
  ASSERT_TRUE(qt);
  QResult r;
  ASSERT_EQ(libos.wait(*qt, &r), 0);
  ASSERT_EQ(libos.sgafree(*sga), 0);
  ASSERT_EQ(*libos.lseek(*qd, 0, SEEK_SET), 0);
  std::size_t got = 0;
  while (got < kSize) {
    auto pt = libos.pop(*qd, kSize - got);
    ASSERT_TRUE(pt);
    ASSERT_EQ(libos.wait(*pt, &r), 0);
    ASSERT_GT(r.sga.length(), 0u) << "early end of file at " << got;
    for (uint32_t s = 0; s < r.sga.numsegs; ++s) {
      auto* q = static_cast<uint8_t*>(r.sga.segs[s].buf);
      for (uint32_t i = 0; i < r.sga.segs[s].len; ++i, ++got)
        ASSERT_EQ(q[i], static_cast<uint8_t>(got * 7 + 3)) << "byte " << got;
    }
    ASSERT_EQ(libos.sgafree(r.sga), 0);
  }
  EXPECT_GE(module->fixed_ops(), 2u) << "the write and the read should have used the registered region";
  ASSERT_EQ(libos.close(*qd), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
