/* lc_trace.c: event traces of semantic scenarios, written where LOOPCONF_TRACE_DIR says. */
#include "lc_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One trace per process (one cell per process): the open file, the clock's zero, and the
 * main thread's run-queue wait at that zero. */
static int lc_trace_fd = -1;
static int64_t lc_trace_t0;
static int64_t lc_trace_wait0;

/* "semantics.gather.order" -> "gather_order": the twin's and the trace's base name (the
 * oracle's scenario_of does the same). */
static int scenario_of(const char *test, char *out, size_t len) {
  static const char prefix[] = "semantics.";
  if (!test || strncmp(test, prefix, sizeof prefix - 1) != 0) return -EINVAL;
  const char *s = test + sizeof prefix - 1;
  size_t n = strlen(s);
  if (n == 0 || n >= len || strchr(s, '/')) return -EINVAL;
  for (size_t i = 0; i <= n; i++) out[i] = s[i] == '.' ? '_' : s[i];
  return 0;
}

int lc_trace_begin(lc_ctx *ctx) {
  lc_trace_end();
  lc_trace_t0 = lc_clock_ns();
  lc_trace_wait0 = lc_cpu_wait_ns();
  const char *dir = getenv("LOOPCONF_TRACE_DIR");
  if (!dir || !*dir) return 0;
  char scenario[256];
  if (!ctx || !ctx->b || !ctx->b->name || scenario_of(ctx->test, scenario, sizeof scenario) < 0)
    return -EINVAL;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) return -errno; /* the top only, not -p */
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/%s", dir, ctx->b->name);
  if (n < 0 || (size_t)n >= sizeof path) return -ENAMETOOLONG;
  if (mkdir(path, 0777) != 0 && errno != EEXIST) return -errno; /* parallel cells race here */
  n = snprintf(path, sizeof path, "%s/%s/%s.trace", dir, ctx->b->name, scenario);
  if (n < 0 || (size_t)n >= sizeof path) return -ENAMETOOLONG;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return -errno;
  lc_trace_fd = fd;
  return 0;
}

int64_t lc_trace_elapsed_ns(void) { return lc_clock_ns() - lc_trace_t0; }

/* Format one line (plus the timing token if `timed`) and write it with one write(). The token
 * " @<N>ms ~<W>ms" is the time since lc_trace_begin and, of it, how long the main thread
 * waited for a CPU: the oracle lets the later side be late by W on top of its tolerance, so a
 * busy machine's scheduling delays do not count as the runtime's lateness. */
static void lc_trace_line(int timed, const char *fmt, va_list ap) {
  if (lc_trace_fd < 0) return;
  int64_t ms = (lc_trace_elapsed_ns() + 500000) / 1000000; /* read before formatting */
  int64_t wait_ms = timed ? (lc_cpu_wait_ns() - lc_trace_wait0 + 500000) / 1000000 : 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf - 32, fmt, ap);
  if (n < 0) return;
  size_t len = (size_t)n < sizeof buf - 32 ? (size_t)n : sizeof buf - 33; /* truncate */
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' '; /* one event, one line */
  if (timed)
    len += (size_t)snprintf(buf + len, 32, " @%lldms ~%lldms", (long long)ms, (long long)wait_ms);
  buf[len++] = '\n';
  for (size_t off = 0; off < len;) {
    ssize_t w = write(lc_trace_fd, buf + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return; /* the oracle will see a short trace and report it */
    off += (size_t)w;
  }
}

void lc_trace(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lc_trace_line(0, fmt, ap);
  va_end(ap);
}

void lc_trace_at(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lc_trace_line(1, fmt, ap);
  va_end(ap);
}

void lc_trace_end(void) {
  if (lc_trace_fd >= 0) close(lc_trace_fd);
  lc_trace_fd = -1;
}

const char *lc_trace_code(int rc) {
  static _Thread_local char buf[32];
  if (rc == 0) return "ok";
  const char *name = rc < 0 ? strerrorname_np(-rc) : NULL;
  if (name) return name;
  snprintf(buf, sizeof buf, "rc=%d", rc);
  return buf;
}

/* ---- Runtime reports ----------------------------------------------------------------------- */

const char *lc_trace_report_kind(enum lc_report_kind kind) {
  switch (kind) {
  case LC_REPORT_SLOW_STEP: return "slow-step";
  case LC_REPORT_UNRETRIEVED_ERROR: return "unretrieved-error";
  case LC_REPORT_SWALLOWED_CANCEL: return "swallowed-cancel";
  case LC_REPORT_CANCELLED_AT_SHUTDOWN: return "cancelled-at-shutdown";
  }
  return "unknown";
}

void lc_trace_report_cb(void *reports, enum lc_report_kind kind, const char *task_name,
                        int64_t duration_ns, const char *message) {
  lc_trace_reports *r = reports;
  const char *name = task_name ? task_name : "";
  (void)message;
  if (r->n < LC_TRACE_MAX_REPORTS) {
    struct lc_trace_report *e = &r->v[r->n];
    e->kind = kind;
    snprintf(e->task, sizeof e->task, "%s", name);
    e->duration_ns = duration_ns;
  }
  r->n++;
  if (r->trace_kinds & (1u << kind)) lc_trace("report %s %s", lc_trace_report_kind(kind), name);
}

size_t lc_trace_reports_count(const lc_trace_reports *r, enum lc_report_kind kind,
                              const char *task) {
  size_t k = 0;
  for (size_t i = 0; i < r->n && i < LC_TRACE_MAX_REPORTS; i++)
    if (r->v[i].kind == kind && (!task || strcmp(r->v[i].task, task) == 0)) k++;
  return k;
}

const struct lc_trace_report *lc_trace_reports_short(const lc_trace_reports *r,
                                                     enum lc_report_kind kind,
                                                     int64_t threshold_ns) {
  for (size_t i = 0; i < r->n && i < LC_TRACE_MAX_REPORTS; i++)
    if (r->v[i].kind == kind && r->v[i].duration_ns < threshold_ns) return &r->v[i];
  return NULL;
}

int lc_trace_run(lc_ctx *ctx, const lc_run_opts *opts, lc_trace_reports *reports, lc_task_fn fn,
                 void *arg, intptr_t *result) {
  lc_run_opts o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  if (reports) {
    unsigned keep = reports->trace_kinds;
    memset(reports, 0, sizeof *reports);
    reports->trace_kinds = keep;
    if (!o.report) {
      o.report = lc_trace_report_cb;
      o.report_ctx = reports;
    }
  }
  lc_assert_ok(ctx, lc_trace_begin(ctx));
  intptr_t res = 0;
  int rc = lc_run(ctx->b, &o, fn, arg, &res);
  lc_trace("run -> %s", lc_trace_code(rc));
  lc_trace_end();
  if (result) *result = res;
  /* A failed backend voids the scenario whatever it expected of lc_run: say which operation. */
  if (rc < 0 && lc_run_error()) lc_fail(ctx, "lc_run stopped: %s", lc_run_error());
  return rc;
}
