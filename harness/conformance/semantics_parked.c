/* semantics_parked.c: asyncio-semantics tests of cancelling a task parked at an await point,
 * and of the Queue's hand-off rule.
 *
 * In asyncio, Task.cancel() on a task that awaits a future cancels that future at once: the
 * task will get CancelledError there whatever happens before it runs (uncancel included), and
 * every primitive skips the cancelled future when it hands out a release, an item or a slot.
 * One body per scenario, run on every backend through lc_run(ctx->b, ...); each writes an
 * event trace for its asyncio twin (harness/oracle/<scenario>.py). Clauses: spec/semantics.tsv.
 * Tasks only record what they see; the assertions run after lc_run returns.
 */
#include "lc_test.h"
#include "lc_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NKINDS 5

struct pstate {
  lc_lock *lock;
  lc_sem *sem;
  lc_queue *q;
  lc_event *ev;
  int kind;
  int rc[NKINDS];
  int cancelling[NKINDS];
  int64_t at_ns[NKINDS];
  int holders, max_holders;
  int flag[16];
  intptr_t item[16];
};

static struct pstate *ps;

/* ==========================================================================================
 * semantics.cancel.parked_uncancel: for each await point (sleep, Event wait, await of a task,
 * gather, run_in_thread) a task parked there is cancelled and at once uncancelled, before it
 * runs: it still gets -ECANCELED there, right away (not when the sleep or the job ends).
 * ======================================================================================== */

static const char *const kind_name[NKINDS] = {"sleep", "event", "await", "gather", "thread"};

static int pu_child(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  return lc_sleep(LC_S);
}

static intptr_t pu_job(void *arg) {
  (void)arg;
  nanosleep(&(struct timespec){0, 30 * LC_MS}, NULL);
  return 1;
}

static int pu_waiter(void *arg, intptr_t *result) {
  int k = (int)(intptr_t)arg;
  int rc;
  lc_task *c = NULL;
  intptr_t v;
  switch (k) {
  case 0: rc = lc_sleep(LC_S); break;
  case 1: rc = lc_event_wait(ps->ev); break;
  case 2:
  case 3:
    if (!(c = lc_spawn(pu_child, NULL, "child"))) return -errno;
    rc = k == 2 ? lc_await(c, NULL) : lc_gather(&c, 1, NULL, NULL, 0);
    break;
  default: rc = lc_run_in_thread(pu_job, NULL, &v); break;
  }
  ps->rc[k] = rc;
  ps->at_ns[k] = lc_trace_elapsed_ns();
  ps->cancelling[k] = lc_cancelling(lc_current_task());
  /* No timing token: the test body asserts the promptness (with the multiplier). */
  lc_trace("%s -> %s, cancelling=%d", kind_name[k], lc_trace_code(rc), ps->cancelling[k]);
  if (c) lc_task_unref(c);
  *result = 0;
  return 0;
}

static int pu_main(void *arg, intptr_t *result) {
  (void)arg;
  for (int k = 0; k < NKINDS; k++) {
    ps->ev = lc_event_new();
    if (!ps->ev) return -ENOMEM;
    lc_task *t = lc_spawn(pu_waiter, (void *)(intptr_t)k, kind_name[k]);
    if (!t) return -errno;
    lc_sleep(10 * LC_MS);
    int64_t t0 = lc_trace_elapsed_ns();
    lc_cancel(t);
    lc_trace("%s: cancel, uncancel -> %d", kind_name[k], lc_uncancel(t));
    lc_event_set(ps->ev); /* too late: the waiter is cancelled already */
    lc_await(t, NULL);
    ps->at_ns[k] -= t0; /* how long after the cancel it got -ECANCELED */
    lc_task_unref(t);
    lc_event_free(ps->ev);
  }
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_parked_uncancel, "semantics.cancel.parked_uncancel", "CANCEL-PARKED-STICKY", 0,
        10000) {
  struct pstate st;
  memset(&st, 0, sizeof st);
  ps = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, pu_main, NULL, NULL), 0);
  for (int k = 0; k < NKINDS; k++) {
    if (st.rc[k] != -ECANCELED)
      lc_fail(ctx, "%s: cancel then uncancel before it ran: got %s, expected ECANCELED",
              kind_name[k], lc_trace_code(st.rc[k]));
    assert_int_equal(st.cancelling[k], 0);
    /* Delivered at once, not when the 1 s sleep or the 30 ms job would have ended. */
    if (k != 4 && st.at_ns[k] > lc_tol_ns(ctx, 200 * LC_MS))
      lc_fail(ctx, "%s: -ECANCELED came %.1f ms after the cancel", kind_name[k],
              (double)st.at_ns[k] / LC_MS);
  }
}

