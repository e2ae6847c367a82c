/* loop_io.c: loop-contract tests for I/O readiness watchers: readiness, stopping, fd misuse.
 *
 * Every test is one body run on every backend with io_* operations (SKIP otherwise). Sockets
 * are AF_UNIX socketpairs: writable at once, readable exactly when the peer has written.
 * Misuse scenarios (closing a watched fd, two watchers on one fd) run in a forked child with a
 * time limit, so a backend that aborts or spins is recorded instead of taking the cell down.
 */
#include "lc_test.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void make_pair(lc_ctx *ctx, int sv[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    lc_fail(ctx, "socketpair: %s", strerror(errno));
}

/* ==========================================================================================
 * loop.io.readiness: on a socketpair (a, b):
 *   - a watched for WRITABLE gets a callback with LC_WRITABLE in the first iteration;
 *   - b watched for READABLE gets no callback while nothing was written (3 NOWAIT runs and a
 *     20 ms run);
 *   - after one byte is written to a, b gets LC_READABLE, and, level-triggered, again in the
 *     following iterations while the byte stays unread (3 callbacks, then it reads and stops).
 * ======================================================================================== */

struct rd_state {
  lc_ctx *ctx;
  lc_timer *guard;
  lc_io *r;
  int w_count, r_count;
  unsigned w_revents, r_revents;
  int read_failed;
};

static void rd_writable_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct rd_state *st = arg;
  (void)fd;
  st->w_count++;
  st->w_revents |= revents;
  st->ctx->b->io_stop(io);
}
static void rd_readable_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct rd_state *st = arg;
  st->r_count++;
  st->r_revents |= revents;
  if (st->r_count < 3) return; /* leave the byte unread: level-triggered means called again */
  char c;
  if (read(fd, &c, 1) != 1) st->read_failed = 1;
  st->ctx->b->io_stop(io);
  st->ctx->b->timer_stop(st->guard);
}
/* Ends a run by stopping the readable watcher, the only other handle: the loop is then idle
 * and run() returns without relying on stop() (not what this test checks). */
static void rd_guard_cb(lc_timer *t, void *arg) {
  struct rd_state *st = arg;
  (void)t;
  st->ctx->b->io_stop(st->r);
}

LC_TEST(loop_io_readiness, "loop.io.readiness",
        "LOOP-IO-WRITABLE LOOP-IO-READABLE LOOP-IO-NOT-READABLE LOOP-IO-LEVEL", LC_NEEDS_IO, 5000) {
  const struct lc_backend *b = ctx->b;
  struct rd_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  int sv[2];
  make_pair(ctx, sv);
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_io *w, *r;
  lc_assert_ok(ctx, b->timer_new(loop, rd_guard_cb, &st, &st.guard));
  lc_assert_ok(ctx, b->io_new(loop, sv[0], rd_writable_cb, &st, &w));
  lc_assert_ok(ctx, b->io_new(loop, sv[1], rd_readable_cb, &st, &r));
  st.r = r;

  /* Writable at once: one blocking iteration must deliver it (the guard bounds a miss). */
  lc_assert_ok(ctx, b->timer_start(st.guard, 1000 * LC_MS, 0));
  lc_assert_ok(ctx, b->io_start(w, LC_WRITABLE));
  b->run(loop, LC_RUN_ONCE);
  if (st.w_count != 1)
    lc_fail(ctx, "a writable socket got %d callbacks in the first iteration", st.w_count);
  if (!(st.w_revents & LC_WRITABLE))
    lc_fail(ctx, "writable callback revents 0x%x lack LC_WRITABLE", st.w_revents);

  /* Not readable before the peer writes. */
  lc_assert_ok(ctx, b->io_start(r, LC_READABLE));
  if (b->caps & LC_CAP_NOWAIT) /* without it, the 20 ms run below is the only poll */
    for (int i = 0; i < 3; i++) b->run(loop, LC_RUN_NOWAIT);
  lc_assert_ok(ctx, b->timer_stop(st.guard)); /* re-armed without relying on a restart */
  lc_assert_ok(ctx, b->timer_start(st.guard, 20 * LC_MS, 0));
  b->run(loop, LC_RUN_DEFAULT); /* the guard stops the watcher: the loop is idle, run() returns */
  if (st.r_count != 0)
    lc_fail(ctx, "a socket nobody wrote to got %d readable callbacks (revents 0x%x)", st.r_count,
            st.r_revents);
  lc_assert_ok(ctx, b->io_start(r, LC_READABLE));

  /* Readable after the write, level-triggered. */
  if (write(sv[0], "x", 1) != 1) lc_fail(ctx, "write: %s", strerror(errno));
  lc_assert_ok(ctx, b->timer_stop(st.guard));
  lc_assert_ok(ctx, b->timer_start(st.guard, 1000 * LC_MS, 0));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  if (st.r_count == 0) lc_fail(ctx, "no readable callback within 1 s of the peer's write");
  if (st.r_count < 3)
    lc_fail(ctx,
            "an unread readable socket got %d callback(s) in 1 s, then none: not "
            "level-triggered",
            st.r_count);
  if (!(st.r_revents & LC_READABLE))
    lc_fail(ctx, "readable callback revents 0x%x lack LC_READABLE", st.r_revents);
  if (st.read_failed) lc_fail(ctx, "the readable callback could not read the byte");
  assert_int_equal(rc, 0);

  b->io_free(w);
  b->io_free(r);
  b->timer_free(st.guard);
  lc_loop_free_or_fail(ctx, loop);
  close(sv[0]);
  close(sv[1]);
}

