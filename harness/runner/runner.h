/* runner.h: internal interfaces shared by the parts of the `loopconf` conformance runner. */
#ifndef LCR_RUNNER_H
#define LCR_RUNNER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "host.h"
#include "lc_test.h"

/* ---- verdict.c: verdicts and a cell's outcome --------------------------------------------- */

enum lcr_verdict {
  LCR_PASS,
  LCR_FAIL,
  LCR_XFAIL,
  LCR_XPASS,
  LCR_SKIP,
  LCR_TIMEOUT,
  LCR_CRASH,
  LCR_FLAKY,
  LCR_VERDICT_COUNT
};
const char *lcr_verdict_name(enum lcr_verdict v);
/* Parse "FAIL", "TIMEOUT" or "CRASH" (the verdicts an expectation may name); -1 otherwise. */
int lcr_verdict_parse_expectable(const char *s);
/* PASS, XFAIL and SKIP are expected; everything else makes `run` exit 1. */
int lcr_verdict_expected(enum lcr_verdict v);

struct lcr_kv {
  char *key, *value;
};

/* What one child run of a (backend, test) cell produced. */
struct lcr_outcome {
  enum lcr_verdict verdict; /* PASS, FAIL, SKIP, TIMEOUT or CRASH: before expectations */
  char *reason;             /* why, for anything but PASS; NULL for PASS */
  char *version;            /* the version the child reported, or NULL */
  char *log;                /* the child's stdout+stderr, capped */
  struct lcr_kv *chars;     /* characteristics recorded */
  size_t nchars;
  struct lch_strlist notes;
  double seconds;
};
void lcr_outcome_free(struct lcr_outcome *o);

/* ---- channel.c: result-channel records ---------------------------------------------------- */

/* Split the channel text into records; for each, call cb with the kind and up to 2 unescaped
 * fields (missing fields are ""). */
typedef void (*lcr_channel_fn)(const char *kind, const char *f1, const char *f2, void *ud);
void lcr_channel_parse(const char *text, size_t len, lcr_channel_fn cb, void *ud);

/* Classify a finished cell process into an outcome (parses the result channel). */
void lcr_outcome_from_proc(struct lcr_outcome *o, struct lch_proc_result *res, long timeout_ms);

/* ---- cell.c: the hidden child subcommands ------------------------------------------------- */

/* loopconf __cell MODULE TEST FD: run one test on one backend; exits with cmocka's status. */
int lcr_cell_main(int argc, char **argv);
/* loopconf __probe MODULE FD: load a module and report "backend name version" or "error". */
int lcr_probe_main(int argc, char **argv);

/* ---- probe.c: asking a child about a backend module ----------------------------------------------- */

struct lcr_backend_info {
  char *path;    /* absolute */
  char *name;    /* from lc_backend.name */
  char *version; /* from lc_backend.version() */
};
/* Probe each path in its own child (so no two modules ever share the runner's image). On
 * failure prints one error line naming the first bad module and returns -1. */
int lcr_probe_modules(char **paths, size_t n, double multiplier, struct lcr_backend_info *out);
void lcr_backend_info_free(struct lcr_backend_info *m);

/* ---- expect.c: expectations files --------------------------------------------------------- */

struct lcr_expect {
  char *test;
  enum lcr_verdict verdict; /* FAIL, TIMEOUT or CRASH */
  char *reason;
  int may;    /* "<test> may <VERDICT> <reason>": expected whether it shows or not */
  char *cond; /* "version<1.48" or NULL (expect_version.c) */
};
/* "<test> CHAR <key> <value>": the characteristic `key` recorded by `test` is pinned. */
struct lcr_pin {
  char *test, *key, *value;
  int line;
};
struct lcr_expect_set {
  char *path;
  struct lcr_expect *v;
  size_t n;
  struct lcr_pin *pins;
  size_t npins;
};
/* Load an expectations file. Every test named must exist in the registry (selftests too).
 * Returns 0, or -1 with one error line (file:line: problem). */
int lcr_expect_load(const char *path, struct lcr_expect_set *set);
const struct lcr_expect *lcr_expect_find(const struct lcr_expect_set *set, const char *test);
void lcr_expect_free(struct lcr_expect_set *set);
/* expect_version.c: "<test> <VERDICT> version<1.48 <reason>". lcr_version_cond_is: does this
 * token look like a condition; lcr_version_cond_check: NULL or a malloc'd problem;
 * lcr_expect_select_version: drop the lines whose condition does not hold for the backend's
 * version() string (0, or -1 with one error line: no version number, two lines hold). */
