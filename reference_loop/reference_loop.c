/* reference_loop.c: the loopconf reference event loop on Linux epoll (promises REF-n in README.md). */
#define _GNU_SOURCE /* epoll_pwait2 */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <loopconf/backend.h>

#include "ref_heap.h"
#include "ref_loop.h"
#include "loopconf/clock.h"

#ifndef REF_VERSION
#define REF_VERSION "unknown"
#endif

/* epoll_event.data.u64 of the shared wakeup eventfd; watcher slots never reach this value. */
#define REF_WAKE_TAG UINT64_MAX

/* Cache line size: data that other threads touch in wakeup_send gets lines of its own. */
#define REF_CACHE_LINE 64

/* Initial and largest size of the array epoll fills in one call. */
#define REF_EVENTS_MIN 64
#define REF_EVENTS_MAX 65536

/* ======================================================================================== */
/* Types                                                                                    */
/* ======================================================================================== */

enum ref_timer_state {
  REF_TIMER_IDLE,  /* not started, or a one-shot that has fired; no heap entry */
  REF_TIMER_STALE, /* stopped, but its old entry is still in the heap (see timer_stop) */
  REF_TIMER_HEAP   /* armed: its entry in the heap holds its deadline and start sequence */
};

struct lc_timer {
  struct ref_heap_node hnode; /* first member: position in loop->heap (HEAP or STALE) */
  lc_loop *loop;
  lc_timer_cb cb;
  void *arg;
  int64_t deadline;  /* current (or last) deadline, absolute ns */
  int64_t repeat_ns; /* period; 0 for a one-shot */
  enum ref_timer_state state;
};

struct lc_io {
  lc_loop *loop;
  lc_io_cb cb;
  void *arg;
  int fd;
  uint32_t slot;     /* index in loop->slots */
  unsigned interest; /* LC_READABLE|LC_WRITABLE while active, 0 while stopped */
  bool registered;   /* the loop believes epoll holds an entry for (fd, this watcher) */
};

/* A watcher slot. epoll events carry (gen << 32 | index) instead of a pointer, so an event
 * already returned by epoll for a watcher that was since stopped or freed is recognised as stale
 * by its generation and dropped without touching freed memory (REF-9). */
struct ref_io_slot {
  lc_io *io;          /* NULL when the slot is free */
  uint32_t gen;       /* bumped on every io_stop and io_free */
  uint32_t next_free; /* free-list link (index + 1; 0 ends the list) */
};

/* Line-aligned and allocated on its own lines (alloc_lines), so the flag that senders poll
 * shares its line with nothing the loop writes often: on a shared line, every write the loop
 * made there would turn the senders' polling loads into cache misses. */
struct lc_wakeup {
  _Alignas(REF_CACHE_LINE) atomic_int pending; /* 1 from the first send until claimed */
  int fd; /* the loop's eventfd, copied so that a send never reads the loop's busy fields */
  lc_loop *loop;
  lc_wakeup_cb cb;
  void *arg;
  lc_wakeup *prev, *next;
};

struct lc_loop {
  int epfd;
  int wake_fd; /* eventfd shared by all wakeups, created with the first one (-1 before) */
  int64_t now; /* cached time, refreshed after each poll and by update_time() */
  uint64_t next_seq;

  /* Timers. */
  struct ref_heap heap;
  size_t timers;        /* allocated */
  size_t active_timers; /* armed (REF_TIMER_HEAP) */

  /* I/O. */
  struct ref_io_slot *slots;
  size_t slot_count, slot_cap;
  uint32_t free_slot; /* index + 1 of the first free slot, 0 if none */
  lc_io **fd_owner;   /* fd -> the watcher registered with epoll for it */
  size_t fd_cap;
  size_t ios, active_ios;
  struct epoll_event *events;
  int events_cap;

