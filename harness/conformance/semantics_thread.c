/* semantics_thread.c: asyncio-semantics tests of reaching the loop from another thread
 * (call_soon_threadsafe, run_coroutine_threadsafe) through an lc_portal.
 *
 * One body per scenario, run on every backend through lc_run(ctx->b, ...); each writes an
 * event trace for its asyncio twin (harness/oracle/<scenario>.py). Clauses: spec/semantics.tsv.
 * Only the loop thread writes the trace; the other thread records what it saw.
 */
#include "lc_test.h"
#include "lc_trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct tstate {
  lc_portal *portal;
  lc_event *done;
  atomic_int sleeper_started;
  int r_code, c_code, late_rc, cancel_rc;
  intptr_t r;
};

static struct tstate *ts_;

static void from_thread_cb(void *arg) {
  (void)arg;
  lc_trace("callback from the thread ran");
}

static void done_cb(void *arg) { lc_event_set(arg); }

static int ts_coro(void *arg, intptr_t *result) {
  (void)arg;
  lc_trace("coro runs on the loop");
  int rc = lc_sleep(10 * LC_MS);
  *result = 42;
  return rc;
}

static int ts_sleeper(void *arg, intptr_t *result) {
  (void)arg;
  lc_trace("sleeper starts");
  atomic_store(&ts_->sleeper_started, 1);
  int rc = lc_sleep(5 * LC_S);
  if (rc == -ECANCELED) lc_trace("sleeper cancelled");
  *result = 0;
  return rc;
}

static void *thread_main(void *arg) {
  struct tstate *st = arg;
  lc_call_soon_threadsafe(st->portal, from_thread_cb, NULL);
  lc_tsfuture *f = lc_run_coroutine_threadsafe(st->portal, ts_coro, NULL, "coro");
  st->r_code = f ? lc_tsfuture_result(f, 5 * LC_S, &st->r) : -errno;
  lc_tsfuture_free(f);
  lc_tsfuture *f2 = lc_run_coroutine_threadsafe(st->portal, ts_sleeper, NULL, "sleeper");
  if (!f2) {
    st->c_code = -errno;
  } else {
    for (int i = 0; i < 5000 && !atomic_load(&st->sleeper_started); i++)
      nanosleep(&(struct timespec){0, LC_MS}, NULL);
    st->cancel_rc = lc_tsfuture_cancel(f2, st->portal);
    st->c_code = lc_tsfuture_result(f2, 5 * LC_S, NULL);
    lc_tsfuture_free(f2);
  }
  lc_call_soon_threadsafe(st->portal, done_cb, st->done);
  return NULL;
}

static int tt_main(void *arg, intptr_t *result) {
  struct tstate *st = arg;
  if (!(st->portal = lc_portal_open())) return -errno;
  if (!(st->done = lc_event_new())) return -ENOMEM;
  pthread_t th;
  if (pthread_create(&th, NULL, thread_main, st) != 0) return -EAGAIN;
  lc_event_wait(st->done);
  pthread_join(th, NULL); /* it only returns after posting done_cb */
  lc_trace("thread saw: result -> %s %ld, cancelled future -> %s",
           st->r_code == 0 ? "ok" : lc_trace_code(st->r_code), (long)st->r,
           lc_trace_code(st->c_code));
  lc_portal_close(st->portal);
  st->late_rc = lc_call_soon_threadsafe(st->portal, from_thread_cb, NULL); /* closed */
  lc_portal_unref(st->portal);
  lc_event_free(st->done);
  *result = 0;
  return 0;
}

LC_TEST(sem_thread_threadsafe, "semantics.thread.threadsafe",
        "THREAD-CALL-SOON THREAD-RUN-COROUTINE THREAD-CLOSED", LC_NEEDS_WAKEUP, 10000) {
  struct tstate st;
  memset(&st, 0, sizeof st);
  ts_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, tt_main, &st, NULL), 0);
  assert_int_equal(st.r_code, 0);
  assert_int_equal(st.r, 42);
  assert_int_equal(st.cancel_rc, 1);
  assert_int_equal(st.c_code, -ECANCELED);
  assert_int_equal(st.late_rc, -ESHUTDOWN);
}
