/* run.c: `loopconf run`: resolve backends, run every (backend, test) cell, report. */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LCR_DEFAULT_TIMEOUT_MS 10000

/* ---- Resolving the columns ---------------------------------------------------------------- */

/* Module paths for the selection: the --backend names and paths (every built-in when there is
 * no --backend), then each --adapter, which adds to that selection. Returns 0 or -1 (error
 * printed). */
static int lcr_resolve_paths(const struct lcr_run_args *o, struct lch_strlist *paths) {
  struct lch_strlist want = {0};
  char *dir = lch_backend_dir();
  int rc = 0;
  if (!dir) return -1;
  if (o->backends.n) {
    for (size_t i = 0; i < o->backends.n; i++)
      lch_strlist_push(&want, lch_xstrdup(o->backends.v[i]));
  } else if (lch_builtin_names(dir, &want) < 0) {
    rc = -1;
    goto out;
  }
  for (size_t i = 0; i < o->adapters.n; i++) lch_strlist_push(&want, lch_xstrdup(o->adapters.v[i]));
  if (!want.n) {
    lch_error("no backend modules (lcb_*.so) in %s and none named", dir);
    rc = -1;
    goto out;
  }
  for (size_t i = 0; i < want.n; i++) {
    char *path = lch_backend_resolve(dir, want.v[i]);
    if (!path) {
      rc = -1;
      goto out;
    }
    if (lch_strlist_contains(paths, path)) free(path);
    else lch_strlist_push(paths, path);
  }
out:
  free(dir);
  lch_strlist_free(&want);
  return rc;
}

/* "<path without .so>.expect", or NULL if there is no such file. */
static char *lcr_default_expect_path(const char *module) {
  size_t n = strlen(module);
  if (n > 3 && strcmp(module + n - 3, ".so") == 0) n -= 3;
  char *p = lch_xasprintf("%.*s.expect", (int)n, module);
  if (access(p, F_OK) == 0) return p;
  free(p);
  return NULL;
}

/* Probe the modules, then attach expectations. Returns 0 or -1 (error printed). */
static int lcr_build_columns(const struct lcr_run_args *o, struct lcr_matrix *m) {
  struct lch_strlist paths = {0};
  if (lcr_resolve_paths(o, &paths) < 0) {
    lch_strlist_free(&paths);
    return -1;
  }
  struct lcr_backend_info *mods = lch_xcalloc(paths.n, sizeof *mods);
  int rc = lcr_probe_modules(paths.v, paths.n, o->multiplier, mods);
  size_t n = paths.n;
  lch_strlist_free(&paths);
  if (rc < 0) {
    free(mods);
    return -1;
  }
  m->cols = lch_xcalloc(n, sizeof *m->cols);
  m->ncols = n;
  for (size_t i = 0; i < n; i++) m->cols[i].mod = mods[i];
  free(mods);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < i; k++)
      if (strcmp(m->cols[i].mod.name, m->cols[k].mod.name) == 0) {
        lch_error("backend name '%s' is used by both %s and %s", m->cols[i].mod.name,
                  m->cols[k].mod.path, m->cols[i].mod.path);
        return -1;
      }
  for (size_t e = 0; e < o->expects.n; e++) {
    const char *spec = o->expects.v[e];
    size_t len = (size_t)(strchr(spec, '=') - spec);
    int found = 0;
    for (size_t i = 0; i < n; i++)
      if (strlen(m->cols[i].mod.name) == len && strncmp(m->cols[i].mod.name, spec, len) == 0)
        found = 1;
    if (!found) {
      lch_error("--expect %s: no selected backend is named '%.*s'", spec, (int)len, spec);
      return -1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    struct lcr_column *col = &m->cols[i];
    char *path = NULL;
    for (size_t e = 0; e < o->expects.n; e++) {
      const char *spec = o->expects.v[e], *eq = strchr(spec, '=');
      if (strlen(col->mod.name) == (size_t)(eq - spec) &&
          strncmp(col->mod.name, spec, (size_t)(eq - spec)) == 0) {
        free(path);
        path = lch_xstrdup(eq + 1); /* the last --expect for a backend wins */
      }
    }
    if (!path) path = lcr_default_expect_path(col->mod.path);
    if (path && (lcr_expect_load(path, &col->expect) < 0 ||
                 lcr_expect_select_version(&col->expect, col->mod.name, col->mod.version) < 0)) {
      free(path);
      return -1;
    }
    free(path);
  }
  return 0;
}

