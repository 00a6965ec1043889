#include "modules/storage/storage_module.h"

#include <demi/storage.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "libos/module_host.h"

namespace demi {

std::unique_ptr<Module> make_storage_module() { return std::make_unique<storage::StorageModule>(); }

namespace storage {

struct StorageModule::File {
  explicit File(sched::Scheduler& s) : turn(s) {}
  int fd = -1;
  off_t offset = 0;
  bool append = false;
  bool direct = false;
  bool closed = false;
  uint32_t inflight = 0;
  uint64_t issued = 0;     // sequence number of the next operation
  uint64_t completed = 0;  // operations already handed back, in order
  sched::WaitQueue turn;   // finished operations waiting for their turn to complete
};

// One submission in flight: lives in the operation's coroutine frame.
struct StorageModule::Request {
  std::coroutine_handle<> handle;
  int result = 0;
};

namespace {

// co_await: suspends until poll() reaps the request's completion; yields the CQE's result.
struct Submitted {
  StorageModule::Request& req;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept { req.handle = h; }
  int await_resume() const noexcept { return req.result; }
};

}  // namespace

StorageModule::~StorageModule() {
  for (auto& f : files_)
    if (f && f->fd >= 0) ::close(f->fd);
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (event_fd_ >= 0) ::close(event_fd_);
}

int StorageModule::attach(ModuleHost& host) {
  host_ = &host;
  const Config& c = host.config();
  read_size_ = static_cast<std::size_t>(c.get_int("storage.read_size"));
  durable_ = c.get_bool("storage.durable");
  direct_alignment_ = static_cast<std::size_t>(c.get_int("storage.direct_alignment"));
  auto depth = static_cast<unsigned>(c.get_int("storage.queue_depth"));
  if (int rc = io_uring_queue_init(depth, &ring_, 0); rc < 0) {
    DEMI_ERROR("storage", "io_uring_queue_init({}) failed: {} (is io_uring disabled by the kernel?)", depth,
               std::strerror(-rc));
    return -rc;
  }
  ring_ready_ = true;
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0 || io_uring_register_eventfd(&ring_, event_fd_) < 0) {
    // Without it the LibOS busy-polls this module; everything else works.
    DEMI_WARN("storage", "no eventfd for io_uring completions: wait() will spin");
    if (event_fd_ >= 0) ::close(event_fd_);
    event_fd_ = -1;
  }
  return 0;
}

bool StorageModule::poll() {
  // Nothing submitted and nothing to submit: no system call. This runs on every pass of the
  // LibOS loop, beside the network's poll, so an idle storage module must cost nothing.
  if (outstanding_ == 0 && !need_submit_) return false;
  bool progress = submit();
  // The eventfd is drained before the completion queue is read, so a completion posted after
  // this point leaves it readable and the LibOS's idle wait does not sleep through it.
  drain_eventfd();
  io_uring_cqe* cqe;
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
    auto* req = reinterpret_cast<Request*>(io_uring_cqe_get_data(cqe));
    req->result = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    --outstanding_;
    host_->scheduler().make_ready(req->handle);
    progress = true;
  }
  // Nothing outstanding any more: no completion can follow, so a count left by one reaped above
  // is cleared now (it would otherwise wake an idle wait forever, with this poll doing nothing).
  if (outstanding_ == 0) drain_eventfd();
  return progress;
}

bool StorageModule::submit() {
  if (!need_submit_) return false;
  const int rc = io_uring_submit(&ring_);
  // The kernel may take only some of the entries (it ran short of request memory): what is
  // left stays queued and goes at the next pass, or the operations waiting on it never finish.
  need_submit_ = io_uring_sq_ready(&ring_) > 0;
  if (rc < 0) {
    DEMI_ERROR("storage", "io_uring_submit: {}", std::strerror(-rc));
    return false;  // not progress: the next pass tries again
  }
  return rc > 0;
}

void StorageModule::flush() { submit(); }

void StorageModule::drain_eventfd() {
  if (event_fd_ < 0) return;
  uint64_t n;
  (void)!::read(event_fd_, &n, sizeof n);
}