/* ==========================================================================================
 * semantics.cancel.parked_lock: a Lock waiter cancelled (and uncancelled) before the release
 * never gets the lock: after the release the lock reads unlocked and a newcomer takes it at
 * once; never two holders. With a second waiter behind the cancelled one, the second gets it
 * once the cancelled one has resumed (asyncio's Lock looks at its first waiter only).
 * ======================================================================================== */

static int pl_waiter(void *arg, intptr_t *result) {
  const char *name = arg;
  int rc = lc_lock_acquire(ps->lock);
  ps->flag[6]++; /* acquire calls that returned */
  if (rc) {
    lc_trace("%s acquire -> %s", name, lc_trace_code(rc));
    return rc;
  }
  ps->holders++;
  if (ps->holders > ps->max_holders) ps->max_holders = ps->holders;
  lc_trace("%s acquired, holders=%d", name, ps->holders);
  lc_yield();
  ps->holders--;
  if (lc_lock_release(ps->lock) != 0) ps->flag[0]++; /* a release that failed */
  *result = 0;
  return 0;
}

static int pl_main(void *arg, intptr_t *result) {
  (void)arg;
  if (!(ps->lock = lc_lock_new())) return -ENOMEM;
  lc_lock_acquire(ps->lock);
  ps->holders = ps->max_holders = 1;
  lc_task *w1 = lc_spawn(pl_waiter, "w1", "w1");
  if (!w1) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel(w1);
  lc_trace("cancel(w1), uncancel -> %d", lc_uncancel(w1));
  ps->holders--;
  lc_lock_release(ps->lock);
  ps->flag[1] = lc_lock_locked(ps->lock);
  lc_trace("released, locked=%d", ps->flag[1]);
  ps->flag[2] = lc_lock_acquire(ps->lock); /* a newcomer */
  ps->flag[4] = ps->flag[6];               /* 0: it did not wait for w1 to run */
  ps->holders++;
  if (ps->holders > ps->max_holders) ps->max_holders = ps->holders;
  lc_trace("main acquired at once, holders=%d", ps->holders);
  ps->flag[7] = lc_await(w1, NULL);
  if (ps->flag[7] == -ECANCELED) lc_trace("w1 -> ECANCELED");
  lc_task *w[2] = {lc_spawn(pl_waiter, "w2", "w2"), lc_spawn(pl_waiter, "w3", "w3")};
  if (!w[0] || !w[1]) return -ENOMEM;
  lc_sleep(5 * LC_MS);
  lc_cancel(w[0]);
  ps->holders--;
  lc_lock_release(ps->lock);
  lc_trace("cancel(w2), released, locked=%d", lc_lock_locked(ps->lock));
  lc_gather(w, 2, NULL, NULL, LC_GATHER_RETURN_EXCEPTIONS);
  ps->flag[3] = lc_lock_locked(ps->lock);
  lc_trace("end: locked=%d, holders=%d", ps->flag[3], ps->holders);
  lc_task_unref(w1);
  lc_task_unref(w[0]);
  lc_task_unref(w[1]);
  lc_lock_free(ps->lock);
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_parked_lock, "semantics.cancel.parked_lock",
        "CANCEL-PARKED-STICKY CANCEL-PARKED-SKIPPED", 0, 10000) {
  struct pstate st;
  memset(&st, 0, sizeof st);
  ps = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, pl_main, NULL, NULL), 0);
  if (st.max_holders != 1) lc_fail(ctx, "%d tasks held the lock at once", st.max_holders);
  assert_int_equal(st.flag[0], 0); /* no release failed with -EPERM */
  assert_int_equal(st.flag[1], 0); /* unlocked after the release */
  assert_int_equal(st.flag[2], 0);
  if (st.flag[4] != 0) lc_fail(ctx, "the newcomer's acquire waited for the cancelled waiter");
  if (st.flag[7] != -ECANCELED)
    lc_fail(ctx, "the cancelled waiter got %s, expected ECANCELED", lc_trace_code(st.flag[7]));
  assert_int_equal(st.flag[3], 0);
  assert_int_equal(st.holders, 0);
}

