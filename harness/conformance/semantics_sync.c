/* semantics_sync.c: asyncio-semantics tests of Semaphore, Lock, Event, Queue and TaskGroup.
 *
 * One body per scenario, run on every backend through lc_run(ctx->b, ...). Each asserts the
 * behaviour with cmocka and writes an event trace that harness/oracle/oracle.py compares with
 * the scenario's asyncio twin (harness/oracle/<scenario>.py). Clauses: spec/semantics.tsv.
 * Tasks only record what they see; the assertions run after lc_run returns.
 */
#include "lc_test.h"
#include "lc_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NW 9

struct sstate {
  lc_sem *sem;
  lc_lock *lock;
  lc_event *ev;
  lc_queue *q;
  int in_flight, max_in_flight;
  int order[16];
  int norder;
  int rc[16];
  int64_t elapsed_ns;
  int puts, gets, max_ahead;
  int flag[8];
};

static void note_order(struct sstate *st, int id) {
  if (st->norder < 16) st->order[st->norder++] = id;
}

/* ==========================================================================================
 * semantics.sem.bound_rounds: Semaphore(3) over 9 tasks that each hold it 20 ms: never more
 * than 3 holders, and the whole takes about 3 rounds (60 ms), not 9 (180 ms).
 * ======================================================================================== */

static struct sstate *sb_st;

static int sb_worker(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  struct sstate *st = sb_st;
  int rc = lc_sem_acquire(st->sem);
  if (rc) return rc;
  st->in_flight++;
  if (st->in_flight > st->max_in_flight) st->max_in_flight = st->in_flight;
  note_order(st, id);
  lc_trace_at("w%d in", id);
  rc = lc_sleep(20 * LC_MS);
  st->in_flight--;
  lc_sem_release(st->sem);
  *result = 0;
  return rc;
}

static int sb_main(void *arg, intptr_t *result) {
  struct sstate *st = arg;
  lc_task *t[NW];
  st->sem = lc_sem_new(3);
  if (!st->sem) return -ENOMEM;
  char name[8];
  for (int i = 0; i < NW; i++) {
    snprintf(name, sizeof name, "w%d", i);
    t[i] = lc_spawn(sb_worker, (void *)(intptr_t)i, name);
    if (!t[i]) return -errno;
  }
  int64_t t0 = lc_clock_ns();
  int rc = lc_gather(t, NW, NULL, NULL, 0);
  st->elapsed_ns = lc_clock_ns() - t0;
  lc_trace_at("all done -> %s, max in flight %d", lc_trace_code(rc), st->max_in_flight);
  for (int i = 0; i < NW; i++) lc_task_unref(t[i]);
  lc_sem_free(st->sem);
  *result = 0;
  return rc;
}

LC_TEST(sem_sem_bound_rounds, "semantics.sem.bound_rounds", "SEM-BOUND SEM-ROUNDS", 0, 10000) {
  struct sstate st;
  memset(&st, 0, sizeof st);
  sb_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, sb_main, &st, NULL), 0);
  assert_int_equal(st.max_in_flight, 3);
  for (int i = 0; i < NW; i++) assert_int_equal(st.order[i], i); /* FIFO */
  int64_t rounds = 3 * 20 * LC_MS;
  lc_note(ctx, "9 tasks, Semaphore(3), 20 ms each: %.1f ms (3 rounds = 60, serial = 180)",
          (double)st.elapsed_ns / LC_MS);
  if (st.elapsed_ns < rounds)
    lc_fail(ctx, "done in %.1f ms, under 3 rounds", (double)st.elapsed_ns / LC_MS);
  if (st.elapsed_ns > rounds + lc_tol_ns(ctx, 60 * LC_MS))
    lc_fail(ctx, "took %.1f ms, expected about 3 rounds of 20 ms", (double)st.elapsed_ns / LC_MS);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.sem.fifo_no_barging: waiters are served FIFO and a newcomer arriving right after
 * a release does not jump the queue (gh-90155); a waiter woken and then cancelled before it
 * ran hands its unit on, so no unit is lost.
 * ======================================================================================== */

static struct sstate *sf_st;

static int sf_worker(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  struct sstate *st = sf_st;
  int rc = lc_sem_acquire(st->sem);
  if (rc) {
    lc_trace("w%d acquire -> %s", id, lc_trace_code(rc));
    return rc;
  }
  note_order(st, id);
  lc_trace("w%d acquired", id);
  rc = lc_sleep(10 * LC_MS);
  lc_sem_release(st->sem);
  *result = 0;
  return rc;
}