  /* Wakeups. */
  lc_wakeup *wake_head, *wake_tail;
  lc_wakeup *wake_cursor; /* next wakeup to scan; fixed up by wakeup_free */
  size_t wakeups;

  bool in_run;
  bool stop_requested;

  /* Read and written by senders on other threads: on a line of its own (the loop is allocated
   * line-aligned), away from `now` and the other fields the loop writes every iteration. */
  _Alignas(REF_CACHE_LINE) atomic_int wake_signalled; /* eventfd written, event not yet run */
};

/* ======================================================================================== */
/* Clock and version                                                                        */
/* ======================================================================================== */

static char version_text[160];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void version_init(void) {
  struct utsname u;
  if (uname(&u) == 0)
    snprintf(version_text, sizeof version_text, "loopconf-reference %s (epoll, Linux %s)",
             REF_VERSION, u.release);
  else snprintf(version_text, sizeof version_text, "loopconf-reference %s (epoll)", REF_VERSION);
}

/* Contract: see lc_backend.version. Thread-safe; the string lives as long as the module. */
static const char *ref_version(void) {
  pthread_once(&version_once, version_init);
  return version_text;
}

/* ======================================================================================== */
/* Loop                                                                                     */
/* ======================================================================================== */

/* Zeroed memory for a struct with cache-line-aligned members (its size is a multiple of the
 * line), starting on a line. Released with free(). NULL if out of memory. */
static void *alloc_lines(size_t size) {
  void *p = aligned_alloc(REF_CACHE_LINE, size);
  if (p) memset(p, 0, size);
  return p;
}

/* Contract: see lc_backend.loop_new. */
static int ref_loop_new(lc_loop **out) {
  lc_loop *loop = alloc_lines(sizeof *loop);
  if (!loop) return -ENOMEM;
  loop->events = malloc(REF_EVENTS_MIN * sizeof *loop->events);
  if (!loop->events) {
    free(loop);
    return -ENOMEM;
  }
  loop->events_cap = REF_EVENTS_MIN;
  loop->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (loop->epfd < 0) {
    int err = -errno;
    free(loop->events);
    free(loop);
    return err;
  }
  loop->wake_fd = -1;
  ref_heap_init(&loop->heap);
  atomic_init(&loop->wake_signalled, 0);
  loop->now = lc_clock_ns();
  *out = loop;
  return 0;
}

/* Contract: see lc_backend.loop_free. -EBUSY while handles exist or from inside run(). */
static int ref_loop_free(lc_loop *loop) {
  if (loop->in_run || loop->timers || loop->ios || loop->wakeups) return -EBUSY;
  if (loop->wake_fd >= 0) close(loop->wake_fd);
  close(loop->epfd);
  ref_heap_destroy(&loop->heap);
  free(loop->slots);
  free(loop->fd_owner);
  free(loop->events);
  free(loop);
  return 0;
}

/* Contract: see lc_backend.now. The cached time; O(1), no syscall. */
static int64_t ref_now(lc_loop *loop) { return loop->now; }

/* Contract: see lc_backend.update_time. */
static void ref_update_time(lc_loop *loop) { loop->now = lc_clock_ns(); }

/* Contract: see lc_backend.stop. */
static void ref_stop(lc_loop *loop) { loop->stop_requested = true; }

static bool loop_alive(const lc_loop *loop) {
  return loop->active_timers || loop->active_ios || loop->wakeups;
}

/* ======================================================================================== */
/* Timers                                                                                   */
/* ======================================================================================== */

/* Contract: see lc_backend.timer_new. Reserves a heap slot so start never allocates. */
static int ref_timer_new(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out) {
  if (!cb) return -EINVAL;
  int err = ref_heap_reserve(&loop->heap, loop->timers + 1);
  if (err) return err;
  lc_timer *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->hnode.index = REF_HEAP_NONE;
  t->loop = loop;
  t->cb = cb;
  t->arg = arg;
  t->state = REF_TIMER_IDLE;
  loop->timers++;
  *out = t;
  return 0;
}

