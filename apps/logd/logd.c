/* demi-logd: a tiny append-only log server over the dmtr C API. Network queues and a file queue
 * live in one LibOS and are waited on together with dmtr_wait_any.
 *
 *   demi-logd server --dir D --addr IP:PORT [--port-file F] [--libos L] [--config F]
 *   demi-logd client --addr IP:PORT --count N --acked FILE [--size B] [--client-id K] [--window W]
 *   demi-logd verify --dir D --acked FILE [--acked FILE ...]
 *
 * Client -> server: records, each a little-endian u32 length and that many bytes.
 * Server -> client: for each record, once it is on stable storage, its index on this connection
 * (little-endian u64: 0, 1, 2, ...). The server acknowledges nothing that is not durable.
 *
 * The log, D/log: per record a u32 length, the CRC-32 of the payload and the payload. The file is
 * opened with O_APPEND | O_DSYNC, so the storage module completes a push only once the record is
 * on stable storage (RWF_DSYNC); the acknowledgement is pushed to the client only after that.
 * On start the server scans the log and cuts a torn tail (a record a crash left incomplete, or
 * whose checksum fails) before appending, so the log stays a clean sequence of records.
 *
 * The client's payloads are [u32 client id][u64 sequence number][bytes derived from both], so that
 * `verify` can check every record byte by byte, and that every acknowledged one is in the log once.
 * `verify` reads the log with plain stdio: a checker does not use what it checks.
 *
 * Buffers: every sga from dmtr_sgaalloc or a completed pop is freed exactly once, a pushed one only
 * after its push completed. */
#include <arpa/inet.h>
#include <dmtr/libos.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_RECORD (16u << 20)
#define MAX_CONNS 256
#define HEADER 8u /* length + crc in the log */

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

/* ---- little helpers ------------------------------------------------------------------------ */

static uint32_t crc_table[256];
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}
static uint32_t crc32_of(const unsigned char *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

static unsigned char pattern(uint32_t client, uint64_t seq, size_t i) {
  return (unsigned char)(client * 31u + seq * 7u + i * 13u + 1u);
}

/* Bytes of an sga's segments, copied into a growing buffer. */
typedef struct bytes {
  unsigned char *p;
  size_t len, cap;
} bytes_t;

static int bytes_append(bytes_t *b, const void *src, size_t n) {
  if (n == 0) return 0; /* an empty segment may have no buffer at all */
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) return ENOMEM;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, src, n);
  b->len += n;
  return 0;
}
static void bytes_consume(bytes_t *b, size_t n) {
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
}
static int bytes_append_sga(bytes_t *b, const dmtr_sgarray_t *sga, size_t *total) {
  *total = 0;
  for (uint32_t i = 0; i < sga->sga_numsegs; ++i) {
    int rc = bytes_append(b, sga->sga_segs[i].sgaseg_buf, sga->sga_segs[i].sgaseg_len);
    if (rc) return rc;
    *total += sga->sga_segs[i].sgaseg_len;
  }
  return 0;
}

/* ---- the log file: scanning (recovery and verify) ------------------------------------------ */

typedef void (*record_fn)(void *ctx, const unsigned char *payload, uint32_t len);

/* Reads every intact record of `path` in order; returns the length of the intact prefix, or -1
 * with errno set when the file cannot be read. A missing file is an empty log. */
static long long scan_log(const char *path, record_fn fn, void *ctx, long long *file_size) {
  FILE *f = fopen(path, "rb");
  *file_size = 0;
  if (!f) return errno == ENOENT ? 0 : -1;
  unsigned char header[HEADER];
  unsigned char *payload = malloc(MAX_RECORD);
  long long good = 0;
  if (!payload) {
    fclose(f);
    errno = ENOMEM;
    return -1;
  }
  for (;;) {
    if (fread(header, 1, HEADER, f) != HEADER) break;
    uint32_t len = get_u32(header), crc = get_u32(header + 4);
    if (len > MAX_RECORD || fread(payload, 1, len, f) != len || crc32_of(payload, len) != crc) break;
    if (fn) fn(ctx, payload, len);
    good += HEADER + len;
  }
  fseek(f, 0, SEEK_END);
  *file_size = ftell(f);
  free(payload);
  fclose(f);
  return good;
}

