// The rdma module's operations: one coroutine each on the LibOS scheduler. Each checks `closed`
// first and after every wait (then completes with ECANCELED), and completes exactly once.
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "libos/module_host.h"
#include "modules/rdma/rdma_module.h"

namespace demi::rdma {

namespace {
constexpr const char* kLog = "rdma";

void cancel(Completion& done, const char* call, QueueId q) {
  DEMI_DEBUG(kLog, "{}: queue {} was closed; the pending {} is cancelled", call, q, call);
  done.fail(ECANCELED);
}
}  // namespace

sched::Task RdmaModule::accept_op(EndpointRef ref, Completion done) {
  Endpoint& ep = *ref;
  for (;;) {
    if (ep.closed) co_return cancel(done, "accept", ep.id);
    if (!ep.backlog.empty()) {
      QueueId q = ep.backlog.front();
      ep.backlog.pop_front();
      Endpoint& child = *slots_[q];
      child.listener = nullptr;
      sockaddr_in peer{};
      std::memcpy(&peer, rdma_get_peer_addr(child.cm), sizeof peer);
      done.accept_done(q, peer);
      co_return;
    }
    if (ep.state == State::Failed) co_return done.fail(ep.error);
    co_await ep.changed.wait();
  }
}

sched::Task RdmaModule::connect_op(EndpointRef ref, Completion done) {
  Endpoint& ep = *ref;
  for (;;) {
    if (ep.closed) co_return cancel(done, "connect", ep.id);
    if (ep.state == State::Established) co_return done.connect_done(0);
    if (ep.state == State::Failed) co_return done.connect_done(ep.error);
    co_await ep.changed.wait();
  }
}

sched::Task RdmaModule::push_op(EndpointRef ref, PushRequest req, Completion done) {
  Endpoint& ep = *ref;
  if (ep.closed) co_return cancel(done, "push", ep.id);
  if (ep.state != State::Established) co_return done.fail(ep.error ? ep.error : ENOTCONN);
  ep.txq.push_back(&req);
  try_send(ep);
  for (;;) {
    if (req.finished) {
      if (req.result == ECANCELED && ep.closed) co_return cancel(done, "push", ep.id);
      co_return done.push_done(req.result);
    }
    co_await ep.changed.wait();
  }
}

sched::Task RdmaModule::pop_op(EndpointRef ref, Completion done) {
  Endpoint& ep = *ref;
  for (;;) {
    if (ep.closed) co_return cancel(done, "pop", ep.id);
    if (ep.rx_messages > 0) {
      if (int err = deliver(ep, done)) co_return done.fail(err);
      co_return;
    }
    if (ep.state == State::Failed) co_return done.fail(ep.error);
    co_await ep.changed.wait();
  }
}

}  // namespace demi::rdma
