/* rt_task.c: the runtime core's tasks: spawn, steps, results, cancellation, await and shield, cancel messages and names. */
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

/* ==== Tasks ================================================================================ */

static void live_unlink(lc_rt *rt, lc_task *t) {
  if (t->live_prev) t->live_prev->live_next = t->live_next;
  else rt->live_head = t->live_next;
  if (t->live_next) t->live_next->live_prev = t->live_prev;
  else rt->live_tail = t->live_prev;
  t->live_prev = t->live_next = NULL;
  rt->live_count--;
}

void lc__all_unlink(lc_rt *rt, lc_task *t) {
  if (t->all_prev) t->all_prev->all_next = t->all_next;
  else rt->all_head = t->all_next;
  if (t->all_next) t->all_next->all_prev = t->all_prev;
  t->all_prev = t->all_next = NULL;
}

/* The first frame on every task's stack. Runs the function, then leaves for good. */
void lc__task_entry(void *arg) {
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

static void task_mem_free(lc_task *t) {
  if (t->arena) lc_arena_free(t->arena, t, sizeof *t + LC__PARK_INLINE);
  else free(t);
}

lc_task *lc_spawn(lc_task_fn fn, void *arg, const char *name) {
  lc_rt *rt = lc__tls_rt;
  if (!rt) {
    errno = EPERM;
    return NULL;
  }
  if (!fn) {
    errno = EINVAL;
    return NULL;
  }
  if (lc__rq_reserve(rt, 1) != 0) {
    errno = ENOMEM;
    return NULL;
  }
  lc_arena *arena = rt->shared ? lc_coro_shared_arena(rt->shared) : NULL;
  lc_task *t = arena ? lc_arena_calloc(arena, sizeof *t + LC__PARK_INLINE) : calloc(1, sizeof *t);
  if (!t) return NULL;
  t->arena = arena;
  t->id = ++rt->next_id;
  if (!name) {
    snprintf(t->name_buf, sizeof t->name_buf, "task-%llu", (unsigned long long)t->id);
    t->name = t->name_buf;
  } else if (strlen(name) < sizeof t->name_buf) {
    strcpy(t->name_buf, name);
    t->name = t->name_buf;
  } else if (!(t->name = strdup(name))) {
    task_mem_free(t);
    return NULL;
  }
  t->rt = rt;
  t->fn = fn;
  t->arg = arg;
  t->refs = 2; /* the caller's, and the runtime's until the task is done */
  t->state = T_NEW;
  t->scope_node.index = SIZE_MAX;
  t->scope_node.fire = lc__scopes_fire;
  t->live_prev = rt->live_tail;
  if (rt->live_tail) rt->live_tail->live_next = t;
  else rt->live_head = t;
  rt->live_tail = t;
  rt->live_count++;
  t->all_next = rt->all_head;
  if (rt->all_head) rt->all_head->all_prev = t;
  rt->all_head = t;
  lc__make_ready(t); /* the ring was reserved above */
  return t;
}

void lc_task_ref(lc_task *t) {
  if (t) t->refs++;
}

void lc_task_unref(lc_task *t) {
  if (!t || --t->refs > 0) return;
  /* Only done tasks reach 0: the runtime holds a reference until then. */
  if (t->code < 0 && t->code != -ECANCELED && !t->retrieved && !t->reported)
    lc__report_unretrieved(t->rt, t); /* like asyncio's "exception was never retrieved" at GC */
  if (t->rt) lc__all_unlink(t->rt, t);
  if (t->name != t->name_buf) free(t->name);
  free(t->errmsg);
  free(t->cancel_msg);
  task_mem_free(t);
}

lc_task *lc_current_task(void) { return lc__tls_rt ? lc__tls_rt->current : NULL; }
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
void lc__finish(lc_rt *rt, lc_task *t) {
  if (t->co) {
    lc_coro_free(t->co); /* its stack goes back to the pool at once */
    t->co = NULL;
  }
  t->state = T_DONE;
  t->must_cancel = 0;
  live_unlink(rt, t);
  if (t->shutdown_cancelled) rt->shutdown_pending--;
  lc__heap_remove(rt, &t->scope_node); /* the scopes' deadline lives in the task, not its stack */
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
    lc__report(rt, LC_REPORT_SWALLOWED_CANCEL, t->name, 0, msg);
  }
  if (t->auto_retrieve) t->retrieved = 1;
  while (t->done_head) {
    rt_done *d = t->done_head;
    t->done_head = d->next;
    if (t->done_head) t->done_head->prev = NULL;
    else t->done_tail = NULL;
    d->next = d->prev = NULL;
    d->linked = 0;
    if (d->deferred) lc__done_schedule(rt, d, t);
    else d->fn(d, t);
  }
  lc_task_unref(t);
}

