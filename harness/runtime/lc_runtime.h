/* lc_runtime.h: asyncio semantics in C, written once against the backend contract.
 *
 * Tasks are stackful coroutines on one loop thread. Every call that can suspend ("an await
 * point") returns 0 or a negative code: -ECANCELED when the calling task was cancelled
 * (asyncio's CancelledError), -ETIMEDOUT from wait_for / timeout scopes (TimeoutError), or the
 * error code a failed task returned. Functions marked [await] may only be called from inside a
 * task (elsewhere they return -EPERM); they suspend the caller. A cancellation already pending
 * when an await point is reached is delivered there at once (lc_await/lc_gather hand it on to
 * what they await instead, as asyncio does). Everything else is non-blocking. Nothing here is thread-safe
 * except where it says so (executor jobs run on other threads and touch none of this).
 *
 * Mapping (asyncio -> here):
 *   asyncio.run(main())            lc_run(backend, &opts, main, arg, &result)
 *   asyncio.create_task(coro)      lc_spawn(fn, arg, "name")
 *   await task                     lc_await(task, &result)
 *   asyncio.sleep(s) / sleep(0)    lc_sleep(ns) / lc_yield()
 *   loop.call_soon(cb)             lc_call_soon(cb, arg)
 *   asyncio.gather(*ts)            lc_gather(ts, n, results, errors, flags)
 *   asyncio.wait_for(t, s)         lc_wait_for(task, ns, &result)
 *   async with asyncio.timeout(s)  lc_timeout_enter / lc_timeout_exit
 *   asyncio.shield(t)              lc_shield(task, &result)
 *   task.cancel()/cancelling()/uncancel()   lc_cancel / lc_cancelling / lc_uncancel
 *   Semaphore, BoundedSemaphore, Lock, Event, Queue, TaskGroup: lc_sem, lc_lock, lc_event,
 *   lc_queue, lc_taskgroup
 *   loop.run_in_executor(None, f)  lc_run_in_thread(f, arg, &result)
 *   ProcessPoolExecutor            lc_run_in_process(f, arg, &result)
 *
 * A task's function returns 0 and stores its result in *result, or returns a negative error
 * code (use lc_error() to attach a message). Returning -ECANCELED marks the task cancelled.
 */
#ifndef LC_RUNTIME_H
#define LC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "loopconf/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lc_rt lc_rt;
typedef struct lc_task lc_task;

typedef int (*lc_task_fn)(void *arg, intptr_t *result);

/* ---- Running ----------------------------------------------------------------------------- */

/* What the runtime reports (debug mode, shutdown). */
enum lc_report_kind {
  LC_REPORT_SLOW_STEP = 1,        /* a task step or callback ran longer than the threshold */
  LC_REPORT_UNRETRIEVED_ERROR,    /* a task failed and nobody awaited or asked for its error */
  LC_REPORT_SWALLOWED_CANCEL,     /* a task finished normally with cancel requests pending
                                     and never called lc_uncancel */
  LC_REPORT_CANCELLED_AT_SHUTDOWN /* lc_run cancelled a task left over when main returned */
};

typedef void (*lc_report_fn)(void *ctx, enum lc_report_kind kind, const char *task_name,
                             int64_t duration_ns, const char *message);

typedef struct lc_run_opts {
  int debug;                 /* report slow steps (asyncio's debug mode) */
  int64_t slow_step_ns;      /* threshold; 0 means 100 ms */
  size_t stack_size;         /* per task; 0 means 64 KiB (plus one guard page) */
  int executor_threads;      /* 0 means min(32, cpus + 4), like asyncio */
  int process_workers;       /* 0 means the number of cpus */
  lc_report_fn report;       /* NULL: print one line per report on stderr */
  void *report_ctx;
} lc_run_opts;

/* asyncio.run: create a loop on `backend`, run fn as the main task until it finishes, then
 * cancel every task still pending and run the loop until their cleanup is done, report tasks
 * whose errors nobody retrieved, stop the executors and free everything. Returns the main
 * task's code; its result goes to *result (may be NULL). opts may be NULL (defaults).
 * Unlike asyncio, a deadlock does not hang: when every task waits, nothing is ready, no timer
 * is pending, nothing holds the loop (lc_rt_hold) and the backend has nothing active, the
 * waiting tasks are cancelled (one line on stderr) and lc_run returns -EDEADLK. -EINVAL for a
 * NULL/incompatible backend, NULL fn or a negative option; -EBUSY if this thread already runs
 * one. A backend operation failing inside the runtime (loop_new, timer_new, timer_start, run)
 * stops it at once, with no fallback: the tasks are cancelled and run only up to their next
 * await (nothing can wait any more), lc_run returns that operation's code and lc_run_error()
 * names it. Tasks still referenced after lc_run returns stay valid until
 * their last lc_task_unref.
 * LOOPCONF_CORO=ucontext in the environment runs tasks on the portable context switch. */
