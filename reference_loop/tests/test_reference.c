/* test_reference.c: cmocka unit tests of the reference loop's heap and of the loop through its backend table. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <loopconf/backend.h>

#include "ref_heap.h"
#include "ref_loop.h"
#include "loopconf/clock.h"

static const struct lc_backend *B;
static double multiplier = 1.0; /* LOOPCONF_TIME_MULTIPLIER: widens every upper time bound */

/* ---- Helpers ------------------------------------------------------------------------------ */

/* Busy-wait: a callback that "runs long". */
static void spin_ns(int64_t ns) {
  int64_t end = lc_clock_ns() + ns;
  while (lc_clock_ns() < end)
    ;
}

static void sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Deterministic PRNG (xorshift64*), so a failure replays. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static lc_loop *new_loop(void) {
  lc_loop *loop = NULL;
  assert_int_equal(B->loop_new(&loop), 0);
  assert_non_null(loop);
  return loop;
}

static void free_loop(lc_loop *loop) { assert_int_equal(B->loop_free(loop), 0); }

static void make_pair(int sv[2]) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* Fails the test instead of hanging: a timer that stops the loop and records that it fired. */
struct watchdog {
  int fired;
  lc_loop *loop;
  lc_timer *timer;
};
static void watchdog_cb(lc_timer *t, void *arg) {
  (void)t;
  struct watchdog *w = arg;
  w->fired = 1;
  B->stop(w->loop);
}
static void watchdog_start(struct watchdog *w, lc_loop *loop, int64_t ns) {
  w->fired = 0;
  w->loop = loop;
  assert_int_equal(B->timer_new(loop, watchdog_cb, w, &w->timer), 0);
  assert_int_equal(B->timer_start(w->timer, (int64_t)(ns * multiplier), 0), 0);
}
static void watchdog_end(struct watchdog *w) {
  assert_int_equal(w->fired, 0);
  B->timer_free(w->timer);
}

/* Fails the test instead of hanging where no loop timer can: a loop kept alive by a timer that
 * was stopped would block in the poll forever. SIGALRM prints one line and exits non-zero;
 * guard_teardown disarms it after each test, passed or failed. */
static void guard_fire(int sig) {
  (void)sig;
  static const char msg[] = "reference_unit: a test hung (alarm guard fired)\n";
  ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)r;
  _exit(1);
}
static void guard_arm(double seconds) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = guard_fire;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
  alarm((unsigned)(seconds * multiplier) + 1); /* rounded up, without libm */
}
static int guard_teardown(void **state) {
  (void)state;
  alarm(0);
  return 0;
}

/* ---- Poll recorder -------------------------------------------------------------------------
 * This binary compiles the loop's sources, so the definitions of epoll_wait and epoll_pwait2
 * below take the place of libc's for the loop (a definition in the executable wins). Each
 * counts the call and records its timeout, then forwards it: that shows how often run() woke
 * up and until when it meant to sleep, which no timing measurement can prove (an early
 * wake-up that runs nothing is invisible from outside). Only the loop thread polls. */
struct poll_log {
  int calls;          /* polls that reached the kernel (an ENOSYS probe of pwait2 is not one) */
  int64_t entered;    /* clock reading on entry of the last poll */
  int64_t timeout_ns; /* its timeout in ns, < 0 for none */
};
static struct poll_log plog;

static void poll_log_reset(void) { memset(&plog, 0, sizeof plog); }

/* The wait ended no earlier than this instant (entry + timeout); INT64_MAX if unlimited. */
static int64_t poll_log_end(void) {
  return plog.timeout_ns < 0 ? INT64_MAX : plog.entered + plog.timeout_ns;
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms) {
  int64_t at = lc_clock_ns();
  int n = epoll_pwait(epfd, events, maxevents, timeout_ms, NULL); /* NULL mask: epoll_wait */
  int saved = errno;
  plog.calls++;
  plog.entered = at;
  plog.timeout_ns = timeout_ms < 0 ? -1 : timeout_ms * LC_MS;
  errno = saved;
  return n;
}

#ifdef REF_HAVE_EPOLL_PWAIT2
typedef int (*pwait2_fn)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);
int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
                 const struct timespec *timeout, const sigset_t *sigmask) {
  static pwait2_fn real;
  if (!real) real = (pwait2_fn)dlsym(RTLD_NEXT, "epoll_pwait2");
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  int64_t at = lc_clock_ns();
  int n = real(epfd, events, maxevents, timeout, sigmask);
  int saved = errno;
  if (n >= 0 || saved != ENOSYS) {
    plog.calls++;
    plog.entered = at;
    plog.timeout_ns = timeout ? (int64_t)timeout->tv_sec * 1000000000 + timeout->tv_nsec : -1;
  }
  errno = saved;
  return n;
}
#endif

/* ---- Heap against a model ------------------------------------------------------------------ */

struct model_node {
  struct ref_heap_node hn;
  bool in;
  int64_t deadline;
  uint64_t seq;
};

static bool model_less(const struct model_node *a, const struct model_node *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

/* Random push/remove/update/pop against a linear-scan model; tiny key range forces ties. */
static void heap_matches_model(void **state) {
  (void)state;
  enum { N = 1000, OPS = 200000 };
  struct model_node *nodes = calloc(N, sizeof *nodes);
  assert_non_null(nodes);
  struct ref_heap heap;
  ref_heap_init(&heap);
  assert_int_equal(ref_heap_reserve(&heap, N), 0);
  for (int i = 0; i < N; i++) nodes[i].hn.index = REF_HEAP_NONE;
  uint64_t seq = 0;
  size_t in = 0;
  for (int op = 0; op < OPS; op++) {
    struct model_node *n = &nodes[rng() % N];
    int64_t d = (int64_t)(rng() % 64);
    switch (rng() % 4) {
    case 0: /* push or update */
    case 1:
      n->deadline = d;
      n->seq = seq++;
      if (n->in) {
        ref_heap_update(&heap, &n->hn, n->deadline, n->seq);
      } else {
        ref_heap_push(&heap, &n->hn, n->deadline, n->seq);
        n->in = true;
        in++;
      }
      break;
    case 2: /* remove */
      if (n->in) {
        ref_heap_remove(&heap, &n->hn);
        assert_true(n->hn.index == REF_HEAP_NONE);
        n->in = false;
        in--;
      }
      break;
    case 3: { /* pop: must be the model's minimum */
      struct model_node *best = NULL;
      for (int i = 0; i < N; i++)
        if (nodes[i].in && (!best || model_less(&nodes[i], best))) best = &nodes[i];
      struct ref_heap_node *got = ref_heap_pop(&heap);
      if (!best) {
        assert_null(got);
      } else {
        assert_ptr_equal(got, &best->hn);
        best->in = false;
        in--;
      }
      break;
    }
    }
    assert_int_equal(heap.len, in);
    if (op < 5000 || op % 1000 == 0) assert_true(ref_heap_valid(&heap));
  }
  assert_true(ref_heap_valid(&heap));
  ref_heap_destroy(&heap);
  free(nodes);
}

/* Equal deadlines pop in sequence order whatever the insertion order. */
static void heap_equal_deadline_order(void **state) {
  (void)state;
  enum { N = 4096 };
  struct model_node *nodes = calloc(N, sizeof *nodes);
  uint64_t *seqs = malloc(N * sizeof *seqs);
  assert_non_null(nodes);
  assert_non_null(seqs);
  for (int i = 0; i < N; i++) seqs[i] = (uint64_t)i;
  for (int i = N - 1; i > 0; i--) { /* shuffle */
    int j = (int)(rng() % (uint64_t)(i + 1));
    uint64_t tmp = seqs[i];
    seqs[i] = seqs[j];
    seqs[j] = tmp;
  }
  struct ref_heap heap;
  ref_heap_init(&heap);
  assert_int_equal(ref_heap_reserve(&heap, N), 0);
  for (int i = 0; i < N; i++) {
    nodes[i].seq = seqs[i];
    ref_heap_push(&heap, &nodes[i].hn, 42, seqs[i]);
  }
  assert_true(ref_heap_valid(&heap));
  for (uint64_t want = 0; want < N; want++) {
    struct model_node *got = (struct model_node *)ref_heap_pop(&heap);
    assert_non_null(got);
    assert_int_equal(got->seq, want);
  }
  assert_null(ref_heap_pop(&heap));
  ref_heap_destroy(&heap);
  free(seqs);
  free(nodes);
}

/* The repeat rule: prev + period, or skip missed ticks keeping the phase; saturates. */
static void next_deadline_rule(void **state) {
  (void)state;
  assert_int_equal(ref_next_deadline(100, 10, 100), 110); /* on time */
  assert_int_equal(ref_next_deadline(100, 10, 105), 110);
  assert_int_equal(ref_next_deadline(100, 10, 110), 120); /* exactly due: strictly later */
  assert_int_equal(ref_next_deadline(100, 10, 135), 140); /* 3 ticks late: skip, keep phase */
  assert_int_equal(ref_next_deadline(100, 10, 140), 150);
  assert_int_equal(ref_next_deadline(0, 1, 1000000), 1000001);
  assert_int_equal(ref_next_deadline(INT64_MAX - 5, 10, 0), INT64_MAX);
  assert_int_equal(ref_next_deadline(INT64_MAX - 25, 10, INT64_MAX - 8), INT64_MAX - 5);
  assert_int_equal(ref_next_deadline(INT64_MAX - 25, 10, INT64_MAX - 3), INT64_MAX);
  assert_int_equal(ref_add_sat(INT64_MAX - 1, 5), INT64_MAX);
}

/* ---- Loop: lifetime and run() return values ---------------------------------------------- */

static void count_cb(lc_timer *t, void *arg) {
  (void)t;
  (*(int *)arg)++;
}
static void io_count_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io, (void)fd, (void)revents;
  (*(int *)arg)++;
}
static void wake_count_cb(lc_wakeup *w, void *arg) {
  (void)w;
  (*(int *)arg)++;
}

