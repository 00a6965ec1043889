/* Prints the network module's counters (dmtr_counters) to stderr on one line: the device's
 * always, the others when non-zero. Shared by demi's C tools. Header-only, C99. */
#ifndef DEMI_APPS_COUNTERS_H
#define DEMI_APPS_COUNTERS_H

#include <stdio.h>
#include <string.h>

#include <dmtr/libos.h>

static inline void print_counters(const char *prog, const char *who) {
  dmtr_counter_t c[256];
  size_t n = 0, i;
  if (dmtr_counters(c, sizeof c / sizeof c[0], &n) != 0 || n == 0) return;
  if (n > sizeof c / sizeof c[0]) n = sizeof c / sizeof c[0];
  fprintf(stderr, "%s %s counters:", prog, who);
  for (i = 0; i < n; ++i)
    if (c[i].value != 0 || strncmp(c[i].name, "device.", 7) == 0)
      fprintf(stderr, " %s=%llu", c[i].name, (unsigned long long)c[i].value);
  fprintf(stderr, "\n");
}

#endif /* DEMI_APPS_COUNTERS_H */
