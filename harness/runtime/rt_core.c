/* rt_core.c: the task runtime core: scheduler, tasks, cancellation, gather, wait_for, timeout
 * scopes, shield and lc_run, with asyncio's semantics, over the backend contract only. */
#include "rt_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"

/* How it fits together
 *
 * One thread, one lc_rt. The scheduler runs on the thread's main context; every task runs on
 * its own coroutine and switches back to the scheduler at each await point.
 *
 * Ready queue: a ring buffer of entries (a task step or a call_soon callback). One loop
 * iteration (rt_iterate) polls the backend (LC_RUN_NOWAIT when work is ready, LC_RUN_ONCE
 * otherwise), fires the due runtime timers, then runs exactly the entries that were queued at
 * that moment; anything queued meanwhile waits for the next iteration (asyncio's _run_once).
 *
 * Timers: sleeps, wait_for deadlines and timeout scopes are nodes of a runtime-owned binary
 * heap (intrusive, no allocation per timer) ordered by (deadline, insertion order). The backend
 * sees ONE lc_timer armed for the heap's earliest deadline and re-armed only when that changes.
 * Why: a sleep costs an O(log n) heap insert instead of a backend timer_new/start/free, 10,000
 * sleeping tasks cost one backend handle, equal deadlines fire in a defined order on every
 * backend, and a backend that fires early (stale cached time, ms rounding) only causes a
 * re-arm: due-ness is always judged against the live clock.
 *
 * Parking: a task suspends on an lc_waiter (rt_wait). What a cancellation does to a parked task
 * depends on what it waits for (the park's cancel hook): by default it is woken at once with
 * -ECANCELED; lc_await and lc_gather hand the cancellation on to what they await and keep
 * waiting, as asyncio's Task.cancel() cancels the future it waits on. */

/* ==== Declarations ========================================================================= */

/* A slot in the runtime's timer heap, embedded in what it times (no allocation per timer). */
typedef struct lc__tnode {
  int64_t deadline_ns;                  /* absolute, lc_now() clock */
  uint64_t seq;                         /* insertion order: equal deadlines fire FIFO */
  size_t index;                         /* position in the heap, SIZE_MAX when not in it */
  void (*fire)(struct lc__tnode *node); /* called on the loop thread when due */
} lc__tnode;

enum task_state {
  T_NEW,     /* spawned, first step not run yet */
  T_RUNNING, /* its coroutine is executing */
  T_PARKED,  /* suspended in rt_wait */
  T_EXITED,  /* its function returned; the scheduler finishes it */
  T_DONE     /* finished: code and result are final */
};

/* A cancel hook: called by lc_cancel for a task parked in rt_wait and not yet woken. Returns 1
 * if the cancellation was handed on (the task keeps waiting), 0 to deliver -ECANCELED now. */
typedef int (*rt_cancel_hook)(lc_task *self, void *ctx);

/* A "done callback" registered on a task; lives in the waiter's memory. */
typedef struct rt_done {
  struct rt_done *next, *prev;
  void (*fn)(struct rt_done *d, lc_task *t);
  void *ctx;
  size_t index;
  int linked;
} rt_done;

struct lc_task {
  lc_rt *rt;            /* NULL once detached at the end of lc_run */
  lc_coro *co;          /* NULL before allocation and once finished */
  lc_task_fn fn;
  void *arg;
  intptr_t result;
  int code;             /* final code once T_DONE */
  int refs;
  enum task_state state;
  int queued;           /* a step of this task is in the ready queue */
  int must_cancel;      /* a cancellation waits to be delivered at the next await point */
  int cancelling;       /* cancel requests not withdrawn */
  int user_uncancelled; /* lc_uncancel was called (a swallowed cancel was acknowledged) */
  int in_cancel;        /* guards cancel forwarding against await cycles */
  uint64_t cancel_mark; /* the lc_cancel call that last passed through (cycle guard) */
  int retrieved;        /* someone took the code */
  int auto_retrieve;    /* a gather/shield that returned early takes the code when it comes */
  int reported;         /* its unretrieved error was reported already */
  int shutdown_cancelled;
  uint64_t id;
  lc_waiter *park_w;    /* while T_PARKED */
  rt_cancel_hook park_hook;
  void *park_ctx;
  lc_timeout *timeouts; /* innermost open timeout scope */
  lc__tnode scope_node; /* armed for the earliest deadline of its open scopes */
  rt_done *done_head, *done_tail;
  lc_task *live_prev, *live_next; /* list of tasks not done */
  lc_task *all_prev, *all_next;   /* list of every task not freed */
  char *name;
  char *errmsg;
  char name_buf[32];
};

/* One ready-queue entry: a task step (cb == NULL, arg is the task) or a callback. */
typedef struct rt_entry {
  void (*cb)(void *arg);
  void *arg;
} rt_entry;

struct lc_rt {
  const struct lc_backend *b;
  lc_loop *loop;
  lc_run_opts opts;
  enum lc_coro_impl coro_impl;
  lc_coro *main_co;
  lc_task *current;
  lc_task *main_task;
  uint64_t next_id;

  /* ready queue: ring buffer, capacity a power of two */
  rt_entry *rq;
  size_t rq_cap, rq_head, rq_len;

  /* timer heap and the one backend timer that drives it */
  lc__tnode **heap;
  size_t heap_len, heap_cap;
  uint64_t heap_seq;
  lc_timer *btimer;
  int64_t armed_deadline; /* INT64_MAX when the backend timer is not armed */
  int poll_for_holds;     /* backend had nothing active while holds > 0: poll every 1 ms */

  lc_task *live_head, *live_tail;
  size_t live_count;
  size_t shutdown_pending; /* live tasks cancelled by the shutdown not yet done */
  lc_task *all_head;

  int holds;
  void *executor_slot;
  int draining;       /* main returned: cancelling and draining the leftovers */
  int deadlocks;      /* times nothing could ever wake the waiting tasks */
  int gave_up;
  int backend_rc;      /* a backend operation failed: lc_run stops and returns this */
  uint64_t cancel_gen; /* numbers lc_cancel calls, for cancel_mark */

  lc_lag_stats lag;
};

static _Thread_local lc_rt *tls_rt;
static _Thread_local char tls_run_error[256]; /* lc_run_error(): "" when the run did not fail */


static void rt_finish(lc_rt *rt, lc_task *t);
static void rt_backend_failed(lc_rt *rt, const char *op, int rc);
static void scopes_fire(lc__tnode *n);
static void rt_report(lc_rt *rt, enum lc_report_kind kind, const char *name, int64_t dur,
                      const char *msg);

