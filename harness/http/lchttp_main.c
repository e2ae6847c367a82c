/* lchttp_main.c: `loopconf http` (the loopconf-http program): start each HTTP server, verify
 * it, drive it with wrk (closed loop) and with our open-loop client, write one JSON results
 * file, gnuplot charts and a README table. --smoke and --bad-input are the CTest modes. */
#include "lchttp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lchttp_proto.h"
#include "loopconf/clock.h"

enum mode { MODE_RUN, MODE_SMOKE, MODE_BAD_INPUT };

struct server {
  char *name;    /* runtime-reference, threads, prefork, asyncio, uvloop */
  char *kind;    /* runtime, threads, prefork, asyncio, uvloop */
  char *backend; /* runtime servers: the backend's name or path */
};

static struct {
  enum mode mode;
  struct lch_strlist levels_s;
  long levels[32];
  size_t nlevels;
  long duration, repeat, primer, warmup, ol_conns, ol_duration, ol_repeat, workers;
  double ol_warmup;
  int open_loop, ol_rt, ol_idle_poll, ol_repeat_given, pin, quiet;
  /* 1: lift RT throttling; 0: --keep-rt-throttle; -1: --reproduce of a file that kept it */
  int ol_unthrottle;
  char ol_throttle[200]; /* what became of the kernel's RT throttling in the open loop */
  const char *out_dir, *servers_arg, *backends_arg, *reproduce, *readme;
  int regenerate, any_machine, drift_given, other_machine;
  char other_why[512]; /* --reproduce: why A's machine is not this one */
  double ol_drift[4];  /* --drift: the between-run allowance per percentile, a fraction */
  double ol_loads[16]; /* --open-loop-loads: fractions of each server's wrk peak */
  size_t ol_nloads;
  double mult;
  char *exe_dir, *python, *script, *wrk_lua;
  cpu_set_t all_cpus, server_cpus, client_cpus;
  int n_client_cpus, n_server_cpus, n_cpus;
  char pin_note[256];
  json_t *old; /* --reproduce FILE */
} G;

static struct server *servers;
static size_t nservers;

/* The percentiles an open-loop set reports with a repeat range, and the between-run drift
 * allowance of each, in percent (--drift): besides its runs' min-max, a set reports the range
 * a repeat run's median should fall in, [lo / (1 + d), hi x (1 + d)], lo and hi its spread
 * over the windows of its runs (ol_spread). That spread is the noise of the few minutes one
 * run lasts; a repeat an hour later also meets the machine's drift. The defaults are the largest widening any set that measured the server needed
 * between three quiet-machine runs 12 minutes and 5.5 hours apart, rounded up to 5% (fixed
 * before the runs that test them: results/http/reproducibility/README.md). */
static const char *const ol_pct_keys[] = {"p50", "p90", "p99", "p99.9"};
#define OL_NPCT (sizeof ol_pct_keys / sizeof *ol_pct_keys)
#define LCHTTP_DRIFT_DEFAULT "5,20,35,100"

/* --drift LIST: four percentages (p50, p90, p99, p99.9) into fractions; -1 with one line. */
static int parse_drift(const char *arg, double out[OL_NPCT]) {
  struct lch_strlist l = {0};
  int rc = 0;
  if (lch_strlist_split_commas(&l, arg) || l.n != OL_NPCT) {
    lch_error("--drift '%s': want four percentages, for p50, p90, p99 and p99.9 (e.g. %s)", arg,
              LCHTTP_DRIFT_DEFAULT);
    rc = -1;
  }
  for (size_t i = 0; i < l.n && !rc; i++) {
    if (lch_parse_double(l.v[i], "--drift entry", 0, 1000, &out[i])) rc = -1;
    out[i] /= 100;
  }
  lch_strlist_free(&l);
  return rc;
}

/* --open-loop-loads LIST: percentages of the wrk peak into G.ol_loads; -1 with one line. */
static int parse_loads(const char *arg) {
  struct lch_strlist l = {0};
  int rc = 0;
  if (lch_strlist_split_commas(&l, arg) || l.n == 0 || l.n > 16) {
    lch_error("--open-loop-loads '%s': want 1 to 16 percentages of the wrk peak (e.g. 50,80)", arg);
    rc = -1;
  }
  G.ol_nloads = 0;
  for (size_t i = 0; i < l.n && !rc; i++) {
    double v;
    if (lch_parse_double(l.v[i], "--open-loop-loads entry", 1, 100, &v)) rc = -1;
    G.ol_loads[G.ol_nloads++] = v / 100;
  }
  lch_strlist_free(&l);
  return rc;
}

/* "50% and 80%": the open-loop loads of G, for prose. */
static void loads_text(char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = 0;
  for (size_t i = 0; i < G.ol_nloads && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%.0f%%",
                          i == 0                 ? ""
                          : i + 1 == G.ol_nloads ? " and "
                                                 : ", ",
                          100 * G.ol_loads[i]);
}

/* G.ol_loads from a results file's sets (the first server that has any). */
static void loads_from(json_t *servers_json) {
  size_t i, k;
  json_t *sv, *o;
  json_array_foreach(servers_json, i, sv) {
    json_t *sets = json_object_get(sv, "open_loop");
    if (!json_array_size(sets)) continue;
    G.ol_nloads = 0;
    json_array_foreach(sets, k, o) if (G.ol_nloads < 16) G.ol_loads[G.ol_nloads++] =
        lch_json_num(o, "load", 0);
    return;
  }
}

/* The spread of one percentile of a set, into lohi: the lowest and highest value it took in
 * any window of any run (the client reports it for 10 equal windows of each run; a run's
 * percentile lies between its windows', so this range holds every run's), or, for a file
 * whose runs have no windows, the runs' min and max. Returns 1 for windows, 0 for runs. */
static int ol_spread(json_t *runs, const char *key, double lohi[2]) {
  size_t i, k;
  json_t *r, *x;
  int windows = 0;
  lohi[0] = INFINITY;
  lohi[1] = 0;
  json_array_foreach(runs, i, r) {
    json_t *w = json_object_get(json_object_get(r, "latency_windows_us"), key);
    if (json_array_size(w)) {
      windows = 1;
      json_array_foreach(w, k, x) {
        if (!json_is_number(x)) continue; /* a window in which nothing was due */
        lohi[0] = fmin(lohi[0], json_number_value(x));
        lohi[1] = fmax(lohi[1], json_number_value(x));
      }
    } else if (json_is_number(x = json_object_get(json_object_get(r, "latency_us"), key))) {
      lohi[0] = fmin(lohi[0], json_number_value(x));
      lohi[1] = fmax(lohi[1], json_number_value(x));
    }
  }
  if (lohi[0] > lohi[1]) lohi[0] = lohi[1] = 0;
  return windows;
}

/* Whether a results file's open-loop runs report windows (files before 2026-12-02 do not). */
static int has_windows(json_t *servers_json) {
  size_t i, k;
  json_t *sv, *o;
  json_array_foreach(servers_json, i, sv)
      json_array_foreach(json_object_get(sv, "open_loop"), k, o) {
    json_t *r = json_array_get(json_object_get(o, "runs"), 0);
    if (json_object_get(r, "latency_windows_us")) return 1;
  }
  return 0;
}
#define SPREAD_WINDOWS_TEXT                                                                 \
  "lo and hi are the lowest and highest value the percentile took in any of the 10 equal "  \
  "windows of any run (a run's percentile lies between its windows', so every run's does; " \
  "the windows also show the host's short stalls that a whole run averages away)"
#define SPREAD_RUNS_TEXT "lo and hi are the runs' min and max (this file's runs have no windows)"
#define IDLE_POLL_TEXT                                                                       \
  "The client keeps idle CPUs polling instead of halting (a PM QoS request, "                \
  "/dev/cpu_dma_latency 0, as cyclictest makes; `--no-idle-poll` turns it off): on a VM, "   \
  "waking a halted vCPU costs a hypervisor exit whose price moves with the host's load (on " \
  "this project's Xeon VMs it, not the server, had set the median)."

/* The repeat range of a percentile of a set: its spread (ol_spread) widened by the drift
 * allowance, [lo / (1 + d), hi x (1 + d)]. */
static void repeat_range(json_t *runs, const char *key, double drift, double out[2]) {
  ol_spread(runs, key, out);
  out[0] /= 1 + drift;
  out[1] *= 1 + drift;
}

/* The drift allowance a results file's context records into G.ol_drift (unless --drift was
 * given); 0 when it records none (the file predates it) and the defaults stand. */
static int ctx_drift(json_t *ctx) {
  json_t *d = json_object_get(ctx, "open_loop_drift_pct");
  double v[OL_NPCT];
  for (size_t i = 0; i < OL_NPCT; i++) {
    json_t *x = json_object_get(d, ol_pct_keys[i]);
    if (!json_is_number(x) || json_number_value(x) < 0) return 0;
    v[i] = json_number_value(x) / 100;
  }
  if (!G.drift_given) memcpy(G.ol_drift, v, sizeof v);
  return 1;
}

/* Whether an open-loop set measures the server: it reached its rate, no run failed and the
 * client was not the limit (a set without these flags is taken to). */
static int ol_measures_server(json_t *set) {
  return !json_is_false(json_object_get(set, "rate_reached")) &&
         !json_is_true(json_object_get(set, "client_limited")) &&
         !json_is_true(json_object_get(set, "failed"));
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
  if (G.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static int on_path(const char *prog) {
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  char *copy = lch_xstrdup(path), *save = NULL;
  int found = 0;
  for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
    char *p = lch_xasprintf("%s/%s", d, prog);
    found = access(p, X_OK) == 0;
    free(p);
  }
  free(copy);
  return found;
}

/* First line of a command's output, or "". */
static void first_line(const char *cmd, char *out, size_t len) {
  out[0] = 0;
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (!fgets(out, (int)len, p)) out[0] = 0;
  pclose(p);
  out[strcspn(out, "\n")] = 0;
}

static double loadavg1(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

static char *cpus_str(const cpu_set_t *s) {
  struct lch_buf b = {0};
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, s)) lch_buf_printf(&b, "%s%d", b.len ? "," : "", i);
  if (!b.data) lch_buf_puts(&b, "");
  return b.data;
}

/* ---- server processes -------------------------------------------------------------------- */

static char **server_argv(const struct server *s, long header_timeout_ms) {
  char **a = lch_xcalloc(12, sizeof *a);
  int n = 0;
  if (!strcmp(s->kind, "asyncio") || !strcmp(s->kind, "uvloop")) {
    a[n++] = lch_xstrdup(G.python);
    a[n++] = lch_xstrdup(G.script);
    if (!strcmp(s->kind, "uvloop")) a[n++] = lch_xstrdup("--uvloop");
  } else {
    a[n++] = lch_xasprintf("%s/loopconf-http-server", G.exe_dir);
    a[n++] = lch_xstrdup(s->kind);
    if (s->backend) {
      a[n++] = lch_xstrdup("--backend");
      a[n++] = lch_xstrdup(s->backend);
    }
    if (!strcmp(s->kind, "prefork")) a[n++] = lch_xasprintf("--workers=%ld", G.workers);
  }
  a[n++] = lch_xasprintf("--header-timeout-ms=%ld", header_timeout_ms);
  return a;
}