/* ---- server -------------------------------------------------------------------------------- */

enum kind { K_ACCEPT, K_POP, K_FILE, K_ACK };

typedef struct op {
  dmtr_qtoken_t qt;
  enum kind kind;
  int conn;
  dmtr_sgarray_t sga; /* what a push holds until it completes */
} op_t;

typedef struct conn {
  int qd;
  int in_use;
  int open;     /* still reading records */
  int popping;  /* a pop is outstanding */
  int pending;  /* file pushes and acks outstanding */
  uint64_t next_index;
  bytes_t in;
} conn_t;

typedef struct server {
  int listen_qd, log_qd;
  op_t *ops;
  size_t nops, capops;
  conn_t conns[MAX_CONNS];
  unsigned long records, bytes;
} server_t;

static int add_op(server_t *s, dmtr_qtoken_t qt, enum kind kind, int conn, const dmtr_sgarray_t *sga) {
  if (s->nops == s->capops) {
    size_t cap = s->capops ? s->capops * 2 : 64;
    op_t *p = realloc(s->ops, cap * sizeof *p);
    if (!p) return ENOMEM;
    s->ops = p;
    s->capops = cap;
  }
  op_t *o = &s->ops[s->nops++];
  memset(o, 0, sizeof *o);
  o->qt = qt;
  o->kind = kind;
  o->conn = conn;
  if (sga) o->sga = *sga;
  return 0;
}

static void maybe_close(server_t *s, int ci) {
  conn_t *c = &s->conns[ci];
  if (!c->in_use || c->open || c->popping || c->pending) return;
  dmtr_close(c->qd);
  free(c->in.p);
  memset(c, 0, sizeof *c);
}

static int start_pop(server_t *s, int ci) {
  dmtr_qtoken_t qt;
  int rc = dmtr_pop(&qt, s->conns[ci].qd);
  if (rc) return rc;
  s->conns[ci].popping = 1;
  return add_op(s, qt, K_POP, ci, NULL);
}

/* Every complete record in the connection's input goes to the log, each as one push. */
static int log_records(server_t *s, int ci) {
  conn_t *c = &s->conns[ci];
  while (c->in.len >= 4) {
    uint32_t len = get_u32(c->in.p);
    if (len > MAX_RECORD) {
      fprintf(stderr, "demi-logd: a client sent a record of %u bytes (at most %u): closing it\n", len, MAX_RECORD);
      c->open = 0;
      return 0;
    }
    if (c->in.len < 4 + (size_t)len) break;
    dmtr_sgarray_t sga;
    int rc = dmtr_sgaalloc(&sga, HEADER + len);
    if (rc) return rc;
    unsigned char *p = sga.sga_segs[0].sgaseg_buf;
    put_u32(p, len);
    put_u32(p + 4, crc32_of(c->in.p + 4, len));
    memcpy(p + HEADER, c->in.p + 4, len);
    bytes_consume(&c->in, 4 + (size_t)len);
    dmtr_qtoken_t qt;
    if ((rc = dmtr_push(&qt, s->log_qd, &sga))) {
      dmtr_sgafree(&sga);
      return rc;
    }
    c->pending++;
    if ((rc = add_op(s, qt, K_FILE, ci, &sga))) return rc;
  }
  return 0;
}

