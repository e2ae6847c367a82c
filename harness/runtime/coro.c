/* coro.c: stackful coroutines: creation, switching, sanitizer hooks and the per-thread stack pool. */
#include "coro.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

/* ---- Build configuration --------------------------------------------------------------------- */

#if defined(__x86_64__) || defined(__aarch64__)
#define LC_HAVE_ASM 1
#else
#define LC_HAVE_ASM 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define LC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LC_ASAN 1
#endif
#endif
#ifndef LC_ASAN
#define LC_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define LC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LC_TSAN 1
#endif
#endif
#ifndef LC_TSAN
#define LC_TSAN 0
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define LC_VALGRIND 1
#endif
#endif
#ifndef LC_VALGRIND
#define LC_VALGRIND 0
#endif

#if LC_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if LC_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Implemented in coro_x86_64.S / coro_aarch64.S. */
void lc__coro_asm_swap(void **save_sp, void *load_sp);
void *lc__coro_asm_make(void *top, void (*start)(void *), void *arg);

/* Implemented in coro_ucontext.c. */
int lc__coro_uc_make(ucontext_t *uc, void *stack_lo, size_t stack_size, void *co);
void lc__coro_uc_swap(ucontext_t *save, ucontext_t *load);

/* Called by the trampolines of both implementations; never returns. */
void lc__coro_start(void *co);

/* ---- The coroutine ------------------------------------------------------------------------- */

/* A coroutine's header lives at the top of its own stack mapping (no malloc):
 *
 *   map                                             map + map_size
 *   | guard page | stack (grows down) <- top | [ucontext_t] | struct lc_coro |
 *
 * The main context of a thread is a thread-local lc_coro with no mapping. */
struct lc_coro {
  void *sp;               /* asm: stack pointer of the suspended context */
  ucontext_t *uc;         /* ucontext: the suspended context (NULL for asm coroutines) */
  enum lc_coro_impl impl; /* main: the impl it was last suspended with */
  int is_main;
  void (*entry)(void *arg);
  void *arg;
  char *map; /* whole mapping, guard page included (NULL for main) */
  size_t map_size;
  char *stack_lo; /* usable stack: [stack_lo, stack_lo + stack_size) */
  size_t stack_size;
  lc_coro *next_free;     /* pool free-list link */
  struct slab *slab;      /* the slab this stack was carved from, or NULL (own mapping) */
  lc_coro_shared *shared; /* copy-stack coroutine: the stack it runs on */
  lc_arena *arena;        /* copy-stack: where its header and image live (its stack's arena) */
  char *save;             /* copy-stack: its image [sp, top) while another owns the stack */
  size_t save_len, save_cap;
  int fresh; /* copy-stack: not started yet (its first frame is built on entry) */
#if LC_VALGRIND
  unsigned vg_stack_id;
#endif
#if LC_ASAN
  void *asan_fake_stack;   /* ASan's fake stack of this context while it is suspended */
  const void *asan_bottom; /* stack bounds as ASan knows them */
  size_t asan_size;
#endif
#if LC_TSAN
  void *tsan_fiber;
#endif
};

enum {
  LC_CORO_MIN_STACK = 16 * 1024, /* smaller requests are raised to this */
  LC_POOL_MAX = 1024,            /* stacks kept per thread, all sizes together */
  LC_POOL_BUCKETS = 8            /* distinct stack sizes pooled per thread */
};

/* Per-thread state: the main context, the last context that switched (for ASan), the pool. */
static _Thread_local lc_coro tl_main;
static _Thread_local ucontext_t tl_main_uc;
#if LC_ASAN
static _Thread_local lc_coro *tl_switch_from;
#endif
static _Thread_local struct {
  size_t map_size; /* 0: bucket unused */
  lc_coro *head;
} tl_pool[LC_POOL_BUCKETS];
static _Thread_local unsigned tl_pool_count;