static void free_argv(char **a) {
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

static int server_start(const struct server *s, long header_timeout_ms, struct lchttp_proc *pr) {
  char **argv = server_argv(s, header_timeout_ms);
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
    lch_error("pipe: %s", strerror(errno));
    free_argv(argv);
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    if (G.pin) sched_setaffinity(0, sizeof G.server_cpus, &G.server_cpus);
    dup2(in[0], 0);
    dup2(out[1], 1);
    execvp(argv[0], argv);
    fprintf(stderr, "loopconf-http: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  pr->pid = pid;
  pr->in_fd = in[1];
  pr->port = -1;
  char line[128];
  size_t len = 0;
  int64_t deadline = lc_clock_ns() + (int64_t)(10000 * G.mult) * LC_MS;
  while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
    int64_t left = deadline - lc_clock_ns();
    if (left <= 0) break;
    struct pollfd p = {out[0], POLLIN, 0};
    if (poll(&p, 1, (int)(left / LC_MS) + 1) <= 0) continue;
    ssize_t n = read(out[0], line + len, sizeof line - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
  }
  line[len] = 0;
  close(out[0]);
  if (sscanf(line, "lchttp-port %d", &pr->port) != 1) {
    lch_error("server %s did not report its port (%s)", s->name, argv[0]);
    free_argv(argv);
    kill(-pid, SIGKILL);
    close(pr->in_fd);
    waitpid(pid, NULL, 0);
    return -1;
  }
  free_argv(argv);
  return 0;
}

static int server_alive(void *ud) {
  struct lchttp_proc *pr = ud;
  int st;
  return waitpid(pr->pid, &st, WNOHANG) == 0;
}

/* Ask the server to exit (stdin EOF) and reap it. 0 if it exited with 0; else -1 and *why. */
static int server_stop(struct lchttp_proc *pr, char *why, size_t whylen) {
  close(pr->in_fd);
  int st = 0;
  int64_t deadline = lc_clock_ns() + (int64_t)(10000 * G.mult) * LC_MS;
  pid_t r;
  while ((r = waitpid(pr->pid, &st, WNOHANG)) == 0 && lc_clock_ns() < deadline) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(-pr->pid, SIGKILL); /* anything left in its group (prefork workers) */
  if (r == 0) {
    waitpid(pr->pid, &st, 0);
    snprintf(why, whylen, "did not exit within 10 s of its stdin closing");
    return -1;
  }
  if (r < 0) {
    snprintf(why, whylen, "had already been reaped (%s)", strerror(errno));
    return -1;
  }
  if (WIFSIGNALED(st)) {
    snprintf(why, whylen, "died of signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    return -1;
  }
  if (WEXITSTATUS(st) != 0) {
    snprintf(why, whylen, "exited with status %d", WEXITSTATUS(st));
    return -1;
  }
  return 0;
}

/* ---- wrk --------------------------------------------------------------------------------- */

static const char wrk_lua[] =
    "-- written by loopconf http: results as JSON, never wrk's text\n"
    "done = function(summary, latency, requests)\n"
    "  local f = assert(io.open(os.getenv(\"LCHTTP_WRK_OUT\"), \"w\"))\n"
    "  local e = summary.errors\n"
    "  f:write(string.format('{\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,'\n"
    "    .. '\"errors\":{\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d},'\n"
    "    .. "
    "'\"latency_us\":{\"min\":%.1f,\"mean\":%.1f,\"stdev\":%.1f,\"p50\":%.1f,\"p90\":%.1f,'\n"
    "    .. '\"p99\":%.1f,\"p99.9\":%.1f,\"max\":%.1f}}\\n',\n"
    "    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,\n"
    "    e.status, e.timeout, latency.min, latency.mean, latency.stdev,\n"
    "    latency:percentile(50), latency:percentile(90), latency:percentile(99),\n"
    "    latency:percentile(99.9), latency.max))\n"
    "  f:close()\n"
    "end\n";

/* One wrk run. Returns its JSON (with "threads", "connections", "rps", "failed", "load1"
 * added) or NULL when wrk itself could not run (error printed). */
static json_t *run_wrk(int port, long conns, long seconds, const char *path) {
  long threads = conns < G.n_client_cpus ? conns : G.n_client_cpus;
  char *out = lch_xasprintf("%s.out.%d", G.wrk_lua, getpid());
  unlink(out);
  char *env = lch_xasprintf("LCHTTP_WRK_OUT=%s", out);
  const char *envv[] = {env, NULL};
  char *args[] = {"wrk",
                  lch_xasprintf("-t%ld", threads),
                  lch_xasprintf("-c%ld", conns),
                  lch_xasprintf("-d%lds", seconds),
                  "--timeout",
                  "8s",
                  "-s",
                  G.wrk_lua,
                  lch_xasprintf("http://127.0.0.1:%d%s", port, path),
                  NULL};
  struct lch_job job = {.argv = args,
                        .path = "wrk",
                        .timeout_ms = (long)((seconds + 30) * 1000 * G.mult),
                        .env = envv};
  struct lch_proc_result res;
  int rc = lch_exec_one(&job, &res);
  json_t *j = NULL;
  if (rc == -EINTR) {
    lch_error("interrupted");
    exit(130);
  }
  struct stat st;
  if (rc == 0 && !res.timed_out && res.exit_code == 0 && !res.signo && stat(out, &st) == 0) {
    json_error_t err;
    j = json_load_file(out, 0, &err);
  }
  if (!j) {
    j = json_object();
    json_object_set_new(j, "wrk_failed",
                        json_string(res.timed_out  ? "timed out"
                                    : res.log.data ? res.log.data
                                                   : "no output"));
  }
  json_object_set_new(j, "connections", json_integer(conns));
  json_object_set_new(j, "threads", json_integer(threads));
  json_object_set_new(j, "load1_after", json_real(loadavg1()));
  double req = lch_json_num(j, "requests", 0), dur = lch_json_num(j, "duration_us", 0);
  json_t *e = json_object_get(j, "errors");
  double errs = 0;
  const char *k;
  json_t *v;
  json_object_foreach(e, k, v) errs += json_number_value(v);
  int failed = json_object_get(j, "wrk_failed") || !e || errs > 0 || req <= 0;
  json_object_set_new(j, "rps", json_real(dur > 0 ? req / (dur / 1e6) : 0));
  json_object_set_new(j, "failed", json_boolean(failed));
  lch_proc_result_free(&res);
  unlink(out);
  free(out);
  free(env);
  for (int i = 1; i <= 3; i++) free(args[i]);
  free(args[8]);
  return j;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmpd);
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the open-loop client, as a child pinned with wrk ------------------------------------ */

static json_t *run_open_loop(int port, double rate) {
  char *self = lch_xasprintf("%s/loopconf-http", G.exe_dir);
  char *args[] = {self,
                  "__openloop",
                  lch_xasprintf("--port=%d", port),
                  lch_xasprintf("--rate=%.0f", rate),
                  lch_xasprintf("--connections=%ld", G.ol_conns),
                  lch_xasprintf("--duration=%ld", G.ol_duration),
                  lch_xasprintf("--warmup=%g", G.ol_warmup),
                  NULL,
                  NULL,
                  NULL};
  size_t na = 7;
  if (G.ol_rt) args[na++] = "--fifo";
  if (G.ol_idle_poll) args[na++] = "--idle-poll";
  struct lch_job job = {.argv = args,
                        .path = self,
                        .timeout_ms = (long)((G.ol_duration + 30) * 1000 * G.mult),
                        .flags = LCH_JOB_STDOUT_RESULT};
  struct lch_proc_result res;
  double steal0 = lch_host_steal_ms();
  int rc = lch_exec_one(&job, &res);
  double steal1 = lch_host_steal_ms();
  if (rc == -EINTR) exit(130);
  json_t *j = NULL;
  if (rc == 0 && res.exit_code == 0 && !res.timed_out && res.result.data) {
    json_error_t err;
    j = json_loads(res.result.data, 0, &err);
  }
  if (!j) {
    j = json_object();
    json_object_set_new(j, "client_failed", json_string(res.log.data ? res.log.data : "no output"));
  }
  /* the hypervisor's steal from both cores over the whole client run (warm-up included) */
  if (steal0 >= 0 && steal1 >= steal0)
    json_object_set_new(j, "host_steal_ms", json_real(steal1 - steal0));
  double target = lch_json_num(j, "target_rate", rate), got = lch_json_num(j, "achieved_rate", 0);
  int failed = json_object_get(j, "client_failed") || lch_json_num(j, "errors", 1) > 0 ||
               lch_json_num(j, "unfinished", 1) > 0;
  json_object_set_new(j, "failed", json_boolean(failed));
  /* the rate was not reached: the client or the server fell behind; latencies then include
   * the queueing that causes, which is the honest number, but say so */
  json_object_set_new(j, "rate_reached", json_boolean(got >= 0.95 * target));
  lch_proc_result_free(&res);
  for (int i = 2; i <= 6; i++) free(args[i]);
  free(self);
  return j;
}

/* Put every thread of every process in the server's process group (prefork workers, the
 * thread server's connection threads) at SCHED_FIFO, or back at SCHED_OTHER. Threads created
 * later inherit it from their creator. Returns the threads changed, or -errno of the first
 * refusal (EPERM when not root). */
static int server_sched(pid_t pgid, int fifo) {
  DIR *d = opendir("/proc");
  if (!d) return -errno;
  struct sched_param sp = {.sched_priority = fifo ? LCHTTP_RT_PRIORITY : 0};
  int changed = 0, err = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *rp = strrchr(buf, ')'), state;
    int ppid, pgrp;
    if (!rp || sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 || pgrp != pgid) continue;
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *t = opendir(path);
    if (!t) continue;
    struct dirent *te;
    while ((te = readdir(t))) {
      long tid = strtol(te->d_name, &end, 10);
      if (*end || tid <= 0) continue;
      if (sched_setscheduler((pid_t)tid, fifo ? SCHED_FIFO : SCHED_OTHER, &sp) == 0) changed++;
      else if (!err && errno != ESRCH) err = -errno;
    }
    closedir(t);
  }
  closedir(d);
  return err ? err : changed;
}

/* Median, min and max over a set's runs of one percentile, into out[3]. */
static void ol_stat(json_t *runs, const char *what, const char *key, double out[3]);

/* The summary of one open-loop set (one rate, several runs): per percentile of the latency
 * from the due time, the median over the runs with min and max (the spread the run reports),
 * and the flags a reader needs (rate not reached, a failed run, the client's own limits). */
static void ol_summarise(json_t *o) {
  json_t *runs = json_object_get(o, "runs"), *sum = json_object();
  static const char *const keys[] = {"p50", "p90", "p99", "p99.9", "max"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    double v[3];
    ol_stat(runs, "latency_us", keys[i], v);
    json_t *k = json_object();
    json_object_set_new(k, "median", json_real(v[0]));
    json_object_set_new(k, "min", json_real(v[1]));
    json_object_set_new(k, "max", json_real(v[2]));
    if (i < OL_NPCT) {
      double rr[2], sp[2];
      if (ol_spread(runs, keys[i], sp)) {
        json_object_set_new(k, "window_min", json_real(sp[0]));
        json_object_set_new(k, "window_max", json_real(sp[1]));
      }
      repeat_range(runs, keys[i], G.ol_drift[i], rr);
      json_object_set_new(k, "repeat_lo", json_real(rr[0]));
      json_object_set_new(k, "repeat_hi", json_real(rr[1]));
    }
    json_object_set_new(sum, keys[i], k);
    if (!strcmp(keys[i], "p99")) { /* the keys loopconf report reads */
      json_object_set_new(o, "p99_min_us", json_real(v[1]));
      json_object_set_new(o, "p99_max_us", json_real(v[2]));
    }
  }
  json_object_set_new(o, "latency_summary_us", sum);
  double lag[3], svc[3];
  ol_stat(runs, "send_lag_us", "p99", lag);
  ol_stat(runs, "service_us", "p99", svc);
  json_object_set_new(o, "send_lag_p99_us_median", json_real(lag[0]));
  json_object_set_new(o, "service_p99_us_median", json_real(svc[0]));
  double ach[64], busy[64], cpu = 0;
  size_t n = 0, nb = 0, q;
  json_t *r;
  int reached = 1, failed = 0;
  double steal = -1;
  const char *wait = NULL;
  json_array_foreach(runs, q, r) {
    if (n < 64) ach[n++] = lch_json_num(r, "achieved_rate", 0);
    steal = fmax(steal, lch_json_num(r, "host_steal_ms", -1));
    reached &= json_is_true(json_object_get(r, "rate_reached"));
    failed |= json_is_true(json_object_get(r, "failed"));
    cpu = fmax(cpu, lch_json_num(r, "client_cpu_cores", 0));
    /* a file from before the busy measure: its client slept, so busy was its CPU use */
    if (nb < 64)
      busy[nb++] = lch_json_num(r, "client_busy_cores", lch_json_num(r, "client_cpu_cores", 0));
    if (!wait) wait = lch_json_str(r, "client_wait");
  }
  json_object_set_new(o, "achieved_median", json_real(median(ach, n)));
  json_object_set_new(o, "rate_reached", json_boolean(reached && n > 0));
  json_object_set_new(o, "client_cpu_cores_max", json_real(cpu));
  double busy_med = median(busy, nb);
  json_object_set_new(o, "client_busy_cores_median", json_real(busy_med));
  if (wait) json_object_set_new(o, "client_wait", json_string(wait));
  if (steal >= 0) json_object_set_new(o, "host_steal_ms_max", json_real(steal));
  /* the client's own lateness: each send from the moment it became possible (the later of its
   * due time and the previous response); a file from before it has only the send lag, which
   * also holds the server's late responses */
  double own[3];
  int has_own = json_object_get(json_array_get(runs, 0), "client_lag_us") != NULL;
  ol_stat(runs, has_own ? "client_lag_us" : "send_lag_us", "p99", own);
  json_object_set_new(o, "client_lag_p99_us_median", json_real(own[0]));
  /* the client, not the server, set the figures: its core busy (not spinning) 85% of the time
   * or more, medians of the runs, or more than half the p99 its own time: the p99 of the
   * latencies each less the client's share (server_latency_us) under half the p99. A file from
   * before the client took its share out per request: its share's own p99 at least half the
   * p99 (which overstates: the two p99s are of different requests). */
  double p99[3], less[3];
  ol_stat(runs, "latency_us", "p99", p99);
  int own_half = own[0] >= 0.5 * p99[0];
  if (json_object_get(json_array_get(runs, 0), "server_latency_us")) {
    ol_stat(runs, "server_latency_us", "p99", less);
    json_object_set_new(o, "server_p99_us_median", json_real(less[0]));
    own_half = less[0] < 0.5 * p99[0];
  }
  json_object_set_new(o, "client_limited", json_boolean(busy_med >= 0.85 || own_half));
  json_object_set_new(o, "failed", json_boolean(failed || n == 0));
}

/* One server's open-loop plan: its rates and the loads they stand for; the phase fills sets
 * (one object per rate, its runs appended round by round) and problems. */
struct ol_plan {
  const struct server *s;
  size_t n;
  double loads[16], rates[16];
  json_t *sets;
  struct lch_strlist problems;
};

/* ---- the kernel's RT throttling during the open loop --------------------------------------
 * With its default sched_rt_runtime_us of 950000 the kernel lets SCHED_FIFO tasks have 95% of
 * each second, then gives the CPU to normal tasks (on this project's 6.18 VMs: to its fair
 * server) for up to 50 ms. Our client is 90-99% busy at the open loop's higher rates, so it
 * was stopped for 40-50 ms about once a second (an AMD EPYC VM, 50k req/s: p99 4.6-33 ms over
 * four runs with the default, 2.3-3.4 ms over five with -1), which the tail then reported as
 * the server's. When the open loop runs at SCHED_FIFO we set it to -1 (no throttling) for the
 * phase and put it back after. A guard process holds the old value and writes it back when
 * our end of its pipe closes, so it is restored even if we are killed; it has a process group
 * of its own and ignores the stop signals, and ends right after restoring. While throttling
 * is off, a FIFO server and client that both spun would own both CPUs; the client ends at its
 * duration, which leaves a CPU for us to stop the server. */
#define RT_RUNTIME_PATH "/proc/sys/kernel/sched_rt_runtime_us"
static struct {
  pid_t pid;
  int fd; /* our end of the guard's pipe, -1 when nothing is held */
  char old[32];
} rt_guard = {-1, -1, ""};

static int write_sysctl(const char *path, const char *v) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, v, strlen(v));
  int e = n < 0 ? errno : 0;
  close(fd);
  return n < 0 ? -e : 0;
}

static void rt_throttle_restore(void) {
  if (rt_guard.fd < 0) return;
  write_sysctl(RT_RUNTIME_PATH, rt_guard.old);
  close(rt_guard.fd);
  rt_guard.fd = -1;
  while (waitpid(rt_guard.pid, NULL, 0) < 0 && errno == EINTR) {
  }
  rt_guard.pid = -1;
}