/* ==== Small helpers ======================================================================== */

int64_t lc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* a + b without overflow past INT64_MAX (b >= 0). */
static int64_t add_sat(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

lc_rt *lc_rt_current(void) { return tls_rt; }
const char *lc_run_error(void) { return tls_run_error[0] ? tls_run_error : NULL; }
const struct lc_backend *lc_rt_backend(lc_rt *rt) { return rt ? rt->b : NULL; }
lc_loop *lc_rt_loop(lc_rt *rt) { return rt ? rt->loop : NULL; }
const lc_run_opts *lc_rt_opts(lc_rt *rt) { return rt ? &rt->opts : NULL; }
void **lc_rt_executor_slot(lc_rt *rt) { return &rt->executor_slot; }
void lc_rt_hold(lc_rt *rt) { rt->holds++; }
void lc_rt_release(lc_rt *rt) {
  if (rt->holds > 0) rt->holds--;
}

void lc_rt_lag(lc_rt *rt, lc_lag_stats *out) {
  if (rt && out) *out = rt->lag;
}
void lc_rt_lag_reset(lc_rt *rt) {
  if (rt) memset(&rt->lag, 0, sizeof rt->lag);
}

static void lag_sample(lc_rt *rt, int64_t ns) {
  if (ns < 0) ns = 0;
  if (ns > rt->lag.max_ns) rt->lag.max_ns = ns;
  rt->lag.total_ns += ns;
  rt->lag.samples++;
}

/* ==== Ready queue ========================================================================== */

/* Append an entry; amortised O(1), allocates only when the ring must grow. */
static int rq_push(lc_rt *rt, void (*cb)(void *), void *arg) {
  if (rt->rq_len == rt->rq_cap) {
    size_t cap = rt->rq_cap ? rt->rq_cap * 2 : 64;
    rt_entry *nq = malloc(cap * sizeof *nq);
    if (!nq) return -ENOMEM;
    for (size_t i = 0; i < rt->rq_len; i++) nq[i] = rt->rq[(rt->rq_head + i) & (rt->rq_cap - 1)];
    free(rt->rq);
    rt->rq = nq;
    rt->rq_cap = cap;
    rt->rq_head = 0;
  }
  rt->rq[(rt->rq_head + rt->rq_len) & (rt->rq_cap - 1)] = (rt_entry){cb, arg};
  rt->rq_len++;
  return 0;
}

static rt_entry rq_pop(lc_rt *rt) {
  rt_entry e = rt->rq[rt->rq_head];
  rt->rq_head = (rt->rq_head + 1) & (rt->rq_cap - 1);
  rt->rq_len--;
  return e;
}

/* Queue a step of t unless one is queued already or t is finished. A task step cannot fail to
 * be queued (that would lose the task): the ring is grown beforehand by lc_spawn, which keeps
 * rq_cap >= number of tasks + callbacks; see rq_reserve. */
static void rt_make_ready(lc_task *t) {
  if (!t || t->queued || t->state == T_DONE || t->state == T_EXITED || !t->rt) return;
  t->queued = 1;
  if (rq_push(t->rt, NULL, t) != 0) {
    /* Unreachable while rq_reserve holds its promise; never lose a task silently. */
    fprintf(stderr, "loopconf runtime: out of memory queueing task '%s'\n", t->name);
    abort();
  }
}

/* Make sure the ring can hold one step of every live task plus `extra` entries, so that
 * rt_make_ready never has to allocate. */
static int rq_reserve(lc_rt *rt, size_t extra) {
  size_t need = rt->live_count + rt->rq_len + extra;
  if (need <= rt->rq_cap) return 0;
  size_t cap = rt->rq_cap ? rt->rq_cap : 64;
  while (cap < need) cap *= 2;
  rt_entry *nq = malloc(cap * sizeof *nq);
  if (!nq) return -ENOMEM;
  for (size_t i = 0; i < rt->rq_len; i++) nq[i] = rt->rq[(rt->rq_head + i) & (rt->rq_cap - 1)];
  free(rt->rq);
  rt->rq = nq;
  rt->rq_cap = cap;
  rt->rq_head = 0;
  return 0;
}

int lc_call_soon(void (*cb)(void *arg), void *arg) {
  lc_rt *rt = tls_rt;
  if (!cb) return -EINVAL;
  if (!rt) return -EPERM;
  int rc = rq_reserve(rt, 1);
  return rc ? rc : rq_push(rt, cb, arg);
}

/* ==== Timer heap =========================================================================== */

static int tnode_less(const lc__tnode *a, const lc__tnode *b) {
  return a->deadline_ns < b->deadline_ns || (a->deadline_ns == b->deadline_ns && a->seq < b->seq);
}

static void heap_set(lc_rt *rt, size_t i, lc__tnode *n) {
  rt->heap[i] = n;
  n->index = i;
}

static void heap_up(lc_rt *rt, size_t i) {
  lc__tnode *n = rt->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!tnode_less(n, rt->heap[p])) break;
    heap_set(rt, i, rt->heap[p]);
    i = p;
  }
  heap_set(rt, i, n);
}

static void heap_down(lc_rt *rt, size_t i) {
  lc__tnode *n = rt->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= rt->heap_len) break;
    if (c + 1 < rt->heap_len && tnode_less(rt->heap[c + 1], rt->heap[c])) c++;
    if (!tnode_less(rt->heap[c], n)) break;
    heap_set(rt, i, rt->heap[c]);
    i = c;
  }
  heap_set(rt, i, n);
}

/* Insert n with its deadline_ns and fire already set. 0 or -ENOMEM. */
static int heap_push(lc_rt *rt, lc__tnode *n) {
  if (rt->heap_len == rt->heap_cap) {
    size_t cap = rt->heap_cap ? rt->heap_cap * 2 : 64;
    lc__tnode **nh = realloc(rt->heap, cap * sizeof *nh);
    if (!nh) return -ENOMEM;
    rt->heap = nh;
    rt->heap_cap = cap;
  }
  n->seq = rt->heap_seq++;
  rt->heap[rt->heap_len++] = n;
  heap_up(rt, rt->heap_len - 1);
  return 0;
}

/* Remove n if it is in the heap. */
static void heap_remove(lc_rt *rt, lc__tnode *n) {
  size_t i = n->index;
  if (i == SIZE_MAX) return;
  n->index = SIZE_MAX;
  lc__tnode *last = rt->heap[--rt->heap_len];
  if (last == n) return;
  heap_set(rt, i, last);
  if (i > 0 && tnode_less(last, rt->heap[(i - 1) / 2]))
    heap_up(rt, i);
  else
    heap_down(rt, i);
}

