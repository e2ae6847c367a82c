/* lcsweep_main.c: `loopconf sweep`: plan the cells (workload x model x N x repetitions), run
 * each as a fresh child under a time limit, aggregate (median, min, max), write the results
 * (JSON + CSV, atomically) and optionally the charts and claims table. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "lcsweep.h"
#include "loopconf/clock.h"

static void usage(FILE *f) {
  fputs(
      "usage: loopconf sweep [--workload W,...] [--model M,...] [--n N,...] [--backend "
      "NAME|PATH,...]\n"
      "                      [--repetitions R] [--big-repetitions R] [--big-budget S]\n"
      "                      [--cell-timeout S] [--quick]\n"
      "                      [--python PATH]\n"
      "                      [--out FILE.json] [--plot DIR] [-q]\n"
      "       loopconf sweep plot RESULTS.json --out DIR [-q]\n"
      "\n"
      "The concurrency sweep: each workload run by N units of each model, every cell a fresh\n"
      "child process, repeated; median with min-max. The figures are data: nothing is asserted.\n"
      "  workloads  sleep io cpu switch spawn block (default: all)\n"
      "  models     task:<backend> (every built-in backend, and --backend PATH),\n"
      "             task-copy:reference (the runtime's copy-stack mode, LC_STACK_COPY), thread,\n"
      "             thread-small (64 KiB stacks), process (fork), thread-executor and\n"
      "             process-executor (cpu, block), asyncio, uvloop (Debian's python3)\n"
      "  --n        unit counts (default 1,10,100,1000,10000,100000 and 1000000 for tasks;\n"
      "             switch always runs 2 units, block at most 1000)\n"
      "  --repetitions R   runs per cell (default 5; --quick: 1)\n"
      "  --big-repetitions R  runs per cell at N >= 100000 (default 3: those cells take seconds\n"
      "             each; with the budget the full sweep fits in 20 minutes on 2 cores)\n"
      "  --big-budget S  with --big-repetitions R > 1: repeat a cell at N >= 100000 only while\n"
      "             its runs so far took at most S seconds each (default 10; 0: no budget);\n"
      "             the cells over it keep the runs they had, and say so (reps_cut_by_budget)\n"
      "  --cell-timeout S  time limit of one run (default 45, times $LOOPCONF_TIME_MULTIPLIER);\n"
      "             a cell past it is data (\"limit at N\"), larger N of that model are not run\n"
      "  --quick    small N (1, 100), one repetition: every model and workload, in seconds\n"
      "  --out FILE results (default sweep.json); FILE with .csv for .json is the CSV\n"
      "  --plot DIR also draw the charts and write the claims table into DIR\n"
      "As root the setup raises kernel.pid_max, kernel.threads-max, vm.max_map_count,\n"
      "net.core.somaxconn and the rlimits, and records what it changed.\n",
      f);
}

/* ---- models ---------------------------------------------------------------------------------- */

struct model {
  char *name;    /* "task:reference", "thread", ... */
  char *kind;    /* the __cell --model argument */
  char *backend; /* resolved module path for tasks and executors, or NULL */
  char *absent;  /* why this model cannot run here, or NULL */
};

static int model_applies(const struct model *m, int w) {
  if (strcmp(m->kind, "thread-executor") == 0 || strcmp(m->kind, "process-executor") == 0)
    return w == LCSW_CPU || w == LCSW_BLOCK;
  return 1;
}

static int model_is_task(const struct model *m) {
  return strcmp(m->kind, "task") == 0 || strcmp(m->kind, "task-copy") == 0;
}

/* ---- setup: limits ----------------------------------------------------------------------------- */

static void raise_sysctl(json_t *rec, const char *path, long long want) {
  FILE *f = fopen(path, "r");
  long long cur = -1;
  if (f) {
    if (fscanf(f, "%lld", &cur) != 1) cur = -1;
    fclose(f);
  }
  json_t *o = json_object();
  json_object_set_new(o, "before", json_integer(cur));
  if (cur >= 0 && cur < want && geteuid() == 0) {
    f = fopen(path, "w");
    int ok = f && fprintf(f, "%lld\n", want) > 0;
    if (f && fclose(f) != 0) ok = 0;
    json_object_set_new(o, "raised_to", ok ? json_integer(want) : json_null());
    if (!ok) json_object_set_new(o, "error", json_string(strerror(errno)));
  }
  f = fopen(path, "r");
  if (f) {
    if (fscanf(f, "%lld", &cur) != 1) cur = -1;
    fclose(f);
  }
  json_object_set_new(o, "now", json_integer(cur));
  json_object_set_new(rec, path, o);
}