/* ==========================================================================================
 * semantics.cancel.parked_sem: a Semaphore waiter cancelled (and uncancelled) before the
 * release is skipped: value 1, locked 0, a newcomer acquires before the cancelled waiter even
 * resumes; with a waiter behind it, the release goes to that one. No unit lost or duplicated.
 * ======================================================================================== */

static int psm_waiter(void *arg, intptr_t *result) {
  const char *name = arg;
  int rc = lc_sem_acquire(ps->sem);
  if (rc) {
    lc_trace("%s acquire -> %s", name, lc_trace_code(rc));
    return rc;
  }
  lc_trace("%s acquired, value=%d", name, lc_sem_value(ps->sem));
  lc_sem_release(ps->sem);
  *result = 0;
  return 0;
}

static void psm_outcome(const char *name, lc_task *t) {
  int rc = lc_await(t, NULL);
  lc_trace("%s -> %s", name, lc_trace_code(rc));
}

static int psm_main(void *arg, intptr_t *result) {
  (void)arg;
  if (!(ps->sem = lc_sem_new(0))) return -ENOMEM;
  lc_task *w1 = lc_spawn(psm_waiter, "w1", "w1");
  if (!w1) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel(w1);
  lc_trace("cancel(w1), uncancel -> %d", lc_uncancel(w1));
  lc_sem_release(ps->sem);
  ps->flag[0] = lc_sem_value(ps->sem);
  ps->flag[1] = lc_sem_locked(ps->sem);
  lc_trace("released, value=%d, locked=%d", ps->flag[0], ps->flag[1]);
  ps->flag[2] = lc_sem_acquire(ps->sem); /* a newcomer */
  lc_trace("main acquired, value=%d", lc_sem_value(ps->sem));
  psm_outcome("w1", w1);
  lc_task *w2 = lc_spawn(psm_waiter, "w2", "w2"), *w3 = lc_spawn(psm_waiter, "w3", "w3");
  if (!w2 || !w3) return -ENOMEM;
  lc_sleep(5 * LC_MS);
  lc_cancel(w2);
  lc_sem_release(ps->sem);
  lc_trace("cancel(w2), released, value=%d, locked=%d", lc_sem_value(ps->sem),
           lc_sem_locked(ps->sem));
  psm_outcome("w2", w2);
  psm_outcome("w3", w3);
  ps->flag[3] = lc_sem_value(ps->sem);
  lc_trace("end: value=%d", ps->flag[3]);
  lc_task_unref(w1);
  lc_task_unref(w2);
  lc_task_unref(w3);
  lc_sem_free(ps->sem);
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_parked_sem, "semantics.cancel.parked_sem",
        "CANCEL-PARKED-STICKY CANCEL-PARKED-SKIPPED", 0, 10000) {
  struct pstate st;
  memset(&st, 0, sizeof st);
  ps = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, psm_main, NULL, NULL), 0);
  assert_int_equal(st.flag[0], 1); /* the unit was not handed to the cancelled waiter */
  assert_int_equal(st.flag[1], 0);
  assert_int_equal(st.flag[2], 0);
  assert_int_equal(st.flag[3], 1); /* nothing lost, nothing duplicated */
}

/* ==========================================================================================
 * semantics.cancel.parked_queue: a getter (putter) cancelled and uncancelled before an item (a
 * slot) arrives never receives it: get_nowait returns the item, put_nowait takes the slot.
 * ======================================================================================== */

