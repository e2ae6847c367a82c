/* lc_test.c: the test support library: registry, clocks, tolerances and the result channel. */
#include "lc_test.h"
#include "host.h" /* harness/common: lch_host_steal_ms */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- Registry --------------------------------------------------------------------------- */

/* Kept sorted by name as tests register (constructors run in link order, not name order). */
static struct lc_test_def *lc_tests;

void lc_test_register(struct lc_test_def *def) {
  struct lc_test_def **link = &lc_tests;
  while (*link && strcmp((*link)->name, def->name) <= 0) link = &(*link)->next;
  def->next = *link;
  *link = def;
}

const struct lc_test_def *lc_test_first(void) { return lc_tests; }

const struct lc_test_def *lc_test_find(const char *name) {
  for (const struct lc_test_def *t = lc_tests; t; t = t->next)
    if (strcmp(t->name, name) == 0) return t;
  return NULL;
}

/* ---- Time ------------------------------------------------------------------------------- */

int64_t lc_tol_ns(const lc_ctx *ctx, int64_t base_ns) {
  double m = ctx && ctx->multiplier > 1.0 ? ctx->multiplier : 1.0;
  double scaled = (double)base_ns * m;
  if (scaled >= (double)INT64_MAX) return INT64_MAX; /* saturate rather than overflow */
  if (scaled <= (double)INT64_MIN) return INT64_MIN;
  return (int64_t)scaled;
}

int64_t lc_cpu_wait_ns(void) {
  double steal_ms = lch_host_steal_ms(); /* harness/common: -1 when not reported */
  int64_t steal = steal_ms > 0 ? (int64_t)(steal_ms * 1e6) : 0;
  FILE *f = fopen("/proc/self/schedstat", "re");
  if (!f) return steal;
  unsigned long long run_ns = 0, wait_ns = 0;
  int n = fscanf(f, "%llu %llu", &run_ns, &wait_ns);
  fclose(f);
  return (n == 2 ? (int64_t)wait_ns : 0) + steal;
}

/* ---- Result channel ----------------------------------------------------------------------
 * Format, one record per line, fields separated by one TAB, escapes \\ \t \n \r in fields:
 *   backend<TAB>name<TAB>version     written by the child before the body runs
 *   char<TAB>key<TAB>value           lc_characteristic
 *   skip<TAB>reason                  lc_skip, or the runner's capability check
 *   fail<TAB>message                 lc_fail / lc_assert_ok
 *   note<TAB>text                    lc_note
 *   end<TAB>status                   written by the child after cmocka returned
 *   error<TAB>message                the child could not set the cell up
 * The runner's parser (harness/runner/channel.c) undoes the escapes. */

/* Append `s` escaped to buf at *len; buf has room for 2*strlen(s) more bytes. */
static void lc_escape_into(char *buf, size_t *len, const char *s) {
  for (; *s; s++) {
    char c = *s;
    if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
      buf[(*len)++] = '\\';
      c = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
    }
    buf[(*len)++] = c;
  }
}

int lc__channel_write(int fd, const char *kind, const char *field1, const char *field2) {
  size_t cap = strlen(kind) + 3 + (field1 ? 2 * strlen(field1) + 1 : 0) +
               (field2 ? 2 * strlen(field2) + 1 : 0);
  char *buf = malloc(cap);
  if (!buf) return -ENOMEM;
  size_t len = strlen(kind);
  memcpy(buf, kind, len);
  if (field1) {
    buf[len++] = '\t';
    lc_escape_into(buf, &len, field1);
  }
  if (field1 && field2) {
    buf[len++] = '\t';
    lc_escape_into(buf, &len, field2);
  }
  buf[len++] = '\n';
  int rc = 0;
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = -errno;
      break;
    }
    off += (size_t)n;
  }
  free(buf);
  return rc;
}