/* Contract: see lc_backend.timer_start. The deadline is measured from a live clock reading
 * (REF-4); re-arms an active timer (REF-13). O(log n), no allocation. */
static int ref_timer_start(lc_timer *t, int64_t delay_ns, int64_t repeat_ns) {
  if (delay_ns < 0 || repeat_ns < 0) return -EINVAL;
  lc_loop *loop = t->loop;
  int64_t deadline = ref_add_sat(lc_clock_ns(), delay_ns);
  uint64_t seq = loop->next_seq++;
  switch (t->state) {
  case REF_TIMER_HEAP: ref_heap_update(&loop->heap, &t->hnode, deadline, seq); break;
  case REF_TIMER_STALE: /* stopped, entry still in the heap: re-key it, no remove + push */
    ref_heap_update(&loop->heap, &t->hnode, deadline, seq);
    loop->active_timers++;
    break;
  case REF_TIMER_IDLE:
    ref_heap_push(&loop->heap, &t->hnode, deadline, seq);
    loop->active_timers++;
    break;
  }
  t->state = REF_TIMER_HEAP;
  t->deadline = deadline;
  t->repeat_ns = repeat_ns;
  return 0;
}

/* Contract: see lc_backend.timer_stop. Also cancels a timer that is due in the running pass
 * (REF-7). O(1): the timer is only marked STALE and its entry stays where it is (lazy
 * deletion). A stale entry never fires: it is dropped when it reaches the top of the heap
 * (first_armed), re-keyed in place if the timer is started again, and removed by timer_free.
 * Each timer owns at most one entry, so the heap never outgrows the reserve (REF-17). */
static int ref_timer_stop(lc_timer *t) {
  if (t->state == REF_TIMER_HEAP) {
    t->state = REF_TIMER_STALE;
    t->loop->active_timers--;
  }
  return 0;
}

/* Contract: see lc_backend.timer_free. Safe from any callback: the timer pass never holds a
 * pointer to a timer across a callback except the one it is calling, and not after it. */
static void ref_timer_free(lc_timer *t) {
  ref_timer_stop(t);
  if (t->state == REF_TIMER_STALE) /* the heap must not keep a pointer to freed memory */
    ref_heap_remove(&t->loop->heap, &t->hnode);
  t->loop->timers--;
  free(t);
}

/* The timer that owns a heap node (hnode is its first member). */
static inline lc_timer *timer_of(struct ref_heap_node *node) {
  return (lc_timer *)((char *)node - offsetof(lc_timer, hnode));
}

/* The earliest armed timer's heap entry, or NULL if none is armed. Stale entries that reached
 * the top are removed on the way, so they never decide a poll timeout or fire. */
static const struct ref_heap_entry *first_armed(lc_loop *loop) {
  const struct ref_heap_entry *min;
  while ((min = ref_heap_min(&loop->heap)) && timer_of(min->node)->state == REF_TIMER_STALE) {
    lc_timer *t = timer_of(ref_heap_pop(&loop->heap));
    t->state = REF_TIMER_IDLE;
  }
  return min;
}

/* The timer pass (REF-3): run, in (deadline, seq) order, exactly the timers that were armed
 * when the pass began and are due at the cached time it began with. Both are fixed up front:
 * `pass_now`, and `pass_seq`, the first sequence number a start during the pass can take.
 * A timer started or re-armed by a callback gets a sequence >= pass_seq and a deadline >= the
 * cached time (it is measured from a live reading), so it sorts after every timer this pass
 * may still run, and the pass stops at it. Stopped and freed timers are gone from the armed
 * set at once (REF-7). The timers are taken straight from the top of the heap: no copy into a
 * list, so each due timer is touched once. Returns the number of callbacks run. */
