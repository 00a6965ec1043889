// Frames to a libpcap file, so a failing simulation seed can be read with tshark or Wireshark.
//
// The file uses the nanosecond variant of the classic format (magic 0xa1b23c4d, version 2.4,
// link type 1 = Ethernet), written little-endian field by field: virtual time is kept in
// nanoseconds, and readers detect the byte order from the magic.
// https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "sched/clock.h"

namespace demi::runtime::sim {

class PcapWriter {
 public:
  static constexpr uint32_t kMagicNanoseconds = 0xa1b23c4d;
  static constexpr uint32_t kLinkTypeEthernet = 1;
  static constexpr std::size_t kGlobalHeaderLength = 24;
  static constexpr std::size_t kRecordHeaderLength = 16;

  // Creates (or truncates) the file and writes the global header; nullptr, with the reason in
  // the log, when the file cannot be written.
  static std::unique_ptr<PcapWriter> open(const std::string& path, uint32_t snaplen = 65535);
  // Only open() makes writers.
  class Key {
    friend class PcapWriter;
    Key() = default;
  };
  PcapWriter(Key, std::FILE* file, std::string path, uint32_t snaplen);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // One record stamped with t (time since the clock's epoch); frames longer than the snaplen
  // are cut, with their full length recorded.
  void write(sched::Instant t, std::span<const std::byte> frame);
  void flush();

  const std::string& path() const { return path_; }
  uint64_t records() const { return records_; }
  bool failed() const { return failed_; }  // a write failed (disk full, ...); logged once

 private:
  void put(std::span<const std::byte> bytes);

  std::FILE* file_;
  std::string path_;
  uint32_t snaplen_;
  uint64_t records_ = 0;
  bool failed_ = false;
};

}  // namespace demi::runtime::sim
