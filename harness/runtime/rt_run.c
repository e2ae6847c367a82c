/* rt_run.c: the runtime core's lc_run: asyncio.run, its shutdown and the backend's failure. */
#include "rt_core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "loopconf/backend_check.h"
#include "loopconf/clock.h"

/* ==== lc_run =============================================================================== */

static int default_executor_threads(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  return cpus + 4 > 32 ? 32 : (int)cpus + 4;
}

/* Cancel every live task not yet cancelled by the shutdown. After the first round (asyncio:
 * the all_tasks() list taken once), a task that has not started yet is left to start first
 * (SHUTDOWN-CLEANUP-SPAWN): it is cancelled in a later round. */
static void rt_cancel_leftovers(lc_rt *rt, int first) {
  for (lc_task *t = rt->live_head; t; t = t->live_next) {
    if (t->shutdown_cancelled || (!first && t->state == T_NEW)) continue;
    t->shutdown_cancelled = 1;
    rt->shutdown_pending++;
    lc_cancel(t);
    lc__report(rt, LC_REPORT_CANCELLED_AT_SHUTDOWN, t->name, 0,
               "still pending when the main task returned; cancelled");
  }
}

int lc_run(const struct lc_backend *b, const lc_run_opts *opts, lc_task_fn fn, void *arg,
           intptr_t *result) {
  if (!b || !fn) {
    fprintf(stderr, "lc_run: %s is NULL\n", !b ? "backend" : "main function");
    return -EINVAL;
  }
  char why[256];
  if (lc_backend_validate(b, why, sizeof why) < 0) { /* the same rule as every loader */
    fprintf(stderr, "lc_run: %s\n", why);
    return -EINVAL;
  }
  if (opts && (opts->slow_step_ns < 0 || opts->executor_threads < 0 || opts->process_workers < 0)) {
    fprintf(stderr,
            "lc_run: negative option (slow_step_ns, executor_threads or "
            "process_workers)\n");
    return -EINVAL;
  }
  if (lc__tls_rt) {
    fprintf(stderr, "lc_run: a runtime is already running on this thread\n");
    return -EBUSY;
  }
  lc_rt *rt = calloc(1, sizeof *rt);
  if (!rt) return -ENOMEM;
  if (opts) rt->opts = *opts;
  if (rt->opts.slow_step_ns == 0) rt->opts.slow_step_ns = 100 * LC_MS;
  if (rt->opts.stack_size == 0) rt->opts.stack_size = 64 * 1024;
  if (rt->opts.executor_threads == 0) rt->opts.executor_threads = default_executor_threads();
  if (rt->opts.process_workers == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    rt->opts.process_workers = cpus < 1 ? 1 : (int)cpus;
  }
  /* LOOPCONF_CORO=ucontext runs the tasks on the portable switch (for comparisons). */
  const char *impl = getenv("LOOPCONF_CORO");
  rt->coro_impl = impl && strcmp(impl, "ucontext") == 0 ? LC_CORO_UCONTEXT : LC_CORO_ASM;
  /* LOOPCONF_STACK=copy|dedicated overrides opts->stack_mode (whole runs switch mode). */
  const char *mode = getenv("LOOPCONF_STACK");
  if (mode && *mode) {
    if (strcmp(mode, "copy") == 0) rt->opts.stack_mode = LC_STACK_COPY;
    else if (strcmp(mode, "dedicated") == 0) rt->opts.stack_mode = LC_STACK_DEDICATED;
    else {
      fprintf(stderr, "lc_run: LOOPCONF_STACK='%s': expected 'copy' or 'dedicated'\n", mode);
      free(rt);
      return -EINVAL;
    }
  }
  if (rt->opts.stack_mode != LC_STACK_DEDICATED && rt->opts.stack_mode != LC_STACK_COPY) {
    fprintf(stderr, "lc_run: unknown stack_mode %d\n", (int)rt->opts.stack_mode);
    free(rt);
    return -EINVAL;
  }
  rt->stack_mode = rt->opts.stack_mode;
  if (rt->stack_mode == LC_STACK_COPY) {
    if (rt->coro_impl != LC_CORO_ASM || !lc_coro_asm_available()) {
      fprintf(stderr, "lc_run: the copy-stack mode needs the assembly context switch%s\n",
              rt->coro_impl != LC_CORO_ASM ? " (LOOPCONF_CORO=ucontext is set)" : "");
      free(rt);
      return -ENOTSUP;
    }
    if (!(rt->shared = lc_coro_shared_new(rt->opts.stack_size))) {
      int e = errno ? errno : ENOMEM;
      fprintf(stderr, "lc_run: cannot map the shared task stack: %s\n", strerror(e));
      free(rt);
      return -e;
    }
  }
  rt->yield_w.woken = 1;
  rt->b = b;
  rt->armed_deadline = INT64_MAX;
  lc__run_error[0] = '\0';
  int rc = b->loop_new(&rt->loop);
  if (rc) {
    snprintf(lc__run_error, sizeof lc__run_error, "backend %s: loop_new failed: %d (%s)", b->name,
             rc, strerror(-rc));
    fprintf(stderr, "lc_run: %s\n", lc__run_error);
    lc_coro_shared_free(rt->shared);
    free(rt);
    return rc;
  }
  if ((rc = b->timer_new(rt->loop, lc__btimer_cb, rt, &rt->btimer)) != 0) {
    snprintf(lc__run_error, sizeof lc__run_error, "backend %s: timer_new failed: %d (%s)", b->name,
             rc, strerror(-rc));
    fprintf(stderr, "lc_run: %s\n", lc__run_error);
    b->loop_free(rt->loop);
    lc_coro_shared_free(rt->shared);
    free(rt);
    return rc;
  }
  rt->main_co = lc_coro_main();
  lc__tls_rt = rt;
  lc__tls_copy_mode = rt->shared != NULL;

  int main_rc = 0;
  intptr_t main_result = 0;
  lc_task *main_task = lc_spawn(fn, arg, "main");
  if (!main_task) {
    main_rc = -(errno ? errno : ENOMEM);
    fprintf(stderr, "lc_run: cannot start the main task: %s\n", strerror(-main_rc));
  } else {
    rt->main_task = main_task;
    while (main_task->state != T_DONE && !rt->gave_up) lc__iterate(rt);
    int deadlocked = rt->deadlocks > 0;
    if (main_task->state == T_DONE) main_rc = lc_task_result(main_task, &main_result);
    if (deadlocked || rt->gave_up) main_rc = -EDEADLK;
    if (rt->backend_rc) main_rc = rt->backend_rc;

    /* asyncio.run's shutdown: cancel the leftovers and let their cleanup run; tasks spawned
     * by the cleanup get their turn once the first leftovers are done. */
    /* asyncio's run_until_complete stops the loop through main's done callback (call_soon):
     * the iteration that runs it runs in full, so what main spawned last still starts. */
    if (main_task->state == T_DONE && !rt->gave_up && lc__rq_reserve(rt, 1) == 0 &&
        lc__rq_push(rt, lc__noop_entry, NULL) == 0)
      lc__iterate(rt);
    rt->draining = 1;
    rt->deadlocks = 0;
    int first_round = 1;
    /* Callbacks still queued get up to 100 more iterations (asyncio.run also keeps its loop
     * running to shut down generators and the executor); anything they spawn is cancelled in
     * turn. A callback that reschedules itself forever is dropped after that. */
    for (int extra = 0; !rt->gave_up;) {
      if (rt->live_count > 0) {
        if (rt->shutdown_pending == 0) rt_cancel_leftovers(rt, first_round);
        first_round = 0;
      } else if (rt->rq_len == 0 || extra++ >= 100) {
        break;
      }
      lc__iterate(rt);
    }
    if (rt->backend_rc) lc__unwind_without_backend(rt);
  }

  lc__threadsafe_shutdown(rt);
  lc__executor_shutdown(rt);

  /* Errors nobody retrieved, of tasks somebody still holds; then detach those tasks so their
   * last lc_task_unref (even after lc_run) frees them without the runtime. */
  while (rt->all_head) {
    lc_task *t = rt->all_head;
    if (t->state == T_DONE && t->code < 0 && t->code != -ECANCELED && !t->retrieved &&
        !t->reported && t != main_task)
      lc__report_unretrieved(rt, t);
    lc__all_unlink(rt, t);
    t->rt = NULL;
  }
  if (main_task) lc_task_unref(main_task);

  /* Callbacks still queued now are dropped, as when asyncio closes its loop. */
  lc__handles_drop(rt);
  if (rt->btimer) b->timer_free(rt->btimer);
  rc = b->loop_free(rt->loop);
  if (rc)
    fprintf(stderr, "lc_run: backend %s: loop_free failed: %s (a handle was not freed)\n", b->name,
            strerror(-rc));
  if (result) *result = main_result;
  free(rt->rq);
  free(rt->heap);
  lc__tls_rt = NULL;
  lc__tls_copy_mode = 0;
  lc_coro_shared_free(rt->shared); /* every task's coroutine is freed (or leaked) by now */
  free(rt);
  lc_coro_pool_trim();
  return main_rc;
}
