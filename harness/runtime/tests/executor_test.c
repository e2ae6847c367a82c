/* executor_test.c: unit tests of lc_run_in_thread (thread pool) and lc_run_in_process. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopconf/runtime.h"

#include "rt_test.h"

static void need_wakeup(void) {
  if (!g_backend->wakeup_new) skip(); /* capability absent on this backend */
}

static void need_io(void) {
  if (!g_backend->io_new) skip();
}

static void sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ==== Thread pool ============================================================================== */

static intptr_t square_job(void *arg) {
  intptr_t v = (intptr_t)arg;
  return v * v;
}

struct runner {
  lc_job_fn fn;
  void *arg;
  intptr_t result;
  int rc;
};

static int in_thread_task(void *arg, intptr_t *result) {
  struct runner *r = arg;
  r->rc = lc_run_in_thread(r->fn, r->arg, &r->result);
  *result = r->result;
  return r->rc;
}

static int t_thread_basic(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  intptr_t r = 0;
  CHECK_EQ(lc_run_in_thread(square_job, (void *)(intptr_t)7, &r), 0);
  CHECK_EQ(r, 49);
  /* Many at once, results to the right callers. */
  enum { N = 16 };
  struct runner rs[N];
  lc_task *t[N];
  for (int i = 0; i < N; i++) {
    rs[i] = (struct runner){square_job, (void *)(intptr_t)i, -1, -1};
    t[i] = lc_spawn(in_thread_task, &rs[i], NULL);
  }
  for (int i = 0; i < N; i++) {
    intptr_t v;
    CHECK_EQ(lc_await(t[i], &v), 0);
    CHECK_EQ(rs[i].result, (intptr_t)i * i);
    lc_task_unref(t[i]);
  }
  CHECK_EQ(lc_run_in_thread(NULL, NULL, &r), -EINVAL);
  return 0;
}

static void test_thread_basic(void **state) {
  (void)state;
  need_wakeup();
  run_main(t_thread_basic, NULL);
}

static void test_thread_outside_task(void **state) {
  (void)state;
  intptr_t r;
  assert_int_equal(lc_run_in_thread(square_job, NULL, &r), -EPERM);
  assert_int_equal(lc_run_in_process(square_job, NULL, 0, &r), -EPERM);
}

static intptr_t sleep_job(void *arg) {
  sleep_ns((int64_t)(intptr_t)arg * LC_MS);
  return 42;
}

struct ticker {
  int ticks;
  int64_t max_gap;
  int stop;
};

static int ticker_task(void *arg, intptr_t *result) {
  struct ticker *tk = arg;
  (void)result;
  int64_t last = lc_now();
  while (!tk->stop) {
    int rc = lc_sleep(5 * LC_MS);
    if (rc) return rc;
    int64_t now = lc_now();
    if (now - last > tk->max_gap) tk->max_gap = now - last;
    last = now;
    tk->ticks++;
  }
  return 0;
}

/* The loop keeps running while a job sleeps 200 ms in the pool. */
static int t_thread_responsive(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct ticker tk = {0};
  lc_task *tt = lc_spawn(ticker_task, &tk, "ticker");
  lc_yield();
  int64_t t0 = lc_now();
  intptr_t r = 0;
  CHECK_EQ(lc_run_in_thread(sleep_job, (void *)(intptr_t)200, &r), 0);
  int64_t took = lc_now() - t0;
  int ticks = tk.ticks;
  tk.stop = 1;
  intptr_t v;
  CHECK_EQ(lc_await(tt, &v), 0);
  lc_task_unref(tt);
  CHECK_EQ(r, 42);
  CHECK(took >= 200 * LC_MS);
  /* 5 ms ticks over 200 ms: about 40 if the loop ran freely, at most 1 if the job blocked it.
   * Require a fraction of that, widened by the multiplier; a gap never near the job's length. */
  CHECK(ticks >= (int)(10 / g_mult) + 1);
  CHECK(tk.max_gap < tol(150 * LC_MS));
  return 0;
}

static void test_thread_responsive(void **state) {
  (void)state;
  need_wakeup();
  run_main(t_thread_responsive, NULL);
}

static atomic_int g_started, g_finished;

