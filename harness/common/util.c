/* util.c: program name, error lines, allocation, growable buffers, string lists, numbers. */
#include "host.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *program = "loopconf";

void lch_set_program(const char *name) { program = name; }
const char *lch_program(void) { return program; }

static void oom(void) {
  static const char msg[] = ": error: out of memory\n";
  ssize_t ignored = write(2, program, strlen(program));
  ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(2);
}

void *lch_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom();
  return p;
}

void *lch_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) oom();
  return p;
}

void *lch_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) oom();
  return q;
}

char *lch_xstrdup(const char *s) { return lch_xstrndup(s, strlen(s)); }

char *lch_xstrndup(const char *s, size_t n) {
  char *p = lch_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *lch_xvasprintf(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  char *s = lch_xmalloc((size_t)n + 1);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

char *lch_xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = lch_xvasprintf(fmt, ap);
  va_end(ap);
  return s;
}

void lch_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = lch_xvasprintf(fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++) /* keep it to exactly one line */
    if (*p == '\n' || *p == '\r') *p = ' ';
  fprintf(stderr, "%s: error: %s\n", program, msg);
  free(msg);
}

/* 1 if a is a cluster of short options ("-qx") holding ch */
static int short_cluster_has(const char *a, int ch) {
  return a && a[0] == '-' && a[1] && a[1] != '-' && ch > 0 && ch < 256 && strchr(a + 1, ch);
}

int lch_getopt_error(int c, char *const argv[], const char *help) {
  /* getopt leaves optind on a cluster until its last letter ("-xq": the error is at x, optind
   * still names "-xq", argv[optind - 1] is the argument before it) and past everything else;
   * optopt is the short letter, 0 for an unknown long option, or the long option's value */
  const char *prev = optind > 0 ? argv[optind - 1] : "", *cur = argv[optind];
  char shortopt[3] = {'-', (char)optopt, 0};
  int is_short = short_cluster_has(cur, optopt) || short_cluster_has(prev, optopt);
  const char *name = is_short ? shortopt : prev;
  int len = (int)strcspn(name, "="); /* "--x=1": name the option, not its value */
  if (c == ':') lch_error("option '%.*s' needs a value", len, name);
  else if (!is_short && optopt && name[len] == '=')
    lch_error("option '%.*s' takes no value", len, name);
  else lch_error("unknown option '%.*s' (see %s --help)", len, name, help ? help : program);
  return 2;
}

/* ---- lch_buf ----------------------------------------------------------------------------- */

void lch_buf_append(struct lch_buf *sb, const void *data, size_t n) {
  if (sb->len + n + 1 > sb->cap) {
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + n + 1) cap *= 2;
    sb->data = lch_xrealloc(sb->data, cap);
    sb->cap = cap;
  }
  if (n) memcpy(sb->data + sb->len, data, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
}

void lch_buf_puts(struct lch_buf *sb, const char *s) { lch_buf_append(sb, s, strlen(s)); }

void lch_buf_printf(struct lch_buf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = lch_xvasprintf(fmt, ap);
  va_end(ap);
  lch_buf_puts(sb, s);
  free(s);
}

void lch_buf_consume(struct lch_buf *sb, size_t n) {
  if (n >= sb->len) n = sb->len;
  memmove(sb->data, sb->data + n, sb->len - n);
  sb->len -= n;
  if (sb->data) sb->data[sb->len] = '\0';
}

void lch_buf_free(struct lch_buf *sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
}

/* ---- lch_strlist ---------------------------------------------------------------------------- */

void lch_strlist_push(struct lch_strlist *l, char *owned) {
  l->v = lch_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = owned;
}

size_t lch_strlist_split_commas(struct lch_strlist *l, const char *s) {
  size_t empty = 0;
  for (;;) {
    const char *end = strchr(s, ',');
    if (!end) end = s + strlen(s);
    const char *a = s, *b = end;
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    if (b > a) lch_strlist_push(l, lch_xstrndup(a, (size_t)(b - a)));
    else empty++;
    if (!*end) return empty;
    s = end + 1;
  }
}

int lch_strlist_contains(const struct lch_strlist *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], s) == 0) return 1;
  return 0;
}

void lch_strlist_free(struct lch_strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* ---- numbers ------------------------------------------------------------------------------ */

int lch_parse_long(const char *s, const char *what, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    lch_error("%s '%s' is not a whole number from %ld to %ld", what, s, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

int lch_parse_double(const char *s, const char *what, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
    lch_error("%s '%s' is not a number from %g to %g", what, s, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

int lch_env_multiplier(double *out) {
  const char *env = getenv("LOOPCONF_TIME_MULTIPLIER");
  *out = 1.0;
  if (!env || !*env) return 0;
  return lch_parse_double(env, "LOOPCONF_TIME_MULTIPLIER", 1.0, 1000.0, out);
}

int lch_fds_exhaust(struct rlimit *saved) {
  if (getrlimit(RLIMIT_NOFILE, saved) != 0) return -errno;
  struct rlimit low = *saved;
  int lowest_free = 0;
  while (fcntl(lowest_free, F_GETFD) != -1) lowest_free++;
  low.rlim_cur = (rlim_t)lowest_free; /* the next descriptor would be above it */
  if (setrlimit(RLIMIT_NOFILE, &low) != 0) return -errno;
  /* and it is: a test that thinks it is out of descriptors and is not would pass for nothing */
  int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int err = probe < 0 ? errno : 0;
  if (probe >= 0) close(probe);
  if (err == EMFILE) return 0;
  setrlimit(RLIMIT_NOFILE, saved);
  return err ? -err : -EBUSY;
}

long long lch_process_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
