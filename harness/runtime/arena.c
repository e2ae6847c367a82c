/* arena.c: see arena.h. */
#include "arena.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define LC_ARENA_PLAIN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LC_ARENA_PLAIN_BUILD 1
#endif
#endif
#ifndef LC_ARENA_PLAIN_BUILD
#define LC_ARENA_PLAIN_BUILD 0
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define LC_ARENA_UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef LC_ARENA_UNDER_VALGRIND
#define LC_ARENA_UNDER_VALGRIND() 0
#endif

#define GRAIN 16u
#define CLASSES 64u /* 16 .. 1024 bytes, in steps of 16 */
#define FIRST_CHUNK (64u << 10)
#define HUGE_CHUNK (2u << 20)

struct chunk {
  struct chunk *next;
  size_t size;
};
#define CHUNK_HDR ((sizeof(struct chunk) + GRAIN - 1) / GRAIN * GRAIN)

struct lc_arena {
  void *free_list[CLASSES];
  char *bump, *end;
  struct chunk *chunks;
  size_t next_size;
  size_t live; /* objects not freed */
  int closed;
  int plain; /* every object malloc'ed */
};

lc_arena *lc_arena_new(void) {
  lc_arena *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->next_size = FIRST_CHUNK;
  a->plain = LC_ARENA_PLAIN_BUILD || LC_ARENA_UNDER_VALGRIND();
  return a;
}

static void arena_destroy(lc_arena *a) {
  for (struct chunk *c = a->chunks, *n; c; c = n) {
    n = c->next;
    munmap(c, c->size);
  }
  free(a);
}

/* A new chunk of a->next_size bytes; the 2 MiB ones aligned to 2 MiB for a huge page. */
static int arena_grow(lc_arena *a) {
  size_t size = a->next_size;
  char *p;
  if (size >= HUGE_CHUNK) {
    char *raw = mmap(NULL, 2 * (size_t)HUGE_CHUNK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return -1;
    p = (char *)(((uintptr_t)raw + HUGE_CHUNK - 1) & ~(uintptr_t)(HUGE_CHUNK - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)((raw + 2 * (size_t)HUGE_CHUNK) - (p + HUGE_CHUNK));
    if (tail) munmap(p + HUGE_CHUNK, tail);
#ifdef MADV_HUGEPAGE
    (void)madvise(p, HUGE_CHUNK, MADV_HUGEPAGE); /* advice only: without THP, 4 KiB pages */
#endif
#ifdef MADV_POPULATE_WRITE
    /* Fault the chunk in now, in one call (Linux 5.14+; else each page faults on first use).
     * Fresh processes on the VM this was measured on: 100,000 sleeping tasks 42-84 ms beyond
     * the sleep with it, 43-150 ms without (huge-page faults there sometimes clear pages the
     * host has not backed yet); 4 KiB pages populated like this: 67-71 ms; plain: 83-87 ms. */
    (void)madvise(p, HUGE_CHUNK, MADV_POPULATE_WRITE);
#endif
  } else {
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    a->next_size = size * 2;
  }
  struct chunk *c = (struct chunk *)(void *)p;
  c->size = size;
  c->next = a->chunks;
  a->chunks = c;
  a->bump = p + CHUNK_HDR;
  a->end = p + size;
  return 0;
}

void *lc_arena_alloc(lc_arena *a, size_t size) {
  if (!a) {
    errno = EINVAL;
    return NULL;
  }
  if (size == 0) size = 1;
  void *p;
  if (a->plain || size > GRAIN * CLASSES) {
    p = malloc(size);
  } else {
    unsigned k = (unsigned)((size - 1) / GRAIN);
    size_t bytes = (size_t)(k + 1) * GRAIN;
    if ((p = a->free_list[k])) {
      a->free_list[k] = *(void **)p;
    } else {
      if ((size_t)(a->end - a->bump) < bytes && arena_grow(a) != 0) return NULL;
      p = a->bump;
      a->bump += bytes;
    }
  }
  if (p) a->live++;
  return p;
}

void *lc_arena_calloc(lc_arena *a, size_t size) {
  void *p = lc_arena_alloc(a, size);
  if (p) memset(p, 0, size ? size : 1); /* fresh chunk memory is zero already, reused is not */
  return p;
}

void lc_arena_free(lc_arena *a, void *p, size_t size) {
  if (!a || !p) return;
  if (size == 0) size = 1;
  if (a->plain || size > GRAIN * CLASSES) {
    free(p);
  } else {
    unsigned k = (unsigned)((size - 1) / GRAIN);
    *(void **)p = a->free_list[k];
    a->free_list[k] = p;
  }
  if (--a->live == 0 && a->closed) arena_destroy(a);
}

void lc_arena_close(lc_arena *a) {
  if (!a) return;
  a->closed = 1;
  if (a->live == 0) arena_destroy(a);
}

int lc_arena_is_plain(const lc_arena *a) { return a ? a->plain : 1; }