static intptr_t flag_job(void *arg) {
  atomic_fetch_add(&g_started, 1);
  sleep_ns((int64_t)(intptr_t)arg * LC_MS);
  atomic_fetch_add(&g_finished, 1);
  return 1;
}

/* Cancelling the awaiter returns -ECANCELED at once; the started job still runs to its end. */
static int t_thread_cancel_started(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  atomic_store(&g_started, 0);
  atomic_store(&g_finished, 0);
  struct runner rn = {flag_job, (void *)(intptr_t)200, -1, -1};
  lc_task *t = lc_spawn(in_thread_task, &rn, "awaiter");
  while (atomic_load(&g_started) == 0) lc_sleep(LC_MS);
  int64_t t0 = lc_now();
  lc_cancel(t);
  intptr_t v;
  CHECK_EQ(lc_await(t, &v), -ECANCELED);
  lc_task_unref(t);
  CHECK_EQ(rn.rc, -ECANCELED);
  CHECK_EQ(rn.result, -1);                 /* the result is dropped */
  CHECK(lc_now() - t0 < tol(100 * LC_MS)); /* did not wait for the 200 ms job */
  CHECK_EQ(atomic_load(&g_finished), 0);
  int64_t deadline = lc_now() + tol(5000 * LC_MS);
  while (atomic_load(&g_finished) == 0 && lc_now() < deadline) lc_sleep(5 * LC_MS);
  CHECK_EQ(atomic_load(&g_finished), 1); /* ran to completion anyway */
  /* The pool still works afterwards. */
  intptr_t r = 0;
  CHECK_EQ(lc_run_in_thread(square_job, (void *)(intptr_t)3, &r), 0);
  CHECK_EQ(r, 9);
  return 0;
}

static void test_thread_cancel_started(void **state) {
  (void)state;
  need_wakeup();
  run_main(t_thread_cancel_started, NULL);
}

/* With one thread busy, a queued job whose awaiter is cancelled never runs. */
static int t_thread_cancel_queued(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  atomic_store(&g_started, 0);
  atomic_store(&g_finished, 0);
  struct runner busy = {flag_job, (void *)(intptr_t)100, -1, -1};
  struct runner queued = {flag_job, (void *)(intptr_t)0, -1, -1};
  lc_task *tb = lc_spawn(in_thread_task, &busy, "busy");
  while (atomic_load(&g_started) == 0) lc_sleep(LC_MS);
  lc_task *tq = lc_spawn(in_thread_task, &queued, "queued");
  lc_yield();
  lc_yield();
  lc_cancel(tq);
  intptr_t v;
  CHECK_EQ(lc_await(tq, &v), -ECANCELED);
  CHECK_EQ(lc_await(tb, &v), 0);
  CHECK_EQ(busy.result, 1);
  lc_sleep(20 * LC_MS);
  CHECK_EQ(atomic_load(&g_started), 1); /* the cancelled job was dropped */
  lc_task_unref(tq);
  lc_task_unref(tb);
  return 0;
}

static void test_thread_cancel_queued(void **state) {
  (void)state;
  need_wakeup();
  lc_run_opts opts = {0};
  opts.executor_threads = 1;
  run_main_opts(&opts, t_thread_cancel_queued, NULL);
}

static atomic_int g_inside, g_max_inside;

static intptr_t concurrency_job(void *arg) {
  int now = atomic_fetch_add(&g_inside, 1) + 1;
  int m = atomic_load(&g_max_inside);
  while (now > m && !atomic_compare_exchange_weak(&g_max_inside, &m, now)) {
  }
  sleep_ns((int64_t)(intptr_t)arg * LC_MS);
  atomic_fetch_sub(&g_inside, 1);
  return 0;
}

/* executor_threads bounds the number of jobs running at once. */
static int t_thread_pool_limit(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  atomic_store(&g_inside, 0);
  atomic_store(&g_max_inside, 0);
  enum { N = 6 };
  struct runner rs[N];
  lc_task *t[N];
  for (int i = 0; i < N; i++) {
    rs[i] = (struct runner){concurrency_job, (void *)(intptr_t)30, -1, -1};
    t[i] = lc_spawn(in_thread_task, &rs[i], NULL);
  }
  for (int i = 0; i < N; i++) {
    intptr_t v;
    CHECK_EQ(lc_await(t[i], &v), 0);
    lc_task_unref(t[i]);
  }
  CHECK(atomic_load(&g_max_inside) <= 2);
  CHECK(atomic_load(&g_max_inside) >= 1);
  return 0;
}

