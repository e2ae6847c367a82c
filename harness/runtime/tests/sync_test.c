/* sync_test.c: unit tests of the runtime's Semaphore, Lock, Event, Queue and TaskGroup. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loopconf/runtime.h"

#include "rt_test.h"

/* Let every ready task run (twice, so tasks spawned just now reach their first await). */
static void settle(void) {
  lc_yield();
  lc_yield();
}

/* ==== Semaphore ================================================================================ */

struct sem_ctx {
  lc_sem *s;
  char log[32];
  size_t nlog;
  int holders, max_holders;
  int rc[8];
};

struct sem_arg {
  struct sem_ctx *c;
  int id;
  int hold_yields;
};

/* acquire, log, hold for a few yields, release. */
static int sem_worker(void *arg, intptr_t *result) {
  struct sem_arg *a = arg;
  struct sem_ctx *c = a->c;
  int rc = lc_sem_acquire(c->s);
  c->rc[a->id] = rc;
  if (rc) return rc;
  c->log[c->nlog++] = (char)('A' + a->id);
  if (++c->holders > c->max_holders) c->max_holders = c->holders;
  for (int i = 0; i < a->hold_yields; i++) lc_yield();
  c->holders--;
  CHECK_EQ(lc_sem_release(c->s), 0);
  *result = a->id;
  return 0;
}

static int await_all(lc_task **t, int n) {
  int bad = 0;
  for (int i = 0; i < n; i++) {
    intptr_t r;
    if (lc_await(t[i], &r) != 0) bad++;
    lc_task_unref(t[i]);
  }
  return bad;
}

static int t_sem_fifo_no_barging(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct sem_ctx c = {.s = lc_sem_new(1)};
  struct sem_arg a[3] = {{&c, 0, 2}, {&c, 1, 2}, {&c, 2, 2}};
  CHECK_EQ(lc_sem_acquire(c.s), 0); /* main holds the only unit */
  lc_task *t[3];
  t[0] = lc_spawn(sem_worker, &a[0], "A");
  t[1] = lc_spawn(sem_worker, &a[1], "B");
  settle();
  CHECK_EQ(c.nlog, 0);
  CHECK(lc_sem_locked(c.s));
  CHECK_EQ(lc_sem_release(c.s), 0); /* granted to A, who has not resumed yet */
  CHECK_EQ(lc_sem_value(c.s), 0);
  CHECK(lc_sem_locked(c.s));
  t[2] = lc_spawn(sem_worker, &a[2], "C"); /* a newcomer must queue behind B */
  CHECK_EQ(await_all(t, 3), 0);
  CHECK_EQ(c.nlog, 3);
  CHECK(memcmp(c.log, "ABC", 3) == 0);
  CHECK_EQ(c.max_holders, 1);
  CHECK_EQ(lc_sem_value(c.s), 1);
  lc_sem_free(c.s);
  return 0;
}

static void test_sem_fifo_no_barging(void **state) {
  (void)state;
  run_main(t_sem_fifo_no_barging, NULL);
}

static int t_sem_max_holders(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct sem_ctx c = {.s = lc_sem_new(3)};
  struct sem_arg a[8];
  lc_task *t[8];
  for (int i = 0; i < 8; i++) {
    a[i] = (struct sem_arg){&c, i, 1 + i % 3};
    t[i] = lc_spawn(sem_worker, &a[i], NULL);
  }
  CHECK_EQ(await_all(t, 8), 0);
  CHECK_EQ(c.nlog, 8);
  CHECK_EQ(c.max_holders, 3); /* never more than n, and all n used */
  CHECK_EQ(lc_sem_value(c.s), 3);
  CHECK(!lc_sem_locked(c.s));
  lc_sem_free(c.s);
  return 0;
}

static void test_sem_max_holders(void **state) {
  (void)state;
  run_main(t_sem_max_holders, NULL);
}

