// dmtr_* -> demi::LibOS: argument checks and errno mapping, nothing else. No exception crosses
// this boundary: every entry point catches and answers with an errno.
#include <demi/catnip.h>
#include <demi/libos.h>
#include <demi/lwip.h>
#include <demi/posix.h>
#include <demi/rdma.h>
#include <demi/storage.h>
#include <dmtr/libos.h>

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "base/log.h"

namespace {

std::unique_ptr<demi::LibOS> g_libos;

// Runs `body`, turning an escaping exception into an errno with a log line.
template <typename F>
int guarded(const char* call, F&& body) noexcept {
  try {
    if (!g_libos && std::strcmp(call, "dmtr_init") != 0) {
      DEMI_ERROR("dmtr", "{}: dmtr_init has not been called", call);
      return EPERM;
    }
    return body();
  } catch (const std::bad_alloc&) {
    DEMI_ERROR("dmtr", "{}: out of memory", call);
    return ENOMEM;
  } catch (const std::exception& e) {
    DEMI_ERROR("dmtr", "{}: internal error: {}", call, e.what());
    return EIO;
  } catch (...) {
    DEMI_ERROR("dmtr", "{}: internal error", call);
    return EIO;
  }
}

demi::Sga to_sga(const dmtr_sgarray_t& s) {
  demi::Sga out;
  out.handle = reinterpret_cast<uintptr_t>(s.sga_buf);
  out.numsegs = s.sga_numsegs;
  for (uint32_t i = 0; i < s.sga_numsegs && i < DMTR_SGARRAY_MAXSIZE; ++i) {
    out.segs[i].buf = s.sga_segs[i].sgaseg_buf;
    out.segs[i].len = s.sga_segs[i].sgaseg_len;
  }
  out.addr = s.sga_addr;
  return out;
}

void from_sga(const demi::Sga& s, dmtr_sgarray_t* out) {
  std::memset(out, 0, sizeof *out);
  out->sga_buf = reinterpret_cast<void*>(static_cast<uintptr_t>(s.handle));
  out->sga_numsegs = s.numsegs;
  for (uint32_t i = 0; i < s.numsegs && i < DMTR_SGARRAY_MAXSIZE; ++i) {
    out->sga_segs[i].sgaseg_buf = s.segs[i].buf;
    out->sga_segs[i].sgaseg_len = s.segs[i].len;
  }
  out->sga_addr = s.addr;
}

dmtr_opcode_t to_opcode(demi::Opcode op) {
  switch (op) {
    case demi::Opcode::Push: return DMTR_OPC_PUSH;
    case demi::Opcode::Pop: return DMTR_OPC_POP;
    case demi::Opcode::Accept: return DMTR_OPC_ACCEPT;
    case demi::Opcode::Connect: return DMTR_OPC_CONNECT;
    case demi::Opcode::Close: return DMTR_OPC_CLOSE;
    case demi::Opcode::Failed: return DMTR_OPC_FAILED;
    case demi::Opcode::Invalid: break;
  }
  return DMTR_OPC_INVALID;
}

void from_result(const demi::QResult& r, dmtr_qresult_t* out) {
  std::memset(out, 0, sizeof *out);
  out->qr_opcode = to_opcode(r.opcode);
  out->qr_qd = r.qd;
  out->qr_qt = r.qt;
  out->qr_ret = r.ret;
  if (r.opcode == demi::Opcode::Accept) {
    out->qr_value.ares.qd = r.accept.qd;
    out->qr_value.ares.addr = r.accept.addr;
  } else if (r.opcode == demi::Opcode::Pop) {
    from_sga(r.sga, &out->qr_value.sga);
  }
}

// The longest timeout we pass on as given: a century. Longer ones (up to time_t's limit) would
// overflow std::chrono::nanoseconds, and are in effect forever anyway.
constexpr time_t kForeverSeconds = time_t{100} * 365 * 24 * 3600;

demi::Timeout to_timeout(const timespec* t, int* bad) {
  if (!t) return std::nullopt;
  if (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000L) {
    *bad = 1;
    return std::nullopt;
  }
  if (t->tv_sec >= kForeverSeconds) return std::nullopt;
  return std::chrono::seconds(t->tv_sec) + std::chrono::nanoseconds(t->tv_nsec);
}

// Whether a wait consumed a token. Not the same as its return value: an operation may itself
// fail with ETIMEDOUT or EINVAL (a connect that timed out), which a wait returns as its ret.
// A consumed result always has an opcode; a timeout, a bad token or EDEADLK leave Invalid.
bool consumed(const demi::QResult& r) { return r.opcode != demi::Opcode::Invalid; }

// Hands a consumed result to the application, or, when it passed no qresult to fill, frees what
// the result holds so that nothing leaks (a popped sga; an accepted queue is closed).
void deliver(const demi::QResult& r, dmtr_qresult_t* out) {
  if (out) {
    from_result(r, out);
    return;
  }
  if (!consumed(r)) return;
  if (r.opcode == demi::Opcode::Pop) {
    g_libos->sgafree(r.sga);
  } else if (r.opcode == demi::Opcode::Accept) {
    DEMI_DEBUG("dmtr", "wait: an accepted queue with no qresult to receive it is closed");
    g_libos->close(r.accept.qd);
  }
}

// The module for --libos NAME (argv) or $DEMI_LIBOS; posix by default.
std::string libos_name(int argc, char* argv[]) {
  for (int i = 1; argv && i < argc; ++i) {
    if (!argv[i]) continue;
    if (std::strcmp(argv[i], "--libos") == 0) return i + 1 < argc && argv[i + 1] ? argv[i + 1] : "";
    if (std::strncmp(argv[i], "--libos=", 8) == 0) return argv[i] + 8;
  }
  if (const char* env = std::getenv("DEMI_LIBOS"); env && *env) return env;
  return "posix";
}

// Applies every `--set KEY=VALUE` (or `--set=KEY=VALUE`) in argv on top of the configuration
// file: one-off overrides from the command line. 0 or EINVAL, with the reason in *why.
int apply_overrides(int argc, char* argv[], demi::Config& config, std::string* why) {
  for (int i = 1; argv && i < argc; ++i) {
    if (!argv[i]) continue;
    const char* kv = nullptr;
    if (std::strcmp(argv[i], "--set") == 0) {
      kv = i + 1 < argc ? argv[++i] : nullptr;
      if (!kv) {
        *why = "--set needs KEY=VALUE";
        return EINVAL;
      }
    } else if (std::strncmp(argv[i], "--set=", 6) == 0) {
      kv = argv[i] + 6;
    } else {
      continue;
    }
    const char* eq = std::strchr(kv, '=');
    if (!eq || eq == kv) {
      *why = std::string{"--set "} + kv + ": expected KEY=VALUE";
      return EINVAL;
    }
    if (int rc = config.set(std::string_view(kv, static_cast<std::size_t>(eq - kv)), eq + 1, why)) return rc;
  }
  return 0;
}

// Names of the counters dmtr_counters hands out: valid until its next call.
std::vector<std::string> g_counter_names;

int bad_arg(const char* call, const char* what) {
  DEMI_DEBUG("dmtr", "{}: {}", call, what);
  return EINVAL;
}

}  // namespace