static int sf_main(void *arg, intptr_t *result) {
  struct sstate *st = arg;
  st->sem = lc_sem_new(1);
  if (!st->sem) return -ENOMEM;
  lc_sem_acquire(st->sem);
  lc_task *t[6] = {NULL};
  char name[8];
  for (int i = 1; i <= 2; i++) {
    snprintf(name, sizeof name, "w%d", i);
    if (!(t[i] = lc_spawn(sf_worker, (void *)(intptr_t)i, name))) return -errno;
  }
  lc_sleep(5 * LC_MS);
  lc_sem_release(st->sem);
  st->flag[0] = lc_sem_locked(st->sem);
  lc_trace("released; locked=%d", st->flag[0]);
  if (!(t[3] = lc_spawn(sf_worker, (void *)(intptr_t)3, "w3"))) return -errno; /* newcomer */
  lc_gather(t + 1, 3, NULL, NULL, 0);
  /* Woken, then cancelled before it ran. */
  lc_sem_acquire(st->sem);
  for (int i = 4; i <= 5; i++) {
    snprintf(name, sizeof name, "w%d", i);
    if (!(t[i] = lc_spawn(sf_worker, (void *)(intptr_t)i, name))) return -errno;
  }
  lc_sleep(5 * LC_MS);
  lc_sem_release(st->sem);
  lc_trace("released; cancel(w4) -> %d", lc_cancel(t[4]));
  st->rc[4] = lc_await(t[4], NULL);
  st->rc[5] = lc_await(t[5], NULL);
  st->flag[1] = lc_sem_value(st->sem);
  lc_trace("w4 -> %s, w5 -> %s, value=%d", lc_trace_code(st->rc[4]), lc_trace_code(st->rc[5]),
           st->flag[1]);
  for (int i = 1; i <= 5; i++) lc_task_unref(t[i]);
  lc_sem_free(st->sem);
  *result = 0;
  return 0;
}

LC_TEST(sem_sem_fifo, "semantics.sem.fifo_no_barging", "SEM-FIFO SEM-NO-BARGING SEM-CANCEL-HANDOFF",
        0, 10000) {
  struct sstate st;
  memset(&st, 0, sizeof st);
  sf_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, sf_main, &st, NULL), 0);
  assert_int_equal(st.norder, 4);
  assert_int_equal(st.order[0], 1);
  assert_int_equal(st.order[1], 2);
  assert_int_equal(st.order[2], 3);
  assert_int_equal(st.order[3], 5);
  assert_int_equal(st.flag[0], 1); /* the released unit is reserved for w1 */
  assert_int_equal(st.rc[4], -ECANCELED);
  assert_int_equal(st.rc[5], 0);
  assert_int_equal(st.flag[1], 1); /* no unit lost */
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.sem.bounded: BoundedSemaphore refuses a release above its initial value; a plain
 * Semaphore accepts it and grows.
 * ======================================================================================== */

static int sbd_main(void *arg, intptr_t *result) {
  struct sstate *st = arg;
  lc_sem *b = lc_bounded_sem_new(2), *p = lc_sem_new(2);
  if (!b || !p) return -ENOMEM;
  lc_sem_acquire(b);
  st->rc[0] = lc_sem_release(b);
  st->rc[1] = lc_sem_release(b);
  lc_trace("bounded: release -> %s, over-release refused: %s, value=%d", lc_trace_code(st->rc[0]),
           st->rc[1] < 0 ? "yes" : "no", lc_sem_value(b));
  st->rc[2] = lc_sem_release(p);
  st->flag[0] = lc_sem_value(p);
  lc_trace("plain: over-release -> %s, value=%d", lc_trace_code(st->rc[2]), st->flag[0]);
  lc_sem_free(b);
  lc_sem_free(p);
  *result = 0;
  return 0;
}

LC_TEST(sem_sem_bounded, "semantics.sem.bounded", "SEM-BOUNDED", 0, 10000) {
  struct sstate st;
  memset(&st, 0, sizeof st);
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, sbd_main, &st, NULL), 0);
  assert_int_equal(st.rc[0], 0);
  assert_int_equal(st.rc[1], -EOVERFLOW);
  assert_int_equal(st.rc[2], 0);
  assert_int_equal(st.flag[0], 3);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.lock.fifo: waiters get the lock in arrival order; a waiter cancelled while queued
 * is skipped; releasing an unlocked lock is refused.
 * ======================================================================================== */

