/* bench_driver.c: `loopconf-bench bench`: one child process per backend (each a Google
 * Benchmark run writing JSON, or callgrind runs of the deterministic benchmarks), merged into
 * one results file written to a temp file and renamed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_main.h"

#define MAX_BACKENDS 32

struct child_spec {
  char path[PATH_MAX]; /* module path, or "" for the backend-independent set */
  char name[64];       /* learnt from the child */
  char version[256];
};

struct opts {
  struct child_spec be[MAX_BACKENDS + 1];
  int nbe;
  const char *filter;
  int repetitions;
  double min_time;
  int quick, callgrind;
  const char *out;
  int tty;
};

enum out_mode { OUT_INHERIT, OUT_NULL, OUT_CAPTURE };

/* Run argv (argv[0] is the program path) and wait. OUT_CAPTURE collects stdout into a malloc'ed
 * *captured. Returns the exit status (0..255), 128 + signal if killed, or -errno if it could
 * not start. */
static int run_child(char *const argv[], enum out_mode mode, char **captured, int bind_now,
                     const char *err_path) {
  int pfd[2] = {-1, -1};
  if (mode == OUT_CAPTURE && pipe2(pfd, O_CLOEXEC) < 0) return -errno;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    if (pfd[0] >= 0) { close(pfd[0]); close(pfd[1]); }
    return -e;
  }
  if (pid == 0) {
    if (mode == OUT_NULL) {
      int fd = open("/dev/null", O_WRONLY);
      if (fd >= 0) dup2(fd, 1);
    } else if (mode == OUT_CAPTURE) {
      dup2(pfd[1], 1);
    }
    if (err_path) { /* stderr to a log the parent shows only if the child fails badly */
      int fd = open(err_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
      if (fd >= 0) dup2(fd, 2);
    }
    if (bind_now) setenv("LD_BIND_NOW", "1", 1);
    execvp(argv[0], argv);
    fprintf(stderr, "loopconf-bench: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if (mode == OUT_CAPTURE) {
    close(pfd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
      if (buf && len + 1 >= cap) {
        char *nb = realloc(buf, cap * 2);
        if (!nb) { free(buf); buf = NULL; }
        else { buf = nb; cap *= 2; }
      }
      char sink[4096];
      ssize_t r = buf ? read(pfd[0], buf + len, cap - len - 1) : read(pfd[0], sink, sizeof sink);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      if (buf) len += (size_t)r;
    }
    close(pfd[0]);
    if (buf) buf[len] = '\0';
    *captured = buf;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -errno;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

/* Built-in backends: <exe dir>/backends/lcb_*.so, the known ones first, then the rest sorted. */
static int find_builtin(struct opts *o) {
  static const char *pref[] = {"reference", "libuv", "libev", "libevent",
                               "glib",      "sdevent", "tevent"};
  const int npref = (int)(sizeof pref / sizeof pref[0]);
  char dir[PATH_MAX / 2]; /* room for "/lcb_<name>.so" in a PATH_MAX path */
  snprintf(dir, sizeof dir, "%s/backends", lcbench_exe_dir());
  struct dirent **list;
  int n = scandir(dir, &list, NULL, alphasort);
  if (n < 0) {
    fprintf(stderr, "loopconf-bench: no backends in %s: %s\n", dir, strerror(errno));
    return -1;
  }
  char names[MAX_BACKENDS][64];
  int nn = 0;
  for (int i = 0; i < n; i++) {
    const char *d = list[i]->d_name;
    size_t len = strlen(d);
    if (strncmp(d, "lcb_", 4) == 0 && len > 7 && strcmp(d + len - 3, ".so") == 0 &&
        len - 7 < 64 && nn < MAX_BACKENDS) {
      memcpy(names[nn], d + 4, len - 7);
      names[nn++][len - 7] = '\0';
    }
    free(list[i]);
  }
  free(list);
  int used[MAX_BACKENDS] = {0};
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < (pass ? nn : npref); k++)
      for (int i = 0; i < nn; i++) {
        if (used[i] || (pass == 0 ? strcmp(names[i], pref[k]) != 0 : i != k)) continue;
        used[i] = 1;
        if (snprintf(o->be[o->nbe].path, PATH_MAX, "%s/lcb_%s.so", dir, names[i]) < PATH_MAX)
          o->nbe++;
      }
  if (o->nbe == 0) {
    fprintf(stderr, "loopconf-bench: no backends in %s (build them first)\n", dir);
    return -1;
  }
  return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o) {
  o->repetitions = -1;
  o->min_time = -1;
  o->out = "loopconf-bench-results.json";
  const char *backends = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (strcmp(a, "--quick") == 0) o->quick = 1;
    else if (strcmp(a, "--callgrind") == 0) o->callgrind = 1;
    else if (strcmp(a, "--backend") == 0 && has) backends = argv[++i];
    else if (strcmp(a, "--filter") == 0 && has) o->filter = argv[++i];
    else if (strcmp(a, "--out") == 0 && has) o->out = argv[++i];
    else if (strcmp(a, "--adapter") == 0 && has) {
      if (o->nbe >= MAX_BACKENDS) { fprintf(stderr, "loopconf-bench: too many backends\n"); return -1; }
      if (access(argv[i + 1], R_OK) != 0) {
        fprintf(stderr, "loopconf-bench: --adapter %s: %s\n", argv[i + 1], strerror(errno));
        return -1;
      }
      snprintf(o->be[o->nbe++].path, PATH_MAX, "%s", argv[++i]);
    } else if ((strcmp(a, "--repetitions") == 0 || strcmp(a, "--min-time") == 0) && has) {
      char *end;
      double x = strtod(argv[++i], &end);
      int reps = a[2] == 'r';
      if (*end || end == argv[i] || (reps ? (x < 1 || x > 1000 || x != (int)x) : !(x > 0 && x <= 60))) {
        fprintf(stderr, "loopconf-bench: bad %s '%s'\n", a, argv[i]);
        return -1;
      }
      if (reps) o->repetitions = (int)x;
      else o->min_time = x;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      return 1;
    } else {
      fprintf(stderr, "loopconf-bench bench: unknown or incomplete option '%s'\n", a);
      return -1;
    }
  }
  if (o->filter && strlen(o->filter) > 512) {
    fprintf(stderr, "loopconf-bench: --filter longer than 512 characters\n");
    return -1;
  }
  if (o->filter) {
    regex_t re;
    if (regcomp(&re, o->filter, REG_EXTENDED | REG_NOSUB) != 0) {
      fprintf(stderr, "loopconf-bench: bad --filter regex '%s'\n", o->filter);
      return -1;
    }
    regfree(&re);
  }
  if (backends) {
    char *copy = strdup(backends), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      char path[PATH_MAX];
      if (snprintf(path, sizeof path, "%s/backends/lcb_%s.so", lcbench_exe_dir(), tok) >= PATH_MAX)
        path[0] = '\0';
      if (access(path, R_OK) != 0 || o->nbe >= MAX_BACKENDS) {
        fprintf(stderr, "loopconf-bench: no backend '%s' (looked for %s)\n", tok, path);
        free(copy);
        return -1;
      }
      snprintf(o->be[o->nbe++].path, PATH_MAX, "%s", path);
    }
    free(copy);
  } else if (o->nbe == 0 && find_builtin(o) < 0) {
    return -1;
  }
  o->be[o->nbe++].path[0] = '\0'; /* the backend-independent set, run last */
  if (o->repetitions < 0) o->repetitions = o->quick ? 1 : 9;
  if (o->min_time < 0) o->min_time = o->quick ? 0.01 : 0.2;
  o->tty = isatty(1);
  return 0;
}

