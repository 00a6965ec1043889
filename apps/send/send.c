/* demi-send: a bulk TCP sender over the dmtr C API. It streams a file (or N bytes of it) to a
 * TCP peer from application buffers (dmtr_sgaalloc: zero copy on catnip), keeping a few pushes in
 * flight, closes, and prints the goodput. With a peer that vanishes it fails with the error the
 * stack reports (ETIMEDOUT, ECONNRESET) rather than hang.
 *
 *   demi-send --libos L --addr IP:PORT --file F [--bytes N] [--chunk B] [--inflight K]
 *             [--timeout-ms T] [--config F] [--set KEY=VALUE]...
 *
 * Exit status: 0 sent and closed; 77 the module has no TCP (socket(SOCK_STREAM) refused);
 * 1 otherwise, with the cause on stderr. */
#include <arpa/inet.h>
#include <dmtr/libos.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_INFLIGHT 64

typedef struct options {
  struct sockaddr_in addr;
  const char *file;
  unsigned long long bytes; /* 0: the whole file */
  unsigned long chunk;
  unsigned long inflight;
  unsigned long timeout_ms;
} options_t;

static int usage(void) {
  fprintf(stderr, "usage: demi-send --libos L --addr IP:PORT --file F [--bytes N] [--chunk B] [--inflight K]\n"
                  "                 [--timeout-ms T] [--config F] [--set KEY=VALUE]...\n");
  return 2;
}

