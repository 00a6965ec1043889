/* The dmtr C API from C: every bad argument answers its errno; TCP and UDP echo in one process. */
#include <arpa/inet.h>
#include <dmtr/libos.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int passed = 0, failed = 0;

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (cond) {                                                             \
      ++passed;                                                             \
    } else {                                                                \
      ++failed;                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                       \
  } while (0)

static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static uint16_t bound_port(int qd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  if (dmtr_getsockname(qd, (struct sockaddr *)&a, &len) != 0) return 0;
  return ntohs(a.sin_port);
}

static void before_init(void) {
  int qd;
  dmtr_sgarray_t sga;
  CHECK(dmtr_socket(&qd, AF_INET, SOCK_STREAM, 0) == EPERM);
  CHECK(dmtr_sgaalloc(&sga, 8) == EPERM);
}

static void bad_arguments(void) {
  int qd = -1, flag = 7;
  dmtr_qtoken_t qt;
  dmtr_qresult_t qr;
  dmtr_sgarray_t sga, copy;
  size_t lens[17];
  size_t len;
  struct sockaddr_in a = loopback(0);
  socklen_t alen = sizeof a;
  off_t off;
  int i;
  for (i = 0; i < 17; ++i) lens[i] = 4;

  CHECK(dmtr_socket(NULL, AF_INET, SOCK_STREAM, 0) == EINVAL);
  CHECK(dmtr_bind(999, (struct sockaddr *)&a, sizeof a) == EBADF);
  CHECK(dmtr_listen(999, 1) == EBADF);
  CHECK(dmtr_accept(NULL, 1) == EINVAL);
  CHECK(dmtr_accept(&qt, 999) == EBADF);
  CHECK(dmtr_connect(&qt, 999, (struct sockaddr *)&a, sizeof a) == EBADF);
  CHECK(dmtr_connect(NULL, 1, (struct sockaddr *)&a, sizeof a) == EINVAL);
  CHECK(dmtr_getsockname(999, (struct sockaddr *)&a, &alen) == EBADF);
  CHECK(dmtr_getsockname(1, NULL, &alen) == EINVAL);
  CHECK(dmtr_getpeername(999, (struct sockaddr *)&a, &alen) == EBADF);
  CHECK(dmtr_close(999) == EBADF);
  CHECK(dmtr_close(-1) == EBADF);
  CHECK(dmtr_is_qd_valid(&flag, 999) == 0 && flag == 0);
  CHECK(dmtr_is_qd_valid(NULL, 1) == EINVAL);
  CHECK(dmtr_pop(&qt, 999) == EBADF);
  CHECK(dmtr_pop(NULL, 1) == EINVAL);
  CHECK(dmtr_wait(&qr, 12345) == EINVAL);
  CHECK(dmtr_wait(&qr, 0) == EINVAL);
  CHECK(dmtr_drop(12345) == EINVAL);
  CHECK(dmtr_wait_any(&qr, &i, NULL, 1) == EINVAL);
  CHECK(dmtr_wait_any(&qr, &i, &qt, 0) == EINVAL);
  CHECK(dmtr_wait_all(&qr, &qt, -1) == EINVAL);
  CHECK(dmtr_setsockopt(999, SOL_SOCKET, SO_REUSEADDR, &flag, sizeof flag) == EBADF);
  CHECK(dmtr_open(NULL, "/tmp/x", O_RDONLY) == EINVAL);
  CHECK(dmtr_open(&qd, "/nonexistent/dir/file", O_RDONLY) == ENOENT);
  CHECK(dmtr_lseek(&off, 999, 0, SEEK_SET) == EBADF);

  /* Memory: sizes, segment counts, double and foreign frees. */
  CHECK(dmtr_sgaalloc(NULL, 8) == EINVAL);
  CHECK(dmtr_sgaallocv(&sga, 0, lens) == EINVAL);
  CHECK(dmtr_sgaallocv(&sga, 17, lens) == EINVAL);
  CHECK(dmtr_sgaalloc(&sga, 0) == EINVAL);
  CHECK(dmtr_sgaallocv(&sga, 16, lens) == 0 && sga.sga_numsegs == 16);
  CHECK(dmtr_sgalen(&len, &sga) == 0 && len == 64);
  copy = sga;
  CHECK(dmtr_sgafree(&sga) == 0);
  CHECK(dmtr_sgafree(&sga) == EINVAL);  /* this copy was cleared */
  CHECK(dmtr_sgafree(&copy) == EINVAL); /* a stale copy of a freed array */
  memset(&copy, 0, sizeof copy);
  copy.sga_numsegs = 1;
  copy.sga_segs[0].sgaseg_buf = &flag;
  copy.sga_segs[0].sgaseg_len = sizeof flag;
  CHECK(dmtr_sgafree(&copy) == EINVAL); /* foreign memory */
  CHECK(dmtr_sgafree(NULL) == EINVAL);
  CHECK(dmtr_sgalen(NULL, &copy) == EINVAL);
  copy.sga_numsegs = 0;
  CHECK(dmtr_push(&qt, 1, &copy) == EINVAL || dmtr_push(&qt, 1, &copy) == EBADF);
}