static struct sstate *lf_st;

static int lf_worker(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  struct sstate *st = lf_st;
  int rc = lc_lock_acquire(st->lock);
  if (rc) {
    lc_trace("w%d acquire -> %s", id, lc_trace_code(rc));
    return rc;
  }
  note_order(st, id);
  lc_trace("w%d has the lock", id);
  lc_yield();
  lc_lock_release(st->lock);
  *result = 0;
  return 0;
}

static int lf_main(void *arg, intptr_t *result) {
  struct sstate *st = arg;
  st->lock = lc_lock_new();
  if (!st->lock) return -ENOMEM;
  lc_lock_acquire(st->lock);
  lc_task *t[4];
  char name[8];
  for (int i = 1; i <= 3; i++) {
    snprintf(name, sizeof name, "w%d", i);
    if (!(t[i] = lc_spawn(lf_worker, (void *)(intptr_t)i, name))) return -errno;
  }
  lc_sleep(5 * LC_MS);
  lc_trace("cancel(w2) -> %d", lc_cancel(t[2]));
  lc_lock_release(st->lock);
  lc_trace("main released");
  lc_gather(t + 1, 3, NULL, st->rc, LC_GATHER_RETURN_EXCEPTIONS);
  st->flag[0] = lc_lock_locked(st->lock);
  st->flag[1] = lc_lock_release(st->lock);
  lc_trace("locked=%d, release unlocked refused: %s", st->flag[0], st->flag[1] < 0 ? "yes" : "no");
  for (int i = 1; i <= 3; i++) lc_task_unref(t[i]);
  lc_lock_free(st->lock);
  *result = 0;
  return 0;
}

LC_TEST(sem_lock_fifo, "semantics.lock.fifo", "LOCK-FIFO LOCK-RELEASE-UNLOCKED", 0, 10000) {
  struct sstate st;
  memset(&st, 0, sizeof st);
  lf_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, lf_main, &st, NULL), 0);
  assert_int_equal(st.norder, 2);
  assert_int_equal(st.order[0], 1);
  assert_int_equal(st.order[1], 3);
  assert_int_equal(st.rc[1], -ECANCELED);
  assert_int_equal(st.flag[0], 0);
  assert_int_equal(st.flag[1], -EPERM);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.event.wait_set: set() wakes every waiter, in wait order; waiting on a set event
 * returns without suspending; after clear() waiters block again until the next set().
 * ======================================================================================== */

static struct sstate *ew_st;

static int ew_waiter(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  int rc = lc_event_wait(ew_st->ev);
  note_order(ew_st, id);
  lc_trace_at("w%d woke -> %s", id, lc_trace_code(rc));
  *result = 0;
  return rc;
}

static int ew_x(void *arg, intptr_t *result) {
  (void)arg;
  ew_st->flag[2] = 1;
  lc_trace("x ran");
  *result = 0;
  return 0;
}

static int ew_main(void *arg, intptr_t *result) {
  struct sstate *st = arg;
  st->ev = lc_event_new();
  if (!st->ev) return -ENOMEM;
  lc_task *t[4], *x;
  char name[8];
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "w%d", i);
    if (!(t[i] = lc_spawn(ew_waiter, (void *)(intptr_t)i, name))) return -errno;
  }
  lc_sleep(10 * LC_MS);
  lc_trace_at("set");
  lc_event_set(st->ev);
  st->flag[0] = lc_event_is_set(st->ev);
  lc_gather(t, 3, NULL, NULL, 0);
  if (!(x = lc_spawn(ew_x, NULL, "x"))) return -errno;
  int rc = lc_event_wait(st->ev);
  lc_trace("wait on a set event -> %s, x ran meanwhile: %s", lc_trace_code(rc),
           st->flag[2] ? "yes" : "no");
  st->flag[1] = st->flag[2];
  lc_event_clear(st->ev);
  lc_trace("cleared; is_set=%d", lc_event_is_set(st->ev));
  if (!(t[3] = lc_spawn(ew_waiter, (void *)(intptr_t)3, "w3"))) return -errno;
  lc_sleep(10 * LC_MS);
  lc_trace_at("set again");
  lc_event_set(st->ev);
  lc_await(t[3], NULL);
  lc_await(x, NULL);
  for (int i = 0; i < 4; i++) lc_task_unref(t[i]);
  lc_task_unref(x);
  lc_event_free(st->ev);
  *result = 0;
  return 0;
}

