/* example_poll.c: a small poll(2) event loop implementing the loopconf backend contract out of tree. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <loopconf/backend.h>
#include <loopconf/clock.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Costs, written down (n = armed timers):
 *   timer_start, timer_stop  O(log n): a binary min-heap of pointers ordered by (deadline,
 *                start order); each timer knows its index, so stop removes in place.
 *                (A sorted array with memmove was O(n) per start: 100,000 starts took
 *                seconds, and 20x that under AddressSanitizer, whose memmove is bytewise.)
 *   firing a timer           O(log n) (pop the heap's minimum)
 *   one iteration            O(watchers + wakeups + due timers) plus one poll(2); the pollfd
 *                array is rebuilt every iteration and grows as needed.
 * A heap would make starts O(log n), epoll would make iterations O(ready fds). */

/* ---- Intrusive doubly linked lists -------------------------------------------------------- */

struct link {
  struct link *prev, *next;
};

static void list_init(struct link *head) { head->prev = head->next = head; }

static bool list_empty(const struct link *head) { return head->next == head; }

static void list_insert_before(struct link *pos, struct link *node) {
  node->prev = pos->prev;
  node->next = pos;
  pos->prev->next = node;
  pos->prev = node;
}

static void list_unlink(struct link *node) {
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = node->next = node;
}

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- Types -------------------------------------------------------------------------------- */

struct lc_loop {
  lc_timer **timers; /* armed timers, sorted by (deadline, seq) descending: next is last */
  size_t n_armed, cap_armed;
  uint64_t next_seq;       /* start counter: equal deadlines fire in start order */
  struct link due;         /* timers taken off `timers` in this iteration, waiting to run */
  struct link ios;         /* started io watchers */
  struct link ready_ios;   /* watchers poll reported in this iteration, waiting to run */
  struct link wakeups;     /* all wakeups */
  struct link ready_wakes; /* wakeups sent, waiting to run */
  int64_t now;             /* cached time of the iteration, ns */
  int pipe_r, pipe_w;      /* self-pipe: any thread writes a byte, poll sees pipe_r readable */
  struct pollfd *fds;      /* scratch for poll(2); fds[0] is pipe_r */
  lc_io **fd_owner;        /* fd_owner[i] is the watcher of fds[i], i >= 1 */
  size_t fds_cap;
  int n_ios, n_wakeups; /* started watchers and wakeups: with the timers, keep run() going */
  int live;             /* handles not yet freed */
  bool running, stop;
};

enum timer_state { TIMER_IDLE, TIMER_ARMED, TIMER_DUE };

struct lc_timer {
  struct link node; /* in loop->due while TIMER_DUE */
  lc_loop *loop;
  lc_timer_cb cb;
  void *arg;
  int64_t deadline, repeat;
  uint64_t seq;           /* start order, the tie-breaker */
  size_t heap_idx;        /* index in loop->timers while TIMER_ARMED */
  enum timer_state state; /* ARMED: in loop->timers; DUE: in loop->due */
};

struct lc_io {
  struct link node;  /* in loop->ios while started */
  struct link ready; /* in loop->ready_ios while a callback is owed */
  lc_loop *loop;
  int fd;
  unsigned events, revents;
  lc_io_cb cb;
  void *arg;
};

struct lc_wakeup {
  struct link node;  /* in loop->wakeups */
  struct link ready; /* in loop->ready_wakes while a callback is owed */
  lc_loop *loop;
  atomic_int pending; /* set by wakeup_send from any thread */
  lc_wakeup_cb cb;
  void *arg;
};

/* a + b for b >= 0, saturating at INT64_MAX: "never" rather than overflow. */
static int64_t add_sat(int64_t a, int64_t b) { return b > INT64_MAX - a ? INT64_MAX : a + b; }

static int set_flags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
    return -errno;
  return 0;
}

/* ---- Version and loop --------------------------------------------------------------------- */

