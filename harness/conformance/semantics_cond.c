/* semantics_cond.c: asyncio-semantics tests of Condition (lc_cond).
 *
 * One body per scenario, run on every backend through lc_run(ctx->b, ...); each writes an
 * event trace for its asyncio twin (harness/oracle/<scenario>.py). Clauses: spec/semantics.tsv.
 * Tasks only record what they see; the assertions run after lc_run returns.
 */
#include "lc_test.h"
#include "lc_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct cdstate {
  lc_cond *cond;
  int counter;
  char order[16];
  size_t n;
  int rc[8];
  int locked_after[8];
};

static struct cdstate *cs;

static void note(char c) {
  if (cs->n + 1 < sizeof cs->order) cs->order[cs->n++] = c;
}

/* ==========================================================================================
 * semantics.cond.notify: wait releases the lock and re-acquires it before returning;
 * notify(1) wakes the first waiter, notify_all the rest; wait/notify without the lock are
 * refused; wait_for re-checks its predicate after every wake-up; a waiter cancelled while
 * waiting re-acquires the lock (waiting for it) before it gets -ECANCELED.
 * ======================================================================================== */

static int cd_waiter(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  lc_cond_acquire(cs->cond);
  cs->rc[id] = lc_cond_wait(cs->cond);
  cs->locked_after[id] = lc_cond_locked(cs->cond);
  note((char)('0' + id));
  lc_trace("w%d woke, locked=%d", id, cs->locked_after[id]);
  lc_cond_release(cs->cond);
  *result = 0;
  return cs->rc[id];
}

static int counter_ge2(void *arg) { return ((struct cdstate *)arg)->counter >= 2; }

static int cd_pred_waiter(void *arg, intptr_t *result) {
  (void)arg;
  lc_cond_acquire(cs->cond);
  cs->rc[5] = lc_cond_wait_for(cs->cond, counter_ge2, cs);
  lc_trace("wait_for -> %s, counter=%d", lc_trace_code(cs->rc[5]), cs->counter);
  cs->rc[6] = cs->counter;
  lc_cond_release(cs->cond);
  *result = 0;
  return 0;
}

static int cd_cancelled_waiter(void *arg, intptr_t *result) {
  (void)arg;
  lc_cond_acquire(cs->cond);
  cs->rc[4] = lc_cond_wait(cs->cond);
  cs->locked_after[4] = lc_cond_locked(cs->cond);
  lc_trace("w4 wait -> %s, locked=%d", lc_trace_code(cs->rc[4]), cs->locked_after[4]);
  lc_cond_release(cs->cond);
  *result = 0;
  return 0;
}

static int cd_main(void *arg, intptr_t *result) {
  (void)arg;
  if (!(cs->cond = lc_cond_new(NULL))) return -ENOMEM;
  cs->rc[0] = lc_cond_wait(cs->cond);
  if (cs->rc[0] == -EPERM) lc_trace("wait without the lock -> EPERM");
  cs->rc[7] = lc_cond_notify(cs->cond, 1);
  if (cs->rc[7] == -EPERM) lc_trace("notify without the lock -> EPERM");
  lc_task *w[3];
  char name[4];
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "w%d", i + 1);
    if (!(w[i] = lc_spawn(cd_waiter, (void *)(intptr_t)(i + 1), name))) return -errno;
  }
  lc_sleep(5 * LC_MS);
  lc_cond_acquire(cs->cond);
  lc_cond_notify(cs->cond, 1);
  note('n');
  lc_trace("notify(1)");
  lc_cond_release(cs->cond);
  lc_sleep(5 * LC_MS);
  lc_cond_acquire(cs->cond);
  lc_cond_notify_all(cs->cond);
  note('N');
  lc_trace("notify_all");
  lc_cond_release(cs->cond);
  lc_gather(w, 3, NULL, NULL, 0);
  for (int i = 0; i < 3; i++) lc_task_unref(w[i]);

  lc_task *p = lc_spawn(cd_pred_waiter, NULL, "pred");
  if (!p) return -errno;
  for (int k = 0; k < 2; k++) {
    lc_sleep(5 * LC_MS);
    lc_cond_acquire(cs->cond);
    cs->counter++;
    lc_cond_notify_all(cs->cond);
    lc_trace("counter=%d, notify_all", cs->counter);
    lc_cond_release(cs->cond);
  }
  lc_await(p, NULL);
  lc_task_unref(p);

  lc_task *w4 = lc_spawn(cd_cancelled_waiter, NULL, "w4");
  if (!w4) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cond_acquire(cs->cond);
  lc_cancel(w4);
  lc_trace("cancel(w4) while main holds the lock");
  lc_sleep(5 * LC_MS);
  lc_trace("w4 done: %d", lc_task_done(w4));
  cs->locked_after[0] = lc_task_done(w4);
  lc_cond_release(cs->cond);
  lc_await(w4, NULL);
  lc_task_unref(w4);
  lc_cond_free(cs->cond);
  *result = 0;
  return 0;
}

