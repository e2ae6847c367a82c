/* expect.c: read a backend's expectations file ("<test> [may] <FAIL|TIMEOUT|CRASH> <reason>"). */
#include "runner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *lcr_skip_blank(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

static const char *lcr_token_end(const char *p) {
  while (*p && *p != ' ' && *p != '\t') p++;
  return p;
}

/* Parse one non-comment line into e. Returns NULL or a malloc'd description of the problem. */
static char *lcr_expect_parse_line(const char *line, struct lcr_expect *e) {
  const char *t0 = lcr_skip_blank(line), *t1 = lcr_token_end(t0);
  const char *v0 = lcr_skip_blank(t1), *v1 = lcr_token_end(v0);
  /* "may" before the verdict: a deviation whose visibility depends on scheduling. */
  int may = v1 - v0 == 3 && strncmp(v0, "may", 3) == 0;
  if (may) {
    v0 = lcr_skip_blank(v1);
    v1 = lcr_token_end(v0);
  }
  const char *r0 = lcr_skip_blank(v1);
  const char *c0 = NULL, *c1 = NULL; /* an optional version condition */
  if (lcr_version_cond_is(r0, (size_t)(lcr_token_end(r0) - r0))) {
    c0 = r0;
    c1 = lcr_token_end(r0);
    r0 = lcr_skip_blank(c1);
  }
  if (t1 == t0 || v1 == v0 || !*r0)
    return lch_xstrdup(
        "expected \"<test-name> [may] <FAIL|TIMEOUT|CRASH> [version<OP><N>] <reason>\"");
  char *verdict = lch_xstrndup(v0, (size_t)(v1 - v0));
  int v = lcr_verdict_parse_expectable(verdict);
  if (v < 0) {
    char *msg = lch_xasprintf("verdict '%s' is not one of FAIL, TIMEOUT, CRASH", verdict);
    free(verdict);
    return msg;
  }
  free(verdict);
  e->test = lch_xstrndup(t0, (size_t)(t1 - t0));
  e->verdict = (enum lcr_verdict)v;
  e->may = may;
  const char *r1 = r0 + strlen(r0);
  while (r1 > r0 && (r1[-1] == ' ' || r1[-1] == '\t')) r1--;
  e->reason = lch_xstrndup(r0, (size_t)(r1 - r0));
  e->cond = c0 ? lch_xstrndup(c0, (size_t)(c1 - c0)) : NULL;
  char *msg = NULL;
  if (!lc_test_find(e->test)) msg = lch_xasprintf("no test named '%s'", e->test);
  else if (e->cond) msg = lcr_version_cond_check(e->cond);
  if (msg) {
    free(e->test);
    free(e->reason);
    free(e->cond);
    return msg;
  }
  return NULL;
}

/* "<test> CHAR <key> <value>": 1 if the line has that shape (pin filled or *problem set). */
static int pin_parse_line(const char *line, int lineno, struct lcr_pin *pin, char **problem) {
  const char *t0 = lcr_skip_blank(line), *t1 = lcr_token_end(t0);
  const char *c0 = lcr_skip_blank(t1), *c1 = lcr_token_end(c0);
  if ((size_t)(c1 - c0) != 4 || strncmp(c0, "CHAR", 4) != 0) return 0;
  const char *k0 = lcr_skip_blank(c1), *k1 = lcr_token_end(k0);
  const char *v0 = lcr_skip_blank(k1);
  const char *v1 = v0 + strlen(v0);
  while (v1 > v0 && (v1[-1] == ' ' || v1[-1] == '\t')) v1--;
  if (k1 == k0 || v1 == v0) {
    *problem = lch_xstrdup("expected \"<test-name> CHAR <key> <value>\"");
    return 1;
  }
  pin->test = lch_xstrndup(t0, (size_t)(t1 - t0));
  if (!lc_test_find(pin->test)) {
    *problem = lch_xasprintf("no test named '%s'", pin->test);
    free(pin->test);
    return 1;
  }
  pin->key = lch_xstrndup(k0, (size_t)(k1 - k0));
  pin->value = lch_xstrndup(v0, (size_t)(v1 - v0));
  pin->line = lineno;
  return 1;
}

static void pin_free(struct lcr_pin *p) {
  free(p->test);
  free(p->key);
  free(p->value);
}