/* Slabs: with guard regions (MADV_GUARD_INSTALL), stacks are carved from mappings of
 * LC_SLAB_STACKS stacks each, every guard installed once when the slab is mapped. A carved stack
 * is never unmapped alone: freed, it goes back on its size's slab free list (no limit), and
 * lc_coro_pool_trim unmaps the slabs none of whose stacks is in use. So creating and freeing a
 * coroutine costs no system call except for one mmap + LC_SLAB_STACKS madvise per slab. */
struct slab {
  char *base;
  size_t len;
  size_t map_size; /* of each stack */
  unsigned carved; /* stacks handed out at least once (carving is lazy, low to high) */
  unsigned live;   /* stacks in use now */
  int bucket;      /* its index in tl_slab_free */
  struct slab *next;
};
enum { LC_SLAB_STACKS = 64 };
static _Thread_local struct {
  size_t map_size;   /* 0: bucket unused */
  lc_coro *head;     /* freed stacks of this size */
  struct slab *open; /* the slab still being carved */
} tl_slab_free[LC_POOL_BUCKETS];
static _Thread_local struct slab *tl_slabs; /* every slab of this thread */
static _Thread_local int tl_pool_registered;

static pthread_key_t pool_key;
static pthread_once_t pool_key_once = PTHREAD_ONCE_INIT;