namespace {
constexpr std::size_t kFixedChunk = std::size_t{1} << 30;  // io_uring's limit per fixed buffer
}

int StorageModule::fixed_buffer(const void* p, std::size_t len) {
  if (!fixed_tried_) {
    fixed_tried_ = true;
    std::span<std::byte> r = host_->allocator().region();
    if (!r.empty()) {
      std::vector<iovec> iov;
      for (std::size_t off = 0; off < r.size(); off += kFixedChunk)
        iov.push_back(iovec{r.data() + off, std::min(kFixedChunk, r.size() - off)});
      int rc = io_uring_register_buffers(&ring_, iov.data(), static_cast<unsigned>(iov.size()));
      if (rc < 0) {
        // Typically RLIMIT_MEMLOCK for an unprivileged user: ordinary reads and writes work too.
        DEMI_WARN("storage", "cannot register the {} MiB application region with io_uring ({}): every read and "
                  "write pins its pages instead", r.size() >> 20, std::strerror(-rc));
      } else {
        fixed_base_ = r.data();
        fixed_size_ = r.size();
        DEMI_INFO("storage", "the {} MiB application region is registered with io_uring ({} fixed buffer(s))",
                  r.size() >> 20, iov.size());
      }
    }
  }
  auto* b = static_cast<const std::byte*>(p);
  if (!fixed_base_ || b < fixed_base_ || b + len > fixed_base_ + fixed_size_) return -1;
  auto first = static_cast<std::size_t>(b - fixed_base_) / kFixedChunk;
  auto last = (static_cast<std::size_t>(b - fixed_base_) + len - 1) / kFixedChunk;
  return first == last ? static_cast<int>(first) : -1;  // one read or write uses one buffer
}

io_uring_sqe* StorageModule::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (!s) {
    // The submission ring is full of entries not yet handed to the kernel: hand them now.
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  if (s) ++outstanding_;
  need_submit_ = true;
  return s;
}

StorageModule::File* StorageModule::file(QueueId q, const char* call) {
  if (q >= files_.size() || !files_[q] || files_[q]->closed) {
    DEMI_DEBUG("storage", "{}: queue {} is not an open file", call, q);
    return nullptr;
  }
  return files_[q].get();
}

Result<QueueId> StorageModule::open(const char* path, int flags, mode_t mode) {
  int fd = ::open(path, flags | O_CLOEXEC, mode);
  if (fd < 0) {
    int err = errno;
    DEMI_ERROR("storage", "open '{}': {}", path, std::strerror(err));
    return Error{err};
  }
  struct stat st{};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    DEMI_ERROR("storage", "open '{}': is a directory", path);
    return Error{EISDIR};
  }
  auto f = std::make_unique<File>(host_->scheduler());
  f->fd = fd;
  f->append = flags & O_APPEND;
  f->direct = flags & O_DIRECT;
  QueueId q;
  if (!free_.empty()) {
    q = free_.back();
    free_.pop_back();
    files_[q] = std::move(f);
  } else {
    q = static_cast<QueueId>(files_.size());
    files_.push_back(std::move(f));
  }
  return q;
}

Result<off_t> StorageModule::lseek(QueueId q, off_t offset, int whence) {
  File* f = file(q, "lseek");
  if (!f) return Error{EBADF};
  off_t base;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = f->offset; break;
    case SEEK_END: {
      struct stat st{};
      if (::fstat(f->fd, &st) != 0) return Error{errno};
      base = st.st_size;
      break;
    }
    default: return Error{EINVAL};
  }
  if (offset < 0 && base < -offset) return Error{EINVAL};
  f->offset = base + offset;
  return f->offset;
}

int StorageModule::check_direct(const File& f, const Sga& sga, off_t offset) const {
  if (!f.direct) return 0;
  auto a = direct_alignment_;
  if (offset >= 0 && static_cast<std::size_t>(offset) % a != 0) return EINVAL;
  for (uint32_t i = 0; i < sga.numsegs; ++i)
    if (reinterpret_cast<uintptr_t>(sga.segs[i].buf) % a != 0 || sga.segs[i].len % a != 0) return EINVAL;
  return 0;
}