/* The backend timer fired: it is one-shot, so it is no longer armed. The due nodes are fired
 * by rt_iterate after run() returns, against the live clock. */
static void btimer_cb(lc_timer *timer, void *arg) {
  (void)timer;
  lc_rt *rt = arg;
  rt->armed_deadline = INT64_MAX;
  /* Make run(LC_RUN_ONCE) return now, before it polls. libuv's UV_RUN_ONCE runs the timers
   * already due first and then still polls with no timeout when no other timer is active
   * (clause LOOP-RUN-ONCE-DUE-TIMER): without this, a runtime timer that libuv found due on
   * entry (libuv measures from its stale cached time) fires and the loop then blocks for
   * good. stop() from a callback is the contract's way to say "return before waiting". */
  rt->b->stop(rt->loop);
}

/* Arm the backend timer for the earliest deadline (re-arming only when it changed). */
static void rt_arm(lc_rt *rt) {
  int64_t want = rt->heap_len ? rt->heap[0]->deadline_ns : INT64_MAX;
  if (rt->poll_for_holds) {
    int64_t poll = add_sat(lc_now(), LC_MS);
    if (poll < want) want = poll;
  }
  if (want == rt->armed_deadline) return;
  if (want == INT64_MAX) {
    rt->b->timer_stop(rt->btimer);
    rt->armed_deadline = INT64_MAX;
    return;
  }
  int64_t delay = want - lc_now();
  if (delay < 0) delay = 0;
  /* Stop first: restarting an active timer is a clause libev deviates from
   * (LOOP-TIMER-RESTART: ev_timer_start ignores an active watcher), and the runtime must rely
   * only on what every backend does. */
  rt->b->timer_stop(rt->btimer);
  int rc = rt->b->timer_start(rt->btimer, delay, 0);
  if (rc) rt_backend_failed(rt, "timer_start", rc);
  else rt->armed_deadline = want;
}

/* A timer that wakes a waiter with rc (sleep, wait_for's deadline). */
typedef struct rt_wake_timer {
  lc__tnode node;
  lc_waiter *w;
  int rc;
} rt_wake_timer;

static void wake_timer_fire(lc__tnode *n) {
  rt_wake_timer *wt = (rt_wake_timer *)n; /* node is the first member */
  lc_unpark(wt->w, wt->rc);
}

/* ==== Reports ============================================================================== */

static const char *report_kind_name(enum lc_report_kind k) {
  switch (k) {
  case LC_REPORT_SLOW_STEP: return "slow step";
  case LC_REPORT_UNRETRIEVED_ERROR: return "error never retrieved";
  case LC_REPORT_SWALLOWED_CANCEL: return "cancellation swallowed";
  case LC_REPORT_CANCELLED_AT_SHUTDOWN: return "cancelled at shutdown";
  }
  return "report";
}

static void rt_report(lc_rt *rt, enum lc_report_kind kind, const char *name, int64_t dur,
                      const char *msg) {
  if (rt && rt->opts.report) {
    rt->opts.report(rt->opts.report_ctx, kind, name, dur, msg);
    return;
  }
  if (kind == LC_REPORT_SLOW_STEP)
    fprintf(stderr, "loopconf runtime: %s: '%s' took %.3f ms: %s\n", report_kind_name(kind), name,
            (double)dur / 1e6, msg);
  else
    fprintf(stderr, "loopconf runtime: %s: task '%s': %s\n", report_kind_name(kind), name, msg);
}

static void report_unretrieved(lc_rt *rt, lc_task *t) {
  char msg[320];
  snprintf(msg, sizeof msg, "failed with %d (%s)%s%s", t->code, strerror(-t->code),
           t->errmsg ? ": " : "", t->errmsg ? t->errmsg : "");
  t->reported = 1;
  rt_report(rt, LC_REPORT_UNRETRIEVED_ERROR, t->name, 0, msg);
}

/* ==== Tasks ================================================================================ */

static void live_unlink(lc_rt *rt, lc_task *t) {
  if (t->live_prev) t->live_prev->live_next = t->live_next; else rt->live_head = t->live_next;
  if (t->live_next) t->live_next->live_prev = t->live_prev; else rt->live_tail = t->live_prev;
  t->live_prev = t->live_next = NULL;
  rt->live_count--;
}

static void all_unlink(lc_rt *rt, lc_task *t) {
  if (t->all_prev) t->all_prev->all_next = t->all_next; else rt->all_head = t->all_next;
  if (t->all_next) t->all_next->all_prev = t->all_prev;
  t->all_prev = t->all_next = NULL;
}

/* The first frame on every task's stack. Runs the function, then leaves for good. */
static void task_entry(void *arg) {
  lc_task *t = arg;
  intptr_t result = 0;
  int code = t->fn(t->arg, &result);
  if (code > 0) code = 0; /* only 0 or a negative code is meaningful */
  if (code == 0 && t->must_cancel) {
    /* cancelled right before it returned: asyncio drops the result and ends it cancelled */
    t->must_cancel = 0;
    code = -ECANCELED;
  }
  t->code = code;
  t->result = code == 0 ? result : 0;
  t->state = T_EXITED;
  lc_coro_switch(t->co, t->rt->main_co); /* never resumed: the scheduler frees the coroutine */
  abort();
}

lc_task *lc_spawn(lc_task_fn fn, void *arg, const char *name) {
  lc_rt *rt = tls_rt;
  if (!rt) {
    errno = EPERM;
    return NULL;
  }
  if (!fn) {
    errno = EINVAL;
    return NULL;
  }
  if (rq_reserve(rt, 1) != 0) {
    errno = ENOMEM;
    return NULL;
  }
  lc_task *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->id = ++rt->next_id;
  if (!name) {
    snprintf(t->name_buf, sizeof t->name_buf, "task-%llu", (unsigned long long)t->id);
    t->name = t->name_buf;
  } else if (strlen(name) < sizeof t->name_buf) {
    strcpy(t->name_buf, name);
    t->name = t->name_buf;
  } else if (!(t->name = strdup(name))) {
    free(t);
    return NULL;
  }
  t->rt = rt;
  t->fn = fn;
  t->arg = arg;
  t->refs = 2; /* the caller's, and the runtime's until the task is done */
  t->state = T_NEW;
  t->scope_node.index = SIZE_MAX;
  t->scope_node.fire = scopes_fire;
  t->live_prev = rt->live_tail;
  if (rt->live_tail) rt->live_tail->live_next = t; else rt->live_head = t;
  rt->live_tail = t;
  rt->live_count++;
  t->all_next = rt->all_head;
  if (rt->all_head) rt->all_head->all_prev = t;
  rt->all_head = t;
  rt_make_ready(t); /* the ring was reserved above */
  return t;
}