static int pq_getter(void *arg, intptr_t *result) {
  (void)arg;
  intptr_t item = 0;
  int rc = lc_queue_get(ps->q, &item);
  ps->flag[8] = rc;
  if (rc) {
    lc_trace("getter -> %s", lc_trace_code(rc));
    return rc;
  }
  lc_trace("getter got %ld", (long)item);
  *result = 0;
  return 0;
}

static int pq_putter(void *arg, intptr_t *result) {
  (void)arg;
  int rc = lc_queue_put(ps->q, 2);
  ps->flag[9] = rc;
  if (rc) {
    lc_trace("putter -> %s", lc_trace_code(rc));
    return rc;
  }
  lc_trace("putter put 2");
  *result = 0;
  return 0;
}

static int pq_main(void *arg, intptr_t *result) {
  (void)arg;
  if (!(ps->q = lc_queue_new(0))) return -ENOMEM;
  lc_task *g = lc_spawn(pq_getter, NULL, "getter");
  if (!g) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel(g);
  lc_trace("cancel(getter), uncancel -> %d", lc_uncancel(g));
  lc_queue_put_nowait(ps->q, 5);
  size_t size1 = lc_queue_size(ps->q);
  ps->flag[0] = lc_queue_get_nowait(ps->q, &ps->item[0]);
  size_t size2 = lc_queue_size(ps->q);
  lc_trace("put 5, size=%zu, get_nowait -> %ld, size=%zu", size1, (long)ps->item[0], size2);
  lc_gather(&g, 1, NULL, NULL, LC_GATHER_RETURN_EXCEPTIONS);
  lc_task_unref(g);
  lc_queue_free(ps->q);

  if (!(ps->q = lc_queue_new(1))) return -ENOMEM;
  lc_queue_put_nowait(ps->q, 1);
  lc_task *p = lc_spawn(pq_putter, NULL, "putter");
  if (!p) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel(p);
  lc_trace("cancel(putter), uncancel -> %d", lc_uncancel(p));
  ps->flag[1] = lc_queue_get_nowait(ps->q, &ps->item[1]);
  lc_trace("get_nowait -> %ld", (long)ps->item[1]);
  ps->flag[2] = lc_queue_put_nowait(ps->q, 3);
  lc_trace("put_nowait 3, size=%zu, full=%d", lc_queue_size(ps->q), lc_queue_full(ps->q));
  lc_gather(&p, 1, NULL, NULL, LC_GATHER_RETURN_EXCEPTIONS);
  ps->flag[3] = lc_queue_get_nowait(ps->q, &ps->item[3]);
  ps->flag[4] = lc_queue_empty(ps->q);
  lc_trace("get_nowait -> %ld, empty=%d", (long)ps->item[3], ps->flag[4]);
  lc_task_unref(p);
  lc_queue_free(ps->q);
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_parked_queue, "semantics.cancel.parked_queue",
        "CANCEL-PARKED-STICKY CANCEL-PARKED-SKIPPED", 0, 10000) {
  struct pstate st;
  memset(&st, 0, sizeof st);
  ps = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, pq_main, NULL, NULL), 0);
  assert_int_equal(st.flag[0], 0);
  assert_int_equal(st.item[0], 5); /* the item was not handed to the cancelled getter */
  assert_int_equal(st.flag[8], -ECANCELED);
  assert_int_equal(st.flag[1], 0);
  assert_int_equal(st.flag[2], 0); /* the slot was not reserved for the cancelled putter */
  assert_int_equal(st.flag[9], -ECANCELED);
  assert_int_equal(st.flag[3], 0);
  assert_int_equal(st.item[3], 3); /* the cancelled putter's item was never put */
  assert_int_equal(st.flag[4], 1);
}

/* ==========================================================================================
 * semantics.queue.no_reservation: a put wakes the first getter but the item stays in the
 * queue until it runs; a newcomer's get_nowait may take it, and the woken getter waits again
 * at the back. A freed slot likewise: a newcomer's put_nowait may take it.
 * ======================================================================================== */

