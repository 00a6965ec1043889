// A network module for testing the LibOS itself: queues are numbers, operations complete when
// the test says so (complete / fail), or by themselves after a virtual-time delay, on coroutines
// spawned on the host's scheduler like a real module's.
#pragma once

#include <demi/module.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "libos/module_host.h"
#include "sched/scheduler.h"

namespace demi::fakes {

class FakeNetwork final : public Module {
 public:
  struct Op {
    QToken qt = 0;
    QueueId queue = 0;
    Opcode opcode = Opcode::Invalid;
    Completion done;
    bool finished = false;
  };

  explicit FakeNetwork(std::string name = "fake", ModuleKind kind = ModuleKind::Network)
      : name_(std::move(name)), kind_(kind) {}

  std::string_view name() const override { return name_; }
  ModuleKind kind() const override { return kind_; }
  int attach(ModuleHost& host) override {
    ++attaches;
    if (attach_error) return attach_error;
    host_ = &host;
    return 0;
  }
  bool poll() override {
    ++polls;
    return false;
  }
  void flush() override { ++flushes; }

  Result<QueueId> socket(int, int, int) override {
    if (socket_error) return Error{socket_error};
    opened.push_back(next_queue_);
    return next_queue_++;
  }
  int bind(QueueId, const sockaddr*, socklen_t) override { return 0; }
  int listen(QueueId, int) override { return 0; }
  int accept(QueueId q, Completion done) override { return begin(q, Opcode::Accept, done); }
  int connect(QueueId q, const sockaddr*, socklen_t, Completion done) override {
    return begin(q, Opcode::Connect, done);
  }
  int push(QueueId q, const Sga& sga, Completion done) override {
    pushed_bytes += sga.length();
    return begin(q, Opcode::Push, done);
  }
  int pop(QueueId q, std::size_t, Completion done) override { return begin(q, Opcode::Pop, done); }

  // Pending operations on the queue complete with ECANCELED: at once, or (cancel_later) at the
  // scheduler's next run, as a module whose operations notice the close on their own coroutine.
  int close(QueueId q) override {
    closed.push_back(q);
    for (Op& op : ops_) {
      if (op.queue != q || op.finished) continue;
      if (cancel_later) host_->scheduler().spawn(finish_soon(op.qt, ECANCELED));
      else finish(op, ECANCELED);
    }
    return 0;
  }

  // ---- driven by the test
  // Completes the oldest unfinished operation (of any queue) successfully, or with `err`.
  bool complete_oldest(int err = 0) {
    for (Op& op : ops_) {
      if (!op.finished) {
        finish(op, err);
        return true;
      }
    }
    return false;
  }
  bool complete(QToken qt, int err = 0) {
    Op* op = find(qt);
    if (!op || op->finished) return false;
    finish(*op, err);
    return true;
  }
  std::size_t unfinished() const {
    std::size_t n = 0;
    for (const Op& op : ops_) n += op.finished ? 0 : 1;
    return n;
  }

  // ---- knobs
  std::optional<sched::Duration> delay;  // set: operations complete by themselves this much later
  bool complete_inline = false;          // operations complete inside the call that starts them
  bool cancel_later = true;
  int attach_error = 0;
  int socket_error = 0;
  int start_error = 0;   // operations refuse to start with this errno
  int finish_error = 0;  // operations that complete by themselves fail with this errno
  std::size_t pop_bytes = 24;
  sockaddr_in peer = {};

  // ---- what happened
  int attaches = 0;
  int polls = 0;
  int flushes = 0;
  std::size_t pushed_bytes = 0;
  std::vector<QueueId> opened;
  std::vector<QueueId> closed;

 private:
  int begin(QueueId q, Opcode opcode, Completion done) {
    if (start_error) return start_error;
    ops_.push_back(Op{done.qtoken(), q, opcode, done, false});
    if (complete_inline) finish(ops_.back(), finish_error);
    else if (delay) host_->scheduler().spawn(finish_after(*delay, done.qtoken()));
    return 0;
  }

  Op* find(QToken qt) {
    for (Op& op : ops_)
      if (op.qt == qt) return &op;
    return nullptr;
  }

  sched::Task finish_after(sched::Duration d, QToken qt) {
    co_await host_->scheduler().sleep_for(d);
    if (Op* op = find(qt); op && !op->finished) finish(*op, finish_error);
  }

  sched::Task finish_soon(QToken qt, int err) {
    if (Op* op = find(qt); op && !op->finished) finish(*op, err);
    co_return;
  }

  void finish(Op& op, int err) {
    op.finished = true;
    Completion done = op.done;  // `op` may move if a completion starts another operation
    if (err) {
      done.fail(err);
      return;
    }
    switch (op.opcode) {
      case Opcode::Push: done.push_done(0); break;
      case Opcode::Connect: done.connect_done(0); break;
      case Opcode::Accept: {
        opened.push_back(next_queue_);
        done.accept_done(next_queue_++, peer);
        break;
      }
      case Opcode::Pop: {
        const std::size_t sizes[1] = {pop_bytes};
        auto sga = host_->sgas().allocate(host_->allocator(), sizes);
        if (!sga) {
          done.fail(sga.error());
          break;
        }
        std::memset(sga->segs[0].buf, 'p', pop_bytes);
        done.pop_done(*sga);
        break;
      }
      default: done.fail(EIO); break;
    }
  }

  std::string name_;
  ModuleKind kind_;
  ModuleHost* host_ = nullptr;
  QueueId next_queue_ = 100;  // far from the qds the LibOS hands out, so a mix-up shows
  std::vector<Op> ops_;
};

}  // namespace demi::fakes
