/* semantics_power.c: semantic scenarios that tell apart runtimes the other scenarios could not
 * (issue 8): the order in which parked Queue getters are served, lc_sleep(0) as a yield to the
 * loop, and a Semaphore waiter cancelled while still queued. Each has an asyncio twin in
 * harness/oracle/<scenario>.py, and its C assertions say what was expected in words.
 */
#include "lc_test.h"
#include "lc_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loopconf/runtime.h"

/* ==========================================================================================
 * semantics.queue.getters_fifo: four getters park on an empty queue in the order g1..g4; then
 * four items are put without yielding. asyncio wakes the getter that waited longest first for
 * each item (Queue.put_nowait -> _wakeup_next pops the oldest waiter), so g1 gets 1, g2 gets 2,
 * and so on. A runtime that wakes the newest getter first gives g4 the first item.
 * ======================================================================================== */

#define GF_GETTERS 4

struct gf_state {
  lc_queue *q;
  int rc[GF_GETTERS + 1];
  intptr_t got[GF_GETTERS + 1];
  int order[GF_GETTERS];
  int norder;
};
static struct gf_state *gf_st;

static int gf_getter(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  lc_trace("g%d waiting", id);
  intptr_t item = -1;
  int rc = lc_queue_get(gf_st->q, &item);
  gf_st->rc[id] = rc;
  gf_st->got[id] = item;
  if (gf_st->norder < GF_GETTERS) gf_st->order[gf_st->norder++] = id;
  lc_trace("g%d get -> %s, item %ld", id, lc_trace_code(rc), (long)item);
  *result = item;
  return rc;
}

static int gf_main(void *arg, intptr_t *result) {
  struct gf_state *st = arg;
  st->q = lc_queue_new(0);
  if (!st->q) return -ENOMEM;
  lc_task *t[GF_GETTERS + 1];
  char name[8];
  for (int i = 1; i <= GF_GETTERS; i++) {
    snprintf(name, sizeof name, "g%d", i);
    if (!(t[i] = lc_spawn(gf_getter, (void *)(intptr_t)i, name))) return -errno;
  }
  lc_sleep(5 * LC_MS); /* every getter is parked on the empty queue */
  lc_trace("put 1..%d", GF_GETTERS);
  for (int i = 1; i <= GF_GETTERS; i++) {
    int rc = lc_queue_put_nowait(st->q, i);
    if (rc) return rc;
  }
  int rc = lc_gather(t + 1, GF_GETTERS, NULL, NULL, 0);
  lc_trace("gather -> %s, size %zu", lc_trace_code(rc), lc_queue_size(st->q));
  for (int i = 1; i <= GF_GETTERS; i++) lc_task_unref(t[i]);
  lc_queue_free(st->q);
  *result = 0;
  return rc;
}

LC_TEST(sem_queue_getters_fifo, "semantics.queue.getters_fifo", "QUEUE-GETTERS-FIFO", 0, 10000) {
  struct gf_state st;
  memset(&st, 0, sizeof st);
  gf_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, gf_main, &st, NULL), 0);
  for (int i = 1; i <= GF_GETTERS; i++) {
    assert_int_equal(st.rc[i], 0);
    if (st.got[i] != i)
      lc_fail(ctx,
              "getters parked in the order g1..g%d were not served first come, first "
              "served: g%d got item %ld (expected %d); service order g%d g%d g%d g%d",
              GF_GETTERS, i, (long)st.got[i], i, st.order[0], st.order[1], st.order[2],
              st.order[3]);
  }
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.sched.sleep_zero_yields: lc_sleep(0) is asyncio.sleep(0), a bare yield:
 *   - two tasks that each trace a step and lc_sleep(0) three times interleave a0 b0 a1 b1 a2 b2
 *     (a sleep(0) that returns at once runs a0 a1 a2 first);
 *   - a task that loops on lc_sleep(0) lets the loop run timers: a 5 ms sleeper wakes while it
 *     spins (bounded at 10^6 yields, which a sleep(0) that never reaches the loop exhausts).
 * ======================================================================================== */

struct sz_state {
  char order[32];
  size_t len;
  int woke;      /* the 5 ms sleeper has woken */
  long spins;    /* sleep(0) calls of the spinner until then */
  int rc_sleep0; /* first non-zero lc_sleep(0) code, if any */
};
static struct sz_state *sz_st;

static int sz_stepper(void *arg, intptr_t *result) {
  char c = (char)(intptr_t)arg;
  for (int i = 0; i < 3; i++) {
    lc_trace("%c%d", c, i);
    if (sz_st->len + 2 < sizeof sz_st->order) {
      sz_st->order[sz_st->len++] = c;
      sz_st->order[sz_st->len++] = (char)('0' + i);
    }
    int rc = lc_sleep(0);
    if (rc && !sz_st->rc_sleep0) sz_st->rc_sleep0 = rc;
    if (rc) return rc;
  }
  *result = 0;
  return 0;
}

static int sz_sleeper(void *arg, intptr_t *result) {
  (void)arg;
  int rc = lc_sleep(5 * LC_MS);
  sz_st->woke = 1;
  lc_trace_at("sleeper woke -> %s", lc_trace_code(rc));
  *result = 0;
  return rc;
}

static int sz_spinner(void *arg, intptr_t *result) {
  (void)arg;
  while (!sz_st->woke && sz_st->spins < 1000000) {
    sz_st->spins++;
    int rc = lc_sleep(0);
    if (rc && !sz_st->rc_sleep0) sz_st->rc_sleep0 = rc;
    if (rc) return rc;
  }
  lc_trace("spinner saw the sleeper wake: %s", sz_st->woke ? "yes" : "no");
  *result = 0;
  return 0;
}