/* ==========================================================================================
 * loop.io.stop_in_callback: a watcher on an always-writable socket stops itself in its first
 * callback, another frees itself in its first callback; neither runs again (a 20 ms window,
 * i.e. thousands of iterations for a level-triggered backend that ignored the stop).
 * ======================================================================================== */

struct iself_state {
  lc_ctx *ctx;
  lc_io *stopper;
  int stop_count, free_count;
  int stop_rc;
};

static void iself_stop_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct iself_state *st = arg;
  (void)fd;
  (void)revents;
  st->stop_count++;
  st->stop_rc = st->ctx->b->io_stop(io);
}
static void iself_free_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct iself_state *st = arg;
  (void)fd;
  (void)revents;
  st->free_count++;
  st->ctx->b->io_free(io);
}
/* Ends the run even if a stop was ignored (the counts show it). */
static void iself_guard_cb(lc_timer *t, void *arg) {
  struct iself_state *st = arg;
  (void)t;
  st->ctx->b->io_stop(st->stopper);
}

LC_TEST(loop_io_stop_in_callback, "loop.io.stop_in_callback", "LOOP-IO-STOP-SELF", LC_NEEDS_IO,
        5000) {
  const struct lc_backend *b = ctx->b;
  struct iself_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  int s1[2], s2[2];
  make_pair(ctx, s1);
  make_pair(ctx, s2);
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_io *freer;
  lc_timer *guard;
  lc_assert_ok(ctx, b->io_new(loop, s1[0], iself_stop_cb, &st, &st.stopper));
  lc_assert_ok(ctx, b->io_new(loop, s2[0], iself_free_cb, &st, &freer));
  lc_assert_ok(ctx, b->timer_new(loop, iself_guard_cb, &st, &guard));
  lc_assert_ok(ctx, b->io_start(st.stopper, LC_WRITABLE));
  lc_assert_ok(ctx, b->io_start(freer, LC_WRITABLE));
  lc_assert_ok(ctx, b->timer_start(guard, 20 * LC_MS, 0));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  assert_int_equal(rc, 0);
  assert_int_equal(st.stop_rc, 0);
  if (st.stop_count != 1)
    lc_fail(ctx, "a watcher that stopped itself in its callback ran %d times", st.stop_count);
  if (st.free_count != 1)
    lc_fail(ctx, "a watcher that freed itself in its callback ran %d times", st.free_count);
  b->io_free(st.stopper);
  b->timer_free(guard);
  lc_loop_free_or_fail(ctx, loop);
  for (int i = 0; i < 2; i++) {
    close(s1[i]);
    close(s2[i]);
  }
}

