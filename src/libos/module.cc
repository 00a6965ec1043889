// Module's default answers (ENOTSUP) and Completion, which forwards to the host.
#include <demi/module.h>

#include <cerrno>

#include "libos/module_host.h"

namespace demi {

Result<QueueId> Module::socket(int, int, int) { return Error{ENOTSUP}; }
int Module::bind(QueueId, const sockaddr*, socklen_t) { return ENOTSUP; }
int Module::listen(QueueId, int) { return ENOTSUP; }
int Module::accept(QueueId, Completion) { return ENOTSUP; }
int Module::connect(QueueId, const sockaddr*, socklen_t, Completion) { return ENOTSUP; }
int Module::getsockname(QueueId, sockaddr*, socklen_t*) { return ENOTSUP; }
int Module::getpeername(QueueId, sockaddr*, socklen_t*) { return ENOTSUP; }
int Module::setsockopt(QueueId, int, int, const void*, socklen_t) { return ENOTSUP; }
int Module::getsockopt(QueueId, int, int, void*, socklen_t*) { return ENOTSUP; }
int Module::pushto(QueueId, const Sga&, const sockaddr*, socklen_t, Completion) { return ENOTSUP; }
Result<QueueId> Module::open(const char*, int, mode_t) { return Error{ENOTSUP}; }
Result<off_t> Module::lseek(QueueId, off_t, int) { return Error{ENOTSUP}; }

void Completion::push_done(int ret) { host_->complete(qt_, Opcode::Push, ret, nullptr); }
void Completion::pop_done(const Sga& sga) { host_->complete(qt_, Opcode::Pop, 0, &sga); }
void Completion::accept_done(QueueId queue, const sockaddr_in& peer) { host_->complete_accept(qt_, queue, peer); }
void Completion::connect_done(int ret) { host_->complete(qt_, Opcode::Connect, ret, nullptr); }
void Completion::fail(int err) { host_->complete(qt_, Opcode::Failed, err, nullptr); }

const char* opcode_name(Opcode op) {
  switch (op) {
    case Opcode::Invalid: return "invalid";
    case Opcode::Push: return "push";
    case Opcode::Pop: return "pop";
    case Opcode::Accept: return "accept";
    case Opcode::Connect: return "connect";
    case Opcode::Close: return "close";
    case Opcode::Failed: return "failed";
  }
  return "?";
}

}  // namespace demi
