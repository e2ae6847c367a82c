/* lc_test.h: how a conformance test is written. One body per scenario, run on every backend.
 *
 * A test is a function void fn(lc_ctx *ctx) registered with LC_TEST. The runner executes each
 * (backend, test) pair in a fresh child process: it loads one backend module, finds the test by
 * name, and runs its body under cmocka (so cmocka's assert_* macros, which print the expression
 * and both values, are the assertions to use, plus the lc_assert_* helpers below). The child's
 * verdict travels back to the runner as cmocka's exit status plus the lines written by
 * lc_characteristic / lc_skip / lc_note on the result channel.
 *
 * Timing: never assert an absolute speed. Assert an ordering, or a bound with an explicit
 * tolerance passed through lc_tol_ns(), which applies the one global slow-machine multiplier
 * (LOOPCONF_TIME_MULTIPLIER, default 1). Behaviour that the contract leaves to the backend
 * (order of equal deadlines, wakeup coalescing, closing a watched fd) is recorded with
 * lc_characteristic, never asserted.
 */
#ifndef LC_TEST_H
#define LC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <cmocka.h>

#include "loopconf/backend.h"
#include "loopconf/clock.h"

/* Capabilities a test needs; a backend whose optional ops are NULL (or that does not declare
 * the capability in caps) gets SKIP. */
enum lc_needs {
  LC_NEEDS_IO = 1u << 0,     /* io_new/io_start/io_stop/io_free */
  LC_NEEDS_WAKEUP = 1u << 1, /* wakeup_new/wakeup_send/wakeup_free */
  LC_NEEDS_NOWAIT = 1u << 2, /* run(LC_RUN_NOWAIT): caps has LC_CAP_NOWAIT */
};

typedef struct lc_ctx {
  const struct lc_backend *b; /* the backend under test */
  double multiplier;          /* global slow-machine multiplier, >= 1 */
  int result_fd;              /* result channel to the runner (-1 when run by hand) */
  const char *test;           /* the test's name ("semantics.gather.order") */
} lc_ctx;

typedef void (*lc_test_fn)(lc_ctx *ctx);

struct lc_test_def {
  const char *name;    /* "loop.timer.order": tier, area, scenario */
  const char *clauses; /* space-separated clause ids from the spec/ index files (.tsv) */
  unsigned needs;      /* enum lc_needs bits */
  int timeout_ms;      /* the cell's time limit before the multiplier */
  lc_test_fn fn;
  struct lc_test_def *next;
};

/* Registry (filled by LC_TEST constructors before main runs). */
void lc_test_register(struct lc_test_def *def);
const struct lc_test_def *lc_test_first(void); /* sorted by name */
const struct lc_test_def *lc_test_find(const char *name);

/* The context of the test body running in this process (set by LC_TEST's entry), so helpers
 * without a ctx argument (assert_int_equal below) can report on the result channel. */
extern lc_ctx *lc__current_ctx;

/* LC_TEST(ident, "tier.area.scenario", "CLAUSE-1 CLAUSE-2", needs, timeout_ms) { body } */
#define LC_TEST(ident, name, clauses, needs, timeout_ms)                                           \
  static void ident(lc_ctx *ctx);                                                                  \
  static void ident##_entry(lc_ctx *ctx) {                                                         \
    lc__current_ctx = ctx;                                                                         \
    ident(ctx);                                                                                    \
  }                                                                                                \
  static struct lc_test_def ident##_def = {name, clauses, needs, timeout_ms, ident##_entry, NULL}; \
  __attribute__((constructor)) static void ident##_register(void) {                                \
    lc_test_register(&ident##_def);                                                                \
  }                                                                                                \
  static void ident(lc_ctx *ctx)

/* ---- Helpers available to test bodies --------------------------------------------------- */

/* The test's own clock, independent of the backend: lc_clock_ns() from loopconf/clock.h. */

/* base * the global multiplier: every timing tolerance goes through this. */
int64_t lc_tol_ns(const lc_ctx *ctx, int64_t base_ns);

/* How long the process's main thread has waited, runnable, for a CPU since it started: the
 * kernel's run_delay (/proc/self/schedstat), in ns; 0 where the kernel does not say. Plus,
 * on a virtual machine, the time the hypervisor took from the machine's CPUs (steal in
 * /proc/stat, summed over all CPUs: an upper bound for ours), which a guest's run_delay
 * cannot see: a vCPU the host deschedules looks to the guest like a thread that ran. On a busy
 * machine a process waits tens of ms now and then; a test whose measurement such waits can
 * fake (lateness piling up) compares the delta over its run with what it measured, and calls a
 * run the machine starved inconclusive (lc_skip "inconclusive: ...") rather than guess. */