void lc_task_ref(lc_task *t) {
  if (t) t->refs++;
}

void lc_task_unref(lc_task *t) {
  if (!t || --t->refs > 0) return;
  /* Only done tasks reach 0: the runtime holds a reference until then. */
  if (t->code < 0 && t->code != -ECANCELED && !t->retrieved && !t->reported)
    report_unretrieved(t->rt, t); /* like asyncio's "exception was never retrieved" at GC */
  if (t->rt) all_unlink(t->rt, t);
  if (t->name != t->name_buf) free(t->name);
  free(t->errmsg);
  free(t);
}

lc_task *lc_current_task(void) { return tls_rt ? tls_rt->current : NULL; }
const char *lc_task_name(const lc_task *t) { return t ? t->name : ""; }
int lc_task_done(const lc_task *t) { return t && t->state == T_DONE; }
int lc_task_cancelled(const lc_task *t) { return t && t->state == T_DONE && t->code == -ECANCELED; }
const char *lc_task_error_message(const lc_task *t) { return t && t->errmsg ? t->errmsg : ""; }

int lc_task_result(lc_task *t, intptr_t *result) {
  if (!t) return -EINVAL;
  if (t->state != T_DONE) return -EAGAIN;
  t->retrieved = 1;
  if (result) *result = t->result;
  return t->code;
}

int lc_error(int code, const char *fmt, ...) {
  lc_task *t = lc_current_task();
  if (!t || !fmt) return code;
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  if (msg) {
    free(t->errmsg);
    t->errmsg = msg;
  }
  return code;
}

/* Finish a task whose function returned (or that was cancelled before its first step): run
 * its done callbacks, report a swallowed cancellation, drop the runtime's reference. Runs on
 * the scheduler's context. */
static void rt_finish(lc_rt *rt, lc_task *t) {
  if (t->co) {
    lc_coro_free(t->co); /* its stack goes back to the pool at once */
    t->co = NULL;
  }
  t->state = T_DONE;
  t->must_cancel = 0;
  live_unlink(rt, t);
  if (t->shutdown_cancelled) rt->shutdown_pending--;
  heap_remove(rt, &t->scope_node); /* the scopes' deadline lives in the task, not its stack */
  if (t->timeouts) {
    /* It returned inside a scope it never exited. The scope itself was on its (now dead)
     * stack: nothing of it is touched, and nothing of it can fire any more. */
    fprintf(stderr, "loopconf runtime: task '%s' returned without lc_timeout_exit\n", t->name);
    t->timeouts = NULL;
  }
  if (t->code == 0 && t->cancelling > 0 && !t->user_uncancelled) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "finished normally with %d cancellation request(s) pending and never called "
             "lc_uncancel; its result is kept",
             t->cancelling);
    rt_report(rt, LC_REPORT_SWALLOWED_CANCEL, t->name, 0, msg);
  }
  if (t->auto_retrieve) t->retrieved = 1;
  while (t->done_head) {
    rt_done *d = t->done_head;
    t->done_head = d->next;
    if (t->done_head) t->done_head->prev = NULL; else t->done_tail = NULL;
    d->next = d->prev = NULL;
    d->linked = 0;
    d->fn(d, t);
  }
  lc_task_unref(t);
}

/* Nodes live on the waiting task's stack and are always unlinked before it returns; gcc 12+
 * cannot see that and warns about the stored address. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
static void done_link(lc_task *t, rt_done *d) {
  d->next = NULL;
  d->prev = t->done_tail;
  if (t->done_tail) t->done_tail->next = d; else t->done_head = d;
  t->done_tail = d;
  d->linked = 1;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

static void done_unlink(lc_task *t, rt_done *d) {
  if (!d->linked) return;
  if (d->prev) d->prev->next = d->next; else t->done_head = d->next;
  if (d->next) d->next->prev = d->prev; else t->done_tail = d->prev;
  d->next = d->prev = NULL;
  d->linked = 0;
}

/* Done callback that wakes the waiter in ctx with 0 ("the task finished"). */
static void done_wake(rt_done *d, lc_task *t) {
  (void)t;
  lc_unpark(d->ctx, 0);
}

/* ==== Scheduler ============================================================================ */

/* Switch from the running task to the scheduler; returns when the task is resumed. */
static void rt_suspend(lc_task *self) { lc_coro_switch(self->co, self->rt->main_co); }

/* Run one step of t. */
static void rt_step(lc_rt *rt, lc_task *t) {
  t->queued = 0;
  if (t->state == T_NEW && t->must_cancel) { /* cancelled before its first step: never runs */
    t->code = -ECANCELED;
    t->result = 0;
    rt_finish(rt, t);
    return;
  }
  if (!t->co) {
    /* The stack is taken at the first step, not at spawn: a task that finishes in one step
     * hands the same pooled stack to the next one, and a task cancelled before it started
     * never costs a stack. If none can be had, the task fails with -ENOMEM. */
    t->co = lc_coro_new(task_entry, t, rt->opts.stack_size, rt->coro_impl);
    if (!t->co) {
      int e = errno ? errno : ENOMEM;
      t->code = -e;
      t->result = 0;
      if (asprintf(&t->errmsg, "cannot allocate a %zu-byte task stack: %s", rt->opts.stack_size,
                   strerror(e)) < 0)
        t->errmsg = NULL;
      rt_finish(rt, t);
      return;
    }
  }
  t->state = T_RUNNING;
  rt->current = t;
  lc_coro_switch(rt->main_co, t->co);
  rt->current = NULL;
  if (t->state == T_EXITED) rt_finish(rt, t);
}

/* Run one ready entry, timing it in debug mode. */
static void rt_run_entry(lc_rt *rt, rt_entry e) {
  int64_t t0 = rt->opts.debug ? lc_now() : 0;
  const char *name = "call_soon callback";
  char namebuf[sizeof ((lc_task *)0)->name_buf];
  if (e.cb) {
    e.cb(e.arg);
  } else {
    lc_task *t = e.arg;
    if (rt->opts.debug) { /* the task may be freed by the step: keep its name */
      snprintf(namebuf, sizeof namebuf, "%s", t->name);
      name = namebuf;
    }
    rt_step(rt, t);
  }
  if (rt->opts.debug) {
    int64_t dur = lc_now() - t0;
    if (dur > rt->opts.slow_step_ns) {
      char msg[96];
      snprintf(msg, sizeof msg, "%s ran %.3f ms without yielding (threshold %.3f ms)",
               e.cb ? "callback" : "task step", (double)dur / 1e6,
               (double)rt->opts.slow_step_ns / 1e6);
      rt_report(rt, LC_REPORT_SLOW_STEP, name, dur, msg);
    }
  }
}