/* A waiter granted a unit and cancelled before it resumes hands the unit to the next one. */
static int t_sem_woken_then_cancelled(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct sem_ctx c = {.s = lc_sem_new(1)};
  struct sem_arg a[2] = {{&c, 0, 0}, {&c, 1, 0}};
  CHECK_EQ(lc_sem_acquire(c.s), 0);
  lc_task *ta = lc_spawn(sem_worker, &a[0], "A");
  lc_task *tb = lc_spawn(sem_worker, &a[1], "B");
  settle();
  CHECK_EQ(lc_sem_release(c.s), 0); /* A is granted the unit ... */
  CHECK_EQ(lc_cancel(ta), 1);       /* ... and cancelled before it runs */
  intptr_t r = -1;
  CHECK_EQ(lc_await(ta, &r), -ECANCELED);
  CHECK_EQ(c.rc[0], -ECANCELED);
  CHECK_EQ(lc_await(tb, &r), 0); /* B got the unit A could not use */
  CHECK_EQ(r, 1);
  CHECK_EQ(c.nlog, 1);
  CHECK_EQ(lc_sem_value(c.s), 1); /* nothing lost */
  lc_task_unref(ta);
  lc_task_unref(tb);
  lc_sem_free(c.s);
  return 0;
}

static void test_sem_woken_then_cancelled(void **state) {
  (void)state;
  run_main(t_sem_woken_then_cancelled, NULL);
}

/* Cancelling a queued (not granted) waiter leaves the queue and the count intact. */
static int t_sem_cancel_queued(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct sem_ctx c = {.s = lc_sem_new(1)};
  struct sem_arg a[3] = {{&c, 0, 0}, {&c, 1, 0}, {&c, 2, 0}};
  CHECK_EQ(lc_sem_acquire(c.s), 0);
  lc_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = lc_spawn(sem_worker, &a[i], NULL);
  settle();
  lc_cancel(t[1]);
  intptr_t r;
  CHECK_EQ(lc_await(t[1], &r), -ECANCELED);
  CHECK_EQ(lc_sem_value(c.s), 0);
  CHECK_EQ(lc_sem_release(c.s), 0);
  CHECK_EQ(lc_await(t[0], &r), 0);
  CHECK_EQ(lc_await(t[2], &r), 0);
  CHECK(memcmp(c.log, "AC", 2) == 0);
  CHECK_EQ(lc_sem_value(c.s), 1);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  lc_sem_free(c.s);
  return 0;
}

static void test_sem_cancel_queued(void **state) {
  (void)state;
  run_main(t_sem_cancel_queued, NULL);
}

static void test_sem_bounded(void **state) {
  (void)state;
  /* No task needed: nothing here suspends. */
  lc_sem *b = lc_bounded_sem_new(2);
  assert_non_null(b);
  assert_int_equal(lc_sem_release(b), -EOVERFLOW);
  assert_int_equal(lc_sem_acquire(b), 0);
  assert_int_equal(lc_sem_value(b), 1);
  assert_int_equal(lc_sem_release(b), 0);
  assert_int_equal(lc_sem_release(b), -EOVERFLOW);
  assert_int_equal(lc_sem_value(b), 2);
  lc_sem_free(b);
  lc_sem *s = lc_sem_new(0);
  assert_true(lc_sem_locked(s));
  assert_int_equal(lc_sem_release(s), 0); /* a plain semaphore may grow */
  assert_int_equal(lc_sem_release(s), 0);
  assert_int_equal(lc_sem_value(s), 2);
  lc_sem_free(s);
  errno = 0;
  assert_null(lc_sem_new(-1));
  assert_int_equal(errno, EINVAL);
}

/* ==== Lock ===================================================================================== */

struct lock_ctx {
  lc_lock *l;
  char log[8];
  size_t nlog;
  int inside;
};

static int lock_worker(void *arg, intptr_t *result) {
  struct lock_ctx *c = ((void **)arg)[0];
  char name = *(char *)((void **)arg)[1];
  (void)result;
  int rc = lc_lock_acquire(c->l);
  if (rc) return rc;
  CHECK_EQ(c->inside, 0);
  c->inside = 1;
  c->log[c->nlog++] = name;
  lc_yield();
  c->inside = 0;
  CHECK_EQ(lc_lock_release(c->l), 0);
  return 0;
}

