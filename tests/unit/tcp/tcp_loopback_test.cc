// Two TcpLayers wired together through a fake link: 10 MB each way, byte-exact, with and
// without seeded random loss, with SACK and without, and with a link that has room for only a
// few segments per pass (ENOBUFS beyond: a full transmit queue), which must cost no loss.
#include <cerrno>
#include <deque>
#include <random>

#include "tcp_harness.h"

namespace demi::net::tcp::test {
namespace {

// The byte at `offset` of the stream in direction `dir`.
uint8_t pattern(uint64_t offset, uint32_t dir) {
  uint64_t x = offset * 0x9e3779b97f4a7c15ull + dir * 0x632be59bd9b4e019ull;
  x ^= x >> 29;
  return static_cast<uint8_t>(x >> 17);
}

struct InFlight {
  sched::Instant at;
  wire::Ipv4Address src;
  wire::Ipv4Address dst;
  mem::BufRef bytes;
};

// One end's IPv4 output: copies each frame into a receive buffer of the other end (as a NIC
// would) and queues it for delivery after `delay`, unless the loss generator drops it.
class Link final : public IpOutput {
 public:
  Link(wire::Ipv4Address self, sched::Clock& clock, std::deque<InFlight>& wire_out, mem::PacketPool& peer_rx,
       double loss, uint64_t seed)
      : self_(self), clock_(clock), out_(wire_out), peer_rx_(peer_rx), headers_(256, 2048), loss_(loss), rng_(seed) {}

  int send(wire::Ipv4Address dst, uint8_t, runtime::TxFrame frame) override {
    if (budget_ > 0 && taken_ == budget_) {
      ++refused;
      return ENOBUFS;  // the transmit queue is full: nothing was taken
    }
    ++taken_;
    ++sent;
    if (loss_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss_) {
      ++dropped;
      return 0;
    }
    mem::BufRef b = peer_rx_.get(64);
    if (!b) return ENOBUFS;
    std::size_t n = 0;
    auto put = [&](const mem::BufRef& r) {
      std::memcpy(b.data() + n, r.data(), r.size());
      n += r.size();
    };
    put(frame.head);
    for (uint8_t i = 0; i < frame.payload_segments; ++i) put(frame.payload[i]);
    b.set_length(n);
    // Reordering is not modelled: one path, in order, 100 us.
    out_.push_back({clock_.now() + std::chrono::microseconds(100), self_, dst, std::move(b)});
    return 0;
  }
  mem::BufRef alloc_header(std::size_t room) override { return headers_.get(kIpHeadroom + room); }
  wire::Ipv4Address local_address() const override { return self_; }
  uint32_t mtu() const override { return 1500; }
  bool offload_checksum() const override { return false; }

  // At most `n` segments a pass (0: no limit); new_pass() empties the queue.
  void set_budget(std::size_t n) { budget_ = n; }
  void new_pass() { taken_ = 0; }

  uint64_t sent = 0;
  uint64_t dropped = 0;
  uint64_t refused = 0;

 private:
  wire::Ipv4Address self_;
  sched::Clock& clock_;
  std::deque<InFlight>& out_;
  mem::PacketPool& peer_rx_;
  mem::PacketPool headers_;
  double loss_;
  std::mt19937_64 rng_;
  std::size_t budget_ = 0;
  std::size_t taken_ = 0;
};

// An application that writes `total` bytes (in 64 KiB buffers), reads everything the other
// side writes, checks every byte, and closes when both directions are done.
struct Endpoint {
  TcpLayer* tcp = nullptr;
  SocketId sock = 0;
  uint32_t send_dir = 0;
  uint64_t total = 0;
  uint64_t pushed = 0;
  uint64_t received = 0;
  bool eof = false;
  bool shut = false;
  bool closed = false;
  bool corrupt = false;
  mem::HeapAllocator* alloc = nullptr;