/* dmtr_init's own failures leave the process without a LibOS, so that a later call can succeed. */
static void init_errors(void) {
  char prog[] = "capi_test", libos[] = "--libos", bogus[] = "bogus", config[] = "--config",
       missing[] = "/nonexistent/demi.yaml";
  char *unknown_libos[] = {prog, libos, bogus, NULL};
  char *no_libos_name[] = {prog, libos, NULL};
  char *missing_config[] = {prog, config, missing, NULL};
  int qd;
  CHECK(dmtr_init(3, unknown_libos) == EINVAL);
  CHECK(dmtr_init(2, no_libos_name) == EINVAL);
  CHECK(dmtr_init(3, missing_config) == ENOENT);
  CHECK(dmtr_init(1, NULL) == EINVAL);
  CHECK(dmtr_init(-1, NULL) == EINVAL);
  CHECK(dmtr_socket(&qd, AF_INET, SOCK_STREAM, 0) == EPERM); /* still not initialised */
}

/* Every entry point refuses to run before dmtr_init. */
static void everything_before_init(void) {
  int qd, flag;
  dmtr_qtoken_t qt = 1;
  dmtr_qresult_t qr;
  dmtr_sgarray_t sga;
  struct sockaddr_in a = loopback(0);
  socklen_t alen = sizeof a;
  off_t off;
  size_t len = 8;
  struct timespec zero = {0, 0};
  memset(&sga, 0, sizeof sga);
  CHECK(dmtr_bind(1, (struct sockaddr *)&a, sizeof a) == EPERM);
  CHECK(dmtr_listen(1, 1) == EPERM);
  CHECK(dmtr_accept(&qt, 1) == EPERM);
  CHECK(dmtr_connect(&qt, 1, (struct sockaddr *)&a, sizeof a) == EPERM);
  CHECK(dmtr_getsockname(1, (struct sockaddr *)&a, &alen) == EPERM);
  CHECK(dmtr_getpeername(1, (struct sockaddr *)&a, &alen) == EPERM);
  CHECK(dmtr_setsockopt(1, SOL_SOCKET, SO_REUSEADDR, &flag, sizeof flag) == EPERM);
  CHECK(dmtr_getsockopt(1, SOL_SOCKET, SO_REUSEADDR, &flag, &alen) == EPERM);
  CHECK(dmtr_close(1) == EPERM);
  CHECK(dmtr_is_qd_valid(&flag, 1) == EPERM);
  CHECK(dmtr_open(&qd, "/tmp", O_RDONLY) == EPERM);
  CHECK(dmtr_open2(&qd, "/tmp", O_RDONLY, 0) == EPERM);
  CHECK(dmtr_creat(&qd, "/tmp/x", 0600) == EPERM);
  CHECK(dmtr_lseek(&off, 1, 0, SEEK_SET) == EPERM);
  CHECK(dmtr_push(&qt, 1, &sga) == EPERM);
  CHECK(dmtr_pushto(&qt, 1, &sga, (struct sockaddr *)&a, sizeof a) == EPERM);
  CHECK(dmtr_pop(&qt, 1) == EPERM);
  CHECK(dmtr_pop2(&qt, 1, 10) == EPERM);
  CHECK(dmtr_wait(&qr, qt) == EPERM);
  CHECK(dmtr_timedwait(&qr, qt, &zero) == EPERM);
  CHECK(dmtr_poll(&qr, qt) == EPERM);
  CHECK(dmtr_wait_any(&qr, &flag, &qt, 1) == EPERM);
  CHECK(dmtr_timedwait_any(&qr, &flag, &qt, 1, &zero) == EPERM);
  CHECK(dmtr_wait_all(&qr, &qt, 1) == EPERM);
  CHECK(dmtr_timedwait_all(&qr, &qt, 1, &zero) == EPERM);
  CHECK(dmtr_drop(qt) == EPERM);
  CHECK(dmtr_sgaallocv(&sga, 1, &len) == EPERM);
  CHECK(dmtr_sgafree(&sga) == EPERM);
  CHECK(dmtr_sgalen(&len, &sga) == 0 && len == 0); /* needs no LibOS */
}