int StorageModule::push(QueueId q, const Sga& sga, Completion done) {
  File* f = file(q, "push");
  if (!f) return EBADF;
  off_t offset = f->append ? -1 : f->offset;  // -1: the kernel appends (O_APPEND)
  if (int rc = check_direct(*f, sga, offset)) {
    DEMI_ERROR("storage", "push: O_DIRECT needs buffers, lengths and offsets aligned to {} bytes", direct_alignment_);
    return rc;
  }
  if (!f->append) f->offset += static_cast<off_t>(sga.length());
  // Counted now, not when the coroutine first runs: a close() in between must not free the file.
  ++f->inflight;
  host_->scheduler().spawn(push_op(*f, sga, offset, f->issued++, done));
  return 0;
}

int StorageModule::pop(QueueId q, std::size_t max_len, Completion done) {
  File* f = file(q, "pop");
  if (!f) return EBADF;
  std::size_t len = max_len ? max_len : read_size_;
  off_t offset = f->offset;
  if (f->direct && (len % direct_alignment_ || static_cast<std::size_t>(offset) % direct_alignment_)) {
    DEMI_ERROR("storage", "pop: O_DIRECT needs lengths and offsets aligned to {} bytes", direct_alignment_);
    return EINVAL;
  }
  f->offset += static_cast<off_t>(len);
  ++f->inflight;  // see push()
  host_->scheduler().spawn(pop_op(*f, len, offset, f->issued++, done));
  return 0;
}

sched::Task StorageModule::push_op(File& f, Sga sga, off_t offset, uint64_t seq, Completion done) {
  // Hold the application's blocks while the kernel reads them (freeing early stays safe).
  std::array<mem::BufRef, kSgaMaxSegments> hold;
  if (const auto* segs = host_->sgas().segments(sga))
    for (std::size_t i = 0; i < segs->size(); ++i) hold[i] = (*segs)[i];
  std::array<iovec, kSgaMaxSegments> iov{};
  uint32_t n = sga.numsegs;
  for (uint32_t i = 0; i < n; ++i) iov[i] = iovec{sga.segs[i].buf, sga.segs[i].len};
  std::size_t left = sga.length();
  int err = 0;
  uint32_t first = 0;
  while (left > 0 && !err) {
    Request req;
    io_uring_sqe* s = sqe();
    if (!s) {
      err = EAGAIN;
      break;
    }
    int fixed = n - first == 1 && iov[first].iov_len <= UINT32_MAX
                    ? fixed_buffer(iov[first].iov_base, iov[first].iov_len)
                    : -1;
    if (fixed >= 0) {
      io_uring_prep_write_fixed(s, f.fd, iov[first].iov_base, static_cast<unsigned>(iov[first].iov_len),
                                static_cast<uint64_t>(offset), fixed);
      s->rw_flags = durable_ ? RWF_DSYNC : 0;
      ++fixed_ops_;
    } else {
      io_uring_prep_writev2(s, f.fd, &iov[first], n - first, static_cast<uint64_t>(offset), durable_ ? RWF_DSYNC : 0);
    }
    io_uring_sqe_set_data(s, &req);
    int res = co_await Submitted{req};
    if (res < 0) {
      err = -res;
      break;
    }
    if (res == 0) {
      err = EIO;
      break;
    }
    // A short write (rare for files): continue with what is left.
    auto wrote = static_cast<std::size_t>(res);
    left -= wrote;
    if (offset >= 0) offset += res;
    while (wrote > 0 && first < n) {
      if (wrote >= iov[first].iov_len) {
        wrote -= iov[first].iov_len;
        ++first;
      } else {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + wrote;
        iov[first].iov_len -= wrote;
        wrote = 0;
      }
    }
  }
  while (f.completed != seq) co_await f.turn.wait();
  ++f.completed;
  f.turn.notify_all();
  if (f.closed) err = ECANCELED;
  if (err) {
    DEMI_DEBUG("storage", "push failed: {}", std::strerror(err));
    done.fail(err);
  } else {
    done.push_done(0);
  }
  release(f);
}

