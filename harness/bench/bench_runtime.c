/* bench_runtime.c: runtime.* benchmarks: the task runtime (lc_run) over one backend. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_suite.h"
#include "coro.h"
#include "loopconf/runtime.h"

/* What a benchmark's main task gets. */
struct rtb {
  lcbench_state *st;
  const struct lc_backend *b;
  int stop; /* tells helper tasks to finish */
};

static int task_noop(void *arg, intptr_t *result) {
  (void)arg;
  *result = 1;
  return 0;
}

/* What a benchmark is registered with: the backend and the run options (the stack mode). */
struct rtarg {
  const struct lc_backend *b;
  lc_run_opts opts;
};

/* Run main_fn as the main task of lc_run on the benchmark's backend and mode; failures fail
 * st. */
static void run_main(lcbench_state *st, const void *arg, lc_task_fn main_fn) {
  const struct rtarg *ra = arg;
  struct rtb x = {.st = st, .b = ra->b};
  int rc = lc_run(ra->b, &ra->opts, main_fn, &x, NULL);
  if (rc < 0) lcbench_fail(st, "lc_run: %s", strerror(-rc));
}

/* ---- runtime.spawn_join: lc_spawn + lc_await of a task that returns at once ------------- */

static int main_spawn_join(void *arg, intptr_t *result) {
  struct rtb *x = arg;
  int64_t n;
  (void)result;
  while (lcbench_next_batch(x->st, &n)) {
    for (int64_t i = 0; i < n; i++) {
      lc_task *t = lc_spawn(task_noop, NULL, "noop");
      if (!t) return -errno;
      intptr_t r = 0;
      int rc = lc_await(t, &r);
      lc_task_unref(t);
      if (rc < 0) return rc;
      if (r != 1) return -EPROTO;
    }
  }
  return 0;
}

static void bm_spawn_join(lcbench_state *st, void *arg) { run_main(st, arg, main_spawn_join); }

/* ---- runtime.yield: one task handing the thread to another ready task ------------------- */

static int task_yielder(void *arg, intptr_t *result) {
  struct rtb *x = arg;
  (void)result;
  while (!x->stop) {
    int rc = lc_yield();
    if (rc < 0) return rc;
  }
  return 0;
}

static int main_yield(void *arg, intptr_t *result) {
  struct rtb *x = arg;
  (void)result;
  lc_task *peer = lc_spawn(task_yielder, x, "peer");
  if (!peer) return -errno;
  int rc = lc_yield(); /* let the peer start */
  int64_t n;
  while (rc == 0 && lcbench_next_batch(x->st, &n))
    for (int64_t i = 0; i < n && rc == 0; i++) rc = lc_yield(); /* to the peer and back */
  x->stop = 1;
  int prc = lc_await(peer, NULL);
  lc_task_unref(peer);
  /* Each iteration is two task switches: main -> peer -> main. */
  lcbench_set_items(x->st, 2 * lcbench_iterations(x->st));
  return rc < 0 ? rc : prc;
}

static void bm_yield(lcbench_state *st, void *arg) { run_main(st, arg, main_yield); }

/* ---- runtime.gather_10000: spawn 10,000 tasks and gather them --------------------------- */

#define GATHER_N 10000

static int main_gather(void *arg, intptr_t *result) {
  struct rtb *x = arg;
  (void)result;
  lc_task **ts = calloc(GATHER_N, sizeof *ts);
  intptr_t *res = calloc(GATHER_N, sizeof *res);
  int rc = ts && res ? 0 : -ENOMEM;
  int64_t n;
  while (rc == 0 && lcbench_next_batch(x->st, &n)) {
    for (int64_t k = 0; k < n && rc == 0; k++) {
      size_t made = 0;
      for (; made < GATHER_N; made++)
        if (!(ts[made] = lc_spawn(task_noop, NULL, "g"))) {
          rc = -errno;
          break;
        }
      if (rc == 0) rc = lc_gather(ts, GATHER_N, res, NULL, 0);
      for (size_t i = 0; i < made; i++) lc_task_unref(ts[i]);
      if (rc == 0 && res[GATHER_N - 1] != 1) rc = -EPROTO;
    }
  }
  lcbench_set_items(x->st, lcbench_iterations(x->st) * GATHER_N);
  free(ts);
  free(res);
  return rc;
}

