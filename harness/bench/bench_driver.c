/* bench_driver.c: `loopconf-bench bench`: one child process per backend (each a Google
 * Benchmark run writing JSON, or callgrind runs of the deterministic benchmarks), merged into
 * one results file written to a temp file and renamed. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_main.h"

#define MAX_BACKENDS 32

struct child_spec {
  char path[PATH_MAX]; /* module path, or "" for the backend-independent set */
  char *exe;           /* the loopconf-bench that runs it (this build's, or --vs's) */
  int other;           /* 1: a child of the --vs build ("old"), 0: of this build ("new") */
  char *expected;      /* the names it runs (--benchmark_list_tests), after listing */
  char name[64];       /* learnt from the child */
  char version[256];
};

struct opts {
  struct child_spec be[2 * (MAX_BACKENDS + 1)];
  int nbe;
  const char *filter;
  int repetitions; /* per child, i.e. per round */
  int rounds;
  unsigned long long seed;
  int seed_given;
  const char *vs;        /* --vs OTHER_BUILD_DIR */
  char *vs_exe;          /* its loopconf-bench */
  const char *vs_out;    /* results of the other build */
  const char *threshold; /* --threshold for the --vs comparison */
  char *vs_out_buf;
  double min_time;
  double timeout_s; /* per child, before the multiplier */
  long timeout_ms;  /* per child, multiplied */
  int quick, callgrind;
  const char *out;
  const char *gbench_dir; /* --gbench-dir: one Google Benchmark JSON file per backend */
  double margin;          /* --margin, a fraction: the rankings' equivalence margin */
  double drift;           /* --drift, a fraction: the rankings' between-run drift allowance */
  int tty;
};

#define DEFAULT_TIMEOUT_S 600 /* per backend child, times the slow-machine multiplier */
#define DEFAULT_ROUNDS 12     /* a full run: 12 rounds of 30-50 s on 2 busy cores, 6-10 min */

/* Temporary files this command made, removed on every exit path (signals included: the
 * host's child runner turns them into -EINTR and we come back here). */
static struct lch_strlist temps;

static char *make_temp(const char *stem) {
  char *path = lch_xasprintf("/tmp/loopconf-bench-%s-XXXXXX", stem);
  int fd = mkstemp(path);
  if (fd < 0) {
    lch_error("cannot create a temporary file in /tmp: %s", strerror(errno));
    free(path);
    return NULL;
  }
  close(fd);
  lch_strlist_push(&temps, lch_xstrdup(path));
  return path;
}

static void remove_temps(void) {
  for (size_t i = 0; i < temps.n; i++) unlink(temps.v[i]);
  lch_strlist_free(&temps);
}

/* Run one child to completion under the per-child time limit. Returns its exit status,
 * 128 + signal if it died of one, -ETIMEDOUT, -EINTR (we were interrupted: every child is
 * gone) or -errno if it could not start. res gets its output (free it). */
static int run_child(char **argv, const char *path, unsigned flags, long timeout_ms,
                     const char *const *env, struct lch_proc_result *res) {
  struct lch_job job = {
      .argv = argv, .path = path, .timeout_ms = timeout_ms, .flags = flags, .env = env};
  int rc = lch_exec_one(&job, res);
  if (rc < 0) return rc;
  if (res->spawn_errno) return -res->spawn_errno;
  if (res->timed_out) return -ETIMEDOUT;
  if (res->signo) return 128 + res->signo;
  return res->exit_code;
}

static const char *child_what(const struct child_spec *c) {
  if (c->other) return c->path[0] ? c->path : "the --vs build's independent set";
  return c->path[0] ? c->path : "the independent set";
}