extern "C" {

int dmtr_init(int argc, char* argv[]) {
  return guarded("dmtr_init", [&] {
    if (g_libos) return 0;  // idempotent: one LibOS per process
    if (argc < 0 || (argc > 0 && !argv)) return bad_arg("dmtr_init", "argv is NULL");
    std::string why;
    auto config = demi::Config::from_args(argc, argv, &why);
    if (!config) {
      DEMI_ERROR("dmtr", "dmtr_init: {}", why.empty() ? std::strerror(config.error()) : why);
      return config.error();
    }
    if (int rc = apply_overrides(argc, argv, *config, &why)) {
      DEMI_ERROR("dmtr", "dmtr_init: {}", why);
      return rc;
    }
    std::string name = libos_name(argc, argv);
    if (name != "posix" && name != "catnip" && name != "rdma" && name != "lwip") {
      DEMI_ERROR("dmtr", "dmtr_init: unknown libos '{}' (available: posix, catnip, rdma, lwip)", name);
      return EINVAL;
    }
    std::unique_ptr<demi::Module> lwip;
    if (name == "lwip") {
      // lwIP on the DPDK port that dpdk.* names; lwip.address is required.
      auto m = demi::make_lwip_dpdk_module(*config);
      if (!m) return m.error();  // the reason is in the log
      lwip = std::move(*m);
    }
    auto libos = std::make_unique<demi::LibOS>(demi::LibOSOptions{std::move(*config), nullptr});
    if (name == "posix") {
      if (int rc = libos->install(demi::make_posix_module())) return rc;
    } else if (name == "rdma") {
      // install fails with ENODEV, and a log line saying why, on a host without an RDMA device.
      if (int rc = libos->install(demi::make_rdma_module())) return rc;
    } else if (name == "lwip") {
      if (int rc = libos->install(std::move(lwip))) return rc;
      // As for catnip: the port must close before the EAL's exit handler runs.
      std::atexit([] { g_libos.reset(); });
    } else {
      // Catnip on the DPDK port the configuration names (dpdk.* and catnip.* keys).
      if (int rc = demi::install_catnip_dpdk(*libos)) return rc;
      // The LibOS (and with it the port) must go before the EAL's own exit handler, which
      // init registered before this one and so runs after it.
      std::atexit([] { g_libos.reset(); });
    }
    if (int rc = libos->install(demi::make_storage_module()))
      DEMI_WARN("dmtr", "dmtr_init: no storage module ({}); file queues are unavailable", std::strerror(rc));
    g_libos = std::move(libos);
    return 0;
  });
}

int dmtr_socket(int* qd_out, int domain, int type, int protocol) {
  return guarded("dmtr_socket", [&] {
    if (!qd_out) return bad_arg("dmtr_socket", "qd_out is NULL");
    auto qd = g_libos->socket(domain, type, protocol);
    if (!qd) return qd.error();
    *qd_out = *qd;
    return 0;
  });
}

int dmtr_bind(int qd, const struct sockaddr* saddr, socklen_t size) {
  return guarded("dmtr_bind", [&] {
    if (!saddr || size < sizeof(sockaddr_in)) return bad_arg("dmtr_bind", "bad address");
    return g_libos->bind(qd, saddr, size);
  });
}

int dmtr_listen(int qd, int backlog) {
  return guarded("dmtr_listen", [&] { return g_libos->listen(qd, backlog); });
}

int dmtr_accept(dmtr_qtoken_t* qt_out, int sockqd) {
  return guarded("dmtr_accept", [&] {
    if (!qt_out) return bad_arg("dmtr_accept", "qt_out is NULL");
    auto qt = g_libos->accept(sockqd);
    if (!qt) return qt.error();
    *qt_out = *qt;
    return 0;
  });
}

int dmtr_connect(dmtr_qtoken_t* qt_out, int qd, const struct sockaddr* saddr, socklen_t size) {
  return guarded("dmtr_connect", [&] {
    if (!qt_out) return bad_arg("dmtr_connect", "qt_out is NULL");
    if (!saddr || size < sizeof(sockaddr_in)) return bad_arg("dmtr_connect", "bad address");
    auto qt = g_libos->connect(qd, saddr, size);
    if (!qt) return qt.error();
    *qt_out = *qt;
    return 0;
  });
}

int dmtr_getsockname(int qd, struct sockaddr* saddr, socklen_t* size) {
  return guarded("dmtr_getsockname", [&] {
    if (!saddr || !size) return bad_arg("dmtr_getsockname", "NULL argument");
    return g_libos->getsockname(qd, saddr, size);
  });
}

int dmtr_getpeername(int qd, struct sockaddr* saddr, socklen_t* size) {
  return guarded("dmtr_getpeername", [&] {
    if (!saddr || !size) return bad_arg("dmtr_getpeername", "NULL argument");
    return g_libos->getpeername(qd, saddr, size);
  });
}

int dmtr_setsockopt(int qd, int level, int optname, const void* optval, socklen_t optlen) {
  return guarded("dmtr_setsockopt", [&] {
    if (!optval) return bad_arg("dmtr_setsockopt", "optval is NULL");
    return g_libos->setsockopt(qd, level, optname, optval, optlen);
  });
}

int dmtr_getsockopt(int qd, int level, int optname, void* optval, socklen_t* optlen) {
  return guarded("dmtr_getsockopt", [&] {
    if (!optval || !optlen) return bad_arg("dmtr_getsockopt", "NULL argument");
    return g_libos->getsockopt(qd, level, optname, optval, optlen);
  });
}

int dmtr_close(int qd) {
  return guarded("dmtr_close", [&] { return g_libos->close(qd); });
}

int dmtr_is_qd_valid(int* flag_out, int qd) {
  return guarded("dmtr_is_qd_valid", [&] {
    if (!flag_out) return bad_arg("dmtr_is_qd_valid", "flag_out is NULL");
    *flag_out = g_libos->is_qd_valid(qd) ? 1 : 0;
    return 0;
  });
}

int dmtr_open2(int* qd_out, const char* pathname, int flags, mode_t mode) {
  return guarded("dmtr_open", [&] {
    if (!qd_out || !pathname) return bad_arg("dmtr_open", "NULL argument");
    auto qd = g_libos->open(pathname, flags, mode);
    if (!qd) return qd.error();
    *qd_out = *qd;
    return 0;
  });
}

int dmtr_open(int* qd_out, const char* pathname, int flags) { return dmtr_open2(qd_out, pathname, flags, 0); }

int dmtr_creat(int* qd_out, const char* pathname, mode_t mode) {
  return dmtr_open2(qd_out, pathname, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int dmtr_lseek(off_t* offset_out, int qd, off_t offset, int whence) {
  return guarded("dmtr_lseek", [&] {
    if (!offset_out) return bad_arg("dmtr_lseek", "offset_out is NULL");
    auto r = g_libos->lseek(qd, offset, whence);
    if (!r) return r.error();
    *offset_out = *r;
    return 0;
  });
}

int dmtr_push(dmtr_qtoken_t* qt_out, int qd, const dmtr_sgarray_t* sga) {
  return guarded("dmtr_push", [&] {
    if (!qt_out || !sga) return bad_arg("dmtr_push", "NULL argument");
    if (sga->sga_numsegs == 0 || sga->sga_numsegs > DMTR_SGARRAY_MAXSIZE) return bad_arg("dmtr_push", "bad numsegs");
    auto qt = g_libos->push(qd, to_sga(*sga));
    if (!qt) return qt.error();
    *qt_out = *qt;
    return 0;
  });
}

int dmtr_pushto(dmtr_qtoken_t* qt_out, int qd, const dmtr_sgarray_t* sga, const struct sockaddr* saddr,
                socklen_t size) {
  return guarded("dmtr_pushto", [&] {
    if (!qt_out || !sga || !saddr) return bad_arg("dmtr_pushto", "NULL argument");
    if (size < sizeof(sockaddr_in)) return bad_arg("dmtr_pushto", "bad address length");
    if (sga->sga_numsegs == 0 || sga->sga_numsegs > DMTR_SGARRAY_MAXSIZE) return bad_arg("dmtr_pushto", "bad numsegs");
    auto qt = g_libos->pushto(qd, to_sga(*sga), saddr, size);
    if (!qt) return qt.error();
    *qt_out = *qt;
    return 0;
  });
}

int dmtr_pop2(dmtr_qtoken_t* qt_out, int qd, size_t max_len) {
  return guarded("dmtr_pop", [&] {
    if (!qt_out) return bad_arg("dmtr_pop", "qt_out is NULL");
    auto qt = g_libos->pop(qd, max_len);
    if (!qt) return qt.error();
    *qt_out = *qt;
    return 0;
  });
}

int dmtr_pop(dmtr_qtoken_t* qt_out, int qd) { return dmtr_pop2(qt_out, qd, 0); }

int dmtr_timedwait(dmtr_qresult_t* qr_out, dmtr_qtoken_t qt, const struct timespec* timeout) {
  return guarded("dmtr_wait", [&] {
    int bad = 0;
    demi::Timeout t = to_timeout(timeout, &bad);
    if (bad) return bad_arg("dmtr_wait", "bad timeout");
    demi::QResult r;
    int rc = g_libos->wait(qt, &r, t);
    deliver(r, qr_out);
    return rc;
  });
}

int dmtr_wait(dmtr_qresult_t* qr_out, dmtr_qtoken_t qt) { return dmtr_timedwait(qr_out, qt, nullptr); }

int dmtr_poll(dmtr_qresult_t* qr_out, dmtr_qtoken_t qt) {
  return guarded("dmtr_poll", [&] {
    demi::QResult r;
    int rc = g_libos->wait(qt, &r, std::chrono::nanoseconds{0});
    deliver(r, qr_out);
    // Not done yet is EAGAIN, so that it cannot be taken for an operation that timed out.
    return rc == ETIMEDOUT && !consumed(r) ? EAGAIN : rc;
  });
}

int dmtr_timedwait_any(dmtr_qresult_t* qr_out, int* ready_offset, dmtr_qtoken_t qts[], int num_qts,
                       const struct timespec* timeout) {
  return guarded("dmtr_wait_any", [&] {
    if (!qts || num_qts <= 0) return bad_arg("dmtr_wait_any", "no tokens");
    int bad = 0;
    demi::Timeout t = to_timeout(timeout, &bad);
    if (bad) return bad_arg("dmtr_wait_any", "bad timeout");
    demi::QResult r;
    std::size_t index = 0;
    int rc = g_libos->wait_any(std::span<const demi::QToken>(qts, static_cast<std::size_t>(num_qts)), &r, &index, t);
    if (ready_offset) *ready_offset = consumed(r) ? static_cast<int>(index) : -1;
    deliver(r, qr_out);
    return rc;
  });
}

int dmtr_wait_any(dmtr_qresult_t* qr_out, int* ready_offset, dmtr_qtoken_t qts[], int num_qts) {
  return dmtr_timedwait_any(qr_out, ready_offset, qts, num_qts, nullptr);
}

int dmtr_timedwait_all(dmtr_qresult_t qrs_out[], dmtr_qtoken_t qts[], int num_qts, const struct timespec* timeout) {
  return guarded("dmtr_wait_all", [&] {
    if (!qts || !qrs_out || num_qts <= 0) return bad_arg("dmtr_wait_all", "no tokens or results");
    int bad = 0;
    demi::Timeout t = to_timeout(timeout, &bad);
    if (bad) return bad_arg("dmtr_wait_all", "bad timeout");
    std::vector<demi::QResult> rs(static_cast<std::size_t>(num_qts));
    int rc = g_libos->wait_all(std::span<const demi::QToken>(qts, rs.size()), rs, t);
    // Every slot is written: a consumed result, or (timeout, bad token) an Invalid one.
    for (std::size_t i = 0; i < rs.size(); ++i) from_result(rs[i], &qrs_out[i]);
    return rc;
  });
}

int dmtr_wait_all(dmtr_qresult_t qrs_out[], dmtr_qtoken_t qts[], int num_qts) {
  return dmtr_timedwait_all(qrs_out, qts, num_qts, nullptr);
}

int dmtr_drop(dmtr_qtoken_t qt) {
  return guarded("dmtr_drop", [&] { return g_libos->drop(qt); });
}

int dmtr_sgaalloc(dmtr_sgarray_t* sga_out, size_t size) {
  return dmtr_sgaallocv(sga_out, 1, &size);
}

int dmtr_sgaallocv(dmtr_sgarray_t* sga_out, uint32_t numsegs, const size_t* seglens) {
  return guarded("dmtr_sgaalloc", [&] {
    if (!sga_out || !seglens) return bad_arg("dmtr_sgaalloc", "NULL argument");
    if (numsegs == 0 || numsegs > DMTR_SGARRAY_MAXSIZE) return bad_arg("dmtr_sgaalloc", "bad number of segments");
    auto sga = g_libos->sgaalloc(std::span<const std::size_t>(seglens, numsegs));
    if (!sga) return sga.error();
    from_sga(*sga, sga_out);
    return 0;
  });
}

int dmtr_sgafree(dmtr_sgarray_t* sga) {
  return guarded("dmtr_sgafree", [&] {
    if (!sga) return bad_arg("dmtr_sgafree", "sga is NULL");
    int rc = g_libos->sgafree(to_sga(*sga));
    if (rc == 0) sga->sga_buf = nullptr;  // a second free of this copy is EINVAL, not a crash
    return rc;
  });
}

int dmtr_counters(dmtr_counter_t* out, size_t max, size_t* count_out) {
  return guarded("dmtr_counters", [&] {
    if (!count_out || (max > 0 && !out)) return bad_arg("dmtr_counters", "NULL argument");
    std::vector<demi::CatnipCounter> all = demi::catnip_counters(*g_libos);
    g_counter_names.clear();
    for (const demi::CatnipCounter& c : all) g_counter_names.push_back(c.name);
    for (std::size_t i = 0; i < all.size() && i < max; ++i) {
      out[i].name = g_counter_names[i].c_str();
      out[i].value = all[i].value;
    }
    *count_out = all.size();
    return 0;
  });
}

int dmtr_sgalen(size_t* len_out, const dmtr_sgarray_t* sga) {
  if (!len_out || !sga || sga->sga_numsegs > DMTR_SGARRAY_MAXSIZE) return EINVAL;
  size_t n = 0;
  for (uint32_t i = 0; i < sga->sga_numsegs; ++i) n += sga->sga_segs[i].sgaseg_len;
  *len_out = n;
  return 0;
}

}  // extern "C"
