/* rt_sched.c: the runtime core's scheduler: ready queue, timer heap, reports, the loop iteration, parking, done callbacks and call_later handles. */
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

_Thread_local lc_rt *lc__tls_rt;
_Thread_local char lc__run_error[256];

/* ==== Small helpers ======================================================================== */

int64_t lc_now(void) { return lc_clock_ns(); }

/* a + b without overflow past INT64_MAX (b >= 0). */
int64_t lc__add_sat(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

lc_rt *lc_rt_current(void) { return lc__tls_rt; }
enum lc_stack_mode lc_rt_stack_mode(lc_rt *rt) { return rt ? rt->stack_mode : LC_STACK_DEDICATED; }
const char *lc_run_error(void) { return lc__run_error[0] ? lc__run_error : NULL; }
const struct lc_backend *lc_rt_backend(lc_rt *rt) { return rt ? rt->b : NULL; }
lc_loop *lc_rt_loop(lc_rt *rt) { return rt ? rt->loop : NULL; }
const lc_run_opts *lc_rt_opts(lc_rt *rt) { return rt ? &rt->opts : NULL; }
void **lc_rt_executor_slot(lc_rt *rt) { return &rt->executor_slot; }
void **lc__rt_threadsafe_slot(lc_rt *rt) { return &rt->threadsafe_slot; }
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
int lc__rq_push(lc_rt *rt, void (*cb)(void *), void *arg) {
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
 * rq_cap >= number of tasks + callbacks; see lc__rq_reserve. */
void lc__make_ready(lc_task *t) {
  if (!t || t->queued || t->state == T_DONE || t->state == T_EXITED || !t->rt) return;
  t->queued = 1;
  if (lc__rq_push(t->rt, NULL, t) != 0) {
    /* Unreachable while lc__rq_reserve holds its promise; never lose a task silently. */
    fprintf(stderr, "loopconf runtime: out of memory queueing task '%s'\n", t->name);
    abort();
  }
}

/* Make sure the ring can hold one step of every live task plus `extra` entries, so that
 * lc__make_ready never has to allocate. */
int lc__rq_reserve(lc_rt *rt, size_t extra) {
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
  lc_rt *rt = lc__tls_rt;
  if (!cb) return -EINVAL;
  if (!rt) return -EPERM;
  int rc = lc__rq_reserve(rt, 1);
  return rc ? rc : lc__rq_push(rt, cb, arg);
}

/* ==== Timer heap =========================================================================== */

/* A 4-ary min-heap on (deadline, seq) whose entries carry their keys (struct lc__hent): with
 * 100,000 sleeping tasks a pop sifts through ~8 levels instead of ~17 and reads no node to
 * compare, so it misses the cache about once per level (the index write) instead of three
 * times (two children's keys and the index). */
static int hent_less(const struct lc__hent *a, const struct lc__hent *b) {
  return a->deadline_ns < b->deadline_ns || (a->deadline_ns == b->deadline_ns && a->seq < b->seq);
}

static void heap_set(lc_rt *rt, size_t i, struct lc__hent e) {
  rt->heap[i] = e;
  e.node->index = i;
}

static void heap_up(lc_rt *rt, size_t i) {
  struct lc__hent e = rt->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (!hent_less(&e, &rt->heap[p])) break;
    heap_set(rt, i, rt->heap[p]);
    i = p;
  }
  heap_set(rt, i, e);
}

static void heap_down(lc_rt *rt, size_t i) {
  struct lc__hent e = rt->heap[i];
  size_t len = rt->heap_len;
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= len) break;
    size_t end = c + 4 < len ? c + 4 : len, m = c;
    for (size_t k = c + 1; k < end; k++)
      if (hent_less(&rt->heap[k], &rt->heap[m])) m = k;
    if (!hent_less(&rt->heap[m], &e)) break;
    heap_set(rt, i, rt->heap[m]);
    i = m;
  }
  heap_set(rt, i, e);
}