static int parse_opts(int argc, char **argv, struct opts *o) {
  enum {
    OPT_BACKEND = 256,
    OPT_ADAPTER,
    OPT_FILTER,
    OPT_OUT,
    OPT_REPS,
    OPT_MIN_TIME,
    OPT_TIMEOUT,
    OPT_QUICK,
    OPT_CALLGRIND,
    OPT_ROUNDS,
    OPT_SEED,
    OPT_VS,
    OPT_VS_OUT,
    OPT_THRESHOLD,
    OPT_GBENCH_DIR,
    OPT_MARGIN,
    OPT_DRIFT
  };
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, OPT_BACKEND},
      {"adapter", required_argument, NULL, OPT_ADAPTER},
      {"filter", required_argument, NULL, OPT_FILTER},
      {"out", required_argument, NULL, OPT_OUT},
      {"repetitions", required_argument, NULL, OPT_REPS},
      {"min-time", required_argument, NULL, OPT_MIN_TIME},
      {"timeout", required_argument, NULL, OPT_TIMEOUT},
      {"quick", no_argument, NULL, OPT_QUICK},
      {"callgrind", no_argument, NULL, OPT_CALLGRIND},
      {"rounds", required_argument, NULL, OPT_ROUNDS},
      {"seed", required_argument, NULL, OPT_SEED},
      {"vs", required_argument, NULL, OPT_VS},
      {"vs-out", required_argument, NULL, OPT_VS_OUT},
      {"threshold", required_argument, NULL, OPT_THRESHOLD},
      {"gbench-dir", required_argument, NULL, OPT_GBENCH_DIR},
      {"margin", required_argument, NULL, OPT_MARGIN},
      {"drift", required_argument, NULL, OPT_DRIFT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  o->repetitions = -1;
  o->rounds = -1;
  o->min_time = -1;
  o->timeout_s = DEFAULT_TIMEOUT_S;
  o->out = "loopconf-bench-results.json";
  o->margin = LCBENCH_DEFAULT_MARGIN / 100.0;
  o->drift = LCBENCH_DEFAULT_DRIFT / 100.0;
  struct lch_strlist wanted = {0};
  long lv;
  double dv;
  opterr = 0;
  optind = 1;
  int c, rc = 0;
  while (rc == 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_QUICK: o->quick = 1; break;
    case OPT_CALLGRIND: o->callgrind = 1; break;
    case OPT_BACKEND:
      if (lch_strlist_split_commas(&wanted, optarg) > 0) {
        lch_error("bench: --backend '%s' has an empty name", optarg);
        rc = -1;
      }
      break;
    case OPT_ADAPTER: lch_strlist_push(&wanted, lch_xstrdup(optarg)); break;
    case OPT_FILTER: o->filter = optarg; break;
    case OPT_OUT: o->out = optarg; break;
    case OPT_REPS:
      if (lch_parse_long(optarg, "--repetitions", 1, 1000, &lv) < 0) rc = -1;
      o->repetitions = (int)lv;
      break;
    case OPT_ROUNDS:
      if (lch_parse_long(optarg, "--rounds", 1, 1000, &lv) < 0) rc = -1;
      o->rounds = (int)lv;
      break;
    case OPT_SEED:
      if (lch_parse_long(optarg, "--seed", 0, LONG_MAX, &lv) < 0) rc = -1;
      o->seed = (unsigned long long)lv;
      o->seed_given = 1;
      break;
    case OPT_VS: o->vs = optarg; break;
    case OPT_VS_OUT: o->vs_out = optarg; break;
    case OPT_THRESHOLD:
      if (lch_parse_double(optarg, "--threshold", 0, 1e6, &dv) < 0) rc = -1;
      o->threshold = optarg;
      break;
    case OPT_GBENCH_DIR: o->gbench_dir = optarg; break;
    case OPT_MARGIN:
      if (lch_parse_double(optarg, "--margin", 0, 1000, &dv) < 0) rc = -1;
      o->margin = dv / 100;
      break;
    case OPT_DRIFT:
      if (lch_parse_double(optarg, "--drift", 0, 100, &dv) < 0) rc = -1;
      o->drift = dv / 100;
      break;
    case OPT_MIN_TIME:
      if (lch_parse_double(optarg, "--min-time", 0.001, 60, &dv) < 0) rc = -1;
      o->min_time = dv;
      break;
    case OPT_TIMEOUT:
      if (lch_parse_double(optarg, "--timeout", 1, 86400, &dv) < 0) rc = -1;
      o->timeout_s = dv;
      break;
    case 'h': rc = 1; break;
    default: lch_getopt_error(c, argv, "loopconf-bench bench"); rc = -1;
    }
  }
  if (rc == 0 && optind < argc) {
    lch_error("bench: unexpected argument '%s' (see loopconf-bench bench --help)", argv[optind]);
    rc = -1;
  }
  if (rc == 0 && o->filter && strlen(o->filter) > 512) {
    lch_error("bench: --filter longer than 512 characters");
    rc = -1;
  }
  if (rc == 0 && o->filter) {
    regex_t re;
    if (regcomp(&re, o->filter, REG_EXTENDED | REG_NOSUB) != 0) {
      lch_error("bench: bad --filter regex '%s'", o->filter);
      rc = -1;
    } else {
      regfree(&re);
    }
  }
  if (rc == 0 && lch_outfile_check(o->out, "--out") < 0) rc = -1;
  if (rc == 0 && o->gbench_dir && o->callgrind) {
    lch_error("bench: --gbench-dir writes timings; it does not combine with --callgrind");
    rc = -1;
  }
  if (rc == 0 && o->gbench_dir) { /* made (or checked) now, not after the run */
    struct stat st;
    if (mkdir(o->gbench_dir, 0777) != 0 && errno != EEXIST) {
      lch_error("bench: --gbench-dir %s: cannot create it: %s", o->gbench_dir, strerror(errno));
      rc = -1;
    } else if (stat(o->gbench_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
               access(o->gbench_dir, W_OK | X_OK) != 0) {
      lch_error("bench: --gbench-dir %s: not a writable directory", o->gbench_dir);
      rc = -1;
    }
  }
  if (rc == 0 && (o->vs_out || o->threshold) && !o->vs) {
    lch_error("bench: --%s needs --vs OTHER_BUILD_DIR", o->vs_out ? "vs-out" : "threshold");
    rc = -1;
  }
  if (rc == 0 && o->vs && o->callgrind) {
    lch_error("bench: --vs compares timings; it does not combine with --callgrind");
    rc = -1;
  }
  if (rc == 0 && o->vs) {
    o->vs_exe = lch_xasprintf("%s/loopconf-bench", o->vs);
    if (access(o->vs_exe, X_OK) != 0) {
      lch_error("bench: --vs %s: no executable %s (give another build directory)", o->vs,
                o->vs_exe);
      rc = -1;
    }
    if (!o->vs_out) {
      const char *dot = strrchr(o->out, '.');
      size_t stem = dot && !strchr(dot, '/') ? (size_t)(dot - o->out) : strlen(o->out);
      o->vs_out = o->vs_out_buf = lch_xasprintf("%.*s.vs.json", (int)stem, o->out);
    }
    if (rc == 0 && strcmp(o->vs_out, o->out) == 0) {
      lch_error("bench: --vs-out and --out are the same file %s", o->out);
      rc = -1;
    }
    if (rc == 0 && lch_outfile_check(o->vs_out, "--vs-out") < 0) rc = -1;
  }
  char *dir = rc == 0 ? lch_backend_dir() : NULL;
  if (rc == 0 && !dir) rc = -1;
  if (rc == 0 && wanted.n == 0 && lch_builtin_names(dir, &wanted) < 0) rc = -1;
  if (rc == 0 && wanted.n == 0) {
    lch_error("bench: no backends in %s (build them first)", dir);
    rc = -1;
  }
  for (size_t i = 0; rc == 0 && i < wanted.n; i++) {
    if (o->nbe >= MAX_BACKENDS) {
      lch_error("bench: more than %d backends", MAX_BACKENDS);
      rc = -1;
      break;
    }
    char *path = lch_backend_resolve(dir, wanted.v[i]);
    if (!path || strlen(path) >= PATH_MAX) {
      if (path) lch_error("bench: backend path too long: %s", path);
      rc = -1;
    } else {
      snprintf(o->be[o->nbe++].path, PATH_MAX, "%s", path);
    }
    free(path);
  }
  free(dir);
  lch_strlist_free(&wanted);
  if (rc != 0) return rc;
  o->be[o->nbe++].path[0] = '\0'; /* the backend-independent set */
  if (o->vs) { /* the same children from the other build, its modules by the same file name */
    int n = o->nbe;
    for (int k = 0; k < n; k++) {
      struct child_spec *c = &o->be[o->nbe++];
      c->other = 1;
      c->exe = o->vs_exe;
      if (o->be[k].path[0]) {
        const char *base = strrchr(o->be[k].path, '/');
        char *p = lch_xasprintf("%s/backends/%s", o->vs, base ? base + 1 : o->be[k].path);
        /* An out-of-tree module (not in this build's backends) is the same file for both. */
        snprintf(c->path, PATH_MAX, "%s", access(p, R_OK) == 0 ? p : o->be[k].path);
        free(p);
      }
    }
  }
  if (o->repetitions < 0) o->repetitions = 1;
  if (o->rounds < 0) o->rounds = o->quick ? 1 : DEFAULT_ROUNDS;
  if (o->min_time < 0) o->min_time = o->quick ? 0.01 : 0.1;
  if (!o->seed_given)
    o->seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
  o->tty = isatty(1);
  double mult;
  if (lch_env_multiplier(&mult) < 0) return -1;
  o->timeout_ms = (long)(o->timeout_s * 1000 * mult);
  return 0;
}