static void bm_gather(lcbench_state *st, void *arg) { run_main(st, arg, main_gather); }

/* ---- runtime.semaphore_handoff: two tasks passing control through semaphores ------------ */

struct handoff {
  struct rtb *x;
  lc_sem *to_peer, *to_main;
};

static int task_handoff_peer(void *arg, intptr_t *result) {
  struct handoff *h = arg;
  (void)result;
  for (;;) {
    int rc = lc_sem_acquire(h->to_peer);
    if (rc < 0) return rc;
    if (h->x->stop) return 0;
    lc_sem_release(h->to_main);
  }
}

static int main_handoff(void *arg, intptr_t *result) {
  struct rtb *x = arg;
  (void)result;
  struct handoff h = {.x = x, .to_peer = lc_sem_new(0), .to_main = lc_sem_new(0)};
  lc_task *peer = h.to_peer && h.to_main ? lc_spawn(task_handoff_peer, &h, "peer") : NULL;
  int rc = peer ? 0 : -ENOMEM;
  int64_t n;
  while (rc == 0 && lcbench_next_batch(x->st, &n))
    for (int64_t i = 0; i < n && rc == 0; i++) {
      lc_sem_release(h.to_peer);
      rc = lc_sem_acquire(h.to_main);
    }
  if (peer) {
    x->stop = 1;
    lc_sem_release(h.to_peer);
    int prc = lc_await(peer, NULL);
    lc_task_unref(peer);
    if (rc == 0) rc = prc;
  }
  lcbench_set_items(x->st, 2 * lcbench_iterations(x->st)); /* two hand-offs per iteration */
  if (h.to_peer) lc_sem_free(h.to_peer);
  if (h.to_main) lc_sem_free(h.to_main);
  return rc;
}

static void bm_handoff(lcbench_state *st, void *arg) { run_main(st, arg, main_handoff); }

/* ---- runtime.queue_put_get: items through a bounded queue to a consumer task ------------ */

struct qb {
  lc_queue *q;
  int64_t got;
};

static int task_consumer(void *arg, intptr_t *result) {
  struct qb *qb = arg;
  (void)result;
  for (;;) {
    intptr_t item;
    int rc = lc_queue_get(qb->q, &item);
    if (rc < 0) return rc;
    if (item < 0) return 0;
    qb->got++;
  }
}

static int main_queue(void *arg, intptr_t *result) {
  struct rtb *x = arg;
  (void)result;
  struct qb qb = {.q = lc_queue_new(64)};
  lc_task *cons = qb.q ? lc_spawn(task_consumer, &qb, "consumer") : NULL;
  int rc = cons ? 0 : -ENOMEM;
  int64_t n, put = 0;
  while (rc == 0 && lcbench_next_batch(x->st, &n))
    for (int64_t i = 0; i < n && rc == 0; i++, put++) rc = lc_queue_put(qb.q, (intptr_t)i);
  if (cons) {
    int prc = lc_queue_put(qb.q, -1); /* end marker */
    if (prc == 0) prc = lc_await(cons, NULL);
    lc_task_unref(cons);
    if (rc == 0) rc = prc;
    if (rc == 0 && qb.got != put) rc = -EPROTO;
  }
  if (qb.q) lc_queue_free(qb.q);
  return rc;
}

static void bm_queue(lcbench_state *st, void *arg) { run_main(st, arg, main_queue); }

/* ---- runtime.executor_roundtrip: lc_run_in_thread of an empty job ----------------------- */

