// A Device for the inet stack's unit tests: frames a test injects come out of receive(), and
// every frame the stack transmits is kept, flattened to bytes, for the test to inspect. Both
// directions use pools, so a test can check that the stack hands out views of the device's own
// buffers (zero copy) and gives every buffer back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "mem/packet_pool.h"
#include "runtime/device.h"

namespace demi::net::test {

class FakeDevice final : public runtime::Device {
  // First, so that they outlive every frame below that holds their buffers.
  mem::PacketPool rx_pool_;
  mem::PacketPool tx_pool_;

 public:
  explicit FakeDevice(runtime::LinkAddress mac, uint32_t mtu = 1500, bool has_tx_pool = true)
      : rx_pool_(512, 2048), tx_pool_(has_tx_pool ? 512 : 0, 2048) {
    info_.name = "fake0";
    info_.mac = mac;
    info_.mtu = mtu;
  }

  const runtime::DeviceInfo& info() const override { return info_; }
  runtime::DeviceInfo& mutable_info() { return info_; }

  std::size_t receive(std::span<runtime::RxFrame> frames) override {
    std::size_t n = 0;
    while (n < frames.size() && !rx_.empty()) {
      frames[n++] = std::move(rx_.front());
      rx_.pop_front();
    }
    stats_.rx_packets += n;
    return n;
  }

  std::size_t transmit(std::span<runtime::TxFrame> frames) override {
    std::size_t n = 0;
    for (runtime::TxFrame& f : frames) {
      if (n == accept_) break;
      std::vector<std::byte> bytes;
      bytes.insert(bytes.end(), f.head.bytes().begin(), f.head.bytes().end());
      for (uint8_t i = 0; i < f.payload_segments; ++i)
        bytes.insert(bytes.end(), f.payload[i].bytes().begin(), f.payload[i].bytes().end());
      sent.push_back(std::move(bytes));
      if (keep_frames) kept.push_back(std::move(f));
      else f = runtime::TxFrame{};
      ++n;
    }
    stats_.tx_packets += n;
    return n;
  }

  mem::BufRef alloc_tx(std::size_t headroom) override {
    if (tx_pool_.capacity() == 0) return {};
    return tx_pool_.get(headroom);
  }
  runtime::DeviceStats stats() const override { return stats_; }

  // Queues a frame for the stack to receive, copied into a buffer of the device's pool.
  void inject(std::span<const std::byte> frame, uint32_t flags = 0) {
    mem::BufRef b = rx_pool_.get(0);
    std::memcpy(b.data(), frame.data(), frame.size());
    b.set_length(frame.size());
    rx_.push_back(runtime::RxFrame{std::move(b), flags});
  }

  // How many frames transmit() takes per call from now on (the rest stay with the caller).
  void accept_at_most(std::size_t n) { accept_ = n; }

  const mem::PacketPool& rx_pool() const { return rx_pool_; }
  const mem::PacketPool& tx_pool() const { return tx_pool_; }

  std::vector<std::vector<std::byte>> sent;  // every frame taken, as bytes
  bool keep_frames = false;                  // also keep the TxFrames themselves
  std::vector<runtime::TxFrame> kept;

 private:
  runtime::DeviceInfo info_;
  runtime::DeviceStats stats_;
  std::deque<runtime::RxFrame> rx_;
  std::size_t accept_ = SIZE_MAX;
};

}  // namespace demi::net::test