sched::Task StorageModule::pop_op(File& f, std::size_t len, off_t offset, uint64_t seq, Completion done) {
  mem::Block* b = host_->allocator().allocate(len);
  int err = 0;
  std::size_t got = 0;
  if (!b) {
    err = ENOMEM;
  } else if (f.direct && reinterpret_cast<uintptr_t>(b->data) % direct_alignment_ != 0) {
    DEMI_ERROR("storage", "pop: the allocator's buffer is not aligned to {} bytes for O_DIRECT", direct_alignment_);
    err = EINVAL;
  } else {
    while (got < len) {
      Request req;
      io_uring_sqe* s = sqe();
      if (!s) {
        err = EAGAIN;
        break;
      }
      if (int fixed = fixed_buffer(b->data + got, len - got); fixed >= 0) {
        io_uring_prep_read_fixed(s, f.fd, b->data + got, static_cast<unsigned>(len - got),
                                 static_cast<uint64_t>(offset) + got, fixed);
        ++fixed_ops_;
      } else {
        io_uring_prep_read(s, f.fd, b->data + got, static_cast<unsigned>(len - got), static_cast<uint64_t>(offset) + got);
      }
      io_uring_sqe_set_data(s, &req);
      int res = co_await Submitted{req};
      if (res < 0) {
        err = -res;
        break;
      }
      if (res == 0) break;  // end of file
      got += static_cast<std::size_t>(res);
    }
  }
  // A short read ends at end of file: if nothing was issued after this pop, the queue's
  // offset comes back to where the data ended.
  if (!err && got < len && f.issued == seq + 1 && f.offset == offset + static_cast<off_t>(len))
    f.offset = offset + static_cast<off_t>(got);
  while (f.completed != seq) co_await f.turn.wait();
  ++f.completed;
  f.turn.notify_all();
  if (f.closed) err = ECANCELED;
  if (err) {
    if (b) mem::block_unref(b);
    done.fail(err);
  } else {
    mem::BufRef data = mem::BufRef::adopt(b, 0, got);
    auto sga = host_->sgas().adopt(std::span<mem::BufRef>(&data, 1));
    if (sga) done.pop_done(*sga);
    else done.fail(sga.error());
  }
  release(f);
}

void StorageModule::release(File& f) {
  if (--f.inflight == 0 && f.closed) {
    for (QueueId q = 0; q < files_.size(); ++q) {
      if (files_[q].get() == &f) {
        ::close(f.fd);
        files_[q].reset();
        free_.push_back(q);
        return;
      }
    }
  }
}

int StorageModule::close(QueueId q) {
  File* f = file(q, "close");
  if (!f) return EBADF;
  f->closed = true;
  f->turn.notify_all();
  if (f->inflight == 0) {
    ::close(f->fd);
    files_[q].reset();
    free_.push_back(q);
  }
  // Operations still in the kernel finish there and then complete with ECANCELED; the
  // descriptor is closed after the last of them.
  return 0;
}

int StorageModule::bind(QueueId, const sockaddr*, socklen_t) { return EBADF; }
int StorageModule::listen(QueueId, int) { return EBADF; }
int StorageModule::accept(QueueId, Completion) { return EBADF; }
int StorageModule::connect(QueueId, const sockaddr*, socklen_t, Completion) { return EBADF; }
int StorageModule::pushto(QueueId, const Sga&, const sockaddr*, socklen_t, Completion) { return EBADF; }
int StorageModule::getsockname(QueueId, sockaddr*, socklen_t*) { return EBADF; }
int StorageModule::getpeername(QueueId, sockaddr*, socklen_t*) { return EBADF; }
int StorageModule::setsockopt(QueueId, int, int, const void*, socklen_t) { return EBADF; }
int StorageModule::getsockopt(QueueId, int, int, void*, socklen_t*) { return EBADF; }

}  // namespace storage
}  // namespace demi
