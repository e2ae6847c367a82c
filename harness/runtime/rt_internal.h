/* rt_internal.h: what the runtime's parts share with each other (not part of the public API).
 *
 * The core (rt_core.h over rt_sched.c, rt_task.c, rt_compose.c and rt_run.c: scheduler, tasks,
 * cancellation, gather, wait_for, timeouts, shield, run)
 * provides parking: a task suspends on an lc_waiter until something unparks it. The
 * synchronisation primitives (rt_sync.c), TaskGroup (rt_taskgroup.c) and executors
 * (rt_executor.c) are built only from parking, lc_spawn/lc_cancel and the backend contract.
 */
#ifndef LC_RT_INTERNAL_H
#define LC_RT_INTERNAL_H

#include "loopconf/runtime.h"

/* A parked task. Lives in lc__park_mem memory for the duration of lc_park (on the parked
 * task's stack in the dedicated-stack mode, off it in LC_STACK_COPY). Primitives keep
 * waiters in their own FIFO lists through next/prev. */
typedef struct lc_waiter {
  lc_task *task;
  struct lc_waiter *next, *prev;
  int rc;        /* set by lc_unpark */
  int woken;     /* 1 once lc_unpark was called for this waiter */
  void *data;    /* free for the primitive's use (e.g. the item a putter carries) */
  int cancelled; /* 1 once a cancellation took this waiter (asyncio: its future was
                    cancelled); sticky: lc_park returns -ECANCELED whatever happens next */
} lc_waiter;

/* A waiter is "done" (asyncio: its future is done) once woken or cancelled. Primitives skip
 * done waiters when they hand something out, as asyncio's _wake_up_next skips done futures,
 * so a cancelled waiter never receives the next release, item or slot. */
static inline int lc__waiter_done(const lc_waiter *w) { return w->woken || w->cancelled; }

/* Memory for what others touch while the calling task is parked (its waiter, wake timer,
 * done records): `local` (size bytes, initialised by the caller, on its stack) is returned as
 * it is in the dedicated-stack mode; in LC_STACK_COPY a copy of it off the task's stack is
 * returned (inside the task when free and small enough, else malloc'ed), since the stack holds
 * other tasks' frames while this one is parked (runtime.h, the rule). NULL on ENOMEM. Every
 * parking function takes its frame from here and gives it back with lc__park_mem_free(p,
 * local) before it returns. Outside a task: `local`. */
extern _Thread_local int lc__tls_copy_mode; /* this thread's run is in LC_STACK_COPY */
void *lc__park_mem_copy(void *local, size_t size);
void lc__park_mem_copy_free(void *p);
static inline void *lc__park_mem(void *local, size_t size) {
  return lc__tls_copy_mode ? lc__park_mem_copy(local, size) : local; /* inline: no cost */
}
static inline void lc__park_mem_free(void *p, void *local) {
  if (p != local) lc__park_mem_copy_free(p);
}
/* 1 if t runs on the run's shared stack (LC_STACK_COPY, any task but main). */
int lc__on_shared_stack(const lc_task *t);

/* [await] Suspend the current task until lc_unpark(w, rc) is called; returns rc. lc_park sets
 * w->task, w->woken = 0, w->cancelled = 0 and w->rc = 0 before it parks and leaves
 * next/prev/data alone, so the primitive may link w into its list before the call. -EPERM
 * outside a task.
 * Cancellation (asyncio's Task.cancel() cancelling the future the task awaits):
 *  - a cancellation pending when lc_park is called: returns -ECANCELED at once without
 *    parking, with w->cancelled = 1;
 *  - lc_cancel on a task parked on a waiter not yet woken sets w->cancelled = 1 at once and
 *    makes the task ready; lc_park then returns -ECANCELED even if lc_uncancel withdraws the
 *    request before the task runs (the future stays cancelled);
 *  - lc_cancel after lc_unpark (woken, not resumed yet): lc_park returns -ECANCELED with
 *    w->woken = 1 and w->cancelled = 0: the waiter was granted something and must hand it on.
 * w->woken always says whether an lc_unpark happened before lc_park returned (so a primitive
 * that hands ownership through lc_unpark, as the executor does, never loses it), but a
 * primitive that mirrors asyncio checks lc__waiter_done(w) and skips cancelled waiters.
 * The caller must remove w from its own lists before returning. (Contract change for issue 9:
 * before it, a cancel then uncancel before the task ran made lc_park return w->rc = 0.) */
int lc_park(lc_waiter *w);

/* Mark w woken with rc and make its task ready (it resumes at the next run of the ready queue,
 * FIFO with everything else). No-op if already woken. On a cancelled waiter it records the
 * wake (w->woken = 1, rc) but the task still gets -ECANCELED. Callable from tasks and
 * callbacks on the loop thread. */
void lc_unpark(lc_waiter *w, int rc);

/* A done callback on a task (asyncio's add_done_callback), in the caller's memory. fn(d, t)
 * runs through the ready queue (call_soon), also when t is done already at lc__done_add; the
 * runtime holds a reference on t while the call is queued. lc__done_remove before d's memory
 * goes away (it also drops a queued call). Loop thread only. */
typedef struct lc__done {
  struct lc__done *next, *prev;
  void (*fn)(struct lc__done *d, lc_task *t);
  void *ctx;
  size_t index;  /* free for the caller (gather: the argument position) */
  int linked;    /* internal: on the task's list */
  int deferred;  /* internal: run through the ready queue */
  int pending;   /* internal: queued */
  lc_task *task; /* internal: while pending, the finished task */
} lc__done;
void lc__done_add(lc_task *t, lc__done *d);
void lc__done_remove(lc_task *t, lc__done *d);

/* Withdraw one cancellation request that the runtime's own machinery made (a TaskGroup or a
 * timeout scope cancelling its task) and returns the remaining count. Unlike lc_uncancel it
 * does not count as the task acknowledging a swallowed cancellation, so a later swallowed one
 * is still reported (LC_REPORT_SWALLOWED_CANCEL). */
int lc__withdraw_cancel(lc_task *t);

/* Keep the loop alive / let it go for work the runtime is waiting on outside of tasks and
 * timers (executor jobs in flight). */
void lc_rt_hold(lc_rt *rt);
void lc_rt_release(lc_rt *rt);

/* Hooks called by lc_run so executors start lazily and stop at shutdown. */
void lc__executor_shutdown(lc_rt *rt);

/* The options lc_run was given (defaults filled in). */
const lc_run_opts *lc_rt_opts(lc_rt *rt);

/* Per-runtime slot for the executor's state (rt_executor.c owns what it points to). */
void **lc_rt_executor_slot(lc_rt *rt);

/* Per-runtime slot for the open lc_portals (rt_threadsafe.c), and the hook lc_run calls once
 * every task is done, before the executors stop: it closes the portals still open. */
void **lc__rt_threadsafe_slot(lc_rt *rt);
void lc__threadsafe_shutdown(lc_rt *rt);

#endif /* LC_RT_INTERNAL_H */