static void rt_throttle_lift(void) {
  FILE *f = fopen(RT_RUNTIME_PATH, "r");
  char old[32] = "";
  if (!f || !fgets(old, sizeof old, f)) {
    snprintf(G.ol_throttle, sizeof G.ol_throttle, "kept (cannot read %s: %s)", RT_RUNTIME_PATH,
             strerror(errno));
    if (f) fclose(f);
    return;
  }
  fclose(f);
  old[strcspn(old, "\n")] = 0;
  if (!strcmp(old, "-1")) {
    snprintf(G.ol_throttle, sizeof G.ol_throttle, "off (sched_rt_runtime_us was already -1)");
    return;
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    snprintf(G.ol_throttle, sizeof G.ol_throttle, "kept (pipe: %s)", strerror(errno));
    return;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(G.ol_throttle, sizeof G.ol_throttle, "kept (fork: %s)", strerror(errno));
    close(p[0]);
    close(p[1]);
    return;
  }
  if (pid == 0) { /* the guard: wait for our parent's end to close, put the value back */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_IGN);
    setpgid(0, 0); /* out of our group, which a kill of the group (even SIGKILL) reaches */
    close(p[1]);
    char c;
    for (;;) { /* nothing is ever written: this returns at EOF */
      ssize_t n = read(p[0], &c, 1);
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    write_sysctl(RT_RUNTIME_PATH, old);
    _exit(0);
  }
  close(p[0]);
  rt_guard.pid = pid;
  rt_guard.fd = p[1];
  snprintf(rt_guard.old, sizeof rt_guard.old, "%s", old);
  int rc = write_sysctl(RT_RUNTIME_PATH, "-1");
  if (rc < 0) {
    rt_throttle_restore();
    snprintf(G.ol_throttle, sizeof G.ol_throttle, "kept (sched_rt_runtime_us %s; -1 refused: %s)",
             old, strerror(-rc));
    return;
  }
  snprintf(G.ol_throttle, sizeof G.ol_throttle,
           "lifted (sched_rt_runtime_us -1 during the open loop, %s before and after)", old);
}

/* The README's sentence on RT throttling, from what the file's context says became of it. */
static const char *rt_throttle_text(json_t *ctx, char *buf, size_t cap) {
  const char *t = lch_json_str(ctx, "open_loop_rt_throttle");
  if (!json_is_true(json_object_get(ctx, "open_loop_realtime"))) return "";
  if (t && !strncmp(t, "lifted", 6))
    return " The kernel's RT throttling was off for these runs (sched_rt_runtime_us -1, put back "
           "after; `--keep-rt-throttle` leaves it on): with it, a FIFO task that has had 95% of "
           "a second is stopped for up to 50 ms, and our client is that busy at high rates.";
  snprintf(buf, cap,
           " The kernel's RT throttling was on (%s): a FIFO task that has had 95%% of a second "
           "is stopped for up to 50 ms, which then shows in the tail of a busy client or server.",
           t ? t : "this file predates lifting it");
  return buf;
}

/* The open-loop phase: G.ol_repeat rounds; in each, every planned server is started afresh,
 * checked and run once at each of its rates (each run's own warm-up primes it; the order
 * alternating between rounds) and stopped. A set's runs are thus spread over the whole phase
 * and over fresh server processes, so the min-max they report includes the machine's drift
 * over minutes and process-to-process differences, not only the noise between runs seconds
 * apart. During its runs the server (every thread of its process group) and the client run
 * at SCHED_FIFO where permitted: at normal priority the other processes' time slices on the
 * shared cores, not the server, make the tail. */
static void open_loop_phase(struct ol_plan *plans, size_t np, json_t *ctx) {
  if (!G.ol_rt) snprintf(G.ol_throttle, sizeof G.ol_throttle, "kept (normal priority)");
  else if (G.ol_unthrottle <= 0)
    snprintf(G.ol_throttle, sizeof G.ol_throttle, "kept (%s)",
             G.ol_unthrottle ? "as in the file reproduced" : "--keep-rt-throttle");
  else rt_throttle_lift();
  note("open loop: the kernel's RT throttling %s", G.ol_throttle);
  json_object_set_new(ctx, "open_loop_rt_throttle", json_string(G.ol_throttle));
  for (size_t p = 0; p < np; p++) {
    plans[p].sets = json_array();
    for (size_t i = 0; i < plans[p].n; i++) {
      json_t *o = json_object();
      json_object_set_new(o, "load", json_real(plans[p].loads[i]));
      json_object_set_new(o, "target_rate", json_real(plans[p].rates[i]));
      json_object_set_new(o, "runs", json_array());
      json_array_append_new(plans[p].sets, o);
    }
  }
  for (long r = 0; r < G.ol_repeat; r++)
    for (size_t p = 0; p < np; p++) {
      struct ol_plan *pl = &plans[p];
      struct lchttp_proc pr;
      if (server_start(pl->s, LCHTTP_DEFAULT_HEADER_TIMEOUT_MS, &pr) < 0) {
        lch_strlist_push(&pl->problems, lch_xasprintf("round %ld: did not start", r + 1));
        continue;
      }
      struct lch_strlist problems = {0};
      lchttp_verify(pr.port, 0, &problems);
      if (!problems.n) {
        char sched[128];
        int rt = G.ol_rt ? server_sched(pr.pid, 1) : 0;
        if (!G.ol_rt) snprintf(sched, sizeof sched, "other (realtime off)");
        else if (rt < 0)
          snprintf(sched, sizeof sched, "other (SCHED_FIFO refused: %s)", strerror(-rt));
        else snprintf(sched, sizeof sched, "fifo %d (%d threads)", LCHTTP_RT_PRIORITY, rt);
        for (size_t k = 0; k < pl->n; k++) {
          size_t i = r % 2 ? pl->n - 1 - k : k;
          json_t *j = run_open_loop(pr.port, pl->rates[i]);
          json_t *lat = json_object_get(j, "latency_us");
          note(
              "  %s: open loop round %ld/%ld at %.0f%% of peak (%.0f req/s): achieved %.0f, "
              "p50 %.0f us, p99 %.0f us%s",
              pl->s->name, r + 1, G.ol_repeat, 100 * pl->loads[i], pl->rates[i],
              lch_json_num(j, "achieved_rate", 0), lch_json_num(lat, "p50", 0),
              lch_json_num(lat, "p99", 0),
              json_is_true(json_object_get(j, "failed")) ? " FAILED" : "");
          json_object_set_new(j, "round", json_integer(r + 1));
          json_object_set_new(j, "server_sched", json_string(sched));
          json_object_set_new(j, "load1_after", json_real(loadavg1()));
          json_t *o = json_array_get(pl->sets, i);
          json_array_append_new(json_object_get(o, "runs"), j);
          if (!json_object_get(o, "server_sched"))
            json_object_set_new(o, "server_sched", json_string(sched));
        }
      }
      for (size_t i = 0; i < problems.n; i++)
        lch_strlist_push(&pl->problems,
                         lch_xasprintf("round %ld: verify: %s", r + 1, problems.v[i]));
      lch_strlist_free(&problems);
      char why[256];
      if (server_stop(&pr, why, sizeof why) < 0)
        lch_strlist_push(&pl->problems, lch_xasprintf("round %ld: the server %s", r + 1, why));
    }
  rt_throttle_restore();
  for (size_t p = 0; p < np; p++) {
    size_t i;
    json_t *o;
    json_array_foreach(plans[p].sets, i, o) ol_summarise(o);
    for (size_t k = 0; k < plans[p].problems.n; k++)
      note("  %s: open loop: %s", plans[p].s->name, plans[p].problems.v[k]);
  }
}

/* Attach a plan's sets and problems to its server's JSON; 1 if anything failed. */
static int ol_attach(json_t *js, struct ol_plan *pl) {
  int failed = pl->problems.n > 0;
  size_t i;
  json_t *o;
  json_array_foreach(pl->sets, i, o) failed |= json_is_true(json_object_get(o, "failed"));
  json_object_set_new(js, "open_loop", pl->sets);
  pl->sets = NULL;
  json_t *a = json_array();
  for (size_t k = 0; k < pl->problems.n; k++)
    json_array_append_new(a, json_string(pl->problems.v[k]));
  json_object_set_new(js, "open_loop_problems", a);
  lch_strlist_free(&pl->problems);
  return failed;
}

/* ---- context ----------------------------------------------------------------------------- */

static json_t *context(void) {
  json_t *c = lch_context_json(); /* the shared keys: cpu, kernel, compiler, commit, date */
  char buf[512];
  json_object_set_new(c, "num_cpus", json_integer(G.n_cpus));
  first_line("wrk -v 2>&1", buf, sizeof buf);
  json_object_set_new(c, "wrk_version", json_string(buf));
  char *cmd = lch_xasprintf("'%s' -c 'import sys; print(sys.version.split()[0])' 2>&1", G.python);
  first_line(cmd, buf, sizeof buf);
  free(cmd);
  json_object_set_new(c, "python_version", json_string(buf));
  cmd = lch_xasprintf("'%s' -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null", G.python);
  first_line(cmd, buf, sizeof buf);
  free(cmd);
  json_object_set_new(c, "uvloop_version", json_string(buf[0] ? buf : "not installed"));
  json_object_set_new(c, "http_parser", json_string(lchttp_parser_name()));
  json_t *lv = json_array();
  for (size_t i = 0; i < G.nlevels; i++) json_array_append_new(lv, json_integer(G.levels[i]));
  json_object_set_new(c, "connection_levels", lv);
  json_object_set_new(c, "duration_s", json_integer(G.duration));
  json_object_set_new(c, "repeat", json_integer(G.repeat));
  json_object_set_new(c, "primer_s", json_integer(G.primer));
  json_object_set_new(c, "warmup_s", json_integer(G.warmup));
  json_object_set_new(c, "wrk_timeout_s", json_integer(8));
  json_object_set_new(c, "prefork_workers", json_integer(G.workers));
  json_object_set_new(c, "open_loop_connections", json_integer(G.ol_conns));
  json_object_set_new(c, "open_loop_duration_s", json_integer(G.ol_duration));
  json_object_set_new(c, "open_loop_warmup_s", json_real(G.ol_warmup));
  json_object_set_new(c, "open_loop_repeat", json_integer(G.ol_repeat));
  json_object_set_new(c, "open_loop_realtime", json_boolean(G.ol_rt));
  json_object_set_new(c, "open_loop_idle_poll", json_boolean(G.ol_idle_poll));
  json_t *dr = json_object();
  for (size_t i = 0; i < OL_NPCT; i++)
    json_object_set_new(dr, ol_pct_keys[i], json_real(100 * G.ol_drift[i]));
  json_object_set_new(c, "open_loop_drift_pct", dr);
  json_t *ld = json_array();
  for (size_t i = 0; i < G.ol_nloads; i++)
    json_array_append_new(ld, json_real(100 * G.ol_loads[i]));
  json_object_set_new(c, "open_loop_loads_pct", ld);
  json_object_set_new(c, "cores", json_string(G.pin_note));
  return c;
}

/* ---- one server ------------------------------------------------------------------------ */

static int problems_json(json_t *obj, const struct lch_strlist *pr) {
  json_t *a = json_array();
  for (size_t i = 0; i < pr->n; i++) json_array_append_new(a, json_string(pr->v[i]));
  json_object_set_new(obj, "problems", a);
  return pr->n ? 1 : 0;
}

/* Measure one server; returns its JSON object (with "failed"). */
static json_t *measure(const struct server *s) {
  json_t *js = json_object();
  json_object_set_new(js, "name", json_string(s->name));
  json_object_set_new(js, "kind", json_string(s->kind));
  if (s->backend) json_object_set_new(js, "backend", json_string(s->backend));
  struct lchttp_proc pr;
  int failed = 0;
  char why[256];
  if (server_start(s, LCHTTP_DEFAULT_HEADER_TIMEOUT_MS, &pr) < 0) {
    json_object_set_new(js, "failed", json_true());
    json_object_set_new(js, "error", json_string("did not start"));
    return js;
  }
  struct lch_strlist problems = {0};
  lchttp_verify(pr.port, 1, &problems);
  json_object_set_new(js, "verified", json_boolean(problems.n == 0));
  if (problems.n) {
    for (size_t i = 0; i < problems.n; i++) note("  %s: verify: %s", s->name, problems.v[i]);
    failed = 1;
  } else {
    note("  %s: verified (status, headers, bodies, Date, keep-alive, pipelining)", s->name);
    /* primer and warm-up: not recorded */
    json_decref(run_wrk(pr.port, 8, G.primer, "/plaintext"));
    json_decref(run_wrk(pr.port, G.levels[G.nlevels - 1], G.warmup, "/plaintext"));
    json_t *cells = json_array();
    double peak = 0;
    for (size_t li = 0; li < G.nlevels; li++) {
      json_t *cell = json_object(), *reps = json_array();
      double rps[64];
      size_t nr = 0;
      int cfail = 0;
      double lo = INFINITY, hi = 0;
      for (long r = 0; r < G.repeat; r++) {
        json_t *w = run_wrk(pr.port, G.levels[li], G.duration, "/plaintext");
        if (json_is_true(json_object_get(w, "failed"))) cfail = 1;
        double x = lch_json_num(w, "rps", 0);
        rps[nr++] = x;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
        json_array_append_new(reps, w);
      }
      double med = median(rps, nr);
      json_object_set_new(cell, "connections", json_integer(G.levels[li]));
      json_object_set_new(cell, "rps_median", json_real(med));
      json_object_set_new(cell, "rps_min", json_real(lo));
      json_object_set_new(cell, "rps_max", json_real(hi));
      json_object_set_new(cell, "spread", json_real(med > 0 ? (hi - lo) / med : 0));
      json_object_set_new(cell, "failed", json_boolean(cfail));
      json_object_set_new(cell, "runs", reps);
      json_array_append_new(cells, cell);
      if (!cfail && med > peak) peak = med;
      failed |= cfail;
      note("  %s: c=%ld %.0f req/s (spread %.0f%%)%s", s->name, G.levels[li], med,
           med > 0 ? 100 * (hi - lo) / med : 0, cfail ? " FAILED (errors or timeouts)" : "");
    }
    json_object_set_new(js, "cells", cells);
    json_object_set_new(js, "peak_rps", json_real(peak));
  }
  problems_json(js, &problems);
  lch_strlist_free(&problems);
  if (server_stop(&pr, why, sizeof why) < 0) {
    note("  %s: the server %s", s->name, why);
    json_object_set_new(js, "exit", json_string(why));
    failed = 1;
  }
  json_object_set_new(js, "failed", json_boolean(failed));
  return js;
}

