// demi::LibOS: argument checks, then a forward to the module that owns the queue.
#include <demi/libos.h>

#include <cerrno>

#include "base/log.h"
#include "libos/module_host.h"

namespace demi {

namespace {
bool bad_addr(const sockaddr* addr, socklen_t len) { return addr == nullptr || len < sizeof(sockaddr_in); }
}  // namespace

LibOS::LibOS(LibOSOptions options) : host_(std::make_unique<ModuleHost>(std::move(options))) {}
LibOS::~LibOS() {
  // Closed connections still finish (data, FIN), within the modules' linger, before anything goes.
  host_->shutdown();
}

int LibOS::install(std::unique_ptr<Module> module) { return host_->install(std::move(module)); }
Module* LibOS::module(std::string_view name) const { return host_->module(name); }
const Config& LibOS::config() const { return host_->config(); }
ModuleHost& LibOS::host() { return *host_; }

Result<QDesc> LibOS::socket(int domain, int type, int protocol, std::string_view name) {
  Module* m = name.empty() ? host_->default_network() : host_->module(name);
  if (!m) {
    DEMI_ERROR("libos", "socket: no network module{}{} installed", name.empty() ? "" : " named ", name);
    return Error{name.empty() ? ENETDOWN : ENOENT};
  }
  if (m->kind() != ModuleKind::Network) {
    DEMI_ERROR("libos", "socket: module '{}' is not a network module", m->name());
    return Error{EINVAL};
  }
  auto q = m->socket(domain, type, protocol);
  if (!q) return Error{q.error()};
  QDesc qd = host_->descriptors().add(m, *q);
  if (qd < 0) {
    m->close(*q);
    DEMI_ERROR("libos", "socket: descriptor table full (libos.max_queues)");
    return Error{ENFILE};
  }
  return qd;
}

int LibOS::bind(QDesc qd, const sockaddr* addr, socklen_t len) {
  auto* d = host_->descriptor(qd, "bind");
  if (!d) return EBADF;
  if (bad_addr(addr, len)) return ++host_->counters().bad_argument, EINVAL;
  return d->module->bind(d->queue, addr, len);
}

int LibOS::listen(QDesc qd, int backlog) {
  auto* d = host_->descriptor(qd, "listen");
  if (!d) return EBADF;
  if (backlog < 0) return ++host_->counters().bad_argument, EINVAL;
  return d->module->listen(d->queue, backlog);
}

Result<QToken> LibOS::accept(QDesc qd) {
  return host_->start(qd, Opcode::Accept, "accept",
                      [](libos::Descriptor& d, Completion c) { return d.module->accept(d.queue, c); });
}

Result<QToken> LibOS::connect(QDesc qd, const sockaddr* addr, socklen_t len) {
  if (bad_addr(addr, len)) return ++host_->counters().bad_argument, Error{EINVAL};
  return host_->start(qd, Opcode::Connect, "connect",
                      [&](libos::Descriptor& d, Completion c) { return d.module->connect(d.queue, addr, len, c); });
}

int LibOS::getsockname(QDesc qd, sockaddr* addr, socklen_t* len) {
  auto* d = host_->descriptor(qd, "getsockname");
  if (!d) return EBADF;
  if (!addr || !len) return ++host_->counters().bad_argument, EINVAL;
  return d->module->getsockname(d->queue, addr, len);
}

int LibOS::getpeername(QDesc qd, sockaddr* addr, socklen_t* len) {
  auto* d = host_->descriptor(qd, "getpeername");
  if (!d) return EBADF;
  if (!addr || !len) return ++host_->counters().bad_argument, EINVAL;
  return d->module->getpeername(d->queue, addr, len);
}

int LibOS::setsockopt(QDesc qd, int level, int optname, const void* val, socklen_t len) {
  auto* d = host_->descriptor(qd, "setsockopt");
  if (!d) return EBADF;
  if (!val && len > 0) return ++host_->counters().bad_argument, EINVAL;
  return d->module->setsockopt(d->queue, level, optname, val, len);
}

int LibOS::getsockopt(QDesc qd, int level, int optname, void* val, socklen_t* len) {
  auto* d = host_->descriptor(qd, "getsockopt");
  if (!d) return EBADF;
  if (!val || !len) return ++host_->counters().bad_argument, EINVAL;
  return d->module->getsockopt(d->queue, level, optname, val, len);
}

Result<QToken> LibOS::pushto(QDesc qd, const Sga& sga, const sockaddr* addr, socklen_t len) {
  if (bad_addr(addr, len)) return ++host_->counters().bad_argument, Error{EINVAL};
  if (mem::SgaTable::validate(sga)) return ++host_->counters().bad_sga, Error{EINVAL};
  return host_->start(qd, Opcode::Push, "pushto", [&](libos::Descriptor& d, Completion c) {
    return d.module->pushto(d.queue, sga, addr, len, c);
  });
}

Result<QDesc> LibOS::open(const char* path, int flags, mode_t mode) {
  if (!path) return ++host_->counters().bad_argument, Error{EINVAL};
  Module* m = host_->default_storage();
  if (!m) {
    DEMI_ERROR("libos", "open: no storage module installed");
    return Error{ENOTSUP};
  }
  auto q = m->open(path, flags, mode);
  if (!q) return Error{q.error()};
  QDesc qd = host_->descriptors().add(m, *q);
  if (qd < 0) {
    m->close(*q);
    return Error{ENFILE};
  }
  return qd;
}

Result<off_t> LibOS::lseek(QDesc qd, off_t offset, int whence) {
  auto* d = host_->descriptor(qd, "lseek");
  if (!d) return Error{EBADF};
  return d->module->lseek(d->queue, offset, whence);
}

Result<QToken> LibOS::push(QDesc qd, const Sga& sga) {
  if (mem::SgaTable::validate(sga) || sga.length() == 0) {
    ++host_->counters().bad_sga;
    DEMI_DEBUG("libos", "push: bad sga (numsegs {}, length {})", sga.numsegs, sga.length());
    return Error{EINVAL};
  }
  return host_->start(qd, Opcode::Push, "push",
                      [&](libos::Descriptor& d, Completion c) { return d.module->push(d.queue, sga, c); });
}

Result<QToken> LibOS::pop(QDesc qd, std::size_t max_len) {
  return host_->start(qd, Opcode::Pop, "pop",
                      [&](libos::Descriptor& d, Completion c) { return d.module->pop(d.queue, max_len, c); });
}

int LibOS::close(QDesc qd) {
  auto* d = host_->descriptor(qd, "close");
  if (!d) return EBADF;
  Module* m = d->module;
  QueueId q = d->queue;
  host_->descriptors().close(qd);  // first: completions that close() triggers see it closed
  return m->close(q);
}

bool LibOS::is_qd_valid(QDesc qd) const { return host_->descriptors().get(qd) != nullptr; }

int LibOS::wait(QToken qt, QResult* out, Timeout timeout) {
  return host_->wait_any(std::span<const QToken>(&qt, 1), out, nullptr, timeout);
}
int LibOS::wait_any(std::span<const QToken> qts, QResult* out, std::size_t* index, Timeout timeout) {
  return host_->wait_any(qts, out, index, timeout);
}
int LibOS::wait_all(std::span<const QToken> qts, std::span<QResult> out, Timeout timeout) {
  return host_->wait_all(qts, out, timeout);
}
int LibOS::drop(QToken qt) { return host_->drop(qt); }

Result<Sga> LibOS::sgaalloc(std::size_t size) {
  std::size_t sizes[1] = {size};
  return sgaalloc(std::span<const std::size_t>(sizes));
}

Result<Sga> LibOS::sgaalloc(std::span<const std::size_t> segment_sizes) {
  auto r = host_->sgas().allocate(host_->allocator(), segment_sizes);
  if (!r) {
    if (r.error() == ENOMEM)
      DEMI_WARN("libos", "sgaalloc: {} allocator is out of memory", host_->allocator().name());
    else
      ++host_->counters().bad_argument;
  }
  return r;
}

int LibOS::sgafree(const Sga& sga) {
  int rc = host_->sgas().free(sga);
  if (rc) {
    ++host_->counters().bad_sga;
    DEMI_DEBUG("libos", "sgafree: not a live sga (double free or foreign pointer)");
  }
  return rc;
}

bool LibOS::poll_once() { return host_->poll(); }

}  // namespace demi