static const char *ex_version(void) { return "example-poll 1.0"; }

static int ex_loop_new(lc_loop **out) {
  lc_loop *loop = calloc(1, sizeof *loop);
  if (loop == NULL) return -ENOMEM;
  int p[2];
  if (pipe(p) < 0) {
    int err = -errno;
    free(loop);
    return err;
  }
  int err = set_flags(p[0]);
  if (err == 0) err = set_flags(p[1]);
  if (err < 0) {
    close(p[0]);
    close(p[1]);
    free(loop);
    return err;
  }
  loop->pipe_r = p[0];
  loop->pipe_w = p[1];
  list_init(&loop->due);
  list_init(&loop->ios);
  list_init(&loop->ready_ios);
  list_init(&loop->wakeups);
  list_init(&loop->ready_wakes);
  loop->now = lc_clock_ns();
  *out = loop;
  return 0;
}

static int ex_loop_free(lc_loop *loop) {
  if (loop->live > 0) return -EBUSY;
  close(loop->pipe_r);
  close(loop->pipe_w);
  free(loop->timers);
  free(loop->fds);
  free(loop->fd_owner);
  free(loop);
  return 0;
}

static int64_t ex_now(lc_loop *loop) { return loop->now; }

static void ex_update_time(lc_loop *loop) { loop->now = lc_clock_ns(); }

/* ---- Timers ------------------------------------------------------------------------------- */

/* true if a fires after b: later deadline, or the same deadline and started later. */
static bool fires_after(const lc_timer *a, const lc_timer *b) {
  return a->deadline != b->deadline ? a->deadline > b->deadline : a->seq > b->seq;
}

/* loop->timers is a binary min-heap: timers[0] fires first; a parent never fires after its
 * children. */
static void heap_set(lc_loop *loop, size_t i, lc_timer *t) {
  loop->timers[i] = t;
  t->heap_idx = i;
}

static void heap_sift_up(lc_loop *loop, size_t i) {
  lc_timer *t = loop->timers[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!fires_after(loop->timers[parent], t)) break;
    heap_set(loop, i, loop->timers[parent]);
    i = parent;
  }
  heap_set(loop, i, t);
}

static void heap_sift_down(lc_loop *loop, size_t i) {
  lc_timer *t = loop->timers[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= loop->n_armed) break;
    if (child + 1 < loop->n_armed && fires_after(loop->timers[child], loop->timers[child + 1]))
      child++;
    if (!fires_after(t, loop->timers[child])) break;
    heap_set(loop, i, loop->timers[child]);
    i = child;
  }
  heap_set(loop, i, t);
}

/* Take the timer at index i out of the heap. */
static void heap_remove(lc_loop *loop, size_t i) {
  lc_timer *last = loop->timers[--loop->n_armed];
  if (i == loop->n_armed) return;
  heap_set(loop, i, last);
  heap_sift_down(loop, i);
  heap_sift_up(loop, last->heap_idx);
}

/* The array never shrinks, so timers that were armed can always be re-armed without growing. */
static int armed_reserve(lc_loop *loop) {
  if (loop->n_armed < loop->cap_armed) return 0;
  size_t cap = loop->cap_armed ? 2 * loop->cap_armed : 16;
  lc_timer **timers = realloc(loop->timers, cap * sizeof *timers);
  if (timers == NULL) return -ENOMEM;
  loop->timers = timers;
  loop->cap_armed = cap;
  return 0;
}

static void armed_insert(lc_timer *timer) {
  lc_loop *loop = timer->loop;
  heap_set(loop, loop->n_armed++, timer);
  heap_sift_up(loop, timer->heap_idx);
  timer->state = TIMER_ARMED;
}

static void timer_deactivate(lc_timer *timer) {
  lc_loop *loop = timer->loop;
  if (timer->state == TIMER_ARMED) {
    heap_remove(loop, timer->heap_idx);
  } else if (timer->state == TIMER_DUE) {
    list_unlink(&timer->node);
  }
  timer->state = TIMER_IDLE;
}