/* --smoke: verify, a couple of seconds of wrk at 4 connections, a clean exit. 0 if all good. */
static int smoke(const struct server *s) {
  struct lchttp_proc pr;
  if (server_start(s, LCHTTP_DEFAULT_HEADER_TIMEOUT_MS, &pr) < 0) return 1;
  struct lch_strlist problems = {0};
  lchttp_verify(pr.port, 1, &problems);
  json_t *w = run_wrk(pr.port, 4, 2, "/plaintext");
  if (json_is_true(json_object_get(w, "failed"))) {
    char *d = json_dumps(w, JSON_COMPACT);
    lch_strlist_push(&problems, lch_xasprintf("wrk: errors, timeouts or no requests: %s", d));
    free(d);
  }
  double rps = lch_json_num(w, "rps", 0);
  json_decref(w);
  /* wrk saw only status codes: check the responses are still right after the load */
  lchttp_verify(pr.port, 0, &problems);
  char why[256];
  if (server_stop(&pr, why, sizeof why) < 0)
    lch_strlist_push(&problems, lch_xasprintf("server %s", why));
  for (size_t i = 0; i < problems.n; i++) fprintf(stderr, "%s: FAIL: %s\n", s->name, problems.v[i]);
  if (!problems.n)
    printf("%s: ok (verified; wrk 2 s at 4 connections: %.0f req/s, no errors)\n", s->name, rps);
  int bad = problems.n != 0;
  lch_strlist_free(&problems);
  return bad;
}

static int bad_input(const struct server *s) {
  long timeout_ms = (long)(500 * G.mult);
  struct lchttp_proc pr;
  if (server_start(s, timeout_ms, &pr) < 0) return 1;
  struct lch_strlist problems = {0};
  lchttp_bad_input(pr.port, timeout_ms, G.mult, server_alive, &pr, &problems, !G.quiet);
  char why[256];
  if (server_stop(&pr, why, sizeof why) < 0)
    lch_strlist_push(&problems, lch_xasprintf("server %s", why));
  for (size_t i = 0; i < problems.n; i++) fprintf(stderr, "%s: FAIL: %s\n", s->name, problems.v[i]);
  if (!problems.n)
    printf(
        "%s: ok (400 and close, 431 and close, slowloris closed after %ld ms, mid-response "
        "resets, server alive and serving throughout)\n",
        s->name, timeout_ms);
  int bad = problems.n != 0;
  lch_strlist_free(&problems);
  return bad;
}

/* ---- charts and README ------------------------------------------------------------------- */

static double run_median(json_t *runs, const char *key) {
  double v[64];
  size_t n = 0;
  size_t i;
  json_t *r;
  json_array_foreach(runs, i, r) {
    if (n == 64) break;
    v[n++] = lch_json_num(json_object_get(r, "latency_us"), key, 0);
  }
  return median(v, n);
}

static void ol_stat(json_t *runs, const char *what, const char *key, double out[3]) {
  double v[64];
  size_t n = 0, i;
  json_t *r;
  json_array_foreach(runs, i, r) {
    json_t *x = json_object_get(json_object_get(r, what), key);
    if (n < 64 && json_is_number(x)) v[n++] = json_number_value(x);
  }
  out[0] = median(v, n); /* sorts v */
  out[1] = n ? v[0] : 0;
  out[2] = n ? v[n - 1] : 0;
}

/* ol_stat of the latency from the due time at p50, p90, p99 and p99.9. */
static void ol_stats4(json_t *runs, double v[OL_NPCT][3]) {
  for (size_t i = 0; i < OL_NPCT; i++) ol_stat(runs, "latency_us", ol_pct_keys[i], v[i]);
}

/* Append the rest of f to b; nonzero on a read error. */
static int append_file(struct lch_buf *b, FILE *f) {
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) lch_buf_append(b, chunk, n);
  return ferror(f);
}

static int write_text(const char *path, const char *text) {
  struct lch_outfile o;
  if (lch_outfile_open(&o, path) < 0) return -1;
  fputs(text, o.f);
  return lch_outfile_commit(&o);
}

static int charts(json_t *jservers) {
  struct lch_buf rps = {0}, ol = {0}, names = {0}, olnames = {0};
  size_t i, nn = 0, nol = 0;
  json_t *s;
  json_array_foreach(jservers, i, s) {
    json_t *cells = json_object_get(s, "cells");
    if (!json_array_size(cells)) continue;
    lch_buf_printf(&rps,
                   "# %s: connections rps_median rps_min rps_max p50_us p90_us p99_us p99.9_us\n",
                   lch_json_str(s, "name"));
    size_t k;
    json_t *c;
    json_array_foreach(cells, k, c) {
      json_t *runs = json_object_get(c, "runs");
      lch_buf_printf(&rps, "%.0f %.1f %.1f %.1f %.1f %.1f %.1f %.1f\n",
                     lch_json_num(c, "connections", 0), lch_json_num(c, "rps_median", 0),
                     lch_json_num(c, "rps_min", 0), lch_json_num(c, "rps_max", 0),
                     run_median(runs, "p50"), run_median(runs, "p90"), run_median(runs, "p99"),
                     run_median(runs, "p99.9"));
    }
    lch_buf_puts(&rps, "\n\n");
    lch_buf_printf(&names, "%s%s", nn++ ? " " : "", lch_json_str(s, "name"));
    json_t *o = json_object_get(s, "open_loop");
    if (json_array_size(o)) {
      lch_buf_printf(&ol,
                     "# %s: load_percent p50_us p50_min p50_max p90_us p99_us p99_min p99_max "
                     "p99.9_us (medians over the runs, min and max over the runs)\n",
                     lch_json_str(s, "name"));
      json_array_foreach(o, k, c) {
        json_t *runs = json_object_get(c, "runs");
        double v[4][3], *p50 = v[0], *p90 = v[1], *p99 = v[2], *p999 = v[3];
        ol_stats4(runs, v);
        lch_buf_printf(&ol, "%.0f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f\n",
                       100 * lch_json_num(c, "load", 0), p50[0], p50[1], p50[2], p90[0], p99[0],
                       p99[1], p99[2], p999[0]);
      }
      lch_buf_puts(&ol, "\n\n");
      lch_buf_printf(&olnames, "%s%s", nol++ ? " " : "", lch_json_str(s, "name"));
    }
  }
  if (!nn) {
    lch_buf_free(&rps);
    lch_buf_free(&ol);
    lch_buf_free(&names);
    lch_buf_free(&olnames);
    return 0;
  }
  char *p = lch_xasprintf("%s/http-rps.dat", G.out_dir);
  int rc = write_text(p, rps.data);
  free(p);
  p = lch_xasprintf("%s/http-openloop.dat", G.out_dir);
  if (rc == 0) rc = write_text(p, ol.data ? ol.data : "");
  free(p);
  struct lch_buf gp = {0}, xt = {0}; /* the open-loop chart's x axis: the loads */
  double xlo = 100, xhi = 0;
  for (size_t i = 0; i < G.ol_nloads; i++) {
    lch_buf_printf(&xt, "%s%.0f", i ? ", " : "", 100 * G.ol_loads[i]);
    xlo = fmin(xlo, 100 * G.ol_loads[i]);
    xhi = fmax(xhi, 100 * G.ol_loads[i]);
  }
  static const char *const terms[][2] = {
      {"svg size 960,560 dynamic enhanced font 'sans,11' background rgb 'white'", "svg"},
      {"pngcairo size 960,560 enhanced font 'sans,10'", "png"}};
  for (int t = 0; t < 2; t++) {
    lch_buf_printf(&gp,
                   "set terminal %s\nnames = \"%s\"\nolnames = \"%s\"\nset key outside right\n"
                   "set grid\nset logscale x 2\nset xlabel 'connections (wrk, closed loop)'\n",
                   terms[t][0], names.data, olnames.data ? olnames.data : "");
    lch_buf_printf(
        &gp,
        "set output 'http-rps.%s'\nset ylabel 'requests/s (median of runs; bars: min-max)'\n"
        "set yrange [0:*]\nset title 'HTTP /plaintext under wrk: requests/s vs connections'\n"
        "plot for [i=0:%zu] 'http-rps.dat' index i using 1:2:3:4 with yerrorlines lw 2 title "
        "word(names,i+1)\n",
        terms[t][1], nn - 1);
    lch_buf_printf(
        &gp,
        "set output 'http-latency.%s'\nset logscale y\nset yrange [*:*]\n"
        "set ylabel 'latency, us (log)'\n"
        "set title 'closed-loop service time at k connections (wrk): p50 solid, p99 dashed'\n"
        "plot for [i=0:%zu] 'http-rps.dat' index i using 1:5 with linespoints lw 2 lc i+1 title "
        "word(names,i+1).' p50', "
        "for [i=0:%zu] 'http-rps.dat' index i using 1:7 with linespoints lw 1 dt 2 lc i+1 notitle\n"
        "unset logscale\n",
        terms[t][1], nn - 1, nn - 1);
    if (nol)
      lch_buf_printf(
          &gp,
          "set output 'http-openloop.%s'\nset logscale y\nset xrange [%.0f:%.0f]\nset xtics (%s)\n"
          "set xlabel 'offered load, %% of the server''s wrk peak (open loop, constant rate)'\n"
          "set ylabel 'latency from intended send time, us (log)'\n"
          "set title 'open-loop latency: p50 solid, p99 dashed (median of runs; bars: min-max)'\n"
          "plot for [i=0:%zu] 'http-openloop.dat' index i using 1:2:3:4 with yerrorlines lw 2 "
          "lc i+1 title word(olnames,i+1).' p50', "
          "for [i=0:%zu] 'http-openloop.dat' index i using 1:6:7:8 with yerrorlines lw 1 dt 2 "
          "lc i+1 notitle\n"
          "unset logscale\nset xrange [*:*]\nset xtics autofreq\n",
          terms[t][1], xlo - 10, xhi + 10, xt.data ? xt.data : "50, 80", nol - 1, nol - 1);
  }
  lch_buf_free(&xt);
  p = lch_xasprintf("%s/http.gp", G.out_dir);
  if (rc == 0) rc = write_text(p, gp.data);
  if (rc == 0) {
    char *args[] = {"gnuplot", "http.gp", NULL};
    /* gnuplot writes relative to its working directory: run it in the output directory */
    char *cwd = getcwd(NULL, 0);
    if (chdir(G.out_dir) == 0) {
      struct lch_job job = {.argv = args, .path = "gnuplot", .timeout_ms = 60000};
      struct lch_proc_result res;
      int r = lch_exec_one(&job, &res);
      if (r < 0 || res.exit_code != 0 || res.signo || res.timed_out) {
        lch_error("gnuplot failed on %s: %s", p, res.log.data ? res.log.data : "");
        rc = -1;
      }
      lch_proc_result_free(&res);
      if (cwd && chdir(cwd) != 0) rc = -1;
    }
    free(cwd);
  }
  free(p);
  lch_buf_free(&gp);
  lch_buf_free(&rps);
  lch_buf_free(&ol);
  lch_buf_free(&names);
  lch_buf_free(&olnames);
  return rc;
}

/* The requests/s table: median per server and level, ratio to the best, `~` and FAILED. */
static void rps_table(struct lch_buf *b, json_t *js) {
  lch_buf_puts(b, "| server |");
  for (size_t i = 0; i < G.nlevels; i++) lch_buf_printf(b, " c=%ld |", G.levels[i]);
  lch_buf_puts(b, "\n|---|");
  for (size_t i = 0; i < G.nlevels; i++) lch_buf_puts(b, "---:|");
  lch_buf_puts(b, "\n");
  double best[32] = {0};
  size_t i, k;
  json_t *s, *c;
  json_array_foreach(js, i, s) json_array_foreach(json_object_get(s, "cells"), k, c) {
    if (k < 32 && !json_is_true(json_object_get(c, "failed")))
      best[k] = fmax(best[k], lch_json_num(c, "rps_median", 0));
  }
  json_array_foreach(js, i, s) {
    lch_buf_printf(b, "| %s |", lch_json_str(s, "name"));
    json_t *cells = json_object_get(s, "cells");
    if (!json_array_size(cells)) {
      lch_buf_printf(b, " FAILED: %s |\n",
                     json_is_false(json_object_get(s, "verified")) ? "verifier" : "did not start");
      continue;
    }
    json_array_foreach(cells, k, c) {
      double r = lch_json_num(c, "rps_median", 0);
      if (json_is_true(json_object_get(c, "failed"))) lch_buf_printf(b, " FAILED (%.0f) |", r);
      else
        lch_buf_printf(b, " %.0f (%.2f)%s |", r, k < 32 && best[k] > 0 ? r / best[k] : 0,
                       lch_json_num(c, "spread", 0) > 0.10 ? " ~" : "");
    }
    lch_buf_puts(b, "\n");
  }
}

/* The open-loop rows: every column (full) or server, load, rate, p50 and p99 with their
 * spread and the flags (compact, for the top README). */