static int t_lock(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct lock_ctx c = {.l = lc_lock_new()};
  CHECK(!lc_lock_locked(c.l));
  CHECK_EQ(lc_lock_release(c.l), -EPERM);
  CHECK_EQ(lc_lock_acquire(c.l), 0);
  CHECK(lc_lock_locked(c.l));
  char names[4] = "WXYZ";
  void *args[4][2];
  lc_task *t[4];
  for (int i = 0; i < 4; i++) {
    args[i][0] = &c;
    args[i][1] = &names[i];
    t[i] = lc_spawn(lock_worker, args[i], NULL);
  }
  settle();
  lc_cancel(t[2]);                        /* Y, queued: leaves without the lock */
  CHECK_EQ(lc_lock_release(c.l), 0);      /* handed to W */
  CHECK(!lc_lock_locked(c.l));            /* asyncio: unlocked until W runs ... */
  CHECK_EQ(lc_lock_release(c.l), -EPERM); /* ... so a second release is an error */
  lc_cancel(t[0]);                        /* W cancelled before it resumes: X gets the lock */
  intptr_t r;
  CHECK_EQ(lc_await(t[0], &r), -ECANCELED);
  CHECK_EQ(lc_await(t[1], &r), 0);
  CHECK_EQ(lc_await(t[2], &r), -ECANCELED);
  CHECK_EQ(lc_await(t[3], &r), 0);
  CHECK_EQ(c.nlog, 2);
  CHECK(memcmp(c.log, "XZ", 2) == 0);
  CHECK(!lc_lock_locked(c.l));
  for (int i = 0; i < 4; i++) lc_task_unref(t[i]);
  lc_lock_free(c.l);
  return 0;
}

static void test_lock(void **state) {
  (void)state;
  run_main(t_lock, NULL);
}

/* ==== Event ==================================================================================== */

struct ev_ctx {
  lc_event *e;
  int woke;
};

static int ev_waiter(void *arg, intptr_t *result) {
  struct ev_ctx *c = arg;
  (void)result;
  int rc = lc_event_wait(c->e);
  if (rc == 0) c->woke++;
  return rc;
}

static int t_event(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct ev_ctx c = {.e = lc_event_new()};
  CHECK(!lc_event_is_set(c.e));
  lc_task *t[4];
  for (int i = 0; i < 4; i++) t[i] = lc_spawn(ev_waiter, &c, NULL);
  settle();
  CHECK_EQ(c.woke, 0);
  lc_cancel(t[3]);
  lc_event_set(c.e);
  lc_event_clear(c.e); /* waiters already woken still return 0 */
  intptr_t r;
  for (int i = 0; i < 3; i++) CHECK_EQ(lc_await(t[i], &r), 0);
  CHECK_EQ(lc_await(t[3], &r), -ECANCELED);
  CHECK_EQ(c.woke, 3);
  for (int i = 0; i < 4; i++) lc_task_unref(t[i]);

  /* Cleared: a new wait suspends until the next set; set: wait returns at once. */
  lc_task *w = lc_spawn(ev_waiter, &c, NULL);
  settle();
  CHECK(!lc_task_done(w));
  lc_event_set(c.e);
  CHECK_EQ(lc_await(w, &r), 0);
  lc_task_unref(w);
  CHECK_EQ(lc_event_wait(c.e), 0);
  CHECK_EQ(c.woke, 4);
  lc_event_free(c.e);
  return 0;
}

static void test_event(void **state) {
  (void)state;
  run_main(t_event, NULL);
}

/* ==== Queue ==================================================================================== */

static void test_queue_nowait(void **state) {
  (void)state;
  lc_queue *q = lc_queue_new(2);
  intptr_t v = 0;
  assert_int_equal(lc_queue_get_nowait(q, &v), -EAGAIN);
  assert_int_equal(lc_queue_put_nowait(q, 10), 0);
  assert_int_equal(lc_queue_put_nowait(q, 20), 0);
  assert_int_equal(lc_queue_put_nowait(q, 30), -EAGAIN);
  assert_int_equal(lc_queue_size(q), 2);
  assert_int_equal(lc_queue_get_nowait(q, &v), 0);
  assert_int_equal(v, 10);
  assert_int_equal(lc_queue_put_nowait(q, 30), 0);
  assert_int_equal(lc_queue_get_nowait(q, &v), 0);
  assert_int_equal(v, 20);
  assert_int_equal(lc_queue_get_nowait(q, &v), 0);
  assert_int_equal(v, 30);
  assert_int_equal(lc_queue_task_done(q), 0);
  assert_int_equal(lc_queue_task_done(q), 0);
  assert_int_equal(lc_queue_task_done(q), 0);
  assert_int_equal(lc_queue_task_done(q), -EINVAL); /* more task_done than puts */
  lc_queue_free(q);

  /* Unbounded: grows past any initial capacity, stays FIFO across wrap-around. */
  q = lc_queue_new(0);
  for (int round = 0; round < 3; round++) {
    for (intptr_t i = 0; i < 100; i++) assert_int_equal(lc_queue_put_nowait(q, i), 0);
    for (intptr_t i = 0; i < 100; i++) {
      assert_int_equal(lc_queue_get_nowait(q, &v), 0);
      assert_int_equal(v, i);
    }
  }
  lc_queue_free(q);
}