/* Nothing is ready, no timer is pending, nothing holds the loop and the backend has nothing
 * active: no task can ever be woken. asyncio would hang; we cancel the waiting tasks (so their
 * cleanup runs) and make lc_run return -EDEADLK. After 3 fruitless rounds, give up. */
static void rt_deadlock(lc_rt *rt) {
  rt->deadlocks++;
  if (rt->deadlocks > 3) {
    fprintf(stderr,
            "loopconf runtime: deadlock: %zu task(s) still waiting after 3 rounds of "
            "cancellation; giving up (their memory is leaked)\n",
            rt->live_count);
    rt->gave_up = 1;
    return;
  }
  fprintf(stderr,
          "loopconf runtime: deadlock: %zu task(s) wait for something that can never happen; "
          "cancelling them\n",
          rt->live_count);
  for (lc_task *t = rt->live_head; t; t = t->live_next) lc_cancel(t);
}

/* A backend operation failed: the loop can no longer be trusted to wait or to wake anything,
 * so the scheduler stops (no fallback, no shutdown drain), the tasks are cancelled without it
 * (rt_unwind_without_backend) and lc_run returns the backend's code with the operation named
 * in lc_run_error(). */
static void rt_backend_failed(lc_rt *rt, const char *op, int rc) {
  snprintf(tls_run_error, sizeof tls_run_error, "backend %s: %s failed: %d (%s)", rt->b->name,
           op, rc, strerror(-rc));
  fprintf(stderr, "loopconf runtime: %s; stopping\n", tls_run_error);
  rt->backend_rc = rc < 0 ? rc : -EIO;
  rt->gave_up = 1;
}

/* After a backend failure nothing can wait any more: cancel every live task and run only what
 * that makes ready (never the backend), so their cleanup runs up to its next await and their
 * memory is released. Tasks still waiting after 3 rounds stay, leaked as after a deadlock's
 * give-up. The verdict is already lc_run's error. */
static void rt_unwind_without_backend(lc_rt *rt) {
  for (int round = 0; round < 3 && rt->live_count > 0; round++) {
    for (lc_task *t = rt->live_head; t; t = t->live_next) lc_cancel(t);
    for (int k = 0; k < 100 && rt->rq_len > 0; k++)
      for (size_t n = rt->rq_len; n > 0; n--) rt_run_entry(rt, rq_pop(rt));
  }
}

/* One loop iteration (asyncio's _run_once). */
static void rt_iterate(lc_rt *rt) {
  int had_ready = rt->rq_len > 0;
  rt_arm(rt);
  if (rt->gave_up) return;
  int64_t t0 = lc_now();
  int mode = had_ready ? LC_RUN_NOWAIT : LC_RUN_ONCE;
  const char *op = had_ready ? "run(LC_RUN_NOWAIT)" : "run(LC_RUN_ONCE)";
  if (had_ready && !(rt->b->caps & LC_CAP_NOWAIT)) {
    /* No non-blocking poll (backend.h LC_CAP_NOWAIT): ONCE with our timer due at once. */
    rt->b->timer_stop(rt->btimer);
    int rc = rt->b->timer_start(rt->btimer, 0, 0);
    if (rc) {
      rt_backend_failed(rt, "timer_start", rc);
      return;
    }
    rt->armed_deadline = INT64_MIN; /* not a deadline: rt_arm re-arms next time */
    mode = LC_RUN_ONCE;
    op = "run(LC_RUN_ONCE) with a zero timer (no LC_CAP_NOWAIT)";
  }
  int r = rt->b->run(rt->loop, mode);
  if (r < 0) {
    rt_backend_failed(rt, op, r);
    return;
  }
  int64_t now = lc_now();

  /* Due timers, judged by the live clock; lateness is the loop-lag sample. */
  int64_t lag = had_ready ? now - t0 : -1; /* how long ready work waited for the poll */
  while (rt->heap_len && rt->heap[0]->deadline_ns <= now) {
    lc__tnode *n = rt->heap[0];
    heap_remove(rt, n);
    if (now - n->deadline_ns > lag) lag = now - n->deadline_ns;
    n->fire(n);
  }
  if (lag >= 0) lag_sample(rt, lag);

  /* Exactly the entries queued now; later ones wait for the next iteration. */
  size_t ran = rt->rq_len;
  for (size_t n = ran; n > 0 && !rt->gave_up; n--) rt_run_entry(rt, rq_pop(rt));

  /* Idle iteration (nothing fired, nothing ran) and the backend has nothing active. */
  rt->poll_for_holds = 0;
  if (!had_ready && r == 0 && ran == 0 && lag < 0 && rt->rq_len == 0 && rt->heap_len == 0 &&
      rt->live_count > 0) {
    if (rt->holds > 0)
      rt->poll_for_holds = 1; /* the holder has no backend handle: poll for it */
    else
      rt_deadlock(rt);
  }
}

/* ==== Parking ============================================================================== */

/* Suspend the current task on w until lc_unpark(w) or a cancellation delivered by `hook`'s
 * absence or refusal. Returns w->rc or -ECANCELED. */
static int rt_wait(lc_task *self, lc_waiter *w, rt_cancel_hook hook, void *ctx) {
  if (self->must_cancel) {
    self->must_cancel = 0;
    if (!hook || !hook(self, ctx)) return -ECANCELED;
  }
  w->task = self;
  w->woken = 0;
  w->rc = 0;
  self->park_w = w;
  self->park_hook = hook;
  self->park_ctx = ctx;
  self->state = T_PARKED;
  rt_suspend(self);
  self->park_w = NULL;
  self->park_hook = NULL;
  self->park_ctx = NULL;
  if (self->must_cancel) {
    self->must_cancel = 0;
    return -ECANCELED;
  }
  return w->rc;
}

int lc_park(lc_waiter *w) {
  lc_task *self = lc_current_task();
  if (!self || !w) return -EPERM;
  return rt_wait(self, w, NULL, NULL);
}

void lc_unpark(lc_waiter *w, int rc) {
  if (!w || w->woken) return;
  w->woken = 1;
  w->rc = rc;
  rt_make_ready(w->task);
}

