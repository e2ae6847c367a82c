/* loop_wakeup.c: loop-contract test for cross-thread wakeups: no send is left without a callback.
 *
 * One body run on every backend with wakeup_* operations (SKIP otherwise).
 */
#include "lc_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#define WK_ROUNDS 300

struct wk_state {
  lc_ctx *ctx;
  lc_loop *loop;
  lc_wakeup *w;
  atomic_long seq;  /* incremented by the sender before each send */
  atomic_long seen; /* the seq value the latest callback observed */
  atomic_int done;  /* set by the sender before its final send */
  int final_seen;   /* loop thread: a callback observed done */
  atomic_int in_cb; /* 1 while a callback is in its busy window */
  int raced;        /* sender only until joined: sends made while a callback was running */
  long callbacks;   /* loop thread only */
  long sends;       /* sender only until joined */
  int send_err;     /* sender only until joined: first wakeup_send error */
  int lost_round;   /* sender only until joined: round whose last send got no callback, or -1 */
  long lost_last;
  int64_t round_limit_ns;
};

/* Even rounds: a burst of 1..8 sends. Odd rounds: one send, then, once its callback is
 * running, another send (the race a backend must not lose). After each round, wait until a
 * callback has observed the round's last send. A callback that started after the last send
 * must observe it, so waiting longer than round_limit_ns means the wakeup was lost. */
static void *wk_sender(void *arg) {
  struct wk_state *st = arg;
  const struct lc_backend *b = st->ctx->b;
  for (int r = 0; r < WK_ROUNDS && !st->send_err && st->lost_round < 0; r++) {
    long last = 0;
    int n = r % 2 ? 2 : 1 + (r / 2) % 8;
    for (int j = 0; j < n; j++) {
      if (r % 2 && j == 1) { /* wait (briefly) for the callback of the first send to run */
        int64_t until = lc_clock_ns() + 50 * LC_MS;
        while (!atomic_load(&st->in_cb) && lc_clock_ns() < until) {
        }
        if (atomic_load(&st->in_cb)) st->raced++;
      }
      last = atomic_fetch_add(&st->seq, 1) + 1;
      int rc = b->wakeup_send(st->w);
      st->sends++;
      if (rc) {
        st->send_err = rc;
        break;
      }
    }
    int64_t deadline = lc_clock_ns() + st->round_limit_ns;
    while (atomic_load(&st->seen) < last) {
      if (lc_clock_ns() > deadline) {
        st->lost_round = r;
        st->lost_last = last;
        break;
      }
      sched_yield();
    }
  }
  atomic_store(&st->done, 1);
  int rc = b->wakeup_send(st->w); /* the final callback sees done and stops the loop */
  st->sends++;
  if (rc && !st->send_err) st->send_err = rc;
  return NULL;
}

static void wk_cb(lc_wakeup *w, void *arg) {
  struct wk_state *st = arg;
  (void)w;
  st->callbacks++;
  /* Observe the sends made before this callback started, then stay busy for 20 us: a send in
   * that window must lead to another callback, which a backend that clears its "pending" flag
   * after the callback instead of before it loses. */
  long snapshot = atomic_load(&st->seq);
  atomic_store(&st->in_cb, 1);
  int64_t until = lc_clock_ns() + 20000;
  while (lc_clock_ns() < until) {
  }
  atomic_store(&st->in_cb, 0);
  atomic_store(&st->seen, snapshot);
  if (atomic_load(&st->done)) {
    st->final_seen = 1;
    lc_stop_watched(st->ctx, st->loop, "from the wakeup callback that saw the final send");
  }
}

static void wk_guard_cb(lc_timer *t, void *arg) {
  struct wk_state *st = arg;
  (void)t;
  lc_stop_watched(st->ctx, st->loop, "from the guard timer");
}

/* ==========================================================================================
 * loop.wakeup.after_last_send: another thread sends 150 bursts of 1..8 wakeups and, in 150
 * more rounds, a wakeup while the callback of the previous one is running; after each round it
 * waits (up to 1 s x multiplier) until a callback has observed its last send. Every round must
 * be answered. Recorded as a characteristic: whether sends coalesced
 * ("yes (N sends -> M callbacks)").
 * ======================================================================================== */

LC_TEST(loop_wakeup_after_last_send, "loop.wakeup.after_last_send",
        "LOOP-WAKEUP-AFTER-LAST LOOP-CHAR-WAKEUP-COALESCE", LC_NEEDS_WAKEUP, 30000) {
  const struct lc_backend *b = ctx->b;
  struct wk_state st;
  memset(&st, 0, sizeof st);
  atomic_init(&st.seq, 0);
  atomic_init(&st.seen, 0);
  atomic_init(&st.done, 0);
  atomic_init(&st.in_cb, 0);
  st.ctx = ctx;
  st.lost_round = -1;
  st.round_limit_ns = lc_tol_ns(ctx, 1000 * LC_MS);
  st.loop = lc_loop_new_or_fail(ctx);
  lc_timer *guard;
  lc_assert_ok(ctx, b->wakeup_new(st.loop, wk_cb, &st, &st.w));
  lc_assert_ok(ctx, b->timer_new(st.loop, wk_guard_cb, &st, &guard));
  /* Ends the run if the final wakeup is lost too: rounds plus the sender's own waits. */
  lc_assert_ok(ctx, b->timer_start(guard, lc_tol_ns(ctx, 10000 * LC_MS), 0));
  pthread_t th;
  int perr = pthread_create(&th, NULL, wk_sender, &st);
  if (perr) lc_fail(ctx, "pthread_create: %s", strerror(perr));
  int rc = b->run(st.loop, LC_RUN_DEFAULT); /* only stop() ends it: watched, see wk_cb */
  lc_watchdog_disarm();
  pthread_join(th, NULL);
  if (rc < 0) lc_fail(ctx, "run() returned %d (%s)", rc, lc_strerr(rc));
  if (st.send_err)
    lc_fail(ctx, "wakeup_send returned %d (%s)", st.send_err, lc_strerr(st.send_err));
  if (st.lost_round >= 0)
    lc_fail(ctx,
            "lost wakeup: in round %d no callback observed send #%ld within %lld ms "
            "(callbacks so far: %ld)",
            st.lost_round, st.lost_last, (long long)(st.round_limit_ns / LC_MS), st.callbacks);
  if (!st.final_seen) lc_fail(ctx, "the final send got no callback before the guard timer");
  lc_note(ctx, "%d sends landed while a callback was running", st.raced);
  if (st.callbacks < st.sends)
    lc_characteristic(ctx, "wakeup-coalesces", "yes (%ld sends -> %ld callbacks)", st.sends,
                      st.callbacks);
  else
    lc_characteristic(ctx, "wakeup-coalesces", "no (%ld sends -> %ld callbacks)", st.sends,
                      st.callbacks);
  b->wakeup_free(st.w);
  b->timer_free(guard);
  lc_loop_free_or_fail(ctx, st.loop);
}