/* Insert n with its deadline_ns and fire already set. 0 or -ENOMEM. */
int lc__heap_push(lc_rt *rt, lc__tnode *n) {
  if (rt->heap_len == rt->heap_cap) {
    size_t cap = rt->heap_cap ? rt->heap_cap * 2 : 64;
    struct lc__hent *nh = realloc(rt->heap, cap * sizeof *nh);
    if (!nh) return -ENOMEM;
    rt->heap = nh;
    rt->heap_cap = cap;
  }
  n->seq = rt->heap_seq++;
  rt->heap[rt->heap_len++] = (struct lc__hent){n->deadline_ns, n->seq, n};
  heap_up(rt, rt->heap_len - 1);
  return 0;
}

static void timer_entry(void *arg);
void lc__noop_entry(void *arg) { (void)arg; }

/* Remove n if it is in the heap, or drop its fire() if that already waits in the ready queue
 * (asyncio: cancelling a TimerHandle that _run_once moved to _ready). */
void lc__heap_remove(lc_rt *rt, lc__tnode *n) {
  if (n->queued) {
    n->queued = 0;
    for (size_t k = 0; k < rt->rq_len; k++) {
      rt_entry *e = &rt->rq[(rt->rq_head + k) & (rt->rq_cap - 1)];
      if (e->cb == timer_entry && e->arg == n) e->cb = lc__noop_entry;
    }
  }
  size_t i = n->index;
  if (i == SIZE_MAX) return;
  n->index = SIZE_MAX;
  struct lc__hent last = rt->heap[--rt->heap_len];
  if (last.node == n) return;
  heap_set(rt, i, last);
  if (i > 0 && hent_less(&last, &rt->heap[(i - 1) / 4])) heap_up(rt, i);
  else heap_down(rt, i);
}

/* The backend timer fired: it is one-shot, so it is no longer armed. The due nodes are fired
 * by lc__iterate after run() returns, against the live clock. */