enum { BP_MAX = 3, BP_ITEMS = 40 };

struct bp_ctx {
  lc_queue *q;
  int produced, consumed;
  int max_ahead;
  int order_ok;
};

static int bp_producer(void *arg, intptr_t *result) {
  struct bp_ctx *c = arg;
  (void)result;
  for (int i = 0; i < BP_ITEMS; i++) {
    int rc = lc_queue_put(c->q, i);
    if (rc) return rc;
    c->produced++;
    if (c->produced - c->consumed > c->max_ahead) c->max_ahead = c->produced - c->consumed;
  }
  return 0;
}

static int bp_consumer(void *arg, intptr_t *result) {
  struct bp_ctx *c = arg;
  (void)result;
  for (int i = 0; i < BP_ITEMS; i++) {
    intptr_t v;
    int rc = lc_queue_get(c->q, &v);
    if (rc) return rc;
    if (v != i) c->order_ok = 0;
    c->consumed++;
    CHECK(lc_queue_size(c->q) <= BP_MAX);
    if (i % 4 == 0) lc_sleep(LC_MS / 2); /* a slow consumer now and then */
    else lc_yield();
    CHECK_EQ(lc_queue_task_done(c->q), 0);
  }
  return 0;
}

/* Back-pressure: the producer is never more than maxsize items ahead of the consumer. */
static int t_queue_backpressure(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct bp_ctx c = {.q = lc_queue_new(BP_MAX), .order_ok = 1};
  lc_task *t[2];
  t[0] = lc_spawn(bp_producer, &c, "producer");
  t[1] = lc_spawn(bp_consumer, &c, "consumer");
  intptr_t r;
  CHECK_EQ(lc_await(t[0], &r), 0); /* everything is put ... */
  CHECK_EQ(lc_queue_join(c.q), 0); /* ... join returns once every item got its task_done */
  CHECK_EQ(c.consumed, BP_ITEMS);
  CHECK_EQ(await_all(t, 2), 0);
  CHECK(c.order_ok);
  CHECK(c.max_ahead <= BP_MAX);
  CHECK(c.max_ahead >= 1);
  CHECK_EQ(lc_queue_size(c.q), 0);
  lc_queue_free(c.q);
  return 0;
}

static void test_queue_backpressure(void **state) {
  (void)state;
  run_main(t_queue_backpressure, NULL);
}

struct qw_ctx {
  lc_queue *q;
  intptr_t got[4];
  int rc[4];
};

struct qw_arg {
  struct qw_ctx *c;
  int id;
  intptr_t item; /* for putters */
};

static int q_getter(void *arg, intptr_t *result) {
  struct qw_arg *a = arg;
  (void)result;
  a->c->rc[a->id] = lc_queue_get(a->c->q, &a->c->got[a->id]);
  return a->c->rc[a->id] == -ECANCELED ? -ECANCELED : 0;
}

static int q_putter(void *arg, intptr_t *result) {
  struct qw_arg *a = arg;
  (void)result;
  a->c->rc[a->id] = lc_queue_put(a->c->q, a->item);
  return a->c->rc[a->id] == -ECANCELED ? -ECANCELED : 0;
}

/* Getters are woken FIFO; a getter woken and then cancelled before it resumed passes its
 * wake-up on to the next getter; items keep their FIFO order (CPython 3.11's Queue.get). */