/* Every backend must load in a child before any benchmark runs (an unloadable one is refused
 * up front, like `loopconf run` does). Returns 0 or -1 with the child's error line. */
static int check_backends(struct opts *o) {
  for (int k = 0; k < o->nbe; k++) {
    if (!o->be[k].path[0]) continue;
    char *exe = o->be[k].exe;
    char *av[] = {exe, "run", "--backend", o->be[k].path, "--list-deterministic", NULL};
    struct lch_proc_result res;
    int rc = run_child(av, exe, LCH_JOB_STDOUT_RESULT, o->timeout_ms, NULL, &res);
    if (rc != 0) {
      const char *log = res.log.data ? res.log.data : "";
      const char *line = strstr(log, "error: ");
      lch_error("bench: backend %s%s cannot be used: %.*s", o->be[k].path,
                o->be[k].other ? " (--vs build)" : "",
                line ? (int)strcspn(line + 7, "\n") : (int)strcspn(log, "\n"),
                line ? line + 7 : log);
      lch_proc_result_free(&res);
      return -1;
    }
    lch_proc_result_free(&res);
  }
  return 0;
}

/* argv for `<exe> run --adapter P` or `<exe> run --independent`, plus extra (NULL-ended). */
static void child_argv(char **av, int *ac, char *exe, struct child_spec *c) {
  av[(*ac)++] = exe ? exe : c->exe;
  av[(*ac)++] = "run";
  if (c->path[0]) {
    av[(*ac)++] = "--backend";
    av[(*ac)++] = c->path;
  } else {
    av[(*ac)++] = "--independent";
  }
}

static void ctx_add(const char *key, const char *value, void *ctx) {
  json_object_set_new((json_t *)ctx, key, json_string(value));
}

/* The first line of a failed child's log that is one of our error lines, for the message. */
static const char *why_failed(const struct lch_proc_result *res, char *buf, size_t len) {
  const char *log = res->log.data ? res->log.data : "";
  const char *p = strstr(log, "loopconf-bench: ");
  buf[0] = '\0';
  if (p) snprintf(buf, len, ": %.*s", (int)strcspn(p, "\n"), p);
  return buf;
}

/* Tell the user a child failed in a way the results cannot show; rc as from run_child. */
static void report_child(const struct child_spec *c, const char *doing, int rc,
                         const struct lch_proc_result *res, long timeout_ms) {
  char why[600];
  if (rc == -ETIMEDOUT)
    lch_error("%s of %s did not finish within %ld s (--timeout); killed", doing, child_what(c),
              timeout_ms / 1000);
  else if (rc < 0) lch_error("%s of %s could not run: %s", doing, child_what(c), strerror(-rc));
  else if (rc >= 128)
    lch_error("%s of %s died of signal %d (%s)%s", doing, child_what(c), rc - 128,
              strsignal(rc - 128), why_failed(res, why, sizeof why));
  else
    lch_error("%s of %s failed (exit %d)%s", doing, child_what(c), rc,
              why_failed(res, why, sizeof why));
}

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

/* Names the child would run (Google Benchmark's --benchmark_list_tests), malloc'd in *out.
 * Returns 0, -EINTR, or -1 (reported). */
