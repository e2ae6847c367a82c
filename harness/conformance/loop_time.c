/* loop_time.c: loop-contract tests for the loop's clock: now() and update_time().
 *
 * now() is the backend's cached idea of CLOCK_MONOTONIC in ns. The contract lets it be stale
 * (cached per iteration) and coarse (the library's resolution); it does not let it run
 * backwards, and after update_time() it must agree with the clock up to its resolution.
 * Nothing else in the harness calls now(), so these tests are the only check of it.
 */
#include "lc_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==========================================================================================
 * loop.time.now_monotonic: now() never decreases, read back to back, after update_time(),
 * after run(NOWAIT) and run(ONCE), and from inside a timer callback (before and after an
 * update_time() there). 20,000 rounds of those (or 300 ms x multiplier, whichever comes
 * first), so an adapter that converts a realtime value with an offset read afresh on every
 * call (it steps back whenever it is preempted between its two clock reads) is caught many
 * times over; a compliant backend has no step back at all.
 * ======================================================================================== */

enum mono_site {
  SITE_BACK_TO_BACK,
  SITE_AFTER_UPDATE,
  SITE_AFTER_NOWAIT,
  SITE_AFTER_ONCE,
  SITE_IN_CALLBACK,
  SITE_IN_CALLBACK_AFTER_UPDATE,
  SITE_COUNT
};
static const char *const site_names[SITE_COUNT] = {"between two consecutive calls",
                                                   "after update_time()",
                                                   "after run(NOWAIT)",
                                                   "after run(ONCE)",
                                                   "inside a timer callback",
                                                   "after update_time() inside a timer callback"};

struct mono_state {
  lc_ctx *ctx;
  lc_loop *loop;
  int have;
  int64_t prev;
  long readings;
  long backwards[SITE_COUNT];
  int64_t worst;      /* largest step back, ns */
  int64_t worst_from; /* the reading before it */
  int64_t worst_to;
  enum mono_site worst_site;
  long callbacks;
};

static void mono_sample(struct mono_state *st, enum mono_site site) {
  int64_t v = st->ctx->b->now(st->loop);
  st->readings++;
  if (st->have && v < st->prev) {
    st->backwards[site]++;
    if (st->prev - v > st->worst) {
      st->worst = st->prev - v;
      st->worst_from = st->prev;
      st->worst_to = v;
      st->worst_site = site;
    }
  }
  st->prev = v;
  st->have = 1;
}

static void mono_tick_cb(lc_timer *t, void *arg) {
  struct mono_state *st = arg;
  (void)t;
  st->callbacks++;
  mono_sample(st, SITE_IN_CALLBACK);
  st->ctx->b->update_time(st->loop);
  mono_sample(st, SITE_IN_CALLBACK_AFTER_UPDATE);
}

LC_TEST(loop_time_now_monotonic, "loop.time.now_monotonic", "LOOP-TIME-MONOTONIC", 0, 10000) {
  const struct lc_backend *b = ctx->b;
  struct mono_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  st.loop = lc_loop_new_or_fail(ctx);
  lc_timer *tick;
  lc_assert_ok(ctx, b->timer_new(st.loop, mono_tick_cb, &st, &tick));
  /* Keeps the loop active so every run() is a real iteration; due every 200 us so most
   * run(NOWAIT) calls find it due and run the callback. */
  lc_assert_ok(ctx, b->timer_start(tick, 200 * LC_US, 200 * LC_US));
  int64_t end = lc_clock_ns() + lc_tol_ns(ctx, 300 * LC_MS);
  int rounds = 0;
  for (; rounds < 20000 && lc_clock_ns() < end; rounds++) {
    mono_sample(&st, SITE_BACK_TO_BACK);
    mono_sample(&st, SITE_BACK_TO_BACK);
    b->update_time(st.loop);
    mono_sample(&st, SITE_AFTER_UPDATE);
    b->run(st.loop, LC_RUN_NOWAIT);
    mono_sample(&st, SITE_AFTER_NOWAIT);
    if (rounds % 64 == 0) {
      b->run(st.loop, LC_RUN_ONCE); /* waits at most until the 200 us tick */
      mono_sample(&st, SITE_AFTER_ONCE);
    }
  }
  b->timer_free(tick); /* ends the ticker without relying on timer_stop */
  lc_loop_free_or_fail(ctx, st.loop);
  long total = 0;
  for (int i = 0; i < SITE_COUNT; i++) total += st.backwards[i];
  lc_note(ctx, "%ld now() readings in %d rounds, %ld timer callbacks, %ld steps back", st.readings,
          rounds, st.callbacks, total);
  if (total > 0) {
    char where[512];
    size_t len = 0;
    where[0] = '\0';
    for (int i = 0; i < SITE_COUNT; i++)
      if (st.backwards[i] && len < sizeof where)
        len += (size_t)snprintf(where + len, sizeof where - len, "%s%ld %s", len ? ", " : "",
                                st.backwards[i], site_names[i]);
    lc_fail(ctx,
            "now() went backwards %ld times in %ld readings (%s); worst step back %lld ns, "
            "from %lld to %lld, %s",
            total, st.readings, where, (long long)st.worst, (long long)st.worst_from,
            (long long)st.worst_to, site_names[st.worst_site]);
  }
  if (st.callbacks == 0)
    lc_fail(ctx, "a 200 us repeating timer never ran in %d rounds of run(NOWAIT)/run(ONCE)",
            rounds);
}