static size_t page_size(void) {
  static _Thread_local size_t page; /* per thread: no data race for TSan to see */
  if (page == 0) page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

/* Bytes at the top of the mapping used by the header, for the given impl; a multiple of 64.
 * The lc_coro sits at the same place for both impls, the ucontext_t (if any) right below it. */
static size_t header_size(enum lc_coro_impl impl) {
  size_t n = (sizeof(lc_coro) + 63) & ~(size_t)63;
  if (impl == LC_CORO_UCONTEXT) n += (sizeof(ucontext_t) + 63) & ~(size_t)63;
  return n;
}

/* The mapping size for a requested stack size, or 0 if it overflows. */
static size_t map_size_for(size_t stack_size) {
  size_t page = page_size();
  if (stack_size < LC_CORO_MIN_STACK) stack_size = LC_CORO_MIN_STACK;
  if (stack_size > SIZE_MAX / 2) return 0;
  return ((stack_size + page - 1) & ~(page - 1)) + page;
}

/* ---- Sanitizer hooks (empty in normal builds) ---------------------------------------------- */

/* Just before leaving `from` for `to`. */
static inline void hook_before_switch(lc_coro *from, lc_coro *to) {
#if LC_ASAN
  tl_switch_from = from;
  __sanitizer_start_switch_fiber(&from->asan_fake_stack, to->asan_bottom, to->asan_size);
#endif
#if LC_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)from;
  (void)to;
}

/* First thing in `self` after it was resumed (or started). Learns the bounds of the context
 * that switched here: that is how the main context's stack becomes known to ASan. */
static inline void hook_after_switch(lc_coro *self) {
#if LC_ASAN
  lc_coro *from = tl_switch_from;
  __sanitizer_finish_switch_fiber(self->asan_fake_stack, &from->asan_bottom, &from->asan_size);
#endif
  (void)self;
}

/* ---- Stack pool ---------------------------------------------------------------------------- */

static void mapping_release(lc_coro *co) {
#if LC_VALGRIND
  VALGRIND_STACK_DEREGISTER(co->vg_stack_id);
#endif
  munmap(co->map, co->map_size);
}

/* Release every pooled stack of this thread (at runtime shutdown, and at thread exit). */
void lc_coro_pool_trim(void) {
  for (int b = 0; b < LC_POOL_BUCKETS; b++) {
    lc_coro *co = tl_pool[b].head;
    while (co) {
      lc_coro *next = co->next_free;
      mapping_release(co);
      co = next;
    }
    tl_pool[b].head = NULL;
    tl_pool[b].map_size = 0;
  }
  tl_pool_count = 0;
  /* Slabs with no stack in use go; the free stacks of the others stay listed. */
  for (int b = 0; b < LC_POOL_BUCKETS; b++) {
    lc_coro **link = &tl_slab_free[b].head;
    while (*link) {
      if ((*link)->slab->live == 0) {
#if LC_VALGRIND
        VALGRIND_STACK_DEREGISTER((*link)->vg_stack_id);
#endif
        *link = (*link)->next_free;
      } else link = &(*link)->next_free;
    }
    if (tl_slab_free[b].open && tl_slab_free[b].open->live == 0) tl_slab_free[b].open = NULL;
  }
  struct slab **sl = &tl_slabs;
  while (*sl) {
    struct slab *s = *sl;
    if (s->live == 0) {
      *sl = s->next;
      munmap(s->base, s->len);
      free(s);
    } else {
      sl = &s->next;
    }
  }
  for (int b = 0; b < LC_POOL_BUCKETS; b++) {
    int used = 0;
    for (struct slab *s = tl_slabs; s && !used; s = s->next) used = s->bucket == b;
    if (!used) /* a bucket stays while a slab of its size has stacks out (slab_put needs it) */
      tl_slab_free[b].map_size = 0;
  }
}

static void pool_thread_exit(void *unused) {
  (void)unused;
  lc_coro_pool_trim();
}

static int pool_register_exit(void);

static void pool_key_create(void) {
  if (pthread_key_create(&pool_key, pool_thread_exit) != 0)
    pool_key = (pthread_key_t)-1; /* no cleanup at thread exit; pooled stacks then leak */
}

/* A pooled mapping of exactly map_size bytes, or NULL. */
static lc_coro *pool_take(size_t map_size) {
  for (int b = 0; b < LC_POOL_BUCKETS; b++) {
    if (tl_pool[b].map_size == map_size && tl_pool[b].head) {
      lc_coro *co = tl_pool[b].head;
      tl_pool[b].head = co->next_free;
      tl_pool_count--;
      return co;
    }
  }
  return NULL;
}

/* Keep co's mapping for reuse; returns 0 if the pool is full (the caller unmaps). */
static int pool_put(lc_coro *co) {
  if (tl_pool_count >= LC_POOL_MAX) return 0;
  int slot = -1;
  for (int b = 0; b < LC_POOL_BUCKETS; b++) {
    if (tl_pool[b].map_size == co->map_size) {
      slot = b;
      break;
    }
    if (slot < 0 && tl_pool[b].head == NULL) slot = b; /* unused or empty: may take a new size */
  }
  if (slot < 0) return 0;
  pool_register_exit();
  tl_pool[slot].map_size = co->map_size;
  co->next_free = tl_pool[slot].head;
  tl_pool[slot].head = co;
  tl_pool_count++;
  return 1;
}

/* Linux 6.13+ installs guard pages inside a mapping without splitting it (MADV_GUARD_INSTALL).
 * A PROT_NONE page splits the mapping in two, and the kernel caps a process at
 * vm.max_map_count (65,530 by default) mappings: about 32,000 guarded stacks. With guard
 * regions, neighbouring stacks even merge into one mapping, so 100,000 tasks fit. Older kernels
 * answer EINVAL and we fall back to mprotect. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
static _Atomic int madvise_guards = 1; /* cleared once the kernel says it has none */

static int guard_install(char *map, size_t page) {
  if (madvise_guards) {
    if (madvise(map, page, MADV_GUARD_INSTALL) == 0) return 0;
    if (errno != EINVAL) return -1;
    madvise_guards = 0;
  }
  return mprotect(map, page, PROT_NONE);
}

int lc_coro_light_guards(void) {
  size_t page = page_size();
  char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return 0;
  int ok = guard_install(map, page) == 0 && madvise_guards;
  munmap(map, 2 * page);
  return ok;
}

/* A fresh mapping of map_size bytes with its lowest page made a guard page; the header address at
 * its top is returned (uninitialised), or NULL with errno. */
static lc_coro *mapping_new(size_t map_size) {
  size_t page = page_size();
  char *map =
      mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) return NULL;
  if (guard_install(map, page) != 0) {
    int err = errno;
    munmap(map, map_size);
    errno = err;
    return NULL;
  }
  lc_coro *co = (lc_coro *)(map + map_size - header_size(LC_CORO_ASM));
  co->map = map;
  co->map_size = map_size;
#if LC_VALGRIND
  co->vg_stack_id = VALGRIND_STACK_REGISTER(map + page, map + map_size);
#endif
  return co;
}