static void run_returns_and_busy(void **state) {
  (void)state;
  lc_loop *loop = new_loop();
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 0);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 0);
  assert_int_equal(B->run(loop, 7), -EINVAL);

  int fired = 0;
  lc_timer *t;
  assert_int_equal(B->timer_new(loop, count_cb, &fired, &t), 0);
  assert_int_equal(B->timer_start(t, -1, 0), -EINVAL);
  assert_int_equal(B->timer_start(t, 0, -1), -EINVAL);
  assert_int_equal(B->loop_free(loop), -EBUSY); /* inactive but not freed */
  assert_int_equal(B->timer_start(t, 1000 * LC_MS, 0), 0);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(fired, 0);
  assert_int_equal(B->timer_start(t, 1 * LC_MS, 0), 0); /* re-arm shorter */
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 0);
  assert_int_equal(fired, 1);
  assert_int_equal(B->timer_stop(t), 0); /* inactive: no-op */
  B->timer_free(t);

  lc_wakeup *w;
  int woke = 0;
  assert_int_equal(B->wakeup_new(loop, wake_count_cb, &woke, &w), 0);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1); /* a wakeup keeps the loop alive */
  assert_int_equal(B->loop_free(loop), -EBUSY);
  B->wakeup_free(w);

  int sv[2];
  make_pair(sv);
  lc_io *io;
  int calls = 0;
  assert_int_equal(B->io_new(loop, sv[0], io_count_cb, &calls, &io), 0);
  assert_int_equal(B->loop_free(loop), -EBUSY);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 0); /* an inactive watcher is not active */
  B->io_free(io);
  close(sv[0]);
  close(sv[1]);
  assert_non_null(B->version());
  assert_non_null(strstr(B->version(), "loopconf-reference"));
  free_loop(loop);
}

/* ---- Timers -------------------------------------------------------------------------------- */

struct order_rec {
  int64_t lo, hi; /* the deadline lies in [lo, hi]: clock before/after timer_start, + delay */
  int64_t fired_at;
  int index;
};
struct order_state {
  struct order_rec *recs;
  int *fired;
  int nfired;
};
static struct order_state order_st;

static void order_cb(lc_timer *t, void *arg) {
  (void)t;
  struct order_rec *r = arg;
  r->fired_at = lc_clock_ns();
  order_st.fired[order_st.nfired++] = r->index;
}

/* 100k timers: every one fires once, never early, in an order consistent with the deadlines;
 * timers with equal delays fire in start order. */
static void timers_100k_order(void **state) {
  (void)state;
  enum { N = 100000 };
  lc_loop *loop = new_loop();
  lc_timer **timers = malloc(N * sizeof *timers);
  order_st.recs = calloc(N, sizeof *order_st.recs);
  order_st.fired = malloc(N * sizeof *order_st.fired);
  order_st.nfired = 0;
  assert_non_null(timers);
  assert_non_null(order_st.recs);
  assert_non_null(order_st.fired);
  for (int i = 0; i < N; i++) {
    struct order_rec *r = &order_st.recs[i];
    r->index = i;
    assert_int_equal(B->timer_new(loop, order_cb, r, &timers[i]), 0);
    int64_t delay = i % 10 == 0 ? 3 * LC_MS : (int64_t)(rng() % (5 * LC_MS));
    r->lo = lc_clock_ns() + delay;
    assert_int_equal(B->timer_start(timers[i], delay, 0), 0);
    r->hi = lc_clock_ns() + delay;
  }
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  assert_int_equal(order_st.nfired, N);
  int last_equal = -1;
  for (int k = 0; k < N; k++) {
    struct order_rec *r = &order_st.recs[order_st.fired[k]];
    assert_true(r->fired_at >= r->lo); /* never early */
    if (k > 0) { /* a later-fired timer cannot have a surely-earlier deadline */
      struct order_rec *p = &order_st.recs[order_st.fired[k - 1]];
      assert_true(p->lo <= r->hi);
    }
    if (r->index % 10 == 0) { /* equal delays: start order */
      assert_true(r->index > last_equal);
      last_equal = r->index;
    }
  }
  for (int i = 0; i < N; i++) B->timer_free(timers[i]);
  free(timers);
  free(order_st.recs);
  free(order_st.fired);
  free_loop(loop);
}

/* Churn: start/stop/restart 100k times over 1000 timers, then check only the active ones fire. */
static void timers_churn(void **state) {
  (void)state;
  enum { N = 1000, OPS = 100000 };
  guard_arm(10); /* a stopped timer left counted as active would block run() forever */
  lc_loop *loop = new_loop();
  lc_timer *timers[N];
  int fired[N];
  bool active[N];
  memset(fired, 0, sizeof fired);
  memset(active, 0, sizeof active);
  for (int i = 0; i < N; i++)
    assert_int_equal(B->timer_new(loop, count_cb, &fired[i], &timers[i]), 0);
  for (int op = 0; op < OPS; op++) {
    int i = (int)(rng() % N);
    if (rng() % 3) {
      assert_int_equal(B->timer_start(timers[i], (int64_t)(rng() % (2 * LC_MS)), 0), 0);
      active[i] = true;
    } else {
      assert_int_equal(B->timer_stop(timers[i]), 0);
      active[i] = false;
    }
  }
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  for (int i = 0; i < N; i++) {
    assert_int_equal(fired[i], active[i] ? 1 : 0);
    B->timer_free(timers[i]);
  }
  free_loop(loop);
}