int lcr_version_cond_is(const char *token, size_t len);
char *lcr_version_cond_check(const char *cond);
int lcr_expect_select_version(struct lcr_expect_set *set, const char *backend, const char *version);
/* Hold a finished test's recorded characteristics to the set's pins for it: a pinned key whose
 * value changed (or was not recorded by a passing test) makes the outcome FAIL, with the pinned
 * and the recorded value in the reason. A pinned value matches the recorded one exactly, or the
 * part before " (" (the free-form detail, e.g. "yes" for "yes (970 sends -> 486 callbacks)"). */
void lcr_pins_apply(const struct lcr_expect_set *set, const char *test, struct lcr_outcome *o);

/* ---- select.c: choosing tests ------------------------------------------------------------- */

/* 1 if name is a hidden self-test ("selftest." prefix). */
int lcr_test_hidden(const char *name);
/* Select the tests matching any pattern (exact names or fnmatch globs; hidden tests only for
 * patterns that themselves start with "selftest"). No patterns: every visible test. Each
 * pattern must match at least one test. Returns 0 with a malloc'd array, or -1 with an error
 * line. */
int lcr_select_tests(const struct lch_strlist *patterns, const struct lc_test_def ***out,
                     size_t *n);
/* Check the registry for duplicate names; -1 with an error line if any. */
int lcr_registry_check(void);
/* "io,wakeup" or "-" for a needs mask (static storage). */
const char *lcr_needs_name(unsigned needs);

/* ---- spec.c: the spec index --------------------------------------------------------------- */

struct lcr_clause {
  char *id;
  char *file; /* file name within the spec dir */
  int line;
  struct lch_strlist tests;
};
struct lcr_spec {
  struct lcr_clause *v;
  size_t n;
  size_t nfiles;
};
/* Read every *.tsv file in dir. Returns 0, or -1 with one error line. */
int lcr_spec_load(const char *dir, struct lcr_spec *spec);
const struct lcr_clause *lcr_spec_find(const struct lcr_spec *spec, const char *id);
void lcr_spec_free(struct lcr_spec *spec);
/* Number of visible tests that claim clause id. */
size_t lcr_spec_claimants(const char *id);
/* 1 if the space-separated clause list contains id. */
int lcr_clauses_contain(const char *clauses, const char *id);
/* The default spec directory (lch_data_dir("spec")), static storage. */
const char *lcr_spec_default_dir(void);

/* ---- matrix: the run's data --------------------------------------------------------------- */

struct lcr_column {
  struct lcr_backend_info mod;
  struct lcr_expect_set expect; /* empty if there is no expectations file */
};

struct lcr_cell {
  enum lcr_verdict verdict;           /* final, after expectations and repeats */
  char *reason;                       /* shown in the reasons section; NULL for PASS */
  struct lcr_outcome shown;           /* the run whose log/characteristics are reported */
  unsigned counts[LCR_VERDICT_COUNT]; /* per-repetition verdicts after expectations */
  int runs;
};

struct lcr_matrix {
  struct lcr_column *cols;
  size_t ncols;
  const struct lc_test_def **tests;
  size_t ntests;
  struct lcr_cell *cells; /* ntests * ncols, row-major */
  const struct lcr_spec *spec;
  double multiplier;
  int repeat;
  /* The text report (report_text.c): clause column, only rows with an unexpected verdict,
   * colour (ANSI; decided by the caller: --color, a TTY, NO_COLOR). */
  int text_clauses, text_unexpected, text_color;
};
static inline struct lcr_cell *lcr_matrix_cell(const struct lcr_matrix *m, size_t t, size_t c) {
  return &m->cells[t * m->ncols + c];
}

/* ---- reports ------------------------------------------------------------------------------ */

/* The human-readable matrix, characteristics, reasons, summary and the final CI line. */
void lcr_report_text(FILE *out, const struct lcr_matrix *m);
/* TAP version 13 and JUnit XML, written into an already open stream. */
void lcr_report_tap(FILE *out, const struct lcr_matrix *m);
void lcr_report_junit(FILE *out, const struct lcr_matrix *m);
/* The machine-readable results (report_json.c), written atomically to path. 0 or -1 (error
 * printed). */
#define LCR_JSON_SCHEMA "loopconf-run/1"
int lcr_report_json(const char *path, const struct lcr_matrix *m);

/* ---- subcommands -------------------------------------------------------------------------- */

/* Print the command-line help. */
void lcr_usage(FILE *out);
int lcr_cmd_run(int argc, char **argv);
int lcr_cmd_list(int argc, char **argv);
int lcr_cmd_spec_check(int argc, char **argv);

#endif /* LCR_RUNNER_H */
