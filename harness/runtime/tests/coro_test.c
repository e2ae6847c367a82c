/* coro_test.c: unit tests of the stackful coroutines (coro.h), run once per implementation. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "coro.h"
#include "loopconf/clock.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(UNDER_ASAN)
#include <sanitizer/asan_interface.h>
/* ASAN_OPTIONS=detect_stack_use_after_return=1: locals live on ASan's heap "fake stack". */
#define FAKE_STACKS() (__asan_get_current_fake_stack() != NULL)
#else
#define FAKE_STACKS() 0
#endif

static const enum lc_coro_impl impl_asm = LC_CORO_ASM;
static const enum lc_coro_impl impl_uc = LC_CORO_UCONTEXT;

static enum lc_coro_impl impl_of(void **state) { return *(const enum lc_coro_impl *)*state; }

static const char *impl_name(enum lc_coro_impl impl) {
  return impl == LC_CORO_ASM ? "asm" : "ucontext";
}

enum { STACK = 64 * 1024 };

/* ---- Switching back and forth with values -------------------------------------------------- */

/* A generator: the coroutine hands back value * 2 for every value main hands it. */
struct pingpong {
  lc_coro *main, *co;
  long in, out;
  int rounds;
};

static void pingpong_entry(void *arg) {
  struct pingpong *p = arg;
  for (;;) {
    p->out = p->in * 2;
    p->rounds++;
    lc_coro_switch(p->co, p->main);
  }
}

static void test_pingpong(void **state) {
  struct pingpong p = {.main = lc_coro_main()};
  p.co = lc_coro_new(pingpong_entry, &p, STACK, impl_of(state));
  assert_non_null(p.co);
  for (long i = 0; i < 1000; i++) {
    p.in = i;
    lc_coro_switch(p.main, p.co);
    assert_int_equal(p.out, i * 2);
    assert_int_equal(p.rounds, i + 1);
  }
  lc_coro_free(p.co);
}

/* ---- Nested creation: a coroutine creates and drives another ------------------------------- */

struct nest {
  lc_coro *main, *outer, *inner;
  enum lc_coro_impl impl;
  char log[16];
  int len;
};

static void nest_inner(void *arg) {
  struct nest *n = arg;
  n->log[n->len++] = 'i';
  lc_coro_switch(n->inner, n->outer); /* back to its creator */
  n->log[n->len++] = 'j';
  lc_coro_switch(n->inner, n->main); /* straight to main, skipping the creator */
  abort();                           /* never resumed again */
}

static void nest_outer(void *arg) {
  struct nest *n = arg;
  n->log[n->len++] = 'o';
  n->inner = lc_coro_new(nest_inner, n, STACK, n->impl);
  if (n->inner == NULL) abort();
  lc_coro_switch(n->outer, n->inner);
  n->log[n->len++] = 'p';
  lc_coro_switch(n->outer, n->main);
  n->log[n->len++] = 'q';
  lc_coro_switch(n->outer, n->inner);
  abort();
}

static void test_nested(void **state) {
  struct nest n = {.main = lc_coro_main(), .impl = impl_of(state)};
  n.outer = lc_coro_new(nest_outer, &n, STACK, n.impl);
  assert_non_null(n.outer);
  lc_coro_switch(n.main, n.outer); /* o i p */
  n.log[n.len++] = 'M';
  lc_coro_switch(n.main, n.outer); /* q j */
  n.log[n.len] = 0;
  assert_string_equal(n.log, "oipMqj");
  lc_coro_free(n.inner);
  lc_coro_free(n.outer);
}

/* ---- Many coroutines, round robin, each with live data on its stack ------------------------ */

enum { MANY = 2000, MANY_ROUNDS = 20 };

struct many {
  lc_coro *main;
  lc_coro *co[MANY];
  int count[MANY];
  int bad;
};

struct many_arg {
  struct many *m;
  int id;
};

static void many_entry(void *arg) {
  struct many_arg *a = arg;
  struct many *m = a->m;
  int id = a->id;
  unsigned char pattern[512]; /* must survive every other coroutine running in between */
  for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)(id * 31 + (int)i);
  for (;;) {
    m->count[id]++;
    lc_coro_switch(m->co[id], m->main);
    for (size_t i = 0; i < sizeof pattern; i++)
      if (pattern[i] != (unsigned char)(id * 31 + (int)i)) m->bad++;
  }
}

static void test_many(void **state) {
  struct many *m = calloc(1, sizeof *m);
  struct many_arg *args = calloc(MANY, sizeof *args);
  assert_non_null(m);
  assert_non_null(args);
  m->main = lc_coro_main();
  for (int i = 0; i < MANY; i++) {
    args[i] = (struct many_arg){m, i};
    m->co[i] = lc_coro_new(many_entry, &args[i], 16 * 1024, impl_of(state));
    assert_non_null(m->co[i]);
  }
  for (int r = 0; r < MANY_ROUNDS; r++)
    for (int i = 0; i < MANY; i++) lc_coro_switch(m->main, m->co[i]);
  for (int i = 0; i < MANY; i++) {
    assert_int_equal(m->count[i], MANY_ROUNDS);
    lc_coro_free(m->co[i]);
  }
  assert_int_equal(m->bad, 0);
  free(args);
  free(m);
}

