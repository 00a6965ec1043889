/* demi-echo: an echo server and a checking client over the dmtr C API, and nothing else.
 *
 *   demi-echo server --libos L --proto tcp|udp --addr IP:PORT [--port-file F] [--max-conns N] [--config F]
 *   demi-echo client --libos L --proto tcp|udp --addr IP:PORT --size B --count N [--conns C]
 *                    [--random-sizes] [--seed S] [--json] [--timeout-ms T] [--config F]
 *                    [--warmup W] [--samples FILE] [--max-ms T]
 *   (both: --libos posix|catnip|lwip|rdma, --config FILE, --set KEY=VALUE ... for dmtr_init)
 *
 * On exit it prints the network module's counters (catnip: device packets, bytes and drops, the
 * stack's drops by reason) to stderr. When the module has no TCP (socket(SOCK_STREAM) refused
 * with ESOCKTNOSUPPORT or EPROTONOSUPPORT) it says "no TCP in this build" and exits with 77,
 * so that scripts can tell that apart from a failure.
 *
 * The client's first W round trips (--warmup) are exchanged and checked but left out of the
 * figures; --samples writes every measured RTT (us, one a line, in the order measured);
 * --max-ms ends the measured part after T ms even if fewer than N messages were exchanged
 * (messages in flight then complete; the figures say how many were measured).
 *
 * A round trip runs from just before the push to the return of the wait that delivered the
 * echo's last bytes: the client checks every byte, but after taking the time (as sockperf and
 * demi-rawping, the bench's yardsticks, check nothing; checking 8 KiB byte by byte took ~10 us).
 *
 * Scatter-gather ownership, which this program is careful about: every sga from dmtr_sgaalloc
 * or a completed pop is freed exactly once with dmtr_sgafree; an sga handed to a push is freed
 * only after that push completed. The server echoes a popped sga by pushing it back as it is. */
#include <arpa/inet.h>
#include <dmtr/libos.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "counters.h"

#define MAX_CONNS 1024
#define MAX_MESSAGE (64u << 20)
#define UDP_MAX 65507u
#define MAX_QUIET_RETRIES 20 /* UDP: consecutive timeouts before the client gives up */

typedef struct options {
  int server;
  int tcp;
  struct sockaddr_in addr;
  const char *port_file;
  unsigned long max_conns;
  unsigned long size;
  unsigned long count;
  unsigned long conns;
  int random_sizes;
  unsigned long seed;
  int json;
  unsigned long timeout_ms;
  unsigned long warmup;
  const char *samples;
  unsigned long max_ms;
} options_t;

#define EXIT_NO_TCP 77

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static int usage(void) {
  fprintf(stderr,
          "usage: demi-echo server --libos L --proto tcp|udp --addr IP:PORT [--port-file F] [--max-conns N]\n"
          "       demi-echo client --libos L --proto tcp|udp --addr IP:PORT --size B --count N [--conns C]\n"
          "                        [--random-sizes] [--seed S] [--json] [--timeout-ms T]\n"
          "                        [--warmup W] [--samples FILE] [--max-ms T]\n"
          "       (both take --libos posix|catnip|lwip|rdma, --config FILE and --set KEY=VALUE)\n");
  return 2;
}

