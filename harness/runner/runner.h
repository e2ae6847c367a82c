/* runner.h: internal interfaces shared by the parts of the `loopconf` conformance runner. */
#ifndef LCR_RUNNER_H
#define LCR_RUNNER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "lc_test.h"

/* ---- util.c: memory, errors, strings ----------------------------------------------------- */

/* Allocation that never returns NULL: out of memory prints one error line and exits 2. */
void *lch_xmalloc(size_t n);
void *lch_xcalloc(size_t n, size_t size);
void *lch_xrealloc(void *p, size_t n);
char *lch_xstrdup(const char *s);
char *lch_xstrndup(const char *s, size_t n);
char *lch_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "loopconf: error: <message>" as one line on stderr (newlines in it become spaces). */
void lch_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer, always NUL-terminated when data != NULL. */
struct lch_buf {
  char *data;
  size_t len, cap;
};
void lch_buf_append(struct lch_buf *sb, const void *data, size_t n);
void lch_buf_puts(struct lch_buf *sb, const char *s);
void lch_buf_printf(struct lch_buf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lch_buf_free(struct lch_buf *sb);
/* Drop the first n bytes. */
void lch_buf_consume(struct lch_buf *sb, size_t n);

/* A list of owned strings. */
struct lch_strlist {
  char **v;
  size_t n;
};
void lch_strlist_push(struct lch_strlist *l, char *owned);
/* Split s on commas, trim blanks, push non-empty parts. */
void lch_strlist_split_commas(struct lch_strlist *l, const char *s);
int lch_strlist_contains(const struct lch_strlist *l, const char *s);
void lch_strlist_free(struct lch_strlist *l);

/* Path and directory of the running executable (from /proc/self/exe), malloc'd; NULL with
 * an error line printed if it cannot be read. */
char *lch_exe_path(void);
char *lch_exe_dir(void);

/* Return 1 if s is valid UTF-8 (no NUL bytes), else 0. */
int lch_utf8_valid(const char *s, size_t n);

/* ---- textclean.c: output sanitising --------------------------------------------------------
 * Copy text for a report: valid UTF-8 is kept, other bytes become '?', control characters
 * other than TAB and LF become '?'; the result is safe for XML 1.0 and YAML block scalars. */
char *lch_text_clean(const char *s, size_t n);
/* Append s XML-escaped (&, <, >, ", ') after cleaning. */
void lch_xml_escape(struct lch_buf *out, const char *s);

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
  char *reason;            /* why, for anything but PASS; NULL for PASS */
  char *version;           /* the version the child reported, or NULL */
  char *log;               /* the child's stdout+stderr, capped */
  struct lcr_kv *chars;     /* characteristics recorded */
  size_t nchars;
  struct lch_strlist notes;
  double seconds;
};
void lcr_outcome_free(struct lcr_outcome *o);

/* ---- exec.c: child processes under a time limit ------------------------------------------- */

#define LCH_LOG_CAP (64 * 1024)        /* bytes of log kept per child (the tail) */
#define LCH_RESULT_CAP (1024 * 1024)   /* bytes of result channel kept per child */

struct lch_proc_result {
  int timed_out;         /* killed because the time limit passed */
  int exit_code;         /* valid when signo == 0 and !timed_out */
  int signo;             /* the signal that ended it, or 0 */
  struct lch_buf log;     /* stdout+stderr, the last LCH_LOG_CAP bytes */
  size_t log_dropped;    /* bytes dropped from the front of the log */
  struct lch_buf result;  /* the result channel */
  double seconds;        /* wall time */
  int spawn_errno;       /* non-zero if the child could not be started */
};

struct lch_job {
  char **argv;      /* argv for this executable; argv[0] is a display name */
  long timeout_ms;  /* already multiplied */
};

/* Called when job i starts and when it has finished (result is owned by the callee until
 * the callback returns; it is freed afterwards). */
typedef void (*lch_job_start_fn)(size_t i, void *ud);
typedef void (*lch_job_done_fn)(size_t i, struct lch_proc_result *res, void *ud);

/* Run n jobs, at most `parallel` at once, each a fork + exec of this executable (the path
 * /proc/self/exe names, resolved once so that it also works under valgrind) in its own
 * process group, with stdin from /dev/null, stdout+stderr to the log pipe and fd 3 the result
 * channel. Returns 0, or -errno if the runner itself failed (pipes, poll). */
int lch_exec_jobs(const struct lch_job *jobs, size_t n, unsigned parallel, lch_job_start_fn on_start,
                 lch_job_done_fn on_done, void *ud);

/* Classify a finished cell process into an outcome (parses the result channel). */
void lcr_outcome_from_proc(struct lcr_outcome *o, struct lch_proc_result *res, long timeout_ms);

/* ---- channel.c: result-channel records ---------------------------------------------------- */

/* Split the channel text into records; for each, call cb with the kind and up to 2 unescaped
 * fields (missing fields are ""). */