static int complete(server_t *s, const op_t *o, const dmtr_qresult_t *qr, int ret) {
  conn_t *c = o->conn >= 0 ? &s->conns[o->conn] : NULL;
  int rc;
  switch (o->kind) {
    case K_ACCEPT: {
      if (ret) {
        fprintf(stderr, "demi-logd: accept: %s\n", strerror(ret));
        return ret;
      }
      int ci = -1;
      for (int i = 0; i < MAX_CONNS && ci < 0; ++i)
        if (!s->conns[i].in_use) ci = i;
      if (ci < 0) {
        fprintf(stderr, "demi-logd: more than %d clients: refusing one\n", MAX_CONNS);
        dmtr_close(qr->qr_value.ares.qd);
      } else {
        memset(&s->conns[ci], 0, sizeof s->conns[ci]);
        s->conns[ci].qd = qr->qr_value.ares.qd;
        s->conns[ci].in_use = s->conns[ci].open = 1;
        if ((rc = start_pop(s, ci))) return rc;
      }
      dmtr_qtoken_t qt;
      if ((rc = dmtr_accept(&qt, s->listen_qd))) return rc;
      return add_op(s, qt, K_ACCEPT, -1, NULL);
    }
    case K_POP: {
      c->popping = 0;
      size_t got = 0;
      if (ret == 0) {
        dmtr_sgarray_t sga = qr->qr_value.sga;
        rc = bytes_append_sga(&c->in, &sga, &got);
        dmtr_sgafree(&sga);
        if (rc) return rc;
      }
      if (ret || got == 0) { /* the client closed or left */
        c->open = 0;
        maybe_close(s, o->conn);
        return 0;
      }
      if ((rc = log_records(s, o->conn))) return rc;
      if (c->open) return start_pop(s, o->conn);
      maybe_close(s, o->conn);
      return 0;
    }
    case K_FILE: {
      dmtr_sgarray_t sga = o->sga;
      size_t len = sga.sga_segs[0].sgaseg_len;
      dmtr_sgafree(&sga);
      c->pending--;
      if (ret) {
        fprintf(stderr, "demi-logd: appending to the log failed: %s\n", strerror(ret));
        return ret;
      }
      s->records++;
      s->bytes += len;
      if (!c->open && !c->popping) { /* nobody to tell: the client left */
        maybe_close(s, o->conn);
        return 0;
      }
      dmtr_sgarray_t ack;
      if ((rc = dmtr_sgaalloc(&ack, 8))) return rc;
      put_u64(ack.sga_segs[0].sgaseg_buf, c->next_index++);
      dmtr_qtoken_t qt;
      if ((rc = dmtr_push(&qt, c->qd, &ack))) {
        dmtr_sgafree(&ack);
        c->open = 0;
        maybe_close(s, o->conn);
        return 0;
      }
      c->pending++;
      return add_op(s, qt, K_ACK, o->conn, &ack);
    }
    case K_ACK: {
      dmtr_sgarray_t sga = o->sga;
      dmtr_sgafree(&sga);
      c->pending--;
      if (ret) c->open = 0;
      maybe_close(s, o->conn);
      return 0;
    }
  }
  return EINVAL;
}

static void count_record(void *ctx, const unsigned char *payload, uint32_t len) {
  (void)payload;
  (void)len;
  ++*(unsigned long *)ctx;
}