static void test_thread_pool_limit(void **state) {
  (void)state;
  need_wakeup();
  lc_run_opts opts = {0};
  opts.executor_threads = 2;
  run_main_opts(&opts, t_thread_pool_limit, NULL);
}

/* ==== Process pool ============================================================================= */

struct sum_arg {
  int32_t n;
  int32_t v[64];
};

/* Runs in a worker: sum of the copied array, and proof of where it ran. */
static intptr_t sum_job(void *arg) {
  const struct sum_arg *a = arg;
  intptr_t s = 0;
  for (int i = 0; i < a->n; i++) s += a->v[i];
  return s;
}

static intptr_t pid_job(void *arg) {
  (void)arg;
  return (intptr_t)getpid();
}

struct proc_runner {
  struct sum_arg a;
  intptr_t result;
  int rc;
};

static int in_process_task(void *arg, intptr_t *result) {
  struct proc_runner *r = arg;
  r->rc = lc_run_in_process(sum_job, &r->a, sizeof r->a, &r->result);
  *result = r->result;
  return r->rc;
}

static int t_process_basic(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  intptr_t pid = 0;
  CHECK_EQ(lc_run_in_process(pid_job, NULL, 0, &pid), 0);
  CHECK(pid > 0 && pid != (intptr_t)getpid());
  enum { N = 8 };
  struct proc_runner rs[N];
  lc_task *t[N];
  for (int i = 0; i < N; i++) {
    memset(&rs[i], 0, sizeof rs[i]);
    rs[i].a.n = 64;
    for (int k = 0; k < 64; k++) rs[i].a.v[k] = i * 1000 + k;
    t[i] = lc_spawn(in_process_task, &rs[i], NULL);
  }
  for (int i = 0; i < N; i++) {
    intptr_t v;
    CHECK_EQ(lc_await(t[i], &v), 0);
    CHECK_EQ(rs[i].result, (intptr_t)i * 64000 + 63 * 64 / 2);
    lc_task_unref(t[i]);
  }
  return 0;
}

static void test_process_basic(void **state) {
  (void)state;
  need_io();
  lc_run_opts opts = {0};
  opts.process_workers = 2;
  run_main_opts(&opts, t_process_basic, NULL);
}

static intptr_t proc_sleep_job(void *arg) {
  int32_t ms;
  memcpy(&ms, arg, sizeof ms);
  sleep_ns(ms * LC_MS);
  return ms;
}

struct sleep_runner {
  int32_t ms;
  intptr_t result;
  int rc;
};

static int proc_sleep_task(void *arg, intptr_t *result) {
  struct sleep_runner *r = arg;
  r->rc = lc_run_in_process(proc_sleep_job, &r->ms, sizeof r->ms, &r->result);
  *result = r->result;
  return r->rc;
}

/* Cancel returns at once; the pool keeps working; the loop stays responsive meanwhile. */
static int t_process_cancel(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct sleep_runner sr = {200, -1, -1};
  lc_task *t = lc_spawn(proc_sleep_task, &sr, "awaiter");
  CHECK_EQ(lc_sleep(20 * LC_MS), 0); /* the job is in the worker now */
  int64_t t0 = lc_now();
  lc_cancel(t);
  intptr_t v;
  CHECK_EQ(lc_await(t, &v), -ECANCELED);
  CHECK(lc_now() - t0 < tol(100 * LC_MS));
  CHECK_EQ(sr.result, -1);
  lc_task_unref(t);
  int32_t ms = 1;
  intptr_t r = 0;
  CHECK_EQ(lc_run_in_process(proc_sleep_job, &ms, sizeof ms, &r), 0); /* waits its turn */
  CHECK_EQ(r, 1);
  return 0;
}

static void test_process_cancel(void **state) {
  (void)state;
  need_io();
  lc_run_opts opts = {0};
  opts.process_workers = 1;
  run_main_opts(&opts, t_process_cancel, NULL);
}