int lc_run(const struct lc_backend *backend, const lc_run_opts *opts, lc_task_fn fn, void *arg,
           intptr_t *result);

/* After lc_run returned because a backend operation failed: one line naming the operation and
 * its code ("backend X: run(LC_RUN_ONCE) failed: -5 (Input/output error)"); otherwise NULL.
 * Thread-local; valid until the next lc_run on this thread. */
const char *lc_run_error(void);

lc_rt *lc_rt_current(void);                 /* the runtime of the calling thread, or NULL */
const struct lc_backend *lc_rt_backend(lc_rt *rt);
lc_loop *lc_rt_loop(lc_rt *rt);
int64_t lc_now(void);                       /* monotonic ns, read live (not the loop cache) */

/* Event-loop lag: how late timers and ready tasks were run, measured by the runtime on every
 * iteration (the seeds' "loop lag" metric). */
typedef struct lc_lag_stats {
  int64_t max_ns;
  int64_t total_ns;
  uint64_t samples;
} lc_lag_stats;
void lc_rt_lag(lc_rt *rt, lc_lag_stats *out);
void lc_rt_lag_reset(lc_rt *rt);

/* ---- Tasks ------------------------------------------------------------------------------- */

/* create_task: schedule fn(arg) as a new task. It is scheduled at once; its body starts at a
 * later loop iteration, never inside lc_spawn. The name is copied (NULL: "task-<id>"). The
 * caller gets one reference and must drop it with lc_task_unref (after awaiting, or at once to
 * detach). Returns NULL with errno set on failure (EPERM outside lc_run, ENOMEM). The task's
 * stack is taken when its first step runs; if none can be had then, the task fails with
 * -ENOMEM. Callable from a task or a callback. */
lc_task *lc_spawn(lc_task_fn fn, void *arg, const char *name);
void lc_task_ref(lc_task *t);
void lc_task_unref(lc_task *t);

lc_task *lc_current_task(void);             /* NULL outside a task */
const char *lc_task_name(const lc_task *t);
int lc_task_done(const lc_task *t);         /* finished, failed or cancelled */
int lc_task_cancelled(const lc_task *t);
/* The code the task finished with (0, -ECANCELED, or its error), and marks the error as
 * retrieved. -EAGAIN if not done. */
int lc_task_result(lc_task *t, intptr_t *result);
const char *lc_task_error_message(const lc_task *t); /* "" if none */

/* [await] Wait for t and return its code (result in *result). If the awaiting task is
 * cancelled meanwhile, t is cancelled too (as awaiting a Task in asyncio) and lc_await keeps
 * waiting for t: it returns t's -ECANCELED (or, if t swallows its cancellation, t's code and
 * result, as CPython does). A done t returns at once without suspending. -EDEADLK if t is the
 * caller. */
int lc_await(lc_task *t, intptr_t *result);

/* [await] asyncio.sleep. lc_sleep(0) and lc_yield are a bare yield: every task and callback
 * that is ready runs before the caller resumes. Returns 0 or -ECANCELED. */
int lc_sleep(int64_t delay_ns);
int lc_yield(void);

/* loop.call_soon: run cb(arg) on the loop thread, FIFO. Callbacks scheduled while the ready
 * queue is being run go to the next iteration. Returns 0, -EINVAL (cb NULL), -EPERM (no runtime
 * on this thread) or -ENOMEM. */
int lc_call_soon(void (*cb)(void *arg), void *arg);

/* Attach a message to the current task's failure and return code (for `return lc_error(...)`). */
int lc_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Cancellation ------------------------------------------------------------------------ */

/* task.cancel(): request cancellation. Returns 1 if the request was recorded, 0 if the task is
 * already done. Delivered at the task's current or next await point as -ECANCELED. A task
 * cancelled before its first step never runs its function. Each call adds one to
 * lc_cancelling(t). */