void lc__btimer_cb(lc_timer *timer, void *arg) {
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
  int64_t want = rt->heap_len ? rt->heap[0].deadline_ns : INT64_MAX;
  if (rt->poll_for_holds) {
    int64_t poll = lc__add_sat(lc_now(), LC_MS);
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
  if (rc) lc__backend_failed(rt, "timer_start", rc);
  else rt->armed_deadline = want;
}

void lc__wake_timer_fire(lc__tnode *n) {
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

void lc__report(lc_rt *rt, enum lc_report_kind kind, const char *name, int64_t dur,
                const char *msg) {
  if (rt && rt->opts.report) {
    rt->opts.report(rt->opts.report_ctx, kind, name, dur, msg);
    return;
  }
  if (kind == LC_REPORT_SLOW_STEP)
    fprintf(stderr, "loopconf runtime: %s: '%s' took %.3f ms: %s\n", report_kind_name(kind), name,
            (double)dur / 1e6, msg);
  else fprintf(stderr, "loopconf runtime: %s: task '%s': %s\n", report_kind_name(kind), name, msg);
}

void lc__report_unretrieved(lc_rt *rt, lc_task *t) {
  char msg[320];
  snprintf(msg, sizeof msg, "failed with %d (%s)%s%s", t->code, strerror(-t->code),
           t->errmsg ? ": " : "", t->errmsg ? t->errmsg : "");
  t->reported = 1;
  lc__report(rt, LC_REPORT_UNRETRIEVED_ERROR, t->name, 0, msg);
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
    lc__finish(rt, t);
    return;
  }
  if (!t->co) {
    /* The stack is taken at the first step, not at spawn: a task that finishes in one step
     * hands the same pooled stack to the next one, and a task cancelled before it started
     * never costs a stack. If none can be had, the task fails with -ENOMEM. */
    /* LC_STACK_COPY: every task but main runs on the shared stack (main keeps its own, so
     * its locals may be shared with the tasks it starts, as in the dedicated mode). */
    t->co = rt->shared && t != rt->main_task
                ? lc_coro_new_shared(lc__task_entry, t, rt->shared)
                : lc_coro_new(lc__task_entry, t, rt->opts.stack_size, rt->coro_impl);
    if (!t->co) {
      int e = errno ? errno : ENOMEM;
      t->code = -e;
      t->result = 0;
      if (asprintf(&t->errmsg, "cannot allocate a %zu-byte task stack: %s", rt->opts.stack_size,
                   strerror(e)) < 0)
        t->errmsg = NULL;
      lc__finish(rt, t);
      return;
    }
  }
  t->state = T_RUNNING;
  rt->current = t;
  lc_coro_switch(rt->main_co, t->co);
  rt->current = NULL;
  if (t->state == T_EXITED) lc__finish(rt, t);
}

/* Run one ready entry, timing it in debug mode. */
static void rt_run_entry(lc_rt *rt, rt_entry e) {
  int64_t t0 = rt->opts.debug ? lc_now() : 0;
  const char *name = "call_soon callback";
  char namebuf[sizeof((lc_task *)0)->name_buf];
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
      lc__report(rt, LC_REPORT_SLOW_STEP, name, dur, msg);
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

/* A due timer's turn in the ready queue. */
static void timer_entry(void *arg) {
  lc__tnode *n = arg;
  n->queued = 0;
  n->fire(n);
}

/* A backend operation failed: the loop can no longer be trusted to wait or to wake anything,
 * so the scheduler stops (no fallback, no shutdown drain), the tasks are cancelled without it
 * (lc__unwind_without_backend) and lc_run returns the backend's code with the operation named
 * in lc_run_error(). */
void lc__backend_failed(lc_rt *rt, const char *op, int rc) {
  snprintf(lc__run_error, sizeof lc__run_error, "backend %s: %s failed: %d (%s)", rt->b->name, op,
           rc, strerror(-rc));
  fprintf(stderr, "loopconf runtime: %s; stopping\n", lc__run_error);
  rt->backend_rc = rc < 0 ? rc : -EIO;
  rt->gave_up = 1;
}

/* After a backend failure nothing can wait any more: cancel every live task and run only what
 * that makes ready (never the backend), so their cleanup runs up to its next await and their
 * memory is released. Tasks still waiting after 3 rounds stay, leaked as after a deadlock's
 * give-up. The verdict is already lc_run's error. */
void lc__unwind_without_backend(lc_rt *rt) {
  for (int round = 0; round < 3 && rt->live_count > 0; round++) {
    for (lc_task *t = rt->live_head; t; t = t->live_next) lc_cancel(t);
    for (int k = 0; k < 100 && rt->rq_len > 0; k++)
      for (size_t n = rt->rq_len; n > 0; n--) rt_run_entry(rt, rq_pop(rt));
  }
}

/* One loop iteration (asyncio's _run_once). */
void lc__iterate(lc_rt *rt) {
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
      lc__backend_failed(rt, "timer_start", rc);
      return;
    }
    rt->armed_deadline = INT64_MIN; /* not a deadline: rt_arm re-arms next time */
    mode = LC_RUN_ONCE;
    op = "run(LC_RUN_ONCE) with a zero timer (no LC_CAP_NOWAIT)";
  }
  int r = rt->b->run(rt->loop, mode);
  if (r < 0) {
    lc__backend_failed(rt, op, r);
    return;
  }
  int64_t now = lc_now();

  /* Due timers, judged by the live clock; lateness is the loop-lag sample. */
  int64_t lag = had_ready ? now - t0 : -1; /* how long ready work waited for the poll */
  /* As asyncio's _run_once, their callbacks go to the END of the ready queue and run in this
   * iteration, after the entries that were ready already (SCHED-TIMER-AFTER-READY). */
  while (rt->heap_len && rt->heap[0].deadline_ns <= now) {
    lc__tnode *n = rt->heap[0].node;
    lc__heap_remove(rt, n);
    if (now - n->deadline_ns > lag) lag = now - n->deadline_ns;
    if (lc__rq_reserve(rt, 1) == 0 && lc__rq_push(rt, timer_entry, n) == 0) n->queued = 1;
    else n->fire(n); /* out of memory for the ring: fire now rather than lose it */
  }
  if (lag >= 0) lag_sample(rt, lag);

  /* Exactly the entries queued now; later ones wait for the next iteration. */
  size_t ran = rt->rq_len;
  for (size_t n = ran; n > 0 && !rt->gave_up; n--) rt_run_entry(rt, rq_pop(rt));

  /* Idle iteration (nothing fired, nothing ran) and the backend has nothing active. */
  rt->poll_for_holds = 0;
  if (!had_ready && r == 0 && ran == 0 && lag < 0 && rt->rq_len == 0 && rt->heap_len == 0 &&
      rt->live_count > 0) {
    if (rt->holds > 0) rt->poll_for_holds = 1; /* the holder has no backend handle: poll for it */
    else rt_deadlock(rt);
  }
}