static int ex_timer_new(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out) {
  lc_timer *timer = calloc(1, sizeof *timer);
  if (timer == NULL) return -ENOMEM;
  list_init(&timer->node);
  timer->loop = loop;
  timer->cb = cb;
  timer->arg = arg;
  loop->live++;
  *out = timer;
  return 0;
}

/* The delay counts from a fresh clock reading, so a timer never fires early relative to the
 * caller's clock, however stale the cached time is. Re-arming replaces the old deadline. */
static int ex_timer_start(lc_timer *timer, int64_t delay_ns, int64_t repeat_ns) {
  if (delay_ns < 0 || repeat_ns < 0) return -EINVAL;
  lc_loop *loop = timer->loop;
  int err = armed_reserve(loop);
  if (err < 0) return err;
  timer_deactivate(timer);
  timer->deadline = add_sat(lc_clock_ns(), delay_ns);
  timer->repeat = repeat_ns;
  timer->seq = loop->next_seq++;
  armed_insert(timer);
  return 0;
}

static int ex_timer_stop(lc_timer *timer) {
  timer_deactivate(timer);
  return 0;
}

static void ex_timer_free(lc_timer *timer) {
  timer_deactivate(timer);
  timer->loop->live--;
  free(timer);
}

/* Move every timer due at `now` to the due list, then run them one by one from its head: a
 * callback may stop, free or re-arm any timer, which takes it out of the array or the due list.
 * A timer re-armed (even with delay 0) goes back to the heap and waits for the next
 * iteration, so a zero-delay re-arm cannot spin inside one iteration. */
static void run_timers(lc_loop *loop) {
  while (loop->n_armed > 0 && loop->timers[0]->deadline <= loop->now) {
    lc_timer *timer = loop->timers[0]; /* in (deadline, start order) order */
    heap_remove(loop, 0);
    timer->state = TIMER_DUE;
    list_insert_before(&loop->due, &timer->node);
  }
  while (!list_empty(&loop->due)) {
    lc_timer *timer = CONTAINER_OF(loop->due.next, lc_timer, node);
    list_unlink(&timer->node);
    timer->state = TIMER_IDLE;
    if (timer->repeat > 0) {
      /* Next period from the old deadline (no drift); periods the loop missed are skipped.
       * It was in the array this iteration, so armed_insert needs no allocation. */
      int64_t next = add_sat(timer->deadline, timer->repeat);
      timer->deadline = next > loop->now ? next : add_sat(loop->now, timer->repeat);
      timer->seq = loop->next_seq++;
      armed_insert(timer);
    }
    timer->cb(timer, timer->arg);
  }
}

/* ---- I/O ---------------------------------------------------------------------------------- */

static int ex_io_new(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out) {
  if (fd < 0) return -EBADF;
  lc_io *io = calloc(1, sizeof *io);
  if (io == NULL) return -ENOMEM;
  list_init(&io->node);
  list_init(&io->ready);
  io->loop = loop;
  io->fd = fd;
  io->cb = cb;
  io->arg = arg;
  loop->live++;
  *out = io;
  return 0;
}

static int ex_io_start(lc_io *io, unsigned events) {
  if (!lc_io_events_valid(events)) return -EINVAL;
  if (io->events == 0) {
    list_insert_before(&io->loop->ios, &io->node);
    io->loop->n_ios++;
  }
  io->events = events;
  return 0;
}

/* Also drops a callback owed from this iteration's poll. */
static int ex_io_stop(lc_io *io) {
  if (io->events != 0) {
    list_unlink(&io->node);
    io->loop->n_ios--;
    io->events = 0;
  }
  list_unlink(&io->ready);
  return 0;
}

static void ex_io_free(lc_io *io) {
  ex_io_stop(io);
  io->loop->live--;
  free(io);
}

