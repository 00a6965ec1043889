#include "sim/exchange.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include <demi/catnip.h>
#include <demi/libos.h>
#include <fmt/core.h>

#include "libos/module_host.h"
#include "modules/catnip/catnip_module.h"
#include "net/inet_stack.h"
#include "net/tcp/tcp_layer.h"
#include "runtime/sim/link_profile.h"
#include "runtime/sim/rng.h"

namespace demi::sim {

namespace {

using namespace std::chrono_literals;
using runtime::sim::Rng;

constexpr uint16_t kPort = 80;
constexpr std::size_t kMaxPush = 16 * 1024;        // the largest push a stream makes
constexpr sched::Duration kTimeLimit = 900s;       // virtual; a 20% loss run ends well before
constexpr uint64_t kStepLimit = 20'000'000;        // driver rounds
constexpr int kMsl = 500;                          // ms: TIME-WAIT lasts 1 s of virtual time
constexpr std::size_t kSendBuffer = 64 * 1024;     // catnip.tcp.send_buffer
constexpr std::size_t kReceiveBuffer = 64 * 1024;  // catnip.tcp.receive_buffer

sockaddr_in address(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}
const sockaddr* sa(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

// The byte at `offset` of the stream keyed `key`: a cheap mix, so that a byte delivered twice
// or out of place is caught.
std::byte pattern_byte(uint64_t key, std::size_t offset) {
  uint64_t x = key + 0x9e3779b97f4a7c15ull * (offset / 8 + 1);
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  return static_cast<std::byte>(x >> (8 * (offset % 8)));
}

enum class CloseOrder : uint8_t { ClientFirst, ServerFirst, Together };
constexpr std::string_view order_name(CloseOrder o) {
  switch (o) {
    case CloseOrder::ClientFirst: return "client first";
    case CloseOrder::ServerFirst: return "server first";
    case CloseOrder::Together: return "together";
  }
  return "?";
}

// One side of one connection: what it pushes and what it must receive.
struct Stream {
  LibOS* os = nullptr;
  const char* who = "";
  int conn = 0;
  QDesc qd = -1;
  bool open = false;      // connected (or accepted)
  bool closed = false;    // close() called
  uint64_t send_key = 0;  // of the bytes it pushes
  uint64_t recv_key = 0;  // of the bytes it must receive
  std::size_t to_send = 0;
  std::size_t pushed = 0;  // bytes of completed pushes
  std::optional<QToken> push_qt;
  Sga push_sga{};
  std::size_t push_len = 0;
  std::size_t received = 0;
  bool eof = false;
  std::optional<QToken> pop_qt;
  bool closes_first = false;  // closes once done, without waiting for the peer's FIN
  int error = 0;
  std::string broken;  // the first wrong byte, as text

  bool sent_all() const { return pushed == to_send && !push_qt; }
  bool done_receiving() const { return received >= to_send; }  // both directions carry `bytes`
};

class Exchange {
 public:
  explicit Exchange(const ExchangeOptions& o)
      : o_(o),
        net_(clock_, o.seed),
        rng_(o.seed ^ 0x7463702d73696dull),
        port_a_(net_.add_host(runtime::LinkAddress{0x02, 0, 0, 0, 0, 0x0a}, "a")),
        port_b_(net_.add_host(runtime::LinkAddress{0x02, 0, 0, 0, 0, 0x0b}, "b")) {
    cc_ = !o.congestion.empty() ? o.congestion : (o.seed & 1) ? "cubic" : "newreno";
    a_ = std::make_unique<LibOS>(options("10.0.0.1", o.seed * 2));
    b_ = std::make_unique<LibOS>(options("10.0.0.2", o.seed * 2 + 1));
    install_ok_ = a_->install(make_catnip_module(*port_a_, a_->config())) == 0 &&
                  b_->install(make_catnip_module(*port_b_, b_->config())) == 0;
  }

  ~Exchange() {
    // The hosts before the network whose ports they borrow (members go in reverse order, but
    // say it here).
    a_.reset();
    b_.reset();
  }

  ExchangeReport run();

 private:
  LibOSOptions options(const char* ip, uint64_t isn_seed) {
    LibOSOptions lo;
    lo.clock = &clock_;
    Config& c = lo.config;
    c.set("catnip.ipv4.address", ip);
    c.set("catnip.tcp.isn_seed", std::to_string(isn_seed));
    c.set("catnip.tcp.congestion", cc_);
    c.set("catnip.tcp.msl_ms", std::to_string(kMsl));
    c.set("catnip.tcp.send_buffer", std::to_string(kSendBuffer));
    c.set("catnip.tcp.receive_buffer", std::to_string(kReceiveBuffer));
    // 20% loss each way: a handshake attempt gets through 64% of the time; 16 attempts make a
    // failed connection a one-in-10^7 event rather than a weekly flake.
    c.set("catnip.tcp.syn_retries", "15");
    c.set("catnip.tcp.data_retries", "20");
    // Likewise ARP: 4 tries fail together 1.7% of the time at 20% loss (EHOSTUNREACH, correctly,
    // but then the exchange cannot happen); 12 make it one in 10^5.
    c.set("catnip.arp.retries", "11");
    c.set("libos.stall_warning_ms", "0");  // the other host's time is not a stall
    return lo;
  }
  net::InetStack& stack(LibOS& l) { return *static_cast<catnip::CatnipModule*>(l.module("catnip"))->stack(); }
  net::tcp::TcpLayer& tcp(LibOS& l) { return *stack(l).tcp(); }

  void shape_links();
  void maybe_partition();
  bool start();
  bool drive(LibOS& os, std::vector<Stream*>& streams);
  bool complete(LibOS& os, QToken qt, const QResult& r, int rc);
  bool advance_stream(Stream& s);
  void sample_memory();
  bool all_done() const;
  bool everything_closed();

  ExchangeOptions o_;
  sched::VirtualClock clock_;
  runtime::sim::Network net_;
  Rng rng_;
  runtime::sim::Port* port_a_;
  runtime::sim::Port* port_b_;
  std::string cc_;
  std::unique_ptr<LibOS> a_;
  std::unique_ptr<LibOS> b_;
  bool install_ok_ = false;
  std::string setup_error_;
  std::string profile_note_;
  runtime::sim::LinkProfile profile_;
  sched::Duration partition_length_{};
  std::size_t partition_at_bytes_ = 0;
  bool partitioned_ = false;

  QDesc listener_ = -1;
  bool listener_closed_ = false;
  std::optional<QToken> accept_qt_;
  int accepted_ = 0;
  std::vector<std::optional<QToken>> connect_qts_;
  std::vector<Stream> server_;  // by connection index (accept order)
  std::vector<Stream> client_;
  std::vector<CloseOrder> orders_;
  std::vector<int> errors_;  // operations that failed, as "who: errno"
  std::string first_error_;

  // Memory high-water marks.
  std::size_t peak_send_[2] = {0, 0};
  std::size_t peak_receive_[2] = {0, 0};
  std::size_t peak_app_bytes_[2] = {0, 0};
  std::size_t peak_pool_ = 0;
  uint64_t steps_ = 0;
};

void Exchange::shape_links() {
  profile_ = *runtime::sim::profile_by_name(o_.profile);
  if (!profile_.partitions.empty()) {
    // The preset cuts the link from 1 s to 3 s; a short exchange on a clean link is over long
    // before 1 s. Keep the cut's length, and start it when a seeded share (1 to 95%) of all the
    // bytes has arrived, so that it falls on the handshake or the data, whatever their pace.
    partition_length_ = profile_.partitions[0].end - profile_.partitions[0].start;
    // At least 1%: a cut before the first byte would come before ARP has resolved, and ARP
    // gives up on a host silent for 2 s (connect fails with EHOSTUNREACH, as it should).
    partition_at_bytes_ = std::max<std::size_t>(1, static_cast<std::size_t>(1 + rng_.uniform(95)) * 2 * o_.bytes *
                                                       static_cast<std::size_t>(o_.conns) / 100);
    profile_.partitions.clear();
  }
  net_.set_profile_all(profile_);
}

// Starts the partition once its share of the bytes has arrived.
void Exchange::maybe_partition() {
  if (partition_length_ == sched::Duration::zero() || partitioned_) return;
  std::size_t received = 0;
  for (const auto* side : {&server_, &client_})
    for (const Stream& s : *side) received += s.received;
  if (received < partition_at_bytes_) return;
  partitioned_ = true;
  const sched::Instant start = clock_.now();
  profile_.partitions.push_back({start, start + partition_length_});
  net_.set_profile_all(profile_);
  profile_note_ = fmt::format("partition from {:.3f} ms to {:.3f} ms, after {} bytes arrived",
                              sched::to_ms(start.time_since_epoch()),
                              sched::to_ms((start + partition_length_).time_since_epoch()), received);
}

bool Exchange::start() {
  if (!install_ok_) {
    setup_error_ = "a catnip module did not install";
    return false;
  }
  const int n = o_.conns;
  server_.resize(static_cast<std::size_t>(n));
  client_.resize(static_cast<std::size_t>(n));
  connect_qts_.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const uint64_t up = o_.seed * 1000003 + static_cast<uint64_t>(i) * 2;  // client -> server
    const uint64_t down = up + 1;                                          // server -> client
    const auto order = static_cast<CloseOrder>(rng_.uniform(3));
    orders_.push_back(order);
    Stream& c = client_[static_cast<std::size_t>(i)];
    c.os = b_.get();
    c.who = "client";
    c.conn = i;
    c.send_key = up;
    c.recv_key = down;
    c.to_send = o_.bytes;
    c.closes_first = order != CloseOrder::ServerFirst;
    Stream& s = server_[static_cast<std::size_t>(i)];
    s.os = a_.get();
    s.who = "server";
    s.conn = i;
    s.send_key = down;
    s.recv_key = up;
    s.to_send = o_.bytes;
    s.closes_first = order != CloseOrder::ClientFirst;
  }
  auto l = a_->socket(AF_INET, SOCK_STREAM, 0);
  if (!l) {
    setup_error_ = fmt::format("server socket: {}", std::strerror(l.error()));
    return false;
  }
  listener_ = *l;
  const sockaddr_in any = address("0.0.0.0", kPort);
  if (int rc = a_->bind(listener_, sa(any), sizeof any); rc != 0) {
    setup_error_ = fmt::format("bind: {}", std::strerror(rc));
    return false;
  }
  if (int rc = a_->listen(listener_, 64); rc != 0) {
    setup_error_ = fmt::format("listen: {}", std::strerror(rc));
    return false;
  }
  auto acc = a_->accept(listener_);
  if (!acc) {
    setup_error_ = fmt::format("accept: {}", std::strerror(acc.error()));
    return false;
  }
  accept_qt_ = *acc;
  const sockaddr_in to = address("10.0.0.1", kPort);
  for (int i = 0; i < n; ++i) {
    auto q = b_->socket(AF_INET, SOCK_STREAM, 0);
    if (!q) {
      setup_error_ = fmt::format("client socket: {}", std::strerror(q.error()));
      return false;
    }
    client_[static_cast<std::size_t>(i)].qd = *q;
    auto qt = b_->connect(*q, sa(to), sizeof to);
    if (!qt) {
      setup_error_ = fmt::format("connect: {}", std::strerror(qt.error()));
      return false;
    }
    connect_qts_[static_cast<std::size_t>(i)] = *qt;
  }
  return true;
}

// A completed operation of `os`: finds whose it is and moves that stream on. False if it
// belonged to nobody (a driver bug).
bool Exchange::complete(LibOS& os, QToken qt, const QResult& r, int rc) {
  auto fail = [&](Stream* s, const char* what) {
    if (s) s->error = rc;
    if (first_error_.empty())
      first_error_ = fmt::format("{} {} of connection {}: {}", s ? s->who : "server", what, s ? s->conn : -1,
                                 std::strerror(rc));
    errors_.push_back(rc);
  };
  if (&os == a_.get() && accept_qt_ && *accept_qt_ == qt) {
    accept_qt_.reset();
    if (rc == ECANCELED && listener_closed_) return true;  // our own close of the listener
    if (rc != 0) {
      fail(nullptr, "accept");
      return true;
    }
    // Connections are numbered in accept order on the server, connect order on the client: the
    // client's connection i pairs with whichever accepted connection has its port.
    sockaddr_in peer = r.accept.addr;
    int index = -1;
    for (std::size_t i = 0; i < client_.size(); ++i) {
      sockaddr_in local{};
      socklen_t len = sizeof local;
      if (client_[i].qd >= 0 && b_->getsockname(client_[i].qd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
          local.sin_port == peer.sin_port)
        index = static_cast<int>(i);
    }
    if (index < 0 || server_[static_cast<std::size_t>(index)].open) {
      if (first_error_.empty()) first_error_ = "accepted a connection no client made";
      errors_.push_back(EINVAL);
      a_->close(r.accept.qd);
    } else {
      Stream& s = server_[static_cast<std::size_t>(index)];
      s.qd = r.accept.qd;
      s.open = true;
    }
    if (++accepted_ < o_.conns) {
      auto acc = a_->accept(listener_);
      if (acc) accept_qt_ = *acc;
    } else {
      a_->close(listener_);  // every connection came: the listener goes
      listener_closed_ = true;
    }
    return true;
  }
  if (&os == b_.get()) {
    for (std::size_t i = 0; i < connect_qts_.size(); ++i) {
      if (connect_qts_[i] && *connect_qts_[i] == qt) {
        connect_qts_[i].reset();
        if (rc != 0) fail(&client_[i], "connect");
        else client_[i].open = true;
        return true;
      }
    }
  }
  std::vector<Stream>& side = &os == a_.get() ? server_ : client_;
  for (Stream& s : side) {
    if (s.push_qt && *s.push_qt == qt) {
      s.push_qt.reset();
      os.sgafree(s.push_sga);
      if (rc != 0) {
        fail(&s, "push");
        return true;
      }
      s.pushed += s.push_len;
      return true;
    }
    if (s.pop_qt && *s.pop_qt == qt) {
      s.pop_qt.reset();
      if (rc == ECANCELED && s.closed) return true;  // our own close
      if (rc != 0) {
        fail(&s, "pop");
        return true;
      }
      const std::size_t len = r.sga.length();
      if (len == 0) {
        s.eof = true;
      } else {
        for (uint32_t k = 0; k < r.sga.numsegs; ++k) {
          const auto* p = static_cast<const std::byte*>(r.sga.segs[k].buf);
          for (uint32_t j = 0; j < r.sga.segs[k].len; ++j) {
            const std::size_t at = s.received + j;
            if (s.broken.empty() && (at >= s.to_send || p[j] != pattern_byte(s.recv_key, at)))
              s.broken = at >= s.to_send ? fmt::format("byte {} is beyond the {} sent", at, s.to_send)
                                         : fmt::format("byte {} differs", at);
          }
          s.received += r.sga.segs[k].len;
        }
      }
      os.sgafree(r.sga);
      return true;
    }
  }
  return false;
}

// Starts what a stream can start now: the next push, the next pop, its close.
bool Exchange::advance_stream(Stream& s) {
  if (s.closed) return false;
  if (s.error && s.qd >= 0) {
    // Failed: close it anyway, so that the stack's cleanup is checked as well.
    s.os->close(s.qd);
    s.closed = true;
    return true;
  }
  if (!s.open) return false;
  bool progress = false;
  if (!s.push_qt && s.pushed < s.to_send) {
    const std::size_t n = std::min<std::size_t>(s.to_send - s.pushed, 1 + rng_.uniform(kMaxPush));
    auto sga = s.os->sgaalloc(n);
    if (!sga) {
      s.error = sga.error();
      if (first_error_.empty()) first_error_ = fmt::format("sgaalloc: {}", std::strerror(sga.error()));
      return false;
    }
    auto* p = static_cast<std::byte*>(sga->segs[0].buf);
    for (std::size_t j = 0; j < n; ++j) p[j] = pattern_byte(s.send_key, s.pushed + j);
    auto qt = s.os->push(s.qd, *sga);
    if (!qt) {
      s.os->sgafree(*sga);
      s.error = qt.error();
      if (first_error_.empty()) first_error_ = fmt::format("push: {}", std::strerror(qt.error()));
      return false;
    }
    s.push_qt = *qt;
    s.push_sga = *sga;
    s.push_len = n;
    progress = true;
  }
  if (!s.pop_qt && !s.eof) {
    auto qt = s.os->pop(s.qd);
    if (qt) {
      s.pop_qt = *qt;
      progress = true;
    }
  }
  // Close once everything was pushed and received: at once for the side that closes first,
  // after the peer's FIN (EOF) for the other, which thereby also checks that nothing more came.
  if (s.sent_all() && s.done_receiving() && (s.closes_first || s.eof)) {
    s.os->close(s.qd);
    s.closed = true;
    progress = true;
  }
  return progress;
}

// Collects every completion of `os` and starts what follows. True if anything happened.
bool Exchange::drive(LibOS& os, std::vector<Stream*>& streams) {
  bool progress = false;
  std::vector<QToken> qts;
  for (;;) {
    qts.clear();
    if (&os == a_.get() && accept_qt_) qts.push_back(*accept_qt_);
    if (&os == b_.get())
      for (const auto& c : connect_qts_)
        if (c) qts.push_back(*c);
    for (Stream* s : streams) {
      if (s->push_qt) qts.push_back(*s->push_qt);
      if (s->pop_qt) qts.push_back(*s->pop_qt);
    }
    if (qts.empty()) break;
    QResult r;
    std::size_t index = SIZE_MAX;
    const int rc = os.wait_any(qts, &r, &index, std::chrono::nanoseconds(0));
    if (index == SIZE_MAX) break;  // nothing completed
    if (!complete(os, qts[index], r, rc)) break;
    progress = true;
  }
  for (Stream* s : streams) progress = advance_stream(*s) || progress;
  if (&os == a_.get() && !listener_closed_ && listener_ >= 0) {
    // A client whose connect failed never arrives: once every client is connected or failed,
    // and every connection that will come was accepted, the listener goes (cancelling its accept).
    int pending = 0;
    for (std::size_t i = 0; i < client_.size(); ++i)
      if (!client_[i].error && !server_[i].open) ++pending;
    if (pending == 0) {
      a_->close(listener_);
      listener_closed_ = true;
      progress = true;
    }
  }
  return progress;
}

void Exchange::sample_memory() {
  LibOS* hosts[2] = {a_.get(), b_.get()};
  for (int h = 0; h < 2; ++h) {
    const auto m = tcp(*hosts[h]).memory();
    peak_send_[h] = std::max(peak_send_[h], m.send_bytes);
    peak_receive_[h] = std::max(peak_receive_[h], m.receive_bytes + m.out_of_order_bytes);
    peak_app_bytes_[h] = std::max(peak_app_bytes_[h], hosts[h]->host().allocator().stats().live_bytes);
  }
  peak_pool_ = std::max(peak_pool_, net_.pool().in_use());
}

bool Exchange::all_done() const {
  for (std::size_t i = 0; i < client_.size(); ++i) {
    if (!client_[i].closed && !client_[i].error) return false;
    // A server stream whose client never connected never opens.
    if (!server_[i].closed && !server_[i].error && (server_[i].open || !client_[i].error)) return false;
  }
  return listener_closed_ || !errors_.empty();
}

bool Exchange::everything_closed() {
  return tcp(*a_).connections() == 0 && tcp(*b_).connections() == 0;
}

ExchangeReport Exchange::run() {
  ExchangeReport rep;
  rep.options = o_;
  rep.congestion = cc_;
  shape_links();
  const bool started = start();
  const sched::Instant t0 = clock_.now();
  const sched::Instant limit = t0 + kTimeLimit;
  std::vector<Stream*> server_streams;
  std::vector<Stream*> client_streams;
  for (Stream& s : server_) server_streams.push_back(&s);
  for (Stream& s : client_) client_streams.push_back(&s);
  bool timed_out = false;
  while (started) {
    if (++steps_ > kStepLimit || clock_.now() > limit) {
      timed_out = true;
      break;
    }
    maybe_partition();
    bool progress = a_->poll_once();
    progress = b_->poll_once() || progress;
    progress = drive(*a_, server_streams) || progress;
    progress = drive(*b_, client_streams) || progress;
    sample_memory();
    if (all_done() && everything_closed() && net_.in_flight() == 0) break;
    if (progress) continue;
    // Nothing to do now: time jumps to the next frame or timer.
    std::optional<sched::Instant> next = net_.next_delivery();
    for (LibOS* l : {a_.get(), b_.get()}) {
      auto t = l->host().scheduler().next_deadline();
      if (t && (!next || *t < *next)) next = t;
    }
    if (!next) break;  // nothing can ever happen again
    if (*next > clock_.now()) clock_.advance_to(*next);
  }
  rep.virtual_ms = sched::to_ms(clock_.now() - t0);
  rep.steps = steps_;
  rep.counters_a = stack(*a_).counters();
  rep.counters_b = stack(*b_).counters();
  rep.a_to_b = net_.counters(port_a_, port_b_);
  rep.b_to_a = net_.counters(port_b_, port_a_);
  rep.coverage.merge(tcp(*a_).coverage());
  rep.coverage.merge(tcp(*b_).coverage());
  rep.digest = net_.digest();

  // ---- the invariants
  auto add = [&rep](std::string name, bool ok, std::string detail) {
    if (!ok && rep.failure.empty()) rep.failure = name + ": " + detail;
    rep.checks.push_back({std::move(name), ok, std::move(detail)});
  };
  if (!started) {
    add("setup", false, setup_error_);
  }
  {
    std::string what;
    std::size_t total = 0;
    for (const auto* side : {&server_, &client_}) {
      for (const Stream& s : *side) {
        total += s.received;
        if (!what.empty()) continue;
        if (!s.broken.empty()) what = fmt::format("{} of connection {}: {}", s.who, s.conn, s.broken);
        else if (s.received != s.to_send)
          what = fmt::format("{} of connection {} received {} of {} bytes", s.who, s.conn, s.received, s.to_send);
        else if (s.error) what = fmt::format("{} of connection {}: {}", s.who, s.conn, std::strerror(s.error));
      }
    }
    if (what.empty() && !first_error_.empty()) what = first_error_;
    add("bytes", what.empty(),
        what.empty() ? fmt::format("{} bytes in {} streams, each exactly once and in order", total, 2 * o_.conns) : what);
  }
  {
    const std::size_t ca = tcp(*a_).connections();
    const std::size_t cb = tcp(*b_).connections();
    add("closed", ca == 0 && cb == 0,
        ca == 0 && cb == 0 ? fmt::format("{} connections and the listener reached CLOSED on both hosts", o_.conns)
                           : fmt::format("connections left: server {}, client {}", ca, cb));
  }
  {
    std::string what;
    for (LibOS* l : {a_.get(), b_.get()}) {
      const char* who = l == a_.get() ? "server" : "client";
      const auto st = l->host().allocator().stats();
      if (st.live_blocks != 0) what = fmt::format("{}: {} application blocks still live", who, st.live_blocks);
      else if (l->host().sgas().live() != 0)
        what = fmt::format("{}: {} Sgas still live", who, l->host().sgas().live());
    }
    if (what.empty()) {
      if (net_.pool().in_use() != 0) what = fmt::format("network pool: {} buffers in use", net_.pool().in_use());
      else if (port_a_->tx_pool().in_use() != 0) what = fmt::format("server port: {} tx buffers in use", port_a_->tx_pool().in_use());
      else if (port_b_->tx_pool().in_use() != 0) what = fmt::format("client port: {} tx buffers in use", port_b_->tx_pool().in_use());
    }
    add("buffers", what.empty(), what.empty() ? "every application and packet buffer returned" : what);
  }
  {
    // A connection holds at most its send buffer plus one push taken into an empty queue, and
    // at most its receive buffer (what it advertised, rounded up by the window scale).
    const std::size_t conns = static_cast<std::size_t>(o_.conns);
    const std::size_t send_bound = conns * (kSendBuffer + kMaxPush);
    const std::size_t recv_bound = conns * (kReceiveBuffer + 1024);
    // Application buffers stay live while the send queue references them (zero copy): the
    // send buffer's worth, plus a push partly acknowledged, plus the one being pushed.
    const std::size_t app_bound = conns * (kSendBuffer + 3 * (kMaxPush + 64));
    std::string what;
    for (int h = 0; h < 2; ++h) {
      const char* who = h == 0 ? "server" : "client";
      if (peak_send_[h] > send_bound) what = fmt::format("{} held {} bytes to send (bound {})", who, peak_send_[h], send_bound);
      else if (peak_receive_[h] > recv_bound)
        what = fmt::format("{} held {} received bytes (bound {})", who, peak_receive_[h], recv_bound);
      else if (peak_app_bytes_[h] > app_bound)
        what = fmt::format("{} application memory {} bytes (bound {})", who, peak_app_bytes_[h], app_bound);
      if (!what.empty()) break;
    }
    add("memory", what.empty(),
        what.empty() ? fmt::format("peak send {}/{}, receive {}/{} bytes; network buffers {}/{}",
                                   std::max(peak_send_[0], peak_send_[1]), send_bound,
                                   std::max(peak_receive_[0], peak_receive_[1]), recv_bound, peak_pool_,
                                   net_.pool().capacity())
                     : what);
  }
  add("finished", !timed_out && started,
      timed_out ? fmt::format("still running after {} steps and {:.3f} ms of virtual time", steps_, rep.virtual_ms)
                : fmt::format("{:.3f} ms of virtual time, {} steps", rep.virtual_ms, steps_));
  if (rep.coverage.unlisted() != 0) add("transitions", false, fmt::format("{} unlisted transitions", rep.coverage.unlisted()));
  rep.ok = rep.failure.empty();
  int orders[3] = {0, 0, 0};
  for (CloseOrder o : orders_) ++orders[static_cast<int>(o)];
  rep.notes = fmt::format("close: {} {}, {} {}, {} {}", orders[0], order_name(CloseOrder::ClientFirst), orders[1],
                          order_name(CloseOrder::ServerFirst), orders[2], order_name(CloseOrder::Together));
  if (!profile_note_.empty()) rep.notes += "; " + profile_note_;
  return rep;
}

}  // namespace

std::string ExchangeReport::replay_command() const {
  std::string cmd = fmt::format("build/bin/demi-sim --seed {} --profile {} --bytes {} --conns {}", options.seed,
                                options.profile, options.bytes, options.conns);
  if (!options.congestion.empty()) cmd += " --cc " + options.congestion;
  return cmd;
}

std::string ExchangeReport::format() const {
  std::string out;
  out += fmt::format("demi-sim: seed {} profile {} bytes {} conns {} congestion {}\n", options.seed, options.profile,
                     options.bytes, options.conns, congestion);
  out += fmt::format("{}\n", notes);
  out += "\ninvariants:\n";
  for (const InvariantCheck& c : checks) out += fmt::format("  {:<9} {}  {}\n", c.name, c.ok ? "ok  " : "FAIL", c.detail);
  out += "\nlinks:\n";
  for (const auto& [name, l] : {std::pair{"a -> b", a_to_b}, std::pair{"b -> a", b_to_a}}) {
    out += fmt::format(
        "  {}: sent {} delivered {} lost {} queue-dropped {} partition-dropped {} duplicated {} reordered {} "
        "corrupted {}\n",
        name, l.sent, l.delivered, l.dropped_loss, l.dropped_queue, l.dropped_partition, l.duplicated, l.reordered,
        l.corrupted);
  }
  out += "\ncounters (server | client):\n";
  for (std::size_t i = 0; i < counters_a.size(); ++i) {
    const uint64_t b = net::counter_value(counters_b, counters_a[i].name);
    if (counters_a[i].value == 0 && b == 0) continue;
    out += fmt::format("  {:<36} {:>10} | {:<10}\n", counters_a[i].name, counters_a[i].value, b);
  }
  out += "\nTCP state transitions (both hosts):\n";
  out += coverage.report();
  out += fmt::format("\nvirtual time {:.3f} ms, {} steps, network digest {:016x}\n", virtual_ms, steps, digest);
  if (ok) {
    out += "result: ok\n";
  } else {
    out += fmt::format("result: FAIL ({})\nreplay: {}\n", failure, replay_command());
  }
  return out;
}

bool validate(const ExchangeOptions& o, std::string* why) {
  if (!runtime::sim::profile_by_name(o.profile)) {
    std::string names;
    for (std::string_view n : runtime::sim::profile_names()) names += fmt::format(" {}", n);
    if (why) *why = fmt::format("unknown profile '{}'; one of:{}", o.profile, names);
    return false;
  }
  if (o.conns < 1 || o.conns > 64) {
    if (why) *why = "conns must be 1 to 64";
    return false;
  }
  if (o.bytes > (std::size_t{1} << 30)) {
    if (why) *why = "bytes must be at most 1 GiB";
    return false;
  }
  if (!o.congestion.empty() && o.congestion != "newreno" && o.congestion != "cubic") {
    if (why) *why = "congestion must be newreno or cubic";
    return false;
  }
  return true;
}

ExchangeReport run_exchange(const ExchangeOptions& options) {
  Exchange e(options);
  return e.run();
}

}  // namespace demi::sim