/* ==== Parking ============================================================================== */

/* Suspend the current task on w until lc_unpark(w) or a cancellation delivered by `hook`'s
 * absence or refusal. Returns w->rc or -ECANCELED. */
int lc__wait(lc_task *self, lc_waiter *w, rt_cancel_hook hook, void *ctx) {
  w->cancelled = 0;
  if (self->must_cancel) {
    self->must_cancel = 0;
    if (!hook || !hook(self, ctx)) {
      w->cancelled = 1; /* asyncio: the task cancels the future it was about to wait on */
      return -ECANCELED;
    }
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
  if (w->cancelled) return -ECANCELED; /* the waiter was cancelled: uncancel cannot undo it */
  return w->rc;
}

int lc_park(lc_waiter *w) {
  lc_task *self = lc_current_task();
  if (!self || !w) return -EPERM;
  return lc__wait(self, w, NULL, NULL);
}

void lc_unpark(lc_waiter *w, int rc) {
  if (!w || w->woken) return;
  w->woken = 1;
  w->rc = rc;
  if (!w->cancelled) lc__make_ready(w->task); /* a cancelled one is ready already */
}

int lc_yield(void) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (self->must_cancel) {
    self->must_cancel = 0;
    return -ECANCELED;
  }
  /* A bare yield: park on a waiter that is already woken (the runtime's, never linked, so no
   * stack memory is involved in either mode) and queue our own next step. */
  self->park_w = &self->rt->yield_w;
  self->park_hook = NULL;
  self->state = T_PARKED;
  lc__make_ready(self);
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
  struct {
    lc_waiter w;
    rt_wake_timer wt;
  } local = {.wt = {.node = {.index = SIZE_MAX, .fire = lc__wake_timer_fire}, .rc = 0}}, *f;
  if (!(f = lc__park_mem(&local, sizeof local))) return -ENOMEM;
  f->wt.w = &f->w;
  f->wt.node.deadline_ns = lc__add_sat(lc_now(), delay_ns);
  int rc = lc__heap_push(self->rt, &f->wt.node);
  if (rc == 0) {
    rc = lc__wait(self, &f->w, NULL, NULL);
    lc__heap_remove(self->rt, &f->wt.node);
  }
  lc__park_mem_free(f, &local);
  return rc;
}

/* ==== Done callbacks and timer handles for the other parts (issue 9) ======================== */

void lc__done_add(lc_task *t, lc__done *d) {
  d->deferred = 1;
  d->linked = d->pending = 0;
  d->task = NULL;
  if (t->state == T_DONE) {
    if (t->rt) lc__done_schedule(t->rt, d, t);
    else d->fn(d, t);
  } else {
    lc__done_link(t, d);
  }
}

