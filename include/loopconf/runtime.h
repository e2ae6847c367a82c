/* loopconf/runtime.h: asyncio semantics in C, written once against the backend contract.
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
#ifndef LOOPCONF_RUNTIME_H
#define LOOPCONF_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

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

/* Where tasks' stacks live (lc_run_opts.stack_mode).
 * LC_STACK_DEDICATED (default): every task has its own stack (opts.stack_size, pooled).
 * LC_STACK_COPY (small-memory mode): every spawned task of the run executes on one shared
 *   stack of opts.stack_size bytes (the main task keeps a stack of its own, so its locals may
 *   be shared as in the dedicated mode); when a task suspends and another runs, the used part
 *   of its stack
 *   (a few hundred bytes for a task parked in lc_sleep) is copied out to the heap and back in
 *   when it resumes. A suspended task then costs well under 1 KiB instead of a page or more,
 *   and each switch to a different task costs two copies of its frames.
 * THE RULE in LC_STACK_COPY: while a spawned task is suspended (at any [await] call), its
 *   stack holds another task's frames, so NO pointer to its locals may be used by anyone
 *   else: not by another task, a callback, another thread, or an lc_spawn'ed task's argument
 *   read after the spawner awaits. Share heap or static memory instead. The runtime keeps this
 *   rule for its own API: everything it links or writes while a task is parked (waiters, wake
 *   timers, done records, gather's state) lives off that task's stack, and the out-pointers
 *   of awaits (lc_gather's results and errors arrays, lc_gather's tasks array, lc_wait's done
 *   array, lc_queue_get's item, executor results, lc_await's result) are written only after the
 *   task has resumed, and lc_timeout scopes may be on the task's own stack. So passing a
 *   local array to lc_gather is fine in both modes; passing &local to another task is not.
 * LOOPCONF_STACK=copy or LOOPCONF_STACK=dedicated in the environment overrides the field (so
 * a whole conformance run or benchmark can be switched). LC_STACK_COPY needs the assembly
 * context switch (x86-64, aarch64): with LOOPCONF_CORO=ucontext lc_run fails with -ENOTSUP. */
enum lc_stack_mode { LC_STACK_DEDICATED = 0, LC_STACK_COPY = 1 };