static int parse_options(int argc, char *argv[], options_t *o) {
  int i, have_addr = 0, have_proto = 0;
  memset(o, 0, sizeof *o);
  o->size = 64;
  o->count = 1000;
  o->conns = 1;
  o->seed = 1;
  o->timeout_ms = 10000;
  if (argc < 2) return 0;
  if (strcmp(argv[1], "server") == 0) o->server = 1;
  else if (strcmp(argv[1], "client") != 0) return 0;
  for (i = 2; i < argc; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--random-sizes") == 0) o->random_sizes = 1;
    else if (strcmp(a, "--json") == 0) o->json = 1;
    else if (!v) return 0;
    else if (strcmp(a, "--libos") == 0 || strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0)
      ++i; /* read by dmtr_init */
    else if (strcmp(a, "--proto") == 0) {
      if (strcmp(v, "tcp") == 0) o->tcp = 1;
      else if (strcmp(v, "udp") != 0) return 0;
      have_proto = 1;
      ++i;
    } else if (strcmp(a, "--addr") == 0) {
      if (!cli_parse_addr(v, 0, &o->addr)) return 0;
      have_addr = 1;
      ++i;
    } else if (strcmp(a, "--port-file") == 0) {
      o->port_file = v;
      ++i;
    } else if (strcmp(a, "--max-conns") == 0) {
      if (!cli_parse_ulong(v, 1, 100000000UL, &o->max_conns)) return 0;
      ++i;
    } else if (strcmp(a, "--size") == 0) {
      if (!cli_parse_ulong(v, 1, MAX_MESSAGE, &o->size)) return 0;
      ++i;
    } else if (strcmp(a, "--count") == 0) {
      if (!cli_parse_ulong(v, 1, 1000000000UL, &o->count)) return 0;
      ++i;
    } else if (strcmp(a, "--conns") == 0) {
      if (!cli_parse_ulong(v, 1, MAX_CONNS, &o->conns)) return 0;
      ++i;
    } else if (strcmp(a, "--seed") == 0) {
      if (!cli_parse_ulong(v, 0, 0xffffffffUL, &o->seed)) return 0;
      ++i;
    } else if (strcmp(a, "--warmup") == 0) {
      if (!cli_parse_ulong(v, 0, 1000000000UL, &o->warmup)) return 0;
      ++i;
    } else if (strcmp(a, "--max-ms") == 0) {
      if (!cli_parse_ulong(v, 1, 3600000UL, &o->max_ms)) return 0;
      ++i;
    } else if (strcmp(a, "--samples") == 0) {
      o->samples = v;
      ++i;
    } else if (strcmp(a, "--timeout-ms") == 0) {
      if (!cli_parse_ulong(v, 1, 3600000UL, &o->timeout_ms)) return 0;
      ++i;
    } else return 0;
  }
  if (!have_addr || !have_proto) return 0;
  if (!o->tcp && o->size > UDP_MAX) {
    fprintf(stderr, "demi-echo: a UDP message is at most %u bytes\n", UDP_MAX);
    return 0;
  }
  return 1;
}

/* True when socket(SOCK_STREAM) failed because the module has no TCP at all (says so). */
static int no_tcp(int rc) {
  if (rc != ESOCKTNOSUPPORT && rc != EPROTONOSUPPORT) return 0;
  fprintf(stderr, "demi-echo: no TCP in this build (socket(SOCK_STREAM): %s)\n", strerror(rc));
  return 1;
}

/* ------------------------------------------------------------------ server */

enum kind { K_ACCEPT, K_POP, K_PUSH };

typedef struct pending {
  dmtr_qtoken_t qt;
  enum kind kind;
  int qd;
  dmtr_sgarray_t sga; /* K_PUSH: the sga to free once the push completed */
} pending_t;

typedef struct token_set {
  pending_t *items;
  dmtr_qtoken_t *qts;
  int n;
  int cap;
} token_set_t;

static int set_add(token_set_t *s, dmtr_qtoken_t qt, enum kind kind, int qd, const dmtr_sgarray_t *sga) {
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 64;
    pending_t *items = realloc(s->items, (size_t)cap * sizeof *items);
    dmtr_qtoken_t *qts;
    if (!items) return ENOMEM;
    s->items = items;
    qts = realloc(s->qts, (size_t)cap * sizeof *qts);
    if (!qts) return ENOMEM;
    s->qts = qts;
    s->cap = cap;
  }
  memset(&s->items[s->n], 0, sizeof s->items[s->n]);
  s->items[s->n].qt = qt;
  s->items[s->n].kind = kind;
  s->items[s->n].qd = qd;
  if (sga) s->items[s->n].sga = *sga;
  s->qts[s->n] = qt;
  ++s->n;
  return 0;
}