  void step() {
    if (sock == 0 || closed) return;
    while (pushed < total) {
      const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(64 * 1024, total - pushed));
      mem::Block* b = alloc->allocate(n);
      for (std::size_t i = 0; i < n; ++i) b->data[i] = std::byte{pattern(pushed + i, send_dir)};
      mem::BufRef r = mem::BufRef::adopt(b, 0, n);
      auto res = tcp->send(sock, std::span<const mem::BufRef>(&r, 1));
      if (!res) {
        ASSERT_EQ(res.error(), EAGAIN);
        break;
      }
      pushed += n;
    }
    if (pushed == total && !shut) {
      ASSERT_EQ(tcp->shutdown_write(sock), 0);
      shut = true;
    }
    for (;;) {
      std::vector<mem::BufRef> out;
      auto res = tcp->recv(sock, 1 << 20, out);
      if (!res) {
        ASSERT_EQ(res.error(), EAGAIN);
        break;
      }
      if (*res == 0) {
        eof = true;
        break;
      }
      for (const mem::BufRef& r : out) {
        for (std::size_t i = 0; i < r.size(); ++i)
          if (static_cast<uint8_t>(r.data()[i]) != pattern(received + i, 1 - send_dir)) corrupt = true;
        received += r.size();
      }
    }
    if (eof && shut && !closed) {
      ASSERT_EQ(tcp->close(sock), 0);
      closed = true;
    }
  }
};

struct LoopbackCase {
  double loss;
  bool sack;
  bool timestamps;
  uint64_t seed;
  // Empty: a fixed-window fake controller. Otherwise the controller make_congestion_control
  // gives for this name (the real NewReno or CUBIC in the full build).
  const char* congestion = "";
  // Segments the link takes per pass (0: no limit).
  std::size_t tx_budget = 0;
};

class TcpLoopback : public ::testing::TestWithParam<LoopbackCase> {};

TEST_P(TcpLoopback, ten_megabytes_each_way_byte_exact) {
  const LoopbackCase p = GetParam();
  const uint64_t kBytes = 10 * 1024 * 1024;
  sched::VirtualClock clock;
  sched::Scheduler sched(clock);
  mem::HeapAllocator app_alloc;
  mem::PacketPool rx_a(4096, 2048), rx_b(4096, 2048);
  std::deque<InFlight> a_to_b, b_to_a;
  const wire::Ipv4Address addr_a = ip(10, 0, 0, 1), addr_b = ip(10, 0, 0, 2);
  Link link_a(addr_a, clock, a_to_b, rx_b, p.loss, p.seed);
  Link link_b(addr_b, clock, b_to_a, rx_a, p.loss, p.seed * 7 + 1);
  link_a.set_budget(p.tx_budget);
  link_b.set_budget(p.tx_budget);

  TcpConfig cfg;
  cfg.sack = p.sack;
  cfg.timestamps = p.timestamps;
  cfg.rto_min = 5ms;
  cfg.rto_initial = 50ms;
  cfg.delayed_ack = 1ms;
  cfg.msl = 1s;
  cfg.isn_secret = TcpConfig::secret_from_seed(p.seed);
  const bool fake_cc = std::string_view(p.congestion).empty();
  if (!fake_cc) cfg.congestion_control = p.congestion;
  FakeCongestion::Calls calls_a, calls_b;
  {
    TcpLayer a(sched, link_a, cfg), b(sched, link_b, cfg);
    if (fake_cc) {
      a.set_congestion_factory(fake_congestion(128 * 1024, &calls_a));
      b.set_congestion_factory(fake_congestion(128 * 1024, &calls_b));
    }

    SocketId lsn = *b.open();
    ASSERT_EQ(b.bind(lsn, addr_b, 5000), 0);
    ASSERT_EQ(b.listen(lsn, 4), 0);
    Endpoint ea{&a, *a.open(), 0, kBytes};
    Endpoint eb{&b, 0, 1, kBytes};
    ea.alloc = eb.alloc = &app_alloc;
    ASSERT_EQ(a.connect(ea.sock, addr_b, 5000), 0);

    auto deliver = [&](std::deque<InFlight>& q, TcpLayer& to) {
      while (!q.empty() && q.front().at <= clock.now()) {
        InFlight f = std::move(q.front());
        q.pop_front();
        wire::Ipv4Repr r;
        r.src_addr = f.src;
        r.dst_addr = f.dst;
        r.protocol = wire::kProtocolTcp;
        r.payload_len = static_cast<uint16_t>(f.bytes.size());
        to.receive(r, std::move(f.bytes), false);
      }
    };
    const sched::Instant deadline = clock.now() + std::chrono::seconds(600);
    while (clock.now() < deadline) {
      link_a.new_pass();
      link_b.new_pass();
      deliver(a_to_b, b);
      deliver(b_to_a, a);
      sched.run_once();
      if (eb.sock == 0) {
        if (auto c = b.try_accept(lsn)) eb.sock = *c;
      }
      ea.step();
      eb.step();
      if (ea.closed && eb.closed && a_to_b.empty() && b_to_a.empty() && a.connections() == 0 && b.connections() == 1)
        break;
      // Jump to the next thing that happens.
      std::optional<sched::Instant> next = sched.next_deadline();
      for (auto* q : {&a_to_b, &b_to_a})
        if (!q->empty() && (!next || q->front().at < *next)) next = q->front().at;
      if (!next) break;
      if (*next > clock.now()) clock.advance_to(*next);
    }
    EXPECT_FALSE(ea.corrupt);
    EXPECT_FALSE(eb.corrupt);
    EXPECT_EQ(ea.received, kBytes);
    EXPECT_EQ(eb.received, kBytes);
    EXPECT_TRUE(ea.eof && eb.eof);
    EXPECT_TRUE(ea.closed && eb.closed);
    EXPECT_EQ(a.connections(), 0u) << "A keeps a connection";
    EXPECT_EQ(b.connections(), 1u) << "B keeps more than its listener";
    if (p.loss > 0) {
      EXPECT_GT(link_a.dropped + link_b.dropped, 0u);
      EXPECT_GT(a.counters().retransmits + b.counters().retransmits, 0u);
    }
    if (p.tx_budget > 0) {
      // The link refused segments, and every one went again later: none was taken for lost.
      EXPECT_GT(link_a.refused + link_b.refused, 0u);
      EXPECT_GT(a.counters().tx_deferred + b.counters().tx_deferred, 0u);
      if (p.loss == 0) {
        EXPECT_EQ(a.counters().retransmits + b.counters().retransmits, 0u);
      }
    }
    TransitionCoverage all = a.coverage();
    all.merge(b.coverage());
    suite_coverage().merge(all);
    EXPECT_EQ(all.unlisted(), 0u);
    EXPECT_GT(all.count(TcpState::SynSent, TcpState::Established, TransitionCause::RcvSynAck), 0u);
    EXPECT_GT(all.count(TcpState::SynReceived, TcpState::Established, TransitionCause::RcvAck), 0u);
    if (HasFailure()) {
      ADD_FAILURE() << "A: " << a.coverage().report() << "\nB: " << b.coverage().report();
    }
    EXPECT_EQ(b.close(lsn), 0);
  }
  // Every application buffer came back once the stacks were done with them.
  EXPECT_EQ(app_alloc.stats().live_blocks, 0u);
}

INSTANTIATE_TEST_SUITE_P(Loopback, TcpLoopback,
                         ::testing::Values(LoopbackCase{0.0, true, true, 1}, LoopbackCase{0.02, true, true, 2},
                                           LoopbackCase{0.02, false, true, 3}, LoopbackCase{0.02, true, false, 4},
                                           LoopbackCase{0.05, false, false, 5},
                                           LoopbackCase{0.01, true, true, 6, "newreno"},
                                           LoopbackCase{0.01, false, true, 7, "newreno"},
                                           LoopbackCase{0.01, true, true, 8, "cubic"},
                                           LoopbackCase{0.0, true, true, 9, "cubic", 3},
                                           LoopbackCase{0.0, false, true, 10, "newreno", 2},
                                           LoopbackCase{0.02, true, true, 11, "cubic", 3}),
                         [](const ::testing::TestParamInfo<LoopbackCase>& i) {
                           return "loss" + std::to_string(static_cast<int>(i.param.loss * 100)) +
                                  (i.param.sack ? "_sack" : "_nosack") + (i.param.timestamps ? "_ts" : "_nots") +
                                  "_seed" + std::to_string(i.param.seed) +
                                  (*i.param.congestion ? std::string("_") + i.param.congestion : std::string()) +
                                  (i.param.tx_budget ? "_budget" + std::to_string(i.param.tx_budget) : std::string());
                         });

}  // namespace
}  // namespace demi::net::tcp::test