static int t_queue_cancelled_getter(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct qw_ctx c = {.q = lc_queue_new(0)};
  struct qw_arg a[3] = {{&c, 0, 0}, {&c, 1, 0}, {&c, 2, 0}};
  lc_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = lc_spawn(q_getter, &a[i], NULL);
  settle();
  CHECK_EQ(lc_queue_put_nowait(c.q, 7), 0); /* wakes getter 0; 7 stays in the queue */
  CHECK_EQ(lc_queue_size(c.q), 1);
  lc_cancel(t[0]);
  CHECK_EQ(lc_queue_put_nowait(c.q, 8), 0); /* wakes getter 1 */
  intptr_t r;
  CHECK_EQ(lc_await(t[0], &r), -ECANCELED);
  CHECK_EQ(lc_await(t[1], &r), 0);
  CHECK_EQ(lc_await(t[2], &r), 0);
  CHECK_EQ(c.rc[0], -ECANCELED);
  CHECK_EQ(c.got[1], 7);
  CHECK_EQ(c.got[2], 8); /* getter 0's wake-up went on to getter 2 */
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);

  /* Alone: nothing was taken, the items stay in order. */
  lc_task *g = lc_spawn(q_getter, &a[0], NULL);
  settle();
  CHECK_EQ(lc_queue_put_nowait(c.q, 1), 0);
  lc_cancel(g);
  CHECK_EQ(lc_queue_put_nowait(c.q, 2), 0);
  CHECK_EQ(lc_await(g, &r), -ECANCELED);
  lc_task_unref(g);
  intptr_t v = 0;
  CHECK_EQ(lc_queue_get_nowait(c.q, &v), 0);
  CHECK_EQ(v, 1);
  CHECK_EQ(lc_queue_get_nowait(c.q, &v), 0);
  CHECK_EQ(v, 2);
  CHECK_EQ(lc_queue_size(c.q), 0);
  CHECK(lc_queue_empty(c.q));
  lc_queue_free(c.q);
  return 0;
}

static void test_queue_cancelled_getter(void **state) {
  (void)state;
  run_main(t_queue_cancelled_getter, NULL);
}

/* Putters wait FIFO while full; a slot freed for a putter cancelled before it resumed goes to
 * the next putter, and the cancelled putter's item is not put. */
static int t_queue_cancelled_putter(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct qw_ctx c = {.q = lc_queue_new(1)};
  struct qw_arg a[3] = {{&c, 0, 100}, {&c, 1, 101}, {&c, 2, 102}};
  CHECK_EQ(lc_queue_put(c.q, 1), 0);
  lc_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = lc_spawn(q_putter, &a[i], NULL);
  settle();
  CHECK_EQ(lc_queue_put_nowait(c.q, 2), -EAGAIN);
  intptr_t v = 0;
  CHECK_EQ(lc_queue_get_nowait(c.q, &v), 0); /* frees the slot, wakes putter 0 */
  CHECK_EQ(v, 1);
  CHECK_EQ(lc_queue_put_nowait(c.q, 2), 0); /* no reservation: a newcomer may take it */
  CHECK(lc_queue_full(c.q));
  lc_cancel(t[0]);
  intptr_t r;
  CHECK_EQ(lc_await(t[0], &r), -ECANCELED);
  settle();
  CHECK_EQ(lc_queue_get(c.q, &v), 0);
  CHECK_EQ(v, 2);
  settle();
  CHECK_EQ(c.rc[1], 0);
  CHECK_EQ(lc_queue_get(c.q, &v), 0);
  CHECK_EQ(v, 101);
  CHECK_EQ(lc_queue_get(c.q, &v), 0);
  CHECK_EQ(v, 102);
  CHECK_EQ(lc_await(t[1], &r), 0);
  CHECK_EQ(lc_await(t[2], &r), 0);
  CHECK_EQ(lc_queue_size(c.q), 0);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  lc_queue_free(c.q);
  return 0;
}

static void test_queue_cancelled_putter(void **state) {
  (void)state;
  run_main(t_queue_cancelled_putter, NULL);
}

static int q_joiner(void *arg, intptr_t *result) {
  (void)result;
  return lc_queue_join(arg);
}

static int t_queue_join(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_queue *q = lc_queue_new(0);
  CHECK_EQ(lc_queue_join(q), 0); /* nothing unfinished */
  CHECK_EQ(lc_queue_put(q, 1), 0);
  CHECK_EQ(lc_queue_put(q, 2), 0);
  lc_task *j = lc_spawn(q_joiner, q, "joiner");
  settle();
  intptr_t v;
  CHECK_EQ(lc_queue_get(q, &v), 0);
  CHECK_EQ(lc_queue_get(q, &v), 0);
  CHECK_EQ(lc_queue_task_done(q), 0);
  settle();
  CHECK(!lc_task_done(j)); /* one item still unfinished */
  CHECK_EQ(lc_queue_task_done(q), 0);
  intptr_t r;
  CHECK_EQ(lc_await(j, &r), 0);
  lc_task_unref(j);
  CHECK_EQ(lc_queue_task_done(q), -EINVAL);
  lc_queue_free(q);
  return 0;
}

