/* rt_core.h: what the four parts of the runtime core share (rt_sched.c, rt_task.c,
 * rt_compose.c, rt_run.c): the task and runtime structs and the core's cross-file functions.
 * Private to the core; the rest of the runtime uses rt_internal.h. */
#ifndef LC_RT_CORE_H
#define LC_RT_CORE_H

#include "rt_internal.h"

#include "coro.h"

/* How it fits together
 *
 * One thread, one lc_rt. The scheduler runs on the thread's main context; every task runs on
 * its own coroutine and switches back to the scheduler at each await point.
 *
 * Ready queue: a ring buffer of entries (a task step or a call_soon callback). One loop
 * iteration (rt_iterate) polls the backend (LC_RUN_NOWAIT when work is ready, LC_RUN_ONCE
 * otherwise), appends the due runtime timers' callbacks to the end of the ready queue, then
 * runs exactly the entries that were queued at that moment; anything queued meanwhile waits
 * for the next iteration (asyncio's _run_once).
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
  int queued;                           /* due: its fire() waits in the ready queue */
} lc__tnode;

/* A heap entry: the node's key copied beside it, so that sifting compares without touching
 * the (cold) nodes; only the moved node's index is written. */
struct lc__hent {
  int64_t deadline_ns;
  uint64_t seq;
  lc__tnode *node;
};

enum task_state {
  T_NEW,     /* spawned, first step not run yet */
  T_RUNNING, /* its coroutine is executing */
  T_PARKED,  /* suspended in lc__wait */
  T_EXITED,  /* its function returned; the scheduler finishes it */
  T_DONE     /* finished: code and result are final */
};

/* A cancel hook: called by lc_cancel for a task parked in lc__wait and not yet woken. Returns 1
 * if the cancellation was handed on (the task keeps waiting), 0 to deliver -ECANCELED now. */
typedef int (*rt_cancel_hook)(lc_task *self, void *ctx);

/* A "done callback" registered on a task; lives in the waiter's memory (rt_internal.h). */
typedef lc__done rt_done;

struct lc_task {
  lc_rt *rt;   /* NULL once detached at the end of lc_run */
  lc_coro *co; /* NULL before allocation and once finished */
  lc_task_fn fn;
  void *arg;
  intptr_t result;
  int code; /* final code once T_DONE */
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
  lc_waiter *park_w; /* while T_PARKED */
  rt_cancel_hook park_hook;
  void *park_ctx;
  lc_timeout *timeouts; /* innermost open timeout scope */
  lc__tnode scope_node; /* armed for the earliest deadline of its open scopes */
  rt_done *done_head, *done_tail;
  lc_task *live_prev, *live_next; /* list of tasks not done */
  lc_task *all_prev, *all_next;   /* list of every task not freed */
  char *name;
  char *errmsg;
  char *cancel_msg; /* the message of the current round of cancel requests (or NULL) */
  char name_buf[32];
  lc_arena *arena; /* LC_STACK_COPY: the arena this struct was carved from (else NULL) */
  /* LC_STACK_COPY only: the off-stack memory of the await the task is parked in
   * (lc__park_mem), LC__PARK_INLINE bytes allocated with the task; bigger or nested frames
   * are malloc'ed. Absent (size 0) in the dedicated-stack mode. */
  int park_mem_busy;
  _Alignas(16) unsigned char park_mem[];
};

/* Bytes of off-stack await memory kept inside each task in LC_STACK_COPY: enough for the
 * frames of lc_sleep (104 bytes on x86-64), lc_await (112) and every primitive's waiter;
 * lc_wait_for's (168) and gather's are malloc'ed (rarer; room for them would cost every
 * suspended task 56 bytes more). */
#define LC__PARK_INLINE 112

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
  enum lc_stack_mode stack_mode;
  lc_coro_shared *shared; /* LC_STACK_COPY: the one stack every task runs on */
  lc_waiter yield_w;      /* the waiter a bare lc_yield parks on: always woken, never linked */
  lc_task *current;
  lc_task *main_task;
  uint64_t next_id;

  /* ready queue: ring buffer, capacity a power of two */
  rt_entry *rq;
  size_t rq_cap, rq_head, rq_len;

  /* timer heap and the one backend timer that drives it */
  struct lc__hent *heap; /* 4-ary, keys inline: see rt_sched.c */
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
  void *threadsafe_slot; /* rt_threadsafe.c's open portals */
  int draining;          /* main returned: cancelling and draining the leftovers */
  int deadlocks;         /* times nothing could ever wake the waiting tasks */
  int gave_up;
  int backend_rc;      /* a backend operation failed: lc_run stops and returns this */
  uint64_t cancel_gen; /* numbers lc_cancel calls, for cancel_mark */

  lc_lag_stats lag;
};

extern _Thread_local lc_rt *lc__tls_rt;
extern _Thread_local char lc__run_error[256]; /* lc_run_error(): "" when the run did not fail */

/* A timer that wakes a waiter with rc (sleep, wait_for's deadline). */
typedef struct rt_wake_timer {
  lc__tnode node;
  lc_waiter *w;
  int rc;
} rt_wake_timer;

/* What an await on a task parks on: a waiter and the done record that wakes it (lc_await,
 * lc_shield), with a wake timer for the timed awaits (lc_wait_for); from lc__park_mem. */
typedef struct rt_await_frame {
  lc_waiter w;
  rt_done d;
} rt_await_frame;
typedef struct rt_wait_frame {
  lc_waiter w;
  rt_done d;
  rt_wake_timer wt;
} rt_wait_frame;

/* ---- Cross-file functions of the core (each defined where its banner says) ---------------- */

int64_t lc__add_sat(int64_t a, int64_t b);
int lc__rq_push(lc_rt *rt, void (*cb)(void *), void *arg);
void lc__make_ready(lc_task *t);
int lc__rq_reserve(lc_rt *rt, size_t extra);
int lc__heap_push(lc_rt *rt, lc__tnode *n);
void lc__noop_entry(void *arg);
void lc__heap_remove(lc_rt *rt, lc__tnode *n);
void lc__btimer_cb(lc_timer *timer, void *arg);
void lc__wake_timer_fire(lc__tnode *n);
void lc__report(lc_rt *rt, enum lc_report_kind kind, const char *name, int64_t dur,
                const char *msg);
void lc__report_unretrieved(lc_rt *rt, lc_task *t);
void lc__iterate(lc_rt *rt);
int lc__wait(lc_task *self, lc_waiter *w, rt_cancel_hook hook, void *ctx);
void lc__handles_drop(lc_rt *rt);
void lc__all_unlink(lc_rt *rt, lc_task *t);
void lc__task_entry(void *arg);
void lc__finish(lc_rt *rt, lc_task *t);
void lc__done_schedule(lc_rt *rt, rt_done *d, lc_task *t);
void lc__done_link(lc_task *t, rt_done *d);
void lc__done_unlink(lc_task *t, rt_done *d);
void lc__done_wake(rt_done *d, lc_task *t);
int lc__uncancel(lc_task *t);
int lc__take_result(lc_task *t, intptr_t *result);
int lc__wait_done(lc_task *self, lc_task *t, rt_cancel_hook hook, void *ctx);
void lc__scopes_fire(lc__tnode *n);
void lc__backend_failed(lc_rt *rt, const char *op, int rc);
void lc__unwind_without_backend(lc_rt *rt);

#endif /* LC_RT_CORE_H */