/* ---- Stack reuse through the pool ---------------------------------------------------------- */

struct where {
  lc_coro *main, *co;
  uintptr_t frame; /* the coroutine's frame address: where its stack is */
};

static void where_entry(void *arg) {
  struct where *w = arg;
  /* Not the address of a local: ASan's use-after-return mode moves locals to a fake stack. */
  w->frame = (uintptr_t)__builtin_frame_address(0);
  for (;;) lc_coro_switch(w->co, w->main);
}

/* Run a fresh coroutine once; return its frame address. */
static uintptr_t where_once(struct where *w, size_t stack, enum lc_coro_impl impl) {
  w->co = lc_coro_new(where_entry, w, stack, impl);
  assert_non_null(w->co);
  lc_coro_switch(w->main, w->co);
  return w->frame;
}

static void test_stack_reuse(void **state) {
  enum lc_coro_impl impl = impl_of(state);
  struct where w = {.main = lc_coro_main()};
  lc_coro_pool_trim();

  uintptr_t a = where_once(&w, STACK, impl);
  lc_coro *first = w.co;
  lc_coro_free(w.co);
  uintptr_t b = where_once(&w, STACK, impl); /* the same stack comes back */
  assert_ptr_equal(w.co, first);
  assert_true(a == b);

  lc_coro *same_size = w.co; /* still in use: a second one gets a new stack */
  uintptr_t c = where_once(&w, STACK, impl);
  assert_ptr_not_equal(w.co, same_size);
  assert_true(c != a);
  lc_coro_free(w.co);
  lc_coro_free(same_size);

  /* Another size is pooled separately: it never receives a 64 KiB stack. */
  where_once(&w, 4 * STACK, impl);
  assert_ptr_not_equal(w.co, first);
  lc_coro_free(w.co);

  /* The other implementation may reuse the stack too (its header differs). */
  enum lc_coro_impl other = impl == LC_CORO_ASM ? LC_CORO_UCONTEXT : LC_CORO_ASM;
  where_once(&w, STACK, other);
  lc_coro_free(w.co);

  lc_coro_pool_trim();
}

static void test_footprint(void **state) {
  (void)state;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  assert_int_equal(lc_coro_footprint(STACK), STACK + page);
  assert_int_equal(lc_coro_footprint(STACK + 1), STACK + 2 * page);
  assert_int_equal(lc_coro_footprint(1), 16 * 1024 + page); /* raised to the 16 KiB minimum */
  assert_int_equal(lc_coro_footprint((size_t)-1), 0);       /* overflow */
}

static void noop_entry(void *arg) {
  (void)arg;
  abort();
}

static void test_bad_args(void **state) {
  (void)state;
  errno = 0;
  assert_null(lc_coro_new(NULL, NULL, STACK, LC_CORO_ASM));
  assert_int_equal(errno, EINVAL);
  errno = 0;
  assert_null(lc_coro_new(noop_entry, NULL, STACK, (enum lc_coro_impl)7));
  assert_int_equal(errno, EINVAL);
  errno = 0;
  assert_null(lc_coro_new(noop_entry, NULL, (size_t)-1, LC_CORO_ASM));
  assert_int_equal(errno, ENOMEM);
  lc_coro_free(NULL); /* a no-op */
  assert_true(lc_coro_asm_available() == 0 || lc_coro_asm_available() == 1);
#if defined(__x86_64__) || defined(__aarch64__)
  assert_int_equal(lc_coro_asm_available(), 1);
#endif
}

/* ---- Slabs: creation from a warm pool maps nothing; trim keeps stacks in use ------------- */