int lc_yield(void) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (self->must_cancel) {
    self->must_cancel = 0;
    return -ECANCELED;
  }
  /* A bare yield: park on a waiter that is already woken and queue our own next step. */
  lc_waiter w = {0};
  w.task = self;
  w.woken = 1;
  self->park_w = &w;
  self->park_hook = NULL;
  self->state = T_PARKED;
  rt_make_ready(self);
  rt_suspend(self);
  self->park_w = NULL;
  if (self->must_cancel) {
    self->must_cancel = 0;
    return -ECANCELED;
  }
  return 0;
}

int lc_sleep(int64_t delay_ns) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (delay_ns <= 0) return lc_yield();
  if (self->must_cancel) {
    self->must_cancel = 0;
    return -ECANCELED;
  }
  lc_waiter w = {0};
  rt_wake_timer wt = {.node = {.index = SIZE_MAX, .fire = wake_timer_fire}, .w = &w, .rc = 0};
  wt.node.deadline_ns = add_sat(lc_now(), delay_ns);
  int rc = heap_push(self->rt, &wt.node);
  if (rc) return rc;
  rc = rt_wait(self, &w, NULL, NULL);
  heap_remove(self->rt, &wt.node);
  return rc;
}

/* ==== Cancellation ========================================================================= */

static int await_hook(lc_task *self, void *ctx);

int lc_cancel(lc_task *t) {
  if (!t || t->state == T_DONE || t->state == T_EXITED) return 0;
  uint64_t mark = t->rt ? ++t->rt->cancel_gen : 0;
  for (;;) {
    t->cancelling++;
    if (t->state != T_PARKED || t->park_w->woken) {
      t->must_cancel = 1; /* new, ready, running or woken: delivered at its next await point */
      return 1;
    }
    if (t->in_cancel || (mark && t->cancel_mark == mark)) return 1; /* a cycle of awaits */
    t->cancel_mark = mark;
    if (t->park_hook == await_hook) {
      /* Awaiting a task: hand the request on down the chain iteratively, so that a chain of
       * thousands of awaits cannot overflow a task's small stack. */
      lc_task *next = t->park_ctx;
      if (next->state != T_DONE && next->state != T_EXITED) {
        t = next;
        continue;
      }
    } else if (t->park_hook) {
      t->in_cancel = 1;
      int handed_on = t->park_hook(t, t->park_ctx);
      t->in_cancel = 0;
      if (handed_on) return 1;
    }
    t->must_cancel = 1;
    rt_make_ready(t);
    return 1;
  }
}

int lc_cancelling(const lc_task *t) { return t ? t->cancelling : 0; }

/* Withdraw one request. When none remain, a pending undelivered one is dropped too. */
static int rt_uncancel(lc_task *t) {
  if (t->cancelling > 0 && --t->cancelling == 0) t->must_cancel = 0;
  return t->cancelling;
}

int lc__withdraw_cancel(lc_task *t) { return t ? rt_uncancel(t) : 0; }

int lc_uncancel(lc_task *t) {
  if (!t) return 0;
  t->user_uncancelled = 1;
  return rt_uncancel(t);
}

/* ==== await, shield ======================================================================== */

/* lc_await's cancel hook: cancelling the awaiter cancels the awaited task. */
static int await_hook(lc_task *self, void *ctx) {
  (void)self;
  return lc_cancel(ctx);
}

static int take_result(lc_task *t, intptr_t *result) {
  t->retrieved = 1;
  if (result) *result = t->result;
  return t->code;
}

int lc_await(lc_task *t, intptr_t *result) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (!t) return -EINVAL;
  if (t == self) return -EDEADLK; /* asyncio: a task cannot await itself */
  if (t->state == T_DONE) return take_result(t, result); /* a done task: no suspension */
  lc_waiter w = {0};
  rt_done d = {.fn = done_wake, .ctx = &w};
  done_link(t, &d);
  int rc = rt_wait(self, &w, await_hook, t);
  done_unlink(t, &d);
  if (rc == -ECANCELED) return rc;
  return take_result(t, result);
}

int lc_shield(lc_task *t, intptr_t *result) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (!t) return -EINVAL;
  if (t == self) return -EDEADLK;
  if (t->state == T_DONE) return take_result(t, result);
  lc_waiter w = {0};
  rt_done d = {.fn = done_wake, .ctx = &w};
  done_link(t, &d);
  int rc = rt_wait(self, &w, NULL, NULL); /* no hook: the cancellation stops at the shield */
  done_unlink(t, &d);
  if (rc == -ECANCELED) {
    if (t->state != T_DONE) t->auto_retrieve = 1; /* asyncio: the shield takes its outcome */
    return rc;
  }
  return take_result(t, result);
}

/* ==== gather =============================================================================== */

typedef struct gather_state {
  lc_waiter w;
  lc_task *const *tasks;
  intptr_t *results;
  int *errors;
  size_t n, nfinished;
  int flags;
  int outer_done;       /* the outcome is decided (asyncio's outer future is done) */
  int rc;
  int cancel_requested; /* the caller's cancellation was handed to the children */
} gather_state;

static void gather_record(gather_state *gs, size_t i, lc_task *child) {
  child->retrieved = 1;
  if (gs->results) gs->results[i] = child->result;
  if (gs->errors) gs->errors[i] = child->code;
}

/* A child finished: record it and decide whether the gather is over (CPython's
 * _done_callback). */
static void gather_done(rt_done *d, lc_task *child) {
  gather_state *gs = d->ctx;
  gs->nfinished++;
  gather_record(gs, d->index, child);
  if (gs->outer_done) return;
  if (!(gs->flags & LC_GATHER_RETURN_EXCEPTIONS) && child->code < 0) {
    gs->outer_done = 1;
    gs->rc = child->code;
    lc_unpark(&gs->w, 0);
    return;
  }
  if (gs->nfinished == gs->n) {
    gs->outer_done = 1;
    gs->rc = gs->cancel_requested ? -ECANCELED : 0;
    lc_unpark(&gs->w, 0);
  }
}

/* Cancelling the gathering task cancels every unfinished child. */
static int gather_hook(lc_task *self, void *ctx) {
  (void)self;
  gather_state *gs = ctx;
  int handed_on = 0;
  for (size_t i = 0; i < gs->n; i++)
    if (lc_cancel(gs->tasks[i])) handed_on = 1;
  if (handed_on) gs->cancel_requested = 1;
  return handed_on;
}