/* Pass semantics, driven one iteration at a time with NOWAIT. */
struct pass_state {
  lc_loop *loop;
  lc_timer *a, *b, *c, *d, *late;
  int a_calls, b_calls, c_calls, d_calls, late_calls;
};
static struct pass_state ps;

static void pass_late_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  ps.late_calls++;
}
static void pass_a_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  ps.a_calls++;
  B->timer_stop(ps.b); /* b is due in this pass: cancelled */
  B->timer_free(ps.c); /* c is due in this pass: freed */
  ps.c = NULL;
  assert_int_equal(B->timer_start(ps.late, 0, 0), 0); /* started here: not this pass */
}
static void pass_b_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  ps.b_calls++;
}
static void pass_c_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  ps.c_calls++;
}
static void pass_d_cb(lc_timer *t, void *arg) {
  (void)arg;
  ps.d_calls++;
  B->timer_free(t); /* freeing itself from its own callback */
  ps.d = NULL;
}

static void timers_due_pass_semantics(void **state) {
  (void)state;
  memset(&ps, 0, sizeof ps);
  ps.loop = new_loop();
  assert_int_equal(B->timer_new(ps.loop, pass_a_cb, NULL, &ps.a), 0);
  assert_int_equal(B->timer_new(ps.loop, pass_b_cb, NULL, &ps.b), 0);
  assert_int_equal(B->timer_new(ps.loop, pass_c_cb, NULL, &ps.c), 0);
  assert_int_equal(B->timer_new(ps.loop, pass_d_cb, NULL, &ps.d), 0);
  assert_int_equal(B->timer_new(ps.loop, pass_late_cb, NULL, &ps.late), 0);
  assert_int_equal(B->timer_start(ps.a, 0, 0), 0);
  assert_int_equal(B->timer_start(ps.b, 0, 0), 0);
  assert_int_equal(B->timer_start(ps.c, 0, 0), 0);
  assert_int_equal(B->timer_start(ps.d, 0, 0), 0);
  sleep_ns(1 * LC_MS);                                 /* all four are due before the first poll */
  assert_int_equal(B->run(ps.loop, LC_RUN_NOWAIT), 1); /* late is still armed */
  assert_int_equal(ps.a_calls, 1);
  assert_int_equal(ps.b_calls, 0);
  assert_int_equal(ps.c_calls, 0);
  assert_int_equal(ps.d_calls, 1);
  assert_int_equal(ps.late_calls, 0);
  assert_int_equal(B->run(ps.loop, LC_RUN_NOWAIT), 0);
  assert_int_equal(ps.late_calls, 1);
  assert_int_equal(ps.b_calls, 0);
  B->timer_free(ps.a);
  B->timer_free(ps.b);
  B->timer_free(ps.late);
  free_loop(ps.loop);
}

/* timer_start on a timer collected as due but not yet run re-arms it for its new deadline. */
static void restart_due_cb(lc_timer *t, void *arg) {
  (void)t;
  lc_timer *other = arg;
  assert_int_equal(B->timer_start(other, 0, 0), 0);
}
static void timers_restart_while_due(void **state) {
  (void)state;
  lc_loop *loop = new_loop();
  lc_timer *a, *b;
  int b_calls = 0;
  assert_int_equal(B->timer_new(loop, count_cb, &b_calls, &b), 0);
  assert_int_equal(B->timer_new(loop, restart_due_cb, b, &a), 0);
  assert_int_equal(B->timer_start(a, 0, 0), 0);
  assert_int_equal(B->timer_start(b, 0, 0), 0);
  sleep_ns(1 * LC_MS);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(b_calls, 0); /* re-armed by a: waits for the next pass */
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  assert_int_equal(b_calls, 1); /* and fires once, not twice */
  B->timer_free(a);
  B->timer_free(b);
  free_loop(loop);
}

/* A timer started after a long callback waits its full delay from timer_start. */
struct long_state {
  lc_loop *loop;
  lc_timer *b;
  int64_t started_before, fired_at;
};
static struct long_state ls;
static void long_a_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  int64_t cached = B->now(ls.loop);
  spin_ns(30 * LC_MS);
  assert_true(B->now(ls.loop) == cached); /* the cache is not refreshed by itself */
  ls.started_before = lc_clock_ns();
  assert_int_equal(B->timer_start(ls.b, 10 * LC_MS, 0), 0);
  int64_t before_update = lc_clock_ns();
  B->update_time(ls.loop);
  assert_true(B->now(ls.loop) >= before_update);
}
static void long_b_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  ls.fired_at = lc_clock_ns();
}
static void timers_never_early_after_long_callback(void **state) {
  (void)state;
  memset(&ls, 0, sizeof ls);
  ls.loop = new_loop();
  lc_timer *a;
  assert_int_equal(B->timer_new(ls.loop, long_a_cb, NULL, &a), 0);
  assert_int_equal(B->timer_new(ls.loop, long_b_cb, NULL, &ls.b), 0);
  assert_int_equal(B->timer_start(a, 0, 0), 0);
  assert_int_equal(B->run(ls.loop, LC_RUN_DEFAULT), 0);
  assert_true(ls.fired_at - ls.started_before >= 10 * LC_MS);
  B->timer_free(a);
  B->timer_free(ls.b);
  free_loop(ls.loop);
}

/* Repeating timer: ticks never come before their phase, and a late loop skips missed ticks. */
struct rep_state {
  lc_timer *t;
  int64_t t0;
  int64_t at[4];
  int n;
};
static struct rep_state rs;
static void rep_cb(lc_timer *t, void *arg) {
  (void)arg;
  rs.at[rs.n++] = lc_clock_ns() - rs.t0;
  if (rs.n == 1) spin_ns(75 * LC_MS); /* miss the ticks at 40 and 60 (and most of 80) */
  if (rs.n == 4) B->timer_stop(t);
}
static void timers_repeat_phase_and_catch_up(void **state) {
  (void)state;
  memset(&rs, 0, sizeof rs);
  lc_loop *loop = new_loop();
  assert_int_equal(B->timer_new(loop, rep_cb, NULL, &rs.t), 0);
  rs.t0 = lc_clock_ns();
  assert_int_equal(B->timer_start(rs.t, 20 * LC_MS, 20 * LC_MS), 0);
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  assert_int_equal(rs.n, 4);
  assert_true(rs.at[0] >= 20 * LC_MS);
  assert_true(rs.at[1] >= 40 * LC_MS); /* the late tick fires once ... */
  /* ... then the phase resumes at the first multiple of 20 ms after the loop caught up (>= 100
   * ms since t0), not at 60 or 80 (a burst of missed ticks). */
  assert_true(rs.at[2] >= 100 * LC_MS);
  assert_true(rs.at[3] >= 120 * LC_MS);
  B->timer_free(rs.t);
  free_loop(loop);
}

/* ---- Timers: lazy stop, restart of stale entries, the due pass -----------------------------
 * timer_stop leaves the stopped timer's heap entry in place (REF-7); the tests below put such
 * stale entries at the top of the heap, behind the next armed timer, and far away, and check
 * that they never fire, never decide the poll timeout, never keep the loop alive, and that a
 * restart or a free deals with them. Late bounds are scaled by LOOPCONF_TIME_MULTIPLIER. */