/* Make room for `n` pollfd entries (slot 0 is the self-pipe). */
static int reserve_fds(lc_loop *loop, size_t n) {
  if (n <= loop->fds_cap) return 0;
  size_t cap = loop->fds_cap ? loop->fds_cap : 16;
  while (cap < n) cap *= 2;
  struct pollfd *fds = realloc(loop->fds, cap * sizeof *fds);
  if (fds == NULL) return -ENOMEM;
  loop->fds = fds;
  lc_io **owner = realloc(loop->fd_owner, cap * sizeof *owner);
  if (owner == NULL) return -ENOMEM;
  loop->fd_owner = owner;
  loop->fds_cap = cap;
  return 0;
}

/* Level-triggered: every started watcher is polled in every iteration. POLLERR, POLLHUP and
 * POLLNVAL (fd closed while watched) are reported as LC_IO_ERROR. */
static void run_ios(lc_loop *loop) {
  while (!list_empty(&loop->ready_ios)) {
    lc_io *io = CONTAINER_OF(loop->ready_ios.next, lc_io, ready);
    list_unlink(&io->ready);
    unsigned revents = io->revents & (io->events | LC_IO_ERROR); /* interest may have changed */
    if (revents != 0) io->cb(io, io->fd, revents, io->arg);
  }
}

/* ---- Wakeups ------------------------------------------------------------------------------ */

static int ex_wakeup_new(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  lc_wakeup *wakeup = calloc(1, sizeof *wakeup);
  if (wakeup == NULL) return -ENOMEM;
  list_init(&wakeup->ready);
  atomic_init(&wakeup->pending, 0);
  wakeup->loop = loop;
  wakeup->cb = cb;
  wakeup->arg = arg;
  list_insert_before(&loop->wakeups, &wakeup->node);
  loop->n_wakeups++;
  loop->live++;
  *out = wakeup;
  return 0;
}

/* Flag first, then the byte: the loop drains the pipe before it reads the flags, so a send
 * that races with the loop either is seen now or leaves a byte for the next iteration. A full
 * pipe (EAGAIN) already guarantees a wakeup. */
static int ex_wakeup_send(lc_wakeup *wakeup) {
  atomic_store_explicit(&wakeup->pending, 1, memory_order_release);
  char byte = 1;
  if (write(wakeup->loop->pipe_w, &byte, 1) < 0 && errno != EAGAIN) return -errno;
  return 0;
}

static void ex_wakeup_free(lc_wakeup *wakeup) {
  list_unlink(&wakeup->node);
  list_unlink(&wakeup->ready);
  wakeup->loop->n_wakeups--;
  wakeup->loop->live--;
  free(wakeup);
}

static void run_wakeups(lc_loop *loop) {
  char buf[256];
  while (read(loop->pipe_r, buf, sizeof buf) > 0) {
  }
  for (struct link *l = loop->wakeups.next; l != &loop->wakeups; l = l->next) {
    lc_wakeup *wakeup = CONTAINER_OF(l, lc_wakeup, node);
    if (atomic_exchange_explicit(&wakeup->pending, 0, memory_order_acq_rel))
      list_insert_before(&loop->ready_wakes, &wakeup->ready);
  }
  while (!list_empty(&loop->ready_wakes)) {
    lc_wakeup *wakeup = CONTAINER_OF(loop->ready_wakes.next, lc_wakeup, ready);
    list_unlink(&wakeup->ready);
    wakeup->cb(wakeup, wakeup->arg);
  }
}

/* ---- Run ---------------------------------------------------------------------------------- */

static bool loop_alive(const lc_loop *loop) {
  return !list_empty(&loop->due) ||
         loop->n_armed + (size_t)loop->n_ios + (size_t)loop->n_wakeups > 0;
}

/* poll(2) timeout in ms: 0 when not allowed to block, -1 with no timer, else the time to the
 * first deadline rounded up (poll never wakes before it, so the timer is due afterwards). */
