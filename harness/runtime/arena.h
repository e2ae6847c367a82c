/* arena.h: the small-object allocator behind the copy-stack mode's per-task memory (internal).
 *
 * In LC_STACK_COPY a suspended task is three small objects (its struct, its coroutine header
 * and its stack image, ~850 bytes together), and 100,000 of them are ~85 MB touched for the
 * first time within one gather. With malloc that is ~21,000 page faults of 4 KiB, which were
 * most of the mode's CPU time (see harness/runtime/COROUTINES.md). An arena carves them from
 * chunks that grow from 64 KiB to 2 MiB; the 2 MiB chunks are 2 MiB aligned and advised
 * MADV_HUGEPAGE, so the kernel can back each with one transparent huge page (one fault
 * instead of 512) where THP is enabled ("madvise" or "always").
 *
 * Objects are rounded up to 16-byte classes up to 1 KiB (bigger ones are malloc'ed) and freed
 * ones are reused by class. Sized free: the caller passes the size it allocated. Single
 * thread: every call is made by the thread that runs the loop. Under AddressSanitizer or
 * valgrind every object is malloc'ed, so that those tools still see each one. */
#ifndef LOOPCONF_ARENA_H
#define LOOPCONF_ARENA_H

#include <stddef.h>

typedef struct lc_arena lc_arena;

lc_arena *lc_arena_new(void);                          /* NULL with errno */
void *lc_arena_alloc(lc_arena *a, size_t size);        /* uninitialised; NULL with errno */
void *lc_arena_calloc(lc_arena *a, size_t size);       /* zeroed */
void lc_arena_free(lc_arena *a, void *p, size_t size); /* size as allocated; p may be NULL */
void lc_arena_close(lc_arena *a); /* the owner is done: unmapped once its last object is freed */
int lc_arena_is_plain(const lc_arena *a); /* 1: every object is malloc'ed (ASan, valgrind) */

#endif