static int nr_getter(void *arg, intptr_t *result) {
  const char *name = arg;
  intptr_t item = 0;
  int rc = lc_queue_get(ps->q, &item);
  if (rc) return rc;
  lc_trace("%s got %ld", name, (long)item);
  ps->item[ps->flag[15]++ & 7] = item;
  *result = 0;
  return 0;
}

static int nr_putter(void *arg, intptr_t *result) {
  (void)arg;
  int rc = lc_queue_put(ps->q, 11);
  if (rc) return rc;
  lc_trace("p1 put 11");
  *result = 0;
  return 0;
}

static int nr_main(void *arg, intptr_t *result) {
  (void)arg;
  if (!(ps->q = lc_queue_new(0))) return -ENOMEM;
  lc_task *g[2] = {lc_spawn(nr_getter, "g1", "g1"), lc_spawn(nr_getter, "g2", "g2")};
  if (!g[0] || !g[1]) return -ENOMEM;
  lc_sleep(5 * LC_MS);
  lc_queue_put_nowait(ps->q, 1); /* wakes g1 */
  ps->flag[0] = (int)lc_queue_size(ps->q);
  lc_trace("put 1, size=%d, empty=%d", ps->flag[0], lc_queue_empty(ps->q));
  intptr_t v = 0;
  ps->flag[1] = lc_queue_get_nowait(ps->q, &v);
  lc_trace("newcomer get_nowait -> %ld", (long)v);
  lc_sleep(5 * LC_MS); /* g1 found the queue empty and waits again, behind g2 */
  lc_queue_put_nowait(ps->q, 2);
  lc_queue_put_nowait(ps->q, 3);
  lc_gather(g, 2, NULL, NULL, 0);
  lc_task_unref(g[0]);
  lc_task_unref(g[1]);
  lc_queue_free(ps->q);

  if (!(ps->q = lc_queue_new(1))) return -ENOMEM;
  lc_queue_put_nowait(ps->q, 10);
  lc_task *p1 = lc_spawn(nr_putter, NULL, "p1");
  if (!p1) return -errno;
  lc_sleep(5 * LC_MS);
  lc_queue_get_nowait(ps->q, &v); /* wakes p1 */
  lc_trace("get_nowait -> %ld, full=%d", (long)v, lc_queue_full(ps->q));
  ps->flag[2] = lc_queue_put_nowait(ps->q, 12); /* the newcomer takes the slot */
  lc_trace("newcomer put 12, size=%zu, full=%d", lc_queue_size(ps->q), lc_queue_full(ps->q));
  lc_sleep(5 * LC_MS); /* p1 found the queue full and waits again */
  lc_queue_get_nowait(ps->q, &v);
  lc_trace("get_nowait -> %ld", (long)v);
  lc_await(p1, NULL);
  lc_queue_get_nowait(ps->q, &v);
  lc_trace("get_nowait -> %ld, size=%zu", (long)v, lc_queue_size(ps->q));
  lc_task_unref(p1);
  lc_queue_free(ps->q);
  *result = 0;
  return 0;
}

LC_TEST(sem_queue_no_reservation, "semantics.queue.no_reservation", "QUEUE-NO-RESERVATION", 0,
        10000) {
  struct pstate st;
  memset(&st, 0, sizeof st);
  ps = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, nr_main, NULL, NULL), 0);
  assert_int_equal(st.flag[0], 1); /* size counts the real item only */
  assert_int_equal(st.flag[1], 0); /* the newcomer took it */
  assert_int_equal(st.flag[2], 0); /* and the freed slot */
  assert_int_equal(st.flag[15], 2);
  assert_int_equal(st.item[0], 2); /* g2 first: g1 went to the back */
  assert_int_equal(st.item[1], 3);
}

/* ==========================================================================================
 * semantics.queue.priority_lifo: PriorityQueue hands out the smallest item first, LifoQueue
 * the newest; both keep Queue's waiting and back-pressure.
 * ======================================================================================== */

static const char *drain(lc_queue *q, char *buf, size_t len) {
  size_t o = (size_t)snprintf(buf, len, "[");
  intptr_t v;
  for (int i = 0; o < len && lc_queue_get_nowait(q, &v) == 0; i++)
    o += (size_t)snprintf(buf + o, len - o, "%s%ld", i ? ", " : "", (long)v);
  if (o < len) snprintf(buf + o, len - o, "]");
  return buf;
}

