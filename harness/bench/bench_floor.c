/* bench_floor.c: backend-independent benchmarks: the kernel floor for ping-pong and the bare
 * coroutine switch of both implementations. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_suite.h"
#include "coro.h"

/* ---- floor.pingpong/pairs:P: loop.pingpong with bare syscalls -------------------------- */

/* The same traffic as loop.pingpong (one byte in flight on each of P socketpairs, the A end
 * counts a round trip and sends again), driven by write + epoll_wait(timeout 0) + read with no
 * loop library: what the kernel allows, so each loop's figure reads as a fraction of it. */
static void bm_floor_pingpong(lcbench_state *st, void *arg) {
  (void)arg;
  int64_t pairs = lcbench_arg(st);
  int *fds = malloc((size_t)pairs * 2 * sizeof *fds);
  struct epoll_event *evs = malloc((size_t)pairs * 2 * sizeof *evs);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int64_t made = 0;
  int rc = (fds && evs && ep >= 0) ? 0 : -ENOMEM;
  if (ep < 0 && fds && evs) rc = -errno;
  for (int64_t p = 0; rc == 0 && p < pairs; p++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
      rc = -errno;
      break;
    }
    for (int k = 0; k < 2; k++) {
      fds[made] = sv[k];
      struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)made};
      made++;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, sv[k], &ev) < 0) rc = -errno;
    }
  }
  int64_t done = 0, launched = 0, target = 0;
  if (rc == 0) {
    int64_t n;
    while (rc == 0 && lcbench_next_batch(st, &n)) {
      target += n * pairs;
      for (int64_t p = 0; p < pairs && rc == 0; p++) {
        launched++;
        if (write(fds[2 * p], "x", 1) != 1) rc = -errno;
      }
      while (rc == 0 && done < target) {
        int nev = epoll_wait(ep, evs, (int)(pairs * 2), 0);
        if (nev < 0) {
          if (errno != EINTR) rc = -errno;
          continue;
        }
        for (int i = 0; i < nev && rc == 0; i++) {
          int64_t idx = (int64_t)evs[i].data.u64;
          char c;
          ssize_t r = read(fds[idx], &c, 1);
          if (r != 1) {
            if (r < 0 && errno == EAGAIN) continue;
            rc = r < 0 ? -errno : -EPIPE;
            break;
          }
          if (idx % 2 == 0) { /* an A end: one round trip done */
            done++;
            if (launched >= target) continue;
            launched++;
          }
          if (write(fds[idx], &c, 1) != 1) rc = -errno;
        }
      }
    }
  }
  if (rc < 0) lcbench_fail(st, "floor ping-pong: %s", strerror(-rc));
  else lcbench_set_items(st, done);
  for (int64_t i = 0; i < made; i++) close(fds[i]);
  if (ep >= 0) close(ep);
  free(fds);
  free(evs);
}

/* ---- coro.switch_asm, coro.switch_ucontext: lc_coro_switch alone ----------------------- */

struct coro_pair {
  lc_coro *main, *co;
};

static void coro_bounce(void *arg) {
  struct coro_pair *cp = arg;
  for (;;) lc_coro_switch(cp->co, cp->main); /* never returns; freed while suspended */
}

static void bm_coro_switch(lcbench_state *st, void *arg) {
  enum lc_coro_impl impl = (enum lc_coro_impl)(intptr_t)arg;
  struct coro_pair cp = {.main = lc_coro_main()};
  cp.co = cp.main ? lc_coro_new(coro_bounce, &cp, 64 * 1024, impl) : NULL;
  if (!cp.co) {
    lcbench_fail(st, "lc_coro_new: %s", strerror(errno));
    return;
  }
  int64_t n;
  while (lcbench_next_batch(st, &n))
    for (int64_t i = 0; i < n; i++) lc_coro_switch(cp.main, cp.co); /* there and back */
  lcbench_set_items(st, 2 * lcbench_iterations(st));                /* items are single switches */
  lc_coro_free(cp.co);
  lc_coro_pool_trim();
}

/* ---- Registration ---------------------------------------------------------------------- */

void bench_floor_register(void) {
  static const int64_t pairs[] = {1, 100};
  lcbench_register(&(lcbench_spec){.name = "floor.pingpong",
                                   .fn = bm_floor_pingpong,
                                   .arg_name = "pairs",
                                   .args = pairs,
                                   .nargs = 2,
                                   .unit = 'u',
                                   .batch_max = 1000});
}

void bench_coro_register(void) {
  if (lc_coro_asm_available())
    lcbench_register(&(lcbench_spec){.name = "coro.switch_asm",
                                     .fn = bm_coro_switch,
                                     .arg = (void *)(intptr_t)LC_CORO_ASM,
                                     .batch_max = 100000,
                                     .deterministic = 1,
                                     .cg_iterations = 100000});
  lcbench_register(&(lcbench_spec){.name = "coro.switch_ucontext",
                                   .fn = bm_coro_switch,
                                   .arg = (void *)(intptr_t)LC_CORO_UCONTEXT,
                                   .batch_max = 100000,
                                   .deterministic = 1,
                                   .cg_iterations = 100000});
}