#define LATE_NS ((int64_t)(100 * LC_MS * multiplier)) /* how late a timer may fire on a noisy VM */

struct fire_rec {
  int calls;
  int64_t fired_at;
};
static void fire_rec_cb(lc_timer *t, void *arg) {
  (void)t;
  struct fire_rec *r = arg;
  r->calls++;
  r->fired_at = lc_clock_ns();
}

/* Start t with delay; store the clock readings around the call plus the delay, which bound
 * its deadline: lo <= deadline <= hi. */
static void start_bounded(lc_timer *t, int64_t delay, int64_t *lo, int64_t *hi) {
  *lo = lc_clock_ns() + delay;
  assert_int_equal(B->timer_start(t, delay, 0), 0);
  *hi = lc_clock_ns() + delay;
}

/* 1000 stopped far timers and 8 stopped near ones (whose stale entries sit at the top of the
 * heap, due before the armed timer), plus one armed near timer: run(ONCE) polls exactly once,
 * with a timeout that ends at or after the near deadline, fires the near timer on time, and
 * no stopped timer ever fires. */
static void timers_stale_entries_do_not_disturb_near(void **state) {
  (void)state;
  enum { FAR = 1000, STALE_TOP = 8 };
  static lc_timer *far[FAR];
  static int far_calls[FAR];
  lc_timer *top[STALE_TOP], *near;
  int top_calls[STALE_TOP];
  struct fire_rec nr = {0, 0};
  memset(far_calls, 0, sizeof far_calls);
  memset(top_calls, 0, sizeof top_calls);
  lc_loop *loop = new_loop();
  for (int i = 0; i < FAR; i++) {
    assert_int_equal(B->timer_new(loop, count_cb, &far_calls[i], &far[i]), 0);
    /* 10-11 s, a few repeating; every one stopped at once */
    assert_int_equal(B->timer_start(far[i], 10000 * LC_MS + (int64_t)(rng() % (1000 * LC_MS)),
                                    i % 7 == 0 ? 5 * LC_MS : 0),
                     0);
  }
  for (int i = 0; i < STALE_TOP; i++) {
    assert_int_equal(B->timer_new(loop, count_cb, &top_calls[i], &top[i]), 0);
    assert_int_equal(B->timer_start(top[i], (i + 1) * 2 * LC_MS, 0), 0); /* 2..16 ms */
  }
  assert_int_equal(B->timer_new(loop, fire_rec_cb, &nr, &near), 0);
  int64_t lo, hi;
  start_bounded(near, 30 * LC_MS, &lo, &hi);
  for (int i = 0; i < FAR; i++) assert_int_equal(B->timer_stop(far[i]), 0);
  for (int i = 0; i < STALE_TOP; i++) assert_int_equal(B->timer_stop(top[i]), 0);

  poll_log_reset();
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 0); /* only stopped timers remain afterwards */
  assert_int_equal(nr.calls, 1);
  assert_true(nr.fired_at >= lo);           /* not early */
  assert_true(nr.fired_at <= hi + LATE_NS); /* not late */
  assert_int_equal(plog.calls, 1);          /* no wake-up for a stale deadline */
  assert_true(plog.timeout_ns > 0);
  assert_true(poll_log_end() >= lo); /* the one poll was meant to last until the deadline */
  for (int i = 0; i < STALE_TOP; i++) assert_int_equal(top_calls[i], 0);

  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0); /* stopped timers keep nothing alive */
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 0);
  assert_int_equal(nr.calls, 1);
  for (int i = 0; i < FAR; i++) {
    assert_int_equal(far_calls[i], 0);
    B->timer_free(far[i]);
  }
  for (int i = 0; i < STALE_TOP; i++) {
    assert_int_equal(top_calls[i], 0);
    B->timer_free(top[i]);
  }
  B->timer_free(near);
  free_loop(loop);
}

/* A stopped timer whose stale entry is at the top of the heap, restarted with a later delay
 * and then with an earlier one: each time it fires exactly once, at the new deadline, never at
 * the old one. Once with the stale entry still in the heap (re-keyed in place), once after the
 * loop dropped it (pushed afresh). */
static void timers_restart_stale_top(void **state) {
  (void)state;
  lc_loop *loop = new_loop();
  struct fire_rec r = {0, 0};
  lc_timer *t, *other;
  int other_calls = 0;
  int64_t lo, hi;
  assert_int_equal(B->timer_new(loop, fire_rec_cb, &r, &t), 0);
  assert_int_equal(B->timer_new(loop, count_cb, &other_calls, &other), 0);

  /* Later: old deadline 10 ms (heap top), an armed timer at 25 ms, new deadline 40 ms. */
  assert_int_equal(B->timer_start(other, 25 * LC_MS, 0), 0);
  assert_int_equal(B->timer_start(t, 10 * LC_MS, 0), 0);
  assert_int_equal(B->timer_stop(t), 0);
  start_bounded(t, 40 * LC_MS, &lo, &hi);
  poll_log_reset();
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 1); /* `other` fires first, t stays armed */
  assert_int_equal(other_calls, 1);
  assert_int_equal(r.calls, 0); /* nothing at the old 10 ms deadline */
  assert_int_equal(plog.calls, 1);
  poll_log_reset();
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 0);
  assert_int_equal(r.calls, 1);
  assert_true(r.fired_at >= lo);
  assert_true(r.fired_at <= hi + LATE_NS);
  assert_int_equal(plog.calls, 1);
  assert_true(poll_log_end() >= lo);

  /* Earlier: old deadline 2 s (heap top, the only entry), new deadline 5 ms. */
  assert_int_equal(B->timer_start(t, 2000 * LC_MS, 0), 0);
  assert_int_equal(B->timer_stop(t), 0);
  start_bounded(t, 5 * LC_MS, &lo, &hi);
  poll_log_reset();
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 0);
  assert_int_equal(r.calls, 2);
  assert_true(r.fired_at >= lo);
  assert_true(r.fired_at <= hi + LATE_NS);
  assert_int_equal(plog.calls, 1);
  assert_true(plog.timeout_ns > 0 && plog.timeout_ns <= 5 * LC_MS); /* not the old 2 s */
  assert_true(poll_log_end() >= lo);

  /* Both again after run() dropped the stale top entry, so that the restart pushes a new one.
   * An armed far timer keeps the loop alive: run() iterates (and drops) only then. */
  assert_int_equal(B->timer_start(other, 10000 * LC_MS, 0), 0);
  assert_int_equal(B->timer_start(t, 2000 * LC_MS, 0), 0);
  assert_int_equal(B->timer_stop(t), 0);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  start_bounded(t, 5 * LC_MS, &lo, &hi);
  poll_log_reset();
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 1);
  assert_int_equal(r.calls, 3);
  assert_true(r.fired_at >= lo);
  assert_true(r.fired_at <= hi + LATE_NS);
  assert_int_equal(plog.calls, 1);
  assert_true(plog.timeout_ns > 0 && plog.timeout_ns <= 5 * LC_MS);
  assert_int_equal(B->timer_start(t, 1 * LC_MS, 0), 0);
  assert_int_equal(B->timer_stop(t), 0);
  sleep_ns(2 * LC_MS); /* the stale entry is due and at the top: dropped, not fired */
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(r.calls, 3);
  start_bounded(t, 20 * LC_MS, &lo, &hi);
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 1);
  assert_int_equal(r.calls, 4);
  assert_true(r.fired_at >= lo);
  assert_true(r.fired_at <= hi + LATE_NS);

  assert_int_equal(B->timer_stop(other), 0);
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0); /* each restart fired once, no more */
  assert_int_equal(r.calls, 4);
  assert_int_equal(other_calls, 1);
  B->timer_free(t);
  B->timer_free(other);
  free_loop(loop);
}