LC_TEST(sem_cond_notify, "semantics.cond.notify",
        "COND-WAIT-RELEASES COND-NOTIFY COND-NEEDS-LOCK COND-WAIT-FOR COND-CANCEL-REACQUIRES", 0,
        10000) {
  struct cdstate st;
  memset(&st, 0, sizeof st);
  cs = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, cd_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], -EPERM);
  assert_int_equal(st.rc[7], -EPERM);
  if (strcmp(st.order, "n1N23") != 0)
    lc_fail(ctx, "order '%s', expected 'n1N23' (n: notify(1), N: notify_all, digits: waiters)",
            st.order);
  for (int i = 1; i <= 3; i++) {
    assert_int_equal(st.rc[i], 0);
    assert_int_equal(st.locked_after[i], 1); /* woke holding the lock */
  }
  assert_int_equal(st.rc[5], 0);
  assert_int_equal(st.rc[6], 2); /* the predicate was re-checked: not woken at counter 1 */
  assert_int_equal(st.locked_after[0], 0); /* w4 waited for the lock main held */
  assert_int_equal(st.rc[4], -ECANCELED);
  assert_int_equal(st.locked_after[4], 1); /* and got it back before seeing the cancel */
}

/* ==========================================================================================
 * semantics.barrier.wait: Barrier(3) releases its parties together with their arrival index;
 * abort breaks it for the waiting task and later waits; reset breaks the waiting round and
 * makes it usable again.
 * ======================================================================================== */

struct bparty {
  const char *name;
  int delay_ms;
  int rc;
};

static lc_barrier *bw_b;

static int bw_party(void *arg, intptr_t *result) {
  struct bparty *p = arg;
  lc_sleep(p->delay_ms * LC_MS);
  p->rc = lc_barrier_wait(bw_b);
  if (p->rc >= 0) lc_trace_at("%s passed, index=%d", p->name, p->rc);
  else lc_trace_at("%s wait -> %s", p->name, lc_trace_code(p->rc));
  *result = 0;
  return 0;
}

static struct bparty bw_p[8];

static int bw_main(void *arg, intptr_t *result) {
  (void)arg;
  if (!(bw_b = lc_barrier_new(3))) return -errno;
  lc_task *t[3];
  static const char *const names[] = {"w0", "w1", "w2"};
  for (int i = 0; i < 3; i++) {
    bw_p[i] = (struct bparty){names[i], 20 * i * i, 99}; /* 0, 20, 80 ms */
    if (!(t[i] = lc_spawn(bw_party, &bw_p[i], names[i]))) return -errno;
  }
  lc_sleep(50 * LC_MS); /* w0 and w1 wait, w2 comes at 80 ms: 30 ms of margin each way */
  cs->rc[0] = lc_barrier_n_waiting(bw_b);
  lc_trace("n_waiting=%d, parties=%d", cs->rc[0], lc_barrier_parties(bw_b));
  lc_gather(t, 3, NULL, NULL, 0);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  lc_trace("after the round: n_waiting=%d, broken=%d", lc_barrier_n_waiting(bw_b),
           lc_barrier_broken(bw_b));
  bw_p[3] = (struct bparty){"a", 0, 99};
  lc_task *a = lc_spawn(bw_party, &bw_p[3], "a");
  if (!a) return -errno;
  lc_sleep(5 * LC_MS);
  lc_barrier_abort(bw_b);
  lc_await(a, NULL);
  lc_task_unref(a);
  cs->rc[1] = lc_barrier_broken(bw_b);
  lc_trace("aborted: broken=%d", cs->rc[1]);
  bw_p[4] = (struct bparty){"late", 0, 99};
  intptr_t r;
  bw_party(&bw_p[4], &r);
  lc_barrier_free(bw_b);
  if (!(bw_b = lc_barrier_new(2))) return -errno;
  bw_p[5] = (struct bparty){"r", 0, 99};
  lc_task *rt = lc_spawn(bw_party, &bw_p[5], "r");
  if (!rt) return -errno;
  lc_sleep(5 * LC_MS);
  lc_barrier_reset(bw_b);
  lc_await(rt, NULL);
  lc_task_unref(rt);
  cs->rc[2] = lc_barrier_broken(bw_b);
  lc_trace("reset: broken=%d, n_waiting=%d", cs->rc[2], lc_barrier_n_waiting(bw_b));
  bw_p[6] = (struct bparty){"p", 0, 99};
  bw_p[7] = (struct bparty){"q", 5, 99};
  lc_task *pq[2] = {lc_spawn(bw_party, &bw_p[6], "p"), lc_spawn(bw_party, &bw_p[7], "q")};
  if (!pq[0] || !pq[1]) return -ENOMEM;
  lc_gather(pq, 2, NULL, NULL, 0);
  lc_task_unref(pq[0]);
  lc_task_unref(pq[1]);
  lc_barrier_free(bw_b);
  *result = 0;
  return 0;
}

LC_TEST(sem_barrier_wait, "semantics.barrier.wait", "BARRIER-RELEASE BARRIER-ABORT BARRIER-RESET",
        0, 10000) {
  struct cdstate st;
  memset(&st, 0, sizeof st);
  cs = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, bw_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], 2);
  for (int i = 0; i < 3; i++) assert_int_equal(bw_p[i].rc, i); /* arrival index */
  assert_int_equal(bw_p[3].rc, -EPIPE);
  assert_int_equal(st.rc[1], 1);
  assert_int_equal(bw_p[4].rc, -EPIPE);
  assert_int_equal(bw_p[5].rc, -EPIPE);
  assert_int_equal(st.rc[2], 0);
  assert_int_equal(bw_p[6].rc, 0);
  assert_int_equal(bw_p[7].rc, 1);
}