static void ol_rows(struct lch_buf *b, json_t *js, int compact) {
  size_t i, k;
  json_t *s, *c;
  json_array_foreach(js, i, s) json_array_foreach(json_object_get(s, "open_loop"), k, c) {
    json_t *runs = json_object_get(c, "runs");
    double v[4][3], *p50 = v[0], *p90 = v[1], *p99 = v[2], *p999 = v[3];
    ol_stats4(runs, v);
    const char *sched = lch_json_str(c, "server_sched");
    const char *flags[] = {
        json_is_true(json_object_get(c, "rate_reached")) ? "" : " rate not reached",
        json_is_true(json_object_get(c, "client_limited")) ? " client-limited" : "",
        json_is_true(json_object_get(c, "failed")) ? " FAILED" : ""};
    if (compact) {
      lch_buf_printf(
          b, "| %s | %.0f%% | %.0f | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.*s |%s%s%s |\n",
          lch_json_str(s, "name"), 100 * lch_json_num(c, "load", 0),
          lch_json_num(c, "target_rate", 0), p50[0], p50[1], p50[2], p99[0], p99[1], p99[2],
          (int)strcspn(sched ? sched : "", " "), sched ? sched : "", flags[0], flags[1], flags[2]);
      continue;
    }
    char lag[32] = "-", busy[32] = "-", less[32] = "-"; /* not recorded before the client */
    if (json_object_get(json_array_get(runs, 0), "client_lag_us"))
      snprintf(lag, sizeof lag, "%.0f", lch_json_num(c, "client_lag_p99_us_median", 0));
    if (json_object_get(c, "server_p99_us_median"))
      snprintf(less, sizeof less, "%.0f", lch_json_num(c, "server_p99_us_median", 0));
    if (json_object_get(json_array_get(runs, 0), "client_busy_cores"))
      snprintf(busy, sizeof busy, "%.2f", lch_json_num(c, "client_busy_cores_median", 0));
    char steal[32] = "-"; /* not recorded before */
    if (json_object_get(c, "host_steal_ms_max"))
      snprintf(steal, sizeof steal, "%.0f", lch_json_num(c, "host_steal_ms_max", 0));
    double r50[2], r99[2];
    repeat_range(runs, "p50", G.ol_drift[0], r50);
    repeat_range(runs, "p99", G.ol_drift[2], r99);
    lch_buf_printf(b,
                   "| %s | %.0f%% | %.0f | %.0f%s%s | %.0f (%.0f-%.0f) [%.0f-%.0f] | %.0f | %.0f "
                   "(%.0f-%.0f) [%.0f-%.0f] | %.0f | %s | %s | %s | %s | %.*s |%s\n",
                   lch_json_str(s, "name"), 100 * lch_json_num(c, "load", 0),
                   lch_json_num(c, "target_rate", 0), lch_json_num(c, "achieved_median", 0),
                   flags[0], flags[1], p50[0], p50[1], p50[2], r50[0], r50[1], p90[0], p99[0],
                   p99[1], p99[2], r99[0], r99[1], p999[0], lag, less, busy, steal,
                   (int)strcspn(sched ? sched : "", " "), sched ? sched : "", flags[2]);
  }
}

/* ", a system call 588 ns (getppid, context.syscall_ns)", or "" for a file without it. */
static const char *syscall_text(json_t *ctx) {
  static char t[96];
  double ns = lch_json_num(ctx, "syscall_ns", 0);
  if (ns > 0) snprintf(t, sizeof t, ", a system call %.0f ns (getppid, context.syscall_ns)", ns);
  else t[0] = '\0';
  return t;
}

static int readme(json_t *doc, double load_start, double load_end) {
  json_t *ctx = json_object_get(doc, "context"), *js = json_object_get(doc, "servers");
  struct lch_buf b = {0};
  lch_buf_puts(&b,
               "# HTTP under wrk: results\n\n"
               "Written by `loopconf http` (harness/http); the raw data is `http.json`.\n\n"
               "**Caveat: closed loop.** wrk 4.1 keeps one request in flight per connection, so "
               "its numbers are the *closed-loop service time at k connections*: a server that "
               "stalls is sampled less (coordinated omission), and latencies over wrk's timeout "
               "(8 s) are only counted as errors. The open-loop table below is the honest "
               "latency: a constant-rate client that measures every response from its intended "
               "send time.\n\n");
  lch_buf_printf(
      &b,
      "Context: %s, %d cores (%s); %s; %s%s; parser %s; Python %s, uvloop %s; commit %s; %s.\n\n",
      lch_json_str(ctx, "cpu_model"), G.n_cpus, lch_json_str(ctx, "cores"),
      lch_json_str(ctx, "wrk_version"), lch_json_str(ctx, "kernel"), syscall_text(ctx),
      lch_json_str(ctx, "http_parser"), lch_json_str(ctx, "python_version"),
      lch_json_str(ctx, "uvloop_version"), lch_json_str(ctx, "git_commit"),
      lch_json_str(ctx, "date"));
  lch_buf_printf(
      &b,
      "Each cell: GET /plaintext, %ld s per run, median of %ld runs, after a %ld s primer at 8 "
      "connections and a %ld s warm-up at the top level; wrk threads = min(connections, "
      "wrk's cores). Load average (1 min) %.2f at the start, %.2f at the end (the run's own "
      "servers and wrk count in it; other processes were not excluded); cells whose runs "
      "differ by more than 10%% are marked `~`, failed cells (any wrk error or timeout) "
      "`FAILED`.\n\n",
      G.duration, G.repeat, G.primer, G.warmup, load_start, load_end);
  lch_buf_puts(&b, "## requests/s (ratio to the best server at that level)\n\n");
  rps_table(&b, js);
  lch_buf_puts(&b,
               "\n![requests/s vs connections](http-rps.svg)\n\n"
               "Closed-loop service time (p50, p99) vs connections: "
               "[http-latency.svg](http-latency.svg).\n\n");
  if (G.open_loop) {
    char lt[200], thr[400];
    loads_text(lt, sizeof lt);
    lch_buf_printf(
        &b,
        "## open-loop latency at %s of each server's peak\n\n"
        "Our client (harness/http/lchttp_openloop.c, on the reference loop, pinned with "
        "wrk) sends at a constant rate on %ld connections for %ld s after %g s of warm-up, "
        "one request in flight per connection, and measures each response from its "
        "intended send time. %ld runs per rate, in rounds (each round starts every server "
        "afresh and runs both rates); each percentile is the median over the runs, with the "
        "min-max over the runs in parentheses and the *repeat range* in brackets: %s, "
        "widened by a between-run drift allowance d, [lo/(1+d), hi x (1+d)], with d = %.0f%% "
        "at p50, %.0f%% at p90, %.0f%% at p99 and %.0f%% at p99.9%s. A repeat run's median "
        "should fall in it for every set that measures the server (not `client-limited`, "
        "`rate not reached` or failed); `loopconf http --reproduce` checks that. Server and "
        "client run at SCHED_FIFO during these runs where permitted (column `sched`): at "
        "normal priority, the other processes' time slices on the shared cores dominate the "
        "tail.%s %s The client spins (a task that yields in a loop keeps its loop polling, "
        "so no send arms a timer in the kernel), unless it runs at SCHED_FIFO under RT throttling, "
        "which would stop a busy client (`client_wait` in the JSON). `client lag` is the p99 "
        "of the client's own share of each latency: its send measured from the moment it became "
        "possible (the later of its due time and the previous response on its connection: a "
        "late response's delay is the server's), plus how long its response waited in the "
        "socket to be read (from the kernel's receive stamp of its arrival, SO_TIMESTAMPNS); "
        "`p99 less client` is the p99 of the latencies each less that share, about what a client "
        "that cost nothing would have measured; `client busy` is "
        "the client's CPU use minus the time it spent spinning with nothing to do, in cores, "
        "median of the runs; `rate not reached` means the client or server fell behind the "
        "schedule (the latencies then include that queueing); `client-limited` means the "
        "client was busy 0.85 of a core or more, or more than half the p99 was its own time "
        "(`p99 less client` under half the p99): that row "
        "measures the client, not the server. `host steal` is the most time, over the set's runs, "
        "that the hypervisor took "
        "from the machine's CPUs during one client run (/proc/stat; on a VM no priority "
        "inside it stops that).%s\n\n"
        "| server | load | target req/s | achieved | p50 us (min-max) [repeat] | p90 us | p99 us "
        "(min-max) [repeat] | p99.9 us | client lag p99 us | p99 less client us | client busy | "
        "host steal ms | sched |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        lt, G.ol_conns, G.ol_duration, G.ol_warmup, G.ol_repeat,
        has_windows(js) ? SPREAD_WINDOWS_TEXT : SPREAD_RUNS_TEXT, 100 * G.ol_drift[0],
        100 * G.ol_drift[1], 100 * G.ol_drift[2], 100 * G.ol_drift[3],
        json_object_get(ctx, "open_loop_drift_pct")
            ? ""
            : " (the defaults: this file predates the allowance, which was chosen later from "
              "runs like it)",
        rt_throttle_text(ctx, thr, sizeof thr),
        json_is_true(json_object_get(ctx, "open_loop_idle_poll")) ? IDLE_POLL_TEXT
        : json_object_get(ctx, "open_loop_idle_poll")
            ? "Idle CPUs were left to halt (`--no-idle-poll`)."
            : "Idle CPUs halted (this file predates `--no-idle-poll`'s default of polling).",
        json_object_get(ctx, "open_loop_realtime")
            ? ""
            : " **This file predates rounds and SCHED_FIFO: its runs were back to back, at "
              "normal priority, and it has no client lag.**");
    ol_rows(&b, js, 0);
    lch_buf_puts(&b, "\n![open-loop latency](http-openloop.svg)\n");
  }
  /* hand-written notes on the run live beside it, so regenerating keeps them */
  char *np = lch_xasprintf("%s/NOTES.md", G.out_dir);
  FILE *nf = fopen(np, "r");
  if (nf) {
    lch_buf_puts(&b, "\n");
    append_file(&b, nf);
    fclose(nf);
  }
  free(np);
  char *p = lch_xasprintf("%s/README.md", G.out_dir);
  int rc = write_text(p, b.data);
  free(p);
  lch_buf_free(&b);
  return rc;
}

/* ---- --readme FILE: the block of the project README this run's results belong in --------- */

static const char blk_begin[] = "<!-- http-table:begin -->", blk_end[] = "<!-- http-table:end -->";

/* FILE's text, or NULL with one error line; *begin and *end locate the block's markers. */
static char *readme_load(const char *path, char **begin, char **end) {
  FILE *f = fopen(path, "r");
  if (!f) {
    lch_error("--readme %s: %s", path, strerror(errno));
    return NULL;
  }
  struct lch_buf b = {0};
  int err = append_file(&b, f);
  fclose(f);
  if (err || !b.data) {
    lch_error("--readme %s: cannot read it%s", path, err ? "" : " (empty)");
    lch_buf_free(&b);
    return NULL;
  }
  *begin = strstr(b.data, blk_begin);
  *end = *begin ? strstr(*begin, blk_end) : NULL;
  if (!*begin || !*end || strstr(*begin + 1, blk_begin) || strstr(*end + 1, blk_end)) {
    lch_error("--readme %s: needs one '%s' line followed by one '%s' line", path, blk_begin,
              blk_end);
    lch_buf_free(&b);
    return NULL;
  }
  return b.data;
}

/* The path of dir relative to the directory of file (both made absolute), malloc'd. */
static char *rel_to(const char *dir, const char *file) {
  char *d = realpath(dir, NULL), *f = realpath(file, NULL);
  if (!d || !f) {
    free(d);
    free(f);
    return lch_xstrdup(dir);
  }
  *strrchr(f, '/') = 0; /* f is now the file's directory ("" for /) */
  size_t i = 0, common = 0;
  while (f[i] && f[i] == d[i]) {
    if (f[i] == '/') common = i;
    i++;
  }
  if ((!f[i] && (!d[i] || d[i] == '/')) || (!d[i] && f[i] == '/')) common = i;
  struct lch_buf b = {0};
  for (const char *p = f + common; *p; p++)
    if (*p == '/') lch_buf_puts(&b, b.len ? "/.." : "..");
  const char *rest = d + common + (d[common] == '/');
  if (*rest) lch_buf_printf(&b, "%s%s", b.len ? "/" : "", rest);
  if (!b.data) lch_buf_puts(&b, ".");
  free(d);
  free(f);
  return b.data;
}

/* Replace FILE's block with the requests/s table, the main chart and the open-loop p50/p99. */
static int readme_block(const char *file, json_t *doc) {
  char *begin, *end, *text = readme_load(file, &begin, &end);
  if (!text) return -1;
  json_t *ctx = json_object_get(doc, "context"), *js = json_object_get(doc, "servers");
  char *rel = rel_to(G.out_dir, file);
  struct lch_buf b = {0};
  lch_buf_append(&b, text, (size_t)(begin - text));
  lch_buf_printf(&b,
                 "%s\n<!-- written by `loopconf http --readme`; from %s/http.json -->\n"
                 "Requests/s under wrk, `/plaintext`: **closed loop** (one request in flight per "
                 "connection, so its latencies are closed-loop service time at k connections); "
                 "median of the runs, ratio to the best server at that level, `~` runs more than "
                 "10%% apart. Commit %.12s, %s, load average %.2f to %.2f.\n\n",
                 blk_begin, rel, lch_json_str(ctx, "git_commit"), lch_json_str(ctx, "date"),
                 lch_json_num(ctx, "load1_start", -1), lch_json_num(ctx, "load1_end", -1));
  rps_table(&b, js);
  lch_buf_printf(&b, "\n![requests/s vs connections](%s/http-rps.png)\n\n", rel);
  size_t i;
  json_t *s;
  int any = 0;
  json_array_foreach(js, i, s) any |= json_array_size(json_object_get(s, "open_loop")) > 0;
  if (any) {
    char lt[200];
    loads_text(lt, sizeof lt);
    lch_buf_printf(&b,
                   "Open loop (the honest latency): constant rate at %s of each "
                   "server's wrk peak, latency from the intended send time in us, median of %ld "
                   "runs (min-max over the runs).\n\n"
                   "| server | load | req/s | p50 us | p99 us | sched | |\n"
                   "|---|---:|---:|---:|---:|---|---|\n",
                   lt, G.ol_repeat);
    ol_rows(&b, js, 1);
    lch_buf_puts(&b, "\n");
  }
  lch_buf_puts(&b, end);
  free(rel);
  int rc = write_text(file, b.data);
  lch_buf_free(&b);
  free(text);
  return rc;
}

/* ---- --reproduce FILE: the open-loop sets of an earlier run, again ------------------------- */

/* Checked before any work: FILE is an http.json with open-loop sets. Returns the document. */
/* An http.json (context.wrk_version and servers), or NULL with one error line. */
static json_t *http_doc_load(const char *what, const char *path) {
  json_t *doc = lch_json_load(path);
  if (!doc) return NULL;
  json_t *ctx = json_object_get(doc, "context"), *js = json_object_get(doc, "servers");
  if (!json_is_object(doc) || !json_is_object(ctx) ||
      !json_is_string(json_object_get(ctx, "wrk_version")) || !json_is_array(js)) {
    lch_error("%s %s: not a loopconf http results file (no context.wrk_version and servers)", what,
              path);
    json_decref(doc);
    return NULL;
  }
  return doc;
}