LC_TEST(sem_event_wait_set, "semantics.event.wait_set",
        "EVENT-SET-WAKES-ALL EVENT-SET-NO-SUSPEND EVENT-CLEAR", 0, 10000) {
  struct sstate st;
  memset(&st, 0, sizeof st);
  ew_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, ew_main, &st, NULL), 0);
  assert_int_equal(st.norder, 4);
  for (int i = 0; i < 4; i++) assert_int_equal(st.order[i], i);
  assert_int_equal(st.flag[0], 1);
  assert_int_equal(st.flag[1], 0); /* no suspension on a set event */
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.queue.backpressure: with Queue(2) the producer is never more than 2 items ahead
 * of a consumer that takes one item per 5 ms; items come out FIFO; put_nowait on a full queue
 * and get_nowait on an empty one are refused with -EAGAIN.
 * ======================================================================================== */

static struct sstate *qb_st;

static int qb_producer(void *arg, intptr_t *result) {
  (void)arg;
  struct sstate *st = qb_st;
  for (int i = 0; i < 6; i++) {
    int rc = lc_queue_put(st->q, i);
    if (rc) return rc;
    st->puts++;
    if (st->puts - st->gets > st->max_ahead) st->max_ahead = st->puts - st->gets;
    lc_trace_at("put %d", i);
  }
  *result = 0;
  return 0;
}

static int qb_consumer(void *arg, intptr_t *result) {
  (void)arg;
  struct sstate *st = qb_st;
  for (int i = 0; i < 6; i++) {
    intptr_t item = -1;
    int rc = lc_queue_get(st->q, &item);
    if (rc) return rc;
    st->gets++;
    note_order(st, (int)item);
    lc_trace_at("get %ld", (long)item);
    lc_sleep(5 * LC_MS);
  }
  *result = 0;
  return 0;
}

static int qb_main(void *arg, intptr_t *result) {
  struct sstate *st = arg;
  st->q = lc_queue_new(2);
  if (!st->q) return -ENOMEM;
  st->rc[0] = lc_queue_get_nowait(st->q, &(intptr_t){0});
  lc_trace("get_nowait(empty) -> %s", lc_trace_code(st->rc[0]));
  lc_task *t[2];
  if (!(t[0] = lc_spawn(qb_producer, NULL, "producer"))) return -errno;
  if (!(t[1] = lc_spawn(qb_consumer, NULL, "consumer"))) return -errno;
  int rc = lc_gather(t, 2, NULL, NULL, 0);
  lc_trace_at("gather -> %s, max ahead %d", lc_trace_code(rc), st->max_ahead);
  lc_queue_put_nowait(st->q, 10);
  lc_queue_put_nowait(st->q, 11);
  st->rc[1] = lc_queue_put_nowait(st->q, 12);
  lc_trace("put_nowait(full) -> %s, size=%zu", lc_trace_code(st->rc[1]), lc_queue_size(st->q));
  for (int i = 0; i < 2; i++) lc_task_unref(t[i]);
  lc_queue_free(st->q);
  *result = 0;
  return rc;
}

LC_TEST(sem_queue_backpressure, "semantics.queue.backpressure",
        "QUEUE-BACKPRESSURE QUEUE-FIFO QUEUE-NOWAIT", 0, 10000) {
  struct sstate st;
  memset(&st, 0, sizeof st);
  qb_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, qb_main, &st, NULL), 0);
  assert_int_equal(st.max_ahead, 2);
  assert_int_equal(st.norder, 6);
  for (int i = 0; i < 6; i++) assert_int_equal(st.order[i], i);
  assert_int_equal(st.rc[0], -EAGAIN);
  assert_int_equal(st.rc[1], -EAGAIN);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.queue.join: join waits until every item put got its task_done (4 items, 2
 * workers, 5 ms each: about 10 ms); one task_done too many is refused.
 * ======================================================================================== */

static struct sstate *qj_st;

