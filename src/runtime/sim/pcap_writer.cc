#include "runtime/sim/pcap_writer.h"

#include <array>
#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace demi::runtime::sim {

namespace {

constexpr std::string_view kLog = "sim.pcap";

void put_le32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<std::byte>(v >> (8 * i));
  }
}
void put_le16(std::byte* p, uint16_t v) {
  p[0] = static_cast<std::byte>(v);
  p[1] = static_cast<std::byte>(v >> 8);
}

}  // namespace

std::unique_ptr<PcapWriter> PcapWriter::open(const std::string& path, uint32_t snaplen) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    DEMI_ERROR(kLog, "cannot create {}: {}", path, std::strerror(errno));
    return nullptr;
  }
  auto w = std::make_unique<PcapWriter>(Key{}, f, path, snaplen);
  std::array<std::byte, kGlobalHeaderLength> h{};
  put_le32(&h[0], kMagicNanoseconds);
  put_le16(&h[4], 2);  // version 2.4
  put_le16(&h[6], 4);
  put_le32(&h[8], 0);   // thiszone: timestamps are UTC (here: virtual time)
  put_le32(&h[12], 0);  // sigfigs
  put_le32(&h[16], snaplen);
  put_le32(&h[20], kLinkTypeEthernet);
  w->put(h);
  if (w->failed_) {
    return nullptr;
  }
  return w;
}

PcapWriter::PcapWriter(Key, std::FILE* file, std::string path, uint32_t snaplen)
    : file_(file), path_(std::move(path)), snaplen_(snaplen) {}

PcapWriter::~PcapWriter() {
  if (std::fclose(file_) != 0 && !failed_) {
    DEMI_ERROR(kLog, "closing {}: {}", path_, std::strerror(errno));
  }
}

void PcapWriter::write(sched::Instant t, std::span<const std::byte> frame) {
  const int64_t ns = t.time_since_epoch().count();
  const uint64_t since_epoch = ns < 0 ? 0 : static_cast<uint64_t>(ns);
  const auto captured = static_cast<uint32_t>(frame.size() < snaplen_ ? frame.size() : snaplen_);
  std::array<std::byte, kRecordHeaderLength> h{};
  put_le32(&h[0], static_cast<uint32_t>(since_epoch / 1'000'000'000));
  put_le32(&h[4], static_cast<uint32_t>(since_epoch % 1'000'000'000));
  put_le32(&h[8], captured);
  put_le32(&h[12], static_cast<uint32_t>(frame.size()));
  put(h);
  put(frame.first(captured));
  ++records_;
}

void PcapWriter::flush() {
  if (std::fflush(file_) != 0 && !failed_) {
    failed_ = true;
    DEMI_ERROR(kLog, "writing {}: {}", path_, std::strerror(errno));
  }
}

void PcapWriter::put(std::span<const std::byte> bytes) {
  if (bytes.empty() || failed_) {
    return;
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    failed_ = true;
    DEMI_ERROR(kLog, "writing {}: {}", path_, std::strerror(errno));
  }
}

}  // namespace demi::runtime::sim