static int run_timers(lc_loop *loop) {
  const int64_t pass_now = loop->now;
  const uint64_t pass_seq = loop->next_seq;
  const struct ref_heap_entry *min;
  int ran = 0;
  while ((min = first_armed(loop)) && min->deadline <= pass_now && min->node->seq < pass_seq) {
    lc_timer *t = timer_of(min->node);
    if (t->repeat_ns > 0) { /* re-arm before the callback, keeping the phase (REF-6) */
      t->deadline = ref_next_deadline(t->deadline, t->repeat_ns, loop->now);
      ref_heap_update(&loop->heap, &t->hnode, t->deadline, loop->next_seq++);
    } else {
      ref_heap_pop(&loop->heap);
      t->state = REF_TIMER_IDLE;
      loop->active_timers--;
    }
    t->cb(t, t->arg); /* may free t: not touched again */
    ran++;
  }
  return ran;
}

/* ======================================================================================== */
/* I/O watchers                                                                             */
/* ======================================================================================== */

/* Contract: see lc_backend.io_new. Allocates the watcher, its slot and the fd table entry. */
static int ref_io_new(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out) {
  if (fd < 0 || !cb) return fd < 0 ? -EBADF : -EINVAL;
  if ((size_t)fd >= loop->fd_cap) {
    size_t ncap = loop->fd_cap ? loop->fd_cap : 64;
    while (ncap <= (size_t)fd) ncap *= 2;
    lc_io **p = realloc(loop->fd_owner, ncap * sizeof *p);
    if (!p) return -ENOMEM;
    memset(p + loop->fd_cap, 0, (ncap - loop->fd_cap) * sizeof *p);
    loop->fd_owner = p;
    loop->fd_cap = ncap;
  }
  if (!loop->free_slot && loop->slot_count == loop->slot_cap) {
    size_t ncap = loop->slot_cap ? loop->slot_cap * 2 : 64;
    if (ncap >= UINT32_MAX) return -ENOMEM;
    struct ref_io_slot *p = realloc(loop->slots, ncap * sizeof *p);
    if (!p) return -ENOMEM;
    loop->slots = p;
    loop->slot_cap = ncap;
  }
  lc_io *io = calloc(1, sizeof *io);
  if (!io) return -ENOMEM;
  uint32_t slot;
  if (loop->free_slot) {
    slot = loop->free_slot - 1;
    loop->free_slot = loop->slots[slot].next_free;
  } else {
    slot = (uint32_t)loop->slot_count++;
    loop->slots[slot].gen = 0;
  }
  loop->slots[slot].io = io;
  loop->slots[slot].next_free = 0;
  io->loop = loop;
  io->cb = cb;
  io->arg = arg;
  io->fd = fd;
  io->slot = slot;
  loop->ios++;
  *out = io;
  return 0;
}

/* Contract: see lc_backend.io_start. EPOLL_CTL_MOD if registered, else EPOLL_CTL_ADD. Only one
 * watcher per open file may be active: another gets -EEXIST (REF-14). */
static int ref_io_start(lc_io *io, unsigned events) {
  if (!lc_io_events_valid(events)) return -EINVAL;
  lc_loop *loop = io->loop;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = ((events & LC_READABLE) ? EPOLLIN : 0) | ((events & LC_WRITABLE) ? EPOLLOUT : 0);
  ev.data.u64 = (uint64_t)loop->slots[io->slot].gen << 32 | io->slot;
  if (io->registered) {
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == 0) goto started;
    if (errno != ENOENT) return -errno;
    /* The fd was closed (and maybe reused): epoll forgot the entry. Register afresh. */
    io->registered = false;
    loop->fd_owner[io->fd] = NULL;
  }
  if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) != 0) return -errno;
  lc_io *owner = loop->fd_owner[io->fd];
  if (owner && owner != io)
    owner->registered = false; /* its file was closed: epoll had already dropped it */
  loop->fd_owner[io->fd] = io;
  io->registered = true;