/* ==========================================================================================
 * loop.io.stop_same_pass: two always-writable sockets are reported ready by the same poll;
 * each callback stops the other watcher (and itself). Exactly one callback may run: the
 * stopped watcher must not be called although the poll already reported its fd.
 * ======================================================================================== */

struct isame_state {
  lc_ctx *ctx;
  lc_io *w[2];
  int count[2];
};
struct isame_watcher {
  struct isame_state *st;
  int idx;
};

static void isame_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct isame_watcher *me = arg;
  (void)fd;
  (void)revents;
  me->st->count[me->idx]++;
  me->st->ctx->b->io_stop(me->st->w[1 - me->idx]);
  me->st->ctx->b->io_stop(io);
}

LC_TEST(loop_io_stop_same_pass, "loop.io.stop_same_pass", "LOOP-IO-STOP-SAME-PASS", LC_NEEDS_IO,
        5000) {
  const struct lc_backend *b = ctx->b;
  struct isame_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  struct isame_watcher me[2] = {{&st, 0}, {&st, 1}};
  int s[2][2];
  make_pair(ctx, s[0]);
  make_pair(ctx, s[1]);
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  for (int i = 0; i < 2; i++)
    lc_assert_ok(ctx, b->io_new(loop, s[i][0], isame_cb, &me[i], &st.w[i]));
  for (int i = 0; i < 2; i++) lc_assert_ok(ctx, b->io_start(st.w[i], LC_WRITABLE));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  assert_int_equal(rc, 0);
  if (st.count[0] + st.count[1] != 1)
    lc_fail(ctx,
            "watcher A ran %d time(s), watcher B %d: a watcher stopped by another callback "
            "of the same poll still ran",
            st.count[0], st.count[1]);
  for (int i = 0; i < 2; i++) {
    b->io_free(st.w[i]);
    close(s[i][0]);
    close(s[i][1]);
  }
  lc_loop_free_or_fail(ctx, loop);
}

/* ---- Isolation for misuse scenarios ------------------------------------------------------
 * The scenario runs in a forked child on a loop of its own and writes one line of outcome to
 * a pipe; the parent waits at most `limit_ns`, then kills it. The child never touches cmocka. */

enum iso_kind { ISO_DONE, ISO_CRASH, ISO_HANG, ISO_ERROR };

struct iso_result {
  enum iso_kind kind;
  char text[200]; /* the scenario's outcome line, or the signal / error */
};

typedef void (*iso_fn)(const struct lc_backend *b, char *out, size_t outlen);

