// The TCP socket-layer test harness, in the style of smoltcp's socket tests: a fake IPv4 layer
// that captures every segment the stack emits, a virtual clock, a builder per state
// (established(), fin_wait_1(), ...) and tiny helpers to inject a segment and to expect the
// stack's exact reply.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mem/allocator.h"
#include "mem/packet_pool.h"
#include "net/ip_output.h"
#include "net/tcp/congestion/congestion_control.h"
#include "net/tcp/ring.h"
#include "net/tcp/tcp_layer.h"
#include "net/wire/tcp.h"
#include "sched/scheduler.h"
#include "unit/tcp/coverage_registry.h"

namespace demi::net::tcp::test {

using namespace std::chrono_literals;

// A congestion controller with a fixed window that records what the connection told it.
class FakeCongestion final : public CongestionControl {
 public:
  struct Calls {
    int acks = 0;
    int losses = 0;
    int recovery_ends = 0;
    int timeouts = 0;
    int idle_restarts = 0;
  };
  FakeCongestion(uint32_t window, Calls* calls) : window_(window), calls_(calls) {}
  std::string_view name() const override { return "fake"; }
  uint32_t cwnd() const override { return window_; }
  uint32_t ssthresh() const override { return window_; }
  void on_ack(uint32_t, uint32_t, sched::Duration, sched::Instant) override { ++calls_->acks; }
  void on_loss(uint32_t, sched::Instant) override { ++calls_->losses; }
  void on_recovery_end(sched::Instant) override { ++calls_->recovery_ends; }
  void on_timeout(uint32_t, sched::Instant) override { ++calls_->timeouts; }
  void on_idle_restart(sched::Instant) override { ++calls_->idle_restarts; }
  void set_mss(uint32_t) override {}

 private:
  uint32_t window_;
  Calls* calls_;
};

inline CongestionFactory fake_congestion(uint32_t window, FakeCongestion::Calls* calls) {
  return [window, calls](std::string_view name, uint32_t, sched::Instant) -> std::unique_ptr<CongestionControl> {
    if (name == "unknown") return nullptr;
    return std::make_unique<FakeCongestion>(window, calls);
  };
}

// A segment the stack sent, parsed back.
struct Sent {
  wire::Ipv4Address dst;
  wire::TcpRepr h;
  std::string payload;
  std::vector<const mem::Block*> payload_blocks;  // blocks the frame referenced (zero copy)
  bool has(uint8_t f) const { return (h.flags & f) == f; }
  bool only(uint8_t f) const { return h.flags == f; }
};

// IPv4 as TCP sees it: captures what is sent, hands out header buffers from a pool.
class FakeIp final : public IpOutput {
 public:
  explicit FakeIp(wire::Ipv4Address self, std::size_t buffers = 8192) : self_(self), pool_(buffers, 2048) {}
  ~FakeIp() override { frames.clear(); }  // the frames hold buffers of pool_

  int send(wire::Ipv4Address dst, uint8_t protocol, runtime::TxFrame frame) override {
    EXPECT_EQ(protocol, wire::kProtocolTcp);
    if (fail_next != 0) {
      const int rc = fail_next;
      fail_next = 0;
      return rc;
    }
    frames.push_back({dst, std::move(frame)});
    return 0;
  }
  mem::BufRef alloc_header(std::size_t transport_room) override { return pool_.get(kIpHeadroom + transport_room); }
  wire::Ipv4Address local_address() const override { return self_; }
  uint32_t mtu() const override { return mtu_value; }
  bool offload_checksum() const override { return false; }

  // The bytes of a frame (TCP header and payload), linearized.
  static std::vector<std::byte> flatten(const runtime::TxFrame& f) {
    std::vector<std::byte> out(f.head.bytes().begin(), f.head.bytes().end());
    for (uint8_t i = 0; i < f.payload_segments; ++i)
      out.insert(out.end(), f.payload[i].bytes().begin(), f.payload[i].bytes().end());
    return out;
  }

  struct Frame {
    wire::Ipv4Address dst{};
    runtime::TxFrame frame{};
  };
  Ring<Frame> frames;  // a ring: capturing does not allocate once warm
  int fail_next = 0;
  uint32_t mtu_value = 1500;
  mem::PacketPool& pool() { return pool_; }