static void test_queue_join(void **state) {
  (void)state;
  run_main(t_queue_join, NULL);
}

/* Python 3.13 shutdown, graceful and immediate. */
static int t_queue_shutdown(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  intptr_t v = 0, r;
  /* Graceful: blocked putters fail, items drain, then get fails. */
  struct qw_ctx c = {.q = lc_queue_new(2)};
  struct qw_arg a = {&c, 0, 9};
  CHECK_EQ(lc_queue_put(c.q, 1), 0);
  CHECK_EQ(lc_queue_put(c.q, 2), 0);
  lc_task *p = lc_spawn(q_putter, &a, "putter");
  settle();
  lc_queue_shutdown(c.q, 0);
  CHECK_EQ(lc_await(p, &r), 0);
  CHECK_EQ(c.rc[0], -ESHUTDOWN);
  lc_task_unref(p);
  CHECK_EQ(lc_queue_put(c.q, 3), -ESHUTDOWN);
  CHECK_EQ(lc_queue_put_nowait(c.q, 3), -ESHUTDOWN);
  CHECK_EQ(lc_queue_get(c.q, &v), 0);
  CHECK_EQ(v, 1);
  CHECK_EQ(lc_queue_get_nowait(c.q, &v), 0);
  CHECK_EQ(v, 2);
  CHECK_EQ(lc_queue_get(c.q, &v), -ESHUTDOWN);
  CHECK_EQ(lc_queue_get_nowait(c.q, &v), -ESHUTDOWN);
  lc_queue_free(c.q);

  /* A blocked getter is woken with -ESHUTDOWN. */
  c.q = lc_queue_new(0);
  lc_task *g = lc_spawn(q_getter, &a, "getter");
  settle();
  lc_queue_shutdown(c.q, 0);
  CHECK_EQ(lc_await(g, &r), 0);
  CHECK_EQ(c.rc[0], -ESHUTDOWN);
  lc_task_unref(g);
  lc_queue_free(c.q);

  /* Immediate: items dropped, join released. */
  c.q = lc_queue_new(0);
  CHECK_EQ(lc_queue_put(c.q, 1), 0);
  CHECK_EQ(lc_queue_put(c.q, 2), 0);
  lc_task *j = lc_spawn(q_joiner, c.q, "joiner");
  settle();
  CHECK(!lc_task_done(j));
  lc_queue_shutdown(c.q, 1);
  CHECK_EQ(lc_await(j, &r), 0);
  lc_task_unref(j);
  CHECK_EQ(lc_queue_size(c.q), 0);
  CHECK_EQ(lc_queue_get_nowait(c.q, &v), -ESHUTDOWN);
  CHECK_EQ(lc_queue_task_done(c.q), -EINVAL);
  lc_queue_free(c.q);
  return 0;
}

static void test_queue_shutdown(void **state) {
  (void)state;
  run_main(t_queue_shutdown, NULL);
}

/* ==== TaskGroup ================================================================================ */

struct tg_ctx {
  int started, cancelled, finished;
  int64_t fail_after_ns;
};

/* Sleeps for ms milliseconds (arg), records how it ended. */
struct sleeper {
  struct tg_ctx *c;
  int64_t ms;
  int fail_code;    /* returned after the sleep, if non-zero */
  int cleanup_code; /* returned when cancelled, if non-zero (a failure during cleanup) */
};

static int tg_sleeper(void *arg, intptr_t *result) {
  struct sleeper *s = arg;
  s->c->started++;
  int rc = lc_sleep(s->ms * LC_MS);
  if (rc == -ECANCELED) {
    s->c->cancelled++;
    return s->cleanup_code ? lc_error(s->cleanup_code, "cleanup failed") : rc;
  }
  s->c->finished++;
  if (s->fail_code) return lc_error(s->fail_code, "boom %d", s->fail_code);
  *result = s->ms;
  return 0;
}

