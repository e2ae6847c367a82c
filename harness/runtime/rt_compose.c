/* rt_compose.c: the runtime core's composition: gather, wait_for, timeout scopes. */
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

/* ==== gather =============================================================================== */

typedef struct gather_state {
  lc_waiter w;
  lc_task *const *tasks;
  intptr_t *results;
  int *errors;
  size_t n, nfinished;
  int flags;
  int outer_done; /* the outcome is decided (asyncio's outer future is done) */
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
  /* The state, the done records and (copy-stack mode) a copy of the tasks array and the
   * results/errors the callbacks write while we are parked: on this stack in the dedicated
   * mode (records on the heap beyond 16), in one heap block in LC_STACK_COPY, where the
   * caller's arrays may be on this task's stack and are written only after it resumes. */
  int copy = lc__on_shared_stack(self);
  gather_state local_gs;
  rt_done local[16];
  gather_state *gs = &local_gs;
  rt_done *nodes = local;
  void *block = NULL;
  if (copy) {
    size_t sz =
        sizeof *gs + n * (sizeof *nodes + sizeof(lc_task *) + sizeof(intptr_t) + sizeof(int));
    if (!(block = malloc(sz))) return -ENOMEM;
    gs = block;
    nodes = (rt_done *)(gs + 1);
    lc_task **tcopy = (lc_task **)(nodes + n);
    intptr_t *rcopy = (intptr_t *)(tcopy + n);
    int *ecopy = (int *)(rcopy + n);
    memcpy(tcopy, tasks, n * sizeof *tcopy);
    *gs = (gather_state){.tasks = tcopy, .results = rcopy, .errors = ecopy, .n = n, .flags = flags};
  } else {
    if (n > 16 && !(nodes = malloc(n * sizeof *nodes))) return -ENOMEM;
    *gs = (gather_state){
        .tasks = tasks, .results = results, .errors = errors, .n = n, .flags = flags};
  }
  gs->w.woken = 1; /* until lc__wait parks on it, a decision must not try to wake anyone */
  /* As CPython's gather, every child's completion arrives through a callback scheduled with
   * call_soon, also for a child already done: gather always suspends (GATHER-DONE-SUSPENDS). */
  size_t reg = 0; /* children registered */
  for (; reg < n; reg++) {
    nodes[reg] = (rt_done){.fn = gather_done, .ctx = gs, .index = reg, .deferred = 1};
    if (tasks[reg]->state == T_DONE) lc__done_schedule(self->rt, &nodes[reg], tasks[reg]);
    else lc__done_link(tasks[reg], &nodes[reg]);
  }
  int rc;
  if (gs->outer_done) { /* decided already (a ring that could not grow ran the callbacks) */
    rc = gs->rc;
  } else {
    rc = lc__wait(self, &gs->w, gather_hook, gs);
    if (rc != -ECANCELED) rc = gs->rc;
  }
  /* Detach from children still running; their slots say -EAGAIN. */
  for (size_t i = 0; i < n; i++) {
    if (i < reg) lc__done_unlink(tasks[i], &nodes[i]);
    if (tasks[i]->state != T_DONE) {
      tasks[i]->auto_retrieve = 1; /* CPython's gather takes their outcome when it comes */
      if (gs->results) gs->results[i] = 0;
      if (gs->errors) gs->errors[i] = -EAGAIN;
    } else if (i >= reg) {
      gather_record(gs, i, tasks[i]);
    }
  }
  if (copy) { /* running again: now the caller's arrays may be written */
    if (results) memcpy(results, gs->results, n * sizeof *results);
    if (errors) memcpy(errors, gs->errors, n * sizeof *errors);
    free(block);
  } else if (nodes != local) {
    free(nodes);
  }
  return rc;
}

/* ==== wait_for ============================================================================= */

/* A wait frame whose done record and wake timer (rc when it fires) both wake its waiter. */
static void rt_wait_frame_init(rt_wait_frame *f, int timer_rc) {
  f->d.fn = lc__done_wake;
  f->d.ctx = &f->w;
  f->wt.node.index = SIZE_MAX;
  f->wt.node.fire = lc__wake_timer_fire;
  f->wt.w = &f->w;
  f->wt.rc = timer_rc;
}

/* Cancel t and wait until it is done (asyncio's _cancel_and_wait). 0, -ENOMEM (copy-stack
 * mode), or -ECANCELED if the caller is cancelled meanwhile (t stays cancelled, not awaited). */
static int cancel_and_wait(lc_task *self, lc_task *t) {
  lc_cancel(t);
  if (t->state == T_DONE) return 0;
  int rc = lc__wait_done(self, t, NULL, NULL);
  return rc == -ECANCELED || rc == -ENOMEM ? rc : 0;
}