int lc_gather(lc_task *const *tasks, size_t n, intptr_t *results, int *errors, int flags) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (n > 0 && !tasks) return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!tasks[i] || tasks[i] == self) return tasks[i] ? -EDEADLK : -EINVAL;
  if (n == 0) return 0;
  rt_done local[16];
  rt_done *nodes = n <= 16 ? local : malloc(n * sizeof *nodes);
  if (!nodes) return -ENOMEM;
  gather_state gs = {.tasks = tasks, .results = results, .errors = errors, .n = n,
                     .flags = flags};
  gs.w.woken = 1; /* until rt_wait parks on it, a decision must not try to wake anyone */
  size_t reg = 0; /* children registered (or recorded, when already done) */
  for (; reg < n && !gs.outer_done; reg++) {
    nodes[reg] = (rt_done){.fn = gather_done, .ctx = &gs, .index = reg};
    if (tasks[reg]->state == T_DONE)
      gather_done(&nodes[reg], tasks[reg]);
    else
      done_link(tasks[reg], &nodes[reg]);
  }
  int rc;
  if (gs.outer_done) { /* decided already: no suspension (like awaiting a done future) */
    rc = gs.rc;
  } else {
    rc = rt_wait(self, &gs.w, gather_hook, &gs);
    if (rc != -ECANCELED) rc = gs.rc;
  }
  /* Detach from children still running; their slots say -EAGAIN. */
  for (size_t i = 0; i < n; i++) {
    if (i < reg) done_unlink(tasks[i], &nodes[i]);
    if (tasks[i]->state != T_DONE) {
      tasks[i]->auto_retrieve = 1; /* CPython's gather takes their outcome when it comes */
      if (results) results[i] = 0;
      if (errors) errors[i] = -EAGAIN;
    } else if (i >= reg) {
      gather_record(&gs, i, tasks[i]);
    }
  }
  if (nodes != local) free(nodes);
  return rc;
}

/* ==== wait_for ============================================================================= */

/* Cancel t and wait until it is done (asyncio's _cancel_and_wait). 0, or -ECANCELED if the
 * caller is cancelled meanwhile (t stays cancelled, not awaited). */
static int cancel_and_wait(lc_task *self, lc_task *t) {
  lc_cancel(t);
  if (t->state == T_DONE) return 0;
  lc_waiter w = {0};
  rt_done d = {.fn = done_wake, .ctx = &w};
  done_link(t, &d);
  int rc = rt_wait(self, &w, NULL, NULL);
  done_unlink(t, &d);
  return rc == -ECANCELED ? rc : 0;
}

int lc_wait_for(lc_task *t, int64_t timeout_ns, intptr_t *result) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (!t) return -EINVAL;
  if (t == self) return -EDEADLK;
  if (t->state == T_DONE) return take_result(t, result);
  int rc;
  if (timeout_ns > 0) {
    lc_waiter w = {0};
    rt_done d = {.fn = done_wake, .ctx = &w};
    rt_wake_timer wt = {.node = {.index = SIZE_MAX, .fire = wake_timer_fire}, .w = &w,
                        .rc = -ETIMEDOUT};
    wt.node.deadline_ns = add_sat(lc_now(), timeout_ns);
    if ((rc = heap_push(self->rt, &wt.node)) != 0) return rc;
    done_link(t, &d);
    rc = rt_wait(self, &w, NULL, NULL);
    heap_remove(self->rt, &wt.node);
    done_unlink(t, &d);
    if (rc == -ECANCELED) {
      /* The caller was cancelled: cancel t and wait for it, then pass the cancellation on.
       * CPython 3.11 returned t's result instead when t happened to be done already, losing
       * the cancellation (fixed in 3.12); we never lose it. */
      if (t->state != T_DONE) cancel_and_wait(self, t);
      return -ECANCELED;
    }
    if (t->state == T_DONE) return take_result(t, result); /* finished in time, or just */
  }
  /* Expired (or timeout <= 0): cancel the inner task and wait for its cleanup. */
  if ((rc = cancel_and_wait(self, t)) != 0) return rc;
  if (t->code == -ECANCELED) {
    t->retrieved = 1;
    return -ETIMEDOUT;
  }
  return take_result(t, result); /* it swallowed the cancel: its value wins */
}

/* ==== Timeout scopes ======================================================================= */

enum { TO_FREE = 0, TO_ENTERED, TO_EXPIRING, TO_EXPIRED, TO_EXITED };

/* Arm the task's scope node for the earliest deadline among its entered scopes. The scopes
 * live on the task's stack; they are read only here and in scopes_fire, i.e. while the task is
 * running or suspended, never after it returned. 0 or -ENOMEM. */
static int scopes_rearm(lc_task *t) {
  int64_t min = INT64_MAX;
  for (lc_timeout *to = t->timeouts; to; to = to->outer)
    if (to->state == TO_ENTERED && to->deadline_ns < min) min = to->deadline_ns;
  if (!t->rt) return 0;
  if (t->scope_node.index != SIZE_MAX && t->scope_node.deadline_ns == min) return 0;
  heap_remove(t->rt, &t->scope_node);
  if (min == INT64_MAX) return 0;
  t->scope_node.deadline_ns = min;
  return heap_push(t->rt, &t->scope_node);
}

/* A scope deadline passed: every entered scope now due expires and cancels the task once
 * (asyncio's Timeout._on_timeout, per scope, innermost first); then re-arm for the rest. */
static void scopes_fire(lc__tnode *n) {
  lc_task *t = (lc_task *)((char *)n - offsetof(lc_task, scope_node));
  int64_t now = lc_now();
  for (lc_timeout *to = t->timeouts; to; to = to->outer) {
    if (to->state != TO_ENTERED || to->deadline_ns > now) continue;
    to->state = TO_EXPIRING;
    to->expired = 1;
    lc_cancel(t);
  }
  scopes_rearm(t); /* cannot fail: the node was just taken out of the heap */
}

int lc_timeout_enter(lc_timeout *to, int64_t delay_ns) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (!to) return -EINVAL;
  memset(to, 0, sizeof *to);
  to->task = self;
  to->state = TO_ENTERED;
  to->cancelling_at_enter = self->cancelling;
  to->deadline_ns = delay_ns < 0 || delay_ns == INT64_MAX ? INT64_MAX
                                                           : add_sat(lc_now(), delay_ns);
  to->outer = self->timeouts;
  self->timeouts = to;
  int rc = scopes_rearm(self);
  if (rc) { /* could not arm it: the scope is not entered */
    self->timeouts = to->outer;
    to->state = TO_FREE;
  }
  return rc;
}

int lc_timeout_reschedule(lc_timeout *to, int64_t deadline_ns) {
  if (!to || to->state != TO_ENTERED || !to->task) return -EINVAL;
  /* A deadline already past fires at the next iteration (asyncio: call_soon(_on_timeout)). */
  to->deadline_ns = deadline_ns;
  return scopes_rearm(to->task);
}