/* argv for `<exe> run --adapter P` or `<exe> run --independent`, plus extra (NULL-ended). */
static void child_argv(char **av, int *ac, char *exe, struct child_spec *c) {
  av[(*ac)++] = exe;
  av[(*ac)++] = "run";
  if (c->path[0]) {
    av[(*ac)++] = "--adapter";
    av[(*ac)++] = c->path;
  } else {
    av[(*ac)++] = "--independent";
  }
}

static int write_atomically(const char *path, const lj *doc) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fprintf(stderr, "loopconf-bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fchmod(fd, 0644);
  FILE *f = fdopen(fd, "w");
  int rc = f ? lj_write(f, doc) : -EIO;
  if (f && fclose(f) != 0) rc = -EIO;
  if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
  if (rc < 0) {
    unlink(tmp);
    fprintf(stderr, "loopconf-bench: cannot write %s: %s\n", path, strerror(rc == -EIO ? EIO : -rc));
    return -1;
  }
  return 0;
}

static void ctx_add(const char *key, const char *value, void *ctx) {
  lj_set((lj *)ctx, key, lj_new_str(value));
}

/* ---- Timing mode ------------------------------------------------------------------------ */

/* --benchmark_filter for a child: Google Benchmark matches the names it prints, which end in
 * "/real_time"; users write filters against our clean names, so every unescaped '$' anchor
 * becomes "(/real_time)?$". */
