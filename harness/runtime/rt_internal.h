/* rt_internal.h: what the runtime's parts share with each other (not part of the public API).
 *
 * The core (rt_core.c: scheduler, tasks, cancellation, gather, wait_for, timeouts, shield, run)
 * provides parking: a task suspends on an lc_waiter until something unparks it. The
 * synchronisation primitives (rt_sync.c), TaskGroup (rt_taskgroup.c) and executors
 * (rt_executor.c) are built only from parking, lc_spawn/lc_cancel and the backend contract.
 */
#ifndef LC_RT_INTERNAL_H
#define LC_RT_INTERNAL_H

#include "loopconf/runtime.h"

/* A parked task. Lives on the parked task's stack for the duration of lc_park. Primitives keep
 * waiters in their own FIFO lists through next/prev. */
typedef struct lc_waiter {
  lc_task *task;
  struct lc_waiter *next, *prev;
  int rc;     /* set by lc_unpark */
  int woken;  /* 1 once lc_unpark was called for this waiter */
  void *data; /* free for the primitive's use (e.g. the item a putter carries) */
} lc_waiter;

/* [await] Suspend the current task until lc_unpark(w, rc) is called; returns rc. lc_park sets
 * w->task, w->woken = 0 and w->rc = 0 before it parks and leaves next/prev/data alone, so the
 * primitive may link w into its list before the call. -EPERM outside a task.
 * If a cancellation is pending when lc_park is called, returns -ECANCELED at once without
 * parking. If the task is cancelled while parked, lc_park returns -ECANCELED: then w->woken
 * says whether an lc_unpark had already happened (a woken-then-cancelled waiter, which must hand
 * on whatever it was granted). The caller must remove w from its own lists before returning. */
int lc_park(lc_waiter *w);

/* Mark w woken with rc and make its task ready (it resumes at the next run of the ready queue,
 * FIFO with everything else). No-op if already woken. Callable from tasks and callbacks on the
 * loop thread. */
void lc_unpark(lc_waiter *w, int rc);

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

#endif /* LC_RT_INTERNAL_H */