static intptr_t job_noop(void *arg) {
  (void)arg;
  return 7;
}

static int main_executor(void *arg, intptr_t *result) {
  struct rtb *x = arg;
  (void)result;
  int rc = 0;
  int64_t n;
  while (rc == 0 && lcbench_next_batch(x->st, &n))
    for (int64_t i = 0; i < n && rc == 0; i++) {
      intptr_t r = 0;
      rc = lc_run_in_thread(job_noop, NULL, &r);
      if (rc == 0 && r != 7) rc = -EPROTO;
    }
  return rc;
}

static void bm_executor(lcbench_state *st, void *arg) { run_main(st, arg, main_executor); }

/* Before an lc_run that measures RSS growth: hand the heap's free pages back to the kernel,
 * so that every iteration grows from the same footing. The copy-stack mode's tasks live on the
 * heap, which glibc otherwise keeps resident for reuse after an earlier run or benchmark in
 * the process (measured: 857 B per task in a fresh process, 350-465 B after one; the dedicated
 * mode's stacks are unmapped by lc_run itself). */
static void bench_heap_trim(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

/* The stack mode a run with these options uses (LOOPCONF_STACK overrides the field). */
static enum lc_stack_mode bench_stack_mode(const lc_run_opts *opts) {
  const char *e = getenv("LOOPCONF_STACK");
  if (e && strcmp(e, "copy") == 0) return LC_STACK_COPY;
  if (e && strcmp(e, "dedicated") == 0) return LC_STACK_DEDICATED;
  return opts->stack_mode;
}

/* ---- runtime.memory_per_task: RSS per suspended task with 100,000 tasks ----------------- */

#define MEM_TASKS 100000

struct memb {
  lc_event *ev;
  size_t tasks;      /* tasks per iteration */
  int64_t rss_delta; /* bytes, summed over iterations */
  size_t spawned;    /* tasks spawned in the last iteration (for the error message) */
};

static int task_parked(void *arg, intptr_t *result) {
  struct memb *m = arg;
  *result = 1;
  return lc_event_wait(m->ev);
}

static int main_memory(void *arg, intptr_t *result) {
  struct memb *m = arg;
  (void)result;
  lc_task **ts = calloc(m->tasks, sizeof *ts);
  m->ev = lc_event_new();
  int rc = ts && m->ev ? 0 : -ENOMEM;
  int64_t before = bench_rss_bytes();
  size_t made = 0;
  for (; rc == 0 && made < m->tasks; made++)
    if (!(ts[made] = lc_spawn(task_parked, m, NULL))) {
      rc = -errno;
      break;
    }
  m->spawned = made;
  if (rc == 0) rc = lc_yield(); /* every task runs up to its lc_event_wait */
  int64_t after = bench_rss_bytes();
  if (rc == 0 && before >= 0 && after >= 0) m->rss_delta += after - before;
  if (m->ev) lc_event_set(m->ev);
  for (size_t i = 0; i < made; i++) {
    int trc = lc_await(ts[i], NULL);
    if (rc == 0 && trc < 0) rc = trc;
    lc_task_unref(ts[i]);
  }
  if (m->ev) lc_event_free(m->ev);
  free(ts);
  return rc;
}

/* First number in a file, or -1. */
static long long read_number(const char *path) {
  long long v = -1;
  FILE *f = fopen(path, "r");
  if (f) {
    if (fscanf(f, "%lld", &v) != 1) v = -1;
    fclose(f);
  }
  return v;
}

/* Mappings this process holds now (lines of /proc/self/maps). */
static long long mapping_count(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  long long n = 0;
  int c;
  while ((c = getc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

/* Tasks per iteration: 100,000, unless the kernel's limit on mappings per process
 * (vm.max_map_count, 65530 by default) cannot hold that many task stacks: before Linux 6.13
 * (no MADV_GUARD_INSTALL) each stack is two mappings (the stack and its guard page). Then as
 * many as fit with a margin, reported in the "tasks" counter so the figure is never mistaken
 * for the 100,000-task one. */
static size_t memory_task_count(const lc_run_opts *opts) {
  /* The copy-stack mode maps one stack per run, not per task. */
  if (lc_coro_light_guards() || bench_stack_mode(opts) == LC_STACK_COPY) return MEM_TASKS;
  long long limit = read_number("/proc/sys/vm/max_map_count"), used = mapping_count();
  if (limit < 0 || used < 0) return MEM_TASKS;
  long long fit = (limit - used - 2000) / 2;
  if (fit >= MEM_TASKS) return MEM_TASKS;
  return fit > 1000 ? (size_t)fit : 1000;
}

static void bm_memory_per_task(lcbench_state *st, void *arg) {
  const struct rtarg *ra = arg;
  const struct lc_backend *b = ra->b;
  struct memb m = {.tasks = memory_task_count(&ra->opts)};
  /* LOOPCONF_BENCH_MEM_TASKS=N measures N tasks instead (issue 12's 1,000,000-task target;
   * the "tasks" counter says how many were measured). */
  const char *env = getenv("LOOPCONF_BENCH_MEM_TASKS");
  if (env && *env) {
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    if (*end || v < 1 || v > 100000000ULL) {
      lcbench_fail(st, "LOOPCONF_BENCH_MEM_TASKS='%s': expected a count 1..100000000", env);
      return;
    }
    m.tasks = (size_t)v;
  }
  int64_t n;
  while (lcbench_next_batch(st, &n))
    for (int64_t i = 0; i < n; i++) {
      /* One lc_run per iteration: its shutdown returns the pooled stacks, so every
       * iteration starts from the same footing. */
      bench_heap_trim();
      int rc = lc_run(b, &ra->opts, main_memory, &m, NULL);
      if (rc < 0) {
        lcbench_fail(st, "lc_spawn failed after %zu of %zu tasks: %s (vm.max_map_count %lld)",
                     m.spawned, m.tasks, strerror(-rc), read_number("/proc/sys/vm/max_map_count"));
        return;
      }
    }
  lcbench_set_items(st, lcbench_iterations(st) * (int64_t)m.tasks);
  lcbench_counter(st, "tasks", (double)m.tasks, LCBENCH_COUNTER_PLAIN);
  lcbench_counter(st, "rss_bytes_per_task", (double)m.rss_delta / (double)m.tasks,
                  LCBENCH_COUNTER_AVG_ITERATIONS);
}

/* ---- runtime.gather_100k_sleep: 100,000 tasks that each sleep 50 ms, gathered ------------
 * The seeds' claim in one figure, measured the same way as harness/bench/py_tasks.py measures
 * CPython asyncio and uvloop: one lc_run per iteration, wall time from the first spawn to the
 * gather's return, CPU time (user + system) of the process over the same span, and the RSS
 * grown meanwhile (pooled stacks stay resident until lc_run ends, so this is the peak) per
 * task. beyond_50ms_ms is the wall time beyond the 50 ms every task sleeps. */

#define SLEEP_TASKS 100000
#define SLEEP_NS (50 * LC_MS)

static int task_sleep50(void *arg, intptr_t *result) {
  (void)arg;
  *result = 1;
  return lc_sleep(SLEEP_NS);
}

struct sleepb {
  size_t tasks;
  int64_t wall_ns, cpu_ns, rss_delta; /* summed over iterations */
  size_t spawned;
};

static int64_t cpu_ns_now(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * LC_S +
         (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * LC_US;
}

static int main_sleep_gather(void *arg, intptr_t *result) {
  struct sleepb *m = arg;
  (void)result;
  lc_task **ts = calloc(m->tasks, sizeof *ts);
  if (!ts) return -ENOMEM;
  int64_t rss0 = bench_rss_bytes(), cpu0 = cpu_ns_now(), t0 = lc_now();
  int rc = 0;
  size_t made = 0;
  for (; made < m->tasks; made++)
    if (!(ts[made] = lc_spawn(task_sleep50, NULL, "s"))) {
      rc = -errno;
      break;
    }
  m->spawned = made;
  if (rc == 0) rc = lc_gather(ts, made, NULL, NULL, 0);
  int64_t t1 = lc_now(), cpu1 = cpu_ns_now(), rss1 = bench_rss_bytes();
  m->wall_ns += t1 - t0;
  m->cpu_ns += cpu1 - cpu0;
  if (rss0 >= 0 && rss1 >= 0) m->rss_delta += rss1 - rss0;
  for (size_t i = 0; i < made; i++) lc_task_unref(ts[i]);
  free(ts);
  return rc;
}

static void bm_gather_sleep(lcbench_state *st, void *arg) {
  const struct rtarg *ra = arg;
  const struct lc_backend *b = ra->b;
  struct sleepb m = {.tasks = memory_task_count(&ra->opts)};
  int64_t n;
  while (lcbench_next_batch(st, &n))
    for (int64_t i = 0; i < n; i++) {
      bench_heap_trim();
      int rc = lc_run(b, &ra->opts, main_sleep_gather, &m, NULL);
      if (rc < 0) {
        lcbench_fail(st, "100k sleep: failed after spawning %zu of %zu tasks: %s", m.spawned,
                     m.tasks, strerror(-rc));
        return;
      }
    }
  int64_t it = lcbench_iterations(st);
  if (it < 1) it = 1;
  lcbench_set_items(st, it * (int64_t)m.tasks);
  lcbench_counter(st, "tasks", (double)m.tasks, LCBENCH_COUNTER_PLAIN);
  lcbench_counter(st, "gather_wall_ms", (double)m.wall_ns / 1e6, LCBENCH_COUNTER_AVG_ITERATIONS);
  lcbench_counter(st, "beyond_50ms_ms", (double)(m.wall_ns - it * SLEEP_NS) / 1e6,
                  LCBENCH_COUNTER_AVG_ITERATIONS);
  lcbench_counter(st, "cpu_ms", (double)m.cpu_ns / 1e6, LCBENCH_COUNTER_AVG_ITERATIONS);
  lcbench_counter(st, "rss_bytes_per_task", (double)m.rss_delta / (double)m.tasks,
                  LCBENCH_COUNTER_AVG_ITERATIONS);
}

/* ---- runtime.stream_pingpong: one byte bouncing between two tasks over a socketpair ----
 * The traffic of loop.pingpong/pairs:1 and floor.pingpong/pairs:1, through lc_stream_write +
 * lc_stream_readexactly on both ends, so the difference is the runtime's cost per I/O await. */

struct spp {
  lc_stream *peer;
  int stop;
};

static int task_stream_echo(void *arg, intptr_t *result) {
  struct spp *p = arg;
  (void)result;
  char c;
  for (;;) {
    ssize_t n = lc_stream_readexactly(p->peer, &c, 1, NULL);
    if (n != 1) return n == -ENODATA ? 0 : (int)n; /* EOF: the benchmark is over */
    int rc = lc_stream_write(p->peer, &c, 1);
    if (rc) return rc;
  }
}

static int main_stream_pingpong(void *arg, intptr_t *result) {
  struct rtb *x = arg;
  (void)result;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
  lc_stream *a = lc_stream_adopt(sv[0]);
  struct spp p = {.peer = lc_stream_adopt(sv[1])};
  if (!a || !p.peer) {
    int e = errno;
    if (a) lc_stream_free(a);
    else close(sv[0]);
    if (p.peer) lc_stream_free(p.peer);
    else close(sv[1]);
    return -e;
  }
  lc_task *t = lc_spawn(task_stream_echo, &p, "echo");
  int rc = t ? 0 : -errno;
  int64_t n;
  char c = 'x';
  while (rc == 0 && lcbench_next_batch(x->st, &n))
    for (int64_t i = 0; i < n && rc == 0; i++) {
      rc = lc_stream_write(a, &c, 1);
      if (rc == 0) {
        ssize_t k = lc_stream_readexactly(a, &c, 1, NULL);
        rc = k == 1 ? 0 : k < 0 ? (int)k : -EPROTO;
      }
    }
  lc_stream_free(a); /* the echo task reads EOF and ends */
  if (t) {
    int trc = lc_await(t, NULL);
    if (rc == 0) rc = trc;
    lc_task_unref(t);
  }
  lc_stream_free(p.peer);
  return rc;
}

static void bm_stream_pingpong(lcbench_state *st, void *arg) {
  run_main(st, arg, main_stream_pingpong);
}

/* ---- Registration ---------------------------------------------------------------------- */

/* One rtarg per mode, for the life of the process (one backend per process): static, so that
 * nothing is left for LeakSanitizer when a process only lists the benchmarks and exits. */
static struct rtarg *rtarg_new(const struct lc_backend *b, enum lc_stack_mode mode) {
  static struct rtarg args[2];
  struct rtarg *ra = &args[mode == LC_STACK_COPY];
  memset(ra, 0, sizeof *ra);
  ra->b = b;
  ra->opts.stack_mode = mode;
  return ra;
}

/* The runtime benchmarks in the dedicated-stack mode (the default: plain names, as in every
 * published baseline); the four issue 12 compares across modes (in `both`) again in the
 * copy-stack mode, named with "/mode:copy" (runtime.h, lc_stack_mode). */
void bench_runtime_register(const struct lc_backend *b) {
  void *arg = rtarg_new(b, LC_STACK_DEDICATED);
  const lcbench_spec both[] = {
      {.name = "runtime.spawn_join",
       .fn = bm_spawn_join,
       .deterministic = 1,
       .cg_iterations = 20000},
      {.name = "runtime.yield", .fn = bm_yield, .deterministic = 1, .cg_iterations = 100000},
      {.name = "runtime.memory_per_task", .fn = bm_memory_per_task, .unit = 'm', .batch_max = 1},
      {.name = "runtime.gather_100k_sleep", .fn = bm_gather_sleep, .unit = 'm', .batch_max = 1},
  };
  for (size_t i = 0; i < 2; i++) {
    lcbench_spec sp = both[i];
    sp.arg = arg;
    lcbench_register(&sp);
  }
  lcbench_register(&(lcbench_spec){
      .name = "runtime.gather_10000", .fn = bm_gather, .arg = arg, .unit = 'u', .batch_max = 1});
  lcbench_register(
      &(lcbench_spec){.name = "runtime.semaphore_handoff", .fn = bm_handoff, .arg = arg});
  lcbench_register(&(lcbench_spec){.name = "runtime.queue_put_get", .fn = bm_queue, .arg = arg});
  lcbench_register(&(lcbench_spec){
      .name = "runtime.executor_roundtrip", .fn = bm_executor, .arg = arg, .unit = 'u'});
  for (size_t i = 2; i < 4; i++) {
    lcbench_spec sp = both[i];
    sp.arg = arg;
    lcbench_register(&sp);
  }
  if (b->io_new && b->io_start && b->io_stop && b->io_free)
    lcbench_register(&(lcbench_spec){.name = "runtime.stream_pingpong",
                                     .fn = bm_stream_pingpong,
                                     .arg = arg,
                                     .unit = 'u',
                                     .batch_max = 1000});
  if (!lc_coro_asm_available()) return; /* the copy-stack mode needs the assembly switch */
  void *copy = rtarg_new(b, LC_STACK_COPY);
  for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
    char name[96];
    snprintf(name, sizeof name, "%s/mode:copy", both[i].name); /* lcbench_register copies it */
    lcbench_spec sp = both[i];
    sp.name = name;
    sp.arg = copy;
    lcbench_register(&sp);
  }
}