 private:
  wire::Ipv4Address self_;
  mem::PacketPool pool_;
};

inline wire::Ipv4Address ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return wire::Ipv4Address::from_u32(uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d);
}

// Application buffers: heap blocks holding a copy of some bytes.
class AppBuffers {
 public:
  mem::BufRef make(std::string_view s) {
    mem::Block* b = alloc_.allocate(std::max<std::size_t>(s.size(), 1));
    std::memcpy(b->data, s.data(), s.size());
    return mem::BufRef::adopt(b, 0, s.size());
  }
  mem::HeapAllocator& allocator() { return alloc_; }

 private:
  mem::HeapAllocator alloc_;
};

inline std::string to_string(const std::vector<mem::BufRef>& v) {
  std::string s;
  for (const mem::BufRef& b : v) s.append(reinterpret_cast<const char*>(b.data()), b.size());
  return s;
}

// The fixture. LOCAL is the stack under test, REMOTE the peer the test plays.
class TcpTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kLocalPort = 80;
  static constexpr uint16_t kRemotePort = 49500;
  static constexpr uint32_t kRemoteIsn = 10000;
  const wire::Ipv4Address kLocalAddr = ip(10, 0, 0, 1);
  const wire::Ipv4Address kRemoteAddr = ip(10, 0, 0, 2);

  TcpTest() : sched(clock), net(ip(10, 0, 0, 1)) {
    cfg.delayed_ack_enabled = false;  // tests of delayed ACKs turn it on
    cfg.isn_secret = TcpConfig::secret_from_seed(1);
    cfg.rto_initial = 1s;
    cfg.rto_min = 200ms;
    cfg.msl = 30s;
  }
  ~TcpTest() override { reset_layer(); }

  // Drops the layer (the next layer() builds a new one from cfg), keeping the transitions it
  // took for the suite's coverage check.
  void reset_layer() {
    if (tcp) suite_coverage().merge(tcp->coverage());
    tcp.reset();
  }

  // Builds the layer from cfg (call again after changing cfg).
  TcpLayer& layer() {
    if (!tcp) {
      tcp = std::make_unique<TcpLayer>(sched, net, cfg);
      tcp->set_congestion_factory(fake_congestion(cc_window, &cc_calls));
    }
    return *tcp;
  }

  // ---- time
  void advance(sched::Duration d) {
    const sched::Instant end = clock.now() + d;
    for (;;) {
      auto next = sched.next_deadline();
      if (!next || *next > end) break;
      clock.advance_to(*next);
      sched.run_once();
    }
    clock.advance_to(end);
    sched.run_once();
  }

  // ---- injecting segments from REMOTE
  wire::TcpRepr seg(uint8_t flags, uint32_t seq, uint32_t ack = 0, uint16_t window = 65535) const {
    wire::TcpRepr r;
    r.src_port = kRemotePort;
    r.dst_port = kLocalPort;
    r.seq = wire::SeqNumber{seq};
    r.ack = wire::SeqNumber{ack};
    r.flags = flags;
    r.window = window;
    return r;
  }
  void inject(const wire::TcpRepr& r, std::string_view payload = {}, bool corrupt = false) {
    const std::size_t hl = r.emitted_header_len();
    mem::BufRef b = rx_pool.get(64);
    ASSERT_TRUE(b);
    ASSERT_LE(hl + payload.size(), b.tailroom()) << "inject at most one MSS at a time";
    b.set_length(hl + payload.size());
    r.emit(b.bytes().first(hl));
    if (!payload.empty()) std::memcpy(b.data() + hl, payload.data(), payload.size());
    const std::span<const std::byte> pl(b.data() + hl, payload.size());
    wire::TcpRepr::fill_checksum(b.bytes().first(hl), std::span<const std::span<const std::byte>>(&pl, 1), kRemoteAddr,
                                 kLocalAddr);
    if (corrupt) b.data()[hl - 1] ^= std::byte{0x40};
    wire::Ipv4Repr ipr;
    ipr.src_addr = kRemoteAddr;
    ipr.dst_addr = kLocalAddr;
    ipr.protocol = wire::kProtocolTcp;
    ipr.payload_len = static_cast<uint16_t>(hl + payload.size());
    last_injected = b.block();
    layer().receive(ipr, std::move(b), false);
  }

  // Injects `data` from seq on, cut into 1460-byte segments; returns the next seq.
  uint32_t inject_data(uint32_t seq, uint32_t ack, const std::string& data) {
    for (std::size_t at = 0; at < data.size(); at += 1460) {
      const std::string_view piece = std::string_view(data).substr(at, 1460);
      inject(seg(wire::TcpFlags::ACK, seq, ack), piece);
      seq += static_cast<uint32_t>(piece.size());
    }
    return seq;
  }

  // ---- what the stack sent
  bool sent_nothing() const { return net.frames.empty(); }
  Sent next() {
    Sent s;
    if (net.frames.empty()) {
      ADD_FAILURE() << "expected a segment, none was sent";
      return s;
    }
    FakeIp::Frame f = std::move(net.frames.front());
    net.frames.pop_front();
    const auto bytes = FakeIp::flatten(f.frame);
    auto r = wire::TcpRepr::parse(bytes, kLocalAddr, f.dst, true);
    if (!r) {
      ADD_FAILURE() << "the stack sent a segment that does not parse (or has a bad checksum)";
      return s;
    }
    s.dst = f.dst;
    s.h = *r;
    s.payload.assign(reinterpret_cast<const char*>(bytes.data()) + r->header_len, r->payload_len);
    for (uint8_t i = 0; i < f.frame.payload_segments; ++i) s.payload_blocks.push_back(f.frame.payload[i].block());
    return s;
  }
  // Expects exactly one segment with these flags, seq and ack (ack checked when ACK is set).
  Sent expect(uint8_t flags, uint32_t seq, uint32_t ack = 0, std::string_view payload = {}) {
    Sent s = next();
    EXPECT_EQ(s.h.flags & ~wire::TcpFlags::PSH, flags & ~wire::TcpFlags::PSH) << "flags";
    EXPECT_EQ(s.h.seq.raw(), seq) << "seq";
    if (flags & wire::TcpFlags::ACK) {
      EXPECT_EQ(s.h.ack.raw(), ack) << "ack";
    }
    EXPECT_EQ(s.payload, payload) << "payload";
    return s;
  }
  void drain() { net.frames.clear(); }

  // ---- application buffers
  mem::BufRef buf(std::string_view s) { return app.make(s); }
  Result<std::size_t> send(SocketId s, std::string_view data) {
    mem::BufRef b = buf(data);
    return layer().send(s, std::span<const mem::BufRef>(&b, 1));
  }
  std::string read(SocketId s, std::size_t max = 1 << 20) {
    std::vector<mem::BufRef> out;
    auto r = layer().recv(s, max, out);
    if (!r) return "<error " + std::to_string(r.error()) + ">";
    return to_string(out);
  }
  TcpState state(SocketId s) { return layer().state(s).value_or(TcpState::Closed); }

  // ---- builders, one per state. Sequence numbers: local_isn is ours, remote seq starts at
  // kRemoteIsn; after a builder, lseq/rseq are the next sequence numbers of each side.
  SocketId listener(int backlog = 8) {
    auto s = layer().open();
    EXPECT_TRUE(s);
    EXPECT_EQ(layer().bind(*s, kLocalAddr, kLocalPort), 0);
    EXPECT_EQ(layer().listen(*s, backlog), 0);
    listen_id = *s;
    return *s;
  }
  // A child in SYN-RECEIVED (not visible to the application yet); returns the listener.
  SocketId syn_received(wire::TcpRepr syn) {
    SocketId l = listener();
    inject(syn);
    Sent sa = next();
    EXPECT_TRUE(sa.has(wire::TcpFlags::SYN | wire::TcpFlags::ACK));
    local_isn = sa.h.seq.raw();
    lseq = local_isn + 1;
    rseq = syn.seq.raw() + 1;
    syn_ack = sa;
    return l;
  }
  // The peer's SYN: an MSS option and nothing else, unless a test adds more.
  wire::TcpRepr peer_syn() const {
    wire::TcpRepr r = seg(wire::TcpFlags::SYN, kRemoteIsn);
    r.mss = 1460;
    return r;
  }
  SocketId syn_received() { return syn_received(peer_syn()); }
  // An accepted connection in ESTABLISHED (passive open).
  SocketId established(wire::TcpRepr syn) {
    SocketId l = syn_received(syn);
    wire::TcpRepr ack = seg(wire::TcpFlags::ACK, rseq, lseq);
    if (syn.timestamps) ack.timestamps = wire::TcpTimestamps{syn.timestamps->tsval + 1, syn_ack.h.timestamps->tsval};
    inject(ack);
    auto c = layer().try_accept(l);
    EXPECT_TRUE(c);
    EXPECT_EQ(state(*c), TcpState::Established);
    EXPECT_TRUE(sent_nothing());
    return c ? *c : 0;
  }
  SocketId established() { return established(peer_syn()); }
  // An active open in SYN-SENT.
  SocketId syn_sent() {
    auto s = layer().open();
    EXPECT_TRUE(s);
    EXPECT_EQ(layer().bind(*s, kLocalAddr, kLocalPort), 0);
    EXPECT_EQ(layer().connect(*s, kRemoteAddr, kRemotePort), 0);
    Sent syn = next();
    EXPECT_TRUE(syn.only(wire::TcpFlags::SYN));
    local_isn = syn.h.seq.raw();
    lseq = local_isn + 1;
    rseq = kRemoteIsn + 1;
    our_syn = syn;
    return *s;
  }
  SocketId established_active() {
    SocketId s = syn_sent();
    inject(seg(wire::TcpFlags::SYN | wire::TcpFlags::ACK, kRemoteIsn, lseq));
    expect(wire::TcpFlags::ACK, lseq, rseq);
    EXPECT_EQ(state(s), TcpState::Established);
    return s;
  }
  SocketId fin_wait_1() {
    SocketId s = established();
    EXPECT_EQ(layer().shutdown_write(s), 0);
    expect(wire::TcpFlags::FIN | wire::TcpFlags::ACK, lseq, rseq);
    EXPECT_EQ(state(s), TcpState::FinWait1);
    return s;
  }
  SocketId fin_wait_2() {
    SocketId s = fin_wait_1();
    inject(seg(wire::TcpFlags::ACK, rseq, lseq + 1));
    lseq += 1;
    EXPECT_EQ(state(s), TcpState::FinWait2);
    return s;
  }
  SocketId close_wait() {
    SocketId s = established();
    inject(seg(wire::TcpFlags::FIN | wire::TcpFlags::ACK, rseq, lseq));
    rseq += 1;
    expect(wire::TcpFlags::ACK, lseq, rseq);
    EXPECT_EQ(state(s), TcpState::CloseWait);
    return s;
  }
  SocketId last_ack() {
    SocketId s = close_wait();
    EXPECT_EQ(layer().shutdown_write(s), 0);
    expect(wire::TcpFlags::FIN | wire::TcpFlags::ACK, lseq, rseq);
    EXPECT_EQ(state(s), TcpState::LastAck);
    return s;
  }
  SocketId closing() {
    SocketId s = fin_wait_1();
    inject(seg(wire::TcpFlags::FIN | wire::TcpFlags::ACK, rseq, lseq));
    rseq += 1;
    expect(wire::TcpFlags::ACK, lseq + 1, rseq);
    EXPECT_EQ(state(s), TcpState::Closing);
    return s;
  }
  SocketId time_wait() {
    SocketId s = fin_wait_2();
    inject(seg(wire::TcpFlags::FIN | wire::TcpFlags::ACK, rseq, lseq));
    rseq += 1;
    expect(wire::TcpFlags::ACK, lseq, rseq);
    EXPECT_EQ(state(s), TcpState::TimeWait);
    return s;
  }

  uint64_t count(TcpState from, TcpState to, TransitionCause cause) {
    return layer().coverage().count(from, to, cause);
  }

  sched::VirtualClock clock;
  sched::Scheduler sched;
  AppBuffers app;  // before net: captured frames hold application buffers
  mem::PacketPool rx_pool{1024, 2048};
  FakeIp net;
  TcpConfig cfg;
  uint32_t cc_window = 1 << 20;
  FakeCongestion::Calls cc_calls;
  std::unique_ptr<TcpLayer> tcp;
  const mem::Block* last_injected = nullptr;
  SocketId listen_id = 0;
  uint32_t local_isn = 0;
  uint32_t lseq = 0;  // our next sequence number
  uint32_t rseq = 0;  // the peer's next sequence number
  Sent syn_ack;
  Sent our_syn;
};

}  // namespace demi::net::tcp::test