/* A deferred done callback's turn in the ready queue. */
static void done_entry(void *arg) {
  rt_done *d = arg;
  lc_task *t = d->task;
  d->pending = 0;
  d->task = NULL;
  d->fn(d, t);
  lc_task_unref(t);
}

/* Queue d->fn(d, t) for the ready queue (asyncio's Future._schedule_callbacks / call_soon).
 * Out of memory for the ring: run it now rather than lose it. */
void lc__done_schedule(lc_rt *rt, rt_done *d, lc_task *t) {
  if (lc__rq_reserve(rt, 1) != 0 || lc__rq_push(rt, done_entry, d) != 0) {
    d->fn(d, t);
    return;
  }
  lc_task_ref(t);
  d->task = t;
  d->pending = 1;
}

/* Nodes live on the waiting task's stack and are always unlinked before it returns; gcc 12+
 * cannot see that and warns about the stored address. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
void lc__done_link(lc_task *t, rt_done *d) {
  d->next = NULL;
  d->prev = t->done_tail;
  if (t->done_tail) t->done_tail->next = d;
  else t->done_head = d;
  t->done_tail = d;
  d->linked = 1;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

void lc__done_unlink(lc_task *t, rt_done *d) {
  if (d->pending) { /* its callback waits in the ready queue: drop it */
    lc_rt *rt = d->task->rt;
    for (size_t k = 0; rt && k < rt->rq_len; k++) {
      rt_entry *e = &rt->rq[(rt->rq_head + k) & (rt->rq_cap - 1)];
      if (e->cb == done_entry && e->arg == d) e->cb = lc__noop_entry;
    }
    d->pending = 0;
    lc_task_unref(d->task);
    d->task = NULL;
  }
  if (!d->linked) return;
  if (d->prev) d->prev->next = d->next;
  else t->done_head = d->next;
  if (d->next) d->next->prev = d->prev;
  else t->done_tail = d->prev;
  d->next = d->prev = NULL;
  d->linked = 0;
}

/* Done callback that wakes the waiter in ctx with 0 ("the task finished"). */
void lc__done_wake(rt_done *d, lc_task *t) {
  (void)t;
  lc_unpark(d->ctx, 0);
}

/* ==== Off-stack await memory (LC_STACK_COPY) =============================================== */

int lc__on_shared_stack(const lc_task *t) {
  return t && t->rt && t->rt->shared && t != t->rt->main_task;
}

_Thread_local int lc__tls_copy_mode;

void *lc__park_mem_copy(void *local, size_t size) {
  lc_rt *rt = lc__tls_rt;
  lc_task *t = rt ? rt->current : NULL;
  if (!lc__on_shared_stack(t)) return local; /* a dedicated stack stays put while parked */
  void *p;
  if (!t->park_mem_busy && size <= LC__PARK_INLINE) {
    t->park_mem_busy = 1;
    p = t->park_mem;
  } else if (!(p = malloc(size))) {
    return NULL;
  }
  memcpy(p, local, size);
  return p;
}

void lc__park_mem_copy_free(void *p) {
  if (!p) return;
  lc_task *t = lc__tls_rt ? lc__tls_rt->current : NULL;
  if (t && p == (void *)t->park_mem) t->park_mem_busy = 0;
  else free(p);
}

/* ==== Cancellation ========================================================================= */

static int await_hook(lc_task *self, void *ctx);

