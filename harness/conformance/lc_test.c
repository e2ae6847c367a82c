/* lc_test.c: the test support library: registry, clocks, tolerances and the result channel. */
#include "lc_test.h"

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
    if (key)
      lc__channel_write(ctx->result_fd, kind, key, safe);
    else
      lc__channel_write(ctx->result_fd, kind, safe, NULL);
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
  if (name && desc)
    snprintf(buf, sizeof buf, "%s: %s", name, desc);
  else
    snprintf(buf, sizeof buf, "errno %d: unknown error", e);
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
