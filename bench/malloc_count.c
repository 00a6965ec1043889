/* libdemi-malloc-count.so: counts heap allocations of a process, for the bench's "allocations
 * per request" row. Loaded with LD_PRELOAD; it forwards every call to glibc's own allocator
 * (the __libc_* entry points, so no dlsym bootstrap problem) and, when the process exits, writes
 *   allocations N
 *   frees M
 * to the file named by $DEMI_MALLOC_COUNT_FILE (stderr when unset). C++'s operator new goes
 * through malloc in libstdc++, so it is counted too. The bench runs the same exchange with two
 * message counts and divides the difference by the difference in messages: set-up and tear-down
 * cancel out and what remains is the cost per request. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static atomic_ulong g_allocs;
static atomic_ulong g_frees;

void *malloc(size_t size) {
  atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
  return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
  atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
  return __libc_calloc(n, size);
}

/* Every realloc counts: growing a buffer on the fast path is a heap operation too. */
void *realloc(void *p, size_t size) {
  atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
  return __libc_realloc(p, size);
}

void *memalign(size_t align, size_t size) {
  atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
  return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size) { return memalign(align, size); }

int posix_memalign(void **out, size_t align, size_t size) {
  void *p;
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return 22; /* EINVAL */
  p = memalign(align, size);
  if (!p && size) return 12; /* ENOMEM */
  *out = p;
  return 0;
}

void free(void *p) {
  if (p) atomic_fetch_add_explicit(&g_frees, 1, memory_order_relaxed);
  __libc_free(p);
}

__attribute__((destructor)) static void report(void) {
  const char *path = getenv("DEMI_MALLOC_COUNT_FILE");
  FILE *f = path ? fopen(path, "w") : stderr;
  if (!f) return;
  fprintf(f, "allocations %lu\nfrees %lu\n", atomic_load(&g_allocs), atomic_load(&g_frees));
  if (f != stderr) fclose(f);
}