static int plq_getter(void *arg, intptr_t *result) { return lc_queue_get(arg, result); }

static char plq_out[3][64];

static int plq_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_queue *pq = lc_priority_queue_new(0), *lq = lc_lifo_queue_new(0);
  if (!pq || !lq) return -ENOMEM;
  static const int pv[] = {5, 1, 4, 2, 3, 1};
  for (size_t i = 0; i < sizeof pv / sizeof pv[0]; i++) lc_queue_put_nowait(pq, pv[i]);
  lc_trace("priority -> %s", drain(pq, plq_out[0], sizeof plq_out[0]));
  for (int v = 1; v <= 3; v++) lc_queue_put_nowait(lq, v);
  lc_trace("lifo -> %s", drain(lq, plq_out[1], sizeof plq_out[1]));
  lc_task *g = lc_spawn(plq_getter, pq, "getter");
  if (!g) return -errno;
  lc_sleep(5 * LC_MS);
  lc_queue_put_nowait(pq, 9);
  intptr_t v = 0;
  ps->flag[0] = lc_await(g, &v);
  ps->item[0] = v;
  lc_trace("waiting getter -> %ld", (long)v);
  lc_task_unref(g);
  lc_queue_free(lq);
  if (!(lq = lc_lifo_queue_new(2))) return -ENOMEM;
  lc_queue_put_nowait(lq, 1);
  lc_queue_put_nowait(lq, 2);
  ps->flag[1] = lc_queue_put_nowait(lq, 3);
  if (ps->flag[1] == -EAGAIN) lc_trace("lifo full -> EAGAIN");
  lc_queue_free(lq);
  lc_queue_free(pq);
  *result = 0;
  return 0;
}

LC_TEST(sem_queue_priority_lifo, "semantics.queue.priority_lifo", "QUEUE-PRIORITY QUEUE-LIFO", 0,
        10000) {
  struct pstate st;
  memset(&st, 0, sizeof st);
  ps = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, plq_main, NULL, NULL), 0);
  assert_string_equal(plq_out[0], "[1, 1, 2, 3, 4, 5]");
  assert_string_equal(plq_out[1], "[3, 2, 1]");
  assert_int_equal(st.flag[0], 0);
  assert_int_equal(st.item[0], 9);
  assert_int_equal(st.flag[1], -EAGAIN);
}

/* ==========================================================================================
 * semantics.cancel.uncancel_pending: a task that is ready (it yielded), cancelled and then
 * uncancelled before it runs, completes its yield: uncancel reaching 0 withdraws the pending
 * request. VERSION-DEPENDENT: CPython 3.13+ (gh-116720); 3.11 and 3.12 still deliver it. The
 * runtime follows 3.13+ (CANCEL-UNCANCEL-PENDING); a parked task is another matter
 * (CANCEL-PARKED-STICKY: its waiter is cancelled at once in every version).
 * ======================================================================================== */

static int up_yielder(void *arg, intptr_t *result) {
  (void)arg;
  ps->flag[0] = lc_yield();
  ps->flag[1] = lc_cancelling(lc_current_task());
  lc_trace("yield -> %s, cancelling=%d", lc_trace_code(ps->flag[0]), ps->flag[1]);
  *result = 0;
  return 0;
}

static int up_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *t = lc_spawn(up_yielder, NULL, "yielder");
  if (!t) return -errno;
  lc_yield(); /* it runs up to its yield and is ready again */
  lc_cancel(t);
  lc_trace("cancel, uncancel -> %d", lc_uncancel(t));
  lc_await(t, NULL);
  lc_task_unref(t);
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_uncancel_pending, "semantics.cancel.uncancel_pending", "CANCEL-UNCANCEL-PENDING",
        0, 10000) {
  struct pstate st;
  memset(&st, 0, sizeof st);
  ps = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, up_main, NULL, NULL), 0);
  assert_int_equal(st.flag[0], 0);
  assert_int_equal(st.flag[1], 0);
}