static long long maps_lines(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  long long n = 0;
  int c;
  if (!f) return -1;
  while ((c = getc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

static void slab_entry(void *arg) {
  struct where *w = arg;
  for (;;) {
    volatile char mark[64];
    mark[0] = 1;
    w->frame = (uintptr_t)mark;
    lc_coro_switch(w->co, w->main);
  }
}

enum { SLAB_N = 200 }; /* more than three slabs of 64 */

static void test_slab(void **state) {
  enum lc_coro_impl impl = impl_of(state);
  lc_coro *main = lc_coro_main();
  static lc_coro *cos[SLAB_N];
  static struct where ws[SLAB_N];
  lc_coro_pool_trim();
  long long base = maps_lines();
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < SLAB_N; i++) {
      ws[i].main = main;
      cos[i] = ws[i].co = lc_coro_new(slab_entry, &ws[i], STACK, impl);
      assert_non_null(cos[i]);
      lc_coro_switch(main, cos[i]);
    }
    for (int i = 0; i < SLAB_N; i++) lc_coro_free(cos[i]);
  }
  /* With guard regions, 200 live stacks cost a handful of mappings, not 200 or 400. (TSan
   * maps its own state per fiber, so the count means nothing there.) */
  int count_maps = lc_coro_light_guards() && !UNDER_TSAN && !FAKE_STACKS();
  if (count_maps) assert_true(maps_lines() - base < 16);

  /* A trim while a coroutine is alive must not unmap its stack: it keeps running. */
  ws[0].main = main;
  cos[0] = ws[0].co = lc_coro_new(slab_entry, &ws[0], STACK, impl);
  assert_non_null(cos[0]);
  lc_coro_switch(main, cos[0]);
  lc_coro_pool_trim();
  lc_coro_switch(main, cos[0]); /* would fault on an unmapped stack */
  lc_coro_free(cos[0]);
  lc_coro_pool_trim();
  if (count_maps) assert_true(maps_lines() - base < 4);
}

/* ---- Guard page: overflowing the stack faults on a PROT_NONE page ------------------------- */

enum { GUARD_HIT = 42, GUARD_OTHER_FAULT = 43 };

static volatile uintptr_t deepest;   /* lowest frame reached by overflow_recurse */
static volatile int stop_recursing;  /* never set: keeps the compiler from proving recursion */
static volatile uintptr_t entry_top; /* a local of overflow_entry: the top of the stack */

static int overflow_recurse(int depth) {
  volatile char buf[256];
  buf[0] = (char)depth;
  deepest = (uintptr_t)buf;
  if (stop_recursing) return buf[0];
  return overflow_recurse(depth + 1) + buf[0];
}

/* SIGSEGV handler (on the alternate stack): a hit is a fault just below the deepest frame: a
 * permission fault (SEGV_ACCERR) for a PROT_NONE guard page, or SEGV_MAPERR for a
 * MADV_GUARD_INSTALL guard region (Linux 6.13+). */
static void guard_handler(int sig, siginfo_t *si, void *uctx) {
  (void)sig;
  (void)uctx;
  uintptr_t addr = (uintptr_t)si->si_addr;
  /* ...and within this coroutine's own guard: a stack of STACK bytes ends less than STACK plus
   * one page below its top (with stacks carved side by side from a slab, a missing guard would
   * let the overflow run on through the neighbour below and fault much further down). */
  int hit = (si->si_code == SEGV_ACCERR || si->si_code == SEGV_MAPERR) && addr < deepest + 4096 &&
            deepest - addr < 64 * 1024 && entry_top > addr && entry_top - addr <= STACK + 4096;
  _exit(hit ? GUARD_HIT : GUARD_OTHER_FAULT);
}

static void overflow_entry(void *arg) {
  (void)arg;
  entry_top = (uintptr_t)__builtin_frame_address(0); /* the real stack, even with fake stacks */
  overflow_recurse(0);
  abort();
}

static void test_guard_page(void **state) {
  enum lc_coro_impl impl = impl_of(state);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGSEGV, &sa, NULL) != 0) _exit(2);
    /* Fillers first, so the stack that overflows sits in the middle of a slab with a
     * neighbour below it (stacks are carved from the low end). */
    for (int i = 0; i < 37; i++)
      if (lc_coro_new(overflow_entry, NULL, STACK, impl) == NULL) _exit(3);
    lc_coro *co = lc_coro_new(overflow_entry, NULL, STACK, impl);
    if (co == NULL) _exit(3);
    lc_coro_switch(lc_coro_main(), co);
    _exit(4); /* not reached */
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), GUARD_HIT);
}

/* ---- An entry function that returns aborts with a message ---------------------------------- */

static void returning_entry(void *arg) { (void)arg; }

/* Run fn in a forked child with stderr silenced; return its wait status. */
static int in_child(void (*fn)(enum lc_coro_impl), enum lc_coro_impl impl) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    signal(SIGABRT, SIG_DFL);
    FILE *null = freopen("/dev/null", "w", stderr);
    (void)null;
    fn(impl);
    _exit(0);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return status;
}

static void run_returning(enum lc_coro_impl impl) {
  lc_coro *co = lc_coro_new(returning_entry, NULL, STACK, impl);
  if (co) lc_coro_switch(lc_coro_main(), co);
}