static int qj_worker(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  struct sstate *st = qj_st;
  for (;;) {
    intptr_t item;
    int rc = lc_queue_get(st->q, &item);
    if (rc) return rc; /* cancelled when the work is over */
    lc_trace_at("w%d got %ld", id, (long)item);
    lc_sleep(5 * LC_MS);
    lc_queue_task_done(st->q);
  }
  *result = 0;
  return 0;
}

static int qj_main(void *arg, intptr_t *result) {
  struct sstate *st = arg;
  st->q = lc_queue_new(0);
  if (!st->q) return -ENOMEM;
  for (int i = 0; i < 4; i++) lc_queue_put_nowait(st->q, i);
  lc_task *t[2];
  if (!(t[0] = lc_spawn(qj_worker, (void *)(intptr_t)0, "w0"))) return -errno;
  if (!(t[1] = lc_spawn(qj_worker, (void *)(intptr_t)1, "w1"))) return -errno;
  int rc = lc_queue_join(st->q);
  lc_trace_at("join -> %s, size=%zu", lc_trace_code(rc), lc_queue_size(st->q));
  st->rc[0] = rc;
  st->rc[1] = lc_queue_task_done(st->q);
  lc_trace("task_done too many refused: %s", st->rc[1] < 0 ? "yes" : "no");
  for (int i = 0; i < 2; i++) lc_cancel(t[i]);
  lc_gather(t, 2, NULL, NULL, LC_GATHER_RETURN_EXCEPTIONS);
  for (int i = 0; i < 2; i++) lc_task_unref(t[i]);
  lc_queue_free(st->q);
  *result = 0;
  return 0;
}

LC_TEST(sem_queue_join, "semantics.queue.join", "QUEUE-JOIN QUEUE-TASK-DONE-EXCESS", 0, 10000) {
  struct sstate st;
  memset(&st, 0, sizeof st);
  qj_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, qj_main, &st, NULL), 0);
  assert_int_equal(st.rc[0], 0);
  assert_int_equal(st.rc[1], -EINVAL);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.queue.shutdown (Python 3.13 Queue.shutdown): after shutdown put fails with
 * -ESHUTDOWN at once, get drains what is left and then fails; a getter blocked on an empty
 * queue is woken with -ESHUTDOWN; shutdown(immediate) drops the items and releases join().
 * ======================================================================================== */

static struct sstate *qs_st;

static int qs_getter(void *arg, intptr_t *result) {
  (void)arg;
  intptr_t item;
  int rc = lc_queue_get(qs_st->q, &item);
  lc_trace("blocked get -> %s", lc_trace_code(rc));
  *result = 0;
  return rc == -ESHUTDOWN ? 0 : rc;
}

static int qs_joiner(void *arg, intptr_t *result) {
  (void)arg;
  int rc = lc_queue_join(qs_st->q);
  lc_trace("join -> %s", lc_trace_code(rc));
  *result = 0;
  return rc;
}

static int qs_main(void *arg, intptr_t *result) {
  struct sstate *st = arg;
  st->q = lc_queue_new(0);
  if (!st->q) return -ENOMEM;
  lc_task *g = lc_spawn(qs_getter, NULL, "getter");
  if (!g) return -errno;
  lc_yield(); /* the getter blocks on the empty queue */
  lc_queue_shutdown(st->q, 0);
  lc_trace("shutdown");
  lc_await(g, NULL);
  lc_queue_free(st->q);
  /* Graceful: leftovers drain, then get fails. */
  st->q = lc_queue_new(0);
  if (!st->q) return -ENOMEM;
  lc_queue_put_nowait(st->q, 1);
  lc_queue_put_nowait(st->q, 2);
  lc_queue_shutdown(st->q, 0);
  st->rc[0] = lc_queue_put(st->q, 3);
  lc_trace("put after shutdown -> %s", lc_trace_code(st->rc[0]));
  intptr_t a = 0, b = 0;
  int r1 = lc_queue_get(st->q, &a), r2 = lc_queue_get(st->q, &b);
  st->rc[1] = lc_queue_get(st->q, &(intptr_t){0});
  lc_trace("get -> %s %ld, get -> %s %ld, get -> %s", lc_trace_code(r1), (long)a, lc_trace_code(r2),
           (long)b, lc_trace_code(st->rc[1]));
  lc_queue_free(st->q);
  /* Immediate: items dropped, join released. */
  st->q = lc_queue_new(0);
  if (!st->q) return -ENOMEM;
  lc_queue_put_nowait(st->q, 1);
  lc_task *j = lc_spawn(qs_joiner, NULL, "joiner");
  if (!j) return -errno;
  lc_yield();
  lc_queue_shutdown(st->q, 1);
  lc_trace("shutdown(immediate), size=%zu", lc_queue_size(st->q));
  st->rc[2] = lc_await(j, NULL);
  st->rc[3] = lc_queue_get_nowait(st->q, &(intptr_t){0});
  lc_trace("get_nowait -> %s", lc_trace_code(st->rc[3]));
  lc_task_unref(g);
  lc_task_unref(j);
  lc_queue_free(st->q);
  *result = 0;
  return 0;
}