static json_t *repro_load(const char *path) {
  json_t *doc = http_doc_load("--reproduce", path);
  if (!doc) return NULL;
  json_t *js = json_object_get(doc, "servers");
  size_t i, k, sets = 0;
  json_t *sv, *o;
  json_array_foreach(js, i, sv) json_array_foreach(json_object_get(sv, "open_loop"), k, o) {
    if (!json_is_string(json_object_get(sv, "name")) || lch_json_num(o, "target_rate", 0) <= 0 ||
        !json_array_size(json_object_get(o, "runs"))) {
      lch_error("--reproduce %s: server %zu's open-loop set %zu has no name, rate or runs", path,
                i + 1, k + 1);
      json_decref(doc);
      return NULL;
    }
    sets++;
  }
  if (!sets) {
    lch_error("--reproduce %s: no open-loop sets to reproduce", path);
    json_decref(doc);
    return NULL;
  }
  /* the same machine: another CPU model or count, another kernel build or other mitigations
   * of CPU flaws is a different experiment, not a repeat (two boots of VMs of one kind, CPU
   * model and kernel version, 6.18.44-fc-v1098 and -fc-v1252: the reference loop's idle
   * iteration took 0.2 and 0.7 us, its ping-pong 6 and 13 us) */
  json_t *octx = json_object_get(doc, "context"), *here = lch_context_json();
  cpu_set_t cs;
  int ncpu = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : 0;
  const char *om = lch_json_str(octx, "cpu_model"), *hm = lch_json_str(here, "cpu_model");
  long on = (long)lch_json_num(octx, "num_cpus", 0);
  char ok_[128] = "", hk[128] = "";
  if (lch_json_str(octx, "kernel")) sscanf(lch_json_str(octx, "kernel"), "%*s %127s", ok_);
  if (lch_json_str(here, "kernel")) sscanf(lch_json_str(here, "kernel"), "%*s %127s", hk);
  const char *omit = lch_json_str(octx, "cpu_mitigations"),
             *hmit = lch_json_str(here, "cpu_mitigations");
  char *why = G.other_why;
  size_t wcap = sizeof G.other_why;
  why[0] = '\0';
  if ((om && hm && strcmp(om, hm) != 0) || (on > 0 && on != ncpu))
    snprintf(why, wcap, "it was measured on %s with %ld CPUs, this is %s with %d", om ? om : "?",
             on, hm ? hm : "?", ncpu);
  else if (ok_[0] && hk[0] && strcmp(ok_, hk) != 0)
    snprintf(why, wcap, "it was measured on kernel %s, this is %s", ok_, hk);
  else if (omit && hmit && strcmp(omit, hmit) != 0)
    snprintf(why, wcap, "the kernel's CPU mitigations differ (context.cpu_mitigations)");
  if (why[0]) {
    G.other_machine = 1;
    if (!G.any_machine) {
      lch_error(
          "--reproduce %s: %s: not a repeat on the same machine (--any-machine measures "
          "it anyway, unjudged)",
          path, why);
      json_decref(here);
      json_decref(doc);
      return NULL;
    }
  }
  json_decref(here);
  return doc;
}

/* One percentile of one set in --reproduce: B's median against A's repeat range. */
struct repro_cell {
  double a[3], b[3], range[2],
      widen; /* widen: the allowance B's median needed beyond A's spread (ol_spread) */
  int in, in_minmax;
};

static void repro_cell(json_t *a, json_t *b, size_t q, double drift, struct repro_cell *c) {
  ol_stat(json_object_get(a, "runs"), "latency_us", ol_pct_keys[q], c->a);
  ol_stat(json_object_get(b, "runs"), "latency_us", ol_pct_keys[q], c->b);
  double sp[2];
  ol_spread(json_object_get(a, "runs"), ol_pct_keys[q], sp);
  c->range[0] = sp[0] / (1 + drift);
  c->range[1] = sp[1] * (1 + drift);
  double m = c->b[0];
  c->in = m >= c->range[0] && m <= c->range[1];
  c->in_minmax = m >= c->a[1] && m <= c->a[2];
  c->widen = m > 0 && m < sp[0] ? sp[0] / m - 1 : m > sp[1] && sp[1] > 0 ? m / sp[1] - 1 : 0;
}

/* "AMD EPYC, kernel 6.18.44-fc-v1252, a system call 588 ns": a run's machine, for the text. */
static void machine_text(json_t *ctx, char *out, size_t cap) {
  char rel[128] = "?";
  if (lch_json_str(ctx, "kernel")) sscanf(lch_json_str(ctx, "kernel"), "%*s %127s", rel);
  const char *cpu = lch_json_str(ctx, "cpu_model");
  double ns = lch_json_num(ctx, "syscall_ns", 0);
  int n = snprintf(out, cap, "%s, kernel %s", cpu ? cpu : "?", rel);
  if (ns > 0 && n > 0 && (size_t)n < cap)
    snprintf(out + n, cap - (size_t)n, ", a system call %.0f ns", ns);
}

/* Why a compared set is not judged ("" when it is). */
static const char *repro_unjudged(json_t *a, json_t *b) {
  if (G.other_machine) return "other machine";
  if (!ol_measures_server(a)) return "A measured the client or fell behind";
  if (!ol_measures_server(b)) return "B measured the client or fell behind";
  return "";
}