static void test_entry_return_aborts(void **state) {
  int status = in_child(run_returning, impl_of(state));
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* Switching from an asm coroutine to a ucontext one is refused (abort). */
static lc_coro *mix_main, *mix_a, *mix_b;

static void mix_entry(void *arg) {
  (void)arg;
  lc_coro_switch(mix_a, mix_b);
  abort();
}

static void run_mixed(enum lc_coro_impl impl) {
  enum lc_coro_impl other = impl == LC_CORO_ASM ? LC_CORO_UCONTEXT : LC_CORO_ASM;
  mix_main = lc_coro_main();
  mix_a = lc_coro_new(mix_entry, NULL, STACK, impl);
  mix_b = lc_coro_new(mix_entry, NULL, STACK, other);
  if (mix_a && mix_b) lc_coro_switch(mix_main, mix_a);
}

static void test_mixed_impl_aborts(void **state) {
  if (!lc_coro_asm_available()) skip();
  int status = in_child(run_mixed, impl_of(state));
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ---- Callee-saved registers survive switches ----------------------------------------------- */

/* probe_switch(from, to, seed) fills every callee-saved register with a value derived from
 * seed, calls lc_coro_switch(from, to), and returns 0 if every register still holds its value
 * once the switch comes back (non-zero bits otherwise). Written in assembly because C cannot
 * pin values to particular registers. Main and coroutine use different seeds, so a register
 * the switch failed to save or restore shows up. */
#if defined(__x86_64__)
#define HAVE_PROBE 1
/* rbx rbp r12-r15 = seed .. seed+5 */
__asm__(
    ".text\n"
    ".p2align 4\n"
    "probe_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  subq $8, %rsp\n" /* 16-byte alignment for the call; the slot keeps seed */
    "  movq %rdx, (%rsp)\n"
    "  movq %rdx, %rbx\n"
    "  leaq 1(%rdx), %rbp\n  leaq 2(%rdx), %r12\n  leaq 3(%rdx), %r13\n"
    "  leaq 4(%rdx), %r14\n  leaq 5(%rdx), %r15\n"
    "  call lc_coro_switch@PLT\n"
    "  movq (%rsp), %rdx\n"
    "  movq %rbx, %rax\n  xorq %rdx, %rax\n"
    "  leaq 1(%rdx), %rcx\n  xorq %rbp, %rcx\n  orq %rcx, %rax\n"
    "  leaq 2(%rdx), %rcx\n  xorq %r12, %rcx\n  orq %rcx, %rax\n"
    "  leaq 3(%rdx), %rcx\n  xorq %r13, %rcx\n  orq %rcx, %rax\n"
    "  leaq 4(%rdx), %rcx\n  xorq %r14, %rcx\n  orq %rcx, %rax\n"
    "  leaq 5(%rdx), %rcx\n  xorq %r15, %rcx\n  orq %rcx, %rax\n"
    "  addq $8, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n");
#elif defined(__aarch64__)
#define HAVE_PROBE 1
/* x19-x28 = seed+1 .. seed+10, d8-d15 = the bit patterns seed+11 .. seed+18 */
#define PROBE_CHECK_X(reg, k) "  add x9, x2, #" #k "\n  eor x9, x9, " #reg "\n  orr x0, x0, x9\n"
#define PROBE_CHECK_D(reg, k) \
  "  add x9, x2, #" #k "\n  fmov x10, " #reg "\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
#define PROBE_SET_D(reg, k) "  add x9, x2, #" #k "\n  fmov " #reg ", x9\n"
__asm__(".text\n"
        ".p2align 4\n"
        "probe_switch:\n"
        "  stp x29, x30, [sp, #-176]!\n"
        "  mov x29, sp\n"
        "  stp x19, x20, [sp, #16]\n  stp x21, x22, [sp, #32]\n  stp x23, x24, [sp, #48]\n"
        "  stp x25, x26, [sp, #64]\n  stp x27, x28, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  str x2, [sp, #160]\n"
        "  add x19, x2, #1\n  add x20, x2, #2\n  add x21, x2, #3\n  add x22, x2, #4\n"
        "  add x23, x2, #5\n  add x24, x2, #6\n  add x25, x2, #7\n  add x26, x2, #8\n"
        "  add x27, x2, #9\n  add x28, x2, #10\n"
        PROBE_SET_D(d8, 11) PROBE_SET_D(d9, 12) PROBE_SET_D(d10, 13) PROBE_SET_D(d11, 14)
        PROBE_SET_D(d12, 15) PROBE_SET_D(d13, 16) PROBE_SET_D(d14, 17) PROBE_SET_D(d15, 18)
        "  bl lc_coro_switch\n"
        "  ldr x2, [sp, #160]\n"
        "  mov x0, #0\n"
        PROBE_CHECK_X(x19, 1) PROBE_CHECK_X(x20, 2) PROBE_CHECK_X(x21, 3) PROBE_CHECK_X(x22, 4)
        PROBE_CHECK_X(x23, 5) PROBE_CHECK_X(x24, 6) PROBE_CHECK_X(x25, 7) PROBE_CHECK_X(x26, 8)
        PROBE_CHECK_X(x27, 9) PROBE_CHECK_X(x28, 10)
        PROBE_CHECK_D(d8, 11) PROBE_CHECK_D(d9, 12) PROBE_CHECK_D(d10, 13) PROBE_CHECK_D(d11, 14)
        PROBE_CHECK_D(d12, 15) PROBE_CHECK_D(d13, 16) PROBE_CHECK_D(d14, 17) PROBE_CHECK_D(d15, 18)
        "  ldp x19, x20, [sp, #16]\n  ldp x21, x22, [sp, #32]\n  ldp x23, x24, [sp, #48]\n"
        "  ldp x25, x26, [sp, #64]\n  ldp x27, x28, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n  ldp d12, d13, [sp, #128]\n"
        "  ldp d14, d15, [sp, #144]\n"
        "  ldp x29, x30, [sp], #176\n"
        "  ret\n");
#else
#define HAVE_PROBE 0
#endif

#if HAVE_PROBE
uint64_t probe_switch(lc_coro *from, lc_coro *to, uint64_t seed);

struct regs {
  lc_coro *main, *co;
  uint64_t co_bad;
};

static void regs_entry(void *arg) {
  struct regs *r = arg;
  for (uint64_t round = 0;; round++)
    r->co_bad |= probe_switch(r->co, r->main, 0x5555000000000000u + round * 64);
}
#endif

static void test_callee_saved(void **state) {
#if HAVE_PROBE
  struct regs r = {.main = lc_coro_main()};
  r.co = lc_coro_new(regs_entry, &r, STACK, impl_of(state));
  assert_non_null(r.co);
  uint64_t main_bad = 0;
  for (uint64_t round = 0; round < 100; round++)
    main_bad |= probe_switch(r.main, r.co, 0x1234000000000000u + round * 64);
  assert_int_equal(main_bad, 0);
  assert_int_equal(r.co_bad, 0);
  lc_coro_free(r.co);
#else
  (void)state;
  skip();
#endif
}

/* ---- Floating-point control state ----------------------------------------------------------
 * Semantics (both impls, both architectures): the FP control state (x86-64: MXCSR and the x87
 * control word; aarch64: FPCR) is per context. A new coroutine starts with the state that was
 * current when lc_coro_new was called; after that, a change made in one context is not seen by
 * any other. Only the rounding mode is checked here: it is what programs change. */

#if defined(__x86_64__)
#define HAVE_FP_CONTROL 1
/* 0..3 = nearest, down, up, toward zero; the same encoding in MXCSR and the x87 CW. */
static unsigned get_round(void) {
  unsigned mxcsr;
  unsigned short cw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  unsigned sse = (mxcsr >> 13) & 3, x87 = (cw >> 10) & 3u;
  return sse == x87 ? sse : 99; /* 99: the two units disagree */
}
static void set_round(unsigned mode) {
  unsigned mxcsr;
  unsigned short cw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  mxcsr = (mxcsr & ~(3u << 13)) | (mode << 13);
  cw = (unsigned short)((cw & ~(3u << 10)) | (mode << 10));
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
  __asm__ volatile("fldcw %0" : : "m"(cw));
}
#elif defined(__aarch64__)
#define HAVE_FP_CONTROL 1
/* FPCR.RMode (bits 22-23): 0 nearest, 1 up, 2 down, 3 toward zero. Same 0..3 meaning not
 * needed: the test only compares values it set. */
static unsigned get_round(void) {
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return (unsigned)((fpcr >> 22) & 3);
}
static void set_round(unsigned mode) {
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  fpcr = (fpcr & ~((uint64_t)3 << 22)) | ((uint64_t)mode << 22);
  __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
#else
#define HAVE_FP_CONTROL 0
#endif

#if HAVE_FP_CONTROL
struct fpstate {
  lc_coro *main, *co;
  unsigned seen_at_start, seen_after_resume;
};

static void fp_entry(void *arg) {
  struct fpstate *f = arg;
  f->seen_at_start = get_round(); /* inherited from lc_coro_new time */
  set_round(2);
  lc_coro_switch(f->co, f->main);
  f->seen_after_resume = get_round(); /* main changed its mode meanwhile: not seen here */
  lc_coro_switch(f->co, f->main);
  abort();
}
#endif

static void test_fp_control(void **state) {
#if HAVE_FP_CONTROL
  unsigned saved = get_round();
  struct fpstate f = {.main = lc_coro_main()};
  set_round(3);
  f.co = lc_coro_new(fp_entry, &f, STACK, impl_of(state));
  set_round(1); /* after creation: the coroutine must not see this */
  assert_non_null(f.co);
  lc_coro_switch(f.main, f.co);
  unsigned main_after = get_round();
  set_round(0);
  lc_coro_switch(f.main, f.co);
  unsigned main_end = get_round();
  set_round(saved);
  assert_int_equal(f.seen_at_start, 3);
  assert_int_equal(main_after, 1); /* the coroutine's change stayed in the coroutine */
  assert_int_equal(f.seen_after_resume, 2);
  assert_int_equal(main_end, 0);
  lc_coro_free(f.co);
#else
  (void)state;
  skip();
#endif
}

/* ---- Coroutines on another thread (each thread has its own main context and pool) ---------- */

static void *thread_body(void *arg) {
  enum lc_coro_impl impl = *(enum lc_coro_impl *)arg;
  struct pingpong p = {.main = lc_coro_main()};
  p.co = lc_coro_new(pingpong_entry, &p, STACK, impl);
  if (p.co == NULL) return (void *)1;
  for (long i = 0; i < 100; i++) {
    p.in = i;
    lc_coro_switch(p.main, p.co);
    if (p.out != i * 2) return (void *)2;
  }
  lc_coro_free(p.co); /* stays pooled; the pool is trimmed at thread exit */
  return NULL;
}

static void test_threads(void **state) {
  enum lc_coro_impl impl = impl_of(state);
  pthread_t t[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, thread_body, &impl), 0);
  test_pingpong(state); /* meanwhile on this thread */
  for (int i = 0; i < 2; i++) {
    void *ret = (void *)-1;
    assert_int_equal(pthread_join(t[i], &ret), 0);
    assert_null(ret);
  }
}

/* ---- Measurements (printed, never asserted) ------------------------------------------------ */

static lc_coro *bench_main, *bench_co;

static void bench_entry(void *arg) {
  (void)arg;
  for (;;) lc_coro_switch(bench_co, bench_main);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median, min and max ns per switch (a round trip is two switches) over 9 batches. */
static void measure_switch(enum lc_coro_impl impl, double out[3]) {
  enum { BATCHES = 9 };
  double ns[BATCHES];
  bench_main = lc_coro_main();
  bench_co = lc_coro_new(bench_entry, NULL, STACK, impl);
  assert_non_null(bench_co);
  long rounds = 1000; /* batch size: doubled until a batch takes 10 ms (also warms up) */
  for (;;) {
    int64_t t0 = lc_clock_ns();
    for (long i = 0; i < rounds; i++) lc_coro_switch(bench_main, bench_co);
    if (lc_clock_ns() - t0 >= 10000000 || rounds >= (1L << 24)) break;
    rounds *= 2;
  }
  for (int b = 0; b < BATCHES; b++) {
    int64_t t0 = lc_clock_ns();
    for (long i = 0; i < rounds; i++) lc_coro_switch(bench_main, bench_co);
    ns[b] = (double)(lc_clock_ns() - t0) / (double)(2 * rounds);
  }
  lc_coro_free(bench_co);
  qsort(ns, BATCHES, sizeof ns[0], cmp_double);
  out[0] = ns[BATCHES / 2];
  out[1] = ns[0];
  out[2] = ns[BATCHES - 1];
}

static void test_switch_cost(void **state) {
  (void)state;
  double a[3], u[3];
  measure_switch(LC_CORO_ASM, a);
  measure_switch(LC_CORO_UCONTEXT, u);
  printf(
      "[ INFO     ] switch cost, median (min-max) of 9 batches: %s %.1f ns (%.1f-%.1f), "
      "ucontext %.1f ns (%.1f-%.1f), ratio %.1fx\n",
      impl_name(lc_coro_asm_available() ? LC_CORO_ASM : LC_CORO_UCONTEXT), a[0], a[1], a[2], u[0],
      u[1], u[2], u[0] / a[0]);
  assert_true(a[0] > 0 && u[0] > 0); /* the clock moved; speed itself is not asserted */
}

/* Resident and virtual memory of many suspended coroutines, from /proc/self/statm. */
static void statm(size_t *vsz, size_t *rss) {
  unsigned long v = 0, r = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  assert_non_null(f);
  assert_int_equal(fscanf(f, "%lu %lu", &v, &r), 2);
  fclose(f);
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  *vsz = v * page;
  *rss = r * page;
}

static lc_coro *rss_main;

static void rss_entry(void *arg) {
  lc_coro **self = arg;
  for (;;) lc_coro_switch(*self, rss_main);
}

/* With PROT_NONE guard pages (kernels before 6.13) each stack is two mappings, so
 * vm.max_map_count bounds how many can exist at once; with MADV_GUARD_INSTALL guard regions
 * they merge and 100,000 fit. This is the least that must fit on any kernel. */
static long coroutines_that_must_fit(void) {
  long max_maps = 65530;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f) {
    if (fscanf(f, "%ld", &max_maps) != 1) max_maps = 65530;
    fclose(f);
  }
  long n = (max_maps - 2000) / 2; /* leave room for the process's other mappings */
  return n > 100000 ? 100000 : n;
}

static void test_resident_memory(void **state) {
  enum lc_coro_impl impl = impl_of(state);
  if (UNDER_TSAN) /* TSan keeps ~800 KiB of its own state per fiber: nothing to learn here */
    skip();
  long n = UNDER_VALGRIND() ? 1000 : 100000;
  long must = UNDER_VALGRIND() ? 1000 : coroutines_that_must_fit();
  lc_coro **co = calloc((size_t)n, sizeof *co);
  assert_non_null(co);
  rss_main = lc_coro_main();
  lc_coro_pool_trim();
  size_t vsz0, rss0, vsz1, rss1;
  statm(&vsz0, &rss0);
  long made = 0;
  for (; made < n; made++) {
    co[made] = lc_coro_new(rss_entry, &co[made], STACK, impl);
    if (co[made] == NULL) break;
    lc_coro_switch(rss_main, co[made]); /* start it: now suspended inside rss_entry */
  }
  statm(&vsz1, &rss1);
  printf(
      "[ INFO     ] %s: %ld suspended coroutines, 64 KiB stacks: %.0f bytes virtual and "
      "%.0f bytes resident each (footprint %zu)\n",
      impl_name(impl), made, (double)(vsz1 - vsz0) / (double)made,
      (double)(rss1 - rss0) / (double)made, lc_coro_footprint(STACK));
  for (long i = 0; i < made; i++) lc_coro_free(co[i]);
  lc_coro_pool_trim();
  free(co);
  assert_true(made >= must);
  assert_true(rss1 - rss0 < (size_t)made * STACK / 2); /* only touched pages are resident */
}

/* ---- Copy-stack coroutines ---------------------------------------------------------------- */

struct cs {
  lc_coro *main, *co;
  int id, rounds, bad;
  int *volatile published; /* the rule test: the address of a local */
};

/* Keeps state in locals across switches and checks it each time it resumes. */
static void cs_entry(void *arg) {
  struct cs *c = arg;
  int vals[100];
  for (int i = 0; i < 100; i++) vals[i] = c->id * 1000 + i;
  for (;;) {
    c->rounds++;
    lc_coro_switch(c->co, c->main);
    for (int i = 0; i < 100; i++)
      if (vals[i] != c->id * 1000 + i) c->bad++;
  }
}

static void test_copy_stack(void **state) {
  (void)state;
  if (!lc_coro_asm_available()) skip();
  lc_coro_shared *sh = lc_coro_shared_new(STACK);
  assert_non_null(sh);
  struct cs c[3];
  for (int i = 0; i < 3; i++) {
    c[i] = (struct cs){.main = lc_coro_main(), .id = i + 1};
    c[i].co = lc_coro_new_shared(cs_entry, &c[i], sh);
    assert_non_null(c[i].co);
  }
  for (int r = 0; r < 100; r++)
    for (int i = 0; i < 3; i++) lc_coro_switch(c[i].main, c[(i + r) % 3].co);
  /* Cost of a switch that copies (two coroutines taking turns: every resume swaps images of
   * ~500 bytes), printed for COROUTINES.md; speed is not asserted. */
  enum { TURNS = 20000 };
  int64_t t0 = lc_clock_ns();
  for (int r = 0; r < TURNS; r++) lc_coro_switch(c[0].main, c[r & 1].co);
  int64_t t1 = lc_clock_ns();
  print_message("[ INFO     ] copy-stack: %.0f ns per resume+suspend with an image swap\n",
                (double)(t1 - t0) / TURNS);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(c[i].bad, 0);
    assert_int_equal(c[i].rounds, 100 + (i < 2 ? TURNS / 2 : 0));
    /* a suspended one holds only what its frames used: 400 bytes of vals and a little more */
    size_t saved = lc_coro_saved_bytes(c[i].co);
    assert_true(saved >= 400 && saved < 1024);
    lc_coro_free(c[i].co);
  }
  lc_coro_shared_free(sh);
}

/* THE RULE, shown: a pointer into a suspended copy-stack coroutine's stack points at whatever
 * runs on the shared stack now; the coroutine's own value is back only when it runs again. */
static void rule_entry(void *arg) {
  struct cs *c = arg;
  int local = c->id * 111;
  c->published = &local;
  for (;;) {
    lc_coro_switch(c->co, c->main);
    if (local != c->id * 111) c->bad++;
  }
}

static void test_copy_stack_rule(void **state) {
  (void)state;
  if (!lc_coro_asm_available()) skip();
  lc_coro_shared *sh = lc_coro_shared_new(STACK);
  assert_non_null(sh);
  struct cs a = {.main = lc_coro_main(), .id = 1}, b = {.main = lc_coro_main(), .id = 2};
  a.co = lc_coro_new_shared(rule_entry, &a, sh);
  b.co = lc_coro_new_shared(rule_entry, &b, sh);
  lc_coro_switch(a.main, a.co);
  assert_int_equal(*a.published, 111); /* a's image is still on the stack (nobody else ran) */
  lc_coro_switch(b.main, b.co);
  if (a.published != b.published) { /* ASan's fake stacks keep locals off the real stack */
    assert_true(FAKE_STACKS());
    lc_coro_switch(a.main, a.co);
    lc_coro_free(a.co);
    lc_coro_free(b.co);
    lc_coro_shared_free(sh);
    skip();
  }
  /* The same function at the same depth: b's local sits at the address a published. */
  assert_ptr_equal(a.published, b.published);
  assert_int_equal(*a.published, 222); /* reading a's local through a pointer sees b's */
  lc_coro_switch(a.main, a.co);        /* a runs again: its own value is back */
  assert_int_equal(a.bad, 0);
  assert_int_equal(*a.published, 111);
  lc_coro_free(a.co);
  lc_coro_free(b.co);
  lc_coro_shared_free(sh);
}

/* Straight from one coroutine of a shared stack to another of the same stack: abort. */
static lc_coro *shx_a, *shx_b;
static void shx_entry(void *arg) {
  (void)arg;
  lc_coro_switch(shx_a, shx_b);
  abort();
}
static void run_shared_direct(enum lc_coro_impl impl) {
  (void)impl;
  lc_coro_shared *sh = lc_coro_shared_new(STACK);
  shx_a = lc_coro_new_shared(shx_entry, NULL, sh);
  shx_b = lc_coro_new_shared(shx_entry, NULL, sh);
  if (shx_a && shx_b) lc_coro_switch(lc_coro_main(), shx_a);
  _exit(0); /* not aborted: the test fails */
}
static void test_copy_stack_direct_aborts(void **state) {
  (void)state;
  if (!lc_coro_asm_available()) skip();
  int status = in_child(run_shared_direct, LC_CORO_ASM);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* Memory: suspended copy-stack coroutines cost their header and saved image (printed; the
 * under-1-KiB target is a benchmark's business, but the image size itself is deterministic). */
static void park_entry(void *arg) {
  struct cs *c = arg;
  for (;;) lc_coro_switch(c->co, c->main);
}

static void test_copy_stack_memory(void **state) {
  (void)state;
  if (!lc_coro_asm_available()) skip();
  if (UNDER_TSAN) skip(); /* TSan keeps ~800 KiB per fiber */
  enum { N = 20000 };
  lc_coro_shared *sh = lc_coro_shared_new(STACK);
  assert_non_null(sh);
  static struct cs c[N];
  size_t vsz0, rss0, vsz1, rss1;
  statm(&vsz0, &rss0);
  for (int i = 0; i < N; i++) {
    c[i] = (struct cs){.main = lc_coro_main(), .id = i};
    c[i].co = lc_coro_new_shared(park_entry, &c[i], sh);
    assert_non_null(c[i].co);
    lc_coro_switch(c[i].main, c[i].co);
  }
  lc_coro_switch(c[0].main, c[0].co); /* the last one's image is saved too */
  statm(&vsz1, &rss1);
  size_t max_saved = 0;
  for (int i = 0; i < N; i++) {
    size_t s = lc_coro_saved_bytes(c[i].co);
    if (s > max_saved) max_saved = s;
  }
  print_message(
      "[ INFO     ] copy-stack: %d suspended coroutines: %zu bytes resident each, "
      "largest saved image %zu bytes\n",
      N, (rss1 - rss0) / N, max_saved);
  assert_true(max_saved < 1024);
  for (int i = 0; i < N; i++) lc_coro_free(c[i].co);
  lc_coro_shared_free(sh);
}

/* ---- Registry ------------------------------------------------------------------------------ */

/* One body, two entries: "<test>/asm" and "<test>/ucontext". */
#define BOTH(fn)                                      \
  {#fn "/asm", fn, NULL, NULL, (void *)&impl_asm}, {  \
#fn "/ucontext", fn, NULL, NULL, (void *)&impl_uc \
  }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      BOTH(test_pingpong),
      BOTH(test_nested),
      BOTH(test_many),
      BOTH(test_stack_reuse),
      BOTH(test_slab),
      cmocka_unit_test(test_footprint),
      cmocka_unit_test(test_bad_args),
      BOTH(test_guard_page),
      BOTH(test_entry_return_aborts),
      BOTH(test_mixed_impl_aborts),
      BOTH(test_callee_saved),
      BOTH(test_fp_control),
      BOTH(test_threads),
      cmocka_unit_test(test_switch_cost),
      BOTH(test_resident_memory),
      cmocka_unit_test(test_copy_stack),
      cmocka_unit_test(test_copy_stack_rule),
      cmocka_unit_test(test_copy_stack_direct_aborts),
      cmocka_unit_test(test_copy_stack_memory),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  lc_coro_pool_trim();
  return failed;
}