/* ==========================================================================================
 * loop.time.update_bounds: right after update_time(), now() lies between the CLOCK_MONOTONIC
 * readings taken just before update_time() and just after now(), widened by the backend's
 * resolution on each side (plus 50 us x multiplier). The resolution is measured, not assumed:
 * the median positive step of now() across back-to-back update_time() calls in the same
 * 30 ms window (1 ms for libuv's truncated loop time, a coarse clock's tick, a double's ulp).
 * Checked outside run() and inside a timer callback, since libraries cache time differently
 * in the two places. A backend whose update_time() does not refresh now() shows no step at
 * all; one whose now() is offset or stale by more than its step is outside the bounds.
 * ======================================================================================== */

struct bounds_result {
  int samples;
  int64_t below; /* max over samples of (reading before) - now() */
  int64_t above; /* max over samples of now() - (reading after) */
  int64_t below_at, above_at;
  int64_t resolution; /* median positive step, 0 if now() never changed */
  int steps;
};

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

#define BOUNDS_MAX 200000

static void bounds_measure(lc_ctx *ctx, lc_loop *loop, struct bounds_result *r) {
  const struct lc_backend *b = ctx->b;
  int64_t *steps = malloc(BOUNDS_MAX * sizeof *steps);
  if (!steps) lc_fail(ctx, "out of memory");
  memset(r, 0, sizeof *r);
  r->below = r->above = INT64_MIN;
  int64_t end = lc_clock_ns() + 30 * LC_MS, prev = 0;
  for (int i = 0; i < BOUNDS_MAX && lc_clock_ns() < end; i++) {
    int64_t t0 = lc_clock_ns();
    b->update_time(loop);
    int64_t v = b->now(loop);
    int64_t t1 = lc_clock_ns();
    if (t0 - v > r->below) {
      r->below = t0 - v;
      r->below_at = r->samples;
    }
    if (v - t1 > r->above) {
      r->above = v - t1;
      r->above_at = r->samples;
    }
    if (r->samples > 0 && v > prev) steps[r->steps++] = v - prev;
    prev = v;
    r->samples++;
  }
  if (r->steps > 0) {
    qsort(steps, (size_t)r->steps, sizeof *steps, cmp_i64);
    r->resolution = steps[r->steps / 2];
  }
  free(steps);
}

static void bounds_check(lc_ctx *ctx, const struct bounds_result *r, const char *where) {
  lc_note(ctx,
          "%s: %d samples, resolution %lld ns (median of %d steps), now() at most %lld ns "
          "below the reading before update_time() and %lld ns above the reading after",
          where, r->samples, (long long)r->resolution, r->steps, (long long)r->below,
          (long long)r->above);
  if (r->samples < 100)
    lc_fail(ctx, "%s: only %d update_time()/now() pairs in 30 ms", where, r->samples);
  if (r->steps == 0)
    lc_fail(ctx,
            "%s: now() did not change across %d update_time() calls over 30 ms: "
            "update_time() does not refresh the loop's time",
            where, r->samples);
  int64_t slack = r->resolution + lc_tol_ns(ctx, 50 * LC_US);
  if (r->below > slack)
    lc_fail(ctx,
            "%s: after update_time(), now() was %lld us behind CLOCK_MONOTONIC read "
            "before the call (sample %lld of %d), more than the backend's resolution of %lld "
            "ns plus the tolerance: now() is stale or offset after update_time()",
            where, (long long)(r->below / LC_US), (long long)r->below_at, r->samples,
            (long long)r->resolution);
  if (r->above > slack)
    lc_fail(ctx,
            "%s: after update_time(), now() was %lld us ahead of CLOCK_MONOTONIC read "
            "after it (sample %lld of %d), more than the backend's resolution of %lld ns "
            "plus the tolerance: now() runs ahead of the clock",
            where, (long long)(r->above / LC_US), (long long)r->above_at, r->samples,
            (long long)r->resolution);
}

struct bounds_cb_state {
  lc_ctx *ctx;
  lc_loop *loop;
  struct bounds_result r;
  int ran;
};

static void bounds_cb(lc_timer *t, void *arg) {
  struct bounds_cb_state *st = arg;
  (void)t;
  if (st->ran++) return;
  bounds_measure(st->ctx, st->loop, &st->r);
}

LC_TEST(loop_time_update_bounds, "loop.time.update_bounds", "LOOP-TIME-UPDATE", 0, 10000) {
  const struct lc_backend *b = ctx->b;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  struct bounds_result outside;
  bounds_measure(ctx, loop, &outside);

  struct bounds_cb_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  st.loop = loop;
  lc_timer *t;
  lc_assert_ok(ctx, b->timer_new(loop, bounds_cb, &st, &t));
  lc_assert_ok(ctx, b->timer_start(t, 1 * LC_MS, 0));
  b->run(loop, LC_RUN_DEFAULT); /* the one-shot is the only handle: run() returns after it */
  b->timer_free(t);
  lc_loop_free_or_fail(ctx, loop);
  if (!st.ran) lc_fail(ctx, "a 1 ms timer did not run before run(DEFAULT) returned");
  bounds_check(ctx, &outside, "outside run()");
  bounds_check(ctx, &st.r, "inside a timer callback");
}