static int sz_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *t[2];
  for (int i = 0; i < 2; i++) {
    char name[2] = {(char)('a' + i), 0};
    if (!(t[i] = lc_spawn(sz_stepper, (void *)(intptr_t)('a' + i), name))) return -errno;
  }
  int rc = lc_gather(t, 2, NULL, NULL, 0);
  lc_trace("gather -> %s", lc_trace_code(rc));
  for (int i = 0; i < 2; i++) lc_task_unref(t[i]);
  lc_task *s = lc_spawn(sz_sleeper, NULL, "sleeper"), *p = lc_spawn(sz_spinner, NULL, "spinner");
  if (!s || !p) return -ENOMEM;
  lc_task *both[2] = {s, p};
  int rc2 = lc_gather(both, 2, NULL, NULL, 0);
  lc_trace("gather -> %s", lc_trace_code(rc2));
  lc_task_unref(s);
  lc_task_unref(p);
  *result = 0;
  return rc ? rc : rc2;
}

LC_TEST(sem_sched_sleep_zero_yields, "semantics.sched.sleep_zero_yields", "SCHED-SLEEP-ZERO-YIELDS",
        0, 10000) {
  struct sz_state st;
  memset(&st, 0, sizeof st);
  sz_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, sz_main, &st, NULL), 0);
  assert_int_equal(st.rc_sleep0, 0);
  if (strcmp(st.order, "a0b0a1b1a2b2") != 0)
    lc_fail(ctx,
            "lc_sleep(0) did not yield to the other ready task: steps ran in the order %s "
            "(expected a0b0a1b1a2b2)",
            st.order);
  if (!st.woke)
    lc_fail(ctx,
            "a task looping on lc_sleep(0) kept a 5 ms timer from firing for %ld yields: "
            "lc_sleep(0) does not let the loop run",
            st.spins);
  lc_note(ctx, "the spinner yielded %ld times before the 5 ms sleeper woke", st.spins);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.sem.cancel_queued: Semaphore(1) held by main; w1, w2, w3 queue on acquire; w2 is
 * cancelled while still queued (no release has happened). w2's acquire ends with ECANCELED and
 * it leaves the queue; the next releases serve w1 then w3; the semaphore ends at 1 with no
 * waiter. A runtime that leaves a cancelled waiter in the queue hands it a unit it never uses
 * (w3 then waits for good, or the value ends at 0); one that wakes it by releasing loses order.
 * ======================================================================================== */

struct cq_state {
  lc_sem *sem;
  int rc[4];
  int order[3];
  int norder;
  int value_end, locked_end;
};
static struct cq_state *cq_st;

static int cq_worker(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  int rc = lc_sem_acquire(cq_st->sem);
  cq_st->rc[id] = rc;
  lc_trace("w%d acquire -> %s", id, lc_trace_code(rc));
  if (rc) return rc;
  if (cq_st->norder < 3) cq_st->order[cq_st->norder++] = id;
  lc_sleep(0);
  lc_trace("w%d release", id);
  lc_sem_release(cq_st->sem);
  *result = 0;
  return 0;
}

static int cq_main(void *arg, intptr_t *result) {
  struct cq_state *st = arg;
  st->sem = lc_sem_new(1);
  if (!st->sem) return -ENOMEM;
  int rc = lc_sem_acquire(st->sem);
  if (rc) return rc;
  lc_task *t[4];
  char name[8];
  for (int i = 1; i <= 3; i++) {
    snprintf(name, sizeof name, "w%d", i);
    if (!(t[i] = lc_spawn(cq_worker, (void *)(intptr_t)i, name))) return -errno;
  }
  lc_sleep(5 * LC_MS); /* all three are queued */
  lc_trace("cancel(w2) -> %d", lc_cancel(t[2]));
  lc_sleep(5 * LC_MS); /* w2 handles its cancellation while main still holds the unit */
  lc_trace("main release, value %d", lc_sem_value(st->sem));
  lc_sem_release(st->sem);
  int codes[3];
  lc_gather(t + 1, 3, NULL, codes, LC_GATHER_RETURN_EXCEPTIONS);
  st->value_end = lc_sem_value(st->sem);
  st->locked_end = lc_sem_locked(st->sem);
  lc_trace("gather -> [%s, %s, %s], value %d, locked %d", lc_trace_code(codes[0]),
           lc_trace_code(codes[1]), lc_trace_code(codes[2]), st->value_end, st->locked_end);
  for (int i = 1; i <= 3; i++) lc_task_unref(t[i]);
  lc_sem_free(st->sem);
  *result = 0;
  return 0;
}

LC_TEST(sem_sem_cancel_queued, "semantics.sem.cancel_queued", "SEM-CANCEL-QUEUED", 0, 10000) {
  struct cq_state st;
  memset(&st, 0, sizeof st);
  cq_st = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, cq_main, &st, NULL), 0);
  assert_int_equal(st.rc[2], -ECANCELED);
  assert_int_equal(st.rc[1], 0);
  assert_int_equal(st.rc[3], 0);
  if (st.norder != 2 || st.order[0] != 1 || st.order[1] != 3)
    lc_fail(ctx,
            "after w2 was cancelled in the queue, the semaphore served %d waiter(s) "
            "(first w%d, then w%d; expected w1 then w3)",
            st.norder, st.order[0], st.order[1]);
  if (st.value_end != 1)
    lc_fail(ctx,
            "a Semaphore(1) ended at value %d after every holder released (expected 1): "
            "the cancelled waiter %s a unit",
            st.value_end, st.value_end < 1 ? "kept" : "added");
  assert_int_equal(st.locked_end, 0);
  assert_int_equal(rep.n, 0);
}