static int t_tg_ok(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct tg_ctx c = {0};
  struct sleeper s[3] = {{&c, 3, 0, 0}, {&c, 1, 0, 0}, {&c, 2, 0, 0}};
  lc_taskgroup *tg = lc_taskgroup_new();
  lc_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = lc_taskgroup_spawn(tg, tg_sleeper, &s[i], NULL);
  CHECK(t[0] && t[1] && t[2]);
  CHECK_EQ(lc_taskgroup_wait(tg, 0), 0);
  CHECK_EQ(c.finished, 3);
  for (int i = 0; i < 3; i++) {
    CHECK(lc_task_done(t[i]));
    intptr_t r = 0;
    CHECK_EQ(lc_task_result(t[i], &r), 0);
    CHECK_EQ(r, s[i].ms);
  }
  const lc_tg_error *errs;
  CHECK_EQ(lc_taskgroup_errors(tg, &errs), 0);
  errno = 0;
  CHECK(lc_taskgroup_spawn(tg, tg_sleeper, &s[0], NULL) == NULL); /* finished */
  CHECK_EQ(errno, ESHUTDOWN);
  lc_taskgroup_free(tg);
  return 0;
}

static void test_taskgroup_ok(void **state) {
  (void)state;
  run_main(t_tg_ok, NULL);
}

/* The first failure cancels the siblings and the body; the body's task is uncancelled at exit
 * and can await normally afterwards. */
static int t_tg_failure(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct tg_ctx c = {0};
  struct sleeper s[3] = {{&c, 5, -EIO, 0}, {&c, 10000, 0, 0}, {&c, 10000, 0, 0}};
  int64_t t0 = lc_now();
  lc_taskgroup *tg = lc_taskgroup_new();
  lc_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = lc_taskgroup_spawn(tg, tg_sleeper, &s[i], NULL);
  int body = lc_sleep(10000 * LC_MS); /* cancelled by the group */
  CHECK_EQ(body, -ECANCELED);
  errno = 0;
  CHECK(lc_taskgroup_spawn(tg, tg_sleeper, &s[1], "late") == NULL);
  CHECK_EQ(errno, ESHUTDOWN);
  int rc = lc_taskgroup_wait(tg, body);
  CHECK_EQ(rc, -EIO);
  CHECK(lc_now() - t0 < tol(5000 * LC_MS)); /* nobody slept 10 s */
  CHECK_EQ(c.started, 3);
  CHECK_EQ(c.cancelled, 2);
  CHECK(lc_task_cancelled(t[1]) && lc_task_cancelled(t[2]));
  const lc_tg_error *errs;
  CHECK_EQ(lc_taskgroup_errors(tg, &errs), 1);
  CHECK_EQ(errs[0].code, -EIO);
  CHECK(strstr(errs[0].message, "boom") != NULL);
  CHECK_EQ(lc_cancelling(lc_current_task()), 0); /* the group's cancel was withdrawn */
  CHECK_EQ(lc_sleep(LC_MS), 0);                  /* and is not delivered later */
  lc_taskgroup_free(tg);
  return 0;
}

static void test_taskgroup_failure(void **state) {
  (void)state;
  run_main(t_tg_failure, NULL);
}

/* Every failure is reported, in order: one child fails, a sibling fails in its cleanup. */
static int t_tg_two_failures(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct tg_ctx c = {0};
  struct sleeper s[2] = {{&c, 2, -EIO, 0}, {&c, 10000, 0, -EPIPE}};
  lc_taskgroup *tg = lc_taskgroup_new();
  lc_taskgroup_spawn(tg, tg_sleeper, &s[0], "first");
  lc_taskgroup_spawn(tg, tg_sleeper, &s[1], "second");
  int rc = lc_taskgroup_wait(tg, 0); /* the body is already exiting */
  CHECK_EQ(rc, -EIO);
  const lc_tg_error *errs;
  CHECK_EQ(lc_taskgroup_errors(tg, &errs), 2);
  CHECK_EQ(errs[0].code, -EIO);
  CHECK(strcmp(errs[0].task_name, "first") == 0);
  CHECK_EQ(errs[1].code, -EPIPE);
  CHECK(strcmp(errs[1].task_name, "second") == 0);
  CHECK(strstr(errs[1].message, "cleanup") != NULL);
  CHECK_EQ(lc_cancelling(lc_current_task()), 0);
  CHECK_EQ(lc_sleep(LC_MS), 0);
  lc_taskgroup_free(tg);
  return 0;
}

static void test_taskgroup_two_failures(void **state) {
  (void)state;
  run_main(t_tg_two_failures, NULL);
}