static int run_server(const char *dir, const struct sockaddr_in *addr, const char *port_file) {
  char path[4096];
  snprintf(path, sizeof path, "%s/log", dir);
  unsigned long recovered = 0;
  long long size = 0, good = scan_log(path, count_record, &recovered, &size);
  if (good < 0) {
    fprintf(stderr, "demi-logd: cannot read %s: %s\n", path, strerror(errno));
    return 1;
  }
  if (good < size) {
    fprintf(stderr, "demi-logd: %s: cutting a torn tail of %lld bytes after %lu intact records\n", path,
            size - good, recovered);
    if (truncate(path, good) != 0) {
      fprintf(stderr, "demi-logd: truncate %s: %s\n", path, strerror(errno));
      return 1;
    }
  }
  printf("demi-logd: recovered %lu records (%lld bytes) from %s\n", recovered, good, path);
  fflush(stdout);

  server_t *s = calloc(1, sizeof *s);
  if (!s) return 1;
  int rc = dmtr_open2(&s->log_qd, path, O_WRONLY | O_CREAT | O_APPEND | O_DSYNC, 0644);
  if (rc) {
    fprintf(stderr, "demi-logd: open %s: %s\n", path, strerror(rc));
    free(s);
    return 1;
  }
  dmtr_qtoken_t qt;
  if ((rc = dmtr_socket(&s->listen_qd, AF_INET, SOCK_STREAM, 0)) ||
      (rc = dmtr_bind(s->listen_qd, (const struct sockaddr *)addr, sizeof *addr)) ||
      (rc = dmtr_listen(s->listen_qd, 128)) || (rc = dmtr_accept(&qt, s->listen_qd)) ||
      (rc = add_op(s, qt, K_ACCEPT, -1, NULL))) {
    fprintf(stderr, "demi-logd: listening: %s\n", strerror(rc));
    free(s);
    return 1;
  }
  if (port_file) {
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    FILE *f;
    if (dmtr_getsockname(s->listen_qd, (struct sockaddr *)&bound, &blen) || !(f = fopen(port_file, "w"))) {
      fprintf(stderr, "demi-logd: cannot write the port file %s\n", port_file);
      free(s);
      return 1;
    }
    fprintf(f, "%u\n", ntohs(bound.sin_port));
    fclose(f);
  }
  printf("demi-logd: listening on %s:%u\n", inet_ntoa(addr->sin_addr), ntohs(addr->sin_port));
  fflush(stdout);

  dmtr_qtoken_t *qts = NULL;
  size_t capqts = 0;
  int status = 0;
  while (!g_stop) {
    if (capqts < s->nops) {
      capqts = s->capops;
      dmtr_qtoken_t *p = realloc(qts, capqts * sizeof *p);
      if (!p) {
        status = 1;
        break;
      }
      qts = p;
    }
    for (size_t i = 0; i < s->nops; ++i) qts[i] = s->ops[i].qt;
    dmtr_qresult_t qr;
    int idx = -1;
    struct timespec tick = {0, 100 * 1000 * 1000}; /* to notice SIGTERM */
    rc = dmtr_timedwait_any(&qr, &idx, qts, (int)s->nops, &tick);
    if (idx < 0) {
      if (rc == ETIMEDOUT) continue;
      fprintf(stderr, "demi-logd: wait: %s\n", strerror(rc));
      status = 1;
      break;
    }
    op_t o = s->ops[idx];
    s->ops[idx] = s->ops[--s->nops];
    if ((rc = complete(s, &o, &qr, rc))) {
      status = 1;
      break;
    }
  }
  printf("demi-logd: %lu records (%lu bytes) made durable and acknowledged in this run\n", s->records, s->bytes);
  free(qts);
  free(s->ops);
  for (int i = 0; i < MAX_CONNS; ++i) free(s->conns[i].in.p);
  free(s);
  return status;
}

/* ---- client -------------------------------------------------------------------------------- */