static void raise_rlimit(json_t *rec, const char *name, int res, rlim_t want) {
  struct rlimit rl;
  getrlimit(res, &rl);
  json_t *o = json_object();
  json_object_set_new(o, "before",
                      json_integer(rl.rlim_cur == RLIM_INFINITY ? -1 : (json_int_t)rl.rlim_cur));
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    struct rlimit nr = {want,
                        rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? rl.rlim_max : want};
    if (geteuid() != 0 && nr.rlim_max > rl.rlim_max) nr.rlim_cur = nr.rlim_max = rl.rlim_max;
    if (setrlimit(res, &nr) != 0) { /* no CAP_SYS_RESOURCE (a container): up to the hard limit */
      json_object_set_new(o, "error", json_string(strerror(errno)));
      nr.rlim_cur = nr.rlim_max = rl.rlim_max;
      setrlimit(res, &nr);
    }
  }
  getrlimit(res, &rl);
  json_object_set_new(o, "now",
                      json_integer(rl.rlim_cur == RLIM_INFINITY ? -1 : (json_int_t)rl.rlim_cur));
  json_object_set_new(rec, name, o);
}

static json_t *setup_limits(void) {
  json_t *rec = json_object();
  json_object_set_new(rec, "root", json_boolean(geteuid() == 0));
  raise_sysctl(rec, "/proc/sys/kernel/pid_max", 4194304);
  raise_sysctl(rec, "/proc/sys/kernel/threads-max", 4194304);
  raise_sysctl(rec, "/proc/sys/vm/max_map_count", 4194304);
  raise_sysctl(rec, "/proc/sys/net/core/somaxconn", 65535);
  raise_sysctl(rec, "/proc/sys/fs/nr_open", 2097152);
  raise_rlimit(rec, "RLIMIT_NOFILE", RLIMIT_NOFILE, 2097152);
  raise_rlimit(rec, "RLIMIT_NPROC", RLIMIT_NPROC, RLIM_INFINITY);
  return rec;
}

/* ---- context ----------------------------------------------------------------------------------- */

static char *first_line(const char *cmd) {
  FILE *p = popen(cmd, "r");
  char buf[512] = "";
  if (p) {
    if (!fgets(buf, sizeof buf, p)) buf[0] = '\0';
    pclose(p);
  }
  buf[strcspn(buf, "\n")] = '\0';
  return lch_xstrdup(buf);
}

static void ctx_cmd(json_t *ctx, const char *key, const char *cmd) {
  char *s = first_line(cmd);
  json_object_set_new(ctx, key, json_string(s[0] ? s : "unknown"));
  free(s);
}