LC_TEST(sem_queue_shutdown, "semantics.queue.shutdown", "QUEUE-SHUTDOWN", 0, 10000) {
  struct sstate st;
  memset(&st, 0, sizeof st);
  qs_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, qs_main, &st, NULL), 0);
  assert_int_equal(st.rc[0], -ESHUTDOWN);
  assert_int_equal(st.rc[1], -ESHUTDOWN);
  assert_int_equal(st.rc[2], 0);
  assert_int_equal(st.rc[3], -ESHUTDOWN);
  assert_int_equal(rep.n, 0);
}

/* ---- TaskGroup --------------------------------------------------------------------------- */

struct tgchild {
  const char *name;
  int delay_ms, fail, cleanup_fail;
  int cancelled;
};

static int tgchild_fn(void *arg, intptr_t *result) {
  struct tgchild *c = arg;
  int rc = lc_sleep((int64_t)c->delay_ms * LC_MS);
  if (rc == -ECANCELED) {
    c->cancelled = 1;
    if (c->cleanup_fail) {
      lc_trace_at("%s cancelled, cleanup fails %s", c->name, lc_trace_code(-c->cleanup_fail));
      return -c->cleanup_fail;
    }
    lc_trace_at("%s cancelled", c->name);
    return rc;
  }
  if (c->fail) {
    lc_trace_at("%s fails %s", c->name, lc_trace_code(-c->fail));
    return -c->fail;
  }
  lc_trace_at("%s done", c->name);
  *result = 0;
  return 0;
}

struct tgstate {
  struct tgchild c[3];
  int nchildren;
  int body_ms, body_fail;
  int rc, body_rc, spawn_refused, cancelling_after, nerrors;
  int errcodes[4];
};

static int tg_main(void *arg, intptr_t *result) {
  struct tgstate *st = arg;
  lc_taskgroup *tg = lc_taskgroup_new();
  if (!tg) return -ENOMEM;
  for (int i = 0; i < st->nchildren; i++)
    if (!lc_taskgroup_spawn(tg, tgchild_fn, &st->c[i], st->c[i].name)) return -errno;
  int rc = lc_sleep((int64_t)st->body_ms * LC_MS);
  st->body_rc = rc;
  if (rc == 0 && st->body_fail) {
    lc_trace_at("body fails %s", lc_trace_code(-st->body_fail));
    rc = -st->body_fail;
  } else {
    lc_trace_at("body sleep -> %s", lc_trace_code(rc));
  }
  if (rc == -ECANCELED) {
    errno = 0;
    st->spawn_refused = lc_taskgroup_spawn(tg, tgchild_fn, &st->c[0], "late") == NULL;
    lc_trace("spawn while failing refused: %s", st->spawn_refused ? "yes" : "no");
  }
  st->rc = lc_taskgroup_wait(tg, rc);
  const lc_tg_error *errs = NULL;
  size_t n = lc_taskgroup_errors(tg, &errs);
  char buf[160];
  size_t len = (size_t)snprintf(buf, sizeof buf, "[");
  for (size_t i = 0; i < n && len < sizeof buf; i++) {
    if (i < 4) st->errcodes[i] = errs[i].code;
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                            lc_trace_code(errs[i].code));
  }
  if (len < sizeof buf) snprintf(buf + len, sizeof buf - len, "]");
  st->nerrors = (int)n;
  st->cancelling_after = lc_cancelling(lc_current_task());
  lc_trace_at("group -> %s, errors %s, main cancelling=%d", lc_trace_code(st->rc), buf,
              st->cancelling_after);
  lc_taskgroup_free(tg);
  *result = 0;
  return 0;
}

