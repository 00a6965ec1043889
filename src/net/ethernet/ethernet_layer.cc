#include "net/ethernet/ethernet_layer.h"

#include <algorithm>
#include <cerrno>

#include "base/log.h"

namespace demi::net {

namespace {
constexpr const char* kLog = "ethernet";
// The stack's own header buffers, used only with a device that has none: room for the largest
// frame, so that small payloads can be copied in behind the headers.
constexpr std::size_t kOwnPoolHeadroom = 128;
}  // namespace

EthernetLayer::EthernetLayer(runtime::Device& device, wire::EthernetAddress mac, std::size_t tx_queue,
                             std::size_t burst)
    : device_(device), mac_(mac), rx_(burst), tx_(tx_queue), burst_(burst) {
  if (!device_.alloc_tx(0)) {
    const std::size_t size = std::max<std::size_t>(2048, device_.info().mtu + wire::kEthernetHeaderLen + kOwnPoolHeadroom);
    own_pool_ = std::make_unique<mem::PacketPool>(tx_queue + 256, size);
    DEMI_DEBUG(kLog, "device {} has no header buffers: using {} of our own", device_.info().name, own_pool_->capacity());
  }
}

EthernetLayer::~EthernetLayer() = default;

void EthernetLayer::set_receiver(wire::EtherType type, Receiver* r) {
  for (Binding& b : receivers_) {
    if (b.receiver == nullptr || b.type == type) {
      b.type = type;
      b.receiver = r;
      return;
    }
  }
  DEMI_ERROR(kLog, "bug: no room for another EtherType receiver");
}

std::size_t EthernetLayer::poll_receive() {
  const std::size_t n = device_.receive(std::span<runtime::RxFrame>(rx_.data(), burst_));
  for (std::size_t i = 0; i < n; ++i) receive(std::move(rx_[i]));
  return n;
}

void EthernetLayer::receive(runtime::RxFrame frame) {
  mem::BufRef data = std::move(frame.data);
  ++counters_.rx_frames;
  counters_.rx_bytes += data.size();
  auto eth = wire::EthernetRepr::parse(wire::EthernetView{data.bytes()});
  if (!eth) {
    ++counters_.rx_drop_malformed;
    return;
  }
  if (eth->dst != mac_ && !eth->dst.is_broadcast()) {
    ++counters_.rx_drop_not_for_us;
    return;
  }
  for (const Binding& b : receivers_) {
    if (b.receiver && b.type == eth->ethertype) {
      data.trim_front(wire::kEthernetHeaderLen);
      b.receiver->receive(*eth, std::move(data), frame.flags);
      return;
    }
  }
  ++counters_.rx_drop_unknown_type;
}

int EthernetLayer::send(const wire::EthernetAddress& dst, wire::EtherType type, runtime::TxFrame frame) {
  if (!frame.head.prepend(wire::kEthernetHeaderLen)) {
    ++counters_.tx_drop_no_headroom;
    DEMI_ERROR(kLog, "bug: a frame to send has {} bytes of headroom, fewer than an Ethernet header",
               frame.head.headroom());
    return ENOBUFS;
  }
  wire::EthernetRepr{mac_, dst, type}.emit(frame.head.bytes());
  frame.l2_len = wire::kEthernetHeaderLen;
  if (tx_count_ == tx_.size()) flush();
  if (tx_count_ == tx_.size()) {
    ++counters_.tx_drop_queue_full;
    return ENOBUFS;
  }
  tx_[(tx_head_ + tx_count_) % tx_.size()] = std::move(frame);
  ++tx_count_;
  if (tx_count_ >= burst_) flush();
  return 0;
}

bool EthernetLayer::flush() {
  bool any = false;
  while (tx_count_ > 0) {
    // The ring's oldest frames, as far as they are contiguous, at most one burst.
    const std::size_t run = std::min({tx_count_, tx_.size() - tx_head_, burst_});
    std::span<runtime::TxFrame> batch(tx_.data() + tx_head_, run);
    std::size_t bytes = 0;
    for (const runtime::TxFrame& f : batch) bytes += f.length();
    const std::size_t sent = device_.transmit(batch);
    // Frames the device took are its own now (it holds references to their buffers); the rest
    // stay queued, untouched, for the next flush.
    for (std::size_t i = sent; i < run; ++i) bytes -= batch[i].length();
    for (std::size_t i = 0; i < sent; ++i) batch[i] = runtime::TxFrame{};
    counters_.tx_frames += sent;
    counters_.tx_bytes += bytes;
    tx_head_ = (tx_head_ + sent) % tx_.size();
    tx_count_ -= sent;
    any = any || sent > 0;
    if (sent < run) {
      ++counters_.tx_device_busy;
      break;
    }
  }
  return any;
}

mem::BufRef EthernetLayer::alloc_tx(std::size_t headroom) {
  if (own_pool_) return own_pool_->get(headroom);
  return device_.alloc_tx(headroom);
}

void EthernetLayer::append_counters(CounterList& out) const {
  const Counters& c = counters_;
  out.push_back({"ethernet.rx_frames", c.rx_frames});
  out.push_back({"ethernet.rx_bytes", c.rx_bytes});
  out.push_back({"ethernet.drop.malformed", c.rx_drop_malformed});
  out.push_back({"ethernet.drop.not_for_us", c.rx_drop_not_for_us});
  out.push_back({"ethernet.drop.unknown_ethertype", c.rx_drop_unknown_type});
  out.push_back({"ethernet.tx_frames", c.tx_frames});
  out.push_back({"ethernet.tx_bytes", c.tx_bytes});
  out.push_back({"ethernet.drop.tx_queue_full", c.tx_drop_queue_full});
  out.push_back({"ethernet.drop.tx_no_headroom", c.tx_drop_no_headroom});
  out.push_back({"ethernet.tx_device_busy", c.tx_device_busy});
}

}  // namespace demi::net