/* Stop, restart and free many timers, including stopped ones whose stale entries are due and
 * at the top of the heap: run() with only stopped timers returns 0 at once, loop_free refuses
 * while any timer exists and succeeds after the last free. New timers, allocated where freed
 * ones lived, fire exactly once each (a heap entry left pointing at a freed timer would make
 * one of them fire twice, corrupt the heap, or show up under ASan/valgrind). */
static void timers_stop_then_free_many(void **state) {
  (void)state;
  enum { N = 2000, FRESH = N / 4 };
  static lc_timer *t[N], *fresh[FRESH];
  static int calls[N], fresh_calls[FRESH];
  static bool armed[N], freed[N];
  memset(calls, 0, sizeof calls);
  memset(fresh_calls, 0, sizeof fresh_calls);
  memset(armed, 0, sizeof armed);
  memset(freed, 0, sizeof freed);
  guard_arm(10); /* a stopped timer that kept the loop alive would block run() forever */
  lc_loop *loop = new_loop();
  for (int i = 0; i < N; i++) {
    assert_int_equal(B->timer_new(loop, count_cb, &calls[i], &t[i]), 0);
    int64_t delay = i % 4 == 0   ? 0
                    : i % 4 == 1 ? (int64_t)(rng() % (1 * LC_MS))
                                 : 1000 * LC_MS + (int64_t)(rng() % (1000 * LC_MS));
    assert_int_equal(B->timer_start(t[i], delay, i % 8 == 3 ? 1 * LC_MS : 0), 0);
  }
  sleep_ns(2 * LC_MS); /* the first two quarters are due now */
  for (int i = N - 1; i >= 0; i--) assert_int_equal(B->timer_stop(t[i]), 0);
  /* Free the zero-delay quarter before any run(): their stale entries are at the top. */
  for (int i = 0; i < N; i += 4) {
    B->timer_free(t[i]);
    freed[i] = true;
  }
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 0);
  int64_t before = lc_clock_ns();
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  assert_true(lc_clock_ns() - before <= LATE_NS); /* did not wait for a stale deadline */
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 0);
  for (int i = 0; i < N; i++) assert_int_equal(calls[i], 0);

  /* Restart the second quarter (stale entries dropped by run() or still deep in the heap),
   * stop every other one again, then free the far quarter from all over the heap. */
  for (int i = 1; i < N; i += 4) {
    assert_int_equal(B->timer_start(t[i], (int64_t)(rng() % (1 * LC_MS)), 0), 0);
    armed[i] = true;
    if (i % 8 == 1) {
      assert_int_equal(B->timer_stop(t[i]), 0);
      armed[i] = false;
    }
  }
  for (int i = 2; i < N; i += 4) {
    B->timer_free(t[i]);
    freed[i] = true;
  }
  assert_int_equal(B->loop_free(loop), -EBUSY);
  for (int k = 0; k < FRESH; k++) {
    assert_int_equal(B->timer_new(loop, count_cb, &fresh_calls[k], &fresh[k]), 0);
    assert_int_equal(B->timer_start(fresh[k], 0, 0), 0);
  }
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  for (int i = 0; i < N; i++) assert_int_equal(calls[i], armed[i] ? 1 : 0);
  for (int k = 0; k < FRESH; k++) assert_int_equal(fresh_calls[k], 1);

  /* Free the rest in an order unrelated to the heap's, with one left stopped-but-armed last. */
  for (int k = 0; k < FRESH; k++) B->timer_free(fresh[k]);
  assert_int_equal(B->timer_start(t[3], 5000 * LC_MS, 0), 0);
  assert_int_equal(B->timer_stop(t[3]), 0);
  for (int i = N - 1; i >= 0; i--)
    if (!freed[i] && i != 3) {
      B->timer_free(t[i]);
      freed[i] = true;
    }
  assert_int_equal(B->loop_free(loop), -EBUSY);
  B->timer_free(t[3]);
  free_loop(loop);
}

/* REF-3 with update_time(): a callback that refreshes the cached time and starts other timers
 * (delay 0, so due at the refreshed time) adds nothing to the running pass; neither does a
 * timer armed before the pass that only became due at the refreshed time, nor a repeating
 * timer whose next tick passed during its own callback. Driven one iteration at a time. */
struct upd_state {
  lc_loop *loop;
  lc_timer *first, *rep, *pre, *started[3];
  int iter;                                  /* set by the test before each run(NOWAIT) */
  int first_iter, pre_iter, started_iter[3]; /* the iteration each ran in (0: not yet) */
  int rep_iter1_calls, rep_calls, started_calls[3];
  int64_t pass_now; /* the cached time the pass began with, as `first` saw it */
  int64_t pre_lo, pre_hi;
};
static struct upd_state us;

static void upd_started_cb(lc_timer *t, void *arg) {
  (void)t;
  int k = (int)(intptr_t)arg;
  us.started_calls[k]++;
  us.started_iter[k] = us.iter;
}
static void upd_first_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  us.first_iter = us.iter;
  us.pass_now = B->now(us.loop);
  /* Run past pre's deadline, then refresh the cached time: pre is due at the new time. */
  while (lc_clock_ns() < us.pre_hi + 1 * LC_MS)
    ;
  B->update_time(us.loop);
  assert_int_equal(B->timer_start(us.started[0], 0, 0), 0);
  assert_int_equal(B->timer_start(us.started[1], 0, 0), 0);
  B->update_time(us.loop);
  assert_int_equal(B->timer_start(us.started[2], 1000, 0), 0);
  spin_ns(1 * LC_MS);
  B->update_time(us.loop);
  assert_true(B->now(us.loop) > us.pass_now);
}
static void upd_rep_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  us.rep_calls++;
  if (us.iter == 1) us.rep_iter1_calls++;
  if (us.rep_calls == 1) { /* let the next 1 ms tick pass, and make the cache see it */
    spin_ns(3 * LC_MS);
    B->update_time(us.loop);
  }
}
static void upd_pre_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  us.pre_iter = us.iter;
}
static void timers_update_time_inside_pass(void **state) {
  (void)state;
  memset(&us, 0, sizeof us);
  us.loop = new_loop();
  assert_int_equal(B->timer_new(us.loop, upd_first_cb, NULL, &us.first), 0);
  assert_int_equal(B->timer_new(us.loop, upd_rep_cb, NULL, &us.rep), 0);
  assert_int_equal(B->timer_new(us.loop, upd_pre_cb, NULL, &us.pre), 0);
  for (int k = 0; k < 3; k++)
    assert_int_equal(B->timer_new(us.loop, upd_started_cb, (void *)(intptr_t)k, &us.started[k]), 0);
  assert_int_equal(B->timer_start(us.first, 0, 0), 0);
  assert_int_equal(B->timer_start(us.rep, 0, 1 * LC_MS), 0);
  start_bounded(us.pre, 20 * LC_MS, &us.pre_lo, &us.pre_hi);

  us.iter = 1;
  assert_int_equal(B->run(us.loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(us.first_iter, 1);
  assert_int_equal(us.rep_iter1_calls, 1); /* its passed tick waits for the next pass */
  for (int k = 0; k < 3; k++)
    assert_int_equal(us.started_calls[k], 0); /* started in the pass: not run by it */
  /* pre belongs to the pass only if it was due at the time the pass began with. */
  if (us.pre_lo > us.pass_now) assert_int_equal(us.pre_iter, 0);
  else if (us.pre_hi <= us.pass_now) assert_int_equal(us.pre_iter, 1);

  us.iter = 2;
  assert_int_equal(B->run(us.loop, LC_RUN_NOWAIT), 1);
  for (int k = 0; k < 3; k++) {
    assert_int_equal(us.started_calls[k], 1);
    assert_int_equal(us.started_iter[k], 2);
  }
  assert_int_equal(us.rep_calls, 2); /* the passed tick, once (catch-up skips the rest) */
  if (us.pre_lo > us.pass_now) assert_int_equal(us.pre_iter, 2);
  assert_int_equal(B->timer_stop(us.rep), 0);
  assert_int_equal(B->run(us.loop, LC_RUN_DEFAULT), 0);
  assert_int_equal(us.first_iter, 1);
  assert_true(us.pre_iter == 1 || us.pre_iter == 2);
  B->timer_free(us.first);
  B->timer_free(us.rep);
  B->timer_free(us.pre);
  for (int k = 0; k < 3; k++) B->timer_free(us.started[k]);
  free_loop(us.loop);
}

/* ---- I/O ----------------------------------------------------------------------------------- */

struct rearm_state {
  lc_timer *t;
  lc_io *io;
  int timer_calls, io_calls, timer_calls_at_io;
};
static struct rearm_state rr;
static void rearm_timer_cb(lc_timer *t, void *arg) {
  (void)arg;
  rr.timer_calls++;
  if (rr.timer_calls < 100000) B->timer_start(t, 0, 0);
}
static void rearm_io_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)fd, (void)arg;
  assert_true(revents & LC_READABLE);
  rr.io_calls++;
  rr.timer_calls_at_io = rr.timer_calls;
  B->io_stop(io);
  B->timer_stop(rr.t);
}
/* A zero-delay timer re-armed from its own callback cannot starve ready I/O. */
static void zero_delay_rearm_does_not_starve_io(void **state) {
  (void)state;
  memset(&rr, 0, sizeof rr);
  lc_loop *loop = new_loop();
  int sv[2];
  make_pair(sv);
  assert_int_equal(write(sv[1], "x", 1), 1);
  assert_int_equal(B->timer_new(loop, rearm_timer_cb, NULL, &rr.t), 0);
  assert_int_equal(B->io_new(loop, sv[0], rearm_io_cb, NULL, &rr.io), 0);
  assert_int_equal(B->timer_start(rr.t, 0, 0), 0);
  assert_int_equal(B->io_start(rr.io, LC_READABLE), 0);
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  assert_int_equal(rr.io_calls, 1);
  assert_true(rr.timer_calls_at_io <= 2);
  B->timer_free(rr.t);
  B->io_free(rr.io);
  close(sv[0]);
  close(sv[1]);
  free_loop(loop);
}

