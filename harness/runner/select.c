/* select.c: choose tests by name or glob; hidden self-tests only when asked for by name. */
#include "runner.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int lcr_test_hidden(const char *name) { return strncmp(name, "selftest.", 9) == 0; }

const char *lcr_needs_name(unsigned needs) {
  static const char *const names[8] = {"-",      "io",        "wakeup",        "io,wakeup",
                                       "nowait", "io,nowait", "wakeup,nowait", "io,wakeup,nowait"};
  return names[needs & (LC_NEEDS_IO | LC_NEEDS_WAKEUP | LC_NEEDS_NOWAIT)];
}

int lcr_registry_check(void) {
  for (const struct lc_test_def *t = lc_test_first(); t; t = t->next) {
    if (!t->name || !*t->name || !t->clauses || !t->fn) {
      lch_error("a registered test has an empty name, clause list or body");
      return -1;
    }
    if (t->next && strcmp(t->name, t->next->name) == 0) {
      lch_error("test name %s is registered twice", t->name);
      return -1;
    }
  }
  return 0;
}

static int lcr_pattern_matches(const char *pattern, const char *name) {
  if (lcr_test_hidden(name) && strncmp(pattern, "selftest", 8) != 0) return 0;
  return fnmatch(pattern, name, 0) == 0;
}

int lcr_select_tests(const struct lch_strlist *patterns, const struct lc_test_def ***out,
                     size_t *n) {
  size_t count = 0;
  for (const struct lc_test_def *t = lc_test_first(); t; t = t->next) count++;
  const struct lc_test_def **sel = lch_xcalloc(count, sizeof *sel);
  size_t k = 0;
  for (size_t i = 0; i < patterns->n; i++) {
    int matched = 0;
    for (const struct lc_test_def *t = lc_test_first(); t; t = t->next)
      if (lcr_pattern_matches(patterns->v[i], t->name)) matched = 1;
    if (!matched) {
      lch_error("test pattern '%s' matches no test (see: loopconf list tests)", patterns->v[i]);
      free(sel);
      return -1;
    }
  }
  /* Registry order (sorted by name), each test once. */
  for (const struct lc_test_def *t = lc_test_first(); t; t = t->next) {
    int take = patterns->n == 0 ? !lcr_test_hidden(t->name) : 0;
    for (size_t i = 0; !take && i < patterns->n; i++)
      take = lcr_pattern_matches(patterns->v[i], t->name);
    if (take) sel[k++] = t;
  }
  *out = sel;
  *n = k;
  return 0;
}