/* The cases bad_arguments leaves out, on open queues of both kinds. */
static void more_bad_arguments(void) {
  int tqd, uqd, fqd, flag = 1, ready = 7;
  dmtr_qtoken_t qt, qts[2];
  dmtr_qresult_t qr, qrs[2];
  dmtr_sgarray_t sga, hand;
  struct sockaddr_in a = loopback(0);
  socklen_t alen = sizeof a, flen = sizeof flag;
  size_t lens[2] = {8, 8}, len = 0;
  off_t off;
  struct timespec bad_nsec = {0, 1000000000L}, negative = {-1, 0}, zero = {0, 0};
  char path[64];

  CHECK(dmtr_socket(&tqd, AF_INET, SOCK_STREAM, 0) == 0);
  CHECK(dmtr_socket(&uqd, AF_INET, SOCK_DGRAM, 0) == 0);
  CHECK(dmtr_is_qd_valid(&flag, tqd) == 0 && flag == 1);

  /* Addresses and options. */
  CHECK(dmtr_bind(tqd, NULL, sizeof a) == EINVAL);
  CHECK(dmtr_bind(tqd, (struct sockaddr *)&a, 2) == EINVAL);
  CHECK(dmtr_bind(-3, (struct sockaddr *)&a, sizeof a) == EBADF);
  CHECK(dmtr_listen(tqd, -1) == EINVAL);
  CHECK(dmtr_listen(uqd, 1) != 0); /* a UDP queue does not listen */
  CHECK(dmtr_connect(&qt, tqd, NULL, sizeof a) == EINVAL);
  CHECK(dmtr_connect(&qt, tqd, (struct sockaddr *)&a, 3) == EINVAL);
  CHECK(dmtr_getsockname(tqd, (struct sockaddr *)&a, NULL) == EINVAL);
  CHECK(dmtr_getpeername(tqd, NULL, &alen) == EINVAL);
  CHECK(dmtr_getpeername(tqd, (struct sockaddr *)&a, NULL) == EINVAL);
  CHECK(dmtr_getpeername(tqd, (struct sockaddr *)&a, &alen) == ENOTCONN);
  CHECK(dmtr_setsockopt(tqd, SOL_SOCKET, SO_REUSEADDR, NULL, sizeof flag) == EINVAL);
  CHECK(dmtr_setsockopt(tqd, SOL_SOCKET, SO_REUSEADDR, &flag, sizeof flag) == 0);
  CHECK(dmtr_getsockopt(tqd, SOL_SOCKET, SO_REUSEADDR, NULL, &flen) == EINVAL);
  CHECK(dmtr_getsockopt(tqd, SOL_SOCKET, SO_REUSEADDR, &flag, NULL) == EINVAL);
  CHECK(dmtr_getsockopt(999, SOL_SOCKET, SO_REUSEADDR, &flag, &flen) == EBADF);
  flag = 0;
  CHECK(dmtr_getsockopt(tqd, SOL_SOCKET, SO_REUSEADDR, &flag, &flen) == 0 && flag != 0);

  /* Pushes and pops. */
  CHECK(dmtr_sgaallocv(&sga, 2, lens) == 0);
  CHECK(dmtr_sgaallocv(&hand, 2, NULL) == EINVAL);
  CHECK(dmtr_push(NULL, uqd, &sga) == EINVAL);
  CHECK(dmtr_push(&qt, uqd, NULL) == EINVAL);
  CHECK(dmtr_push(&qt, 999, &sga) == EBADF);
  CHECK(dmtr_pushto(NULL, uqd, &sga, (struct sockaddr *)&a, sizeof a) == EINVAL);
  CHECK(dmtr_pushto(&qt, uqd, NULL, (struct sockaddr *)&a, sizeof a) == EINVAL);
  CHECK(dmtr_pushto(&qt, uqd, &sga, NULL, sizeof a) == EINVAL);
  CHECK(dmtr_pushto(&qt, uqd, &sga, (struct sockaddr *)&a, 4) == EINVAL);
  CHECK(dmtr_pushto(&qt, 999, &sga, (struct sockaddr *)&a, sizeof a) == EBADF);
  hand = sga;
  hand.sga_numsegs = 0;
  CHECK(dmtr_push(&qt, uqd, &hand) == EINVAL);
  hand.sga_numsegs = 17;
  CHECK(dmtr_push(&qt, uqd, &hand) == EINVAL);
  CHECK(dmtr_sgalen(&len, &hand) == EINVAL);
  hand.sga_numsegs = 1;
  hand.sga_segs[0].sgaseg_buf = NULL; /* a segment with a length and no memory */
  CHECK(dmtr_push(&qt, uqd, &hand) == EINVAL);
  CHECK(dmtr_pop2(NULL, uqd, 10) == EINVAL);
  CHECK(dmtr_pop2(&qt, 999, 10) == EBADF);
  CHECK(dmtr_sgalen(&len, NULL) == EINVAL);
  CHECK(dmtr_sgalen(&len, &sga) == 0 && len == 16);

  /* Waiting: bad tokens, counts, results and timeouts. */
  CHECK(dmtr_pop(&qt, uqd) == 0);
  CHECK(dmtr_timedwait(&qr, qt, &bad_nsec) == EINVAL);
  CHECK(dmtr_timedwait(&qr, qt, &negative) == EINVAL);
  CHECK(dmtr_poll(&qr, 0) == EINVAL);
  CHECK(dmtr_poll(NULL, qt) == EAGAIN);
  qts[0] = qt;
  qts[1] = 987654321;
  CHECK(dmtr_wait_any(&qr, &ready, qts, 2) == EINVAL && qr.qr_opcode == DMTR_OPC_INVALID);
  CHECK(dmtr_wait_all(qrs, qts, 2) == EINVAL);
  CHECK(dmtr_wait_all(NULL, qts, 1) == EINVAL);
  CHECK(dmtr_wait_all(qrs, NULL, 1) == EINVAL);
  CHECK(dmtr_wait_all(qrs, qts, 0) == EINVAL);
  CHECK(dmtr_timedwait_any(&qr, &ready, qts, -1, &zero) == EINVAL);
  CHECK(dmtr_timedwait_all(qrs, qts, 1, &bad_nsec) == EINVAL);
  CHECK(dmtr_drop(0) == EINVAL);
  CHECK(dmtr_drop(qt) == 0);  /* the pop is forgotten ... */
  CHECK(dmtr_drop(qt) == EINVAL); /* ... once */
  CHECK(dmtr_wait(&qr, qt) == EINVAL);
  CHECK(dmtr_sgafree(&sga) == 0);

  /* Files. */
  snprintf(path, sizeof path, "/tmp/dmtr-capi-args-%ld", (long)getpid());
  CHECK(dmtr_open2(NULL, path, O_RDONLY, 0) == EINVAL);
  CHECK(dmtr_open2(&fqd, NULL, O_RDONLY, 0) == EINVAL);
  CHECK(dmtr_creat(NULL, path, 0600) == EINVAL);
  CHECK(dmtr_creat(&fqd, NULL, 0600) == EINVAL);
  CHECK(dmtr_creat(&fqd, path, 0600) == 0);
  CHECK(dmtr_lseek(NULL, fqd, 0, SEEK_SET) == EINVAL);
  CHECK(dmtr_lseek(&off, fqd, 0, 12345) == EINVAL);
  CHECK(dmtr_lseek(&off, fqd, -1, SEEK_SET) == EINVAL);
  CHECK(dmtr_lseek(&off, fqd, 0, SEEK_END) == 0 && off == 0);
  CHECK(dmtr_lseek(&off, tqd, 0, SEEK_SET) != 0); /* not a file */
  CHECK(dmtr_close(fqd) == 0);
  unlink(path);

  CHECK(dmtr_close(tqd) == 0);
  CHECK(dmtr_close(uqd) == 0);
  CHECK(dmtr_is_qd_valid(&flag, tqd) == 0 && flag == 0);
}