static void gb_filter_arg(char *out, size_t len, const char *filter) {
  size_t w = (size_t)snprintf(out, len, "--benchmark_filter=");
  for (const char *p = filter; *p && w + 16 < len; p++) {
    if (*p == '\\' && p[1]) {
      out[w++] = *p++;
      out[w++] = *p;
    } else if (*p == '$') {
      w += (size_t)snprintf(out + w, len - w, "(/real_time)?$");
    } else {
      out[w++] = *p;
    }
  }
  out[w] = '\0';
}

/* Names the child would run (Google Benchmark's --benchmark_list_tests). */
static int list_expected(char *exe, struct child_spec *c, const char *filter, char **out) {
  char *av[12];
  int ac = 0;
  char fbuf[4096];
  child_argv(av, &ac, exe, c);
  av[ac++] = "--benchmark_list_tests=true";
  if (filter) {
    gb_filter_arg(fbuf, sizeof fbuf, filter);
    av[ac++] = fbuf;
  }
  av[ac] = NULL;
  *out = NULL;
  /* stderr to a log: a filter that matches nothing in this child is not an error here, and
   * on failure only our own error lines are worth showing */
  char log[] = "/tmp/loopconf-bench-log-XXXXXX";
  int lfd = mkstemp(log);
  if (lfd >= 0) close(lfd);
  int rc = run_child(av, OUT_CAPTURE, out, 0, lfd >= 0 ? log : "/dev/null");
  char why[600] = "";
  if (lfd >= 0) {
    FILE *lf = fopen(log, "r");
    char line[512];
    while (lf && fgets(line, sizeof line, lf))
      if (!why[0] && strncmp(line, "loopconf-bench", 14) == 0) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(why, sizeof why, ": %s", line);
      }
    if (lf) fclose(lf);
    unlink(log);
  }
  if (rc != 0 || !*out) {
    fprintf(stderr, "loopconf-bench: listing benchmarks of %s failed (exit %d)%s\n",
            c->path[0] ? c->path : "the independent set", rc, why);
    free(*out);
    *out = NULL;
    return -1;
  }
  return 0;
}

/* Google Benchmark appends "/real_time" to the names of UseRealTime benchmarks (all of ours):
 * drop it, so names read "loop.pingpong/pairs:1" and aggregates "..._median". */
static void strip_real_time(char *name) {
  char *p = strstr(name, "/real_time");
  if (p) memmove(p, p + 10, strlen(p + 10) + 1);
}

static void strip_real_time_fields(lj *e) {
  static const char *keys[] = {"name", "run_name"};
  for (int k = 0; k < 2; k++) {
    lj *v = lj_get(e, keys[k]);
    if (v && v->type == LJ_STR) strip_real_time(v->text);
  }
}

/* The error message of the first failed entry called name, or "no result". */
static const char *error_of(const lj *benches, const char *name) {
  for (size_t i = 0; i < benches->n; i++) {
    const char *rn = lj_get_str(benches->items[i], "run_name");
    const char *msg = lj_get_str(benches->items[i], "error_message");
    if (rn && msg && strcmp(rn, name) == 0) return msg;
  }
  return "no result";
}

/* Does `doc` hold a figure for `name` (an iteration entry without error)? */
static int has_figure(const lj *benches, const char *name) {
  for (size_t i = 0; i < benches->n; i++) {
    lj *e = benches->items[i];
    const char *rn = lj_get_str(e, "run_name") ? lj_get_str(e, "run_name") : lj_get_str(e, "name");
    const char *rt = lj_get_str(e, "run_type");
    lj *err = lj_get(e, "error_occurred");
    if (rn && strcmp(rn, name) == 0 && (!rt || strcmp(rt, "iteration") == 0) &&
        !(err && err->type == LJ_TRUE) && lj_get_num(e, "iterations", 0) > 0 &&
        lj_get_num(e, "real_time", -1) > 0)
      return 1;
  }
  return 0;
}

