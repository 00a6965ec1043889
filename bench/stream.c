/* demi-stream: one TCP flow as fast as it goes, through the dmtr C API, for the throughput row
 * of the bench (the same role as iperf3 for the kernel).
 *
 *   demi-stream server --libos L --addr IP:PORT [--port-file F] [--warmup-seconds W] [--config F]
 *   demi-stream client --libos L --addr IP:PORT [--size B] [--window N] [--seconds S]
 *                      [--warmup-seconds W] [--config F]
 *
 * The client keeps N pushes of B bytes each in flight (default 4 x 1 MiB) for W + S seconds, then
 * closes. Each push gets a fresh sga, freed when the push completed (what a zero-copy application
 * does). The server pops and drops; from the first byte it lets W seconds pass, then counts bytes
 * until the end of the stream, and prints one JSON line:
 *   {"bytes": measured bytes, "seconds": measured time, "gbit_s": ..., "total_bytes": all bytes}
 * The client prints {"pushed_bytes": ...}. */
#include <arpa/inet.h>
#include <dmtr/libos.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "counters.h"

#define MAX_WINDOW 64

typedef struct options {
  int server;
  struct sockaddr_in addr;
  const char *port_file;
  unsigned long size;
  unsigned long window;
  double seconds;
  double warmup;
} options_t;

static int usage(void) {
  fprintf(stderr,
          "usage: demi-stream server --libos L --addr IP:PORT [--port-file F] [--warmup-seconds W]\n"
          "       demi-stream client --libos L --addr IP:PORT [--size B] [--window N] [--seconds S]\n"
          "                          [--warmup-seconds W]\n"
          "       (both take --config FILE)\n");
  return 2;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int parse_options(int argc, char *argv[], options_t *o) {
  int i, have_addr = 0;
  memset(o, 0, sizeof *o);
  o->size = 1u << 20;
  o->window = 4;
  o->seconds = 2;
  o->warmup = 0.5;
  if (argc < 2) return 0;
  if (strcmp(argv[1], "server") == 0) o->server = 1;
  else if (strcmp(argv[1], "client") != 0) return 0;
  for (i = 2; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    char *end = NULL;
    if (strcmp(a, "--libos") == 0 || strcmp(a, "--config") == 0) continue; /* read by dmtr_init */
    if (strcmp(a, "--addr") == 0) {
      if (!cli_parse_addr(v, 0, &o->addr)) return 0;
      have_addr = 1;
    } else if (strcmp(a, "--port-file") == 0) {
      o->port_file = v;
    } else if (strcmp(a, "--size") == 0) {
      o->size = strtoul(v, &end, 10);
      if (*end || o->size < 1 || o->size > (64u << 20)) return 0;
    } else if (strcmp(a, "--window") == 0) {
      o->window = strtoul(v, &end, 10);
      if (*end || o->window < 1 || o->window > MAX_WINDOW) return 0;
    } else if (strcmp(a, "--seconds") == 0) {
      o->seconds = strtod(v, &end);
      if (*end || !(o->seconds > 0 && o->seconds <= 600)) return 0;
    } else if (strcmp(a, "--warmup-seconds") == 0) {
      o->warmup = strtod(v, &end);
      if (*end || !(o->warmup >= 0 && o->warmup <= 600)) return 0;
    } else {
      return 0;
    }
  }
  return i == argc && have_addr;
}

static int run_server(const options_t *o) {
  int lqd = -1, qd = -1, rc;
  dmtr_qtoken_t qt;
  dmtr_qresult_t qr;
  unsigned long long total = 0, measured = 0;
  double first = 0, start = 0, end = 0;
  int counting = 0;

  if ((rc = dmtr_socket(&lqd, AF_INET, SOCK_STREAM, 0)) != 0) goto fail;
  if ((rc = dmtr_bind(lqd, (const struct sockaddr *)&o->addr, sizeof o->addr)) != 0) goto fail;
  if ((rc = dmtr_listen(lqd, 4)) != 0) goto fail;
  if (o->port_file) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    FILE *f;
    if ((rc = dmtr_getsockname(lqd, (struct sockaddr *)&a, &len)) != 0) goto fail;
    if (!(f = fopen(o->port_file, "w"))) {
      rc = errno;
      goto fail;
    }
    fprintf(f, "%u\n", (unsigned)ntohs(a.sin_port));
    fclose(f);
  }
  if ((rc = dmtr_accept(&qt, lqd)) != 0 || (rc = dmtr_wait(&qr, qt)) != 0) goto fail;
  qd = qr.qr_value.ares.qd;
  for (;;) {
    size_t len = 0;
    double t;
    if ((rc = dmtr_pop(&qt, qd)) != 0 || (rc = dmtr_wait(&qr, qt)) != 0) goto fail;
    dmtr_sgalen(&len, &qr.qr_value.sga);
    dmtr_sgafree(&qr.qr_value.sga);
    t = now_s();
    if (len == 0) break; /* the client closed: end of the stream */
    if (total == 0) first = t;
    total += len;
    if (!counting && t - first >= o->warmup) {
      counting = 1; /* bytes up to here were warm-up */
      start = t;
    } else if (counting) {
      measured += len;
    }
  }
  end = now_s();
  if (!counting || end <= start) {
    fprintf(stderr, "demi-stream server: the stream ended within the warm-up (%llu bytes)\n", total);
    rc = EIO;
    goto fail;
  }
  printf("{\"bytes\": %llu, \"seconds\": %.6f, \"gbit_s\": %.3f, \"total_bytes\": %llu}\n", measured, end - start,
         (double)measured * 8 / (end - start) / 1e9, total);
  print_counters("demi-stream", "server");
  dmtr_close(qd);
  dmtr_close(lqd);
  return 0;
fail:
  fprintf(stderr, "demi-stream server: %s\n", strerror(rc));
  if (qd >= 0) dmtr_close(qd);
  if (lqd >= 0) dmtr_close(lqd);
  return 1;
}