static int list_expected(struct opts *o, struct child_spec *c, char **out) {
  char *exe = c->exe;
  char *av[12];
  int ac = 0;
  char fbuf[4096];
  child_argv(av, &ac, exe, c);
  av[ac++] = "--benchmark_list_tests=true";
  if (o->filter) {
    gb_filter_arg(fbuf, sizeof fbuf, o->filter);
    av[ac++] = fbuf;
  }
  av[ac] = NULL;
  *out = NULL;
  struct lch_proc_result res;
  int rc = run_child(av, exe, LCH_JOB_STDOUT_RESULT, o->timeout_ms, NULL, &res);
  if (rc == -EINTR) {
    lch_proc_result_free(&res);
    return -EINTR;
  }
  if (rc != 0) {
    report_child(c, "listing the benchmarks", rc, &res, o->timeout_ms);
    lch_proc_result_free(&res);
    return -1;
  }
  *out = res.result.data ? res.result.data : lch_xstrdup("");
  res.result.data = NULL;
  lch_proc_result_free(&res);
  return 0;
}

/* Google Benchmark appends "/real_time" to the names of UseRealTime benchmarks (all of ours):
 * drop it, so names read "loop.pingpong/pairs:1" and aggregates "..._median". */
static void strip_real_time(char *name) {
  char *p = strstr(name, "/real_time");
  if (p) memmove(p, p + 10, strlen(p + 10) + 1);
}

static void strip_real_time_fields(json_t *e) {
  static const char *keys[] = {"name", "run_name"};
  for (int k = 0; k < 2; k++) {
    const char *v = lch_json_str(e, keys[k]);
    if (!v) continue;
    char *copy = lch_xstrdup(v);
    strip_real_time(copy);
    json_object_set_new(e, keys[k], json_string(copy));
    free(copy);
  }
}

/* The error message of the first failed entry called name, or "no result". */
static const char *error_of(const json_t *benches, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(benches, i, e) {
    const char *rn = lch_json_str(e, "run_name"), *msg = lch_json_str(e, "error_message");
    if (rn && msg && strcmp(rn, name) == 0) return msg;
  }
  return "no result";
}

/* Does `benches` hold a figure for `name` (an iteration entry without error)? */
static int has_figure(const json_t *benches, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(benches, i, e) {
    const char *rn =
        lch_json_str(e, "run_name") ? lch_json_str(e, "run_name") : lch_json_str(e, "name");
    const char *rt = lch_json_str(e, "run_type");
    if (rn && strcmp(rn, name) == 0 && (!rt || strcmp(rt, "iteration") == 0) &&
        !json_is_true(json_object_get(e, "error_occurred")) &&
        lch_json_num(e, "iterations", 0) > 0 && lch_json_num(e, "real_time", -1) > 0)
      return 1;
  }
  return 0;
}