struct io_rec {
  unsigned revents;
  int calls;
};
static void io_rec_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io, (void)fd;
  struct io_rec *r = arg;
  r->revents = revents;
  r->calls++;
}

/* Readable, interest replaced by writable, level-triggered, hang-up reported as LC_IO_ERROR,
 * one active watcher per fd, bad arguments. */
static void io_basics(void **state) {
  (void)state;
  lc_loop *loop = new_loop();
  int sv[2];
  make_pair(sv);
  struct io_rec r = {0, 0}, r2 = {0, 0};
  lc_io *io, *io2;
  assert_int_equal(B->io_new(loop, sv[0], io_rec_cb, &r, &io), 0);
  assert_int_equal(B->io_new(loop, sv[0], io_rec_cb, &r2, &io2), 0);
  assert_int_equal(B->io_start(io, 0), -EINVAL);
  assert_int_equal(B->io_start(io, LC_IO_ERROR), -EINVAL);
  lc_io *bad;
  assert_int_equal(B->io_new(loop, -1, io_rec_cb, &r, &bad), -EBADF);

  assert_int_equal(B->io_start(io, LC_READABLE), 0);
  assert_int_equal(B->io_start(io2, LC_READABLE), -EEXIST);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(r.calls, 0); /* nothing to read yet */
  assert_int_equal(write(sv[1], "x", 1), 1);
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.revents, LC_READABLE);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1); /* level-triggered: still readable */
  assert_int_equal(r.calls, 2);

  assert_int_equal(B->io_start(io, LC_WRITABLE), 0); /* replaces the interest */
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(r.calls, 3);
  assert_int_equal(r.revents, LC_WRITABLE);

  assert_int_equal(B->io_stop(io), 0);
  assert_int_equal(B->io_stop(io), 0); /* stopping a stopped watcher: no-op */
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 0);
  assert_int_equal(r.calls, 3);

  assert_int_equal(B->io_start(io2, LC_READABLE), 0); /* the fd is free again */
  close(sv[1]);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r2.revents, LC_READABLE | LC_IO_ERROR);
  B->io_free(io2);
  B->io_free(io);
  close(sv[0]);
  free_loop(loop);
}

/* Freeing or stopping watchers from inside a callback, while their events are still in the
 * array fetched by the same poll. */
struct free_state {
  lc_loop *loop;
  lc_io *io[3];
  int fd[3][2];
  int calls[3];
  int total;
};
static struct free_state fs;
static void free_other_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io, (void)fd, (void)revents;
  int me = (int)(intptr_t)arg;
  fs.calls[me]++;
  fs.total++;
  if (fs.total > 1) return;
  /* First callback of the pass: free the other ready watcher, stop-and-restart the third. Both
   * have events waiting in this pass; neither callback may run in it. */
  int other = me == 0 ? 1 : 0;
  int third = 2;
  if (me == 2) {
    other = 0;
    third = 1;
  }
  B->io_free(fs.io[other]);
  fs.io[other] = NULL;
  B->io_stop(fs.io[third]);
  assert_int_equal(B->io_start(fs.io[third], LC_READABLE), 0);
  /* A new watcher reuses the freed slot; it must not inherit the stale event. */
  assert_int_equal(
      B->io_new(fs.loop, fs.fd[other][0], free_other_cb, (void *)(intptr_t)other, &fs.io[other]),
      0);
  assert_int_equal(B->io_start(fs.io[other], LC_READABLE), 0);
}
static void io_free_and_stop_inside_pass(void **state) {
  (void)state;
  memset(&fs, 0, sizeof fs);
  fs.loop = new_loop();
  for (int i = 0; i < 3; i++) {
    make_pair(fs.fd[i]);
    assert_int_equal(write(fs.fd[i][1], "x", 1), 1);
    assert_int_equal(B->io_new(fs.loop, fs.fd[i][0], free_other_cb, (void *)(intptr_t)i, &fs.io[i]),
                     0);
    assert_int_equal(B->io_start(fs.io[i], LC_READABLE), 0);
  }
  assert_int_equal(B->run(fs.loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(fs.total, 1);
  assert_int_equal(B->run(fs.loop, LC_RUN_NOWAIT), 1); /* all three ready again: all run */
  assert_int_equal(fs.total, 4);
  for (int i = 0; i < 3; i++) {
    B->io_free(fs.io[i]);
    close(fs.fd[i][0]);
    close(fs.fd[i][1]);
  }
  free_loop(fs.loop);
}

/* A watched fd closed without io_stop: epoll forgets it silently; the watcher stays active;
 * a new watcher on the reused fd number works and io_stop of the old one leaves it alone. */
static void io_closed_fd(void **state) {
  (void)state;
  lc_loop *loop = new_loop();
  int sv[2];
  make_pair(sv);
  struct io_rec r = {0, 0}, r2 = {0, 0};
  lc_io *old, *fresh;
  assert_int_equal(B->io_new(loop, sv[0], io_rec_cb, &r, &old), 0);
  assert_int_equal(B->io_start(old, LC_READABLE), 0);
  assert_int_equal(write(sv[1], "x", 1), 1);
  int fdnum = sv[0];
  close(sv[0]);
  close(sv[1]);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1); /* still active, never called */
  assert_int_equal(r.calls, 0);

  int sv2[2];
  make_pair(sv2);
  assert_int_equal(sv2[0], fdnum); /* lowest free number is reused */
  assert_int_equal(B->io_new(loop, sv2[0], io_rec_cb, &r2, &fresh), 0);
  assert_int_equal(B->io_start(fresh, LC_READABLE), 0);
  assert_int_equal(B->io_stop(old), 0); /* must not remove fresh's registration */
  assert_int_equal(write(sv2[1], "y", 1), 1);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r.calls, 0);
  B->io_free(old);
  B->io_free(fresh);
  close(sv2[0]);
  close(sv2[1]);
  free_loop(loop);
}