static int pool_register_exit(void) {
  if (!tl_pool_registered) { /* first stack pooled on this thread: trim at thread exit */
    pthread_once(&pool_key_once, pool_key_create);
    if (pool_key != (pthread_key_t)-1 && pthread_setspecific(pool_key, &tl_pool_count) == 0)
      tl_pool_registered = 1;
  }
  return tl_pool_registered;
}

/* The slab bucket for map_size (taking an unused one), or -1 if 8 other sizes hold them all. */
static int slab_bucket(size_t map_size) {
  int slot = -1;
  for (int b = 0; b < LC_POOL_BUCKETS; b++) {
    if (tl_slab_free[b].map_size == map_size) return b;
    if (slot < 0 && tl_slab_free[b].map_size == 0) slot = b;
  }
  if (slot >= 0) tl_slab_free[slot].map_size = map_size;
  return slot;
}

/* A stack carved from (or returned to) a slab: header placed at its top, or NULL with errno.
 * Only with guard regions: a PROT_NONE guard would split the slab into two mappings per stack
 * anyway, so without them every stack keeps its own mapping (mapping_new). */
static lc_coro *slab_take(size_t map_size) {
  if (!madvise_guards) return NULL;
  int b = slab_bucket(map_size);
  if (b < 0) return NULL;
  lc_coro *co = tl_slab_free[b].head;
  if (co) {
    tl_slab_free[b].head = co->next_free;
    co->slab->live++;
    return co;
  }
  struct slab *s = tl_slab_free[b].open;
  if (s == NULL || s->carved == LC_SLAB_STACKS) {
    size_t page = page_size();
    s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->map_size = map_size;
    s->bucket = b;
    s->len = map_size * LC_SLAB_STACKS;
    s->base = mmap(NULL, s->len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (s->base == MAP_FAILED) {
      free(s);
      errno = ENOMEM;
      return NULL;
    }
    for (unsigned i = 0; i < LC_SLAB_STACKS; i++)
      if (madvise(s->base + (size_t)i * map_size, page, MADV_GUARD_INSTALL) != 0) {
        int err = errno;
        munmap(s->base, s->len);
        free(s);
        if (err == EINVAL) /* no guard regions after all: per-stack mappings from now on */
          madvise_guards = 0;
        errno = err == EINVAL ? err : ENOMEM;
        return NULL;
      }
    pool_register_exit();
    s->next = tl_slabs;
    tl_slabs = s;
    tl_slab_free[b].open = s;
  }
  char *map = s->base + (size_t)s->carved++ * map_size;
  co = (lc_coro *)(map + map_size - header_size(LC_CORO_ASM));
  co->map = map;
  co->map_size = map_size;
  co->slab = s;
#if LC_VALGRIND
  co->vg_stack_id = VALGRIND_STACK_REGISTER(map + page_size(), map + map_size);
#endif
  s->live++;
  return co;
}

/* A carved stack goes back to its slab's free list (never unmapped alone). */
static void slab_put(lc_coro *co) {
  struct slab *s = co->slab;
  int b = s->bucket; /* the bucket keeps its size while the slab has a stack out */
  s->live--;
  co->next_free = tl_slab_free[b].head;
  tl_slab_free[b].head = co;
}

/* ---- Copy-stack coroutines ------------------------------------------------------------------
 *
 * Every coroutine of an lc_coro_shared runs on the same stack (one mapping with a guard, like
 * any other). The stack holds the image of one of them, its owner; switching to another first
 * copies the owner's used part [sp, top) into the owner's own buffer and copies the incoming
 * one's buffer back to the same addresses. So a suspended coroutine costs its header plus the
 * bytes its frames used, and an address on a suspended coroutine's stack means nothing until it
 * runs again (it may hold another coroutine's frames meanwhile). The copy is made from the
 * context that switches, which therefore must not run on that shared stack itself. */

struct lc_coro_shared {
  lc_coro *stack;  /* a plain coroutine header owning the mapping (never run) */
  lc_arena *arena; /* its coroutines' headers and images (and, through the runtime, tasks) */
  char *lo, *top;  /* usable stack */
  lc_coro *owner;  /* whose image is on the stack now, or NULL */
};

static void shared_entry_unused(void *arg) {
  (void)arg;
  abort();
}

lc_coro_shared *lc_coro_shared_new(size_t stack_size) {
  lc_coro_shared *sh = calloc(1, sizeof *sh);
  if (sh == NULL) return NULL;
  sh->stack = lc_coro_new(shared_entry_unused, NULL, stack_size, LC_CORO_ASM);
  if (sh->stack == NULL || (sh->arena = lc_arena_new()) == NULL) {
    int err = errno;
    lc_coro_free(sh->stack);
    free(sh);
    errno = err;
    return NULL;
  }
  sh->lo = sh->stack->stack_lo;
  sh->top = sh->stack->stack_lo + sh->stack->stack_size;
  return sh;
}

void lc_coro_shared_free(lc_coro_shared *sh) {
  if (sh == NULL) return;
  if (sh->owner) sh->owner->shared = NULL; /* misuse guard: its coroutines must be freed first */
  lc_coro_free(sh->stack);
  lc_arena_close(sh->arena); /* objects still allocated keep it until they are freed */
  free(sh);
}

lc_arena *lc_coro_shared_arena(lc_coro_shared *sh) { return sh ? sh->arena : NULL; }

/* Copy a stack image. Under ASan it is a word loop the sanitizer does not instrument (an image
 * holds ASan's redzones; here it is raw memory, copied whole; volatile so that the loop does not
 * become a call to the intercepted memcpy). Images start at a saved stack pointer and end at
 * the 16-byte aligned top, so their length is a multiple of 8. */
#if LC_ASAN
__attribute__((no_sanitize_address)) static void raw_copy(char *dst, const char *src, size_t n) {
  volatile uint64_t *d = (volatile uint64_t *)(void *)dst;
  const volatile uint64_t *s = (const volatile uint64_t *)(const void *)src;
  for (size_t i = 0; i < n / 8; i++) d[i] = s[i];
}
#else
static void raw_copy(char *dst, const char *src, size_t n) { memcpy(dst, src, n); }
#endif

/* Make `to` the owner of its shared stack; called on another stack. 0 or -1 (ENOMEM). */
static int shared_acquire(lc_coro *to) {
  lc_coro_shared *sh = to->shared;
  if (sh->owner == to) return 0;
  lc_coro *o = sh->owner;
  if (o) {
    size_t len = (size_t)(sh->top - (char *)o->sp);
    if (len > o->save_cap) { /* the old image is stale: a new buffer, nothing to keep */
      size_t cap = (len + 255) & ~(size_t)255;
      char *buf = lc_arena_alloc(o->arena, cap);
      if (buf == NULL) return -1;
      lc_arena_free(o->arena, o->save, o->save_cap);
      o->save = buf;
      o->save_cap = cap;
    }
    raw_copy(o->save, o->sp, len);
    o->save_len = len;
  }
#if LC_ASAN
  /* The shadow describes the previous owner's frames: clear it for the incoming image. */
  ASAN_UNPOISON_MEMORY_REGION(sh->lo, (size_t)(sh->top - sh->lo));
#endif
  sh->owner = to;
  if (to->fresh) {
    to->fresh = 0;
#if LC_HAVE_ASM
    to->sp = lc__coro_asm_make(sh->top, lc__coro_start, to);
#endif
  } else {
    raw_copy(sh->top - to->save_len, to->save, to->save_len);
  }
  return 0;
}

lc_coro *lc_coro_new_shared(void (*entry)(void *arg), void *arg, lc_coro_shared *sh) {
  if (entry == NULL || sh == NULL || !LC_HAVE_ASM) {
    errno = LC_HAVE_ASM ? EINVAL : ENOTSUP;
    return NULL;
  }
  lc_coro_main();
  lc_coro *co = lc_arena_calloc(sh->arena, sizeof *co);
  if (co == NULL) return NULL;
  co->arena = sh->arena;
  co->impl = LC_CORO_ASM;
  co->entry = entry;
  co->arg = arg;
  co->shared = sh;
  co->fresh = 1;
  co->stack_lo = sh->lo;
  co->stack_size = (size_t)(sh->top - sh->lo);
#if LC_ASAN
  co->asan_bottom = co->stack_lo;
  co->asan_size = co->stack_size;
#endif
#if LC_TSAN
  co->tsan_fiber = __tsan_create_fiber(0);
#endif
  return co;
}

int lc_coro_shared_own(lc_coro *co) {
  if (co == NULL || co->shared == NULL || co->fresh) return 0;
  if (shared_acquire(co) != 0) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

size_t lc_coro_saved_bytes(const lc_coro *co) {
  if (co == NULL || co->shared == NULL || co->fresh) return 0;
  return co->shared->owner == co ? (size_t)(co->shared->top - (char *)co->sp) : co->save_len;
}

static void shared_free(lc_coro *co) {
#if LC_TSAN
  if (co->tsan_fiber) __tsan_destroy_fiber(co->tsan_fiber);
#endif
  if (co->shared && co->shared->owner == co) co->shared->owner = NULL;
  lc_arena *a = co->arena;
  lc_arena_free(a, co->save, co->save_cap);
  lc_arena_free(a, co, sizeof *co);
}

/* ---- Public API ---------------------------------------------------------------------------- */

/* The calling thread's main context (created on first use). */
lc_coro *lc_coro_main(void) {
  lc_coro *m = &tl_main;
  if (!m->is_main) {
    m->is_main = 1;
    m->uc = &tl_main_uc;
    m->impl = LC_HAVE_ASM ? LC_CORO_ASM : LC_CORO_UCONTEXT;
#if LC_TSAN
    m->tsan_fiber = __tsan_get_current_fiber();
#endif
  }
  return m;
}

int lc_coro_asm_available(void) { return LC_HAVE_ASM; }

size_t lc_coro_footprint(size_t stack_size) { return map_size_for(stack_size); }

/* Create a coroutine running entry(arg) on a pooled or new stack. NULL with errno on failure. */
lc_coro *lc_coro_new(void (*entry)(void *arg), void *arg, size_t stack_size,
                     enum lc_coro_impl impl) {
  if (entry == NULL || (impl != LC_CORO_ASM && impl != LC_CORO_UCONTEXT)) {
    errno = EINVAL;
    return NULL;
  }
  if (impl == LC_CORO_ASM && !LC_HAVE_ASM) impl = LC_CORO_UCONTEXT;
  size_t map_size = map_size_for(stack_size);
  if (map_size == 0) {
    errno = ENOMEM;
    return NULL;
  }
  lc_coro_main(); /* make sure this thread's main context exists before any switch */

  /* The header's address depends on impl, so place it afresh on every use of a mapping. */
  lc_coro *slot = slab_take(map_size);
  if (slot == NULL) slot = pool_take(map_size);
  if (slot == NULL && (slot = mapping_new(map_size)) == NULL) return NULL;
  char *map = slot->map;
  struct slab *slab = slot->slab;
  size_t page = page_size();
#if LC_VALGRIND
  unsigned vg_stack_id = slot->vg_stack_id;
#endif

  char *header = map + map_size - header_size(impl);
  lc_coro *co = (lc_coro *)(map + map_size - header_size(LC_CORO_ASM));
  memset(co, 0, sizeof *co);
  co->map = map;
  co->map_size = map_size;
  co->slab = slab;
#if LC_VALGRIND
  co->vg_stack_id = vg_stack_id;
#endif
  co->impl = impl;
  co->entry = entry;
  co->arg = arg;
  co->stack_lo = map + page;
  co->stack_size = (size_t)(header - co->stack_lo) & ~(size_t)15; /* top 16-byte aligned */
#if LC_ASAN
  co->asan_bottom = co->stack_lo;
  co->asan_size = co->stack_size;
#endif

  if (impl == LC_CORO_UCONTEXT) {
    co->uc = (ucontext_t *)header;
    if (lc__coro_uc_make(co->uc, co->stack_lo, co->stack_size, co) != 0) {
      int err = errno;
      lc_coro_free(co);
      errno = err;
      return NULL;
    }
  } else {
#if LC_HAVE_ASM
    co->sp = lc__coro_asm_make(co->stack_lo + co->stack_size, lc__coro_start, co);
#endif
  }
#if LC_TSAN
  co->tsan_fiber = __tsan_create_fiber(0);
#endif
  return co;
}

/* Free a coroutine that is not running; its mapping goes back to this thread's pool. */
void lc_coro_free(lc_coro *co) {
  if (co == NULL || co->is_main) return;
  if (co->map == NULL) { /* copy-stack coroutine: its header and image are in its arena */
    shared_free(co);
    return;
  }
#if LC_TSAN
  if (co->tsan_fiber) __tsan_destroy_fiber(co->tsan_fiber);
  co->tsan_fiber = NULL;
#endif
#if LC_ASAN
  /* The coroutine never returned from its frames: clear their redzones for the next user. */
  ASAN_UNPOISON_MEMORY_REGION(co->stack_lo, co->stack_size);
#endif
  if (co->slab) slab_put(co);
  else if (!pool_put(co)) mapping_release(co);
}

/* Before switching to a copy-stack coroutine: put its image on the stack (out of line, so
 * the plain switch pays one predictable branch). */
static void shared_enter(lc_coro *from, lc_coro *to) {
  if (from->shared == to->shared) {
    fprintf(stderr,
            "loopconf: lc_coro_switch between two coroutines of one shared stack; "
            "switch through a context on another stack (see coro.h)\n");
    abort();
  }
  if (shared_acquire(to) != 0) {
    fprintf(stderr, "loopconf: out of memory saving a copy-stack coroutine's stack\n");
    abort();
  }
}

static void impl_mismatch(lc_coro *from, lc_coro *to) {
  fprintf(stderr,
          "loopconf: lc_coro_switch between different implementations (%s -> %s); a chain of "
          "switches must use one impl\n",
          from->impl == LC_CORO_ASM ? "asm" : "ucontext",
          to->impl == LC_CORO_ASM ? "asm" : "ucontext");
  abort();
}

/* The switch itself, shared by the plain and the copy-stack paths. */
static inline __attribute__((always_inline)) void switch_body(lc_coro *from, lc_coro *to) {
  if (from->is_main) from->impl = to->impl; /* the main context adapts to whatever it switches to */
  else if (from->impl != to->impl) impl_mismatch(from, to);
  hook_before_switch(from, to);
#if LC_HAVE_ASM
  if (to->impl == LC_CORO_ASM) lc__coro_asm_swap(&from->sp, to->sp);
  else
#endif
    lc__coro_uc_swap(from->uc, to->uc);
  hook_after_switch(from);
}

/* To a copy-stack coroutine: put its image on the stack first. Out of line (and reached by a
 * tail call), so the plain switch pays one predictable branch and no extra frame. */
__attribute__((noinline, cold)) static void shared_switch(lc_coro *from, lc_coro *to) {
  shared_enter(from, to);
  switch_body(from, to);
}

/* Suspend `from`, resume `to`; returns when something switches back to `from`. */
void lc_coro_switch(lc_coro *from, lc_coro *to) {
  if (__builtin_expect(to->shared != NULL, 0)) {
    shared_switch(from, to);
    return;
  }
  switch_body(from, to);
}

/* Entered once per coroutine from the trampoline, on its own stack. */
void lc__coro_start(void *p) {
  lc_coro *self = p;
  hook_after_switch(self);
  self->entry(self->arg);
  fprintf(stderr,
          "loopconf: coroutine entry function returned; it must switch away for good instead "
          "(see coro.h)\n");
  abort();
}