/* splitmix64: the round order's shuffle, reproducible from the recorded seed. */
static unsigned long long next_rand(unsigned long long *state) {
  unsigned long long z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static json_t *load_avg_json(void) {
  double la[3];
  json_t *a = json_array();
  if (getloadavg(la, 3) == 3)
    for (int i = 0; i < 3; i++) json_array_append_new(a, json_real(la[i]));
  return a;
}

static void utc_now(char *buf, size_t len) {
  time_t now = time(NULL);
  struct tm tm;
  strftime(buf, len, "%Y-%m-%dT%H:%M:%S+00:00", gmtime_r(&now, &tm));
}

/* One child of one round: run it, check every listed benchmark produced a figure, and append
 * its entries (tagged with backend and round) to benches[c->other]. Returns the number of
 * problems, or -1 / -EINTR. */
static int run_round_child(struct opts *o, struct child_spec *c, int round, int pos, int npos,
                           json_t *ctx, json_t **benches, json_t **versions) {
  int failures = 0;
  char *tmp = make_temp("results");
  if (!tmp) return -1;
  char a_out[PATH_MAX + 32], a_rep[64], a_min[64], a_filter[4096];
  snprintf(a_out, sizeof a_out, "--benchmark_out=%s", tmp);
  snprintf(a_rep, sizeof a_rep, "--benchmark_repetitions=%d", o->repetitions);
  snprintf(a_min, sizeof a_min, "--benchmark_min_time=%g", o->min_time);
  char *av[20];
  int ac = 0;
  child_argv(av, &ac, NULL, c);
  av[ac++] = a_out;
  av[ac++] = "--benchmark_out_format=json";
  av[ac++] = a_rep;
  av[ac++] = a_min;
  av[ac++] = "--benchmark_counters_tabular=true";
  /* Google Benchmark's own interleaving: benchmarks (and repetitions) of this child in a
   * random order, so no benchmark always runs right after the expensive one. */
  av[ac++] = "--benchmark_enable_random_interleaving=true";
  if (o->filter) {
    gb_filter_arg(a_filter, sizeof a_filter, o->filter);
    av[ac++] = a_filter;
  }
  av[ac] = NULL;
  /* One progress line per child on stderr, on a terminal or not. */
  fprintf(stderr, "== round %d/%d [%d/%d] %s%s\n", round + 1, o->rounds, pos + 1, npos,
          c->path[0] ? c->path : "backend-independent set", c->other ? " (--vs build)" : "");
  /* On a TTY the child's console output (progress, context banner) is shown as it comes;
   * otherwise it is captured and shown only if the child crashed or refused its arguments
   * (benchmark errors come back in the JSON and are reported below). */
  struct lch_proc_result res;
  int rc = run_child(av, c->exe, o->tty ? LCH_JOB_INHERIT_OUTPUT : 0, o->timeout_ms, NULL, &res);
  if (rc == -EINTR) {
    lch_proc_result_free(&res);
    free(tmp);
    return -EINTR;
  }
  if (rc != 0 && rc != 1) { /* 1: a benchmark failed; reported per benchmark below */
    if (!o->tty && res.log.len) fputs(res.log.data, stderr);
    report_child(c, "the benchmark run", rc, &res, o->timeout_ms);
  }
  lch_proc_result_free(&res);
  if (rc != 0) failures++;
  json_error_t jerr;
  json_t *doc = json_load_file(tmp, 0, &jerr);
  unlink(tmp);
  free(tmp);
  if (!doc) {
    lch_error("no results from %s in round %d: %s", child_what(c), round + 1, jerr.text);
    return failures + 1;
  }
  json_t *rctx = json_object_get(doc, "context"), *rb = json_object_get(doc, "benchmarks");
  const char *bname = lch_json_str(rctx, "backend");
  if (!bname || !json_is_array(rb)) {
    lch_error("results of %s lack context.backend or benchmarks", child_what(c));
    json_decref(doc);
    return failures + 1;
  }
  snprintf(c->name, sizeof c->name, "%s", bname);
  size_t i;
  json_t *e;
  json_array_foreach(rb, i, e) if (json_is_object(e)) strip_real_time_fields(e);
  if (json_object_size(ctx) == 0) { /* the first child's context is the file's */
    const char *key;
    json_t *val;
    json_object_foreach(rctx, key,
                        val) if (strcmp(key, "backend") && strcmp(key, "backend_version"))
        json_object_set(ctx, key, val);
  }
  const char *bver = lch_json_str(rctx, "backend_version");
  json_object_set_new(versions[c->other], bname, bver ? json_string(bver) : json_null());
  /* Every benchmark the child listed must have produced a figure. */
  char *expected = lch_xstrdup(c->expected), *save = NULL;
  for (char *line = strtok_r(expected, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!*line) continue;
    strip_real_time(line);
    if (!has_figure(rb, line)) {
      lch_error("%s on %s%s produced no figure in round %d: %s", line, bname,
                c->other ? " (--vs build)" : "", round + 1, error_of(rb, line));
      failures++;
    }
  }
  free(expected);
  json_array_foreach(rb, i, e) {
    json_t *copy = json_deep_copy(e);
    if (json_is_object(copy)) {
      json_object_set_new(copy, "backend", json_string(bname));
      json_object_set_new(copy, "round", json_integer(round));
    }
    json_array_append_new(benches[c->other], copy);
  }
  json_decref(doc);
  return failures;
}

/* The timed run in rounds: each round runs every child once (every backend of this build, of
 * the --vs build if any, and the backend-independent sets) in an order shuffled per round,
 * so machine drift lands on every backend alike and each round's ratios are paired.
 * benches[0]/versions[0]: this build, [1]: the --vs build. rounds_log gets one object per
 * round (order, load average, start time). Returns the number of problems, or -1 / -EINTR. */
static int bench_timing(struct opts *o, json_t *ctx, json_t **benches, json_t **versions,
                        json_t *rounds_log) {
  int failures = 0, active[2 * (MAX_BACKENDS + 1)], nactive = 0;
  for (int k = 0; k < o->nbe; k++) {
    struct child_spec *c = &o->be[k];
    int lrc = list_expected(o, c, &c->expected);
    if (lrc == -EINTR) return -EINTR;
    if (lrc < 0) {
      failures++;
      continue;
    }
    if (!c->expected[strspn(c->expected, " \n")]) continue; /* the filter leaves nothing */
    active[nactive++] = k;
  }
  if (nactive == 0 && failures == 0) {
    lch_error("bench: the filter matches no benchmark");
    return -1;
  }
  unsigned long long rng = o->seed;
  for (int r = 0; r < o->rounds; r++) {
    for (int i = nactive - 1; i > 0; i--) { /* Fisher-Yates */
      int j = (int)(next_rand(&rng) % (unsigned long long)(i + 1));
      int t = active[i];
      active[i] = active[j];
      active[j] = t;
    }
    json_t *rl = json_object(), *order = json_array();
    char date[64];
    utc_now(date, sizeof date);
    json_object_set_new(rl, "round", json_integer(r));
    json_object_set_new(rl, "start", json_string(date));
    json_object_set_new(rl, "load_avg", load_avg_json());
    for (int i = 0; i < nactive; i++) {
      struct child_spec *c = &o->be[active[i]];
      int f = run_round_child(o, c, r, i, nactive, ctx, benches, versions);
      if (f < 0) {
        json_decref(order);
        json_decref(rl);
        return f;
      }
      failures += f;
      char label[96];
      snprintf(label, sizeof label, "%s%s", c->name[0] ? c->name : "?", c->other ? "@vs" : "");
      json_array_append_new(order, json_string(label));
    }
    json_object_set_new(rl, "order", order);
    json_array_append_new(rounds_log, rl);
  }
  /* The order for reports: backends as selected, benchmarks as registered (the entries come
   * in shuffled order). */
  json_t *border = json_array(), *norder = json_array();
  for (int i = 0; i < o->nbe; i++) {
    struct child_spec *c = &o->be[i];
    if (c->other || !c->name[0]) continue;
    json_array_append_new(border, json_string(c->name));
    char *list = lch_xstrdup(c->expected ? c->expected : ""), *save = NULL;
    for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      strip_real_time(line);
      size_t j;
      json_t *v;
      int seen = 0;
      json_array_foreach(norder, j, v) seen |= strcmp(json_string_value(v), line) == 0;
      if (*line && !seen) json_array_append_new(norder, json_string(line));
    }
    free(list);
  }
  json_object_set_new(ctx, "bench_backend_order", border);
  json_object_set_new(ctx, "bench_order", norder);
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

static int bench_callgrind(struct opts *o, json_t *ctx, json_t *benches, json_t *versions) {
  char *vav[] = {"valgrind", "--version", NULL};
  struct lch_proc_result vres;
  int vrc = run_child(vav, "valgrind", LCH_JOB_STDOUT_RESULT, o->timeout_ms, NULL, &vres);
  if (vrc != 0 || !vres.result.data) {
    lch_proc_result_free(&vres);
    if (vrc == -EINTR) return -EINTR;
    lch_error("bench: --callgrind needs valgrind on PATH");
    return -1;
  }
  char *vv = vres.result.data;
  vv[strcspn(vv, "\n")] = '\0';
  char date[64];
  time_t now = time(NULL);
  struct tm tm;
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S+00:00", gmtime_r(&now, &tm));
  json_object_set_new(ctx, "date", json_string(date));
  json_object_set_new(ctx, "num_cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
  lcbench_host_context(ctx_add, ctx);
  json_object_set_new(ctx, "valgrind", json_string(vv));
  lch_proc_result_free(&vres);
  regex_t re;
  if (o->filter) regcomp(&re, o->filter, REG_EXTENDED | REG_NOSUB);
  int failures = 0, measured = 0, interrupted = 0;
  static const char *const bind_now[] = {"LD_BIND_NOW=1", NULL};
  for (int k = 0; k < o->nbe && !interrupted; k++) {
    struct child_spec *c = &o->be[k];
    char *av[16];
    int ac = 0;
    child_argv(av, &ac, NULL, c);
    av[ac++] = "--list-deterministic";
    av[ac] = NULL;
    struct lch_proc_result lres;
    int lrc = run_child(av, c->exe, LCH_JOB_STDOUT_RESULT, o->timeout_ms, NULL, &lres);
    if (lrc == -EINTR) {
      lch_proc_result_free(&lres);
      interrupted = 1;
      break;
    }
    if (lrc != 0 || !lres.result.data) {
      report_child(c, "listing the deterministic benchmarks", lrc, &lres, o->timeout_ms);
      lch_proc_result_free(&lres);
      failures++;
      continue;
    }
    char *listing = lres.result.data;
    char *save = NULL;
    for (char *line = strtok_r(listing, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      if (strncmp(line, "backend ", 8) == 0) {
        char *tab = strchr(line + 8, '\t');
        if (tab) *tab = '\0';
        snprintf(c->name, sizeof c->name, "%s", line + 8);
        snprintf(c->version, sizeof c->version, "%s", tab ? tab + 1 : "");
        json_object_set_new(versions, c->name, json_string(c->version));
        continue;
      }
      if (strncmp(line, "bench ", 6) != 0) continue;
      const char *name = line + 6;
      if (o->filter && regexec(&re, name, 0, NULL, 0) != 0) continue;
      char *cgout = make_temp("cg");
      if (!cgout) {
        failures++;
        continue;
      }
      char a_out[PATH_MAX + 32];
      snprintf(a_out, sizeof a_out, "--callgrind-out-file=%s", cgout);
      char *cav[20];
      int cac = 0;
      cav[cac++] = "valgrind";
      cav[cac++] = "--tool=callgrind";
      cav[cac++] = "--collect-atstart=no";
      cav[cac++] = "-q";
      cav[cac++] = a_out;
      child_argv(cav, &cac, NULL, c);
      cav[cac++] = "--callgrind";
      cav[cac++] = (char *)name;
      cav[cac] = NULL;
      fprintf(stderr, "== callgrind %s on %s\n", name, c->name);
      struct lch_proc_result cres;
      int rc = run_child(cav, "valgrind", LCH_JOB_STDOUT_RESULT, o->timeout_ms, bind_now, &cres);
      double total = callgrind_total(cgout);
      unlink(cgout);
      free(cgout);
      if (rc == -EINTR) {
        lch_proc_result_free(&cres);
        interrupted = 1;
        break;
      }
      const char *out = cres.result.data ? cres.result.data : "";
      const char *it = strstr(out, "\nitems ");
      if (!it && strncmp(out, "items ", 6) == 0) it = out - 1;
      double items = it ? strtod(it + 7, NULL) : 0;
      json_t *e = json_object();
      json_object_set_new(e, "name", json_string(name));
      json_object_set_new(e, "run_name", json_string(name));
      json_object_set_new(e, "run_type", json_string("iteration"));
      json_object_set_new(e, "repetitions", json_integer(1));
      json_object_set_new(e, "repetition_index", json_integer(0));
      json_object_set_new(e, "iterations", json_integer(1));
      json_object_set_new(e, "backend", json_string(c->name));
      if (rc != 0 || total < 0 || items <= 0) {
        report_child(c, "the callgrind run", rc, &cres, o->timeout_ms);
        json_object_set_new(e, "error_occurred", json_true());
        json_object_set_new(e, "error_message", json_string("callgrind run failed"));
        failures++;
      } else {
        json_object_set_new(e, "instructions", json_real(total));
        json_object_set_new(e, "items", json_real(items));
        json_object_set_new(e, "instructions_per_item", json_real(total / items));
        json_object_set_new(e, "time_unit", json_string("instructions"));
        measured++;
      }
      lch_proc_result_free(&cres);
      json_array_append_new(benches, e);
    }
    lch_proc_result_free(&lres);
  }
  if (o->filter) regfree(&re);
  if (interrupted) return -EINTR;
  if (measured == 0 && failures == 0) {
    lch_error("bench: no deterministic benchmark matches the filter");
    return -1;
  }
  return failures;
}

/* The file of one build: schema, context (shared keys plus this build's versions and role),
 * benchmarks. */
static int write_results(struct opts *o, const char *path, json_t *ctx, json_t *benches,
                         json_t *versions, json_t *rounds_log, const char *run_id, int other,
                         json_t *rankings) {
  json_t *doc = json_object(), *c = json_deep_copy(ctx);
  json_object_set_new(c, "mode", json_string(o->callgrind ? "callgrind" : "time"));
  json_object_set(c, "backends", versions);
  if (!o->callgrind) {
    json_object_set_new(c, "bench_rounds", json_integer(o->rounds));
    json_object_set_new(c, "bench_round_seed", json_integer((json_int_t)o->seed));
    json_object_set_new(c, "bench_repetitions", json_integer(o->repetitions));
    json_object_set_new(c, "bench_min_time_s", json_real(o->min_time));
    json_object_set_new(c, "bench_rounds_log", json_deep_copy(rounds_log));
    json_object_set_new(c, "load_avg_end", load_avg_json());
    json_object_set_new(c, "bench_margin", json_real(o->margin));
    json_object_set_new(c, "bench_drift", json_real(o->drift));
    if (o->vs) {
      /* Both files of one --vs run carry the same run_id: compare pairs them by round. */
      json_object_set_new(c, "vs_run_id", json_string(run_id));
      json_object_set_new(c, "vs_role", json_string(other ? "old" : "new"));
      json_object_set_new(c, "vs_build_dir", json_string(other ? o->vs : "."));
    }
  }
  json_object_set_new(c, "bench_quick", json_boolean(o->quick));
  json_object_set_new(c, "bench_filter", o->filter ? json_string(o->filter) : json_null());
  json_object_set_new(doc, "schema", json_string(LCBENCH_SCHEMA));
  json_object_set_new(doc, "context", c);
  json_object_set(doc, "benchmarks", benches);
  if (rankings) json_object_set(doc, "rankings", rankings);
  int rc = lch_json_write(path, doc);
  json_decref(doc);
  return rc;
}

/* --gbench-dir: DIR/<backend>.json, plain Google Benchmark JSON ("context" and "benchmarks",
 * every round's entries as repetitions) with one backend per file, so that Google Benchmark's
 * compare.py, which matches entries by name, never pools backends. "none" is the
 * backend-independent set. */
static int write_gbench_dir(struct opts *o, json_t *ctx, json_t *benches, json_t *versions) {
  const char *be;
  json_t *ver;
  json_object_foreach(versions, be, ver) {
    if (strchr(be, '/') || be[0] == '.' || !be[0]) {
      lch_error("bench: --gbench-dir: backend name '%s' is not a file name", be);
      return -1;
    }
    json_t *doc = json_object(), *c = json_deep_copy(ctx), *list = json_array();
    json_object_set_new(c, "backend", json_string(be));
    json_object_set(c, "backend_version", ver);
    size_t i;
    json_t *e;
    json_array_foreach(benches, i, e) {
      const char *eb = lch_json_str(e, "backend");
      if (eb && strcmp(eb, be) == 0) json_array_append(list, e);
    }
    json_object_set_new(doc, "context", c);
    json_object_set_new(doc, "benchmarks", list);
    char *path = lch_xasprintf("%s/%s.json", o->gbench_dir, be);
    int rc = lch_json_write(path, doc);
    free(path);
    json_decref(doc);
    if (rc < 0) return -1;
  }
  return 0;
}

int lcbench_cmd_bench(int argc, char **argv) {
  static struct opts o;
  memset(&o, 0, sizeof o);
  int p = parse_opts(argc, argv, &o);
  if (p > 0) {
    printf(
        "usage: loopconf-bench bench [--backend NAME|PATH,...] [--adapter PATH]...\n"
        "        [--filter REGEX] [--rounds N] [--seed N] [--repetitions N] [--min-time S]\n"
        "        [--timeout S] [--quick] [--callgrind]\n"
        "        [--vs OTHER_BUILD_DIR [--vs-out FILE] [--threshold PCT]]\n"
        "        [--margin PCT] [--drift PCT] [--gbench-dir DIR] [--out FILE]\n"
        "Runs every benchmark on each selected backend (default: every built-in one) and the\n"
        "backend-independent set in rounds: each round starts one child process per backend\n"
        "in an order shuffled per round, so machine drift hits every backend alike and the\n"
        "ratios of one round are paired. Writes one results file (schema " LCBENCH_SCHEMA
        ")\n"
        "atomically.\n"
        "  --backend NAME|PATH  built-in names or module paths, comma-separated\n"
        "  --adapter PATH       add an out-of-tree backend module (repeatable)\n"
        "  --filter REGEX       only benchmarks whose name matches (POSIX ERE)\n"
        "  --rounds N           rounds (default %d; --quick: 1)\n"
        "  --seed N             seed of the per-round order (default: from the clock; recorded)\n"
        "  --repetitions N      repetitions per benchmark in each round's child (default 1)\n"
        "  --min-time S         Google Benchmark's minimum time per repetition (default 0.1)\n"
        "  --timeout S          time limit per child (default %d, times\n"
        "                       $LOOPCONF_TIME_MULTIPLIER); a child over it is killed and\n"
        "                       reported as a failure\n"
        "  --quick              one short round: checks every figure, for CI\n"
        "  --callgrind          instruction counts of the deterministic benchmarks\n"
        "  --vs DIR             also run DIR/loopconf-bench (another build) in the same rounds,\n"
        "                       write its results to --vs-out (default OUT with .vs.json), and\n"
        "                       print the paired comparison (OLD = DIR, NEW = this build)\n"
        "  --threshold PCT      with --vs: smallest slowdown that counts (default 5)\n"
        "  --margin PCT         equivalence margin of the rankings (default %d): a backend is\n"
        "                       ahead when its median per-round ratio lies beyond it, tied\n"
        "                       when within it; decided only when the whole interval (widened\n"
        "                       by --drift) lies on that side, else flagged too noisy to rank\n"
        "  --drift PCT          between-run drift allowance of the rankings (default %d)\n"
        "  --gbench-dir DIR     also write DIR/<backend>.json, Google Benchmark JSON per\n"
        "                       backend (for Google Benchmark's compare.py)\n"
        "  --out FILE           results file (default loopconf-bench-results.json)\n"
        "exit status: 0 every benchmark produced its figure (and, with --vs, none regressed);\n"
        "1 a backend or benchmark failed (or, with --vs, regressed); 2 bad usage or input;\n"
        "128+N interrupted by signal N.\n",
        DEFAULT_ROUNDS, DEFAULT_TIMEOUT_S, LCBENCH_DEFAULT_MARGIN, LCBENCH_DEFAULT_DRIFT);
    return 0;
  }
  if (p < 0) return 2; /* parse_opts printed the one error line */
  char *dir = lch_exe_dir();
  if (!dir) return 2;
  char exe[PATH_MAX];
  snprintf(exe, sizeof exe, "%s/loopconf-bench", dir);
  free(dir);
  for (int k = 0; k < o.nbe; k++)
    if (!o.be[k].other) o.be[k].exe = exe;
  if (check_backends(&o) < 0) {
    int sig = lch_interrupted();
    free(o.vs_exe);
    free(o.vs_out_buf);
    return sig ? 128 + sig : 2;
  }
  time_t t0 = time(NULL);

  json_t *ctx = json_object(), *benches[2] = {json_array(), json_array()};
  json_t *versions[2] = {json_object(), json_object()}, *rounds_log = json_array();
  if (!o.callgrind)
    fprintf(stderr, "bench: %d round(s), seed %llu (--seed to repeat the order)\n", o.rounds,
            o.seed);
  int failures = o.callgrind ? bench_callgrind(&o, ctx, benches[0], versions[0])
                             : bench_timing(&o, ctx, benches, versions, rounds_log);
  remove_temps();
  int rc = 0;
  if (failures == -EINTR) {
    int sig = lch_interrupted();
    lch_error("bench: interrupted by signal %d (%s); no results written", sig, strsignal(sig));
    rc = 128 + sig;
  } else if (failures < 0) {
    rc = 2;
  } else {
    char run_id[64];
    snprintf(run_id, sizeof run_id, "%llx-%lld-%d", o.seed, (long long)t0, (int)getpid());
    json_t *rank[2] = {NULL, NULL};
    json_t *border = json_object_get(ctx, "bench_backend_order"),
           *norder = json_object_get(ctx, "bench_order");
    if (!o.callgrind)
      for (int b = 0; b < (o.vs ? 2 : 1); b++)
        rank[b] = lcbench_rankings(benches[b], border, norder, o.margin, o.drift);
    if (rank[0] && json_array_size(rank[0]))
      lcbench_print_rankings(stdout, rank[0], border, norder, o.margin, o.drift);
    if (write_results(&o, o.out, ctx, benches[0], versions[0], rounds_log, run_id, 0, rank[0]) <
            0 ||
        (o.vs && write_results(&o, o.vs_out, ctx, benches[1], versions[1], rounds_log, run_id, 1,
                               rank[1]) < 0) ||
        (o.gbench_dir && write_gbench_dir(&o, ctx, benches[0], versions[0]) < 0)) {
      rc = 1;
    } else {
      printf("wrote %s (%zu entries, %lld s)\n", o.out, json_array_size(benches[0]),
             (long long)(time(NULL) - t0));
      if (o.vs)
        printf("wrote %s (the --vs build, %zu entries)\n", o.vs_out, json_array_size(benches[1]));
      if (o.gbench_dir)
        printf("wrote %s/<backend>.json (Google Benchmark JSON, one file per backend)\n",
               o.gbench_dir);
    }
    json_decref(rank[0]);
    json_decref(rank[1]);
    if (failures) {
      lch_error("bench: %d problem(s), see above", failures);
      rc = 1;
    }
    if (rc == 0 && o.vs) { /* the paired verdict: OLD = the --vs build, NEW = this one */
      printf("\n");
      char *cav[] = {"compare",     (char *)o.vs_out,    (char *)o.out,
                     "--threshold", (char *)o.threshold, NULL};
      rc = lcbench_cmd_compare(o.threshold ? 5 : 3, cav);
    }
  }
  json_decref(ctx);
  json_decref(benches[0]);
  json_decref(benches[1]);
  json_decref(versions[0]);
  json_decref(versions[1]);
  json_decref(rounds_log);
  for (int k = 0; k < o.nbe; k++) free(o.be[k].expected);
  free(o.vs_exe);
  free(o.vs_out_buf);
  return rc;
}
