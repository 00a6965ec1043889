#include "runtime/sim/network.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/log.h"

namespace demi::runtime::sim {

namespace {

constexpr std::string_view kLog = "sim";
constexpr std::size_t kEthernetHeaderLength = 14;
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr uint64_t kNanosecondsPerSecond = 1'000'000'000;

// How long a frame of `bytes` holds a link of `bps` bits per second, rounded up to whole ns.
sched::Duration serialization_time(std::size_t bytes, uint64_t bps) {
  const unsigned __int128 bit_ns = static_cast<unsigned __int128>(bytes) * 8 * kNanosecondsPerSecond;
  return sched::Duration{static_cast<int64_t>((bit_ns + bps - 1) / bps)};
}

// Bytes a link of `bps` still has to serialize when it stays busy for `busy` more time.
uint64_t backlog_bytes(sched::Duration busy, uint64_t bps) {
  if (busy.count() <= 0) {
    return 0;
  }
  const unsigned __int128 bit_ns = static_cast<unsigned __int128>(busy.count()) * bps;
  constexpr uint64_t kByteNs = 8 * kNanosecondsPerSecond;
  return static_cast<uint64_t>((bit_ns + kByteNs - 1) / kByteNs);
}

// Copies the first out.size() bytes of a frame (header, then payload segments) into out.
void gather(const TxFrame& frame, std::span<std::byte> out) {
  std::size_t done = 0;
  auto take = [&](const mem::BufRef& part) {
    const std::size_t n = std::min(part.size(), out.size() - done);
    if (n == 0) {
      return;
    }
    std::memcpy(out.data() + done, part.data(), n);
    done += n;
  };
  take(frame.head);
  for (uint8_t i = 0; i < frame.payload_segments && i < kMaxPayloadSegments; ++i) {
    take(frame.payload[i]);
  }
}

uint64_t fnv1a(uint64_t h, std::span<const std::byte> bytes) {
  for (std::byte b : bytes) {
    h ^= static_cast<uint64_t>(b);
    h *= kFnvPrime;
  }
  return h;
}

template <typename T>
uint64_t fnv1a_le(uint64_t h, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    h ^= static_cast<uint64_t>(value >> (8 * i)) & 0xff;
    h *= kFnvPrime;
  }
  return h;
}

std::string mac_string(const LinkAddress& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

}  // namespace

LinkCounters& LinkCounters::operator+=(const LinkCounters& o) {
  sent += o.sent;
  bytes_sent += o.bytes_sent;
  delivered += o.delivered;
  bytes_delivered += o.bytes_delivered;
  dropped_loss += o.dropped_loss;
  dropped_queue += o.dropped_queue;
  dropped_partition += o.dropped_partition;
  dropped_no_such_host += o.dropped_no_such_host;
  dropped_ring += o.dropped_ring;
  dropped_pool += o.dropped_pool;
  duplicated += o.duplicated;
  reordered += o.reordered;
  corrupted += o.corrupted;
  return *this;
}

// --- Port -----------------------------------------------------------------------------------

Port::Port(Key, Network& net, std::size_t index, DeviceInfo info, const NetworkConfig& config)
    : net_(net),
      index_(index),
      info_(std::move(info)),
      tx_pool_(config.tx_buffers, config.buffer_size),
      ring_(config.rx_ring) {}

std::size_t Port::receive(std::span<RxFrame> frames) {
  net_.deliver_due();
  std::size_t n = 0;
  while (n < frames.size() && ring_count_ > 0) {
    RingSlot& slot = ring_[ring_head_];
    ++stats_.rx_packets;
    stats_.rx_bytes += slot.frame.size();
    frames[n].data = std::move(slot.frame);
    frames[n].flags = 0;  // no checksum offload: the stack checks everything itself
    ring_head_ = (ring_head_ + 1) % ring_.size();
    --ring_count_;
    ++n;
  }
  return n;
}

std::size_t Port::transmit(std::span<TxFrame> frames) {
  for (TxFrame& frame : frames) {
    net_.send(*this, frame);
    frame = TxFrame{};  // the sender's buffers go back now, whatever happens to the copies
  }
  return frames.size();
}

void Port::ring_push(sched::Instant at, mem::BufRef frame) {
  RingSlot& slot = ring_[(ring_head_ + ring_count_) % ring_.size()];
  slot.at = at;
  slot.frame = std::move(frame);
  ++ring_count_;
}

// --- Network --------------------------------------------------------------------------------

Network::Network(sched::VirtualClock& clock, uint64_t seed, NetworkConfig config)
    : clock_(clock),
      seed_(seed),
      config_(config),
      rng_(seed),
      pool_(config.pool_buffers, config.buffer_size),
      default_profile_(LinkProfile{}),
      digest_(kFnvOffset) {
  // Every frame in flight holds a pool buffer, so the heap never grows past the pool.
  in_flight_.reserve(config.pool_buffers);
}

// Frames in flight and in the rings go back to pool_ before it is destroyed: member order.
Network::~Network() {
  stop_capture();
}

Port* Network::add_host(LinkAddress mac, std::string name, uint32_t mtu) {
  if (mac[0] & 1) {
    DEMI_ERROR(kLog, "host {}: {} is a group address, not a host's", name, mac_string(mac));
    return nullptr;
  }
  for (const auto& p : ports_) {
    if (p->info_.mac == mac) {
      DEMI_ERROR(kLog, "host {}: {} already belongs to host {}", name, mac_string(mac), p->info_.name);
      return nullptr;
    }
  }
  if (mtu + kEthernetHeaderLength > config_.buffer_size) {
    DEMI_ERROR(kLog, "host {}: MTU {} does not fit the network's {}-byte buffers", name, mtu, config_.buffer_size);
    return nullptr;
  }
  const std::size_t old_n = ports_.size();
  const std::size_t n = old_n + 1;
  std::vector<Link> links(n * n, Link{default_profile_, {}, {}});
  for (std::size_t from = 0; from < old_n; ++from) {
    for (std::size_t to = 0; to < old_n; ++to) {
      links[from * n + to] = std::move(links_[from * old_n + to]);
    }
  }
  links_ = std::move(links);
  unknown_.emplace_back();

  DeviceInfo info;
  info.name = std::move(name);
  info.mac = mac;
  info.mtu = mtu;
  ports_.push_back(std::make_unique<Port>(Port::Key{}, *this, old_n, std::move(info), config_));
  DEMI_DEBUG(kLog, "host {} ({}) is port {}", ports_.back()->info_.name, mac_string(mac), old_n);
  return ports_.back().get();
}

void Network::set_profile(const Port* from, const Port* to, LinkProfile profile) {
  if (!owns(from) || !owns(to) || from == to) {
    DEMI_ERROR(kLog, "set_profile: not a link between two hosts of this network");
    return;
  }
  link(from->index_, to->index_).profile = std::move(profile);
}

void Network::set_profile_all(const LinkProfile& profile) {
  default_profile_ = profile;
  for (Link& l : links_) {
    l.profile = profile;
  }
}

const LinkProfile& Network::profile(const Port* from, const Port* to) const {
  if (!owns(from) || !owns(to)) {
    return default_profile_;
  }
  return link(from->index_, to->index_).profile;
}

LinkCounters Network::counters(const Port* from, const Port* to) const {
  if (!owns(from) || !owns(to)) {
    return {};
  }
  return link(from->index_, to->index_).counters;
}

LinkCounters Network::unknown_destination(const Port* from) const {
  if (!owns(from)) {
    return {};
  }
  return unknown_[from->index_];
}

LinkCounters Network::totals() const {
  LinkCounters sum;
  for (const Link& l : links_) {
    sum += l.counters;
  }
  for (const LinkCounters& u : unknown_) {
    sum += u;
  }
  return sum;
}

std::optional<sched::Instant> Network::next_delivery() const {
  std::optional<sched::Instant> next;
  if (!in_flight_.empty()) {
    next = in_flight_.front().at;
  }
  for (const auto& p : ports_) {
    if (p->ring_count_ == 0) {
      continue;
    }
    const sched::Instant at = p->ring_[p->ring_head_].at;
    if (!next || at < *next) {
      next = at;
    }
  }
  return next;
}

bool Network::capture(const std::string& path) {
  stop_capture();
  capture_ = PcapWriter::open(path);
  if (capture_) {
    DEMI_INFO(kLog, "capturing delivered frames to {}", path);
  }
  return capture_ != nullptr;
}

void Network::stop_capture() {
  if (!capture_) {
    return;
  }
  capture_->flush();
  capture_.reset();
}

void Network::send(Port& from, const TxFrame& frame) {
  const std::size_t length = frame.length();
  if (length < kEthernetHeaderLength || length > from.info_.mtu + kEthernetHeaderLength ||
      length > config_.buffer_size) {
    ++from.stats_.tx_dropped;
    DEMI_DEBUG(kLog, "{}: dropped a {}-byte frame (MTU {})", from.info_.name, length, from.info_.mtu);
    return;
  }
  ++from.stats_.tx_packets;
  from.stats_.tx_bytes += length;

  LinkAddress dst{};
  gather(frame, std::as_writable_bytes(std::span{dst}));
  const std::size_t self = from.index_;
  if (dst[0] & 1) {  // I/G bit: broadcast or multicast, flooded to everyone else
    for (std::size_t to = 0; to < ports_.size(); ++to) {
      if (to != self) {
        offer(self, to, frame, length);
      }
    }
    return;
  }
  for (std::size_t to = 0; to < ports_.size(); ++to) {
    if (to != self && ports_[to]->info_.mac == dst) {
      offer(self, to, frame, length);
      return;
    }
  }
  LinkCounters& u = unknown_[self];
  ++u.sent;
  u.bytes_sent += length;
  ++u.dropped_no_such_host;
  if (log::enabled(log::Level::Trace)) {  // mac_string allocates: only when the line is wanted
    DEMI_TRACE(kLog, "{}: no host has {}", from.info_.name, mac_string(dst));
  }
}

// The fixed order of network.h; change it and every pinned seed means something else.
void Network::offer(std::size_t from, std::size_t to, const TxFrame& frame, std::size_t length) {
  Link& l = link(from, to);
  const LinkProfile& p = l.profile;
  LinkCounters& c = l.counters;
  const sched::Instant now = clock_.now();
  ++c.sent;
  c.bytes_sent += length;

  // 1. partition, at the time of sending
  if (p.partitioned(now)) {
    ++c.dropped_partition;
    return;
  }
  // 2. loss
  if (p.drop > 0.0 && rng_.chance(p.drop)) {
    ++c.dropped_loss;
    return;
  }
  // 3. queue: the frame starts when the link is free and leaves when its last bit is out
  sched::Instant departure = now;
  if (p.bandwidth_bps > 0) {
    const sched::Instant start = std::max(now, l.tx_free);
    if (p.queue_bytes > 0 && backlog_bytes(start - now, p.bandwidth_bps) + length > p.queue_bytes) {
      ++c.dropped_queue;
      return;
    }
    departure = start + serialization_time(length, p.bandwidth_bps);
  }
  // 4. a network buffer
  mem::BufRef copy = copy_out(frame, length);
  if (!copy) {
    ++c.dropped_pool;
    return;
  }
  if (p.bandwidth_bps > 0) {
    l.tx_free = departure;
  }
  // 5. delay and jitter
  sched::Instant at = departure + p.delay;
  if (p.jitter.count() > 0) {
    at += sched::Duration{static_cast<int64_t>(rng_.range(0, static_cast<uint64_t>(p.jitter.count())))};
  }
  // 6. reorder
  if (p.reorder > 0.0 && rng_.chance(p.reorder)) {
    at += p.reorder_delay;
    ++c.reordered;
  }
  // 7. partition, at the time of arrival
  if (p.partitioned(at)) {
    ++c.dropped_partition;
    return;
  }
  // 8. duplicate
  mem::BufRef twin;
  if (p.duplicate > 0.0 && rng_.chance(p.duplicate)) {
    twin = pool_.get(0);
    if (twin) {
      std::memcpy(twin.data(), copy.data(), length);
      twin.set_length(length);
      ++c.duplicated;
    } else {
      ++c.dropped_pool;
    }
  }
  // 9. corrupt, each copy on its own
  maybe_corrupt(p, c, copy);
  if (twin) {
    maybe_corrupt(p, c, twin);
  }

  schedule(at, from, to, std::move(copy));
  if (twin) {
    schedule(at, from, to, std::move(twin));
  }
}

mem::BufRef Network::copy_out(const TxFrame& frame, std::size_t length) {
  mem::BufRef out = pool_.get(0);
  if (!out) {
    return out;
  }
  gather(frame, {out.data(), length});
  out.set_length(length);
  return out;
}

void Network::maybe_corrupt(const LinkProfile& p, LinkCounters& c, mem::BufRef& frame) {
  if (!(p.corrupt > 0.0) || !rng_.chance(p.corrupt)) {
    return;
  }
  const uint64_t bit = rng_.uniform(uint64_t{8} * frame.size());
  frame.data()[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
  ++c.corrupted;
}

void Network::schedule(sched::Instant at, std::size_t from, std::size_t to, mem::BufRef frame) {
  in_flight_.push_back(
      InFlight{at, next_seq_++, static_cast<uint32_t>(from), static_cast<uint32_t>(to), std::move(frame)});
  std::push_heap(in_flight_.begin(), in_flight_.end(), later);
}

void Network::deliver_due() {
  const sched::Instant now = clock_.now();
  bool captured = false;
  while (!in_flight_.empty() && in_flight_.front().at <= now) {
    std::pop_heap(in_flight_.begin(), in_flight_.end(), later);
    InFlight f = std::move(in_flight_.back());
    in_flight_.pop_back();
    Port& dst = *ports_[f.to];
    LinkCounters& c = link(f.from, f.to).counters;
    if (dst.ring_full()) {
      ++c.dropped_ring;
      ++dst.stats_.rx_dropped;
      continue;  // f.frame goes back to the pool here
    }
    ++c.delivered;
    c.bytes_delivered += f.frame.size();
    hash(f.at, f.to, f.frame.bytes());
    if (capture_) {
      capture_->write(f.at, f.frame.bytes());
      captured = true;
    }
    dst.ring_push(f.at, std::move(f.frame));
  }
  // A failing seed may end in an abort: keep what was captured on disk.
  if (captured) {
    capture_->flush();
  }
}

void Network::hash(sched::Instant at, std::size_t to, std::span<const std::byte> bytes) {
  uint64_t h = digest_;
  h = fnv1a_le(h, static_cast<uint64_t>(at.time_since_epoch().count()));
  h = fnv1a_le(h, static_cast<uint32_t>(to));
  h = fnv1a_le(h, static_cast<uint32_t>(bytes.size()));
  digest_ = fnv1a(h, bytes);
}

}  // namespace demi::runtime::sim