/* A failing body counts as a failure: children are cancelled, its code is returned. */
static int t_tg_body_failure(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  struct tg_ctx c = {0};
  struct sleeper s = {&c, 10000, 0, 0};
  lc_taskgroup *tg = lc_taskgroup_new();
  lc_taskgroup_spawn(tg, tg_sleeper, &s, NULL);
  settle();
  CHECK_EQ(lc_taskgroup_wait(tg, -EINVAL), -EINVAL);
  CHECK_EQ(c.cancelled, 1);
  const lc_tg_error *errs;
  CHECK_EQ(lc_taskgroup_errors(tg, &errs), 1);
  CHECK_EQ(errs[0].code, -EINVAL);
  lc_taskgroup_free(tg);
  return 0;
}

static void test_taskgroup_body_failure(void **state) {
  (void)state;
  run_main(t_tg_body_failure, NULL);
}

/* Cancelling the body's task from outside cancels the children; the group propagates it. */
static int tg_outer(void *arg, intptr_t *result) {
  struct tg_ctx *c = arg;
  (void)result;
  /* The child's argument is not on this task's stack: in LC_STACK_COPY another task's frames
   * are there while this one waits (runtime.h, the rule). */
  struct sleeper *s = malloc(sizeof *s);
  if (!s) return -ENOMEM;
  *s = (struct sleeper){c, 10000, 0, 0};
  lc_taskgroup *tg = lc_taskgroup_new();
  lc_taskgroup_spawn(tg, tg_sleeper, s, NULL);
  int body = lc_sleep(10000 * LC_MS);
  int rc = lc_taskgroup_wait(tg, body);
  lc_taskgroup_free(tg);
  free(s);
  return rc;
}

/* Same, but the cancel arrives while the group is already waiting for its children. */
static int tg_outer_waiting(void *arg, intptr_t *result) {
  struct tg_ctx *c = arg;
  (void)result;
  /* The child's argument is not on this task's stack: in LC_STACK_COPY another task's frames
   * are there while this one waits (runtime.h, the rule). */
  struct sleeper *s = malloc(sizeof *s);
  if (!s) return -ENOMEM;
  *s = (struct sleeper){c, 10000, 0, 0};
  lc_taskgroup *tg = lc_taskgroup_new();
  lc_taskgroup_spawn(tg, tg_sleeper, s, NULL);
  int rc = lc_taskgroup_wait(tg, 0);
  lc_taskgroup_free(tg);
  free(s);
  return rc;
}

static int t_tg_external_cancel(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task_fn fns[2] = {tg_outer, tg_outer_waiting};
  for (int i = 0; i < 2; i++) {
    struct tg_ctx c = {0};
    lc_task *o = lc_spawn(fns[i], &c, "outer");
    CHECK_EQ(lc_sleep(2 * LC_MS), 0);
    CHECK_EQ(c.started, 1);
    lc_cancel(o);
    intptr_t r;
    CHECK_EQ(lc_await(o, &r), -ECANCELED);
    CHECK(lc_task_cancelled(o));
    CHECK_EQ(c.cancelled, 1);
    lc_task_unref(o);
  }
  return 0;
}

static void test_taskgroup_external_cancel(void **state) {
  (void)state;
  run_main(t_tg_external_cancel, NULL);
}

static void test_taskgroup_outside_task(void **state) {
  (void)state;
  errno = 0;
  assert_null(lc_taskgroup_new());
  assert_int_equal(errno, EPERM);
}

int main(void) {
  if (rt_test_load_backend("sync_test") != 0) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sem_fifo_no_barging),
      cmocka_unit_test(test_sem_max_holders),
      cmocka_unit_test(test_sem_woken_then_cancelled),
      cmocka_unit_test(test_sem_cancel_queued),
      cmocka_unit_test(test_sem_bounded),
      cmocka_unit_test(test_lock),
      cmocka_unit_test(test_event),
      cmocka_unit_test(test_queue_nowait),
      cmocka_unit_test(test_queue_backpressure),
      cmocka_unit_test(test_queue_cancelled_getter),
      cmocka_unit_test(test_queue_cancelled_putter),
      cmocka_unit_test(test_queue_join),
      cmocka_unit_test(test_queue_shutdown),
      cmocka_unit_test(test_taskgroup_ok),
      cmocka_unit_test(test_taskgroup_failure),
      cmocka_unit_test(test_taskgroup_two_failures),
      cmocka_unit_test(test_taskgroup_body_failure),
      cmocka_unit_test(test_taskgroup_external_cancel),
      cmocka_unit_test(test_taskgroup_outside_task),
  };
  return cmocka_run_group_tests_name("runtime.sync", tests, NULL, NULL);
}