int lc_timeout_expired(const lc_timeout *to) {
  return to && (to->state == TO_EXPIRING || to->state == TO_EXPIRED);
}

int lc_timeout_exit(lc_timeout *to, int rc) {
  lc_task *self = lc_current_task();
  if (!to || (to->state != TO_ENTERED && to->state != TO_EXPIRING)) return -EINVAL;
  lc_task *t = to->task;
  /* Unlink; scopes must be exited innermost first, but never leave a dangling one. */
  int innermost = t->timeouts == to;
  for (lc_timeout **p = &t->timeouts; *p; p = &(*p)->outer)
    if (*p == to) {
      *p = to->outer;
      break;
    }
  if (to->state == TO_EXPIRING) {
    to->state = TO_EXPIRED;
    /* Convert only the cancellation this scope caused (3.12+ rule, nesting-safe). */
    if (rt_uncancel(t) <= to->cancelling_at_enter && rc == -ECANCELED) rc = -ETIMEDOUT;
  } else {
    to->state = TO_EXITED;
  }
  scopes_rearm(t); /* only ever moves the deadline later or removes it: cannot fail */
  if (self != t || !innermost) return -EINVAL;
  return rc;
}

/* ==== lc_run =============================================================================== */

static int default_executor_threads(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  return cpus + 4 > 32 ? 32 : (int)cpus + 4;
}

/* Cancel every live task not yet cancelled by the shutdown. */
static void rt_cancel_leftovers(lc_rt *rt) {
  for (lc_task *t = rt->live_head; t; t = t->live_next) {
    if (t->shutdown_cancelled) continue;
    t->shutdown_cancelled = 1;
    rt->shutdown_pending++;
    lc_cancel(t);
    rt_report(rt, LC_REPORT_CANCELLED_AT_SHUTDOWN, t->name, 0,
              "still pending when the main task returned; cancelled");
  }
}

int lc_run(const struct lc_backend *b, const lc_run_opts *opts, lc_task_fn fn, void *arg,
           intptr_t *result) {
  if (!b || !fn) {
    fprintf(stderr, "lc_run: %s is NULL\n", !b ? "backend" : "main function");
    return -EINVAL;
  }
  if (b->abi_version != LC_BACKEND_ABI_VERSION || !b->loop_new || !b->run || !b->timer_new) {
    fprintf(stderr, "lc_run: backend '%s' is incompatible (ABI %u, expected %u)\n",
            b->name ? b->name : "?", b->abi_version, LC_BACKEND_ABI_VERSION);
    return -EINVAL;
  }
  if (opts && (opts->slow_step_ns < 0 || opts->executor_threads < 0 ||
               opts->process_workers < 0)) {
    fprintf(stderr, "lc_run: negative option (slow_step_ns, executor_threads or "
                    "process_workers)\n");
    return -EINVAL;
  }
  if (tls_rt) {
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
  rt->b = b;
  rt->armed_deadline = INT64_MAX;
  tls_run_error[0] = '\0';
  int rc = b->loop_new(&rt->loop);
  if (rc) {
    snprintf(tls_run_error, sizeof tls_run_error, "backend %s: loop_new failed: %d (%s)",
             b->name, rc, strerror(-rc));
    fprintf(stderr, "lc_run: %s\n", tls_run_error);
    free(rt);
    return rc;
  }
  if ((rc = b->timer_new(rt->loop, btimer_cb, rt, &rt->btimer)) != 0) {
    snprintf(tls_run_error, sizeof tls_run_error, "backend %s: timer_new failed: %d (%s)",
             b->name, rc, strerror(-rc));
    fprintf(stderr, "lc_run: %s\n", tls_run_error);
    b->loop_free(rt->loop);
    free(rt);
    return rc;
  }
  rt->main_co = lc_coro_main();
  tls_rt = rt;

  int main_rc = 0;
  intptr_t main_result = 0;
  lc_task *main_task = lc_spawn(fn, arg, "main");
  if (!main_task) {
    main_rc = -(errno ? errno : ENOMEM);
    fprintf(stderr, "lc_run: cannot start the main task: %s\n", strerror(-main_rc));
  } else {
    rt->main_task = main_task;
    while (main_task->state != T_DONE && !rt->gave_up) rt_iterate(rt);
    int deadlocked = rt->deadlocks > 0;
    if (main_task->state == T_DONE) main_rc = lc_task_result(main_task, &main_result);
    if (deadlocked || rt->gave_up) main_rc = -EDEADLK;
    if (rt->backend_rc) main_rc = rt->backend_rc;

    /* asyncio.run's shutdown: cancel the leftovers and let their cleanup run; tasks spawned
     * by the cleanup get their turn once the first leftovers are done. */
    rt->draining = 1;
    rt->deadlocks = 0;
    /* Callbacks still queued get up to 100 more iterations (asyncio.run also keeps its loop
     * running to shut down generators and the executor); anything they spawn is cancelled in
     * turn. A callback that reschedules itself forever is dropped after that. */
    for (int extra = 0; !rt->gave_up;) {
      if (rt->live_count > 0) {
        if (rt->shutdown_pending == 0) rt_cancel_leftovers(rt);
      } else if (rt->rq_len == 0 || extra++ >= 100) {
        break;
      }
      rt_iterate(rt);
    }
    if (rt->backend_rc) rt_unwind_without_backend(rt);
  }

  lc__executor_shutdown(rt);

  /* Errors nobody retrieved, of tasks somebody still holds; then detach those tasks so their
   * last lc_task_unref (even after lc_run) frees them without the runtime. */
  while (rt->all_head) {
    lc_task *t = rt->all_head;
    if (t->state == T_DONE && t->code < 0 && t->code != -ECANCELED && !t->retrieved &&
        !t->reported && t != main_task)
      report_unretrieved(rt, t);
    all_unlink(rt, t);
    t->rt = NULL;
  }
  if (main_task) lc_task_unref(main_task);

  /* Callbacks still queued now are dropped, as when asyncio closes its loop. */
  if (rt->btimer) b->timer_free(rt->btimer);
  rc = b->loop_free(rt->loop);
  if (rc) fprintf(stderr, "lc_run: backend %s: loop_free failed: %s (a handle was not freed)\n",
                  b->name, strerror(-rc));
  if (result) *result = main_result;
  free(rt->rq);
  free(rt->heap);
  tls_rt = NULL;
  free(rt);
  lc_coro_pool_trim();
  return main_rc;
}