static int poll_timeout(const lc_loop *loop, bool may_block) {
  if (!may_block || loop->stop) return 0;
  if (loop->n_armed == 0) return -1;
  int64_t wait = loop->timers[0]->deadline - loop->now;
  if (wait <= 0) return 0;
  int64_t ms = (wait + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* One iteration: poll, then I/O callbacks, wakeups, due timers. */
static int iterate(lc_loop *loop, bool may_block) {
  int err = reserve_fds(loop, (size_t)loop->n_ios + 1);
  if (err < 0) return err;
  loop->fds[0] = (struct pollfd){.fd = loop->pipe_r, .events = POLLIN};
  nfds_t n = 1;
  for (struct link *l = loop->ios.next; l != &loop->ios; l = l->next, n++) {
    lc_io *io = CONTAINER_OF(l, lc_io, node);
    short ev = (short)(((io->events & LC_READABLE) ? POLLIN : 0) |
                       ((io->events & LC_WRITABLE) ? POLLOUT : 0));
    loop->fds[n] = (struct pollfd){.fd = io->fd, .events = ev};
    loop->fd_owner[n] = io;
  }
  int nready = poll(loop->fds, n, poll_timeout(loop, may_block));
  if (nready < 0 && errno != EINTR) return -errno;
  loop->now = lc_clock_ns();
  for (nfds_t i = 1; nready > 0 && i < n; i++) {
    short re = loop->fds[i].revents;
    if (re == 0) continue;
    lc_io *io = loop->fd_owner[i];
    io->revents = ((re & POLLIN) ? LC_READABLE : 0u) | ((re & POLLOUT) ? LC_WRITABLE : 0u) |
                  ((re & (POLLERR | POLLHUP | POLLNVAL)) ? LC_IO_ERROR : 0u);
    list_insert_before(&loop->ready_ios, &io->ready);
  }
  run_ios(loop);
  run_wakeups(loop);
  run_timers(loop);
  return 0;
}

/* DEFAULT iterates while handles are active and stop() was not called; ONCE blocks for events
 * once, NOWAIT polls once with a zero timeout. stop() before run() makes it return at once. */
static int ex_run(lc_loop *loop, int mode) {
  if (mode != LC_RUN_DEFAULT && mode != LC_RUN_ONCE && mode != LC_RUN_NOWAIT) return -EINVAL;
  if (loop->running) return -EBUSY;
  loop->running = true;
  loop->now = lc_clock_ns();
  int err = 0;
  while (loop_alive(loop) && !loop->stop) {
    err = iterate(loop, mode != LC_RUN_NOWAIT);
    if (err < 0 || mode != LC_RUN_DEFAULT) break;
  }
  loop->stop = false;
  loop->running = false;
  if (err < 0) return err;
  return loop_alive(loop) ? 1 : 0;
}

static void ex_stop(lc_loop *loop) { loop->stop = true; }

/* ---- Entry point -------------------------------------------------------------------------- */

static const struct lc_backend ex_backend = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "example-poll",
    .version = ex_version,
    .loop_new = ex_loop_new,
    .loop_free = ex_loop_free,
    .now = ex_now,
    .update_time = ex_update_time,
    .run = ex_run,
    .stop = ex_stop,
    .timer_new = ex_timer_new,
    .timer_start = ex_timer_start,
    .timer_stop = ex_timer_stop,
    .timer_free = ex_timer_free,
    .io_new = ex_io_new,
    .io_start = ex_io_start,
    .io_stop = ex_io_stop,
    .io_free = ex_io_free,
    .wakeup_new = ex_wakeup_new,
    .wakeup_send = ex_wakeup_send,
    .wakeup_free = ex_wakeup_free,
    .caps = LC_CAP_NOWAIT,
};

/* The module's only export: the example-poll backend table. */
LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &ex_backend; }