static int run_client(const struct sockaddr_in *addr, unsigned long count, unsigned long size,
                      unsigned long client_id, unsigned long window, const char *acked_path) {
  FILE *acked = fopen(acked_path, "a");
  if (!acked) {
    fprintf(stderr, "demi-logd client: cannot open %s: %s\n", acked_path, strerror(errno));
    return 1;
  }
  int qd, rc;
  dmtr_qtoken_t qt;
  dmtr_qresult_t qr;
  if ((rc = dmtr_socket(&qd, AF_INET, SOCK_STREAM, 0)) ||
      (rc = dmtr_connect(&qt, qd, (const struct sockaddr *)addr, sizeof *addr)) || (rc = dmtr_wait(&qr, qt))) {
    fprintf(stderr, "demi-logd client: connect: %s\n", strerror(rc));
    fclose(acked);
    return 1;
  }
  /* Token 0 is the pop for acknowledgements; the others are pushes in flight, with their sgas. */
  dmtr_qtoken_t *qts = calloc(window + 1, sizeof *qts);
  dmtr_sgarray_t *sgas = calloc(window + 1, sizeof *sgas);
  bytes_t in = {0};
  int status = 0;
  unsigned long sent = 0, acks = 0, pushes = 0;
  if (!qts || !sgas || (rc = dmtr_pop(&qts[0], qd))) {
    fprintf(stderr, "demi-logd client: start: %s\n", strerror(rc ? rc : ENOMEM));
    status = 1;
    goto out;
  }
  size_t payload = size < 12 ? 12 : size;
  while (acks < count) {
    while (sent < count && sent - acks < window && pushes < window) {
      dmtr_sgarray_t sga;
      if ((rc = dmtr_sgaalloc(&sga, 4 + payload))) {
        status = 1;
        goto out;
      }
      unsigned char *p = sga.sga_segs[0].sgaseg_buf;
      put_u32(p, (uint32_t)payload);
      put_u32(p + 4, (uint32_t)client_id);
      put_u64(p + 8, sent);
      for (size_t i = 12; i < payload; ++i) p[4 + i] = pattern((uint32_t)client_id, sent, i);
      if ((rc = dmtr_push(&qts[1 + pushes], qd, &sga))) {
        dmtr_sgafree(&sga);
        fprintf(stderr, "demi-logd client: push: %s\n", strerror(rc));
        status = 3;
        goto out;
      }
      sgas[1 + pushes] = sga;
      ++pushes;
      ++sent;
    }
    int idx = -1;
    rc = dmtr_wait_any(&qr, &idx, qts, (int)(1 + pushes));
    if (idx < 0) {
      fprintf(stderr, "demi-logd client: wait: %s\n", strerror(rc));
      status = 1;
      goto out;
    }
    if (idx > 0) { /* a push completed: free its buffer, fill the hole */
      dmtr_sgafree(&sgas[idx]);
      qts[idx] = qts[pushes];
      sgas[idx] = sgas[pushes];
      --pushes;
      if (rc) {
        fprintf(stderr, "demi-logd client: the server went away (push: %s) after %lu acknowledgements\n",
                strerror(rc), acks);
        status = 3;
        goto out;
      }
      continue;
    }
    size_t got = 0;
    if (rc == 0) {
      dmtr_sgarray_t sga = qr.qr_value.sga;
      int arc = bytes_append_sga(&in, &sga, &got);
      dmtr_sgafree(&sga);
      if (arc) {
        status = 1;
        goto out;
      }
    }
    if (rc || got == 0) {
      fprintf(stderr, "demi-logd client: the server went away (%s) after %lu acknowledgements\n",
              rc ? strerror(rc) : "end of stream", acks);
      qts[0] = 0;
      status = 3;
      goto out;
    }
    while (in.len >= 8) {
      uint64_t index = get_u64(in.p);
      bytes_consume(&in, 8);
      if (index != acks) {
        fprintf(stderr, "demi-logd client: acknowledgement %llu where %lu was due\n", (unsigned long long)index, acks);
        status = 1;
        goto out;
      }
      fprintf(acked, "%lu %lu\n", client_id, acks);
      fflush(acked); /* the test kills the server, not us: the page cache is enough */
      ++acks;
    }
    if ((rc = dmtr_pop(&qts[0], qd))) {
      qts[0] = 0;
      status = 3;
      goto out;
    }
  }
  printf("demi-logd client %lu: %lu records acknowledged\n", client_id, acks);
out:
  /* Closing the queue cancels what is still in flight; then its buffers can go. */
  dmtr_close(qd);
  if (sgas)
    for (unsigned long i = 1; i <= pushes; ++i) dmtr_sgafree(&sgas[i]);
  free(qts);
  free(sgas);
  free(in.p);
  fclose(acked);
  return status;
}

/* ---- verify -------------------------------------------------------------------------------- */

typedef struct seen {
  uint64_t *keys; /* (client << 40 | seq) + 1; 0 = empty */
  size_t cap, n;
  unsigned long bad, dups;
} seen_t;

static int seen_find(const seen_t *s, uint64_t key, size_t *slot) {
  size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
  while (s->keys[i] && s->keys[i] != key) i = (i + 1) & (s->cap - 1);
  *slot = i;
  return s->keys[i] == key;
}

static void seen_record(void *ctx, const unsigned char *payload, uint32_t len) {
  seen_t *s = ctx;
  if (len < 12) {
    ++s->bad;
    return;
  }
  uint32_t client = get_u32(payload);
  uint64_t seq = get_u64(payload + 4);
  for (size_t i = 12; i < len; ++i)
    if (payload[i] != pattern(client, seq, i)) {
      ++s->bad;
      return;
    }
  if (s->n * 2 >= s->cap) {
    seen_t bigger = {calloc(s->cap * 2, sizeof(uint64_t)), s->cap * 2, 0, s->bad, s->dups};
    if (!bigger.keys) {
      ++s->bad;
      return;
    }
    for (size_t i = 0; i < s->cap; ++i) {
      size_t slot;
      if (s->keys[i] && !seen_find(&bigger, s->keys[i], &slot)) bigger.keys[slot] = s->keys[i], ++bigger.n;
    }
    free(s->keys);
    *s = bigger;
  }
  uint64_t key = (((uint64_t)client << 40) | seq) + 1;
  size_t slot;
  if (seen_find(s, key, &slot)) {
    ++s->dups;
    return;
  }
  s->keys[slot] = key;
  ++s->n;
}