static int bench_timing(struct opts *o, char *exe, lj *ctx, lj *benches, lj *versions) {
  int failures = 0, children = 0;
  for (int k = 0; k < o->nbe; k++) {
    struct child_spec *c = &o->be[k];
    char *expected;
    if (list_expected(exe, c, o->filter, &expected) < 0) {
      failures++;
      continue;
    }
    if (!expected[strspn(expected, " \n")]) { /* the filter leaves nothing here */
      free(expected);
      continue;
    }
    char tmp[] = "/tmp/loopconf-bench-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
      fprintf(stderr, "loopconf-bench: mkstemp: %s\n", strerror(errno));
      free(expected);
      return -1;
    }
    close(fd);
    char a_out[PATH_MAX + 32], a_rep[64], a_min[64], a_filter[4096];
    snprintf(a_out, sizeof a_out, "--benchmark_out=%s", tmp);
    snprintf(a_rep, sizeof a_rep, "--benchmark_repetitions=%d", o->repetitions);
    snprintf(a_min, sizeof a_min, "--benchmark_min_time=%g", o->min_time);
    char *av[16];
    int ac = 0;
    child_argv(av, &ac, exe, c);
    av[ac++] = a_out;
    av[ac++] = "--benchmark_out_format=json";
    av[ac++] = a_rep;
    av[ac++] = a_min;
    av[ac++] = "--benchmark_counters_tabular=true";
    if (o->filter) {
      gb_filter_arg(a_filter, sizeof a_filter, o->filter);
      av[ac++] = a_filter;
    }
    av[ac] = NULL;
    if (o->tty)
      printf("== [%d/%d] %s\n", k + 1, o->nbe, c->path[0] ? c->path : "backend-independent set");
    /* Off a TTY the child's console output (progress, context banner) is dropped; its
     * stderr goes to a log shown only if it crashed or refused its arguments (benchmark
     * errors come back in the JSON and are reported below). */
    char log[] = "/tmp/loopconf-bench-log-XXXXXX";
    int lfd = o->tty ? -1 : mkstemp(log);
    if (lfd >= 0) close(lfd);
    int rc = run_child(av, o->tty ? OUT_INHERIT : OUT_NULL, NULL, 0, lfd >= 0 ? log : NULL);
    if (lfd >= 0) {
      if (rc != 0 && rc != 1) {
        FILE *lf = fopen(log, "r");
        char line[1024];
        while (lf && fgets(line, sizeof line, lf)) fputs(line, stderr);
        if (lf) fclose(lf);
      }
      unlink(log);
    }
    children++;
    char err[512];
    lj *res = lj_parse_file(tmp, err, sizeof err);
    unlink(tmp);
    if (rc != 0 && rc != 1) /* 1: a benchmark failed; reported per benchmark below */
      fprintf(stderr, "loopconf-bench: %s: child exited with %d\n",
              c->path[0] ? c->path : "the independent set", rc);
    if (rc != 0) failures++;
    if (!res) {
      fprintf(stderr, "loopconf-bench: no results from %s: %s\n",
              c->path[0] ? c->path : "the independent set", err);
      failures++;
      free(expected);
      continue;
    }
    lj *rctx = lj_get(res, "context"), *rb = lj_get(res, "benchmarks");
    const char *bname = lj_get_str(rctx, "backend");
    if (!bname || !rb || rb->type != LJ_ARR) {
      fprintf(stderr, "loopconf-bench: results of %s lack context.backend or benchmarks\n",
              c->path[0] ? c->path : "the independent set");
      failures++;
      lj_free(res);
      free(expected);
      continue;
    }
    for (size_t i = 0; i < rb->n; i++)
      if (rb->items[i]->type == LJ_OBJ) strip_real_time_fields(rb->items[i]);
    if (ctx->n == 0) /* the first child's context is the file's */
      for (size_t i = 0; i < rctx->n; i++)
        if (strcmp(rctx->keys[i], "backend") && strcmp(rctx->keys[i], "backend_version"))
          lj_add(ctx, rctx->keys[i], lj_copy(rctx->items[i]));
    lj_set(versions, bname, lj_new_str(lj_get_str(rctx, "backend_version")));
    /* Every benchmark the child listed must have produced a figure. */
    char *save = NULL;
    for (char *line = strtok_r(expected, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      if (!*line) continue;
      strip_real_time(line);
      if (!has_figure(rb, line)) {
        fprintf(stderr, "loopconf-bench: %s on %s produced no figure: %s\n", line, bname,
                error_of(rb, line));
        failures++;
      }
    }
    free(expected);
    for (size_t i = 0; i < rb->n; i++) {
      lj *e = lj_copy(rb->items[i]);
      if (e) lj_set(e, "backend", lj_new_str(bname));
      lj_push(benches, e);
    }
    lj_free(res);
  }
  if (children == 0 && failures == 0) {
    fprintf(stderr, "loopconf-bench: the filter matches no benchmark\n");
    return -1;
  }
  return failures;
}