typedef struct lc_run_opts {
  int debug;            /* report slow steps (asyncio's debug mode) */
  int64_t slow_step_ns; /* threshold; 0 means 100 ms */
  size_t stack_size;    /* per task; 0 means 64 KiB (plus one guard page) */
  int executor_threads; /* 0 means min(32, cpus + 4), like asyncio */
  int process_workers;  /* 0 means the number of cpus */
  lc_report_fn report;  /* NULL: print one line per report on stderr */
  void *report_ctx;
  enum lc_stack_mode stack_mode; /* LC_STACK_DEDICATED (0) unless set; see above */
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
 * LOOPCONF_CORO=ucontext in the environment runs tasks on the portable context switch;
 * LOOPCONF_STACK=copy|dedicated overrides opts->stack_mode (any other value: -EINVAL). */
int lc_run(const struct lc_backend *backend, const lc_run_opts *opts, lc_task_fn fn, void *arg,
           intptr_t *result);

/* After lc_run returned because a backend operation failed: one line naming the operation and
 * its code ("backend X: run(LC_RUN_ONCE) failed: -5 (Input/output error)"); otherwise NULL.
 * Thread-local; valid until the next lc_run on this thread. */
const char *lc_run_error(void);

lc_rt *lc_rt_current(void);                     /* the runtime of the calling thread, or NULL */
enum lc_stack_mode lc_rt_stack_mode(lc_rt *rt); /* the mode this run uses (env applied) */
const struct lc_backend *lc_rt_backend(lc_rt *rt);
lc_loop *lc_rt_loop(lc_rt *rt);
int64_t lc_now(void); /* monotonic ns, read live (not the loop cache) */

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

lc_task *lc_current_task(void); /* NULL outside a task */
const char *lc_task_name(const lc_task *t);
int lc_task_done(const lc_task *t); /* finished, failed or cancelled */
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
  int64_t deadline_ns;     /* absolute, lc_now() clock; INT64_MAX for none */
  int expired;             /* 1 once the deadline passed and the scope cancelled its task */
  int state;               /* internal: entered / expiring / expired / exited */
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
lc_sem *lc_sem_new(int value);         /* Semaphore */
lc_sem *lc_bounded_sem_new(int value); /* BoundedSemaphore: release above value is -EOVERFLOW */
void lc_sem_free(lc_sem *s);
int lc_sem_acquire(lc_sem *s); /* [await] 0 or -ECANCELED (no unit is lost) */
int lc_sem_release(lc_sem *s); /* 0, or -EOVERFLOW for a bounded over-release */
int lc_sem_value(const lc_sem *s);
int lc_sem_locked(const lc_sem *s);

typedef struct lc_lock lc_lock;
lc_lock *lc_lock_new(void);
void lc_lock_free(lc_lock *l);
int lc_lock_acquire(lc_lock *l); /* [await] */
int lc_lock_release(lc_lock *l); /* -EPERM if not locked */
int lc_lock_locked(const lc_lock *l);

typedef struct lc_event lc_event;
lc_event *lc_event_new(void);
void lc_event_free(lc_event *e);
void lc_event_set(lc_event *e);
void lc_event_clear(lc_event *e);
int lc_event_is_set(const lc_event *e);
int lc_event_wait(lc_event *e); /* [await] */

typedef struct lc_queue lc_queue;
lc_queue *lc_queue_new(size_t maxsize); /* 0: unbounded */
void lc_queue_free(lc_queue *q);
int lc_queue_put(lc_queue *q, intptr_t item);         /* [await] suspends while full */
int lc_queue_get(lc_queue *q, intptr_t *item);        /* [await] suspends while empty */
int lc_queue_put_nowait(lc_queue *q, intptr_t item);  /* -EAGAIN when full */
int lc_queue_get_nowait(lc_queue *q, intptr_t *item); /* -EAGAIN when empty */
int lc_queue_task_done(lc_queue *q); /* -EINVAL if called more times than items were put */
int lc_queue_join(lc_queue *q);      /* [await] until every item got its task_done */
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

/* ---- Streams ------------------------------------------------------------------------------
 * Task I/O built only on the backend contract's io ops (io_new/io_start/io_stop/io_free), so
 * it runs on every backend; where the backend has no io ops every call here returns -ENOTSUP.
 * Every [await] below follows the rules of every other await point: a cancellation (lc_cancel,
 * a timeout scope, wait_for) makes it return -ECANCELED at once and takes its waiter off.
 *
 * Mapping (asyncio -> here):
 *   loop.add_reader / sock_recv readiness  lc_io_wait(fd, LC_READABLE, &revents)
 *   asyncio.open_connection(host, port)    lc_open_connection(host, port, &stream)
 *   asyncio.open_unix_connection(path)     lc_open_unix_connection(path, &stream)
 *   asyncio.start_server(cb, host, port)   lc_start_server(host, port, fn, arg, &server)
 *   reader.read(n) / readexactly(n)        lc_stream_read / lc_stream_readexactly
 *   reader.readuntil(sep) / readline()     lc_stream_readuntil / lc_stream_readline
 *   reader.at_eof()                        lc_stream_at_eof
 *   writer.write(b) / drain() / write_eof  lc_stream_write / lc_stream_drain / lc_stream_write_eof
 *   writer.close() / wait_closed()         lc_stream_close / lc_stream_wait_closed
 *   IncompleteReadError                    -ENODATA, *partial = bytes read (copied into buf)
 *   LimitOverrunError                      -EMSGSIZE, *partial = asyncio's .consumed
 * One stream is both the reader and the writer. Addresses are numeric (127.0.0.1, ::1): no name
 * lookup happens on the loop thread. Errors are negative errno: -ECONNREFUSED, -ECONNRESET,
 * -EPIPE, -ETIMEDOUT (from a timeout scope), -ECANCELED. Writes never raise SIGPIPE. */

/* [await] Wait until fd is ready for `events` (LC_READABLE and/or LC_WRITABLE). *revents (may be
 * NULL) gets what the backend reported, LC_IO_ERROR included. 0, -ECANCELED, -EINVAL (bad fd or
 * events), -ENOTSUP (backend without io), -EPERM outside a task, or the backend's error. The fd
 * must not be watched by anything else meanwhile (a stream's own fd included): whether a
 * backend accepts two watchers on one fd is up to the backend. */
int lc_io_wait(int fd, unsigned events, unsigned *revents);
int lc_wait_readable(int fd); /* lc_io_wait(fd, LC_READABLE, NULL) */
int lc_wait_writable(int fd); /* lc_io_wait(fd, LC_WRITABLE, NULL) */

typedef struct lc_stream lc_stream;
typedef struct lc_server lc_server;

/* [await] Connect (non-blocking connect, awaited) and wrap the socket in a stream. host is a
 * numeric IPv4 or IPv6 address. 0 and *out, or -errno (-ECONNREFUSED, -EINVAL for a host that
 * is not numeric, -ECANCELED: then no fd is left open). Free the stream with lc_stream_free. */
int lc_open_connection(const char *host, int port, lc_stream **out);
int lc_open_unix_connection(const char *path, lc_stream **out);
/* Wrap a connected stream socket the caller hands over (made non-blocking here); NULL with
 * errno set on failure (the fd is then still the caller's). Must run inside lc_run. */
lc_stream *lc_stream_adopt(int fd);

/* Reading. The stream reads into its buffer in the background (up to twice the limit, more
 * while a read waits for more), so bytes that arrived before a read was cancelled are returned
 * by the next read. One reader at a time: a second concurrent read returns -EBUSY.
 * [await] read: up to n bytes as soon as any are buffered; 0 at EOF. Buffered bytes are
 * returned before a connection error (-ECONNRESET) is. */
ssize_t lc_stream_read(lc_stream *s, void *buf, size_t n);
/* [await] exactly n bytes (n, copied to buf), or -ENODATA at EOF with the *partial bytes that
 * were buffered copied to buf and consumed (partial may be NULL). */
ssize_t lc_stream_readexactly(lc_stream *s, void *buf, size_t n, size_t *partial);
/* [await] up to and including the first `sep` (its length is returned). The data before the
 * separator may not exceed the stream's limit (lc_stream_set_limit, default 64 KiB) nor cap minus
 * the separator's length: else -EMSGSIZE, nothing consumed, *partial = how many bytes may be
 * skipped (LimitOverrunError.consumed). At EOF without the separator: -ENODATA, the bytes (up
 * to cap) copied, all consumed, *partial = their count. */
ssize_t lc_stream_readuntil(lc_stream *s, const void *sep, size_t seplen, void *buf, size_t cap,
                            size_t *partial);
/* [await] readuntil("\n"), but at EOF the partial line is returned (0 if nothing is left), and
 * on a limit overrun the line (or the whole buffer) is discarded and -EMSGSIZE returned. */
ssize_t lc_stream_readline(lc_stream *s, void *buf, size_t cap);
int lc_stream_at_eof(const lc_stream *s);            /* EOF seen and nothing left in the buffer */
size_t lc_stream_buffered(const lc_stream *s);       /* bytes waiting in the read buffer */
int lc_stream_set_limit(lc_stream *s, size_t limit); /* -EINVAL for 0 */

/* Writing. write never blocks: it sends what the kernel takes at once and queues the rest,
 * which the stream sends in the background. 0, or the connection's error once it is lost
 * (-EPIPE, -ECONNRESET), or -EPIPE after close/write_eof. */
int lc_stream_write(lc_stream *s, const void *data, size_t n);
/* [await] Back-pressure: returns at once while the queue is at most the high-water mark; else
 * waits until it has fallen to the low-water mark. A cancelled drain returns -ECANCELED and
 * leaves the unsent bytes queued. Returns the connection's error once it is lost. */
int lc_stream_drain(lc_stream *s);
/* asyncio's defaults: high 64 KiB, low high/4. -EINVAL if low > high. */
int lc_stream_set_write_limits(lc_stream *s, size_t high, size_t low);
size_t lc_stream_write_buffered(const lc_stream *s);
int lc_stream_write_eof(lc_stream *s); /* shutdown(SHUT_WR) once the queue is sent */

/* close: stop reading, send what is queued, then close the fd. wait_closed [await] returns once
 * it is closed (0, or the error that ended the connection). free: close at once if still open
 * (queued bytes are dropped) and release the stream; no task may be waiting on it then. */
void lc_stream_close(lc_stream *s);
int lc_stream_wait_closed(lc_stream *s);
void lc_stream_free(lc_stream *s);
int lc_stream_fd(const lc_stream *s); /* -1 once closed */

/* Kernel receive timestamps, for clients that measure themselves (no asyncio counterpart).
 * lc_stream_rx_timestamps asks the kernel to stamp the data arriving on the stream's socket
 * (SO_TIMESTAMPNS): 0, or -errno when the socket refuses. From then on lc_stream_rx_time is when
 * the newest bytes read from the socket had arrived, on the lc_now() clock, or 0 when the kernel
 * gave no stamp for them; the time from then to a task's read is how long the data waited for
 * this process (its loop and its other tasks), not for the peer. */
int lc_stream_rx_timestamps(lc_stream *s);
int64_t lc_stream_rx_time(const lc_stream *s);

/* Servers. lc_start_server listens on host:port (port 0: the kernel picks one, see
 * lc_server_port) with a backlog of SOMAXCONN and, for every accepted connection, spawns a task
 * named "<name>-<n>" (name "conn" unless lc_server_set_name; n counts from 1 in accept order)
 * that runs fn(stream, arg); when fn returns the stream is closed (queued bytes sent) and freed
 * (fn must not free it), and a negative code from fn is reported like any failed task nobody
 * awaited (asyncio logs an unhandled exception in client_connected_cb).
 * close stops accepting at once (new connections are refused); connections already open are
 * served on. wait_closed [await] returns once the server is closed and every connection task
 * has finished (Python 3.12's rule). Close and free a server before main returns. */
typedef int (*lc_conn_fn)(lc_stream *s, void *arg);
int lc_start_server(const char *host, int port, lc_conn_fn fn, void *arg, lc_server **out);
int lc_start_unix_server(const char *path, lc_conn_fn fn, void *arg, lc_server **out);
int lc_server_set_name(lc_server *srv, const char *name); /* at most 31 bytes */
int lc_server_port(const lc_server *srv);                 /* the bound TCP port, or -1 */
size_t lc_server_connections(const lc_server *srv);       /* connection tasks still running */
void lc_server_close(lc_server *srv);
int lc_server_wait_closed(lc_server *srv);
int lc_server_free(lc_server *srv); /* -EBUSY (nothing freed) while connections remain */
/* ---- Queue state (asyncio's empty() / full()) -------------------------------------------
 * lc_queue_size counts only the items really in the queue (qsize()); nothing is reserved for
 * a woken getter or putter: it re-checks when it runs, and a newcomer's get_nowait/put_nowait
 * may take the item or slot first (it then waits again at the back), as in asyncio. */
int lc_queue_empty(const lc_queue *q); /* 1 if no item is queued */
int lc_queue_full(const lc_queue *q);  /* 1 if maxsize > 0 and size >= maxsize */

/* ---- Condition (asyncio.Condition, CPython 3.11) -----------------------------------------
 *     lc_cond *c = lc_cond_new(NULL);          // or over an existing lc_lock
 *     lc_cond_acquire(c);
 *     while (!ready) lc_cond_wait(c);          // or lc_cond_wait_for(c, pred, arg)
 *     lc_cond_release(c);
 * wait releases the lock, waits for a notify, and re-acquires the lock before it returns, also
 * when it was cancelled (then it returns -ECANCELED with the lock held). notify(n) wakes the
 * first n waiters, notify_all every one; a woken waiter returns only once it holds the lock.
 * As 3.11, a waiter notified and cancelled before it resumed does not pass the notification
 * on (3.13 re-notifies). wait and notify without the lock held: -EPERM (RuntimeError). */
typedef struct lc_cond lc_cond;
lc_cond *lc_cond_new(lc_lock *lock); /* NULL: a new lock of its own; NULL on ENOMEM */
void lc_cond_free(lc_cond *c);       /* frees its own lock, never a caller's */
lc_lock *lc_cond_lock(lc_cond *c);
int lc_cond_acquire(lc_cond *c); /* [await] */
int lc_cond_release(lc_cond *c);
int lc_cond_locked(const lc_cond *c);
int lc_cond_wait(lc_cond *c); /* [await] 0, -ECANCELED (lock held either way), -EPERM */
/* [await] Wait until pred(arg) is nonzero, checking it first and after every wake-up. 0 once
 * it holds; -ECANCELED, -EPERM from the wait; -EINVAL for a NULL pred. */
int lc_cond_wait_for(lc_cond *c, int (*pred)(void *arg), void *arg);
int lc_cond_notify(lc_cond *c, size_t n); /* 0 or -EPERM */
int lc_cond_notify_all(lc_cond *c);

/* ---- call_later / call_at (asyncio.TimerHandle) ------------------------------------------
 * Schedule cb(arg) on the loop thread at when_ns (lc_now() clock) or after delay_ns. Due
 * callbacks run in the iteration that finds them due, after the entries already ready
 * (SCHED-TIMER-AFTER-READY); equal deadlines in the order they were set. The handle is the
 * caller's to drop with lc_handle_unref (dropping it does not cancel the call). NULL with
 * errno EPERM outside lc_run, EINVAL for a NULL cb, ENOMEM. Callbacks still scheduled when
 * lc_run returns are dropped, as when asyncio closes its loop. */
typedef struct lc_handle lc_handle;
lc_handle *lc_call_later(int64_t delay_ns, void (*cb)(void *arg), void *arg);
lc_handle *lc_call_at(int64_t when_ns, void (*cb)(void *arg), void *arg);
int lc_handle_cancel(lc_handle *h); /* 1 if it was still scheduled, else 0 */
int lc_handle_cancelled(const lc_handle *h);
int64_t lc_handle_when(const lc_handle *h); /* the absolute deadline (TimerHandle.when()) */
void lc_handle_unref(lc_handle *h);

/* ---- asyncio.wait and as_completed ---------------------------------------------------------
 * lc_wait: [await] wait until `mode` holds for the n tasks, or timeout_ns passed (< 0: no
 * timeout). LC_FIRST_COMPLETED: one is done; LC_FIRST_EXCEPTION: one failed with an error
 * other than cancellation, or all are done; LC_ALL_COMPLETED: all are done. done[i] (may be
 * NULL) is set to 1 for the tasks done on return, 0 for the pending ones; *ndone (may be NULL)
 * counts them. Returns 0 also on timeout (asyncio returns (done, pending)); -ECANCELED if the
 * caller is cancelled (the tasks are NOT cancelled); -EINVAL for n == 0 or a bad mode. As
 * CPython 3.11, it always suspends, even when the condition already holds (the tasks report
 * through call_soon). Results are not retrieved: use lc_task_result. */
enum lc_wait_mode { LC_FIRST_COMPLETED = 1, LC_FIRST_EXCEPTION, LC_ALL_COMPLETED };
int lc_wait(lc_task *const *tasks, size_t n, int mode, int64_t timeout_ns, unsigned char *done,
            size_t *ndone);

/* as_completed: tasks in the order they finish. lc_as_completed_next [await] returns the next
 * finished task's code (its result in *result, the task in *task, not referenced again), or
 * -ETIMEDOUT once timeout_ns (< 0: none, counted from lc_as_completed_new) passed with tasks
 * still pending (every later call also returns -ETIMEDOUT), or -ENOENT when all n were
 * returned. NULL with errno EPERM/ENOMEM. Free with lc_as_completed_free (not while a task
 * waits in _next). */
typedef struct lc_as_completed lc_as_completed;
lc_as_completed *lc_as_completed_new(lc_task *const *tasks, size_t n, int64_t timeout_ns);
int lc_as_completed_next(lc_as_completed *ac, lc_task **task, intptr_t *result);
void lc_as_completed_free(lc_as_completed *ac);

/* ---- Cancel messages, task names, timeout_at, wait_for(None), shield inside wait_for ------
 * lc_cancel_msg: task.cancel(msg). As lc_cancel; the message reaches the cancelled task (and,
 * as in asyncio, a task it awaits): lc_cancel_message(t) returns the first message of the
 * current round of requests (a request made while lc_cancelling(t) was 0 starts a round), ""
 * if none. Kept after delivery and after lc_uncancel, until the next round. */
int lc_cancel_msg(lc_task *t, const char *msg);
const char *lc_cancel_message(const lc_task *t);
/* task.set_name(): copy name; 0, -EINVAL, -ENOMEM. Reports use the new name. */
int lc_task_set_name(lc_task *t, const char *name);
/* asyncio.timeout_at(when): a scope with an absolute deadline (lc_now() clock; INT64_MAX:
 * none); a deadline already past expires at the next iteration. lc_timeout_when: the scope's
 * deadline (Timeout.when(); INT64_MAX for none). */
int lc_timeout_enter_at(lc_timeout *to, int64_t deadline_ns);
int64_t lc_timeout_when(const lc_timeout *to);
/* lc_wait_for(t, LC_NO_TIMEOUT, &r) is wait_for(t, None): exactly lc_await (a cancel of the
 * caller cancels t, and a value t returns after swallowing it is returned). */
#define LC_NO_TIMEOUT INT64_MAX
/* [await] wait_for(shield(t), timeout) without a wrapper task: -ETIMEDOUT when the timeout
 * passes, -ECANCELED when the caller is cancelled; in both cases t is NOT cancelled, runs on
 * and keeps its result (the shield takes its outcome). Otherwise t's code and result. */
int lc_wait_for_shield(lc_task *t, int64_t timeout_ns, intptr_t *result);

/* ---- PriorityQueue and LifoQueue -----------------------------------------------------------
 * The Queue API (put/get/nowait/task_done/join/shutdown, lc_queue_free) with another order:
 * a PriorityQueue hands out the smallest item first (asyncio's heapq order; items are the
 * priorities, so encode (priority, payload) into one intptr_t), a LifoQueue the newest. */
lc_queue *lc_priority_queue_new(size_t maxsize);
lc_queue *lc_lifo_queue_new(size_t maxsize);

/* ---- Barrier (asyncio.Barrier, CPython 3.11) ------------------------------------------------
 * lc_barrier_wait [await]: block until `parties` tasks wait, then release them all; returns
 * the caller's arrival index (0 .. parties-1), or -EPIPE (BrokenBarrierError) when the barrier
 * is aborted or reset while waiting or is broken already, or -ECANCELED. A task that arrives
 * while a released round is still draining waits for the next round. reset and abort are
 * [await] (they take the barrier's lock): reset breaks the waiting round and makes the barrier
 * usable again; abort breaks it for good. lc_barrier_new: NULL with errno EINVAL (parties < 1)
 * or ENOMEM. */
typedef struct lc_barrier lc_barrier;
lc_barrier *lc_barrier_new(int parties);
void lc_barrier_free(lc_barrier *b);
int lc_barrier_wait(lc_barrier *b);
int lc_barrier_reset(lc_barrier *b);
int lc_barrier_abort(lc_barrier *b);
int lc_barrier_parties(const lc_barrier *b);
int lc_barrier_n_waiting(const lc_barrier *b);
int lc_barrier_broken(const lc_barrier *b);

/* ---- Other threads: call_soon_threadsafe, run_coroutine_threadsafe ------------------------
 * A portal lets other threads reach the loop (asyncio's loop object in those calls). Open it on
 * the loop thread inside lc_run; it holds a backend wakeup handle, so while it is open the loop
 * waits for calls instead of declaring a deadlock. NULL with errno EPERM (no runtime), ENOTSUP
 * (the backend has no cross-thread wakeup), ENOMEM. lc_portal_close (loop thread) refuses new
 * calls and drops pending ones; lc_run closes the portals still open at its end. The portal
 * object stays valid for other threads until the opener's lc_portal_unref; after the close,
 * posting returns -ESHUTDOWN (asyncio: RuntimeError, loop closed).
 *   lc_call_soon_threadsafe (any thread): cb(arg) runs on the loop thread, FIFO. 0, -EINVAL,
 *     -ESHUTDOWN, -ENOMEM.
 *   lc_run_coroutine_threadsafe (any thread): spawn fn(arg) as a task on the loop; the future
 *     gives its code and result. NULL with errno EINVAL, ESHUTDOWN, ENOMEM.
 *   lc_tsfuture_result (not the loop thread: -EDEADLK): block until the task is done (at most
 *     timeout_ns, < 0: no limit; then -ETIMEDOUT) and return its code; -ESHUTDOWN if the portal
 *     closed before the task was spawned.
 *   lc_tsfuture_cancel (any thread): cancel the task through the portal (concurrent Future's
 *     cancel); 1 if requested, 0 if already done. */
typedef struct lc_portal lc_portal;
typedef struct lc_tsfuture lc_tsfuture;
lc_portal *lc_portal_open(void);
void lc_portal_close(lc_portal *p);
void lc_portal_unref(lc_portal *p);
int lc_call_soon_threadsafe(lc_portal *p, void (*cb)(void *arg), void *arg);
lc_tsfuture *lc_run_coroutine_threadsafe(lc_portal *p, lc_task_fn fn, void *arg, const char *name);
int lc_tsfuture_result(lc_tsfuture *f, int64_t timeout_ns, intptr_t *result);
int lc_tsfuture_done(lc_tsfuture *f);
int lc_tsfuture_cancel(lc_tsfuture *f, lc_portal *p);
void lc_tsfuture_free(lc_tsfuture *f);

#ifdef __cplusplus
}
#endif

#endif /* LOOPCONF_RUNTIME_H */