/* ---- Wakeups ------------------------------------------------------------------------------- */

enum { SENDS = 200000 };
struct wake_state {
  lc_loop *loop;
  lc_wakeup *w;
  atomic_int sent; /* how many sends have begun */
  int calls;
  int last_seen;
};
static void wake_seen_cb(lc_wakeup *w, void *arg) {
  (void)w;
  struct wake_state *ws = arg;
  int seen = atomic_load(&ws->sent);
  assert_true(seen >= ws->last_seen);
  ws->last_seen = seen;
  ws->calls++;
  if (seen == SENDS) B->stop(ws->loop);
}
static void *sender(void *arg) {
  struct wake_state *ws = arg;
  for (int i = 1; i <= SENDS; i++) {
    atomic_store(&ws->sent, i);
    if (B->wakeup_send(ws->w) != 0) abort();
  }
  return NULL;
}
/* Two threads each hammer their own wakeup: sends coalesce (never more callbacks than sends),
 * and a callback always starts after the last send (the loop stops only on seeing it). */
static void wakeups_coalesce_and_follow_last_send(void **state) {
  (void)state;
  lc_loop *loop = new_loop();
  struct wake_state ws[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    memset(&ws[i], 0, sizeof ws[i]);
    ws[i].loop = loop;
    atomic_init(&ws[i].sent, 0);
    assert_int_equal(B->wakeup_new(loop, wake_seen_cb, &ws[i], &ws[i].w), 0);
  }
  struct watchdog wd;
  watchdog_start(&wd, loop, 20000 * LC_MS);
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, sender, &ws[i]), 0);
  while (!wd.fired && (ws[0].last_seen < SENDS || ws[1].last_seen < SENDS))
    assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 1);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  watchdog_end(&wd);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(ws[i].last_seen, SENDS);
    assert_true(ws[i].calls >= 1 && ws[i].calls <= SENDS);
  }
  /* A send from the loop thread, then free the wakeup from its own callback. */
  B->wakeup_free(ws[1].w);
  assert_int_equal(B->wakeup_send(ws[0].w), 0);
  int before = ws[0].calls;
  assert_int_equal(B->run(loop, LC_RUN_ONCE), 1);
  assert_int_equal(ws[0].calls, before + 1);
  B->wakeup_free(ws[0].w);
  free_loop(loop);
}

