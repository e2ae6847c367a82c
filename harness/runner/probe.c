/* probe.c: find built-in backend modules and ask a child process for each one's name/version. */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *lc_backend_dir(void) {
  const char *env = getenv("LOOPCONF_BACKEND_DIR");
  if (env && *env) return xstrdup(env);
  char *exe = lc_exe_dir();
  if (!exe) return NULL;
  char *dir = xasprintf("%s/backends", exe);
  free(exe);
  return dir;
}

static int lc_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int lc_builtin_names(const char *dir, struct strlist *names) {
  DIR *d = opendir(dir);
  if (!d) {
    cli_error("cannot read the backend directory %s: %s", dir, strerror(errno));
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n > 7 && strncmp(e->d_name, "lcb_", 4) == 0 && strcmp(e->d_name + n - 3, ".so") == 0)
      sl_push(names, xstrndup(e->d_name + 4, n - 7));
  }
  closedir(d);
  if (names->n) qsort(names->v, names->n, sizeof *names->v, lc_cmp_str);
  return 0;
}

void lc_module_info_free(struct lc_module_info *m) {
  free(m->path);
  free(m->name);
  free(m->version);
  memset(m, 0, sizeof *m);
}

struct lc_probe_state {
  struct lc_module_info *out;
  char **paths;
  char *first_error; /* the first problem, reported once all probes ended */
};

struct lc_probe_record {
  char *name, *version, *error;
};

static void lc_probe_record_fn(const char *kind, const char *f1, const char *f2, void *ud) {
  struct lc_probe_record *rec = ud;
  if (strcmp(kind, "backend") == 0 && !rec->name) {
    rec->name = xstrdup(f1);
    rec->version = xstrdup(f2);
  } else if (strcmp(kind, "error") == 0 && !rec->error) {
    rec->error = xstrdup(f1);
  }
}

static void lc_probe_done(size_t i, struct lc_proc_result *res, void *ud) {
  struct lc_probe_state *st = ud;
  struct lc_probe_record rec = {0};
  lc_channel_parse(res->result.data ? res->result.data : "", res->result.len,
                   lc_probe_record_fn, &rec);
  char *problem = NULL;
  if (res->spawn_errno)
    problem = xasprintf("cannot start a child to load %s: %s", st->paths[i],
                        strerror(res->spawn_errno));
  else if (rec.error)
    problem = xstrdup(rec.error);
  else if (res->timed_out)
    problem = xasprintf("loading %s did not finish within the time limit", st->paths[i]);
  else if (res->signo)
    problem = xasprintf("loading %s killed the child with signal %d (%s)", st->paths[i],
                        res->signo, strsignal(res->signo));
  else if (res->exit_code != 0 || !rec.name)
    problem = xasprintf("loading %s failed (exit status %d)", st->paths[i], res->exit_code);
  if (problem) {
    if (!st->first_error)
      st->first_error = problem;
    else
      free(problem);
    free(rec.name);
    free(rec.version);
  } else {
    st->out[i].path = xstrdup(st->paths[i]);
    st->out[i].name = rec.name;
    st->out[i].version = rec.version;
  }
  free(rec.error);
}

int lc_probe_modules(char **paths, size_t n, double multiplier, struct lc_module_info *out) {
  struct lc_job *jobs = xcalloc(n, sizeof *jobs);
  char **argvs = xcalloc(n * 5, sizeof *argvs);
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
  struct lc_probe_state st = {.out = out, .paths = paths};
  int rc = lc_exec_jobs(jobs, n, 2, NULL, lc_probe_done, &st);
  free(argvs);
  free(jobs);
  if (rc < 0 || st.first_error) {
    if (st.first_error) cli_error("%s", st.first_error);
    free(st.first_error);
    for (size_t i = 0; i < n; i++) lc_module_info_free(&out[i]);
    return -1;
  }
  return 0;
}
