/* expect_version.c: expectations that hold only for some versions of the library under test.
 *
 * An expectations line may carry a condition right after its verdict:
 *   loop.timer.zero_delay_no_starve FAIL version<1.48 <reason>
 *   some.test TIMEOUT version>=2.0,<2.2 <reason>
 * Operators <, <=, >, >=, =, != against a dotted number (missing parts count as 0); several
 * comparisons separated by commas must all hold. The version compared is the first dotted
 * number in the backend's version() string (the library actually loaded, e.g. "libuv 1.44.2"
 * -> 1.44.2, "libevent 2.1.12-stable" -> 2.1.12). A line whose condition does not hold is as
 * if it were not in the file, so one file serves several distributions; a test may be listed
 * more than once when conditions tell the lines apart, and at most one may hold. */
#include "runner.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define LCR_VERSION_PARTS 6

enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

/* A dotted number at *p ("1.48", "2.1.12"): its parts, *p moved past it. -1 if none. */
static int parse_number(const char **p, long v[LCR_VERSION_PARTS]) {
  memset(v, 0, LCR_VERSION_PARTS * sizeof *v);
  const char *s = *p;
  int n = 0;
  for (;;) {
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    long x = strtol(s, &end, 10);
    if (n < LCR_VERSION_PARTS) v[n] = x;
    n++;
    s = end;
    if (*s == '.' && isdigit((unsigned char)s[1])) {
      s++;
      continue;
    }
    break;
  }
  if (n > LCR_VERSION_PARTS) return -1;
  *p = s;
  return 0;
}

static int cmp_version(const long a[LCR_VERSION_PARTS], const long b[LCR_VERSION_PARTS]) {
  for (int i = 0; i < LCR_VERSION_PARTS; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

static int parse_op(const char **p) {
  const char *s = *p;
  int op;
  if (s[0] == '<' && s[1] == '=') op = OP_LE, s += 2;
  else if (s[0] == '>' && s[1] == '=') op = OP_GE, s += 2;
  else if (s[0] == '!' && s[1] == '=') op = OP_NE, s += 2;
  else if (s[0] == '=' && s[1] == '=') op = OP_EQ, s += 2;
  else if (s[0] == '<') op = OP_LT, s++;
  else if (s[0] == '>') op = OP_GT, s++;
  else if (s[0] == '=') op = OP_EQ, s++;
  else return -1;
  *p = s;
  return op;
}

int lcr_version_cond_is(const char *token, size_t len) {
  return len > 7 && strncmp(token, "version", 7) == 0 && strchr("<>=!", token[7]);
}

/* Walk a condition; with version != NULL also evaluate it. Returns 1 holds, 0 does not,
 * -1 malformed. */
static int cond_eval(const char *cond, const long *version) {
  if (strncmp(cond, "version", 7) != 0) return -1;
  const char *p = cond + 7;
  int holds = 1;
  for (;;) {
    int op = parse_op(&p);
    long want[LCR_VERSION_PARTS];
    if (op < 0 || parse_number(&p, want) < 0) return -1;
    if (version) {
      int c = cmp_version(version, want);
      int ok = op == OP_LT   ? c < 0
               : op == OP_LE ? c <= 0
               : op == OP_GT ? c > 0
               : op == OP_GE ? c >= 0
               : op == OP_EQ ? c == 0
                             : c != 0;
      holds = holds && ok;
    }
    if (*p == '\0') return holds;
    if (*p != ',') return -1;
    p++;
  }
}

char *lcr_version_cond_check(const char *cond) {
  if (cond_eval(cond, NULL) >= 0) return NULL;
  return lch_xasprintf(
      "condition '%s' is not \"version<OP><N.N...>[,<OP><N.N...>]...\" "
      "(OP one of < <= > >= = !=)",
      cond);
}

/* The first dotted number in a version() string that starts a word, or -1. */
static int version_of(const char *s, long v[LCR_VERSION_PARTS]) {
  for (const char *p = s; *p; p++) {
    if (!isdigit((unsigned char)*p) || (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '.')))
      continue;
    const char *q = p;
    if (parse_number(&q, v) == 0) return 0;
  }
  return -1;
}

int lcr_expect_select_version(struct lcr_expect_set *set, const char *backend,
                              const char *version) {
  int any = 0;
  for (size_t i = 0; i < set->n; i++) any |= set->v[i].cond != NULL;
  if (!any) return 0;
  long v[LCR_VERSION_PARTS];
  if (version_of(version ? version : "", v) < 0) {
    lch_error(
        "expectations file %s: lines conditioned on the version, but backend '%s' reports "
        "no version number ('%s')",
        set->path, backend, version ? version : "");
    return -1;
  }
  size_t kept = 0;
  for (size_t i = 0; i < set->n; i++) {
    struct lcr_expect *e = &set->v[i];
    if (e->cond && cond_eval(e->cond, v) == 0) {
      free(e->test);
      free(e->reason);
      free(e->cond);
      continue;
    }
    set->v[kept++] = *e;
  }
  set->n = kept;
  for (size_t i = 0; i < set->n; i++)
    for (size_t k = 0; k < i; k++)
      if (strcmp(set->v[i].test, set->v[k].test) == 0) {
        lch_error(
            "expectations file %s: test '%s' has more than one line that holds for "
            "%s (%s)",
            set->path, set->v[i].test, backend, version);
        return -1;
      }
  return 0;
}
