/* util.c: allocation, error lines, growable buffers and string lists for the runner. */
#include "runner.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(void) {
  static const char msg[] = "loopconf: error: out of memory\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
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

static char *lch_xvasprintf(const char *fmt, va_list ap) {
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
  fprintf(stderr, "loopconf: error: %s\n", msg);
  free(msg);
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

void lch_strlist_split_commas(struct lch_strlist *l, const char *s) {
  while (*s) {
    const char *end = strchr(s, ',');
    if (!end) end = s + strlen(s);
    const char *a = s, *b = end;
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    if (b > a) lch_strlist_push(l, lch_xstrndup(a, (size_t)(b - a)));
    s = *end ? end + 1 : end;
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

/* ---- misc ------------------------------------------------------------------------------- */

char *lch_exe_path(void) {
  size_t cap = 256;
  for (;;) {
    char *buf = lch_xmalloc(cap);
    ssize_t n = readlink("/proc/self/exe", buf, cap);
    if (n < 0) {
      lch_error("cannot read /proc/self/exe: %s", strerror(errno));
      free(buf);
      return NULL;
    }
    if ((size_t)n < cap) {
      buf[n] = '\0';
      return buf;
    }
    free(buf);
    cap *= 2;
  }
}

char *lch_exe_dir(void) {
  char *path = lch_exe_path();
  char *slash = path ? strrchr(path, '/') : NULL;
  if (slash) *(slash == path ? slash + 1 : slash) = '\0';
  return path;
}

int lch_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (c == 0 || len == 0 || (size_t)(end - p) < len) return 0;
    unsigned cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
      if ((p[i] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return 0;
    p += len;
  }
  return 1;
}