/* A bounded wait on nothing times out, leaves the token valid, and the token still completes. */
static void timeouts(void) {
  int a_qd, b_qd, ready = 7;
  struct sockaddr_in a = loopback(0);
  struct timespec t50ms = {0, 50 * 1000 * 1000}, zero = {0, 0}, century = {(time_t)4000000000LL, 0};
  struct timespec before, after;
  dmtr_qtoken_t qt, qts[1];
  dmtr_qresult_t qr, qrs[1];
  dmtr_sgarray_t sga;
  double ms;
  CHECK(dmtr_socket(&a_qd, AF_INET, SOCK_DGRAM, 0) == 0);
  CHECK(dmtr_socket(&b_qd, AF_INET, SOCK_DGRAM, 0) == 0);
  CHECK(dmtr_bind(b_qd, (struct sockaddr *)&a, sizeof a) == 0);
  a = loopback(bound_port(b_qd));
  CHECK(dmtr_pop(&qt, b_qd) == 0);
  clock_gettime(CLOCK_MONOTONIC, &before);
  CHECK(dmtr_timedwait(&qr, qt, &t50ms) == ETIMEDOUT && qr.qr_opcode == DMTR_OPC_INVALID);
  clock_gettime(CLOCK_MONOTONIC, &after);
  ms = (double)(after.tv_sec - before.tv_sec) * 1e3 + (double)(after.tv_nsec - before.tv_nsec) / 1e6;
  CHECK(ms >= 45.0 && ms < 5000.0);
  qts[0] = qt;
  CHECK(dmtr_timedwait_any(&qr, &ready, qts, 1, &t50ms) == ETIMEDOUT && ready == -1);
  CHECK(dmtr_timedwait_all(qrs, qts, 1, &zero) == ETIMEDOUT && qrs[0].qr_opcode == DMTR_OPC_INVALID);
  CHECK(dmtr_poll(&qr, qt) == EAGAIN);
  /* Now something arrives: the same token completes; a huge timeout is "forever", not overflow. */
  CHECK(dmtr_sgaalloc(&sga, 3) == 0);
  memcpy(sga.sga_segs[0].sgaseg_buf, "abc", 3);
  {
    dmtr_qtoken_t push;
    CHECK(dmtr_pushto(&push, a_qd, &sga, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(dmtr_timedwait(&qr, push, &century) == 0 && qr.qr_opcode == DMTR_OPC_PUSH);
  }
  CHECK(dmtr_sgafree(&sga) == 0);
  CHECK(dmtr_timedwait_any(&qr, &ready, qts, 1, &century) == 0 && ready == 0 && qr.qr_opcode == DMTR_OPC_POP);
  CHECK(qr.qr_qt == qt && qr.qr_qd == b_qd && qr.qr_value.sga.sga_segs[0].sgaseg_len == 3);
  CHECK(dmtr_sgafree(&qr.qr_value.sga) == 0);
  /* A wait with no qresult still consumes the token and frees what it held. */
  CHECK(dmtr_sgaalloc(&sga, 2) == 0);
  memcpy(sga.sga_segs[0].sgaseg_buf, "hi", 2);
  CHECK(dmtr_pushto(&qt, a_qd, &sga, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(dmtr_wait(NULL, qt) == 0);
  CHECK(dmtr_sgafree(&sga) == 0);
  CHECK(dmtr_pop(&qt, b_qd) == 0);
  CHECK(dmtr_wait(NULL, qt) == 0);
  CHECK(dmtr_wait(&qr, qt) == EINVAL);
  CHECK(dmtr_close(a_qd) == 0);
  CHECK(dmtr_close(b_qd) == 0);
}

static void tcp_echo(void) {
  int lqd, cqd, sqd, i;
  dmtr_qtoken_t qt, aqt, cqt;
  dmtr_qresult_t qr;
  struct sockaddr_in a = loopback(0);
  dmtr_sgarray_t sga;
  size_t lens[3] = {5, 1, 7}, got = 0;
  const char *text = "hello, world!";
  char echo[32];
  struct timespec zero = {0, 0};

  CHECK(dmtr_socket(&lqd, AF_INET, SOCK_STREAM, 0) == 0);
  CHECK(dmtr_bind(lqd, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(dmtr_listen(lqd, 8) == 0);
  a = loopback(bound_port(lqd));
  CHECK(dmtr_accept(&aqt, lqd) == 0);
  CHECK(dmtr_timedwait(&qr, aqt, &zero) == ETIMEDOUT && qr.qr_opcode == DMTR_OPC_INVALID);
  CHECK(dmtr_poll(&qr, aqt) == EAGAIN);
  CHECK(dmtr_socket(&cqd, AF_INET, SOCK_STREAM, 0) == 0);
  CHECK(dmtr_connect(&cqt, cqd, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(dmtr_wait(&qr, aqt) == 0 && qr.qr_opcode == DMTR_OPC_ACCEPT);
  sqd = qr.qr_value.ares.qd;
  CHECK(dmtr_wait(&qr, cqt) == 0 && qr.qr_opcode == DMTR_OPC_CONNECT);

  /* A three-segment push arrives as one byte stream. */
  CHECK(dmtr_sgaallocv(&sga, 3, lens) == 0);
  memcpy(sga.sga_segs[0].sgaseg_buf, text, 5);
  memcpy(sga.sga_segs[1].sgaseg_buf, text + 5, 1);
  memcpy(sga.sga_segs[2].sgaseg_buf, text + 6, 7);
  CHECK(dmtr_push(&qt, cqd, &sga) == 0);
  CHECK(dmtr_wait(&qr, qt) == 0 && qr.qr_opcode == DMTR_OPC_PUSH);
  CHECK(dmtr_sgafree(&sga) == 0);
  while (got < 13) {
    uint32_t s;
    CHECK(dmtr_pop(&qt, sqd) == 0);
    if (dmtr_wait(&qr, qt) != 0) break;
    for (s = 0; s < qr.qr_value.sga.sga_numsegs; ++s) {
      size_t n = qr.qr_value.sga.sga_segs[s].sgaseg_len;
      if (got + n > sizeof echo) n = sizeof echo - got;
      memcpy(echo + got, qr.qr_value.sga.sga_segs[s].sgaseg_buf, n);
      got += n;
    }
    CHECK(dmtr_sgafree(&qr.qr_value.sga) == 0);
  }
  CHECK(got == 13 && memcmp(echo, text, 13) == 0);

  /* wait_any and wait_all over several tokens. */
  {
    dmtr_qtoken_t qts[2];
    dmtr_qresult_t qrs[2];
    int ready = -1;
    CHECK(dmtr_sgaalloc(&sga, 4) == 0);
    memcpy(sga.sga_segs[0].sgaseg_buf, "ping", 4);
    CHECK(dmtr_pop(&qts[0], cqd) == 0);
    CHECK(dmtr_push(&qts[1], sqd, &sga) == 0);
    CHECK(dmtr_wait_all(qrs, qts, 2) == 0);
    CHECK(qrs[0].qr_opcode == DMTR_OPC_POP && qrs[1].qr_opcode == DMTR_OPC_PUSH);
    CHECK(dmtr_sgafree(&qrs[0].qr_value.sga) == 0);
    CHECK(dmtr_pop(&qts[0], sqd) == 0);
    CHECK(dmtr_push(&qts[1], cqd, &sga) == 0);
    CHECK(dmtr_wait_any(&qr, &ready, qts, 2) == 0 && (ready == 0 || ready == 1));
    if (ready == 0) CHECK(dmtr_sgafree(&qr.qr_value.sga) == 0);
    CHECK(dmtr_wait(&qr, qts[1 - ready]) == 0);
    if (ready == 1) CHECK(dmtr_sgafree(&qr.qr_value.sga) == 0);
    CHECK(dmtr_sgafree(&sga) == 0);
  }

  /* Close with a pending pop: it completes as failed, ECANCELED. */
  CHECK(dmtr_pop(&qt, sqd) == 0);
  CHECK(dmtr_close(sqd) == 0);
  CHECK(dmtr_wait(&qr, qt) == ECANCELED && qr.qr_opcode == DMTR_OPC_FAILED);
  CHECK(dmtr_wait(&qr, qt) == EINVAL); /* consumed */
  CHECK(dmtr_close(cqd) == 0);
  CHECK(dmtr_close(lqd) == 0);
  for (i = 0; i < 1; ++i) CHECK(dmtr_close(sqd) == EBADF);
}

static void udp_echo(void) {
  int a_qd, b_qd;
  struct sockaddr_in a = loopback(0), b = loopback(0);
  dmtr_sgarray_t sga;
  dmtr_qtoken_t qt;
  dmtr_qresult_t qr;
  CHECK(dmtr_socket(&a_qd, AF_INET, SOCK_DGRAM, 0) == 0);
  CHECK(dmtr_socket(&b_qd, AF_INET, SOCK_DGRAM, 0) == 0);
  CHECK(dmtr_bind(a_qd, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(dmtr_bind(b_qd, (struct sockaddr *)&b, sizeof b) == 0);
  a = loopback(bound_port(a_qd));
  b = loopback(bound_port(b_qd));
  CHECK(dmtr_sgaalloc(&sga, 9) == 0);
  memcpy(sga.sga_segs[0].sgaseg_buf, "datagram!", 9);
  CHECK(dmtr_pushto(&qt, a_qd, &sga, (struct sockaddr *)&b, sizeof b) == 0);
  CHECK(dmtr_wait(&qr, qt) == 0);
  CHECK(dmtr_sgafree(&sga) == 0);
  CHECK(dmtr_pop(&qt, b_qd) == 0);
  CHECK(dmtr_wait(&qr, qt) == 0 && qr.qr_opcode == DMTR_OPC_POP);
  CHECK(qr.qr_value.sga.sga_segs[0].sgaseg_len == 9);
  CHECK(memcmp(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "datagram!", 9) == 0);
  CHECK(qr.qr_value.sga.sga_addr.sin_port == a.sin_port); /* the sender's address */
  CHECK(dmtr_sgafree(&qr.qr_value.sga) == 0);
  CHECK(dmtr_close(a_qd) == 0);
  CHECK(dmtr_close(b_qd) == 0);
}

static void files(void) {
  char path[64];
  int qd;
  dmtr_sgarray_t sga;
  dmtr_qtoken_t qt;
  dmtr_qresult_t qr;
  off_t off = -1;
  snprintf(path, sizeof path, "/tmp/dmtr-capi-%ld", (long)getpid());
  CHECK(dmtr_creat(&qd, path, 0600) == 0);
  CHECK(dmtr_sgaalloc(&sga, 5) == 0);
  memcpy(sga.sga_segs[0].sgaseg_buf, "file!", 5);
  CHECK(dmtr_push(&qt, qd, &sga) == 0);
  CHECK(dmtr_wait(&qr, qt) == 0);
  CHECK(dmtr_sgafree(&sga) == 0);
  CHECK(dmtr_close(qd) == 0);
  CHECK(dmtr_open(&qd, path, O_RDONLY) == 0);
  CHECK(dmtr_lseek(&off, qd, 1, SEEK_SET) == 0 && off == 1);
  CHECK(dmtr_pop2(&qt, qd, 100) == 0);
  CHECK(dmtr_wait(&qr, qt) == 0 && qr.qr_value.sga.sga_segs[0].sgaseg_len == 4);
  CHECK(memcmp(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "ile!", 4) == 0);
  CHECK(dmtr_sgafree(&qr.qr_value.sga) == 0);
  CHECK(dmtr_close(qd) == 0);
  unlink(path);
}

int main(int argc, char *argv[]) {
  before_init();
  everything_before_init();
  init_errors();
  if (dmtr_init(argc, argv) != 0) {
    fprintf(stderr, "dmtr_init failed\n");
    return 1;
  }
  CHECK(dmtr_init(argc, argv) == 0); /* idempotent */
  bad_arguments();
  more_bad_arguments();
  timeouts();
  tcp_echo();
  udp_echo();
  files();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