int lc_cancel(lc_task *t) {
  if (!t || t->state == T_DONE || t->state == T_EXITED) return 0;
  uint64_t mark = t->rt ? ++t->rt->cancel_gen : 0;
  for (;;) {
    if (t->cancelling == 0 && t->cancel_msg) { /* a new round: the old message is stale */
      free(t->cancel_msg);
      t->cancel_msg = NULL;
    }
    t->cancelling++;
    if (t->state != T_PARKED || lc__waiter_done(t->park_w)) {
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
    /* Cancel the waiter itself (asyncio: fut.cancel()), at once: it is done from now on, so
     * no primitive hands it anything, and lc_uncancel before it runs cannot undo it. */
    t->park_w->cancelled = 1;
    lc__make_ready(t);
    return 1;
  }
}

int lc_cancelling(const lc_task *t) { return t ? t->cancelling : 0; }

/* Withdraw one request. When none remain, a pending undelivered one is dropped too. */
int lc__uncancel(lc_task *t) {
  if (t->cancelling > 0 && --t->cancelling == 0) t->must_cancel = 0;
  return t->cancelling;
}

int lc__withdraw_cancel(lc_task *t) { return t ? lc__uncancel(t) : 0; }

int lc_uncancel(lc_task *t) {
  if (!t) return 0;
  t->user_uncancelled = 1;
  return lc__uncancel(t);
}

/* ==== await, shield ======================================================================== */

/* lc_await's cancel hook: cancelling the awaiter cancels the awaited task. */
static int await_hook(lc_task *self, void *ctx) {
  (void)self;
  return lc_cancel(ctx);
}

/* Park self until t is done (a done record wakes it), with `hook` for a cancellation. The
 * frame comes from lc__park_mem. lc__wait's code, or -ENOMEM (copy-stack mode only). */
int lc__wait_done(lc_task *self, lc_task *t, rt_cancel_hook hook, void *ctx) {
  rt_await_frame local = {0}, *f = lc__park_mem(&local, sizeof local);
  if (!f) return -ENOMEM;
  f->d.fn = lc__done_wake;
  f->d.ctx = &f->w;
  lc__done_link(t, &f->d);
  int rc = lc__wait(self, &f->w, hook, ctx);
  lc__done_unlink(t, &f->d);
  lc__park_mem_free(f, &local);
  return rc;
}

int lc__take_result(lc_task *t, intptr_t *result) {
  t->retrieved = 1;
  if (result) *result = t->result;
  return t->code;
}

int lc_await(lc_task *t, intptr_t *result) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (!t) return -EINVAL;
  if (t == self) return -EDEADLK; /* asyncio: a task cannot await itself */
  if (t->state == T_DONE) return lc__take_result(t, result); /* a done task: no suspension */
  int rc = lc__wait_done(self, t, await_hook, t);
  if (rc == -ECANCELED || rc == -ENOMEM) return rc;
  return lc__take_result(t, result);
}

int lc_shield(lc_task *t, intptr_t *result) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (!t) return -EINVAL;
  if (t == self) return -EDEADLK;
  if (t->state == T_DONE) return lc__take_result(t, result);
  int rc = lc__wait_done(self, t, NULL, NULL); /* no hook: the cancellation stops here */
  if (rc == -ENOMEM) return rc;
  if (rc == -ECANCELED) {
    if (t->state != T_DONE) t->auto_retrieve = 1; /* asyncio: the shield takes its outcome */
    return rc;
  }
  return lc__take_result(t, result);
}

/* ==== Cancel messages, task names, timeout_at, shield inside wait_for (issue 9) ============= */

int lc_cancel_msg(lc_task *t, const char *msg) {
  if (!lc_cancel(t)) return 0;
  /* The message travels with the request down a chain of awaits (Task.cancel(msg) cancels
   * the awaited task with msg); the first message of a round is kept. */
  size_t guard = t->rt ? t->rt->live_count + 1 : 1;
  for (lc_task *c = t; c && guard-- > 0;) {
    if (!c->cancel_msg && msg) c->cancel_msg = strdup(msg); /* NULL on ENOMEM: no message */
    if (c->state == T_PARKED && c->park_hook == await_hook && !lc__waiter_done(c->park_w))
      c = c->park_ctx;
    else break;
  }
  return 1;
}

const char *lc_cancel_message(const lc_task *t) { return t && t->cancel_msg ? t->cancel_msg : ""; }

int lc_task_set_name(lc_task *t, const char *name) {
  if (!t || !name) return -EINVAL;
  char *heap = NULL;
  if (strlen(name) >= sizeof t->name_buf && !(heap = strdup(name))) return -ENOMEM;
  if (t->name != t->name_buf) free(t->name);
  if (heap) {
    t->name = heap;
  } else {
    strcpy(t->name_buf, name);
    t->name = t->name_buf;
  }
  return 0;
}