/* vasprintf-like helper; returns NULL only when out of memory. */
static char *lc_vformat(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

/* Send a record, or print it to stderr when the test runs without a runner. */
static void lc_emit(lc_ctx *ctx, const char *kind, const char *key, const char *text) {
  const char *safe = text ? text : "(out of memory formatting the message)";
  if (ctx && ctx->result_fd >= 0) {
    if (key) lc__channel_write(ctx->result_fd, kind, key, safe);
    else lc__channel_write(ctx->result_fd, kind, safe, NULL);
  } else {
    fprintf(stderr, "[%s] %s%s%s\n", kind, key ? key : "", key ? ": " : "", safe);
  }
}

void lc_characteristic(lc_ctx *ctx, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = lc_vformat(fmt, ap);
  va_end(ap);
  lc_emit(ctx, "char", key, text);
  free(text);
}

void lc_note(lc_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = lc_vformat(fmt, ap);
  va_end(ap);
  /* Into the log, in order with the test's other output, and to the runner for its report. */
  fprintf(stderr, "note: %s\n", text ? text : "(out of memory)");
  fflush(stderr);
  if (ctx && ctx->result_fd >= 0) lc_emit(ctx, "note", NULL, text);
  free(text);
}

void lc__report_skip(lc_ctx *ctx, const char *reason) { lc_emit(ctx, "skip", NULL, reason); }

void lc__report_fail(lc_ctx *ctx, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = lc_vformat(fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  size_t cap = strlen(base) + 32 + (text ? strlen(text) : 0);
  char *msg = malloc(cap);
  if (msg) snprintf(msg, cap, "%s:%d: %s", base, line, text ? text : "(out of memory)");
  lc_emit(ctx, "fail", NULL, msg);
  /* cmocka prints only "Failure!" for fail(): put the message in the log as well. */
  fprintf(stderr, "%s\n", msg ? msg : "(out of memory)");
  fflush(stderr);
  free(msg);
  free(text);
}

/* ---- Errors ----------------------------------------------------------------------------- */

const char *lc_strerr(int negative_errno) {
  static _Thread_local char buf[160];
  if (negative_errno >= 0) {
    snprintf(buf, sizeof buf, "%d: not a negative errno", negative_errno);
    return buf;
  }
  int e = -negative_errno;
  const char *name = strerrorname_np(e);
  const char *desc = strerrordesc_np(e);
  if (name && desc) snprintf(buf, sizeof buf, "%s: %s", name, desc);
  else snprintf(buf, sizeof buf, "errno %d: unknown error", e);
  return buf;
}

/* ---- Loops ------------------------------------------------------------------------------ */

lc_loop *lc_loop_new_or_fail(lc_ctx *ctx) {
  lc_loop *loop = NULL;
  lc_assert_ok(ctx, ctx->b->loop_new(&loop));
  if (!loop) lc_fail(ctx, "loop_new returned 0 but stored no loop");
  return loop;
}

void lc_loop_free_or_fail(lc_ctx *ctx, lc_loop *loop) {
  int rc = ctx->b->loop_free(loop);
  if (rc == -EBUSY) lc_fail(ctx, "loop_free returned -EBUSY: a handle was not freed");
  if (rc != 0) lc_fail(ctx, "loop_free returned %d (%s)", rc, lc_strerr(rc));
}

/* ---- Watchdog ----------------------------------------------------------------------------
 * One thread per process, started on first use. While armed, it waits for the deadline; if
 * the test has not disarmed it by then, it sends the armed message as the cell's FAIL and ends
 * the process with status 1 (the runner reads that as FAIL with this reason). The loop thread
 * may be stuck inside run(), so nothing else can report. */

#include <pthread.h>

static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static int wd_started, wd_armed;
static int64_t wd_deadline;
static lc_ctx *wd_ctx;
static char wd_msg[512];
static const char *wd_file;
static int wd_line;

static void *wd_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&wd_mu);
  for (;;) {
    if (!wd_armed) {
      pthread_cond_wait(&wd_cv, &wd_mu);
      continue;
    }
    int64_t left = wd_deadline - lc_clock_ns();
    if (left <= 0) break;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + left;
    ts.tv_sec = (time_t)(at / 1000000000);
    ts.tv_nsec = (long)(at % 1000000000);
    pthread_cond_timedwait(&wd_cv, &wd_mu, &ts);
  }
  lc__report_fail(wd_ctx, wd_file, wd_line, "%s", wd_msg);
  _exit(1);
  return NULL;
}

void lc__watchdog_arm(lc_ctx *ctx, const char *file, int line, int64_t limit_ns, const char *fmt,
                      ...) {
  pthread_mutex_lock(&wd_mu);
  if (!wd_started) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t th;
    if (pthread_create(&th, NULL, wd_main, NULL) == 0) {
      pthread_detach(th);
      wd_started = 1;
    }
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(wd_msg, sizeof wd_msg, fmt, ap);
  va_end(ap);
  wd_ctx = ctx;
  wd_file = file;
  wd_line = line;
  wd_deadline = lc_clock_ns() + limit_ns;
  wd_armed = 1;
  pthread_cond_signal(&wd_cv);
  pthread_mutex_unlock(&wd_mu);
}

void lc_watchdog_disarm(void) {
  pthread_mutex_lock(&wd_mu);
  wd_armed = 0;
  if (wd_started) pthread_cond_signal(&wd_cv);
  pthread_mutex_unlock(&wd_mu);
}

void lc__stop_watched(lc_ctx *ctx, const char *file, int line, lc_loop *loop, const char *where) {
  int64_t limit = lc_tol_ns(ctx, 2000 * LC_MS);
  lc__watchdog_arm(ctx, file, line, limit,
                   "stop() called %s was ignored: run() had not returned %lld ms later", where,
                   (long long)(limit / LC_MS));
  ctx->b->stop(loop);
}

/* ---- Assertions with words --------------------------------------------------------------- */

lc_ctx *lc__current_ctx;

const char *lc_rc_name(intmax_t v) {
  static _Thread_local char bufs[4][48];
  static _Thread_local unsigned next;
  char *buf = bufs[next++ % 4];
  const char *name = v < 0 && v > -4096 ? strerrorname_np((int)-v) : NULL;
  if (name) snprintf(buf, sizeof bufs[0], "-%s", name);
  else snprintf(buf, sizeof bufs[0], "%" PRIdMAX, v);
  return buf;
}

/* "0", "-ECANCELED", "42": an expression that is just the value it shows. */
static int lc_expr_is_literal(const char *expr, const char *shown) {
  if (strcmp(expr, shown) == 0) return 1;
  if (expr[0] == '-' && strcmp(expr + 1, shown + (shown[0] == '-')) == 0) return 1;
  return 0;
}

void lc__assert_int_equal(intmax_t got, intmax_t want, const char *got_expr, const char *want_expr,
                          const char *file, int line) {
  if (got == want) return;
  const char *g = lc_rc_name(got), *w = lc_rc_name(want);
  if (lc_expr_is_literal(want_expr, w))
    lc__report_fail(lc__current_ctx, file, line, "%s is %s (expected %s)", got_expr, g, w);
  else
    lc__report_fail(lc__current_ctx, file, line, "%s is %s (expected %s, the value of %s)",
                    got_expr, g, w, want_expr);
  _fail(file, line);
}