static int run_verify(const char *dir, const char **acked, int nacked) {
  char path[4096];
  snprintf(path, sizeof path, "%s/log", dir);
  seen_t s = {calloc(1024, sizeof(uint64_t)), 1024, 0, 0, 0};
  long long size = 0, good = scan_log(path, seen_record, &s, &size);
  if (good < 0 || !s.keys) {
    fprintf(stderr, "verify: cannot read %s: %s\n", path, strerror(errno));
    return 1;
  }
  int status = 0;
  if (s.bad || s.dups) {
    fprintf(stderr, "verify: %lu records with wrong bytes, %lu duplicates\n", s.bad, s.dups);
    status = 1;
  }
  unsigned long checked = 0, missing = 0;
  for (int a = 0; a < nacked; ++a) {
    FILE *f = fopen(acked[a], "r");
    if (!f) {
      fprintf(stderr, "verify: cannot read %s: %s\n", acked[a], strerror(errno));
      return 1;
    }
    unsigned long client, seq;
    while (fscanf(f, "%lu %lu", &client, &seq) == 2) {
      size_t slot;
      ++checked;
      if (!seen_find(&s, (((uint64_t)client << 40) | seq) + 1, &slot)) {
        if (missing++ < 5) fprintf(stderr, "verify: acknowledged record %lu/%lu is not in the log\n", client, seq);
      }
    }
    fclose(f);
  }
  printf("verify: %zu intact records in the log (%lld bytes, %lld bytes of torn tail); %lu acknowledged, %lu missing\n",
         s.n, good, size - good, checked, missing);
  free(s.keys);
  return status || missing ? 1 : 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

static int usage(void) {
  fprintf(stderr,
          "usage: demi-logd server --dir D --addr IP:PORT [--port-file F] [--libos L] [--config F]\n"
          "       demi-logd client --addr IP:PORT --count N --acked FILE [--size B] [--client-id K] [--window W]\n"
          "       demi-logd verify --dir D --acked FILE [--acked FILE ...]\n");
  return 2;
}

int main(int argc, char *argv[]) {
  if (argc < 2) return usage();
  crc_init();
  const char *mode = argv[1], *dir = NULL, *port_file = NULL, *acked[64];
  int nacked = 0, have_addr = 0;
  struct sockaddr_in addr;
  unsigned long count = 0, size = 64, client_id = 1, window = 8;
  for (int i = 2; i < argc; i += 2) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage();
    if (!strcmp(k, "--dir")) dir = v;
    else if (!strcmp(k, "--addr")) {
      if (!cli_parse_addr(v, 0, &addr)) return usage();
      have_addr = 1;
    } else if (!strcmp(k, "--port-file")) port_file = v;
    else if (!strcmp(k, "--acked")) {
      if (nacked == 64) return usage();
      acked[nacked++] = v;
    } else if (!strcmp(k, "--count")) {
      if (!cli_parse_ulong(v, 1, 1ul << 40, &count)) return usage();
    } else if (!strcmp(k, "--size")) {
      if (!cli_parse_ulong(v, 12, MAX_RECORD, &size)) return usage();
    } else if (!strcmp(k, "--client-id")) {
      if (!cli_parse_ulong(v, 0, 0xFFFFFF, &client_id)) return usage();
    } else if (!strcmp(k, "--window")) {
      if (!cli_parse_ulong(v, 1, 4096, &window)) return usage();
    } else if (strcmp(k, "--libos") && strcmp(k, "--config"))
      return usage();
  }
  if (!strcmp(mode, "verify")) return dir && nacked ? run_verify(dir, acked, nacked) : usage();
  if (!have_addr) return usage();
  if (!strcmp(mode, "server") && !dir) return usage();
  if (!strcmp(mode, "client") && (!count || !nacked)) return usage();

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  int rc = dmtr_init(argc, argv);
  if (rc) {
    fprintf(stderr, "demi-logd: dmtr_init: %s\n", strerror(rc));
    return 1;
  }
  if (!strcmp(mode, "server")) return run_server(dir, &addr, port_file);
  if (!strcmp(mode, "client")) return run_client(&addr, count, size, client_id, window, acked[0]);
  return usage();
}
