/* lc_trace.h: event traces of semantic scenarios, for the CPython oracle to compare.
 *
 * A semantic test (semantics_*.c) writes one line per observable event ("t1 start",
 * "gather -> [1, 2, ECANCELED]"). Its Python twin (harness/oracle/<scenario>.py) prints the
 * same lines from asyncio, and harness/oracle/oracle.py compares the two per backend.
 *
 * Line format: free text without a newline; an optional timing token at the end,
 * " @<N>ms ~<W>ms": the time since lc_trace_begin rounded to the nearest millisecond, and how
 * much of it the main thread could not run: waited, runnable, for a CPU (/proc/self/schedstat's
 * run_delay) or had its CPU taken by the hypervisor (steal; lc_cpu_wait_ns)
 * (lc_trace_at adds it). The oracle compares the text exactly and N with a tolerance scaled
 * by LOOPCONF_TIME_MULTIPLIER, widened by W for the side that is later. Put tokens only on events whose time asyncio defines (a deadline,
 * the end of a sleep), never on ones that depend on machine speed.
 *
 * Output: $LOOPCONF_TRACE_DIR/<backend name>/<scenario>.trace, one write() per line, so a
 * test that dies midway still leaves the lines it got to. Without LOOPCONF_TRACE_DIR every
 * function here is a no-op (apart from the clock). One trace per process at a time: the
 * runner gives each (backend, test) cell its own process. Loop thread only.
 */
#ifndef LC_TRACE_H
#define LC_TRACE_H

#include <stdint.h>

#include "loopconf/runtime.h"
#include "lc_test.h"

/* Start the trace of the running test for backend ctx->b and set the trace clock's zero to now.
 * The scenario's name comes from the test's own (ctx->test): "semantics.gather.order" writes
 * gather_order.trace, compared with harness/oracle/gather_order.py. Replaces an earlier trace
 * of the same cell. Returns 0 (also when tracing is off) or -errno when the file cannot be
 * created (-EINVAL for a test outside the semantics tier); the test should fail then
 * (lc_assert_ok), since the oracle would report a missing trace. */
int lc_trace_begin(lc_ctx *ctx);

/* Append one line (printf format, no trailing newline). */
void lc_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append one line followed by the timing token " @<N>ms ~<W>ms" (time since lc_trace_begin). */
void lc_trace_at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ns since lc_trace_begin on the monotonic clock (works with tracing off too). */
int64_t lc_trace_elapsed_ns(void);

/* Close the trace file. Safe to call when no trace is open. */
void lc_trace_end(void);

/* The trace spelling of a return code: "ok" for 0, the errno name for a negative errno
 * ("ECANCELED", "ETIMEDOUT"), "rc=<n>" otherwise. The Python twins use the same names
 * (errno.errorcode). Static storage per thread, valid until the next call. */
const char *lc_trace_code(int rc);

/* ---- Runtime reports, collected for the test body -------------------------------------- */

/* What lc_trace_report_cb saw, in order. Kinds whose bit (1u << kind) is in trace_kinds are
 * also written to the trace as "report <kind> <task>" ("slow-step", "unretrieved-error",
 * "swallowed-cancel", "cancelled-at-shutdown"); the rest are only counted. */
#define LC_TRACE_MAX_REPORTS 32
struct lc_trace_report {
  enum lc_report_kind kind;
  char task[64];
  int64_t duration_ns;
};
typedef struct lc_trace_reports {
  unsigned trace_kinds;
  size_t n; /* reports seen (may exceed LC_TRACE_MAX_REPORTS; v keeps the first ones) */
  struct lc_trace_report v[LC_TRACE_MAX_REPORTS];
} lc_trace_reports;

/* An lc_report_fn: set opts.report = lc_trace_report_cb, opts.report_ctx = &reports. */
void lc_trace_report_cb(void *reports, enum lc_report_kind kind, const char *task_name,
                        int64_t duration_ns, const char *message);

/* How many collected reports are of `kind` (and, if task is not NULL, name that task). */
size_t lc_trace_reports_count(const lc_trace_reports *r, enum lc_report_kind kind,
                              const char *task);

/* The first collected report of `kind` whose duration is below threshold_ns, or NULL. A step a
 * busy machine stalled (a descheduled process: 100 ms stalls happen with both cores taken) is
 * slow and rightly reported; a report of a step shorter than the threshold never is right.
 * Scenarios that expect no slow step judge the loop by what a frozen loop cannot do, and
 * reject only these. */
const struct lc_trace_report *lc_trace_reports_short(const lc_trace_reports *r,
                                                     enum lc_report_kind kind,
                                                     int64_t threshold_ns);

/* Run fn(arg) as lc_run's main task on ctx->b, traced as the running test: lc_trace_begin, lc_run,
 * the closing line "run -> <code>" (the twin prints the same after asyncio.run), lc_trace_end.
 * opts may be NULL; if reports is not NULL and opts sets no report function, every report
 * goes to reports (zeroed first) instead of stderr. Fails the test if the trace cannot be
 * created. Returns lc_run's code; *result gets main's result (result may be NULL). */
int lc_trace_run(lc_ctx *ctx, const lc_run_opts *opts, lc_trace_reports *reports, lc_task_fn fn,
                 void *arg, intptr_t *result);

/* The trace spelling of a report kind ("slow-step", ...). */
const char *lc_trace_report_kind(enum lc_report_kind kind);

#endif /* LC_TRACE_H */