static int reproduce(json_t *old) {
  json_t *octx = json_object_get(old, "context");
  /* the same method as the old run */
  G.ol_conns = (long)lch_json_num(octx, "open_loop_connections", (double)G.ol_conns);
  G.ol_duration = (long)lch_json_num(octx, "open_loop_duration_s", (double)G.ol_duration);
  G.ol_warmup = lch_json_num(octx, "open_loop_warmup_s", 1); /* before it was recorded: 1 s */
  if (!json_is_true(json_object_get(octx, "open_loop_realtime"))) G.ol_rt = 0;
  if (!json_is_true(json_object_get(octx, "open_loop_idle_poll"))) G.ol_idle_poll = 0;
  const char *thr = lch_json_str(octx, "open_loop_rt_throttle"); /* files before it: kept */
  if (!thr || strncmp(thr, "lifted", 6) != 0) G.ol_unthrottle = -1;
  /* A's repeat ranges with the allowance A reported (or --drift, or the defaults) */
  const char *drift_from = G.drift_given     ? "--drift"
                           : ctx_drift(octx) ? "the allowance A recorded"
                                             : "the defaults (A predates the allowance)";
  loads_from(json_object_get(old, "servers"));
  double load_start = loadavg1();
  json_t *doc = json_object(), *ctx = context(), *out = json_array();
  json_object_set_new(ctx, "load1_start", json_real(load_start));
  json_t *of = json_object();
  json_object_set_new(of, "path", json_string(G.reproduce));
  static const char *const ok[] = {
      "date",      "git_commit", "load1_start", "load1_end",       "cores",
      "cpu_model", "num_cpus",   "kernel",      "cpu_mitigations", "syscall_ns"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    if (json_object_get(octx, ok[i])) json_object_set(of, ok[i], json_object_get(octx, ok[i]));
  json_object_set_new(doc, "reproduces", of);
  json_object_set_new(doc, "context", ctx);
  int bad = 0;
  size_t inside[OL_NPCT] = {0}, inside_mm[OL_NPCT] = {0}, judged = 0, total = 0;
  double rlo[OL_NPCT], rhi[OL_NPCT], need[OL_NPCT] = {0}; /* over the judged sets */
  for (size_t q = 0; q < OL_NPCT; q++) {
    rlo[q] = INFINITY;
    rhi[q] = 0;
  }
  struct lch_buf md = {0};
  size_t i;
  json_t *os;
  struct ol_plan *plans =
      lch_xcalloc(json_array_size(json_object_get(old, "servers")) + 1, sizeof *plans);
  json_t **olds = lch_xcalloc(json_array_size(json_object_get(old, "servers")) + 1, sizeof *olds);
  size_t np = 0;
  long repeat = 0;
  json_array_foreach(json_object_get(old, "servers"), i, os) {
    json_t *osets = json_object_get(os, "open_loop");
    if (!json_array_size(osets)) continue;
    const struct server *s = NULL;
    for (size_t k = 0; k < nservers && !s; k++)
      if (!strcmp(servers[k].name, lch_json_str(os, "name"))) s = &servers[k];
    if (!s) continue; /* filtered out by --servers (checked in main) */
    struct ol_plan *pl = &plans[np];
    pl->s = s;
    size_t k;
    json_t *o;
    json_array_foreach(osets, k, o) {
      if (k >= 16) break;
      pl->loads[k] = lch_json_num(o, "load", 0);
      pl->rates[k] = lch_json_num(o, "target_rate", 0);
      long r = (long)json_array_size(json_object_get(o, "runs"));
      if (r > repeat) repeat = r;
      pl->n = k + 1;
    }
    olds[np++] = osets;
  }
  if (!G.ol_repeat_given) G.ol_repeat = repeat;
  json_object_set_new(ctx, "open_loop_repeat", json_integer(G.ol_repeat));
  note("loopconf http --reproduce %s: %zu servers x %ld rounds", G.reproduce, np, G.ol_repeat);
  open_loop_phase(plans, np, ctx);
  for (size_t p = 0; p < np; p++) {
    struct ol_plan *pl = &plans[p];
    json_t *js = json_object();
    json_object_set_new(js, "name", json_string(pl->s->name));
    json_t *cmp = json_array();
    for (size_t k = 0; k < pl->n; k++) {
      json_t *a = json_array_get(olds[p], k), *b = json_array_get(pl->sets, k), *c = json_object();
      const char *why = repro_unjudged(a, b);
      int j = !*why;
      json_object_set_new(c, "load", json_real(pl->loads[k]));
      json_object_set_new(c, "target_rate", json_real(pl->rates[k]));
      json_object_set_new(c, "judged", json_boolean(j));
      if (!j) json_object_set_new(c, "not_judged", json_string(why));
      json_t *in = json_object(), *inm = json_object(), *wid = json_object();
      lch_buf_printf(&md, "| %s | %.0f%% | %.0f |", pl->s->name, 100 * pl->loads[k], pl->rates[k]);
      for (size_t q = 0; q < OL_NPCT; q++) {
        struct repro_cell rc;
        repro_cell(a, b, q, G.ol_drift[q], &rc);
        if (j) {
          inside[q] += (size_t)rc.in;
          inside_mm[q] += (size_t)rc.in_minmax;
          need[q] = fmax(need[q], rc.widen);
          if (rc.a[0] > 0) {
            rlo[q] = fmin(rlo[q], rc.b[0] / rc.a[0]);
            rhi[q] = fmax(rhi[q], rc.b[0] / rc.a[0]);
          }
        }
        json_object_set_new(in, ol_pct_keys[q], json_boolean(rc.in));
        json_object_set_new(inm, ol_pct_keys[q], json_boolean(rc.in_minmax));
        json_object_set_new(wid, ol_pct_keys[q], json_real(100 * rc.widen));
        lch_buf_printf(&md, " %.0f (%.0f-%.0f) [%.0f-%.0f] | %.0f (%.0f-%.0f) | %s |", rc.a[0],
                       rc.a[1], rc.a[2], rc.range[0], rc.range[1], rc.b[0], rc.b[1], rc.b[2],
                       !j      ? "-"
                       : rc.in ? "yes"
                               : "**no**");
      }
      lch_buf_printf(&md, " %s |\n", why);
      judged += (size_t)j;
      total++;
      json_object_set_new(c, "inside", in);
      json_object_set_new(c, "inside_minmax", inm);
      json_object_set_new(c, "widening_needed_pct", wid);
      json_array_append_new(cmp, c);
    }
    json_object_set_new(js, "compared", cmp);
    if (ol_attach(js, pl)) {
      json_object_set_new(js, "failed", json_true());
      bad = 1;
    }
    json_array_append_new(out, js);
  }
  free(plans);
  free(olds);
  double load_end = loadavg1();
  json_object_set_new(ctx, "load1_end", json_real(load_end));
  json_object_set_new(doc, "servers", out);
  int reproduced = judged > 0;
  json_t *cnt = json_object(), *cntm = json_object(), *needj = json_object(),
         *ratios = json_object();
  for (size_t q = 0; q < OL_NPCT; q++) {
    reproduced &= inside[q] == judged;
    json_object_set_new(cnt, ol_pct_keys[q],
                        json_pack("[II]", (json_int_t)inside[q], (json_int_t)judged));
    json_object_set_new(cntm, ol_pct_keys[q],
                        json_pack("[II]", (json_int_t)inside_mm[q], (json_int_t)judged));
    json_object_set_new(needj, ol_pct_keys[q], json_real(100 * need[q]));
    if (judged) json_object_set_new(ratios, ol_pct_keys[q], json_pack("[ff]", rlo[q], rhi[q]));
  }
  json_object_set_new(doc, "sets", json_integer((json_int_t)total));
  json_object_set_new(doc, "judged_sets", json_integer((json_int_t)judged));
  json_object_set_new(doc, "inside_count", cnt);
  json_object_set_new(doc, "inside_minmax_count", cntm);
  json_object_set_new(doc, "widening_needed_pct", needj);
  json_object_set_new(doc, "new_over_old_median", ratios);
  json_object_set_new(doc, "drift_from", json_string(drift_from));
  json_object_set_new(doc, "same_machine", json_boolean(!G.other_machine));
  json_object_set_new(doc, "reproduced", json_boolean(reproduced));
  char *p = lch_xasprintf("%s/reproduce.json", G.out_dir);
  if (lch_json_write(p, doc) < 0) bad = 2;
  free(p);
  struct lch_buf b = {0}, verdict = {0};
  char ma[256], mb[256];
  machine_text(octx, ma, sizeof ma);
  machine_text(ctx, mb, sizeof mb);
  if (G.other_machine) lch_buf_printf(&verdict, "not judged: another machine (%s)", G.other_why);
  else if (!judged) lch_buf_puts(&verdict, "not judged: no set measured the server in both runs");
  else
    lch_buf_printf(&verdict,
                   "%s: B's median inside A's repeat range for p50 %zu, p90 %zu, p99 %zu and "
                   "p99.9 %zu of the %zu judged sets",
                   reproduced ? "reproduced" : "NOT reproduced", inside[0], inside[1], inside[2],
                   inside[3], judged);
  lch_buf_printf(
      &b,
      "# Open-loop reproducibility: `loopconf http --reproduce %s`\n\n"
      "The open-loop sets of an earlier run (A: %s, commit %.12s, %s, load average "
      "%.2f to %.2f) run again at the same rates and settings (B: %s, commit %.12s, "
      "%s, load average %.2f to %.2f; %ld runs per rate, %ld connections, %ld s after "
      "%g s of warm-up, %s).\n\n"
      "Each A cell: the median over the runs, (min-max over the runs), [the repeat "
      "range: %s, widened by the drift allowance d, [lo/(1+d), hi x "
      "(1+d)], d = %.0f%% at p50, %.0f%% at p90, %.0f%% at p99, %.0f%% at p99.9, %s]; "
      "each B cell: median (min-max), of that percentile of the latency from the "
      "intended send time, in us. *in?* says whether B's median lies in A's repeat "
      "range; `-` marks a set not judged because in one of the runs it measured the "
      "client (`client-limited`), fell behind its rate or failed.\n\n"
      "**%s.** Sets: %zu, judged %zu. B's median inside A's plain min-max: p50 %zu, "
      "p90 %zu, p99 %zu, p99.9 %zu. The allowance that would have covered every "
      "judged set: p50 %.1f%%, p90 %.1f%%, p99 %.1f%%, p99.9 %.1f%%. New median / old "
      "median over the judged sets: p50 %.2f-%.2f, p90 %.2f-%.2f, p99 %.2f-%.2f, "
      "p99.9 %.2f-%.2f.\n\n"
      "| server | load | req/s | p50 A | p50 B | in? | p90 A | p90 B | in? | p99 A | "
      "p99 B | in? | p99.9 A | p99.9 B | in? | not judged |\n"
      "|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---|---:|---:|---|---|\n",
      G.reproduce, lch_json_str(of, "date"), lch_json_str(of, "git_commit"), ma,
      lch_json_num(of, "load1_start", -1), lch_json_num(of, "load1_end", -1),
      lch_json_str(ctx, "date"), lch_json_str(ctx, "git_commit"), mb, load_start, load_end,
      G.ol_repeat, G.ol_conns, G.ol_duration, G.ol_warmup,
      G.ol_rt ? "SCHED_FIFO where permitted" : "normal priority",
      has_windows(json_object_get(old, "servers")) ? SPREAD_WINDOWS_TEXT : SPREAD_RUNS_TEXT,
      100 * G.ol_drift[0], 100 * G.ol_drift[1], 100 * G.ol_drift[2], 100 * G.ol_drift[3],
      drift_from, verdict.data, total, judged, inside_mm[0], inside_mm[1], inside_mm[2],
      inside_mm[3], 100 * need[0], 100 * need[1], 100 * need[2], 100 * need[3], judged ? rlo[0] : 0,
      rhi[0], judged ? rlo[1] : 0, rhi[1], judged ? rlo[2] : 0, rhi[2], judged ? rlo[3] : 0,
      rhi[3]);
  lch_buf_puts(&b, md.data ? md.data : "");
  p = lch_xasprintf("%s/reproduce.md", G.out_dir);
  if (write_text(p, b.data) < 0) bad |= 1;
  note("loopconf http --reproduce: %s; %s", verdict.data, p);
  free(p);
  lch_buf_free(&b);
  lch_buf_free(&verdict);
  lch_buf_free(&md);
  json_decref(doc);
  return bad;
}

/* --regenerate: charts and READMEs from DIR/http.json, the settings from its context. */
static int regenerate(void) {
  char *p = lch_xasprintf("%s/http.json", G.out_dir);
  json_t *doc = http_doc_load("--regenerate:", p);
  free(p);
  if (!doc) return 2;
  json_t *ctx = json_object_get(doc, "context"), *js = json_object_get(doc, "servers"), *v;
  size_t i;
  G.nlevels = 0;
  json_array_foreach(json_object_get(ctx, "connection_levels"), i, v) {
    if (G.nlevels < 32 && json_is_integer(v)) G.levels[G.nlevels++] = (long)json_integer_value(v);
  }
  G.duration = (long)lch_json_num(ctx, "duration_s", (double)G.duration);
  G.repeat = (long)lch_json_num(ctx, "repeat", (double)G.repeat);
  G.primer = (long)lch_json_num(ctx, "primer_s", (double)G.primer);
  G.warmup = (long)lch_json_num(ctx, "warmup_s", (double)G.warmup);
  G.n_cpus = (int)lch_json_num(ctx, "num_cpus", (double)G.n_cpus);
  G.ol_conns = (long)lch_json_num(ctx, "open_loop_connections", (double)G.ol_conns);
  G.ol_duration = (long)lch_json_num(ctx, "open_loop_duration_s", (double)G.ol_duration);
  G.ol_warmup = lch_json_num(ctx, "open_loop_warmup_s", 1);
  G.ol_repeat = (long)lch_json_num(ctx, "open_loop_repeat", 0);
  ctx_drift(ctx);
  loads_from(js);
  G.open_loop = 0;
  json_t *sv, *o;
  json_array_foreach(js, i, sv) {
    size_t k;
    json_array_foreach(json_object_get(sv, "open_loop"), k, o) {
      G.open_loop = 1;
      ol_summarise(o); /* from the runs, so an older file gets today's summary keys */
      long n = (long)json_array_size(json_object_get(o, "runs"));
      if (!json_object_get(ctx, "open_loop_repeat") && n > G.ol_repeat) G.ol_repeat = n;
    }
  }
  int bad = 0;
  if (charts(js) < 0) bad = 1;
  if (readme(doc, lch_json_num(ctx, "load1_start", -1), lch_json_num(ctx, "load1_end", -1)) < 0)
    bad = 1;
  if (G.readme && readme_block(G.readme, doc) < 0) bad = 1;
  note("loopconf http --regenerate: %s (charts, README.md)%s%s", G.out_dir, G.readme ? " and " : "",
       G.readme ? G.readme : "");
  json_decref(doc);
  return bad;
}

/* ---- main -------------------------------------------------------------------------------- */

/* the longest open-loop run (warm-up included) of a spinning SCHED_FIFO client with RT
 * throttling lifted */
enum { OL_MAX_SPIN_S = 20 };

static void usage(FILE *out) {
  fputs(
      "usage: loopconf http [options]\n"
      "Start each HTTP server, verify it, then measure it with wrk (closed loop) and with an\n"
      "open-loop constant-rate client; write DIR/http.json, charts and DIR/README.md.\n"
      "  --servers LIST        servers or globs (default: all): runtime-<backend> for each\n"
      "                        backend, threads, prefork, asyncio, uvloop\n"
      "  --backend LIST        backends for the runtime servers (default: every built-in)\n"
      "  --connections LIST    connection levels (default 16,64,256,512)\n"
      "  --more                add the levels 1024 and 2048\n"
      "  --duration S          seconds per run (default 4)\n"
      "  --repeat N            runs per level (default 2)\n"
      "  --primer S / --warmup S  unrecorded runs first (default 2 / 3)\n"
      "  --open-loop-connections N / --open-loop-duration S / --open-loop-repeat N /\n"
      "  --open-loop-warmup S  the open-loop client (default 32 / 2 / 5 / 0.5; duration and\n"
      "                        warm-up at most 20 s together unless --keep-rt-throttle or\n"
      "                        --no-realtime)\n"
      "  --open-loop-loads LIST  its rates, in percent of each server's wrk peak (default\n"
      "                        50,80)\n"
      "  --no-open-loop        skip the open-loop client\n"
      "  --no-realtime         keep the server and the open-loop client at normal priority\n"
      "                        (default: SCHED_FIFO during the open-loop runs, where permitted)\n"
      "  --no-idle-poll        let idle CPUs halt during the open-loop runs (default: the\n"
      "                        client asks the kernel to keep them polling, cpu_dma_latency 0)\n"
      "  --keep-rt-throttle    leave the kernel's RT throttling on during the open-loop runs\n"
      "                        (default: sched_rt_runtime_us -1 for them, restored after)\n"
      "  --reproduce FILE      re-run only the open-loop sets of FILE (an http.json) at its\n"
      "                        rates and settings; write DIR/reproduce.json and .md: is each\n"
      "                        new median inside FILE's repeat range? (refused when FILE\n"
      "                        was measured on another CPU model or count)\n"
      "  --drift LIST          the between-run drift allowance of the repeat ranges, in\n"
      "                        percent for p50,p90,p99,p99.9 (default " LCHTTP_DRIFT_DEFAULT
      "; with\n"
      "                        --reproduce: FILE's own)\n"
      "  --any-machine         --reproduce on another machine: measure, do not judge\n"
      "  --workers N           prefork processes (default 2)\n"
      "  --no-pin              do not pin the server and the load generators to separate cores\n"
      "  --out DIR             results directory (default http-results)\n"
      "  --readme FILE         also rewrite FILE's block between <!-- http-table:begin -->\n"
      "                        and <!-- http-table:end --> (requests/s, chart, open loop)\n"
      "  --regenerate          measure nothing: charts, DIR/README.md (and --readme FILE)\n"
      "                        from the results already in DIR/http.json\n"
      "  --smoke               CTest mode: verify, 2 s of wrk at 4 connections, no files\n"
      "  --bad-input           CTest mode: malformed, oversized, slowloris, resets\n"
      "  --time-multiplier X   scale time limits (also $LOOPCONF_TIME_MULTIPLIER)\n"
      "  -q, --quiet           no progress on stderr\n"
      "exit status: 0 all good; 1 a server failed verification, a cell failed or a check\n"
      "failed; 2 bad usage or a missing tool (wrk, gnuplot).\n",
      out);
}

static int add_server(const char *name, const char *kind, const char *backend,
                      const struct lch_strlist *want, int *matched) {
  if (want->n) {
    int ok = 0;
    for (size_t i = 0; i < want->n; i++)
      if (fnmatch(want->v[i], name, 0) == 0) {
        ok = 1;
        matched[i] = 1;
      }
    if (!ok) return 0;
  }
  servers = lch_xrealloc(servers, (nservers + 1) * sizeof *servers);
  servers[nservers++] =
      (struct server){lch_xstrdup(name), lch_xstrdup(kind), backend ? lch_xstrdup(backend) : NULL};
  return 1;
}

static struct lch_strlist want, backends, lv;
static int *matched;

static void cleanup(void) {
  rt_throttle_restore();
  for (size_t i = 0; i < nservers; i++) {
    free(servers[i].name);
    free(servers[i].kind);
    free(servers[i].backend);
  }
  free(servers);
  lch_strlist_free(&want);
  lch_strlist_free(&backends);
  lch_strlist_free(&lv);
  free(matched);
  free(G.exe_dir);
  free(G.python);
  free(G.script);
  free(G.wrk_lua);
  json_decref(G.old);
}

int main(int argc, char **argv) {
  lch_set_program("loopconf http");
  atexit(cleanup);
  signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && strcmp(argv[1], "__openloop") == 0)
    return lchttp_openloop_main(argc - 1, argv + 1);
  /* `loopconf http ...` execs us with argv[1] == "http" */
  if (argc > 1 && strcmp(argv[1], "http") == 0) {
    argc--;
    argv++;
  }
  G.duration = 4;
  G.repeat = 2;
  G.primer = 2;
  G.warmup = 3;
  G.ol_conns = 32;
  G.ol_duration = 2;
  G.ol_repeat = 5;
  G.ol_warmup = 0.5;
  G.ol_rt = 1;
  G.ol_idle_poll = 1;
  G.ol_unthrottle = 1;
  if (parse_drift(LCHTTP_DRIFT_DEFAULT, G.ol_drift) || parse_loads("50,80")) return 2;
  G.workers = 2;
  G.open_loop = 1;
  G.pin = 1;
  G.out_dir = "http-results";
  const char *conns_arg = "16,64,256,512", *mult_arg = NULL;
  int more = 0;
  static const struct option longopts[] = {{"servers", required_argument, NULL, 's'},
                                           {"backend", required_argument, NULL, 'b'},
                                           {"connections", required_argument, NULL, 'c'},
                                           {"more", no_argument, NULL, 'M'},
                                           {"duration", required_argument, NULL, 'd'},
                                           {"repeat", required_argument, NULL, 'r'},
                                           {"primer", required_argument, NULL, 'P'},
                                           {"warmup", required_argument, NULL, 'W'},
                                           {"open-loop-connections", required_argument, NULL, 'C'},
                                           {"open-loop-duration", required_argument, NULL, 'D'},
                                           {"open-loop-repeat", required_argument, NULL, 'R'},
                                           {"open-loop-warmup", required_argument, NULL, 'U'},
                                           {"no-open-loop", no_argument, NULL, 'N'},
                                           {"no-realtime", no_argument, NULL, 'T'},
                                           {"no-idle-poll", no_argument, NULL, 'I'},
                                           {"keep-rt-throttle", no_argument, NULL, 'K'},
                                           {"reproduce", required_argument, NULL, 'X'},
                                           {"drift", required_argument, NULL, 'F'},
                                           {"open-loop-loads", required_argument, NULL, 'L'},
                                           {"any-machine", no_argument, NULL, 'A'},
                                           {"readme", required_argument, NULL, 'E'},
                                           {"regenerate", no_argument, NULL, 'G'},
                                           {"workers", required_argument, NULL, 'w'},
                                           {"no-pin", no_argument, NULL, 'n'},
                                           {"out", required_argument, NULL, 'o'},
                                           {"smoke", no_argument, NULL, 'S'},
                                           {"bad-input", no_argument, NULL, 'B'},
                                           {"time-multiplier", required_argument, NULL, 't'},
                                           {"quiet", no_argument, NULL, 'q'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int ch;
  opterr = 0; /* one line of our own, not getopt's plus the usage */
  while ((ch = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
    switch (ch) {
    case 's': G.servers_arg = optarg; break;
    case 'b': G.backends_arg = optarg; break;
    case 'c': conns_arg = optarg; break;
    case 'M': more = 1; break;
    case 'd':
      if (lch_parse_long(optarg, "--duration", 1, 3600, &G.duration)) return 2;
      break;
    case 'r':
      if (lch_parse_long(optarg, "--repeat", 1, 50, &G.repeat)) return 2;
      break;
    case 'P':
      if (lch_parse_long(optarg, "--primer", 1, 3600, &G.primer)) return 2;
      break;
    case 'W':
      if (lch_parse_long(optarg, "--warmup", 1, 3600, &G.warmup)) return 2;
      break;
    case 'C':
      if (lch_parse_long(optarg, "--open-loop-connections", 1, 4096, &G.ol_conns)) return 2;
      break;
    case 'D':
      if (lch_parse_long(optarg, "--open-loop-duration", 1, 3600, &G.ol_duration)) return 2;
      break;
    case 'R':
      if (lch_parse_long(optarg, "--open-loop-repeat", 1, 50, &G.ol_repeat)) return 2;
      G.ol_repeat_given = 1;
      break;
    case 'U':
      if (lch_parse_double(optarg, "--open-loop-warmup", 0, 3600, &G.ol_warmup)) return 2;
      break;
    case 'N': G.open_loop = 0; break;
    case 'T': G.ol_rt = 0; break;
    case 'I': G.ol_idle_poll = 0; break;
    case 'K': G.ol_unthrottle = 0; break;
    case 'X': G.reproduce = optarg; break;
    case 'F':
      if (parse_drift(optarg, G.ol_drift)) return 2;
      G.drift_given = 1;
      break;
    case 'A': G.any_machine = 1; break;
    case 'L':
      if (parse_loads(optarg)) return 2;
      break;
    case 'E': G.readme = optarg; break;
    case 'G': G.regenerate = 1; break;
    case 'w':
      if (lch_parse_long(optarg, "--workers", 1, 256, &G.workers)) return 2;
      break;
    case 'n': G.pin = 0; break;
    case 'o': G.out_dir = optarg; break;
    case 'S': G.mode = MODE_SMOKE; break;
    case 'B': G.mode = MODE_BAD_INPUT; break;
    case 't': mult_arg = optarg; break;
    case 'q': G.quiet = 1; break;
    case 'h': usage(stdout); return 0;
    default: return lch_getopt_error(ch, argv, NULL);
    }
  }
  if (optind != argc) {
    lch_error("unexpected argument '%s' (see --help)", argv[optind]);
    return 2;
  }
  if (mult_arg) {
    if (lch_parse_double(mult_arg, "--time-multiplier", 1, 1000, &G.mult)) return 2;
  } else if (lch_env_multiplier(&G.mult) < 0) {
    return 2;
  }
  /* A SCHED_FIFO client spinning with RT throttling lifted holds its CPU for the whole run:
   * the kernel's per-CPU work there (kworkers, ksoftirqd, timers' softirq) waits until it
   * ends. 2.5 s at a time does no harm; past about 20 s the kernel starts warning of stalls
   * (rcu_cpu_stall_timeout's default is 21 s). Longer runs sleep between sends instead. */
  if (G.mode == MODE_RUN && G.open_loop && G.ol_rt && G.ol_unthrottle == 1 && !G.reproduce &&
      (double)G.ol_duration + G.ol_warmup > OL_MAX_SPIN_S) {
    lch_error(
        "--open-loop-duration %ld s with %g s of warm-up: over %d s, a realtime client "
        "spinning with RT throttling lifted would starve the kernel's work on its CPU "
        "(add --keep-rt-throttle, so it sleeps, or --no-realtime)",
        G.ol_duration, G.ol_warmup, OL_MAX_SPIN_S);
    return 2;
  }
  /* connection levels */
  if (lch_strlist_split_commas(&lv, conns_arg) || lv.n == 0) {
    lch_error("--connections '%s' has an empty entry", conns_arg);
    return 2;
  }
  for (size_t i = 0; i < lv.n && G.nlevels < 30; i++)
    if (lch_parse_long(lv.v[i], "--connections entry", 1, 100000, &G.levels[G.nlevels++])) return 2;
  if (more) {
    G.levels[G.nlevels++] = 1024;
    G.levels[G.nlevels++] = 2048;
  }
  lch_strlist_free(&lv);
  if (G.readme || G.regenerate) {
    if (G.mode != MODE_RUN || G.reproduce) {
      lch_error(
          "--readme and --regenerate go with a full run, not --smoke, --bad-input or "
          "--reproduce");
      return 2;
    }
    char *b, *e, *t = G.readme ? readme_load(G.readme, &b, &e) : lch_xstrdup("");
    if (!t) return 2;
    free(t);
  }
  if (G.regenerate) {
    if (!on_path("gnuplot")) {
      lch_error(
          "gnuplot is not installed (Debian: gnuplot-nox; scripts/install-deps.sh installs it)");
      return 2;
    }
    return regenerate();
  }
  /* tools, before any work */
  if (!on_path("wrk")) {
    lch_error("wrk is not installed (Debian: wrk; scripts/install-deps.sh installs it)");
    return 2;
  }
  if (G.any_machine && !G.reproduce) {
    lch_error("--any-machine goes with --reproduce FILE");
    return 2;
  }
  if (G.reproduce) {
    if (G.mode != MODE_RUN || !G.open_loop) {
      lch_error("--reproduce cannot be combined with --smoke, --bad-input or --no-open-loop");
      return 2;
    }
    if (!(G.old = repro_load(G.reproduce))) return 2;
  }
  if (G.mode == MODE_RUN && !G.reproduce && !on_path("gnuplot")) {
    lch_error(
        "gnuplot is not installed (Debian: gnuplot-nox; scripts/install-deps.sh installs it)");
    return 2;
  }
  if (G.mode == MODE_RUN) {
    struct stat st;
    if (stat(G.out_dir, &st) < 0 && mkdir(G.out_dir, 0777) < 0) {
      lch_error("--out %s: cannot create the directory: %s", G.out_dir, strerror(errno));
      return 2;
    }
    char *p = lch_xasprintf("%s/%s", G.out_dir, G.reproduce ? "reproduce.json" : "http.json");
    int rc = lch_outfile_check(p, "--out");
    free(p);
    if (rc < 0) return 2;
  }
  G.exe_dir = lch_exe_dir();
  if (!G.exe_dir) return 2;
  const char *py = getenv("LOOPCONF_PYTHON");
  G.python = lch_xstrdup(py && *py                               ? py
                         : access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                                 : "python3");
  /* the Python server: installed under <prefix>/share/loopconf/harness/http, else the source
   * tree's (lch_data_dir); checked here, before any work, when a Python server is selected */
  char *sdir = lch_data_dir("harness/http");
  G.script = lch_xasprintf("%s/lchttp_asyncio.py", sdir);
  free(sdir);
  /* enough descriptors for the top level (wrk, server and the open-loop client) */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* the servers */
  if (G.servers_arg && (lch_strlist_split_commas(&want, G.servers_arg) || !want.n)) {
    lch_error("--servers '%s' has an empty entry", G.servers_arg);
    return 2;
  }
  if (G.backends_arg) {
    if (lch_strlist_split_commas(&backends, G.backends_arg) || !backends.n) {
      lch_error("--backend '%s' has an empty entry", G.backends_arg);
      return 2;
    }
  } else {
    char *dir = lch_backend_dir();
    if (!dir || lch_builtin_names(dir, &backends) < 0) return 2;
    free(dir);
  }
  matched = lch_xcalloc(want.n + 1, sizeof *matched);
  for (size_t i = 0; i < backends.n; i++) {
    char *dir = lch_backend_dir();
    char *path = dir ? lch_backend_resolve(dir, backends.v[i]) : NULL; /* checked up front */
    free(dir);
    if (!path) return 2;
    free(path);
    const char *base =
        strrchr(backends.v[i], '/') ? strrchr(backends.v[i], '/') + 1 : backends.v[i];
    char *name = lch_xasprintf("runtime-%s", base);
    char *dot = strstr(name, ".so");
    if (dot) *dot = 0;
    add_server(name, "runtime", backends.v[i], &want, matched);
    free(name);
  }
  static const char *const others[] = {"threads", "prefork", "asyncio", "uvloop"};
  for (size_t i = 0; i < 4; i++) add_server(others[i], others[i], NULL, &want, matched);
  for (size_t i = 0; i < want.n; i++)
    if (!matched[i]) {
      lch_error(
          "--servers: '%s' matches no server (runtime-<backend>, threads, prefork, asyncio, "
          "uvloop)",
          want.v[i]);
      return 2;
    }
  if (G.old) { /* every server of FILE with open-loop sets must be here, unless --servers */
    size_t i, found = 0;
    json_t *os;
    json_array_foreach(json_object_get(G.old, "servers"), i, os) {
      if (!json_array_size(json_object_get(os, "open_loop"))) continue;
      size_t k = 0;
      while (k < nservers && strcmp(servers[k].name, lch_json_str(os, "name"))) k++;
      if (k < nservers) found++;
      else if (!want.n) {
        lch_error(
            "--reproduce %s: its server '%s' is not available here (select others with "
            "--servers)",
            G.reproduce, lch_json_str(os, "name"));
        return 2;
      }
    }
    if (!found) {
      lch_error("--reproduce %s: none of its servers is selected by --servers", G.reproduce);
      return 2;
    }
  }
  for (size_t i = 0; i < nservers; i++)
    if ((!strcmp(servers[i].kind, "asyncio") || !strcmp(servers[i].kind, "uvloop")) &&
        access(G.script, R_OK) != 0) {
      lch_error(
          "the %s server's script %s is not readable: %s (install loopconf again, or set "
          "LOOPCONF_DATA_DIR)",
          servers[i].name, G.script, strerror(errno));
      return 2;
    }
  /* cores: the server gets the first half of ours, wrk and the open-loop client the rest */
  sched_getaffinity(0, sizeof G.all_cpus, &G.all_cpus);
  G.n_cpus = CPU_COUNT(&G.all_cpus);
  if (G.n_cpus < 2) G.pin = 0;
  CPU_ZERO(&G.server_cpus);
  CPU_ZERO(&G.client_cpus);
  for (int i = 0, seen = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &G.all_cpus)) {
      if (G.pin && seen++ < G.n_cpus / 2) CPU_SET(i, &G.server_cpus);
      else CPU_SET(i, &G.client_cpus);
    }
  if (!G.pin) G.server_cpus = G.all_cpus;
  G.n_client_cpus = CPU_COUNT(&G.client_cpus);
  G.n_server_cpus = CPU_COUNT(&G.server_cpus);
  char *sc = cpus_str(&G.server_cpus), *cc = cpus_str(&G.client_cpus);
  if (G.pin) {
    snprintf(G.pin_note, sizeof G.pin_note,
             "server pinned to CPU %s, wrk and the open-loop client to CPU %s (sched_setaffinity); "
             "other processes on the machine were not excluded",
             sc, cc);
    sched_setaffinity(0, sizeof G.client_cpus, &G.client_cpus); /* our children inherit it */
  } else {
    snprintf(G.pin_note, sizeof G.pin_note, "not pinned: server and load generators share CPUs %s",
             sc);
  }
  free(sc);
  free(cc);
  /* wrk's Lua hook, in a private temporary file */
  const char *tmpd = getenv("TMPDIR");
  G.wrk_lua = lch_xasprintf("%s/lchttp-wrk-XXXXXX.lua", tmpd && *tmpd ? tmpd : "/tmp");
  int lfd = mkstemps(G.wrk_lua, 4);
  if (lfd < 0 || write(lfd, wrk_lua, sizeof wrk_lua - 1) != (ssize_t)(sizeof wrk_lua - 1)) {
    lch_error("cannot write wrk's script %s: %s", G.wrk_lua, strerror(errno));
    return 2;
  }
  close(lfd);
  int bad = 0;
  if (G.mode != MODE_RUN) {
    for (size_t i = 0; i < nservers; i++)
      bad |= G.mode == MODE_SMOKE ? smoke(&servers[i]) : bad_input(&servers[i]);
    unlink(G.wrk_lua);
    return bad ? 1 : 0;
  }
  if (G.old) {
    bad = reproduce(G.old);
    unlink(G.wrk_lua);
    return bad;
  }
  /* the full run */
  double load_start = loadavg1();
  note("loopconf http: %zu servers, levels %s, %ld s x %ld runs; %s", nservers, conns_arg,
       G.duration, G.repeat, G.pin_note);
  json_t *doc = json_object(), *jservers = json_array();
  json_t *ctx = context();
  json_object_set_new(ctx, "load1_start", json_real(load_start));
  json_object_set_new(doc, "context", ctx);
  for (size_t i = 0; i < nservers; i++) {
    note("%s:", servers[i].name);
    json_t *js = measure(&servers[i]);
    bad |= json_is_true(json_object_get(js, "failed"));
    json_array_append_new(jservers, js);
  }
  if (G.open_loop) { /* at --open-loop-loads (50% and 80%) of each server's wrk peak */
    struct ol_plan *plans = lch_xcalloc(nservers, sizeof *plans);
    size_t np = 0;
    for (size_t i = 0; i < nservers; i++) {
      double peak = lch_json_num(json_array_get(jservers, i), "peak_rps", 0);
      if (peak <= 0) continue;
      plans[np] = (struct ol_plan){.s = &servers[i], .n = G.ol_nloads};
      for (size_t k = 0; k < G.ol_nloads; k++) {
        plans[np].loads[k] = G.ol_loads[k];
        plans[np].rates[k] = G.ol_loads[k] * peak;
      }
      np++;
    }
    note("open loop: %zu servers x %ld rounds", np, G.ol_repeat);
    open_loop_phase(plans, np, ctx);
    for (size_t p = 0; p < np; p++) {
      json_t *js = json_array_get(jservers, (size_t)(plans[p].s - servers));
      if (ol_attach(js, &plans[p])) {
        json_object_set_new(js, "failed", json_true());
        bad = 1;
      }
    }
    free(plans);
  }
  double load_end = loadavg1();
  json_object_set_new(ctx, "load1_end", json_real(load_end));
  json_object_set_new(doc, "servers", jservers);
  char *p = lch_xasprintf("%s/http.json", G.out_dir);
  if (lch_json_write(p, doc) < 0) bad = 2;
  free(p);
  if (charts(jservers) < 0) bad |= 1;
  if (readme(doc, load_start, load_end) < 0) bad |= 1;
  if (G.readme && readme_block(G.readme, doc) < 0) bad |= 1;
  unlink(G.wrk_lua);
  note("loopconf http: results in %s (http.json, README.md, http-*.svg/png)", G.out_dir);
  json_decref(doc);
  return bad;
}