static void iso_run(lc_ctx *ctx, iso_fn fn, int64_t limit_ns, struct iso_result *res) {
  int p[2];
  memset(res, 0, sizeof *res);
  if (pipe(p) != 0) lc_fail(ctx, "pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) lc_fail(ctx, "fork: %s", strerror(errno));
  if (pid == 0) {
    char out[200] = "";
    close(p[0]);
    fn(ctx->b, out, sizeof out);
    ssize_t n = write(p[1], out, strlen(out));
    _exit(n < 0 ? 3 : 0);
  }
  close(p[1]);
  size_t got = 0;
  int64_t deadline = lc_clock_ns() + limit_ns;
  int hung = 0;
  for (;;) {
    int64_t left = deadline - lc_clock_ns();
    if (left <= 0) {
      hung = 1;
      break;
    }
    struct pollfd pfd = {p[0], POLLIN, 0};
    int r = poll(&pfd, 1, (int)(left / 1000000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    ssize_t n = read(p[0], res->text + got, sizeof res->text - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* EOF: the child exited or died */
    got += (size_t)n;
    if (got >= sizeof res->text - 1) break;
  }
  close(p[0]);
  if (hung) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (hung) {
    res->kind = ISO_HANG;
    snprintf(res->text, sizeof res->text, "no result within %lld ms (killed)",
             (long long)(limit_ns / 1000000));
  } else if (WIFSIGNALED(status)) {
    res->kind = ISO_CRASH;
    snprintf(res->text, sizeof res->text, "crash (%s)",
             sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "signal");
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got == 0) {
    res->kind = ISO_ERROR;
    snprintf(res->text, sizeof res->text, "child exited with status %d and no outcome",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  } else {
    res->kind = ISO_DONE;
    res->text[got] = '\0';
  }
}

/* Shared by the child scenarios: counts callbacks and their revents. */
struct iso_state {
  const struct lc_backend *b;
  lc_loop *loop;
  lc_timer *guard;
  lc_io *w[2];
  int count[2];
  unsigned revents[2];
};

static void iso_io_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct iso_state *st = arg;
  int i = io == st->w[0] ? 0 : 1;
  (void)fd;
  st->count[i]++;
  st->revents[i] |= revents;
  st->b->io_stop(io); /* one report per watcher is enough, and keeps an error from spinning */
  if ((!st->w[0] || st->count[0]) && (!st->w[1] || st->count[1])) st->b->timer_stop(st->guard);
}
static void iso_guard_cb(lc_timer *t, void *arg) {
  struct iso_state *st = arg;
  (void)t;
  for (int i = 0; i < 2; i++)
    if (st->w[i]) st->b->io_stop(st->w[i]);
}

static const char *revents_str(unsigned ev, char *buf, size_t len) {
  snprintf(buf, len, "%s%s%s%s", ev & LC_READABLE ? "R" : "", ev & LC_WRITABLE ? "W" : "",
           ev & LC_IO_ERROR ? "E" : "", ev ? "" : "-");
  return buf;
}

/* Close a watched fd (registered = after one NOWAIT iteration, or ONCE with a due timer where
 * there is no NOWAIT; or before the first poll), make
 * the peer hang up, then run 50 ms. */
static void close_scenario(const struct lc_backend *b, char *out, size_t outlen, int registered) {
  struct iso_state st;
  memset(&st, 0, sizeof st);
  st.b = b;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0 ||
      b->loop_new(&st.loop) != 0 || b->timer_new(st.loop, iso_guard_cb, &st, &st.guard) != 0 ||
      b->io_new(st.loop, sv[0], iso_io_cb, &st, &st.w[0]) != 0) {
    snprintf(out, outlen, "setup failed");
    return;
  }
  /* Each step names itself if it fails: the setup steps happen before the misuse, so their
   * failure is the backend's, not a characteristic. */
  const char *step = "io_start";
  int rc = b->io_start(st.w[0], LC_READABLE);
  if (rc == 0 && registered && (b->caps & LC_CAP_NOWAIT)) {
    step = "run(LC_RUN_NOWAIT) before the close";
    rc = b->run(st.loop, LC_RUN_NOWAIT);
    if (rc > 0) rc = 0;
  } else if (rc == 0 && registered) { /* no NOWAIT: one iteration ended by a due timer */
    step = "run(LC_RUN_ONCE) with a zero timer before the close";
    rc = b->timer_start(st.guard, 0, 0);
    if (rc == 0) rc = b->run(st.loop, LC_RUN_ONCE);
    if (rc > 0) rc = 0;
  }
  close(sv[0]);
  close(sv[1]); /* the peer hangs up too: anything still polling sv[0] would see it */
  int run_rc = 0;
  if (rc == 0) {
    b->timer_start(st.guard, 50 * LC_MS, 0);
    run_rc = b->run(st.loop, LC_RUN_DEFAULT);
  }
  char ev[8];
  if (rc != 0) snprintf(out, outlen, "setup failed: %s returned %d", step, rc);
  else if (run_rc < 0) snprintf(out, outlen, "run() returned %d", run_rc);
  else if (st.count[0])
    snprintf(out, outlen, "callback (revents %s)", revents_str(st.revents[0], ev, sizeof ev));
  else snprintf(out, outlen, "silence");
  b->io_free(st.w[0]);
  b->timer_free(st.guard);
  b->loop_free(st.loop);
}
static void close_registered(const struct lc_backend *b, char *out, size_t outlen) {
  close_scenario(b, out, outlen, 1);
}
static void close_unpolled(const struct lc_backend *b, char *out, size_t outlen) {
  close_scenario(b, out, outlen, 0);
}

/* ==========================================================================================
 * loop.io.close_watched_fd (characteristic): the caller closes an fd while its watcher is
 * active (a contract violation on the caller's side, backend.h io_new), once after the loop
 * has polled it and once before the first poll. Recorded: silence, a callback (with revents),
 * an error from run(), or a crash. The test fails if run() does not return within 2 s
 * (x multiplier) although a 50 ms timer was due (the backend spins or blocks), or if a step
 * before the close fails (named in the reason: that is the backend failing, not a trait).
 * ======================================================================================== */

LC_TEST(loop_io_close_watched_fd, "loop.io.close_watched_fd", "LOOP-CHAR-CLOSE-WATCHED",
        LC_NEEDS_IO, 10000) {
  struct iso_result reg, unp;
  iso_run(ctx, close_registered, lc_tol_ns(ctx, 2000 * LC_MS), &reg);
  iso_run(ctx, close_unpolled, lc_tol_ns(ctx, 2000 * LC_MS), &unp);
  lc_characteristic(ctx, "close-watched-fd", "after a poll: %s; before the first poll: %s",
                    reg.text, unp.text);
  if (reg.kind == ISO_HANG || reg.kind == ISO_ERROR || strncmp(reg.text, "setup failed", 12) == 0)
    lc_fail(ctx, "closing a polled watched fd: %s", reg.text);
  if (unp.kind == ISO_HANG || unp.kind == ISO_ERROR || strncmp(unp.text, "setup failed", 12) == 0)
    lc_fail(ctx, "closing a watched fd before the first poll: %s", unp.text);
}

/* Two watchers for READABLE on one readable socket. */
static void shared_scenario(const struct lc_backend *b, char *out, size_t outlen) {
  struct iso_state st;
  memset(&st, 0, sizeof st);
  st.b = b;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0 ||
      write(sv[1], "x", 1) != 1 || b->loop_new(&st.loop) != 0 ||
      b->timer_new(st.loop, iso_guard_cb, &st, &st.guard) != 0 ||
      b->io_new(st.loop, sv[0], iso_io_cb, &st, &st.w[0]) != 0 ||
      b->io_start(st.w[0], LC_READABLE) != 0) {
    snprintf(out, outlen, "setup failed");
    return;
  }
  int rc = b->io_new(st.loop, sv[0], iso_io_cb, &st, &st.w[1]);
  if (rc != 0) {
    st.w[1] = NULL;
    snprintf(out, outlen, "refused: io_new %s", lc_strerr(rc));
  } else if ((rc = b->io_start(st.w[1], LC_READABLE)) != 0) {
    snprintf(out, outlen, "refused: io_start %s", lc_strerr(rc));
  } else {
    b->timer_start(st.guard, 200 * LC_MS, 0);
    int run_rc = b->run(st.loop, LC_RUN_DEFAULT);
    if (run_rc < 0) snprintf(out, outlen, "run() returned %d", run_rc);
    else if (st.count[0] && st.count[1]) snprintf(out, outlen, "both called");
    else if (st.count[0] || st.count[1])
      snprintf(out, outlen, "only the %s watcher called", st.count[0] ? "first" : "second");
    else snprintf(out, outlen, "neither called");
  }
  b->io_free(st.w[0]);
  if (st.w[1]) b->io_free(st.w[1]);
  b->timer_free(st.guard);
  b->loop_free(st.loop);
  close(sv[0]);
  close(sv[1]);
}

/* ==========================================================================================
 * loop.io.shared_fd (characteristic): a second watcher on an fd that already has an active
 * one. Allowed: the backend refuses it with an error, or accepts it and calls both. Fails if
 * it accepts the watcher and then calls only one of them (an event silently lost), or crashes
 * or spins.
 * ======================================================================================== */

LC_TEST(loop_io_shared_fd, "loop.io.shared_fd", "LOOP-IO-SHARED-FD LOOP-CHAR-SHARED-FD",
        LC_NEEDS_IO, 10000) {
  struct iso_result res;
  iso_run(ctx, shared_scenario, lc_tol_ns(ctx, 2000 * LC_MS), &res);
  lc_characteristic(ctx, "shared-fd", "%s", res.text);
  if (res.kind != ISO_DONE) lc_fail(ctx, "two watchers on one fd: %s", res.text);
  if (strncmp(res.text, "refused", 7) != 0 && strcmp(res.text, "both called") != 0)
    lc_fail(ctx, "two watchers on one readable fd were both accepted, then: %s", res.text);
}