/* ---- Callgrind mode --------------------------------------------------------------------- */

/* Instruction total from a callgrind output file ("totals:" or else "summary:"), or -1. */
static double callgrind_total(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[512];
  double summary = -1, totals = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "totals:", 7) == 0) totals = strtod(line + 7, NULL);
    else if (strncmp(line, "summary:", 8) == 0) summary = strtod(line + 8, NULL);
  }
  fclose(f);
  return totals >= 0 ? totals : summary;
}

static int bench_callgrind(struct opts *o, char *exe, lj *ctx, lj *benches, lj *versions) {
  char *vv = NULL;
  char *vav[] = {"valgrind", "--version", NULL};
  if (run_child(vav, OUT_CAPTURE, &vv, 0, NULL) != 0 || !vv) {
    fprintf(stderr, "loopconf-bench: --callgrind needs valgrind on PATH\n");
    free(vv);
    return -1;
  }
  vv[strcspn(vv, "\n")] = '\0';
  char date[64];
  time_t now = time(NULL);
  struct tm tm;
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S+00:00", gmtime_r(&now, &tm));
  lj_set(ctx, "date", lj_new_str(date));
  lj_set(ctx, "num_cpus", lj_new_num((double)sysconf(_SC_NPROCESSORS_ONLN)));
  lcbench_host_context(ctx_add, ctx);
  lj_set(ctx, "valgrind", lj_new_str(vv));
  free(vv);
  regex_t re;
  if (o->filter) regcomp(&re, o->filter, REG_EXTENDED | REG_NOSUB);
  int failures = 0, measured = 0;
  for (int k = 0; k < o->nbe; k++) {
    struct child_spec *c = &o->be[k];
    char *listing = NULL;
    char *av[16];
    int ac = 0;
    child_argv(av, &ac, exe, c);
    av[ac++] = "--list-deterministic";
    av[ac] = NULL;
    if (run_child(av, OUT_CAPTURE, &listing, 0, NULL) != 0 || !listing) {
      fprintf(stderr, "loopconf-bench: listing %s failed\n", c->path[0] ? c->path : "none");
      free(listing);
      failures++;
      continue;
    }
    char *save = NULL;
    for (char *line = strtok_r(listing, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      if (strncmp(line, "backend ", 8) == 0) {
        char *tab = strchr(line + 8, '\t');
        if (tab) *tab = '\0';
        snprintf(c->name, sizeof c->name, "%s", line + 8);
        snprintf(c->version, sizeof c->version, "%s", tab ? tab + 1 : "");
        lj_set(versions, c->name, lj_new_str(c->version));
        continue;
      }
      if (strncmp(line, "bench ", 6) != 0) continue;
      const char *name = line + 6;
      if (o->filter && regexec(&re, name, 0, NULL, 0) != 0) continue;
      char cgout[] = "/tmp/loopconf-cg-XXXXXX";
      int fd = mkstemp(cgout);
      if (fd < 0) { failures++; continue; }
      close(fd);
      char a_out[64];
      snprintf(a_out, sizeof a_out, "--callgrind-out-file=%s", cgout);
      char *cav[20];
      int cac = 0;
      cav[cac++] = "valgrind";
      cav[cac++] = "--tool=callgrind";
      cav[cac++] = "--collect-atstart=no";
      cav[cac++] = "-q";
      cav[cac++] = a_out;
      child_argv(cav, &cac, exe, c);
      cav[cac++] = "--callgrind";
      cav[cac++] = (char *)name;
      cav[cac] = NULL;
      if (o->tty) printf("== callgrind %s on %s\n", name, c->name);
      char *cout = NULL;
      int rc = run_child(cav, OUT_CAPTURE, &cout, 1, NULL);
      double total = callgrind_total(cgout);
      unlink(cgout);
      const char *it = cout ? strstr(cout, "\nitems ") : NULL;
      double items = it ? strtod(it + 7, NULL) : 0;
      free(cout);
      lj *e = lj_new(LJ_OBJ);
      lj_add(e, "name", lj_new_str(name));
      lj_add(e, "run_name", lj_new_str(name));
      lj_add(e, "run_type", lj_new_str("iteration"));
      lj_add(e, "repetitions", lj_new_num(1));
      lj_add(e, "repetition_index", lj_new_num(0));
      lj_add(e, "iterations", lj_new_num(1));
      lj_add(e, "backend", lj_new_str(c->name));
      if (rc != 0 || total < 0 || items <= 0) {
        fprintf(stderr, "loopconf-bench: callgrind run of %s on %s failed (exit %d)\n", name,
                c->name, rc);
        lj_add(e, "error_occurred", lj_new(LJ_TRUE));
        lj_add(e, "error_message", lj_new_str("callgrind run failed"));
        failures++;
      } else {
        lj_add(e, "instructions", lj_new_num(total));
        lj_add(e, "items", lj_new_num(items));
        lj_add(e, "instructions_per_item", lj_new_num(total / items));
        lj_add(e, "time_unit", lj_new_str("instructions"));
        measured++;
      }
      lj_push(benches, e);
    }
    free(listing);
  }
  if (o->filter) regfree(&re);
  if (measured == 0 && failures == 0) {
    fprintf(stderr, "loopconf-bench: no deterministic benchmark matches the filter\n");
    return -1;
  }
  return failures;
}

int lcbench_cmd_bench(int argc, char **argv) {
  static struct opts o;
  memset(&o, 0, sizeof o);
  int p = parse_opts(argc, argv, &o);
  if (p > 0) {
    printf("usage: loopconf-bench bench [--backend a,b] [--adapter PATH]... [--filter REGEX]\n"
           "        [--repetitions N] [--min-time S] [--quick] [--callgrind] [--out FILE]\n");
    return 0;
  }
  if (p < 0) return 2; /* parse_opts printed the one error line */
  char exe[PATH_MAX];
  snprintf(exe, sizeof exe, "%s/loopconf-bench", lcbench_exe_dir());
  time_t t0 = time(NULL);

  lj *doc = lj_new(LJ_OBJ), *ctx = lj_new(LJ_OBJ), *benches = lj_new(LJ_ARR);
  lj *versions = lj_new(LJ_OBJ);
  if (!doc || !ctx || !benches || !versions) {
    fprintf(stderr, "loopconf-bench: out of memory\n");
    return 1;
  }
  int failures = o.callgrind ? bench_callgrind(&o, exe, ctx, benches, versions)
                             : bench_timing(&o, exe, ctx, benches, versions);
  int rc = 0;
  if (failures < 0) {
    rc = 2;
  } else {
    lj_set(ctx, "mode", lj_new_str(o.callgrind ? "callgrind" : "time"));
    lj_set(ctx, "backends", versions);
    versions = NULL;
    if (!o.callgrind) {
      lj_set(ctx, "bench_repetitions", lj_new_num(o.repetitions));
      lj_set(ctx, "bench_min_time_s", lj_new_num(o.min_time));
    }
    lj_set(ctx, "bench_quick", lj_new(o.quick ? LJ_TRUE : LJ_FALSE));
    lj_set(ctx, "bench_filter", o.filter ? lj_new_str(o.filter) : lj_new(LJ_NULL));
    lj_add(doc, "schema", lj_new_str(LCBENCH_SCHEMA));
    lj_add(doc, "context", ctx);
    lj_add(doc, "benchmarks", benches);
    ctx = benches = NULL;
    if (write_atomically(o.out, doc) < 0) rc = 1;
    else printf("wrote %s (%zu entries, %lld s)\n", o.out, lj_get(doc, "benchmarks")->n,
                (long long)(time(NULL) - t0));
    if (failures) {
      fprintf(stderr, "loopconf-bench: %d problem(s), see above\n", failures);
      rc = 1;
    }
  }
  lj_free(doc);
  lj_free(ctx);
  lj_free(benches);
  lj_free(versions);
  return rc;
}