/* ---- Running the cells -------------------------------------------------------------------- */

struct lcr_run_state {
  struct lcr_matrix *m;
  const struct lch_job *jobs;
  size_t njobs, started;
  int progress;
};

static size_t lcr_job_cell(const struct lcr_run_state *st, size_t job) {
  return job % (st->m->ntests * st->m->ncols);
}

static void lcr_on_start(size_t job, void *ud) {
  struct lcr_run_state *st = ud;
  st->started++;
  if (!st->progress) return;
  size_t cell = lcr_job_cell(st, job);
  fprintf(stderr, "\r\033[K[%zu/%zu] %s %s", st->started, st->njobs,
          st->m->cols[cell % st->m->ncols].mod.name, st->m->tests[cell / st->m->ncols]->name);
  fflush(stderr);
}

/* Apply the expectation to one run's outcome; the reason becomes what the report shows. */
static enum lcr_verdict lcr_expect_apply(const struct lcr_expect *e, struct lcr_outcome *o) {
  if (!e || o->verdict == LCR_SKIP) return o->verdict;
  if (e->may && o->verdict == LCR_PASS) return LCR_PASS; /* it may or may not show */
  char *reason;
  enum lcr_verdict v;
  if (o->verdict == e->verdict) {
    v = LCR_XFAIL;
    reason = lch_xstrdup(e->reason);
  } else if (o->verdict == LCR_PASS) {
    v = LCR_XPASS;
    reason = lch_xasprintf("expected %s (%s) but the test passed", lcr_verdict_name(e->verdict),
                           e->reason);
  } else {
    v = o->verdict;
    reason = lch_xasprintf("expected %s (%s) but got %s: %s", lcr_verdict_name(e->verdict),
                           e->reason, lcr_verdict_name(o->verdict), o->reason ? o->reason : "");
  }
  free(o->reason);
  o->reason = reason;
  return v;
}

static void lcr_on_done(size_t job, struct lch_proc_result *res, void *ud) {
  struct lcr_run_state *st = ud;
  struct lcr_matrix *m = st->m;
  size_t idx = lcr_job_cell(st, job);
  struct lcr_cell *cell = &m->cells[idx];
  size_t col = idx % m->ncols;
  struct lcr_outcome o;
  lcr_outcome_from_proc(&o, res, st->jobs[job].timeout_ms);
  lcr_pins_apply(&m->cols[col].expect, m->tests[idx / m->ncols]->name, &o);
  enum lcr_verdict v =
      lcr_expect_apply(lcr_expect_find(&m->cols[col].expect, m->tests[idx / m->ncols]->name), &o);
  cell->counts[v]++;
  /* Show the first run, unless a later one went wrong where the shown one did not, or the shown
   * one was a SKIP (no evidence) and this one is not. */
  if (cell->runs++ == 0 || (lcr_verdict_expected(cell->verdict) && !lcr_verdict_expected(v)) ||
      (cell->verdict == LCR_SKIP && v != LCR_SKIP)) {
    lcr_outcome_free(&cell->shown);
    cell->shown = o;
    cell->verdict = v;
  } else {
    lcr_outcome_free(&o);
  }
}

/* A cell expected with "may": only PASS and the expected verdict (XFAIL) happened. It is XFAIL
 * if the deviation showed at least once, PASS otherwise, and its reason counts the runs it
 * showed in. Returns 0 (and leaves the cell alone) for any other cell. */