/* ==========================================================================================
 * semantics.tg.waits_all: the group's exit waits for every child (10, 20, 30 ms) and
 * returns 0 with no errors.
 * ======================================================================================== */

LC_TEST(sem_tg_waits_all, "semantics.tg.waits_all", "TG-WAITS-ALL", 0, 10000) {
  struct tgstate st;
  memset(&st, 0, sizeof st);
  st.c[0] = (struct tgchild){.name = "a", .delay_ms = 10};
  st.c[1] = (struct tgchild){.name = "b", .delay_ms = 30};
  st.c[2] = (struct tgchild){.name = "c", .delay_ms = 20};
  st.nchildren = 3;
  st.body_ms = 0;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, tg_main, &st, NULL), 0);
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.nerrors, 0);
  assert_int_equal(st.c[1].cancelled, 0);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.tg.child_failure: the first child failure cancels the other children and the
 * body; the group refuses new children; every failure is listed (the failing child's, and a
 * cancelled child whose cleanup failed), the first one is returned; the body's cancel request
 * is withdrawn at exit.
 * ======================================================================================== */

LC_TEST(sem_tg_child_failure, "semantics.tg.child_failure",
        "TG-FAILURE-CANCELS TG-REFUSES-SPAWN TG-ALL-ERRORS TG-UNCANCEL-BODY", 0, 10000) {
  struct tgstate st;
  memset(&st, 0, sizeof st);
  /* One child to cancel: CPython 3.11 keeps the children in a set, so the order in which it
   * cancels several is not defined and could not be compared. */
  st.c[0] = (struct tgchild){.name = "a", .delay_ms = 10, .fail = EIO};
  st.c[1] = (struct tgchild){.name = "c", .delay_ms = 1000, .cleanup_fail = EINVAL};
  st.nchildren = 2;
  st.body_ms = 1000;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, tg_main, &st, NULL), 0);
  assert_int_equal(st.body_rc, -ECANCELED);
  assert_int_equal(st.spawn_refused, 1);
  assert_int_equal(st.rc, -EIO);
  assert_int_equal(st.nerrors, 2);
  assert_int_equal(st.errcodes[0], -EIO);
  assert_int_equal(st.errcodes[1], -EINVAL);
  assert_int_equal(st.c[1].cancelled, 1);
  assert_int_equal(st.cancelling_after, 0);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.tg.late_child_failure: a child fails after the body finished, while the group's
 * exit waits: the group cancels the waiting task and withdraws that request at exit, so
 * cancelling() is 0 afterwards. Version-dependent: CPython 3.11/3.12's __aexit__ withdraws only
 * a request made before it started waiting and leaves cancelling() at 1 here; 3.13 fixed it
 * (gh-116720). The runtime follows 3.13+; the twin checks 3.11's behaviour and prints 3.13's
 * (TG-LATE-FAILURE).
 * ======================================================================================== */

LC_TEST(sem_tg_late_child_failure, "semantics.tg.late_child_failure", "TG-LATE-FAILURE", 0, 10000) {
  struct tgstate st;
  memset(&st, 0, sizeof st);
  st.c[0] = (struct tgchild){.name = "a", .delay_ms = 10, .fail = EIO};
  st.nchildren = 1;
  st.body_ms = 0;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, tg_main, &st, NULL), 0);
  assert_int_equal(st.body_rc, 0);
  assert_int_equal(st.rc, -EIO);
  assert_int_equal(st.nerrors, 1);
  assert_int_equal(st.cancelling_after, 0);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.tg.body_failure: a failing body counts like a failing child: the children are
 * cancelled and the body's error is returned and listed.
 * ======================================================================================== */

LC_TEST(sem_tg_body_failure, "semantics.tg.body_failure", "TG-BODY-FAILURE", 0, 10000) {
  struct tgstate st;
  memset(&st, 0, sizeof st);
  st.c[0] = (struct tgchild){.name = "a", .delay_ms = 1000}; /* one: see child_failure */
  st.nchildren = 1;
  st.body_ms = 10;
  st.body_fail = EIO;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, tg_main, &st, NULL), 0);
  assert_int_equal(st.rc, -EIO);
  assert_int_equal(st.nerrors, 1);
  assert_int_equal(st.errcodes[0], -EIO);
  assert_int_equal(st.c[0].cancelled, 1);
  assert_int_equal(rep.n, 0);
}
