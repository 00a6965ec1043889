// A TCP echo server and a checking TCP echo client written against the queue API only, each a
// small state machine that a test steps in turn with the simulated network (they never block:
// every wait has a zero timeout). The client sends random bytes in pushes of random sizes over
// several connections at once and checks that every byte comes back once, in order.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <demi/libos.h>

namespace demi::lwip::test {

inline sockaddr_in addr(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}
inline const sockaddr* sa(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

inline std::string text_of(const Sga& sga) {
  std::string s;
  for (uint32_t i = 0; i < sga.numsegs; ++i) s.append(static_cast<const char*>(sga.segs[i].buf), sga.segs[i].len);
  return s;
}

inline Sga sga_of(LibOS& l, const std::string& text) {
  auto sga = l.sgaalloc(text.size());
  EXPECT_TRUE(sga.ok());
  std::memcpy(sga->segs[0].buf, text.data(), text.size());
  return *sga;
}

// Completes at most one of `ops`' tokens without waiting: the index and result, or -1.
template <typename Op>
int poll_one(LibOS& l, std::vector<Op>& ops, QResult* r) {
  if (ops.empty()) return -1;
  std::vector<QToken> qts;
  qts.reserve(ops.size());
  for (const Op& op : ops) qts.push_back(op.qt);
  *r = QResult{};
  std::size_t index = 0;
  l.wait_any(qts, r, &index, std::chrono::nanoseconds{0});
  if (r->qt == 0) return -1;  // nothing completed
  return static_cast<int>(index);
}

class TcpEchoServer {
 public:
  TcpEchoServer(LibOS& l, const char* ip, uint16_t port, int backlog = 64) : l_(l) {
    auto qd = l_.socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_TRUE(qd.ok());
    listener_ = *qd;
    sockaddr_in a = addr(ip, port);
    EXPECT_EQ(l_.bind(listener_, sa(a), sizeof a), 0);
    EXPECT_EQ(l_.listen(listener_, backlog), 0);
    arm(Kind::Accept, listener_);
  }

  // Handles every operation that has completed.
  bool step() {
    bool any = false;
    QResult r;
    for (int i; (i = poll_one(l_, ops_, &r)) >= 0;) {
      any = true;
      Op op = ops_[static_cast<std::size_t>(i)];
      ops_.erase(ops_.begin() + i);
      handle(op, r);
    }
    return any;
  }
  std::size_t accepted() const { return accepted_; }
  std::size_t closed() const { return closed_; }
  std::size_t errors() const { return errors_; }

 private:
  enum class Kind { Accept, Pop, Push };
  struct Op {
    QToken qt;
    Kind kind;
    QDesc qd;
    Sga sga;
  };
  void arm(Kind k, QDesc qd, const Sga& sga = {}) {
    Result<QToken> qt = k == Kind::Accept ? l_.accept(qd) : k == Kind::Pop ? l_.pop(qd) : l_.push(qd, sga);
    ASSERT_TRUE(qt.ok()) << "server: cannot start an operation: " << std::strerror(qt.error());
    ops_.push_back(Op{*qt, k, qd, sga});
    if (k == Kind::Push) ++conns_[qd].pushes;
  }
  void maybe_close(QDesc qd) {
    auto& c = conns_[qd];
    if (c.eof && c.pushes == 0) {
      EXPECT_EQ(l_.close(qd), 0);
      conns_.erase(qd);
      ++closed_;
    }
  }
  void handle(const Op& op, const QResult& r) {
    switch (op.kind) {
      case Kind::Accept:
        if (r.opcode != Opcode::Accept) return;  // the listener closed
        ++accepted_;
        conns_[r.accept.qd] = Conn{};
        arm(Kind::Pop, r.accept.qd);
        arm(Kind::Accept, listener_);
        return;
      case Kind::Pop:
        if (r.opcode != Opcode::Pop) {
          ++errors_;
          conns_[op.qd].eof = true;
        } else if (r.sga.length() == 0) {
          EXPECT_EQ(l_.sgafree(r.sga), 0);
          conns_[op.qd].eof = true;
        } else {
          arm(Kind::Push, op.qd, r.sga);  // the popped buffers go back out as they are
          arm(Kind::Pop, op.qd);
          return;
        }
        maybe_close(op.qd);
        return;
      case Kind::Push:
        if (r.opcode != Opcode::Push) ++errors_;
        EXPECT_EQ(l_.sgafree(op.sga), 0);
        --conns_[op.qd].pushes;
        maybe_close(op.qd);
        return;
    }
  }
  struct Conn {
    bool eof = false;
    int pushes = 0;
  };
  LibOS& l_;
  QDesc listener_ = -1;
  std::vector<Op> ops_;
  std::map<QDesc, Conn> conns_;
  std::size_t accepted_ = 0;
  std::size_t closed_ = 0;
  std::size_t errors_ = 0;
};

class TcpEchoClient {
 public:
  // `conns` connections to ip:port, each sending `bytes` bytes in pushes of 1..max_push bytes.
  TcpEchoClient(LibOS& l, const char* ip, uint16_t port, std::size_t conns, std::size_t bytes, std::size_t max_push,
                uint64_t seed)
      : l_(l), rng_(seed) {
    sockaddr_in to = addr(ip, port);
    for (std::size_t i = 0; i < conns; ++i) {
      auto qd = l_.socket(AF_INET, SOCK_STREAM, 0);
      EXPECT_TRUE(qd.ok());
      Conn c;
      c.qd = *qd;
      c.data.resize(bytes);
      for (char& ch : c.data) ch = static_cast<char>(rng_() & 0xff);
      std::size_t at = 0;
      while (at < bytes) {
        std::size_t n = std::uniform_int_distribution<std::size_t>(1, max_push)(rng_);
        n = std::min(n, bytes - at);
        c.pushes.push_back(n);
        at += n;
      }
      conns_.push_back(std::move(c));
      auto qt = l_.connect(*qd, sa(to), sizeof to);
      EXPECT_TRUE(qt.ok());
      ops_.push_back(Op{*qt, Kind::Connect, i, {}});
    }
  }

  bool step() {
    bool any = false;
    QResult r;
    for (int i; (i = poll_one(l_, ops_, &r)) >= 0;) {
      any = true;
      Op op = ops_[static_cast<std::size_t>(i)];
      ops_.erase(ops_.begin() + i);
      handle(op, r);
    }
    return any;
  }
  bool done() const { return finished_ == conns_.size() || !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  std::size_t finished() const { return finished_; }

 private:
  enum class Kind { Connect, Push, Pop };
  struct Op {
    QToken qt;
    Kind kind;
    std::size_t conn;
    Sga sga;
  };
  struct Conn {
    QDesc qd = -1;
    std::string data;
    std::vector<std::size_t> pushes;
    std::size_t received = 0;
  };
  void fail(const std::string& why) {
    if (failure_.empty()) failure_ = why;
  }
  void handle(const Op& op, const QResult& r) {
    Conn& c = conns_[op.conn];
    switch (op.kind) {
      case Kind::Connect: {
        if (r.opcode != Opcode::Connect) return fail("connect failed: " + std::string(std::strerror(r.ret)));
        std::size_t at = 0;
        for (std::size_t n : c.pushes) {
          Sga sga = sga_of(l_, c.data.substr(at, n));
          at += n;
          auto qt = l_.push(c.qd, sga);
          if (!qt) return fail("push did not start");
          ops_.push_back(Op{*qt, Kind::Push, op.conn, sga});
        }
        return pop(op.conn);
      }
      case Kind::Push:
        EXPECT_EQ(l_.sgafree(op.sga), 0);
        if (r.opcode != Opcode::Push) fail("push failed: " + std::string(std::strerror(r.ret)));
        return;
      case Kind::Pop: {
        if (r.opcode != Opcode::Pop) return fail("pop failed: " + std::string(std::strerror(r.ret)));
        const std::string got = text_of(r.sga);
        EXPECT_EQ(l_.sgafree(r.sga), 0);
        if (got.empty()) return fail("the server closed early, after " + std::to_string(c.received) + " bytes");
        if (c.received + got.size() > c.data.size()) return fail("more bytes came back than were sent");
        if (got != c.data.substr(c.received, got.size()))
          return fail("wrong bytes at offset " + std::to_string(c.received) + " of connection " + std::to_string(op.conn));
        c.received += got.size();
        if (c.received == c.data.size()) {
          EXPECT_EQ(l_.close(c.qd), 0);
          ++finished_;
          return;
        }
        return pop(op.conn);
      }
    }
  }
  void pop(std::size_t conn) {
    auto qt = l_.pop(conns_[conn].qd);
    if (!qt) return fail("pop did not start");
    ops_.push_back(Op{*qt, Kind::Pop, conn, {}});
  }

  LibOS& l_;
  std::mt19937_64 rng_;
  std::vector<Conn> conns_;
  std::vector<Op> ops_;
  std::size_t finished_ = 0;
  std::string failure_;
};

}  // namespace demi::lwip::test