int lc_wait_for(lc_task *t, int64_t timeout_ns, intptr_t *result) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (!t) return -EINVAL;
  if (t == self) return -EDEADLK;
  if (t->state == T_DONE) return lc__take_result(t, result);
  if (timeout_ns == LC_NO_TIMEOUT) return lc_await(t, result); /* wait_for(aw, None) */
  int rc;
  if (timeout_ns > 0) {
    rt_wait_frame local = {0}, *f = lc__park_mem(&local, sizeof local);
    if (!f) return -ENOMEM;
    rt_wait_frame_init(f, -ETIMEDOUT);
    f->wt.node.deadline_ns = lc__add_sat(lc_now(), timeout_ns);
    if ((rc = lc__heap_push(self->rt, &f->wt.node)) != 0) {
      lc__park_mem_free(f, &local);
      return rc;
    }
    lc__done_link(t, &f->d);
    rc = lc__wait(self, &f->w, NULL, NULL);
    lc__heap_remove(self->rt, &f->wt.node);
    lc__done_unlink(t, &f->d);
    lc__park_mem_free(f, &local);
    if (rc == -ECANCELED) {
      /* The caller was cancelled: cancel t and wait for it, then pass the cancellation on.
       * CPython 3.11 returned t's result instead when t happened to be done already, losing
       * the cancellation (fixed in 3.12); we never lose it. */
      if (t->state != T_DONE) cancel_and_wait(self, t);
      return -ECANCELED;
    }
    if (t->state == T_DONE) return lc__take_result(t, result); /* finished in time, or just */
  }
  /* Expired (or timeout <= 0): cancel the inner task and wait for its cleanup. */
  if ((rc = cancel_and_wait(self, t)) != 0) return rc;
  if (t->code == -ECANCELED) {
    t->retrieved = 1;
    return -ETIMEDOUT;
  }
  return lc__take_result(t, result); /* it swallowed the cancel: its value wins */
}

/* ==== Timeout scopes ======================================================================= */

enum { TO_FREE = 0, TO_ENTERED, TO_EXPIRING, TO_EXPIRED, TO_EXITED };

/* Arm the task's scope node for the earliest deadline among its entered scopes. The scopes
 * live on the task's stack; they are read only here and in lc__scopes_fire, i.e. while the task is
 * running or suspended, never after it returned (suspended in LC_STACK_COPY: lc__scopes_fire
 * puts the task's stack image back first). 0 or -ENOMEM. */
static int scopes_rearm(lc_task *t) {
  int64_t min = INT64_MAX;
  for (lc_timeout *to = t->timeouts; to; to = to->outer)
    if (to->state == TO_ENTERED && to->deadline_ns < min) min = to->deadline_ns;
  if (!t->rt) return 0;
  if (t->scope_node.index != SIZE_MAX && t->scope_node.deadline_ns == min) return 0;
  lc__heap_remove(t->rt, &t->scope_node);
  if (min == INT64_MAX) return 0;
  t->scope_node.deadline_ns = min;
  return lc__heap_push(t->rt, &t->scope_node);
}

/* A scope deadline passed: every entered scope now due expires and cancels the task once
 * (asyncio's Timeout._on_timeout, per scope, innermost first); then re-arm for the rest. */
void lc__scopes_fire(lc__tnode *n) {
  lc_task *t = (lc_task *)((char *)n - offsetof(lc_task, scope_node));
  /* The scopes are on t's stack. In LC_STACK_COPY another task's frames may be there: put t's
   * image back first (this runs on the scheduler's own stack, never on the shared one). */
  if (t->rt && t->rt->shared && t->co && lc_coro_shared_own(t->co) != 0) {
    fprintf(stderr, "loopconf runtime: out of memory restoring task '%s' for its timeout\n",
            t->name);
    abort();
  }
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
  to->deadline_ns =
      delay_ns < 0 || delay_ns == INT64_MAX ? INT64_MAX : lc__add_sat(lc_now(), delay_ns);
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
    if (lc__uncancel(t) <= to->cancelling_at_enter && rc == -ECANCELED) rc = -ETIMEDOUT;
  } else {
    to->state = TO_EXITED;
  }
  scopes_rearm(t); /* only ever moves the deadline later or removes it: cannot fail */
  if (self != t || !innermost) return -EINVAL;
  return rc;
}

int lc_timeout_enter_at(lc_timeout *to, int64_t deadline_ns) {
  int rc = lc_timeout_enter(to, -1);
  if (rc) return rc;
  if (deadline_ns == INT64_MAX) return 0;
  if ((rc = lc_timeout_reschedule(to, deadline_ns)) != 0) lc_timeout_exit(to, 0);
  return rc;
}

int64_t lc_timeout_when(const lc_timeout *to) { return to ? to->deadline_ns : INT64_MAX; }

int lc_wait_for_shield(lc_task *t, int64_t timeout_ns, intptr_t *result) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (!t) return -EINVAL;
  if (t == self) return -EDEADLK;
  if (t->state == T_DONE) return lc__take_result(t, result);
  if (timeout_ns == LC_NO_TIMEOUT) return lc_shield(t, result);
  rt_wait_frame local = {0}, *f = lc__park_mem(&local, sizeof local);
  if (!f) return -ENOMEM;
  rt_wait_frame_init(f, -ETIMEDOUT);
  f->wt.node.deadline_ns = lc__add_sat(lc_now(), timeout_ns > 0 ? timeout_ns : 0);
  int rc = lc__heap_push(self->rt, &f->wt.node);
  if (rc) {
    lc__park_mem_free(f, &local);
    return rc;
  }
  lc__done_link(t, &f->d);
  rc = lc__wait(self, &f->w, NULL, NULL); /* no hook: neither the caller's cancel nor the
                                            timeout reaches t */
  lc__heap_remove(self->rt, &f->wt.node);
  lc__done_unlink(t, &f->d);
  lc__park_mem_free(f, &local);
  if (rc == -ECANCELED || rc == -ETIMEDOUT) {
    if (t->state != T_DONE) t->auto_retrieve = 1; /* the shield takes its outcome */
    return rc;
  }
  return lc__take_result(t, result);
}
