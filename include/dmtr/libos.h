/* The dmtr C API: demi's queues for C programs. Every function returns 0 or an errno value
 * (and logs the cause); none blocks except the wait calls. See docs/capi.md. */
#ifndef DMTR_LIBOS_H
#define DMTR_LIBOS_H

#include <dmtr/types.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Declared at file scope so that the header also works in strict C99, where <time.h> leaves
 * struct timespec (POSIX) undefined. */
struct timespec;

/* Creates the process's LibOS from --config FILE / $DEMI_CONFIG, with each --set KEY=VALUE in
 * argv applied on top, and installs the module named by --libos NAME / $DEMI_LIBOS and the
 * storage module. NAME is posix (kernel sockets, the default) or catnip (demi's own stack on the
 * DPDK port of the dpdk.* keys; catnip.ipv4.address is required). */
int dmtr_init(int argc, char *argv[]);

int dmtr_socket(int *qd_out, int domain, int type, int protocol);
int dmtr_bind(int qd, const struct sockaddr *saddr, socklen_t size);
int dmtr_listen(int qd, int backlog);
int dmtr_accept(dmtr_qtoken_t *qt_out, int sockqd);
int dmtr_connect(dmtr_qtoken_t *qt_out, int qd, const struct sockaddr *saddr, socklen_t size);
int dmtr_getsockname(int qd, struct sockaddr *saddr, socklen_t *size);
int dmtr_getpeername(int qd, struct sockaddr *saddr, socklen_t *size);
int dmtr_setsockopt(int qd, int level, int optname, const void *optval, socklen_t optlen);
int dmtr_getsockopt(int qd, int level, int optname, void *optval, socklen_t *optlen);
int dmtr_close(int qd);
int dmtr_is_qd_valid(int *flag_out, int qd);

int dmtr_open(int *qd_out, const char *pathname, int flags);
int dmtr_open2(int *qd_out, const char *pathname, int flags, mode_t mode);
int dmtr_creat(int *qd_out, const char *pathname, mode_t mode);
/* Moves a file queue's offset, where its next push writes and its next pop reads, as lseek(2)
 * does: SEEK_SET, SEEK_CUR or SEEK_END plus offset; *offset_out is the new offset. Operations
 * already started keep their offsets. EINVAL for a bad whence or an offset that would be
 * negative, EBADF for a bad qd, ENOTSUP on a network queue. */
int dmtr_lseek(off_t *offset_out, int qd, off_t offset, int whence);

int dmtr_push(dmtr_qtoken_t *qt_out, int qd, const dmtr_sgarray_t *sga);
int dmtr_pushto(dmtr_qtoken_t *qt_out, int qd, const dmtr_sgarray_t *sga, const struct sockaddr *saddr,
                socklen_t size);
int dmtr_pop(dmtr_qtoken_t *qt_out, int qd);
int dmtr_pop2(dmtr_qtoken_t *qt_out, int qd, size_t max_len);

/* Waiting. Each returns the operation's qr_ret once it completed (0 on success) with *qr_out
 * filled and the token consumed; ETIMEDOUT when the timeout passed first (the token stays
 * valid; qr_opcode is DMTR_OPC_INVALID); EINVAL for an unknown or consumed token. A NULL
 * timeout waits forever; {0, 0} polls once. */
int dmtr_wait(dmtr_qresult_t *qr_out, dmtr_qtoken_t qt);
int dmtr_timedwait(dmtr_qresult_t *qr_out, dmtr_qtoken_t qt, const struct timespec *timeout);
int dmtr_poll(dmtr_qresult_t *qr_out, dmtr_qtoken_t qt); /* EAGAIN if not done */
int dmtr_wait_any(dmtr_qresult_t *qr_out, int *ready_offset, dmtr_qtoken_t qts[], int num_qts);
int dmtr_timedwait_any(dmtr_qresult_t *qr_out, int *ready_offset, dmtr_qtoken_t qts[], int num_qts,
                       const struct timespec *timeout);
int dmtr_wait_all(dmtr_qresult_t qrs_out[], dmtr_qtoken_t qts[], int num_qts);
int dmtr_timedwait_all(dmtr_qresult_t qrs_out[], dmtr_qtoken_t qts[], int num_qts, const struct timespec *timeout);
int dmtr_drop(dmtr_qtoken_t qt);

/* Memory. What dmtr_sgaalloc* and a completed pop give the application is freed exactly once
 * with dmtr_sgafree; a push borrows its sga until the push completes. */
int dmtr_sgaalloc(dmtr_sgarray_t *sga_out, size_t size);
int dmtr_sgaallocv(dmtr_sgarray_t *sga_out, uint32_t numsegs, const size_t *seglens);
int dmtr_sgafree(dmtr_sgarray_t *sga);
int dmtr_sgalen(size_t *len_out, const dmtr_sgarray_t *sga);

/* Counters of the network module, for a report at exit: catnip's device packets, bytes and
 * drops (device.*) and its stack's events and drops by reason. Fills up to max entries of out;
 * *count_out is how many there are (0 for posix). The names stay valid until the next call. */
typedef struct dmtr_counter {
  const char *name;
  uint64_t value;
} dmtr_counter_t;
int dmtr_counters(dmtr_counter_t *out, size_t max, size_t *count_out);

#ifdef __cplusplus
}
#endif

#endif /* DMTR_LIBOS_H */