struct wfree_state {
  lc_wakeup *w[3];
  int calls;
};
static struct wfree_state wf;
static void wake_free_all_cb(lc_wakeup *w, void *arg) {
  (void)w, (void)arg;
  wf.calls++;
  for (int i = 0; i < 3; i++) { /* free itself and the others, which are pending too */
    B->wakeup_free(wf.w[i]);
    wf.w[i] = NULL;
  }
}
static void wakeups_free_inside_callback(void **state) {
  (void)state;
  memset(&wf, 0, sizeof wf);
  lc_loop *loop = new_loop();
  for (int i = 0; i < 3; i++)
    assert_int_equal(B->wakeup_new(loop, wake_free_all_cb, NULL, &wf.w[i]), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(B->wakeup_send(wf.w[i]), 0);
  assert_int_equal(B->run(loop, LC_RUN_DEFAULT), 0);
  assert_int_equal(wf.calls, 1);
  free_loop(loop);
}

/* A send made while the wakeup's own callback runs gives another callback: the pending flag is
 * cleared before the callback starts, not after it returns. */
static void wake_resend_cb(lc_wakeup *w, void *arg) {
  int *calls = arg;
  if (++*calls == 1) assert_int_equal(B->wakeup_send(w), 0);
}
static void wakeups_send_inside_own_callback(void **state) {
  (void)state;
  lc_loop *loop = new_loop();
  lc_wakeup *w;
  int calls = 0;
  assert_int_equal(B->wakeup_new(loop, wake_resend_cb, &calls, &w), 0);
  assert_int_equal(B->wakeup_send(w), 0);
  assert_int_equal(B->wakeup_send(w), 0); /* coalesced with the first */
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(calls, 1);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(calls, 2);
  assert_int_equal(B->run(loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(calls, 2); /* nothing pending any more */
  B->wakeup_free(w);
  free_loop(loop);
}

/* Sends that land while a wakeup callback runs, from another thread. The eventfd is
 * edge-triggered and never read (REF-10): such a send must write it again (the loop re-opened
 * the gate before the scan) or be seen by the scan itself, whatever the wakeup's place in the
 * scan. Each callback asks a helper thread for a burst of sends, to its own wakeup or to the
 * other one (already scanned or not yet), and waits inside the callback until the burst is
 * done; the loop must then run another callback. A lost send leaves the chain stuck, and the
 * watchdog stops the loop. */
enum { CHAIN_ROUNDS = 300 };
struct chain_state {
  lc_loop *loop;
  lc_wakeup *w[2];
  atomic_int request;        /* round number asked for by a callback (0: none yet) */
  atomic_int done;           /* last round whose sends have all returned */
  atomic_int quit;           /* tells the helper to exit */
  lc_wakeup *_Atomic target; /* the wakeup the requested burst goes to */
  int calls[2];
  int total;
  int stuck; /* a callback gave up waiting for the helper */
};
static struct chain_state cs;

static void *chain_helper(void *arg) {
  (void)arg;
  int served = 0;
  while (!atomic_load(&cs.quit)) {
    int r = atomic_load(&cs.request);
    if (r == served) {
      sched_yield();
      continue;
    }
    lc_wakeup *w = atomic_load(&cs.target);
    for (int i = 0; i <= r % 4; i++) /* bursts of 1 to 4 sends */
      if (B->wakeup_send(w) != 0) abort();
    served = r;
    atomic_store(&cs.done, r);
  }
  return NULL;
}
static void chain_cb(lc_wakeup *w, void *arg) {
  int me = (int)(intptr_t)arg;
  assert_ptr_equal(w, cs.w[me]);
  cs.calls[me]++;
  int r = ++cs.total;
  if (r > CHAIN_ROUNDS) {
    B->stop(cs.loop);
    return;
  }
  /* Odd rounds send to this wakeup, even rounds to the other one. */
  atomic_store(&cs.target, cs.w[r % 2 ? me : 1 - me]);
  atomic_store(&cs.request, r);
  int64_t give_up = lc_clock_ns() + (int64_t)(5000 * LC_MS * multiplier);
  while (atomic_load(&cs.done) != r) { /* the sends land while this callback runs */
    if (lc_clock_ns() > give_up) {
      cs.stuck = 1;
      B->stop(cs.loop);
      return;
    }
    sched_yield();
  }
}
static void wakeups_send_while_callback_runs(void **state) {
  (void)state;
  memset(&cs, 0, sizeof cs);
  cs.loop = new_loop();
  atomic_init(&cs.request, 0);
  atomic_init(&cs.done, 0);
  atomic_init(&cs.quit, 0);
  atomic_init(&cs.target, NULL);
  for (int i = 0; i < 2; i++)
    assert_int_equal(B->wakeup_new(cs.loop, chain_cb, (void *)(intptr_t)i, &cs.w[i]), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, chain_helper, NULL), 0);
  struct watchdog wd;
  watchdog_start(&wd, cs.loop, 5000 * LC_MS);
  assert_int_equal(B->wakeup_send(cs.w[1]), 0); /* the second in the scan starts the chain */
  assert_int_equal(B->run(cs.loop, LC_RUN_DEFAULT), 1);
  atomic_store(&cs.quit, 1);
  pthread_join(th, NULL);
  assert_int_equal(cs.stuck, 0);
  watchdog_end(&wd);
  /* One callback per burst: all of a burst's sends land before the callback that asked for
   * it returns, so they coalesce into exactly one later callback. */
  assert_int_equal(cs.total, CHAIN_ROUNDS + 1);
  assert_true(cs.calls[0] > 0 && cs.calls[1] > 0);

  /* Quiet now: after one pass to consume an event that a send may have left queued, a timer
   * wait is one poll (an eventfd left ready would wake the loop again and again). */
  assert_int_equal(B->run(cs.loop, LC_RUN_NOWAIT), 1);
  assert_int_equal(cs.total, CHAIN_ROUNDS + 1);
  struct fire_rec r = {0, 0};
  lc_timer *t;
  int64_t lo, hi;
  assert_int_equal(B->timer_new(cs.loop, fire_rec_cb, &r, &t), 0);
  start_bounded(t, 20 * LC_MS, &lo, &hi);
  poll_log_reset();
  assert_int_equal(B->run(cs.loop, LC_RUN_ONCE), 1);
  assert_int_equal(r.calls, 1);
  assert_true(r.fired_at >= lo);
  assert_int_equal(plog.calls, 1);
  assert_int_equal(cs.total, CHAIN_ROUNDS + 1);
  B->timer_free(t);
  for (int i = 0; i < 2; i++) B->wakeup_free(cs.w[i]);
  free_loop(cs.loop);
}

/* ---- stop() -------------------------------------------------------------------------------- */

struct stop_state {
  lc_loop *loop;
  int a_calls, b_calls;
  int nested_rc;
};
static struct stop_state ss;
static void stop_a_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  ss.a_calls++;
  ss.nested_rc = B->run(ss.loop, LC_RUN_NOWAIT);
  B->stop(ss.loop);
}
static void stop_b_cb(lc_timer *t, void *arg) {
  (void)t, (void)arg;
  ss.b_calls++;
}
/* stop() from a callback: the rest of the pass runs, then run() returns before polling again. */
static void stop_semantics(void **state) {
  (void)state;
  memset(&ss, 0, sizeof ss);
  ss.loop = new_loop();
  lc_timer *a, *b, *far;
  int far_calls = 0;
  assert_int_equal(B->timer_new(ss.loop, stop_a_cb, NULL, &a), 0);
  assert_int_equal(B->timer_new(ss.loop, stop_b_cb, NULL, &b), 0);
  assert_int_equal(B->timer_new(ss.loop, count_cb, &far_calls, &far), 0);
  assert_int_equal(B->timer_start(far, 10000 * LC_MS, 0), 0);
  assert_int_equal(B->timer_start(a, 0, 0), 0);
  assert_int_equal(B->timer_start(b, 0, 0), 0);
  sleep_ns(1 * LC_MS);
  assert_int_equal(B->run(ss.loop, LC_RUN_DEFAULT), 1); /* far is still armed */
  assert_int_equal(ss.nested_rc, -EBUSY);
  assert_int_equal(ss.a_calls, 1);
  assert_int_equal(ss.b_calls, 1);

  /* stop() outside run(): the next run() returns at once, the one after runs normally. */
  B->stop(ss.loop);
  assert_int_equal(B->timer_start(b, 0, 0), 0);
  assert_int_equal(B->run(ss.loop, LC_RUN_DEFAULT), 1);
  assert_int_equal(ss.b_calls, 1);
  assert_int_equal(B->run(ss.loop, LC_RUN_ONCE), 1);
  assert_int_equal(ss.b_calls, 2);
  B->timer_free(a);
  B->timer_free(b);
  B->timer_free(far);
  assert_int_equal(far_calls, 0);
  free_loop(ss.loop);
}

/* ---- Main ---------------------------------------------------------------------------------- */

/* reference_unit [PATTERN]: run every test, or those whose names match PATTERN (cmocka's
 * wildcards: * and ?). */
int main(int argc, char **argv) {
  if (argc > 2 || (argc == 2 && !argv[1][0])) {
    fprintf(stderr, "usage: reference_unit [TEST-NAME-PATTERN]\n");
    return 2;
  }
  const char *m = getenv("LOOPCONF_TIME_MULTIPLIER");
  if (m && *m) {
    char *end;
    multiplier = strtod(m, &end);
    if (*end || !isfinite(multiplier) || multiplier < 1.0) {
      fprintf(stderr, "reference_unit: LOOPCONF_TIME_MULTIPLIER must be a number >= 1, got '%s'\n",
              m);
      return 2;
    }
  }
  B = loopconf_backend();
  if (!B || B->abi_version != LC_BACKEND_ABI_VERSION) {
    fprintf(stderr, "reference_unit: backend table missing or wrong ABI version\n");
    return 2;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(heap_matches_model),
      cmocka_unit_test(heap_equal_deadline_order),
      cmocka_unit_test(next_deadline_rule),
      cmocka_unit_test(run_returns_and_busy),
      cmocka_unit_test(timers_100k_order),
      cmocka_unit_test_teardown(timers_churn, guard_teardown),
      cmocka_unit_test(timers_due_pass_semantics),
      cmocka_unit_test(timers_restart_while_due),
      cmocka_unit_test(timers_never_early_after_long_callback),
      cmocka_unit_test(timers_repeat_phase_and_catch_up),
      cmocka_unit_test_teardown(timers_stale_entries_do_not_disturb_near, guard_teardown),
      cmocka_unit_test_teardown(timers_restart_stale_top, guard_teardown),
      cmocka_unit_test_teardown(timers_stop_then_free_many, guard_teardown),
      cmocka_unit_test_teardown(timers_update_time_inside_pass, guard_teardown),
      cmocka_unit_test(zero_delay_rearm_does_not_starve_io),
      cmocka_unit_test(io_basics),
      cmocka_unit_test(io_free_and_stop_inside_pass),
      cmocka_unit_test(io_closed_fd),
      cmocka_unit_test(wakeups_coalesce_and_follow_last_send),
      cmocka_unit_test(wakeups_free_inside_callback),
      cmocka_unit_test(wakeups_send_inside_own_callback),
      cmocka_unit_test_teardown(wakeups_send_while_callback_runs, guard_teardown),
      cmocka_unit_test(stop_semantics),
  };
  if (argc == 2) { /* a pattern that selects nothing is a mistake, not a pass */
    size_t matched = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
      matched += fnmatch(argv[1], tests[i].name, 0) == 0;
    if (!matched) {
      fprintf(stderr, "reference_unit: no test name matches '%s'\n", argv[1]);
      return 2;
    }
    cmocka_set_test_filter(argv[1]);
  }
  return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