static int lc_finalize_may(const struct lcr_matrix *m, size_t i, struct lcr_cell *cell) {
  const struct lcr_expect *e =
      lcr_expect_find(&m->cols[i % m->ncols].expect, m->tests[i / m->ncols]->name);
  unsigned shown = cell->counts[LCR_XFAIL], passed = cell->counts[LCR_PASS];
  if (!e || !e->may || shown + passed != (unsigned)cell->runs) return 0;
  cell->verdict = shown ? LCR_XFAIL : LCR_PASS;
  cell->reason = lch_xasprintf("may %s: showed in %u of %d run(s): %s",
                               lcr_verdict_name(e->verdict), shown, cell->runs, e->reason);
  return 1;
}

/* One cell's final verdict from its repetitions' counts. */
static void lcr_finalize_cell(struct lcr_matrix *m, size_t i, struct lcr_cell *cell) {
  int distinct = 0;
  for (int v = 0; v < LCR_VERDICT_COUNT; v++) distinct += cell->counts[v] != 0;
  const char *why = cell->shown.reason;
  if (lc_finalize_may(m, i, cell)) return;
  if (distinct > 1) {
    struct lch_buf sb = {0};
    lch_buf_printf(&sb, "verdict changed between %d repetitions:", cell->runs);
    for (int v = 0, first = 1; v < LCR_VERDICT_COUNT; v++)
      if (cell->counts[v]) {
        lch_buf_printf(&sb, "%s %s x%u", first ? "" : ",", lcr_verdict_name((enum lcr_verdict)v),
                       cell->counts[v]);
        first = 0;
      }
    if (why) lch_buf_printf(&sb, "; %s: %s", lcr_verdict_name(cell->verdict), why);
    cell->verdict = LCR_FLAKY;
    cell->reason = sb.data;
  } else {
    cell->reason = why ? lch_xstrdup(why) : NULL;
  }
}

/* After all repetitions: a cell whose verdict changed between them is FLAKY. A repetition that
 * SKIPped (a test that could not measure, e.g. "inconclusive: the machine was too busy")
 * gave no evidence either way: when others ran, the cell is judged on them alone and its
 * reason says how many were skipped. */
static void lcr_finalize_cells(struct lcr_matrix *m) {
  for (size_t i = 0; i < m->ntests * m->ncols; i++) {
    struct lcr_cell *cell = &m->cells[i];
    unsigned skipped = 0;
    if (cell->counts[LCR_SKIP] && (int)cell->counts[LCR_SKIP] < cell->runs) {
      skipped = cell->counts[LCR_SKIP];
      cell->counts[LCR_SKIP] = 0;
      cell->runs -= (int)skipped;
    }
    lcr_finalize_cell(m, i, cell);
    if (skipped) {
      char *r =
          lch_xasprintf("%s%sSKIP (no evidence) in %u of %d runs", cell->reason ? cell->reason : "",
                        cell->reason ? "; " : "", skipped, cell->runs + (int)skipped);
      free(cell->reason);
      cell->reason = r;
      cell->counts[LCR_SKIP] = skipped;
      cell->runs += (int)skipped;
    }
  }
}

static int lcr_run_cells(const struct lcr_run_args *o, struct lcr_matrix *m) {
  size_t ncells = m->ntests * m->ncols, njobs = ncells * (size_t)o->repeat;
  struct lch_job *jobs = lch_xcalloc(njobs, sizeof *jobs);
  char **argvs = lch_xcalloc(ncells * 6, sizeof *argvs);
  for (size_t i = 0; i < ncells; i++) {
    const struct lc_test_def *t = m->tests[i / m->ncols];
    char **argv = &argvs[i * 6];
    argv[0] = "loopconf";
    argv[1] = "__cell";
    argv[2] = m->cols[i % m->ncols].mod.path;
    argv[3] = (char *)t->name;
    argv[4] = "3";
    argv[5] = NULL;
    long limit =
        (long)((t->timeout_ms > 0 ? t->timeout_ms : LCR_DEFAULT_TIMEOUT_MS) * m->multiplier);
    for (int r = 0; r < o->repeat; r++)
      jobs[(size_t)r * ncells + i] = (struct lch_job){.argv = argv, .timeout_ms = limit};
  }
  struct lcr_run_state st = {
      .m = m, .jobs = jobs, .njobs = njobs, .progress = !o->quiet && isatty(2)};
  int rc = lch_exec_jobs(jobs, njobs, (unsigned)o->jobs, lcr_on_start, lcr_on_done, &st);
  if (st.progress) fputs("\r\033[K", stderr);
  free(argvs);
  free(jobs);
  if (rc == -EINTR) lch_error("interrupted: the running cells were killed, no report written");
  if (rc < 0) return rc == -EINTR ? -2 : -1;
  lcr_finalize_cells(m);
  return 0;
}