static json_t *host_context(const char *python, json_t *pyinfo) {
  /* The block every results file carries (harness/common/context.c), plus the sweep's own. */
  json_t *ctx = lch_context_json();
  json_object_set_new(ctx, "cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
  json_object_set_new(
      ctx, "memory_mib",
      json_integer((json_int_t)(sysconf(_SC_PHYS_PAGES) / 256 * (sysconf(_SC_PAGESIZE) / 4096))));
  ctx_cmd(ctx, "libuv", "dpkg-query -W -f='${Version}' libuv1-dev 2>/dev/null");
  ctx_cmd(ctx, "libev", "dpkg-query -W -f='${Version}' libev-dev 2>/dev/null");
  ctx_cmd(ctx, "libevent", "dpkg-query -W -f='${Version}' libevent-dev 2>/dev/null");
  ctx_cmd(ctx, "glib", "dpkg-query -W -f='${Version}' libglib2.0-dev 2>/dev/null");
  ctx_cmd(ctx, "sdevent", "dpkg-query -W -f='${Version}' libsystemd-dev 2>/dev/null");
  ctx_cmd(ctx, "tevent", "dpkg-query -W -f='${Version}' libtevent-dev 2>/dev/null");
  ctx_cmd(ctx, "glibc", "getconf GNU_LIBC_VERSION 2>/dev/null");
  json_object_set_new(ctx, "python_path", json_string(python));
  const char *pv = pyinfo ? lch_json_str(pyinfo, "python") : NULL;
  const char *uv = pyinfo ? lch_json_str(pyinfo, "uvloop") : NULL;
  json_object_set_new(ctx, "python", json_string(pv ? pv : "absent"));
  json_object_set_new(ctx, "uvloop", json_string(uv ? uv : "absent"));
  return ctx;
}

static double load1(void) {
  FILE *f = fopen("/proc/loadavg", "r");
  double l = -1;
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

/* ---- aggregation ------------------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const char *const metric_keys[] = {"wall_s",
                                          "create_s",
                                          "rest_s",
                                          "user_s",
                                          "sys_s",
                                          "nvcsw",
                                          "nivcsw",
                                          "maxrss_self_kb",
                                          "maxrss_largest_child_kb",
                                          "mem_avail_drop_b",
                                          "kernel_stack_b",
                                          "page_tables_b",
                                          "cgroup_peak_b",
                                          "lag_max_s",
                                          "switch_s",
                                          "pipe_baseline_s",
                                          NULL};

static json_t *aggregate(json_t *reps) {
  json_t *stats = json_object();
  size_t nr = json_array_size(reps);
  double *v = lch_xcalloc(nr + 1, sizeof *v);
  for (int k = 0; metric_keys[k]; k++) {
    size_t m = 0;
    for (size_t i = 0; i < nr; i++) {
      json_t *r = json_array_get(reps, i);
      json_t *x = json_object_get(r, metric_keys[k]);
      if (json_is_true(json_object_get(r, "ok")) && json_is_number(x))
        v[m++] = json_number_value(x);
    }
    if (!m) continue;
    qsort(v, m, sizeof *v, cmp_d);
    double med = m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
    json_t *s = json_object();
    json_object_set_new(s, "median", json_real(med));
    json_object_set_new(s, "min", json_real(v[0]));
    json_object_set_new(s, "max", json_real(v[m - 1]));
    json_object_set_new(stats, metric_keys[k], s);
  }
  free(v);
  return stats;
}

/* ---- running ----------------------------------------------------------------------------------- */

struct runctx {
  json_t *reps;
  double load;
  int quiet, tty;
  const char *label;
  size_t done, total;
  double t0;
};

static void on_done(size_t i, struct lch_proc_result *res, void *ud) {
  struct runctx *rc = ud;
  (void)i;
  json_t *r = NULL;
  if (res->result.data && res->result.len) r = json_loads(res->result.data, 0, NULL);
  if (!json_is_object(r)) {
    json_decref(r);
    r = json_object();
    json_object_set_new(r, "ok", json_false());
    char msg[256];
    if (res->spawn_errno)
      snprintf(msg, sizeof msg, "could not start: %s", strerror(res->spawn_errno));
    else if (res->timed_out) snprintf(msg, sizeof msg, "timed out after %.1f s", res->seconds);
    else if (res->signo)
      snprintf(msg, sizeof msg, "crashed: signal %d (%s)", res->signo, strsignal(res->signo));
    else snprintf(msg, sizeof msg, "no result (exit %d)", res->exit_code);
    json_object_set_new(r, "error", json_string(msg));
    if (res->timed_out) json_object_set_new(r, "timed_out", json_true());
    if (res->log.len) {
      const char *s = res->log.data;
      size_t n = res->log.len > 400 ? 400 : res->log.len;
      char *clean = lch_text_clean(s + res->log.len - n, n);
      json_object_set_new(r, "log_tail", json_string(clean));
      free(clean);
    }
  }
  if (json_is_true(json_object_get(r, "ok")) &&
      (res->exit_code != 0 || res->signo || res->timed_out)) { /* e.g. a sanitizer's report */
    char msg[160];
    snprintf(msg, sizeof msg, "the cell wrote its result, then %s %d",
             res->signo ? "died of signal" : "exited with status",
             res->signo ? res->signo : res->exit_code);
    json_object_set_new(r, "ok", json_false());
    json_object_set_new(r, "error", json_string(msg));
  }
  if (!json_is_true(json_object_get(r, "ok")) && res->log.len && !json_object_get(r, "log_tail")) {
    size_t n = res->log.len > 400 ? 400 : res->log.len;
    char *clean = lch_text_clean(res->log.data + res->log.len - n, n);
    json_object_set_new(r, "log_tail", json_string(clean));
    free(clean);
  }
  json_object_set_new(r, "load1_before", json_real(rc->load));
  json_array_append_new(rc->reps, r);
}

/* Run one cell's repetitions; returns the reps array. With budget_s > 0, no further run
 * after one whose child took longer than budget_s (*cut says so). */
static json_t *run_cell(char **argv, int reps, long timeout_ms, double budget_s, int *cut,
                        struct runctx *rc) {
  rc->reps = json_array();
  *cut = 0;
  for (int k = 0; k < reps; k++) {
    struct lch_job job = {.argv = argv, .path = NULL, .timeout_ms = timeout_ms};
    rc->load = load1();
    int64_t t0 = lc_clock_ns();
    int e = lch_exec_jobs(&job, 1, 1, NULL, on_done, rc);
    double took = (double)(lc_clock_ns() - t0) / 1e9;
    if (e == -EINTR) return NULL;
    if (e < 0) {
      lch_error("sweep: cannot run cells: %s", strerror(-e));
      return NULL;
    }
    json_t *last = json_array_get(rc->reps, json_array_size(rc->reps) - 1);
    if (!json_is_true(json_object_get(last, "ok"))) break; /* a failure is data; do not repeat it */
    json_object_set_new(last, "elapsed_s", json_real(took)); /* the child's, setup included */
    if (budget_s > 0 && took > budget_s && k + 1 < reps) {
      *cut = 1;
      break;
    }
  }
  return rc->reps;
}

static int write_csv(const char *path, json_t *cells) {
  struct lch_outfile o;
  if (lch_outfile_open(&o, path) != 0) return -1;
  fputs("workload,model,n,status,busy,load1_max,reps_ok", o.f);
  static const char *const cols[] = {"wall_s",
                                     "create_s",
                                     "rest_s",
                                     "user_s",
                                     "sys_s",
                                     "nvcsw",
                                     "nivcsw",
                                     "cgroup_peak_b",
                                     "mem_avail_drop_b",
                                     "kernel_stack_b",
                                     "page_tables_b",
                                     "lag_max_s",
                                     "switch_s",
                                     NULL};
  for (int k = 0; cols[k]; k++) fprintf(o.f, ",%s_median,%s_min,%s_max", cols[k], cols[k], cols[k]);
  fputs(",error\n", o.f);
  size_t i;
  json_t *c;
  json_array_foreach(cells, i, c) {
    json_t *st = json_object_get(c, "stats");
    fprintf(o.f, "%s,%s,%lld,%s,%d,%.2f,%lld", lch_json_str(c, "workload"),
            lch_json_str(c, "model"), (long long)lch_json_num(c, "n", 0), lch_json_str(c, "status"),
            json_is_true(json_object_get(c, "busy")), lch_json_num(c, "load1_max", -1),
            (long long)lch_json_num(c, "reps_ok", 0));
    for (int k = 0; cols[k]; k++) {
      json_t *s = json_object_get(st, cols[k]);
      if (s)
        fprintf(o.f, ",%.9g,%.9g,%.9g", lch_json_num(s, "median", 0), lch_json_num(s, "min", 0),
                lch_json_num(s, "max", 0));
      else fputs(",,,", o.f);
    }
    const char *err = lch_json_str(c, "error");
    fputc(',', o.f);
    if (err) {
      fputc('"', o.f);
      for (const char *p = err; *p; p++) {
        if (*p == '"') fputc('"', o.f);
        fputc(*p == '\n' ? ' ' : *p, o.f);
      }
      fputc('"', o.f);
    }
    fputc('\n', o.f);
  }
  return lch_outfile_commit(&o);
}

static char *csv_path_for(const char *out) {
  size_t n = strlen(out);
  if (n > 5 && strcmp(out + n - 5, ".json") == 0)
    return lch_xasprintf("%.*s.csv", (int)(n - 5), out);
  return lch_xasprintf("%s.csv", out);
}

static json_t *python_versions(const char *python) {
  char *dir = lch_data_dir("harness/sweep");
  char *script = lch_xasprintf("%s/lcsweep.py", dir);
  free(dir);
  char *argv[] = {(char *)python, script, "--versions", NULL};
  struct lch_job job = {
      .argv = argv, .path = python, .timeout_ms = 30000, .flags = LCH_JOB_STDOUT_RESULT};
  struct lch_proc_result res;
  json_t *v = NULL;
  if (access(python, X_OK) == 0 && lch_exec_one(&job, &res) == 0) {
    if (!res.timed_out && res.exit_code == 0 && res.result.data)
      v = json_loads(res.result.data, 0, NULL);
    lch_proc_result_free(&res);
  }
  free(script);
  if (!json_is_object(v)) {
    json_decref(v);
    return NULL;
  }
  return v;
}

static int split_list(const char *arg, const char *what, struct lch_strlist *l) {
  if (lch_strlist_split_commas(l, arg) != 0 || l->n == 0) {
    lch_error("%s '%s' has an empty item", what, arg);
    return -1;
  }
  return 0;
}

/* What lcsweep_main allocates, freed at exit on every path (bad input returns early). */
static struct lch_strlist wl, ml, nl, bl, backends;
static long *ns;
static struct model *models;
static size_t nm;
static char *bdir, *refpath, *csv;
static json_t *doc, *pyinfo;

static void cleanup(void) {
  json_decref(doc);
  json_decref(pyinfo);
  doc = pyinfo = NULL;
  free(csv);
  free(ns);
  free(refpath);
  free(bdir);
  csv = refpath = bdir = NULL;
  ns = NULL;
  for (size_t k = 0; k < nm; k++) {
    free(models[k].name);
    free(models[k].kind);
    free(models[k].backend);
    free(models[k].absent);
  }
  free(models);
  models = NULL;
  nm = 0;
  lch_strlist_free(&wl);
  lch_strlist_free(&ml);
  lch_strlist_free(&nl);
  lch_strlist_free(&bl);
  lch_strlist_free(&backends);
}

int lcsweep_main(int argc, char **argv) {
  lch_set_program("loopconf sweep");
  if (argc >= 2 && strcmp(argv[1], "__cell") == 0) return lcsweep_cell_main(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "plot") == 0) return lcsweep_plot_main(argc - 1, argv + 1);
  atexit(cleanup);
  long reps = -1;
  double cell_timeout = 45;
  long big_reps = 3;
  double big_budget = 10;
  int quick = 0, quiet = 0;
  const char *out = "sweep.json", *plot_dir = NULL, *python = "/usr/bin/python3";
  static const struct option longopts[] = {{"workload", required_argument, NULL, 'w'},
                                           {"model", required_argument, NULL, 'm'},
                                           {"n", required_argument, NULL, 'n'},
                                           {"backend", required_argument, NULL, 'b'},
                                           {"repetitions", required_argument, NULL, 'r'},
                                           {"cell-timeout", required_argument, NULL, 't'},
                                           {"quick", no_argument, NULL, 'Q'},
                                           {"python", required_argument, NULL, 'p'},
                                           {"out", required_argument, NULL, 'o'},
                                           {"plot", required_argument, NULL, 'P'},
                                           {"quiet", no_argument, NULL, 'q'},
                                           {"help", no_argument, NULL, 'h'},
                                           {"big-repetitions", required_argument, NULL, 'B'},
                                           {"big-budget", required_argument, NULL, 'G'},
                                           {NULL, 0, NULL, 0}};
  int c, bad = 0;
  opterr = 0;
  while (!bad && (c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'w': bad = split_list(optarg, "--workload", &wl); break;
    case 'm': bad = split_list(optarg, "--model", &ml); break;
    case 'n': bad = split_list(optarg, "--n", &nl); break;
    case 'b': bad = split_list(optarg, "--backend", &bl); break;
    case 'r': bad = lch_parse_long(optarg, "--repetitions", 1, 1000, &reps); break;
    case 't': bad = lch_parse_double(optarg, "--cell-timeout", 0.1, 86400, &cell_timeout); break;
    case 'Q': quick = 1; break;
    case 'B': bad = lch_parse_long(optarg, "--big-repetitions", 1, 1000, &big_reps); break;
    case 'G': bad = lch_parse_double(optarg, "--big-budget", 0, 86400, &big_budget); break;
    case 'p': python = optarg; break;
    case 'o': out = optarg; break;
    case 'P': plot_dir = optarg; break;
    case 'q': quiet = 1; break;
    case 'h': usage(stdout); return 0;
    default: return lch_getopt_error(c, argv, NULL);
    }
  }
  if (bad) return 2;
  if (optind < argc) {
    lch_error("unexpected argument '%s' (see loopconf sweep --help)", argv[optind]);
    return 2;
  }
  for (size_t i = 0; i < wl.n; i++)
    if (lcsweep_workload_parse(wl.v[i]) < 0) {
      lch_error("--workload: unknown workload '%s' (sleep, io, cpu, switch, spawn, block)",
                wl.v[i]);
      return 2;
    }
  size_t nn = 0;
  if (nl.n) {
    ns = lch_xcalloc(nl.n, sizeof *ns);
    for (size_t i = 0; i < nl.n; i++)
      if (lch_parse_long(nl.v[i], "--n", 1, 10000000, &ns[nn++]) != 0) return 2;
  }
  double mult;
  if (lch_env_multiplier(&mult) != 0) return 2;
  if (reps < 0) reps = quick ? 1 : 5;
  if (lch_outfile_check(out, "--out") != 0) return 2;
  csv = csv_path_for(out);
  if (lch_outfile_check(csv, "--out (CSV)") != 0) return 2;
  if (plot_dir && access(plot_dir, W_OK) != 0) {
    lch_error("--plot: directory %s is not writable: %s", plot_dir, strerror(errno));
    return 2;
  }
  if (plot_dir && access("/usr/bin/gnuplot", X_OK) != 0 &&
      system("command -v gnuplot >/dev/null 2>&1") != 0) {
    lch_error("--plot: gnuplot is not installed (Debian: gnuplot-nox)");
    return 2;
  }

  /* Models: tasks on every built-in backend and each --backend, then the baselines. */
  bdir = lch_backend_dir();
  if (!bdir) return 2;
  if (bl.n) {
    for (size_t i = 0; i < bl.n; i++) lch_strlist_push(&backends, lch_xstrdup(bl.v[i]));
  } else if (lch_builtin_names(bdir, &backends) != 0) {
    return 2;
  }
  refpath = lch_backend_resolve(bdir, "reference");
  for (size_t i = 0; i < backends.n; i++) {
    char *path = lch_backend_resolve(bdir, backends.v[i]);
    if (!path) return 2;
    char *lerr = NULL; /* bad input up front, not as a failed cell later */
    if (!lch_backend_load(path, &lerr)) {
      lch_error("--backend %s: %s", backends.v[i], lerr ? lerr : "cannot load");
      free(lerr);
      free(path);
      return 2;
    }
    const char *b = backends.v[i];
    const char *base = strrchr(b, '/') ? strrchr(b, '/') + 1 : b;
    char *label = lch_xstrdup(base);
    if (strncmp(label, "lcb_", 4) == 0) memmove(label, label + 4, strlen(label + 4) + 1);
    char *dot = strstr(label, ".so");
    if (dot) *dot = '\0';
    models = lch_xrealloc(models, (nm + 1) * sizeof *models);
    models[nm++] = (struct model){lch_xasprintf("task:%s", label), lch_xstrdup("task"), path, NULL};
    free(label);
  }
  /* The runtime's small-memory mode (LC_STACK_COPY) as its own line. The stack mode belongs to
   * the runtime, not the backend: one line on the reference backend shows it. */
  if (refpath && (!bl.n || lch_strlist_contains(&bl, "reference"))) {
    models = lch_xrealloc(models, (nm + 1) * sizeof *models);
    models[nm++] = (struct model){lch_xstrdup("task-copy:reference"), lch_xstrdup("task-copy"),
                                  lch_xstrdup(refpath), NULL};
  }
  static const char *const baselines[] = {
      "thread",           "thread-small", "process", "thread-executor",
      "process-executor", "asyncio",      "uvloop",  NULL};
  pyinfo = python_versions(python);
  for (int i = 0; baselines[i]; i++) {
    models = lch_xrealloc(models, (nm + 1) * sizeof *models);
    struct model m = {lch_xstrdup(baselines[i]), lch_xstrdup(baselines[i]), NULL, NULL};
    if (strstr(baselines[i], "executor")) m.backend = refpath ? lch_xstrdup(refpath) : NULL;
    if (strstr(baselines[i], "executor") && !m.backend)
      m.absent = lch_xstrdup("the reference backend is missing");
    if (strcmp(baselines[i], "asyncio") == 0 && !pyinfo)
      m.absent = lch_xasprintf("%s cannot run harness/sweep/lcsweep.py", python);
    if (strcmp(baselines[i], "uvloop") == 0) {
      if (!pyinfo) m.absent = lch_xasprintf("%s cannot run harness/sweep/lcsweep.py", python);
      else if (!lch_json_str(pyinfo, "uvloop"))
        m.absent = lch_xasprintf("uvloop is not installed for %s (Debian: python3-uvloop): %s",
                                 python, lch_json_str(pyinfo, "uvloop_absent"));
    }
    models[nm++] = m;
  }
  /* --model selects by name ("task" selects every task model). */
  if (ml.n) {
    for (size_t i = 0; i < ml.n; i++) {
      int hit = 0;
      for (size_t k = 0; k < nm; k++)
        if (strcmp(models[k].name, ml.v[i]) == 0 ||
            (strcmp(ml.v[i], "task") == 0 && model_is_task(&models[k])))
          hit = 1;
      if (!hit) {
        lch_error("--model: unknown model '%s' (see loopconf sweep --help)", ml.v[i]);
        return 2;
      }
    }
  }

  json_t *setup = setup_limits();
  doc = json_object();
  json_object_set_new(doc, "schema", json_string(LCSWEEP_SCHEMA));
  json_object_set_new(doc, "context", host_context(python, pyinfo));
  json_object_set_new(doc, "setup", setup);
  json_t *cfg = json_object();
  json_object_set_new(cfg, "repetitions", json_integer(reps));
  json_object_set_new(cfg, "quick", json_boolean(quick));
  json_object_set_new(cfg, "repetitions_at_n_100000_and_above",
                      json_integer(big_reps < reps ? big_reps : reps));
  json_object_set_new(cfg, "big_budget_s", json_real(big_budget));
  json_object_set_new(cfg, "cell_timeout_s", json_real(cell_timeout * mult));
  json_object_set_new(cfg, "busy_load1_above", json_real((double)sysconf(_SC_NPROCESSORS_ONLN)));
  json_t *params = json_object();
  json_object_set_new(params, "sleep_s", json_real(LCSWEEP_SLEEP_NS / 1e9));
  json_object_set_new(params, "io_round_trips", json_integer(LCSWEEP_IO_ROUNDS));
  json_object_set_new(params, "io_bytes", json_integer(LCSWEEP_IO_BYTES));
  json_object_set_new(params, "cpu_total_steps", json_integer(LCSWEEP_CPU_TOTAL));
  json_object_set_new(params, "switch_round_trips", json_integer(LCSWEEP_SWITCH_ROUNDS));
  json_object_set_new(params, "block_s", json_real(LCSWEEP_BLOCK_NS / 1e9));
  json_object_set_new(params, "tick_s", json_real(LCSWEEP_TICK_NS / 1e9));
  json_object_set_new(params, "thread_small_stack_b", json_integer(LCSWEEP_SMALL_STACK));
  json_object_set_new(params, "task_stack_b", json_integer(64 * 1024));
  json_object_set_new(cfg, "work", params);
  json_object_set_new(doc, "config", cfg);
  json_t *jmodels = json_array();
  for (size_t k = 0; k < nm; k++) {
    json_t *m = json_object();
    json_object_set_new(m, "name", json_string(models[k].name));
    json_object_set_new(m, "status", json_string(models[k].absent ? "absent" : "ok"));
    if (models[k].absent) json_object_set_new(m, "reason", json_string(models[k].absent));
    if (models[k].backend) json_object_set_new(m, "backend", json_string(models[k].backend));
    json_array_append_new(jmodels, m);
  }
  json_object_set_new(doc, "models", jmodels);
  json_t *cells = json_array();
  json_object_set_new(doc, "cells", cells);

  static const long default_ns[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  static const long quick_ns[] = {1, 100};
  struct runctx rc = {.quiet = quiet, .tty = isatty(2)};
  double busy_above = (double)sysconf(_SC_NPROCESSORS_ONLN);
  int64_t t_begin = lc_clock_ns();
  char nbuf[32];
  for (int w = 0; w < LCSW_NWORKLOADS; w++) {
    if (wl.n && !lch_strlist_contains(&wl, lcsweep_workload_names[w])) continue;
    for (size_t k = 0; k < nm; k++) {
      struct model *m = &models[k];
      if (ml.n && !lch_strlist_contains(&ml, m->name) &&
          !(lch_strlist_contains(&ml, "task") && model_is_task(m)))
        continue;
      if (!model_applies(m, w)) continue;
      /* The N of this workload and model. */
      long list[16];
      size_t ln = 0;
      if (w == LCSW_SWITCH) list[ln++] = 2;
      else if (nn)
        for (size_t i = 0; i < nn && ln < 16; i++) list[ln++] = ns[i];
      else if (quick)
        for (size_t i = 0; i < 2; i++) list[ln++] = quick_ns[i];
      else
        for (size_t i = 0; i < 7; i++) {
          if (default_ns[i] == 1000000 && !(model_is_task(m) && w != LCSW_IO && w != LCSW_BLOCK))
            continue; /* 1M for tasks (io: 2M fds) */
          list[ln++] = default_ns[i];
        }
      if (w == LCSW_BLOCK) { /* at least 2 units (the blocker and a ticker), at most 1000 */
        size_t o = 0;
        for (size_t i = 0; i < ln; i++)
          if (list[i] >= 2 && list[i] <= 1000) list[o++] = list[i];
        ln = o;
        if (!ln) list[ln++] = quick ? 10 : 100;
      }
      long limit_at = -1;
      const char *limit_err = NULL;
      json_t *limit_cell = NULL;
      for (size_t i = 0; i < ln; i++) {
        json_t *cell = json_object();
        json_object_set_new(cell, "workload", json_string(lcsweep_workload_names[w]));
        json_object_set_new(cell, "model", json_string(m->name));
        json_object_set_new(cell, "n", json_integer(list[i]));
        json_array_append_new(cells, cell);
        if (m->absent) {
          json_object_set_new(cell, "status", json_string("absent"));
          json_object_set_new(cell, "error", json_string(m->absent));
          continue;
        }
        if (limit_cell) {
          json_object_set_new(cell, "status", json_string("limit"));
          char *msg = lch_xasprintf("not run: limit at N=%ld (%s)", limit_at, limit_err);
          json_object_set_new(cell, "error", json_string(msg));
          free(msg);
          continue;
        }
        snprintf(nbuf, sizeof nbuf, "%ld", list[i]);
        char *args[16];
        int a = 0;
        args[a++] = "loopconf";
        args[a++] = "sweep";
        args[a++] = "__cell";
        args[a++] = "--workload";
        args[a++] = (char *)lcsweep_workload_names[w];
        args[a++] = "--model";
        args[a++] = m->kind;
        args[a++] = "--n";
        args[a++] = nbuf;
        if (m->backend) {
          args[a++] = "--backend";
          args[a++] = m->backend;
        }
        args[a++] = "--python";
        args[a++] = (char *)python;
        args[a] = NULL;
        if (!quiet && rc.tty)
          fprintf(stderr, "\r\033[K[%6.1f s] %-7s %-18s N=%-8ld ...",
                  (double)(lc_clock_ns() - t_begin) / 1e9, lcsweep_workload_names[w], m->name,
                  list[i]);
        int big = list[i] >= 100000;
        int cell_reps = big && big_reps < reps ? (int)big_reps : (int)reps, cut = 0;
        json_t *reps_a = run_cell(args, cell_reps, (long)(cell_timeout * mult * 1000),
                                  big ? big_budget : 0, &cut, &rc);
        if (!reps_a) {
          if (lch_interrupted())
            lch_error("interrupted by signal %d; nothing written", lch_interrupted());
          return 2;
        }
        json_object_set_new(cell, "reps", reps_a);
        if (cut) json_object_set_new(cell, "reps_cut_by_budget", json_true());
        size_t ok = 0, r;
        double lmax = 0;
        json_t *rep, *bad_rep = NULL;
        json_array_foreach(reps_a, r, rep) {
          if (json_is_true(json_object_get(rep, "ok"))) ok++;
          else if (!bad_rep) bad_rep = rep;
          double l = lch_json_num(rep, "load1_before", 0);
          if (l > lmax) lmax = l;
        }
        json_object_set_new(cell, "reps_ok", json_integer((json_int_t)ok));
        json_object_set_new(cell, "load1_max", json_real(lmax));
        json_object_set_new(cell, "busy", json_boolean(lmax > busy_above));
        json_object_set_new(cell, "stats", aggregate(reps_a));
        if (bad_rep) {
          const char *err = lch_json_str(bad_rep, "error");
          json_object_set_new(
              cell, "status",
              json_string(json_is_true(json_object_get(bad_rep, "timed_out")) ? "timeout"
                                                                              : "error"));
          char *msg = lch_xasprintf("%s%s", err ? err : "failed",
                                    json_is_integer(json_object_get(bad_rep, "errno")) ? "" : "");
          json_object_set_new(cell, "error", json_string(msg));
          free(msg);
          if (json_is_integer(json_object_get(bad_rep, "errno")))
            json_object_set(cell, "errno", json_object_get(bad_rep, "errno"));
          limit_cell = cell;
          limit_at = json_is_integer(json_object_get(bad_rep, "limit_at"))
                         ? (long)json_integer_value(json_object_get(bad_rep, "limit_at"))
                         : list[i];
          limit_err = lch_json_str(cell, "error");
          json_object_set_new(cell, "limit_at", json_integer(limit_at));
        } else {
          json_object_set_new(cell, "status", json_string("ok"));
        }
        if (!quiet) {
          json_t *ws = json_object_get(json_object_get(cell, "stats"), "wall_s");
          if (rc.tty) fputs("\r\033[K", stderr);
          fprintf(stderr,
                  "[%6.1f s] %-7s %-18s N=%-8ld %-7s wall %9.4f s (%.4f-%.4f) load %.2f%s\n",
                  (double)(lc_clock_ns() - t_begin) / 1e9, lcsweep_workload_names[w], m->name,
                  list[i], lch_json_str(cell, "status"), lch_json_num(ws, "median", NAN),
                  lch_json_num(ws, "min", NAN), lch_json_num(ws, "max", NAN), lmax,
                  lmax > busy_above ? " BUSY" : "");
          if (bad_rep) fprintf(stderr, "           %s\n", lch_json_str(cell, "error"));
        }
      }
    }
  }
  json_object_set_new(json_object_get(doc, "config"), "elapsed_s",
                      json_real((double)(lc_clock_ns() - t_begin) / 1e9));
  if (lch_json_write(out, doc) != 0) return 2;
  if (write_csv(csv, cells) != 0) return 2;
  if (!quiet) fprintf(stderr, "wrote %s and %s\n", out, csv);
  int prc = 0;
  if (plot_dir) prc = lcsweep_report(doc, plot_dir, quiet);
  cleanup();
  return prc;
}