started:
  if (!io->interest) loop->active_ios++;
  io->interest = events;
  return 0;
}

/* Contract: see lc_backend.io_stop. Bumps the slot generation so events already fetched for
 * this watcher are dropped (REF-9). A closed fd is not an error. */
static int ref_io_stop(lc_io *io) {
  lc_loop *loop = io->loop;
  if (!io->interest) return 0;
  if (io->registered) {
    /* Errors mean the fd was closed and the entry is gone already (EBADF, ENOENT). */
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    loop->fd_owner[io->fd] = NULL;
    io->registered = false;
  }
  io->interest = 0;
  loop->active_ios--;
  loop->slots[io->slot].gen++;
  return 0;
}

/* Contract: see lc_backend.io_free. Safe from any callback (slot generations, REF-9). */
static void ref_io_free(lc_io *io) {
  lc_loop *loop = io->loop;
  ref_io_stop(io);
  struct ref_io_slot *s = &loop->slots[io->slot];
  s->io = NULL;
  s->gen++;
  s->next_free = loop->free_slot;
  loop->free_slot = io->slot + 1;
  loop->ios--;
  free(io);
}

/* ======================================================================================== */
/* Wakeups                                                                                  */
/* ======================================================================================== */

/* Contract: see lc_backend.wakeup_new. Creates the loop's eventfd on first use. */
static int ref_wakeup_new(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  if (!cb) return -EINVAL;
  if (loop->wake_fd < 0) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return -errno;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    /* Edge-triggered: every write to an eventfd wakes its waiters, so each write made after
     * the loop fetched the previous event gives a new event, and the loop never has to read
     * the counter back (one syscall less per wake-up). The counter cannot saturate: a send
     * writes only when it turns wake_signalled from 0 to 1, at most once per wake-up. */
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = REF_WAKE_TAG;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      int err = -errno;
      close(fd);
      return err;
    }
    loop->wake_fd = fd;
  }
  lc_wakeup *w = alloc_lines(sizeof *w);
  if (!w) return -ENOMEM;
  w->fd = loop->wake_fd;
  w->loop = loop;
  w->cb = cb;
  w->arg = arg;
  atomic_init(&w->pending, 0);
  w->prev = loop->wake_tail;
  if (loop->wake_tail) loop->wake_tail->next = w;
  else loop->wake_head = w;
  loop->wake_tail = w;
  loop->wakeups++;
  *out = w;
  return 0;
}

/* Contract: see lc_backend.wakeup_send. Thread-safe and lock-free. A send that finds the wakeup
 * already pending, or the eventfd already signalled, makes no syscall (REF-10). */
static int ref_wakeup_send(lc_wakeup *w) {
  lc_loop *loop = w->loop;
  /* seq_cst on both sides: the loop clears wake_signalled before it claims pending flags, so
   * either it sees this pending flag or this send sees wake_signalled == 0 and writes.
   * Each flag is read before it is exchanged: a send that finds it already set returns after
   * a plain load, so a storm of senders shares the cache line instead of fighting for it. A
   * load that reads 1 proves the same as an exchange that returns 1: the loop's clearing
   * exchange (or store) comes later in the single total order. */
  if (atomic_load(&w->pending) || atomic_exchange(&w->pending, 1))
    return 0; /* not yet claimed: its callback has not started, so it starts after us */
  if (atomic_load(&loop->wake_signalled) || atomic_exchange(&loop->wake_signalled, 1)) return 0;
  uint64_t one = 1;
  for (;;) {
    if (write(w->fd, &one, sizeof one) == (ssize_t)sizeof one) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) /* counter saturated (cannot happen, see wakeup_new): still readable */
      return 0;
    int err = -errno;
    atomic_store(&loop->wake_signalled, 0);
    atomic_store(&w->pending, 0);
    return err;
  }
}