static int run_client(const options_t *o) {
  int qd = -1, rc, n = 0, i;
  dmtr_qtoken_t qts[MAX_WINDOW], qt;
  dmtr_sgarray_t sgas[MAX_WINDOW];
  dmtr_qresult_t qr;
  unsigned long long pushed = 0;
  double until;

  if ((rc = dmtr_socket(&qd, AF_INET, SOCK_STREAM, 0)) != 0) goto fail;
  if ((rc = dmtr_connect(&qt, qd, (const struct sockaddr *)&o->addr, sizeof o->addr)) != 0) goto fail;
  if ((rc = dmtr_wait(&qr, qt)) != 0) goto fail;
  until = now_s() + o->warmup + o->seconds;
  for (;;) {
    int more = now_s() < until;
    /* Keep the window full while time remains. */
    while (more && (unsigned long)n < o->window) {
      if ((rc = dmtr_sgaalloc(&sgas[n], o->size)) != 0) goto fail;
      memset(sgas[n].sga_segs[0].sgaseg_buf, 0x5a, o->size < 64 ? o->size : 64);
      if ((rc = dmtr_push(&qts[n], qd, &sgas[n])) != 0) {
        dmtr_sgafree(&sgas[n]);
        goto fail;
      }
      ++n;
    }
    if (n == 0) break;
    i = -1;
    rc = dmtr_wait_any(&qr, &i, qts, n);
    if (i < 0 || i >= n) goto fail;
    dmtr_sgafree(&sgas[i]);
    --n;
    qts[i] = qts[n];
    sgas[i] = sgas[n];
    if (rc != 0) goto fail;
    pushed += o->size;
  }
  printf("{\"pushed_bytes\": %llu}\n", pushed);
  print_counters("demi-stream", "client");
  dmtr_close(qd);
  return 0;
fail:
  fprintf(stderr, "demi-stream client: %s\n", strerror(rc));
  if (qd >= 0) dmtr_close(qd);
  /* Closing completes what is in flight (ECANCELED): consume it before freeing its buffers. */
  while (n > 0) {
    --n;
    dmtr_wait(&qr, qts[n]);
    dmtr_sgafree(&sgas[n]);
  }
  return 1;
}

int main(int argc, char *argv[]) {
  options_t o;
  int rc;
  if (!parse_options(argc, argv, &o)) return usage();
  if ((rc = dmtr_init(argc, argv)) != 0) {
    fprintf(stderr, "demi-stream: dmtr_init: %s\n", strerror(rc));
    return 1;
  }
  return o.server ? run_server(&o) : run_client(&o);
}