static int parse_options(int argc, char *argv[], options_t *o) {
  int i, have_addr = 0;
  unsigned long long v;
  memset(o, 0, sizeof *o);
  o->chunk = 1u << 20;
  o->inflight = 8;
  o->timeout_ms = 30000;
  for (i = 1; i < argc; ++i) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!val) return 0;
    ++i;
    if (strcmp(a, "--libos") == 0 || strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0) continue;
    if (strcmp(a, "--addr") == 0) {
      if (!cli_parse_addr(val, 1, &o->addr)) return 0;
      have_addr = 1;
    } else if (strcmp(a, "--file") == 0) {
      o->file = val;
    } else if (strcmp(a, "--bytes") == 0) {
      if (!cli_parse_ull(val, 1, 1ULL << 50, &o->bytes)) return 0;
    } else if (strcmp(a, "--chunk") == 0) {
      if (!cli_parse_ull(val, 1, 64u << 20, &v)) return 0;
      o->chunk = (unsigned long)v;
    } else if (strcmp(a, "--inflight") == 0) {
      if (!cli_parse_ull(val, 1, MAX_INFLIGHT, &v)) return 0;
      o->inflight = (unsigned long)v;
    } else if (strcmp(a, "--timeout-ms") == 0) {
      if (!cli_parse_ull(val, 1, 3600000, &v)) return 0;
      o->timeout_ms = (unsigned long)v;
    } else {
      return 0;
    }
  }
  return have_addr && o->file;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char *argv[]) {
  options_t o;
  int fd, qd = -1, rc, n = 0, eof = 0, status = 1;
  dmtr_qtoken_t qts[MAX_INFLIGHT];
  dmtr_sgarray_t sgas[MAX_INFLIGHT];
  dmtr_qtoken_t qt;
  dmtr_qresult_t qr;
  struct timespec timeout;
  unsigned long long sent = 0;
  double t0, secs;
  if (!parse_options(argc, argv, &o)) return usage();
  timeout.tv_sec = (time_t)(o.timeout_ms / 1000);
  timeout.tv_nsec = (long)(o.timeout_ms % 1000) * 1000000L;
  if ((fd = open(o.file, O_RDONLY)) < 0) {
    fprintf(stderr, "demi-send: %s: %s\n", o.file, strerror(errno));
    return 1;
  }
  if ((rc = dmtr_init(argc, argv)) != 0) {
    fprintf(stderr, "demi-send: dmtr_init: %s\n", strerror(rc));
    close(fd);
    return 1;
  }
  if ((rc = dmtr_socket(&qd, AF_INET, SOCK_STREAM, 0)) != 0) {
    fprintf(stderr, "demi-send: %s(socket(SOCK_STREAM): %s)\n",
            rc == ESOCKTNOSUPPORT || rc == EPROTONOSUPPORT ? "no TCP in this build " : "", strerror(rc));
    close(fd);
    return rc == ESOCKTNOSUPPORT || rc == EPROTONOSUPPORT ? 77 : 1;
  }
  if ((rc = dmtr_connect(&qt, qd, (const struct sockaddr *)&o.addr, sizeof o.addr)) != 0 ||
      (rc = dmtr_timedwait(&qr, qt, &timeout)) != 0) {
    fprintf(stderr, "demi-send: connect: %s\n", strerror(rc));
    goto out;
  }
  t0 = now_s();
  while (!eof || n > 0) {
    /* Fill the window with chunks read from the file. */
    while (!eof && (unsigned long)n < o.inflight) {
      size_t want = o.chunk;
      ssize_t got;
      if (o.bytes && o.bytes - sent < want) want = (size_t)(o.bytes - sent);
      if (want == 0) {
        eof = 1;
        break;
      }
      if ((rc = dmtr_sgaalloc(&sgas[n], want)) != 0) {
        fprintf(stderr, "demi-send: sgaalloc(%zu): %s\n", want, strerror(rc));
        goto out;
      }
      got = read(fd, sgas[n].sga_segs[0].sgaseg_buf, want);
      if (got <= 0) {
        dmtr_sgafree(&sgas[n]);
        eof = 1;
        break;
      }
      sgas[n].sga_segs[0].sgaseg_len = (uint32_t)got;
      if ((rc = dmtr_push(&qts[n], qd, &sgas[n])) != 0) {
        dmtr_sgafree(&sgas[n]);
        fprintf(stderr, "demi-send: push: %s after %llu bytes\n", strerror(rc), sent);
        goto out;
      }
      sent += (unsigned long long)got;
      ++n;
    }
    if (n == 0) break;
    /* Pushes complete in order: wait for the oldest. */
    rc = dmtr_timedwait(&qr, qts[0], &timeout);
    if (rc == ETIMEDOUT && qr.qr_opcode == DMTR_OPC_INVALID) {
      fprintf(stderr, "demi-send: no progress for %lu ms after %llu bytes\n", o.timeout_ms, sent);
      goto out;
    }
    dmtr_sgafree(&sgas[0]);
    memmove(&qts[0], &qts[1], (size_t)(n - 1) * sizeof qts[0]);
    memmove(&sgas[0], &sgas[1], (size_t)(n - 1) * sizeof sgas[0]);
    --n;
    if (rc != 0) {
      fprintf(stderr, "demi-send: push failed: %s (errno %d) after %llu bytes pushed\n", strerror(rc), rc, sent);
      goto out;
    }
  }
  secs = now_s() - t0;
  printf("demi-send: %llu bytes in %.3f s: goodput %.3f Gbit/s\n", sent, secs, (double)sent * 8 / secs / 1e9);
  status = 0;
out:
  if (qd >= 0) dmtr_close(qd);
  /* close completed what was still pending (ECANCELED): consume it, then free its buffers. */
  while (n > 0) {
    --n;
    dmtr_timedwait(&qr, qts[n], &timeout);
    dmtr_sgafree(&sgas[n]);
  }
  close(fd);
  {
    dmtr_counter_t c[256];
    size_t k = 0, i;
    if (dmtr_counters(c, 256, &k) == 0 && k > 0) {
      fprintf(stderr, "demi-send counters:");
      for (i = 0; i < k && i < 256; ++i)
        if (c[i].value) fprintf(stderr, " %s=%llu", c[i].name, (unsigned long long)c[i].value);
      fprintf(stderr, "\n");
    }
  }
  return status;
}