/* Contract: see lc_backend.wakeup_free. Safe from any callback, including a wakeup callback. */
static void ref_wakeup_free(lc_wakeup *w) {
  lc_loop *loop = w->loop;
  if (loop->wake_cursor == w) loop->wake_cursor = w->next;
  if (w->prev) w->prev->next = w->next;
  else loop->wake_head = w->next;
  if (w->next) w->next->prev = w->prev;
  else loop->wake_tail = w->prev;
  loop->wakeups--;
  free(w);
}

/* The eventfd was written since its last event: re-open the gate for senders, then run every
 * wakeup whose pending flag is set, clearing the flag before its callback starts. The eventfd
 * is edge-triggered (see wakeup_new), so its counter is left as it is. O(number of wakeups).
 * Returns callbacks run. */
static int run_wakeups(lc_loop *loop) {
  atomic_store(&loop->wake_signalled, 0);
  int ran = 0;
  for (lc_wakeup *w = loop->wake_head; w; w = loop->wake_cursor) {
    loop->wake_cursor = w->next;
    if (atomic_load(&w->pending) && atomic_exchange(&w->pending, 0)) {
      w->cb(w, w->arg);
      ran++;
    }
  }
  loop->wake_cursor = NULL;
  return ran;
}

/* ======================================================================================== */
/* Polling and run()                                                                        */
/* ======================================================================================== */

/* Set once epoll_pwait2 has failed with ENOSYS (old kernel, or valgrind); shared by all loops. */
static atomic_bool pwait2_missing;

/* Wait for events for at most timeout_ns (< 0: no limit; 0: do not block). Returns the number
 * of events, 0 on EINTR, or -errno. */
static int poll_events(lc_loop *loop, int64_t timeout_ns) {
  int ms = timeout_ns < 0 ? -1 : 0;
  if (timeout_ns > 0) {
#ifdef REF_HAVE_EPOLL_PWAIT2
    /* A real deadline: nanoseconds, so the loop wakes neither early nor up to 1 ms late. */
    if (!atomic_load_explicit(&pwait2_missing, memory_order_relaxed)) {
      struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
      int n = epoll_pwait2(loop->epfd, loop->events, loop->events_cap, &ts, NULL);
      if (n >= 0) return n;
      if (errno != ENOSYS) return errno == EINTR ? 0 : -errno;
      atomic_store_explicit(&pwait2_missing, true, memory_order_relaxed);
    }
#endif
    /* Millisecond fallback: round up, so the loop wakes at or after the deadline, never before
     * it (a rounded-down timeout would wake early and spin on a zero timeout). */
    uint64_t ceil_ms = lc_ns_to_ms_ceil(timeout_ns);
    ms = ceil_ms > INT_MAX ? INT_MAX : (int)ceil_ms;
  }
  /* No limit or a zero timeout (LC_RUN_NOWAIT, a due timer, I/O with no timer armed) need no
   * nanoseconds: plain epoll_wait says the same and costs ~50 ns less per call than
   * epoll_pwait2 with a zero timespec (measured on the 2-core VM, 111 vs 160 ns). */
  int n = epoll_wait(loop->epfd, loop->events, loop->events_cap, ms);
  if (n >= 0) return n;
  return errno == EINTR ? 0 : -errno;
}

/* Map epoll bits to LC bits, keeping only what the watcher asked for, plus errors. */
static unsigned revents_of(uint32_t ev, unsigned interest) {
  unsigned r = 0;
  if (ev & EPOLLIN) r |= LC_READABLE;
  if (ev & EPOLLOUT) r |= LC_WRITABLE;
  r &= interest;
  if (ev & (EPOLLERR | EPOLLHUP)) r |= LC_IO_ERROR;
  return r;
}

/* The I/O pass: run callbacks for the n events fetched by the last poll, dropping events of
 * watchers stopped or freed since (REF-9). Returns callbacks run. */