void lc__done_remove(lc_task *t, lc__done *d) { lc__done_unlink(t, d); }

/* loop.call_later / call_at: a timer node plus the callback, reference-counted between the
 * caller and the runtime (which holds one while the timer is scheduled or its call queued). */
struct lc_handle {
  lc__tnode node; /* first member */
  void (*cb)(void *arg);
  void *arg;
  lc_rt *rt;
  int refs;
  int cancelled, fired;
};

static void handle_unref(lc_handle *h) {
  if (--h->refs == 0) free(h);
}

static void handle_fire(lc__tnode *n) {
  lc_handle *h = (lc_handle *)n;
  h->fired = 1;
  h->cb(h->arg);
  handle_unref(h); /* the runtime's reference */
}

lc_handle *lc_call_at(int64_t when_ns, void (*cb)(void *arg), void *arg) {
  lc_rt *rt = lc__tls_rt;
  if (!rt || !cb) {
    errno = !rt ? EPERM : EINVAL;
    return NULL;
  }
  lc_handle *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->node.index = SIZE_MAX;
  h->node.fire = handle_fire;
  h->node.deadline_ns = when_ns;
  h->cb = cb;
  h->arg = arg;
  h->rt = rt;
  h->refs = 2;
  if (lc__heap_push(rt, &h->node) != 0) {
    free(h);
    errno = ENOMEM;
    return NULL;
  }
  return h;
}

lc_handle *lc_call_later(int64_t delay_ns, void (*cb)(void *arg), void *arg) {
  return lc_call_at(lc__add_sat(lc_now(), delay_ns < 0 ? 0 : delay_ns), cb, arg);
}

int lc_handle_cancel(lc_handle *h) {
  if (!h || h->cancelled || h->fired) return 0;
  h->cancelled = 1;
  if (h->rt && h->rt == lc__tls_rt) {
    lc__heap_remove(h->rt, &h->node);
    handle_unref(h); /* the runtime's reference */
  }
  return 1;
}

int lc_handle_cancelled(const lc_handle *h) { return h && h->cancelled; }
int64_t lc_handle_when(const lc_handle *h) { return h ? h->node.deadline_ns : 0; }
void lc_handle_unref(lc_handle *h) {
  if (h) handle_unref(h);
}

/* At the end of lc_run: the timers still scheduled are dropped (asyncio closes its loop with
 * them pending); the handles of those live on until their owners' lc_handle_unref. */
void lc__handles_drop(lc_rt *rt) {
  /* Partition in place (handles to the tail), then re-heapify what stays: removing them one
   * by one while scanning could sift an unvisited handle into a slot already passed. */
  size_t kept = 0, len = rt->heap_len;
  for (size_t i = 0; i < len; i++)
    if (rt->heap[i].node->fire != handle_fire) {
      struct lc__hent e = rt->heap[i];
      rt->heap[i] = rt->heap[kept];
      rt->heap[kept++] = e;
    }
  rt->heap_len = kept;
  for (size_t i = 0; i < kept; i++) rt->heap[i].node->index = i;
  for (size_t i = kept / 4 + 1; i-- > 0;)
    if (i < kept) heap_down(rt, i);
  for (size_t i = kept; i < len; i++) {
    lc_handle *h = (lc_handle *)rt->heap[i].node;
    h->node.index = SIZE_MAX;
    h->rt = NULL;
    handle_unref(h);
  }
  for (size_t k = 0; k < rt->rq_len; k++) {
    rt_entry *e = &rt->rq[(rt->rq_head + k) & (rt->rq_cap - 1)];
    if (e->cb == timer_entry && ((lc__tnode *)e->arg)->fire == handle_fire) {
      lc_handle *h = e->arg;
      e->cb = lc__noop_entry;
      h->node.queued = 0;
      h->rt = NULL;
      handle_unref(h);
    }
  }
}