int lc_cancel(lc_task *t);
int lc_cancelling(const lc_task *t);
/* Withdraw one request; returns the remaining count. */
int lc_uncancel(lc_task *t);

/* [await] asyncio.shield(t): await t, but cancelling the caller does not cancel t: the caller
 * gets -ECANCELED, t runs on and keeps its result. If t itself is cancelled by other means,
 * the caller gets -ECANCELED too. */
int lc_shield(lc_task *t, intptr_t *result);

/* ---- gather, wait_for, timeout scopes ---------------------------------------------------- */

enum lc_gather_flags { LC_GATHER_RETURN_EXCEPTIONS = 1 };

/* [await] Wait for n tasks. results[i] (and errors[i] if errors != NULL) in argument order.
 * Default: the first error is returned at once and the other tasks keep running (as CPython;
 * seed 003 is wrong). LC_GATHER_RETURN_EXCEPTIONS: wait for all, errors land in errors[i],
 * returns 0. If the caller is cancelled, every unfinished child is cancelled and -ECANCELED is
 * returned. A child that was cancelled counts as failing with -ECANCELED. When gather returns
 * before every child finished, the unfinished children's slots hold result 0 and error -EAGAIN.
 * results and errors may be NULL. -ENOMEM if the bookkeeping for n children cannot be allocated. */
int lc_gather(lc_task *const *tasks, size_t n, intptr_t *results, int *errors, int flags);

/* [await] asyncio.wait_for: await t for at most timeout_ns. On expiry, cancel t and wait for
 * its cleanup to finish, then return -ETIMEDOUT (so it may overrun). timeout_ns <= 0 cancels at
 * once (and still waits). If t swallows the cancel and returns a value, that value and its code
 * are returned. Cancelling the caller cancels t, waits for it, and returns -ECANCELED (even when
 * t finished at the same moment: 3.12's rule; 3.11 lost the cancellation then). */
int lc_wait_for(lc_task *t, int64_t timeout_ns, intptr_t *result);

/* asyncio.timeout scope, on the caller's stack:
 *     lc_timeout to; lc_timeout_enter(&to, 50 * LC_MS);
 *     int rc = work();               // awaits return -ECANCELED when the deadline passes
 *     rc = lc_timeout_exit(&to, rc); // -ETIMEDOUT if this scope expired and cancelled us
 * Scopes nest; an inner scope's expiry is never reported as the outer's. Only from a task.
 * As CPython (3.12+ rule): the expiry cancels the task; exit withdraws that request and turns
 * rc == -ECANCELED into -ETIMEDOUT only if no other cancel request (made before or during the
 * scope) remains. Equal deadlines fire in the order they were set. */

typedef struct lc_timeout {
  lc_task *task;
  int64_t deadline_ns; /* absolute, lc_now() clock; INT64_MAX for none */
  int expired;         /* 1 once the deadline passed and the scope cancelled its task */
  int state;           /* internal: entered / expiring / expired / exited */
  int cancelling_at_enter; /* lc_cancelling(task) when the scope was entered */
  struct lc_timeout *outer;
} lc_timeout;
/* Open a scope for the calling task. 0, -EPERM outside a task, -ENOMEM. A deadline already
 * past (delay 0) fires at the next loop iteration. */
int lc_timeout_enter(lc_timeout *to, int64_t delay_ns); /* delay < 0 or INT64_MAX: no deadline */
/* Move the deadline (absolute, lc_now() clock; INT64_MAX: none). -EINVAL once it expired or
 * after exit. */
int lc_timeout_reschedule(lc_timeout *to, int64_t deadline_ns);
int lc_timeout_expired(const lc_timeout *to); /* 1 once this scope's deadline cancelled it */
/* Close the scope; returns rc, converted as above. -EINVAL if it is not open, or was not the
 * calling task's innermost scope (it is closed anyway, so no deadline is left behind). */
int lc_timeout_exit(lc_timeout *to, int rc);

/* ---- Synchronisation primitives (all FIFO, no barging) ----------------------------------- */

typedef struct lc_sem lc_sem;
lc_sem *lc_sem_new(int value);          /* Semaphore */
lc_sem *lc_bounded_sem_new(int value);  /* BoundedSemaphore: release above value is -EOVERFLOW */
void lc_sem_free(lc_sem *s);
int lc_sem_acquire(lc_sem *s);          /* [await] 0 or -ECANCELED (no unit is lost) */
int lc_sem_release(lc_sem *s);          /* 0, or -EOVERFLOW for a bounded over-release */
int lc_sem_value(const lc_sem *s);
int lc_sem_locked(const lc_sem *s);