static int run_io(lc_loop *loop, int n) {
  int ran = 0;
  for (int i = 0; i < n; i++) {
    uint64_t data = loop->events[i].data.u64;
    if (data == REF_WAKE_TAG) {
      ran += run_wakeups(loop);
      continue;
    }
    uint32_t slot = (uint32_t)data, gen = (uint32_t)(data >> 32);
    if (slot >= loop->slot_count) continue;
    lc_io *io = loop->slots[slot].io;
    if (!io || loop->slots[slot].gen != gen || !io->interest) continue;
    unsigned revents = revents_of(loop->events[i].events, io->interest);
    if (!revents) continue;
    io->cb(io, io->fd, revents, io->arg);
    ran++;
  }
  /* A full array may mean more events are waiting: grow it for the next poll. */
  if (n == loop->events_cap && loop->events_cap < REF_EVENTS_MAX) {
    struct epoll_event *p = realloc(loop->events, 2 * (size_t)loop->events_cap * sizeof *p);
    if (p) {
      loop->events = p;
      loop->events_cap *= 2;
    }
  }
  return ran;
}

/* One iteration: poll (blocking until the nearest deadline if may_block), refresh the cached
 * time, run the timer pass, then the I/O pass. Returns callbacks run or -errno. */
static int run_iteration(lc_loop *loop, bool may_block) {
  int64_t timeout_ns = 0;
  if (may_block && !loop->stop_requested) {
    const struct ref_heap_entry *min = first_armed(loop);
    if (!min) {
      timeout_ns = -1;
    } else {
      /* Measured from a live reading, so a long callback does not stretch the wait. */
      int64_t left = min->deadline - lc_clock_ns();
      timeout_ns = left > 0 ? left : 0;
    }
  }
  int n = poll_events(loop, timeout_ns);
  if (n < 0) return n;
  loop->now = lc_clock_ns();
  int ran = run_timers(loop);
  return ran + run_io(loop, n);
}

/* Contract: see lc_backend.run and REF-11, REF-12. */
static int ref_run(lc_loop *loop, int mode) {
  if (mode != LC_RUN_DEFAULT && mode != LC_RUN_ONCE && mode != LC_RUN_NOWAIT) return -EINVAL;
  if (loop->in_run) return -EBUSY;
  loop->in_run = true;
  int err = 0;
  /* A stop() requested while run() was not running makes this call return at once. */
  while (!loop->stop_requested && loop_alive(loop)) {
    int ran = run_iteration(loop, mode != LC_RUN_NOWAIT);
    if (ran < 0) {
      err = ran;
      break;
    }
    if (mode == LC_RUN_NOWAIT || (mode == LC_RUN_ONCE && ran > 0))
      break; /* ONCE goes round again only after a wake-up that ran nothing (EINTR, stale) */
  }
  loop->stop_requested = false;
  loop->in_run = false;
  if (err) return err;
  return loop_alive(loop) ? 1 : 0;
}

/* ======================================================================================== */
/* Module entry                                                                             */
/* ======================================================================================== */

static const struct lc_backend ref_backend = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "reference",
    .version = ref_version,
    .loop_new = ref_loop_new,
    .loop_free = ref_loop_free,
    .now = ref_now,
    .update_time = ref_update_time,
    .run = ref_run,
    .stop = ref_stop,
    .timer_new = ref_timer_new,
    .timer_start = ref_timer_start,
    .timer_stop = ref_timer_stop,
    .timer_free = ref_timer_free,
    .io_new = ref_io_new,
    .io_start = ref_io_start,
    .io_stop = ref_io_stop,
    .io_free = ref_io_free,
    .wakeup_new = ref_wakeup_new,
    .wakeup_send = ref_wakeup_send,
    .wakeup_free = ref_wakeup_free,
    .caps = LC_CAP_NOWAIT,
};

/* Contract: see LC_BACKEND_ENTRY in backend.h. */
LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &ref_backend; }