/* ---- The command -------------------------------------------------------------------------- */

static void lcr_matrix_free(struct lcr_matrix *m) {
  for (size_t i = 0; m->cells && i < m->ntests * m->ncols; i++) {
    lcr_outcome_free(&m->cells[i].shown);
    free(m->cells[i].reason);
  }
  free(m->cells);
  for (size_t i = 0; i < m->ncols; i++) {
    lcr_backend_info_free(&m->cols[i].mod);
    lcr_expect_free(&m->cols[i].expect);
  }
  free(m->cols);
  free(m->tests);
}

int lcr_cmd_run(int argc, char **argv) {
  struct lcr_run_args o;
  struct lcr_matrix m = {0};
  struct lcr_spec spec = {0};
  struct lch_outfile tap = {0}, junit = {0};
  int status = 2;
  if (lcr_run_args_parse(argc, argv, &o) < 0) goto out;
  if (o.help) {
    lcr_usage(stdout);
    status = 0;
    goto out;
  }
  if (lcr_registry_check() < 0) goto out;
  /* The children read the multiplier from the environment. */
  char mult[64];
  snprintf(mult, sizeof mult, "%.17g", o.multiplier);
  if (setenv("LOOPCONF_TIME_MULTIPLIER", mult, 1) < 0) {
    lch_error("setenv: %s", strerror(errno));
    goto out;
  }
  m.multiplier = o.multiplier;
  m.repeat = o.repeat;
  if (lcr_select_tests(&o.patterns, &m.tests, &m.ntests) < 0) goto out;
  if (m.ntests == 0) {
    lch_error("no tests are registered in this build");
    goto out;
  }
  if (lcr_spec_load(o.spec_dir ? o.spec_dir : lcr_spec_default_dir(), &spec) < 0) goto out;
  m.spec = &spec;
  if (lcr_build_columns(&o, &m) < 0) goto out;
  if (o.tap && lch_outfile_open(&tap, o.tap) < 0) goto out;
  if (o.junit && lch_outfile_open(&junit, o.junit) < 0) goto out;
  m.cells = lch_xcalloc(m.ntests * m.ncols, sizeof *m.cells);
  int cells_rc = lcr_run_cells(&o, &m);
  if (cells_rc == -2)
    status = 128 + (lch_interrupted() ? lch_interrupted() : SIGINT); /* interrupted */
  if (cells_rc < 0) goto out;

  m.text_clauses = o.clauses;
  m.text_unexpected = o.unexpected_only;
  if (o.color < 0) { /* https://no-color.org: set and not empty disables colour */
    const char *nc = getenv("NO_COLOR");
    m.text_color = isatty(1) && !(nc && *nc);
  } else {
    m.text_color = o.color;
  }
  lcr_report_text(stdout, &m);
  fflush(stdout);
  if (tap.f) {
    lcr_report_tap(tap.f, &m);
    if (lch_outfile_commit(&tap) < 0) goto out;
  }
  if (junit.f) {
    lcr_report_junit(junit.f, &m);
    if (lch_outfile_commit(&junit) < 0) goto out;
  }
  if (o.json && lcr_report_json(o.json, &m) < 0) goto out;
  status = 0;
  for (size_t i = 0; i < m.ntests * m.ncols; i++)
    if (!lcr_verdict_expected(m.cells[i].verdict)) status = 1;
out:
  lch_outfile_abort(&tap);
  lch_outfile_abort(&junit);
  lcr_matrix_free(&m);
  lcr_spec_free(&spec);
  lcr_run_args_free(&o);
  return status;
}