static void set_remove(token_set_t *s, int i) {
  --s->n;
  s->items[i] = s->items[s->n];
  s->qts[i] = s->qts[s->n];
}

/* Consumes every pending operation on qd, which the caller has just closed: closing completes
 * them (with ECANCELED if they had not finished), so each wait returns at once, and only then
 * is a push's sga freed, when the LibOS no longer borrows it. */
static void forget_queue(token_set_t *s, int qd) {
  int i;
  for (i = 0; i < s->n;) {
    if (s->items[i].qd == qd) {
      dmtr_qresult_t qr;
      /* close() completed it with ECANCELED (or it had finished): consume it properly. */
      int rc = dmtr_timedwait(&qr, s->items[i].qt, NULL);
      if (rc == 0 && qr.qr_opcode == DMTR_OPC_POP) dmtr_sgafree(&qr.qr_value.sga);
      if (s->items[i].kind == K_PUSH) dmtr_sgafree(&s->items[i].sga);
      set_remove(s, i);
    } else {
      ++i;
    }
  }
}

/* Starts the next pop on qd; 0 or an errno. */
static int repop(token_set_t *s, int qd) {
  dmtr_qtoken_t qt;
  int rc = dmtr_pop(&qt, qd);
  if (rc != 0) return rc;
  if ((rc = set_add(s, qt, K_POP, qd, NULL)) != 0) dmtr_drop(qt);
  return rc;
}

/* Ends one client's connection. */
static void server_close(token_set_t *s, int qd, unsigned long *closed) {
  dmtr_close(qd);
  forget_queue(s, qd);
  ++*closed;
}

static int write_port_file(const char *path, int qd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  FILE *f;
  if (dmtr_getsockname(qd, (struct sockaddr *)&a, &len) != 0) return EIO;
  f = fopen(path, "w");
  if (!f) return errno;
  fprintf(f, "%u\n", (unsigned)ntohs(a.sin_port));
  return fclose(f) == 0 ? 0 : EIO;
}

