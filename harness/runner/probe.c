/* probe.c: ask a child process for each backend module's name and version. */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lcr_backend_info_free(struct lcr_backend_info *m) {
  free(m->path);
  free(m->name);
  free(m->version);
  memset(m, 0, sizeof *m);
}

struct lcr_probe_state {
  struct lcr_backend_info *out;
  char **paths;
  char *first_error; /* the first problem, reported once all probes ended */
};

struct lcr_probe_record {
  char *name, *version, *error;
};

/* A backend's name or version() as every report shows it: cleaned of control characters and
 * invalid UTF-8 (lch_text_clean), on one line, at most 200 bytes. */
static char *lcr_probe_text(const char *s) {
  char *c = lch_text_clean(s, strlen(s));
  for (char *p = c; *p; p++)
    if (*p == '\t' || *p == '\n') *p = ' ';
  size_t n = strlen(c);
  if (n > 200) {
    n = 200;
    while (n && ((unsigned char)c[n] & 0xc0) == 0x80) n--; /* a code point boundary */
    c[n] = '\0';
  }
  return c;
}

static void lcr_probe_record_fn(const char *kind, const char *f1, const char *f2, void *ud) {
  struct lcr_probe_record *rec = ud;
  if (strcmp(kind, "backend") == 0 && !rec->name) {
    rec->name = lcr_probe_text(f1);
    rec->version = lcr_probe_text(f2);
  } else if (strcmp(kind, "error") == 0 && !rec->error) {
    rec->error = lch_xstrdup(f1);
  }
}

static void lcr_probe_done(size_t i, struct lch_proc_result *res, void *ud) {
  struct lcr_probe_state *st = ud;
  struct lcr_probe_record rec = {0};
  lcr_channel_parse(res->result.data ? res->result.data : "", res->result.len, lcr_probe_record_fn,
                    &rec);
  char *problem = NULL;
  if (res->spawn_errno)
    problem = lch_xasprintf("cannot start a child to load %s: %s", st->paths[i],
                            strerror(res->spawn_errno));
  else if (rec.error) problem = lch_xstrdup(rec.error);
  else if (res->timed_out)
    problem = lch_xasprintf("loading %s did not finish within the time limit", st->paths[i]);
  else if (res->signo)
    problem = lch_xasprintf("loading %s killed the child with signal %d (%s)", st->paths[i],
                            res->signo, strsignal(res->signo));
  else if (res->exit_code != 0 || !rec.name)
    problem = lch_xasprintf("loading %s failed (exit status %d)", st->paths[i], res->exit_code);
  if (problem) {
    if (!st->first_error) st->first_error = problem;
    else free(problem);
    free(rec.name);
    free(rec.version);
  } else {
    st->out[i].path = lch_xstrdup(st->paths[i]);
    st->out[i].name = rec.name;
    st->out[i].version = rec.version;
  }
  free(rec.error);
}

int lcr_probe_modules(char **paths, size_t n, double multiplier, struct lcr_backend_info *out) {
  struct lch_job *jobs = lch_xcalloc(n, sizeof *jobs);
  char **argvs = lch_xcalloc(n * 5, sizeof *argvs);
  for (size_t i = 0; i < n; i++) {
    char **argv = &argvs[i * 5];
    argv[0] = "loopconf";
    argv[1] = "__probe";
    argv[2] = paths[i];
    argv[3] = "3";
    argv[4] = NULL;
    jobs[i].argv = argv;
    jobs[i].timeout_ms = (long)(10000 * multiplier);
  }
  struct lcr_probe_state st = {.out = out, .paths = paths};
  int rc = lch_exec_jobs(jobs, n, 2, NULL, lcr_probe_done, &st);
  free(argvs);
  free(jobs);
  if (rc < 0 || st.first_error) {
    if (st.first_error) lch_error("%s", st.first_error);
    free(st.first_error);
    for (size_t i = 0; i < n; i++) lcr_backend_info_free(&out[i]);
    return -1;
  }
  return 0;
}
