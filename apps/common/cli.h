/* Command-line parsing shared by demi's C tools (demi-echo, demi-send, demi-logd, demi-stream):
 * numbers with bounds, and IPv4 "address:port" pairs. Header-only, C99. */
#ifndef DEMI_APPS_CLI_H
#define DEMI_APPS_CLI_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number in [lo, hi] and nothing after it (no sign, no blanks): 1, or 0 if not. */
static inline int cli_parse_ull(const char *s, unsigned long long lo, unsigned long long hi,
                                unsigned long long *out) {
  char *end = NULL;
  unsigned long long v;
  if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') return 0;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

static inline int cli_parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  unsigned long long v;
  if (!cli_parse_ull(s, lo, hi, &v)) return 0;
  *out = (unsigned long)v;
  return 1;
}

/* "a.b.c.d:port" with the port in [min_port, 65535] (0 lets a server ask for an ephemeral one). */
static inline int cli_parse_addr(const char *s, unsigned min_port, struct sockaddr_in *out) {
  char host[64];
  const char *colon = s ? strrchr(s, ':') : NULL;
  unsigned long long port;
  size_t n;
  if (!colon) return 0;
  n = (size_t)(colon - s);
  if (n == 0 || n >= sizeof host) return 0;
  memcpy(host, s, n);
  host[n] = '\0';
  if (!cli_parse_ull(colon + 1, min_port, 65535, &port)) return 0;
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

#endif /* DEMI_APPS_CLI_H */