typedef struct lc_lock lc_lock;
lc_lock *lc_lock_new(void);
void lc_lock_free(lc_lock *l);
int lc_lock_acquire(lc_lock *l);        /* [await] */
int lc_lock_release(lc_lock *l);        /* -EPERM if not locked */
int lc_lock_locked(const lc_lock *l);

typedef struct lc_event lc_event;
lc_event *lc_event_new(void);
void lc_event_free(lc_event *e);
void lc_event_set(lc_event *e);
void lc_event_clear(lc_event *e);
int lc_event_is_set(const lc_event *e);
int lc_event_wait(lc_event *e);         /* [await] */

typedef struct lc_queue lc_queue;
lc_queue *lc_queue_new(size_t maxsize); /* 0: unbounded */
void lc_queue_free(lc_queue *q);
int lc_queue_put(lc_queue *q, intptr_t item);      /* [await] suspends while full */
int lc_queue_get(lc_queue *q, intptr_t *item);     /* [await] suspends while empty */
int lc_queue_put_nowait(lc_queue *q, intptr_t item); /* -EAGAIN when full */
int lc_queue_get_nowait(lc_queue *q, intptr_t *item); /* -EAGAIN when empty */
int lc_queue_task_done(lc_queue *q);    /* -EINVAL if called more times than items were put */
int lc_queue_join(lc_queue *q);         /* [await] until every item got its task_done */
size_t lc_queue_size(const lc_queue *q);
/* Python 3.13 Queue.shutdown: put fails with -ESHUTDOWN from now on; get drains what is left,
 * then fails with -ESHUTDOWN. immediate: drop the items too and release join(). Waiters
 * blocked in put/get are woken with -ESHUTDOWN. */
void lc_queue_shutdown(lc_queue *q, int immediate);

/* ---- TaskGroup ----------------------------------------------------------------------------
 *     lc_taskgroup *tg = lc_taskgroup_new();
 *     lc_taskgroup_spawn(tg, fn, arg, "child");   // as many as needed
 *     int rc = body_work();                       // may be cancelled if a child fails
 *     rc = lc_taskgroup_wait(tg, rc);             // the `async with` exit
 * lc_taskgroup_wait waits for every child. The first child failure (other than cancellation)
 * cancels the other children and the body's task; the group refuses new children. It returns 0,
 * or the first failure's code once all children are done; every failure is listed by
 * lc_taskgroup_errors. A failing body (rc < 0 and not the group's own cancel) counts the same.
 * The cancellation the group sent to the body is withdrawn (uncancel) at exit. */
typedef struct lc_taskgroup lc_taskgroup;
typedef struct lc_tg_error {
  const char *task_name;
  int code;
  const char *message;
} lc_tg_error;
lc_taskgroup *lc_taskgroup_new(void);
lc_task *lc_taskgroup_spawn(lc_taskgroup *tg, lc_task_fn fn, void *arg, const char *name);
                                        /* NULL, errno=ESHUTDOWN, once the group is failing */
int lc_taskgroup_wait(lc_taskgroup *tg, int body_rc); /* [await] */
size_t lc_taskgroup_errors(const lc_taskgroup *tg, const lc_tg_error **out);
void lc_taskgroup_free(lc_taskgroup *tg);

/* ---- Executors ---------------------------------------------------------------------------- */

typedef intptr_t (*lc_job_fn)(void *arg);

/* [await] Run fn(arg) on the runtime's thread pool; its return value arrives in *result on the
 * loop thread. The loop keeps running meanwhile. If the caller is cancelled, lc_run_in_thread
 * returns -ECANCELED at once, but a job that already started runs to completion (its result is
 * dropped). */
int lc_run_in_thread(lc_job_fn fn, void *arg, intptr_t *result);

/* [await] Run fn(arg) in a worker process of the runtime's process pool (pre-forked, so fn
 * must be a function of this program). arg points to arg_len bytes copied to the worker; the
 * intptr_t return value comes back. For CPU-bound work. */
int lc_run_in_process(lc_job_fn fn, const void *arg, size_t arg_len, intptr_t *result);

#ifdef __cplusplus
}
#endif

#endif /* LC_RUNTIME_H */