static int run_server(const options_t *o) {
  token_set_t set = {NULL, NULL, 0, 0};
  int lqd = -1, rc, status = 0;
  unsigned long closed = 0;
  dmtr_qtoken_t qt;
  struct timespec tick = {0, 100 * 1000 * 1000};

  if ((rc = dmtr_socket(&lqd, AF_INET, o->tcp ? SOCK_STREAM : SOCK_DGRAM, 0)) != 0) {
    if (o->tcp && no_tcp(rc)) return EXIT_NO_TCP;
    goto fail;
  }
  if (o->tcp) {
    int one = 1;
    dmtr_setsockopt(lqd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if ((rc = dmtr_bind(lqd, (const struct sockaddr *)&o->addr, sizeof o->addr)) != 0) goto fail;
  if (o->tcp) {
    if ((rc = dmtr_listen(lqd, 1024)) != 0) goto fail;
    if ((rc = dmtr_accept(&qt, lqd)) != 0 || (rc = set_add(&set, qt, K_ACCEPT, lqd, NULL)) != 0) goto fail;
  } else {
    if ((rc = dmtr_pop(&qt, lqd)) != 0 || (rc = set_add(&set, qt, K_POP, lqd, NULL)) != 0) goto fail;
  }
  if (o->port_file && (rc = write_port_file(o->port_file, lqd)) != 0) goto fail;

  while (!g_stop && !(o->max_conns && closed >= o->max_conns)) {
    dmtr_qresult_t qr;
    int i = -1;
    pending_t p;
    rc = dmtr_timedwait_any(&qr, &i, set.qts, set.n, &tick);
    if (rc == ETIMEDOUT) continue;
    if (i < 0 || i >= set.n) {
      fprintf(stderr, "demi-echo server: wait failed: %s\n", strerror(rc));
      status = 1;
      break;
    }
    p = set.items[i];
    set_remove(&set, i);
    switch (p.kind) {
      case K_ACCEPT: {
        if (rc != 0) {
          fprintf(stderr, "demi-echo server: accept failed: %s\n", strerror(rc));
          status = 1;
          goto done;
        }
        {
          /* Echo at once: with Nagle, a partial echo would wait for the client's delayed ACK. */
          int one = 1;
          dmtr_setsockopt(qr.qr_value.ares.qd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
        }
        if ((rc = dmtr_accept(&qt, lqd)) != 0 || (rc = set_add(&set, qt, K_ACCEPT, lqd, NULL)) != 0) {
          dmtr_close(qr.qr_value.ares.qd);
          goto fail_rc;
        }
        if (repop(&set, qr.qr_value.ares.qd) != 0) server_close(&set, qr.qr_value.ares.qd, &closed);
        break;
      }
      case K_POP: {
        size_t len = 0;
        if (rc != 0) {
          if (o->tcp) { /* reset or cancelled: the connection is over */
            server_close(&set, p.qd, &closed);
          } else {   /* UDP: an error (an ICMP report) ends no "connection": keep serving */
            fprintf(stderr, "demi-echo server: pop failed: %s\n", strerror(rc));
            if ((rc = repop(&set, p.qd)) != 0) goto fail_rc;
          }
          break;
        }
        dmtr_sgalen(&len, &qr.qr_value.sga);
        if (len == 0) { /* end of stream: the client closed */
          dmtr_sgafree(&qr.qr_value.sga);
          server_close(&set, p.qd, &closed);
          break;
        }
        /* Echo the popped buffers as they are; free them when the push completed. The next pop
         * is started only then, so that a client that sends without reading makes the server
         * hold one receive's worth per connection, not an unbounded backlog. */
        if (o->tcp) rc = dmtr_push(&qt, p.qd, &qr.qr_value.sga);
        else
          rc = dmtr_pushto(&qt, p.qd, &qr.qr_value.sga, (const struct sockaddr *)&qr.qr_value.sga.sga_addr,
                           sizeof qr.qr_value.sga.sga_addr);
        if (!o->tcp) ++closed; /* a datagram counts as a "connection" for --max-conns */
        if (rc == 0) {
          if ((rc = set_add(&set, qt, K_PUSH, p.qd, &qr.qr_value.sga)) != 0) goto fail_rc; /* out of memory */
          break;
        }
        dmtr_sgafree(&qr.qr_value.sga); /* the push never started: the sga is ours again */
        if (o->tcp) {
          fprintf(stderr, "demi-echo server: push failed: %s; closing the connection\n", strerror(rc));
          server_close(&set, p.qd, &closed);
        } else if ((rc = repop(&set, p.qd)) != 0) {
          goto fail_rc;
        }
        break;
      }
      case K_PUSH:
        dmtr_sgafree(&p.sga);
        if (rc != 0 && o->tcp) { /* reset or cancelled: the connection is over */
          server_close(&set, p.qd, &closed);
        } else if ((rc = repop(&set, p.qd)) != 0) {
          goto fail_rc;
        }
        break;
    }
  }
done:
  /* Close every queue: pending operations complete with ECANCELED and are consumed. */
  while (set.n > 0) {
    int qd = set.items[0].qd;
    dmtr_close(qd);
    forget_queue(&set, qd);
  }
  free(set.items);
  free(set.qts);
  return status;
fail_rc:
  fprintf(stderr, "demi-echo server: %s\n", strerror(rc));
  status = 1;
  goto done;
fail:
  fprintf(stderr, "demi-echo server: %s\n", strerror(rc));
  if (lqd >= 0) dmtr_close(lqd);
  forget_queue(&set, lqd);
  free(set.items);
  free(set.qts);
  return 1;
}

/* ------------------------------------------------------------------ client */

typedef struct conn {
  int qd;
  unsigned long next;     /* index of the message being exchanged */
  size_t size;            /* its size */
  uint64_t key;           /* its pattern */
  uint8_t *expect;        /* its bytes, to check the echo against (o->size bytes) */
  size_t got;             /* bytes of its echo received so far */
  struct timespec start;  /* when it was pushed */
  dmtr_sgarray_t out;     /* the pushed sga (freed when its push completed) */
  int push_pending;
  int echoed; /* the whole echo of message `next` came back */
  int done;
} conn_t;

static uint64_t g_rng;
static uint64_t next_random(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

/* Message `msg` on connection `c` carries pattern_byte(pattern_key(...), off) at offset off, and
 * echoes are checked against it. The key is 64 bits (splitmix64 of seed, connection and message
 * index), so the first 8 bytes of a message from another connection or another message differ
 * all but certainly; the offset term catches bytes that moved within a message. */
static uint64_t pattern_key(unsigned long seed, unsigned long c, unsigned long msg) {
  uint64_t x = (uint64_t)seed * 0x9e3779b97f4a7c15ULL ^ (uint64_t)c * 0xbf58476d1ce4e5b9ULL ^
               ((uint64_t)msg + 1) * 0x94d049bb133111ebULL;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
static uint8_t pattern_byte(uint64_t key, size_t off) {
  return (uint8_t)((key >> (8 * (off & 7))) ^ (off >> 3) ^ (off >> 11));
}

static double elapsed_us(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) * 1e6 + (double)(b->tv_nsec - a->tv_nsec) / 1e3;
}

/* --max-ms: when the measured part started (set once the warm-up is over), and whether its time is up. */
static int g_measuring = 0;
static struct timespec g_measure_start;
static int out_of_time(const options_t *o) {
  struct timespec now;
  if (!o->max_ms || !g_measuring) return 0;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return elapsed_us(&g_measure_start, &now) >= (double)o->max_ms * 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p) {
  size_t i;
  if (n == 0) return 0;
  i = (size_t)(p * (double)n);
  if (i >= n) i = n - 1;
  return sorted[i];
}

/* Pushes message c->next of size c->size on c; 0 or an errno. */
static int send_message(const options_t *o, conn_t *c, unsigned long ci, dmtr_qtoken_t *qt) {
  size_t i;
  uint8_t *p;
  int rc = dmtr_sgaalloc(&c->out, c->size);
  if (rc) return rc;
  p = c->out.sga_segs[0].sgaseg_buf;
  c->key = pattern_key(o->seed, ci, c->next);
  for (i = 0; i < c->size; ++i) c->expect[i] = pattern_byte(c->key, i);
  memcpy(p, c->expect, c->size);
  clock_gettime(CLOCK_MONOTONIC, &c->start);
  c->got = 0;
  rc = o->tcp ? dmtr_push(qt, c->qd, &c->out)
              : dmtr_pushto(qt, c->qd, &c->out, (const struct sockaddr *)&o->addr, sizeof o->addr);
  if (rc) {
    dmtr_sgafree(&c->out);
    return rc;
  }
  c->push_pending = 1;
  return 0;
}

static size_t pick_size(const options_t *o) {
  if (!o->random_sizes) return o->size;
  return (size_t)(next_random() % o->size) + 1;
}

/* Moves connection c on once its message was both echoed and fully pushed: sends the next
 * message, or marks the connection done when every message has been sent. */
static int advance(const options_t *o, conn_t *c, unsigned long ci, unsigned long *sent, dmtr_qtoken_t *qts,
                   int *owner, int *is_push, int *n) {
  dmtr_qtoken_t qt;
  int rc;
  if (c->push_pending || !c->echoed) return 0;
  if (*sent >= o->count + o->warmup || out_of_time(o)) {
    c->done = 1;
    return 0;
  }
  c->next = (*sent)++;
  c->size = pick_size(o);
  c->echoed = 0;
  if ((rc = send_message(o, c, ci, &qt)) != 0) return rc;
  qts[*n] = qt, owner[*n] = (int)ci, is_push[*n] = 1, ++*n;
  return 0;
}

static int run_client(const options_t *o) {
  conn_t *conns = calloc(o->conns, sizeof *conns);
  double *rtts = malloc(o->count * sizeof *rtts);
  /* Two tokens per connection at most: its pop and its push. */
  dmtr_qtoken_t *qts = malloc(2 * o->conns * sizeof *qts);
  int *owner = malloc(2 * o->conns * sizeof *owner);
  int *is_push = malloc(2 * o->conns * sizeof *is_push);
  unsigned long sent = 0, done = 0, ci, retries = 0, quiet = 0;
  size_t nrtt = 0;
  int n = 0, rc = 0, status = 0;
  unsigned long long bytes = 0;
  const unsigned long total = o->count + o->warmup; /* messages exchanged, warm-up included */
  struct timespec t0, t1, timeout;
  timeout.tv_sec = (time_t)(o->timeout_ms / 1000);
  timeout.tv_nsec = (long)(o->timeout_ms % 1000) * 1000000L;
  g_rng = o->seed * 2654435761u + 1;

  if (!conns || !rtts || !qts || !owner || !is_push) {
    fprintf(stderr, "demi-echo client: out of memory\n");
    status = 1;
    goto out;
  }
  for (ci = 0; ci < o->conns; ++ci) conns[ci].qd = -1;
  for (ci = 0; ci < o->conns; ++ci) {
    if (!(conns[ci].expect = malloc(o->size ? o->size : 1))) {
      fprintf(stderr, "demi-echo client: out of memory\n");
      status = 1;
      goto out;
    }
  }
  /* Open every connection. */
  for (ci = 0; ci < o->conns; ++ci) {
    dmtr_qtoken_t qt;
    dmtr_qresult_t qr;
    if ((rc = dmtr_socket(&conns[ci].qd, AF_INET, o->tcp ? SOCK_STREAM : SOCK_DGRAM, 0)) != 0) {
      if (o->tcp && no_tcp(rc)) {
        status = EXIT_NO_TCP;
        goto out;
      }
      goto fail;
    }
    if (o->tcp) {
      int one = 1;
      dmtr_setsockopt(conns[ci].qd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
      if ((rc = dmtr_connect(&qt, conns[ci].qd, (const struct sockaddr *)&o->addr, sizeof o->addr)) != 0) goto fail;
      if ((rc = dmtr_timedwait(&qr, qt, &timeout)) != 0) goto fail;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (o->warmup == 0) {
    g_measure_start = t0;
    g_measuring = 1;
  }
  /* Start one message per connection. */
  for (ci = 0; ci < o->conns && sent < total; ++ci) {
    dmtr_qtoken_t qt;
    conns[ci].next = sent++;
    conns[ci].size = pick_size(o);
    if ((rc = send_message(o, &conns[ci], ci, &qt)) != 0) goto fail;
    qts[n] = qt, owner[n] = (int)ci, is_push[n] = 1, ++n;
    if ((rc = dmtr_pop(&qt, conns[ci].qd)) != 0) goto fail;
    qts[n] = qt, owner[n] = (int)ci, is_push[n] = 0, ++n;
  }
  for (ci = sent; ci < o->conns; ++ci) conns[ci].done = 1;

  /* With --max-ms, sending stops early (advance() marks connections done) and the loop ends
   * once every message sent has come back. */
  while (done < (o->max_ms && out_of_time(o) ? sent : total)) {
    dmtr_qresult_t qr;
    int i = -1, push;
    conn_t *c;
    struct timespec arrived; /* when the echo was there: checking its bytes is not part of the RTT */
    rc = dmtr_timedwait_any(&qr, &i, qts, n, &timeout);
    clock_gettime(CLOCK_MONOTONIC, &arrived);
    if (rc == ETIMEDOUT && i < 0) {
      /* UDP retries a lost datagram, but not forever: a server that is gone is an error. */
      if (o->tcp || ++quiet > MAX_QUIET_RETRIES) {
        fprintf(stderr, "demi-echo client: no progress for %lu ms\n", o->timeout_ms * (o->tcp ? 1 : quiet));
        status = 1;
        goto out;
      }
      /* UDP: a datagram (or its echo) was lost: send the oldest outstanding message again. */
      for (i = 0; i < n; ++i) {
        c = &conns[owner[i]];
        if (!is_push[i] && !c->push_pending && !c->done) {
          dmtr_qtoken_t qt;
          ++retries;
          if ((rc = send_message(o, c, (unsigned long)owner[i], &qt)) != 0) goto fail;
          qts[n] = qt, owner[n] = owner[i], is_push[n] = 1, ++n;
          break;
        }
      }
      continue;
    }
    if (i < 0 || i >= n) goto fail;
    c = &conns[owner[i]];
    ci = (unsigned long)owner[i];
    push = is_push[i];
    --n;
    qts[i] = qts[n], owner[i] = owner[n], is_push[i] = is_push[n];
    if (push) {
      dmtr_sgafree(&c->out);
      c->push_pending = 0;
      if (rc != 0) goto fail;
      /* The echo may have come back before we saw the push complete. */
      if ((rc = advance(o, c, ci, &sent, qts, owner, is_push, &n)) != 0) goto fail;
      continue;
    }
    if (rc != 0) goto fail;
    quiet = 0; /* an echo came back (a push completing, a retry's included, is no progress) */
    {
      const dmtr_sgarray_t *in = &qr.qr_value.sga;
      uint32_t s;
      size_t len = 0;
      int stale = 0;
      dmtr_sgalen(&len, in);
      if (len == 0) {
        fprintf(stderr, "demi-echo client: the server closed connection %lu\n", ci);
        dmtr_sgafree(&qr.qr_value.sga);
        status = 1;
        goto out;
      }
      if (!o->tcp && len != c->size) stale = 1; /* an echo of a message we already gave up on */
      for (s = 0; s < in->sga_numsegs && !stale; ++s) {
        const uint8_t *p = in->sga_segs[s].sgaseg_buf;
        uint32_t k;
        if (c->got + in->sga_segs[s].sgaseg_len > c->size) {
          fprintf(stderr, "demi-echo client: connection %lu got %zu bytes more than it sent\n", ci,
                  c->got + in->sga_segs[s].sgaseg_len - c->size);
          dmtr_sgafree(&qr.qr_value.sga);
          status = 1;
          goto out;
        }
        if (memcmp(p, c->expect + c->got, in->sga_segs[s].sgaseg_len) != 0) {
          if (!o->tcp) {
            stale = 1;
            break;
          }
          for (k = 0; p[k] == c->expect[c->got + k]; ++k) {
          }
          fprintf(stderr, "demi-echo client: connection %lu message %lu byte %zu is wrong\n", ci, c->next, c->got + k);
          dmtr_sgafree(&qr.qr_value.sga);
          status = 1;
          goto out;
        }
        if (!stale) c->got += in->sga_segs[s].sgaseg_len;
      }
      dmtr_sgafree(&qr.qr_value.sga);
      if (stale) c->got = 0;
    }
    if (c->got == c->size && !c->echoed) {
      const struct timespec now = arrived;
      if (done >= o->warmup && nrtt < o->count) rtts[nrtt++] = elapsed_us(&c->start, &now);
      if (done >= o->warmup) bytes += c->size;
      ++done;
      if (done == o->warmup) { /* the measured part starts after the warm-up */
        t0 = now;
        g_measure_start = now;
        g_measuring = 1;
      }
      c->echoed = 1;
      if ((rc = advance(o, c, ci, &sent, qts, owner, is_push, &n)) != 0) goto fail;
    }
    if (c->done) continue; /* no new pop: this connection is finished */
    {
      dmtr_qtoken_t qt;
      if ((rc = dmtr_pop(&qt, c->qd)) != 0) goto fail;
      qts[n] = qt, owner[n] = (int)ci, is_push[n] = 0, ++n;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  {
    double secs = elapsed_us(&t0, &t1) / 1e6;
    if (o->samples) {
      FILE *f = fopen(o->samples, "w");
      size_t k;
      if (!f) {
        fprintf(stderr, "demi-echo client: %s: %s\n", o->samples, strerror(errno));
        status = 1;
      } else {
        for (k = 0; k < nrtt; ++k) fprintf(f, "%.3f\n", rtts[k]);
        if (fclose(f) != 0) status = 1;
      }
    }
    done -= o->warmup; /* the figures below are of the measured part only */
    qsort(rtts, nrtt, sizeof *rtts, cmp_double);
    if (o->json)
      printf("{\"proto\": \"%s\", \"size\": %lu, \"random_sizes\": %s, \"count\": %lu, \"conns\": %lu, "
             "\"bytes\": %llu, \"p50_us\": %.3f, \"p99_us\": %.3f, \"p999_us\": %.3f, \"msgs_per_s\": %.1f, "
             "\"retries\": %lu, \"seconds\": %.3f}\n",
             o->tcp ? "tcp" : "udp", o->size, o->random_sizes ? "true" : "false", done, o->conns, bytes,
             percentile(rtts, nrtt, 0.50), percentile(rtts, nrtt, 0.99), percentile(rtts, nrtt, 0.999),
             (double)done / secs, retries, secs);
    else
      printf("demi-echo %s: %lu messages (%llu bytes) over %lu connection(s), every byte checked\n"
             "  RTT p50 %.2f us  p99 %.2f us  p99.9 %.2f us  |  %.0f msgs/s  |  %lu retries\n",
             o->tcp ? "tcp" : "udp", done, bytes, o->conns, percentile(rtts, nrtt, 0.50),
             percentile(rtts, nrtt, 0.99), percentile(rtts, nrtt, 0.999), (double)done / secs, retries);
  }
  goto out;
fail:
  fprintf(stderr, "demi-echo client: %s\n", strerror(rc));
  status = 1;
out:
  /* Closing cancels what is still pending; consume those tokens and free what they hold. */
  if (conns) {
    for (ci = 0; ci < o->conns; ++ci)
      if (conns[ci].qd >= 0) dmtr_close(conns[ci].qd);
    while (n > 0) {
      dmtr_qresult_t qr;
      --n;
      if (dmtr_wait(&qr, qts[n]) == 0 && qr.qr_opcode == DMTR_OPC_POP) dmtr_sgafree(&qr.qr_value.sga);
      if (is_push[n] && conns[owner[n]].push_pending) {
        dmtr_sgafree(&conns[owner[n]].out);
        conns[owner[n]].push_pending = 0;
      }
    }
  }
  if (conns)
    for (ci = 0; ci < o->conns; ++ci) free(conns[ci].expect);
  free(conns);
  free(rtts);
  free(qts);
  free(owner);
  free(is_push);
  return status;
}

int main(int argc, char *argv[]) {
  options_t o;
  int rc;
  struct sigaction sa;
  if (!parse_options(argc, argv, &o)) return usage();
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  if ((rc = dmtr_init(argc, argv)) != 0) {
    fprintf(stderr, "demi-echo: dmtr_init: %s\n", strerror(rc));
    return 1;
  }
  rc = o.server ? run_server(&o) : run_client(&o);
  print_counters("demi-echo", o.server ? "server" : "client");
  return rc;
}