typedef void (*lcr_channel_fn)(const char *kind, const char *f1, const char *f2, void *ud);
void lcr_channel_parse(const char *text, size_t len, lcr_channel_fn cb, void *ud);

/* The fd number a cell child uses for its result channel. */
#define LCH_RESULT_FD 3

/* ---- module.c: loading one backend (child side only) -------------------------------------- */

/* dlopen path (RTLD_NOW | RTLD_LOCAL) and validate the backend it exports: the entry symbol,
 * the ABI version, a well-formed name, a version string, every mandatory operation, and the
 * optional groups being all-set or all-NULL. Returns the backend, or NULL with *err set to a
 * malloc'd one-line message. */
const struct lc_backend *lch_backend_load(const char *path, char **err);

/* ---- cell.c: the hidden child subcommands ------------------------------------------------- */

/* loopconf __cell MODULE TEST FD: run one test on one backend; exits with cmocka's status. */
int lcr_cell_main(int argc, char **argv);
/* loopconf __probe MODULE FD: load a module and report "backend name version" or "error". */
int lcr_probe_main(int argc, char **argv);

/* ---- probe.c: asking a child about a module ----------------------------------------------- */

struct lcr_module_info {
  char *path;    /* absolute */
  char *name;    /* from lc_backend.name */
  char *version; /* from lc_backend.version() */
};
/* Probe each path in its own child (so no two modules ever share the runner's image). On
 * failure prints one error line naming the first bad module and returns -1. */
int lcr_probe_modules(char **paths, size_t n, double multiplier, struct lcr_module_info *out);
void lcr_module_info_free(struct lcr_module_info *m);
/* The built-in backend directory (LOOPCONF_BACKEND_DIR or <exe dir>/backends), malloc'd. */
char *lch_backend_dir(void);
/* The names of the lcb_<name>.so files in dir, sorted. Returns 0, or -1 with an error line. */
int lch_builtin_names(const char *dir, struct lch_strlist *names);

/* ---- expect.c: expectations files --------------------------------------------------------- */

struct lcr_expect {
  char *test;
  enum lcr_verdict verdict; /* FAIL, TIMEOUT or CRASH */
  char *reason;
  int may; /* "<test> may <VERDICT> <reason>": expected whether it shows or not */
};
struct lcr_expect_set {
  char *path;
  struct lcr_expect *v;
  size_t n;
};
/* Load an expectations file. Every test named must exist in the registry (selftests too).
 * Returns 0, or -1 with one error line (file:line: problem). */
int lcr_expect_load(const char *path, struct lcr_expect_set *set);
const struct lcr_expect *lcr_expect_find(const struct lcr_expect_set *set, const char *test);
void lcr_expect_free(struct lcr_expect_set *set);

/* ---- select.c: choosing tests ------------------------------------------------------------- */

/* 1 if name is a hidden self-test ("selftest." prefix). */
int lcr_test_hidden(const char *name);
/* Select the tests matching any pattern (exact names or fnmatch globs; hidden tests only for
 * patterns that themselves start with "selftest"). No patterns: every visible test. Each
 * pattern must match at least one test. Returns 0 with a malloc'd array, or -1 with an error
 * line. */
int lcr_select_tests(const struct lch_strlist *patterns, const struct lc_test_def ***out, size_t *n);
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
/* The default spec directory (LOOPCONF_SOURCE_DIR/spec). */
const char *lcr_spec_default_dir(void);

/* ---- matrix: the run's data --------------------------------------------------------------- */

struct lcr_column {
  struct lcr_module_info mod;
  struct lcr_expect_set expect; /* empty if there is no expectations file */
};

struct lcr_cell {
  enum lcr_verdict verdict;   /* final, after expectations and repeats */
  char *reason;              /* shown in the reasons section; NULL for PASS */
  struct lcr_outcome shown;   /* the run whose log/characteristics are reported */
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

/* ---- outfile.c: atomic report files ------------------------------------------------------- */

struct lch_outfile {
  char *path, *tmp;
  FILE *f;
};
/* Open PATH.tmp.<pid> for writing. Returns 0, or -1 with an error line. */
int lch_outfile_open(struct lch_outfile *o, const char *path);
/* Flush, fsync and rename over PATH. Returns 0, or -1 with an error line (tmp removed). */
int lch_outfile_commit(struct lch_outfile *o);
/* Remove the temporary file if still open (error paths). */
void lch_outfile_abort(struct lch_outfile *o);

/* ---- subcommands -------------------------------------------------------------------------- */

/* Print the command-line help. */
void lcr_usage(FILE *out);
int lcr_cmd_run(int argc, char **argv);
int lcr_cmd_list(int argc, char **argv);
int lcr_cmd_spec_check(int argc, char **argv);

/* Parse a time multiplier (>= 1, finite). Returns 0 or -1 with an error line naming `what`. */
int lcr_parse_multiplier(const char *s, const char *what, double *out);
/* The multiplier from LOOPCONF_TIME_MULTIPLIER, 1 if unset. -1 with an error line if bad. */
int lcr_env_multiplier(double *out);

#endif /* LCR_RUNNER_H */