int lcr_expect_load(const char *path, struct lcr_expect_set *set) {
  memset(set, 0, sizeof *set);
  set->path = lch_xstrdup(path);
  FILE *f = fopen(path, "r");
  if (!f) {
    lch_error("cannot read expectations file %s: %s", path, strerror(errno));
    lcr_expect_free(set);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int lineno = 0;
  char *problem = NULL;
  while (!problem && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (!lch_utf8_valid(line, (size_t)len)) {
      problem = lch_xstrdup("not valid UTF-8 text");
      break;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    const char *p = lcr_skip_blank(line);
    if (*p == '\0' || *p == '#') continue;
    struct lcr_pin pin;
    if (pin_parse_line(line, lineno, &pin, &problem)) {
      if (problem) break;
      for (size_t i = 0; i < set->npins && !problem; i++)
        if (strcmp(set->pins[i].test, pin.test) == 0 && strcmp(set->pins[i].key, pin.key) == 0)
          problem =
              lch_xasprintf("characteristic '%s' of test '%s' is pinned twice", pin.key, pin.test);
      if (problem) {
        pin_free(&pin);
        break;
      }
      set->pins = lch_xrealloc(set->pins, (set->npins + 1) * sizeof *set->pins);
      set->pins[set->npins++] = pin;
      continue;
    }
    struct lcr_expect e;
    problem = lcr_expect_parse_line(line, &e);
    if (problem) break;
    const struct lcr_expect *dup = lcr_expect_find(set, e.test);
    if (dup && (!dup->cond || !e.cond)) { /* conditioned lines are told apart later */
      problem = lch_xasprintf("test '%s' is listed twice", e.test);
      free(e.test);
      free(e.reason);
      free(e.cond);
      break;
    }
    set->v = lch_xrealloc(set->v, (set->n + 1) * sizeof *set->v);
    set->v[set->n++] = e;
  }
  if (!problem && ferror(f)) problem = lch_xasprintf("read error: %s", strerror(errno));
  free(line);
  fclose(f);
  if (problem) {
    lch_error("expectations file %s:%d: %s", path, lineno, problem);
    free(problem);
    lcr_expect_free(set);
    return -1;
  }
  return 0;
}

const struct lcr_expect *lcr_expect_find(const struct lcr_expect_set *set, const char *test) {
  for (size_t i = 0; i < set->n; i++)
    if (strcmp(set->v[i].test, test) == 0) return &set->v[i];
  return NULL;
}

void lcr_expect_free(struct lcr_expect_set *set) {
  for (size_t i = 0; i < set->n; i++) {
    free(set->v[i].test);
    free(set->v[i].reason);
    free(set->v[i].cond);
  }
  free(set->v);
  for (size_t i = 0; i < set->npins; i++) pin_free(&set->pins[i]);
  free(set->pins);
  free(set->path);
  memset(set, 0, sizeof *set);
}

static int pin_matches(const char *pinned, const char *recorded) {
  size_t n = strlen(pinned);
  if (strcmp(pinned, recorded) == 0) return 1;
  return strncmp(pinned, recorded, n) == 0 && strncmp(recorded + n, " (", 2) == 0;
}

void lcr_pins_apply(const struct lcr_expect_set *set, const char *test, struct lcr_outcome *o) {
  if (o->verdict != LCR_PASS) return; /* a failing test's own reason comes first */
  struct lch_buf sb = {0};
  for (size_t i = 0; i < set->npins; i++) {
    const struct lcr_pin *p = &set->pins[i];
    if (strcmp(p->test, test) != 0) continue;
    const char *got = NULL;
    for (size_t k = 0; k < o->nchars; k++)
      if (strcmp(o->chars[k].key, p->key) == 0) got = o->chars[k].value;
    if (got && pin_matches(p->value, got)) continue;
    if (sb.len) lch_buf_puts(&sb, "; ");
    if (got)
      lch_buf_printf(&sb, "characteristic %s changed: pinned '%s' (%s:%d), now '%s'", p->key,
                     p->value, set->path, p->line, got);
    else
      lch_buf_printf(&sb, "characteristic %s pinned '%s' (%s:%d) was not recorded", p->key,
                     p->value, set->path, p->line);
  }
  if (!sb.len) return;
  o->verdict = LCR_FAIL;
  free(o->reason);
  o->reason = sb.data;
}