int64_t lc_cpu_wait_ns(void);

/* Record an implementation-defined behaviour observed on this backend, e.g.
 * lc_characteristic(ctx, "equal-deadline-order", "start order"). Shown in the matrix. */
void lc_characteristic(lc_ctx *ctx, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A diagnostic line kept with the cell's log (shown for failures, in JUnit and TAP). */
void lc_note(lc_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* End the test as SKIP with a reason (capability absent). Does not return. */
#define lc_skip(ctx, reason)          \
  do {                                \
    lc__report_skip((ctx), (reason)); \
    skip();                           \
  } while (0)
void lc__report_skip(lc_ctx *ctx, const char *reason);

/* Fail with a formatted message naming what went wrong (cmocka's fail_msg, plus a FAIL line
 * on the result channel so the matrix can show the reason). Does not return. */
#define lc_fail(ctx, ...)                                    \
  do {                                                       \
    lc__report_fail((ctx), __FILE__, __LINE__, __VA_ARGS__); \
    fail();                                                  \
  } while (0)
void lc__report_fail(lc_ctx *ctx, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Assert a backend call returned 0; prints the call, its errno name and message. */
#define lc_assert_ok(ctx, expr)                                                               \
  do {                                                                                        \
    int lc__rc = (expr);                                                                      \
    if (lc__rc != 0) lc_fail((ctx), "%s returned %d (%s)", #expr, lc__rc, lc_strerr(lc__rc)); \
  } while (0)
const char *lc_strerr(int negative_errno); /* "ECANCELED: Operation canceled" */

/* A value as a test reads it: "-ECANCELED" for a negative errno, otherwise the number. Four
 * rotating buffers per thread, so one message may hold four of them. */
const char *lc_rc_name(intmax_t v);

/* cmocka's assert_int_equal prints "0xffffffffffffff83 != 0"; this one prints
 * "st.rc[1] is -ECANCELED (expected 0)", on the result channel too, and fails the same way. */
void lc__assert_int_equal(intmax_t got, intmax_t want, const char *got_expr, const char *want_expr,
                          const char *file, int line);
#undef assert_int_equal
#define assert_int_equal(a, b) \
  lc__assert_int_equal((intmax_t)(a), (intmax_t)(b), #a, #b, __FILE__, __LINE__)

/* Convenience: create a loop on ctx->b or fail; free it or fail (checks -EBUSY leaks). */
lc_loop *lc_loop_new_or_fail(lc_ctx *ctx);
void lc_loop_free_or_fail(lc_ctx *ctx, lc_loop *loop);

/* ---- Guards that do not depend on the operation under test ----------------------------
 * A test whose run() can only end through stop() must not turn a broken stop() into a cell
 * TIMEOUT. lc_watchdog_arm starts a deadline on another thread: if lc_watchdog_disarm is not
 * called within limit_ns (apply lc_tol_ns first), the cell FAILs with the message and the
 * process ends. lc_stop_watched(ctx, loop, "from the wakeup callback") calls stop() and arms
 * the watchdog for 2 s x multiplier with "stop() called <where> was ignored: ..."; disarm after
 * run() returns. One watchdog per process; arming again replaces the deadline and message. */
#define lc_watchdog_arm(ctx, limit_ns, ...) \
  lc__watchdog_arm((ctx), __FILE__, __LINE__, (limit_ns), __VA_ARGS__)
#define lc_stop_watched(ctx, loop, where) \
  lc__stop_watched((ctx), __FILE__, __LINE__, (loop), (where))
void lc__watchdog_arm(lc_ctx *ctx, const char *file, int line, int64_t limit_ns, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));
void lc_watchdog_disarm(void);
void lc__stop_watched(lc_ctx *ctx, const char *file, int line, lc_loop *loop, const char *where);

/* ---- Result channel (used by the runner's child process; tests use the helpers above) ---- */

/* Write one result-channel line "kind[<TAB>field1[<TAB>field2]]\n" to fd, with backslash, tab,
 * newline and carriage return in the fields escaped as \\ \t \n \r (field2 may be NULL, and
 * field1 too when field2 is). One write() per line. Returns 0 or -errno. */
int lc__channel_write(int fd, const char *kind, const char *field1, const char *field2);

#endif /* LC_TEST_H */
