/* probe.c: find built-in backend modules and ask a child process for each one's name/version. */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *lch_backend_dir(void) {
  const char *env = getenv("LOOPCONF_BACKEND_DIR");
  if (env && *env) return lch_xstrdup(env);
  char *exe = lch_exe_dir();
  if (!exe) return NULL;
  char *dir = lch_xasprintf("%s/backends", exe);
  free(exe);
  return dir;
}

static int lcr_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int lch_builtin_names(const char *dir, struct lch_strlist *names) {
  DIR *d = opendir(dir);
  if (!d) {
    lch_error("cannot read the backend directory %s: %s", dir, strerror(errno));
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n > 7 && strncmp(e->d_name, "lcb_", 4) == 0 && strcmp(e->d_name + n - 3, ".so") == 0)
      lch_strlist_push(names, lch_xstrndup(e->d_name + 4, n - 7));
  }
  closedir(d);
  if (names->n) qsort(names->v, names->n, sizeof *names->v, lcr_cmp_str);
  return 0;
}

void lcr_module_info_free(struct lcr_module_info *m) {
  free(m->path);
  free(m->name);
  free(m->version);
  memset(m, 0, sizeof *m);
}

struct lcr_probe_state {
  struct lcr_module_info *out;
  char **paths;
  char *first_error; /* the first problem, reported once all probes ended */
};

struct lcr_probe_record {
  char *name, *version, *error;
};

static void lcr_probe_record_fn(const char *kind, const char *f1, const char *f2, void *ud) {
  struct lcr_probe_record *rec = ud;
  if (strcmp(kind, "backend") == 0 && !rec->name) {
    rec->name = lch_xstrdup(f1);
    rec->version = lch_xstrdup(f2);
  } else if (strcmp(kind, "error") == 0 && !rec->error) {
    rec->error = lch_xstrdup(f1);
  }
}

static void lcr_probe_done(size_t i, struct lch_proc_result *res, void *ud) {
  struct lcr_probe_state *st = ud;
  struct lcr_probe_record rec = {0};
  lcr_channel_parse(res->result.data ? res->result.data : "", res->result.len,
                   lcr_probe_record_fn, &rec);
  char *problem = NULL;
  if (res->spawn_errno)
    problem = lch_xasprintf("cannot start a child to load %s: %s", st->paths[i],
                        strerror(res->spawn_errno));
  else if (rec.error)
    problem = lch_xstrdup(rec.error);
  else if (res->timed_out)
    problem = lch_xasprintf("loading %s did not finish within the time limit", st->paths[i]);
  else if (res->signo)
    problem = lch_xasprintf("loading %s killed the child with signal %d (%s)", st->paths[i],
                        res->signo, strsignal(res->signo));
  else if (res->exit_code != 0 || !rec.name)
    problem = lch_xasprintf("loading %s failed (exit status %d)", st->paths[i], res->exit_code);
  if (problem) {
    if (!st->first_error)
      st->first_error = problem;
    else
      free(problem);
    free(rec.name);
    free(rec.version);
  } else {
    st->out[i].path = lch_xstrdup(st->paths[i]);
    st->out[i].name = rec.name;
    st->out[i].version = rec.version;
  }
  free(rec.error);
}

int lcr_probe_modules(char **paths, size_t n, double multiplier, struct lcr_module_info *out) {
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
    for (size_t i = 0; i < n; i++) lcr_module_info_free(&out[i]);
    return -1;
  }
  return 0;
}