/* The first process job arrives while a thread job runs: the fork waits for a quiet pool. */
static int t_process_after_thread(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  atomic_store(&g_started, 0);
  atomic_store(&g_finished, 0);
  struct runner rn = {flag_job, (void *)(intptr_t)100, -1, -1};
  lc_task *t = lc_spawn(in_thread_task, &rn, "thread-job");
  while (atomic_load(&g_started) == 0) lc_sleep(LC_MS);
  struct proc_runner pr;
  memset(&pr, 0, sizeof pr);
  pr.a.n = 3;
  pr.a.v[0] = 1;
  pr.a.v[1] = 2;
  pr.a.v[2] = 3;
  CHECK_EQ(in_process_task(&pr, &pr.result), 0);
  CHECK_EQ(pr.result, 6);
  CHECK_EQ(atomic_load(&g_finished), 1); /* forked only once the thread job was done */
  intptr_t v;
  CHECK_EQ(lc_await(t, &v), 0);
  lc_task_unref(t);
  intptr_t r = 0;
  CHECK_EQ(lc_run_in_thread(square_job, (void *)(intptr_t)5, &r), 0); /* threads still work */
  CHECK_EQ(r, 25);
  return 0;
}

static void test_process_after_thread(void **state) {
  (void)state;
  need_io();
  need_wakeup();
  lc_run_opts opts = {0};
  opts.process_workers = 1;
  run_main_opts(&opts, t_process_after_thread, NULL);
}

static intptr_t die_job(void *arg) {
  (void)arg;
  _exit(3);
}

/* A worker that dies fails its job with -EPIPE; with none left, calls fail with -ECHILD. */
static int t_process_worker_dies(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  intptr_t r = 0;
  CHECK_EQ(lc_run_in_process(die_job, NULL, 0, &r), -EPIPE);
  CHECK_EQ(lc_run_in_process(pid_job, NULL, 0, &r), -ECHILD);
  return 0;
}

static void test_process_worker_dies(void **state) {
  (void)state;
  need_io();
  lc_run_opts opts = {0};
  opts.process_workers = 1;
  run_main_opts(&opts, t_process_worker_dies, NULL);
}

static int t_process_bad_args(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  intptr_t r;
  CHECK_EQ(lc_run_in_process(NULL, NULL, 0, &r), -EINVAL);
  CHECK_EQ(lc_run_in_process(pid_job, NULL, 4, &r), -EINVAL);
  static const char big = 0;
  CHECK_EQ(lc_run_in_process(pid_job, &big, (size_t)1 << 40, &r), -E2BIG);
  return 0;
}

static void test_process_bad_args(void **state) {
  (void)state;
  need_io();
  run_main(t_process_bad_args, NULL);
}

/* A backend without the optional capability: the executors say -ENOTSUP, nothing breaks. */
static int t_missing_capabilities(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  intptr_t r = 0;
  CHECK_EQ(lc_run_in_thread(square_job, NULL, &r), -ENOTSUP);
  CHECK_EQ(lc_run_in_process(pid_job, NULL, 0, &r), -ENOTSUP);
  return 0;
}

static void test_missing_capabilities(void **state) {
  (void)state;
  struct lc_backend crippled = *g_backend;
  crippled.io_new = NULL;
  crippled.io_start = NULL;
  crippled.io_stop = NULL;
  crippled.io_free = NULL;
  crippled.wakeup_new = NULL;
  crippled.wakeup_send = NULL;
  crippled.wakeup_free = NULL;
  lc_run_opts opts = {0};
  run_main_on(&crippled, &opts, t_missing_capabilities, NULL);
}

int main(void) {
  if (rt_test_load_backend("executor_test") != 0) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thread_outside_task),  cmocka_unit_test(test_thread_basic),
      cmocka_unit_test(test_thread_responsive),    cmocka_unit_test(test_thread_cancel_started),
      cmocka_unit_test(test_thread_cancel_queued), cmocka_unit_test(test_thread_pool_limit),
      cmocka_unit_test(test_process_basic),        cmocka_unit_test(test_process_cancel),
      cmocka_unit_test(test_process_after_thread), cmocka_unit_test(test_process_worker_dies),
      cmocka_unit_test(test_process_bad_args),     cmocka_unit_test(test_missing_capabilities),
  };
  return cmocka_run_group_tests_name("runtime.executor", tests, NULL, NULL);
}
