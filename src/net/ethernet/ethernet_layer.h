// The Ethernet layer: the stack's only contact with the Device.
//
// Receiving: a frame is parsed once, checked to be for us (our address or broadcast), and its
// payload handed to the receiver registered for its EtherType (IPv4, ARP); anything else is
// counted and dropped. The payload is a view of the device's own buffer: nothing is copied.
//
// Sending: the layers above build their headers back to front in a buffer's headroom; this layer
// prepends the 14-byte Ethernet header in the same buffer and queues the frame. flush() hands
// the queue to the device in bursts. Frames the device cannot take yet stay queued, in order; a
// send that finds the queue full fails with ENOBUFS.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "mem/buffer.h"
#include "mem/packet_pool.h"
#include "net/counters.h"
#include "net/wire/ethernet.h"
#include "runtime/device.h"

namespace demi::net {

class EthernetLayer {
 public:
  // What a protocol above Ethernet implements to be handed its frames.
  class Receiver {
   public:
    // `payload` is the frame without its Ethernet header (the receiver may keep it).
    virtual void receive(const wire::EthernetRepr& eth, mem::BufRef payload, uint32_t rx_flags) = 0;

   protected:
    ~Receiver() = default;
  };

  struct Counters {
    uint64_t rx_frames = 0;
    uint64_t rx_bytes = 0;
    uint64_t rx_drop_malformed = 0;       // shorter than an Ethernet header
    uint64_t rx_drop_not_for_us = 0;      // unicast to another address, or multicast
    uint64_t rx_drop_unknown_type = 0;    // an EtherType nobody registered (IPv6, VLAN, LLDP, ...)
    uint64_t tx_frames = 0;               // taken by the device
    uint64_t tx_bytes = 0;
    uint64_t tx_drop_queue_full = 0;      // the device was busy and the queue full
    uint64_t tx_drop_no_headroom = 0;     // a bug above: a header buffer without room in front
    uint64_t tx_device_busy = 0;          // flushes that left frames queued
  };

  // `tx_queue` frames may wait for the device; up to `burst` frames are received per poll.
  EthernetLayer(runtime::Device& device, wire::EthernetAddress mac, std::size_t tx_queue, std::size_t burst);
  ~EthernetLayer();
  EthernetLayer(const EthernetLayer&) = delete;
  EthernetLayer& operator=(const EthernetLayer&) = delete;

  void set_receiver(wire::EtherType type, Receiver* r);

  // Receives up to one burst from the device and dispatches it. Returns the frames received.
  std::size_t poll_receive();
  // Dispatches one frame (poll_receive's inner step; tests feed frames through it).
  void receive(runtime::RxFrame frame);

  // Prepends the Ethernet header to frame.head (which needs wire::kEthernetHeaderLen bytes of
  // headroom) and queues the frame. 0 or ENOBUFS (the frame is then dropped and counted).
  int send(const wire::EthernetAddress& dst, wire::EtherType type, runtime::TxFrame frame);
  // Hands queued frames to the device. True if the device took any.
  bool flush();
  std::size_t queued() const { return tx_count_; }

  // An empty buffer for headers with `headroom` bytes free in front: from the device, or from
  // the stack's own pool when the device has none. Empty when both are exhausted.
  mem::BufRef alloc_tx(std::size_t headroom);
  // Set when the device hands out no header buffers and the stack uses its own pool.
  const mem::PacketPool* own_pool() const { return own_pool_.get(); }

  const wire::EthernetAddress& mac() const { return mac_; }
  runtime::Device& device() const { return device_; }
  const Counters& counters() const { return counters_; }
  void append_counters(CounterList& out) const;

 private:
  runtime::Device& device_;
  wire::EthernetAddress mac_;
  struct Binding {
    wire::EtherType type{};
    Receiver* receiver = nullptr;
  };
  std::array<Binding, 4> receivers_{};
  std::unique_ptr<mem::PacketPool> own_pool_;
  std::vector<runtime::RxFrame> rx_;
  // Frames waiting for the device: a ring of fixed capacity.
  std::vector<runtime::TxFrame> tx_;
  std::size_t tx_head_ = 0;
  std::size_t tx_count_ = 0;
  std::size_t burst_;
  Counters counters_;
};

}  // namespace demi::net
