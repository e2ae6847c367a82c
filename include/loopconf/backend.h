/* loopconf/backend.h: the backend contract every event loop implements.
 *
 * This is the only header a backend needs. The reference loop, the libuv, libev and libevent
 * adapters, and any out-of-tree adapter are shared objects that export one function,
 * loopconf_backend(), returning a filled-in `struct lc_backend`. The harness loads each one with
 * dlopen(RTLD_LOCAL) into its own process, so two backends never share an image (Debian's libev
 * exports libevent's symbol names; see spec/loop-contract.md).
 *
 * Conventions for every operation below:
 *   - Time is int64_t nanoseconds on the monotonic clock (CLOCK_MONOTONIC). Names say
 *     whether a value is a delay (`_ns`, relative) or an instant (`now`, absolute).
 *   - Errors are 0 on success or a negative errno value (-ENOMEM, -EINVAL, ...), never -1.
 *   - Handles (lc_timer, lc_io, lc_wakeup) are allocated and owned by the backend. The caller
 *     owns the pointer between *_new and *_free and must free every handle before loop_free.
 *   - Everything is called from the loop's own thread, except wakeup_send, which any thread may
 *     call at any time between wakeup_new and wakeup_free.
 *   - No operation may call a user callback synchronously: callbacks run only from inside run().
 *   - An optional operation may be NULL: the backend lacks that capability, and the tests that
 *     need it report SKIP on that backend.
 *   - Adapters translate; they do not hide their library's behaviour. When a library differs
 *     from what a clause in spec/ says, the adapter forwards the library's behaviour and the
 *     backend's expectations file records the deviation with its reason.
 */
#ifndef LOOPCONF_BACKEND_H
#define LOOPCONF_BACKEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever struct lc_backend changes incompatibly. A backend built against another
 * version is refused at load time with one clear error. */
#define LC_BACKEND_ABI_VERSION 2 /* 2: caps and settings */

/* The symbol every backend module exports. */
#define LC_BACKEND_ENTRY "loopconf_backend"

typedef struct lc_loop lc_loop;     /* one event loop, backend-defined */
typedef struct lc_timer lc_timer;   /* a one-shot or repeating timer */
typedef struct lc_io lc_io;         /* readiness watcher on one file descriptor */
typedef struct lc_wakeup lc_wakeup; /* cross-thread wakeup (like uv_async_t, ev_async) */

/* I/O readiness bits, for io_start's interest and for the callback's revents. */
enum lc_io_events {
  LC_READABLE = 1u << 0,
  LC_WRITABLE = 1u << 1,
  LC_IO_ERROR = 1u << 2 /* revents only: the backend saw an error or hang-up on the fd */
};

/* Modes for run(). */
enum lc_run_mode {
  LC_RUN_DEFAULT = 0, /* run until nothing is active or stop() is called */
  LC_RUN_ONCE = 1,    /* one iteration: if no callback is due, wait (for I/O or the next
                         timer) until one is; run what is due and return. A timer already due
                         on entry runs without any wait (clause LOOP-RUN-ONCE-DUE-TIMER) */
  LC_RUN_NOWAIT = 2   /* one iteration without blocking: poll with a zero timeout. Only if the
                         backend declares LC_CAP_NOWAIT; otherwise run() returns -ENOTSUP */
};

/* Capabilities beyond the mandatory operations, for struct lc_backend's caps. */
enum lc_backend_caps {
  LC_CAP_NOWAIT = 1u << 0 /* run(LC_RUN_NOWAIT) polls without blocking. A backend without it
                             makes the tests that need NOWAIT SKIP; the task runtime then
                             polls with LC_RUN_ONCE and its timer due at once, which sees
                             I/O only if ONCE polls before returning for a due timer
                             (clause LOOP-TIMER-ZERO-NO-STARVE) */
};

typedef void (*lc_timer_cb)(lc_timer *timer, void *arg);
typedef void (*lc_io_cb)(lc_io *io, int fd, unsigned revents, void *arg);
typedef void (*lc_wakeup_cb)(lc_wakeup *wakeup, void *arg);

struct lc_backend {
  /* Must be LC_BACKEND_ABI_VERSION. */
  uint32_t abi_version;

  /* Short lower-case name used on the command line and in reports ("reference", "libuv").
   * Static storage. */
  const char *name;

  /* The name and version of the library actually running, read at run time from the
   * library itself (uv_version_string(), ev_version_major/minor(), event_get_version()), not
   * from the headers it was compiled with, e.g. "libuv 1.44.2". Static storage or storage that
   * lives as long as the module is loaded. Never NULL. */
  const char *(*version)(void);

  /* ---- Loop ------------------------------------------------------------------------------ */

  /* Create a loop and store it in *out. Each call makes an independent loop; a process may
   * hold several, each used from one thread. Returns 0 or -errno (*out is untouched then). */
  int (*loop_new)(lc_loop **out);

  /* Destroy a loop. Every handle created on it must already be freed; returns -EBUSY (and
   * frees nothing) otherwise. Must not be called from inside run(). Returns 0 or -errno. */
  int (*loop_free)(lc_loop *loop);

  /* The loop's idea of the current time, in ns on the monotonic clock. Backends may cache it
   * (libuv, libev and libevent read the clock once per iteration); the reference loop caches
   * it per iteration too. Comparable with clock_gettime(CLOCK_MONOTONIC) readings only up to
   * the backend's own resolution and staleness: tests measure those, they do not assume them. */
  int64_t (*now)(lc_loop *loop);

  /* Refresh the cached time from the clock now (uv_update_time, ev_now_update,
   * event_base_update_cache_time). */
  void (*update_time)(lc_loop *loop);

  /* Run the loop in the given mode (enum lc_run_mode). Returns 1 if active handles remain
   * (the loop would do more work if run again), 0 if nothing is active, or -errno on failure
   * of the backend itself. Must not be called recursively from a callback. */
  int (*run)(lc_loop *loop, int mode);

  /* Ask run() to return. Called from a callback inside run(): run() returns before it waits
   * for I/O again. Whether callbacks already due in the current iteration still run is
   * backend-defined (a characteristic the tests record, not a requirement). Called when run()
   * is not running: the next run() returns after at most one iteration. */
  void (*stop)(lc_loop *loop);

  /* ---- Timers ---------------------------------------------------------------------------- */

  /* Create an inactive timer on `loop` that will call cb(timer, arg). Returns 0 or -errno. */
  int (*timer_new)(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out);

  /* Arm a timer: first expiry after delay_ns (>= 0), then every repeat_ns if repeat_ns > 0.
   * Converting to the library's unit must never shorten the delay (round up). A timer with
   * delay 0 is due at once but its callback still runs only from run(). Calling timer_start on
   * an active timer re-arms it with the new values (clause LOOP-TIMER-RESTART; libraries that
   * ignore the call show that in the matrix). From inside a timer's own callback, timer_start
   * re-arms it. Returns 0 or -errno (-EINVAL for a negative value). */
  int (*timer_start)(lc_timer *timer, int64_t delay_ns, int64_t repeat_ns);

  /* Disarm. A stopped timer never calls its callback afterwards, even if it was already due in
   * the current iteration. Stopping an inactive timer is a no-op. Returns 0 or -errno. */
  int (*timer_stop)(lc_timer *timer);

  /* Stop (if active) and free a timer. May be called from any callback, including the timer's
   * own. The pointer is invalid afterwards. */
  void (*timer_free)(lc_timer *timer);

  /* ---- I/O readiness (optional: all four NULL if unsupported) ----------------------------- */

  /* Create an inactive watcher on `fd` (not owned: the caller closes it, after io_free or
   * io_stop). Returns 0 or -errno. */
  int (*io_new)(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out);

  /* Watch for `events` (LC_READABLE and/or LC_WRITABLE, non-zero), replacing any earlier
   * interest. Level-triggered: the callback runs in every iteration while the fd stays ready.
   * Returns 0 or -errno. */
  int (*io_start)(lc_io *io, unsigned events);

  /* Stop watching. No callback for this watcher runs afterwards, even if the fd was reported
   * ready in the current iteration. Returns 0 or -errno. */
  int (*io_stop)(lc_io *io);

  /* Stop (if active) and free. May be called from any callback, including the watcher's own. */
  void (*io_free)(lc_io *io);

  /* ---- Cross-thread wakeup (optional: all three NULL if unsupported) ---------------------- */

  /* Create a wakeup. It is active at once and keeps the loop alive (run(LC_RUN_DEFAULT) does
   * not return for lack of work while it exists). Returns 0 or -errno. */
  int (*wakeup_new)(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out);

  /* Thread-safe: ask for cb to run on the loop thread. Several sends before the callback runs
   * may be coalesced into one call; the promise is that at least one callback starts after the
   * last send. Returns 0 or -errno. */
  int (*wakeup_send)(lc_wakeup *wakeup);

  /* Free a wakeup, from the loop thread. No other thread may be inside wakeup_send or call it
   * afterwards. */
  void (*wakeup_free)(lc_wakeup *wakeup);

  /* ---- Declarations (ABI 2) ---------------------------------------------------------------- */

  /* enum lc_backend_caps bits. */
  uint32_t caps;

  /* The library settings the adapter chose where it did not keep the library's default, with
   * the default, e.g. "timer accuracy 1 us (library default 250 ms)"; NULL if it keeps every
   * default. Recorded as a characteristic (loop.backend.settings). Static storage. */
  const char *settings;
};

/* ---- When the library lacks a concept ----------------------------------------------------
 * The contract's operations assume a libuv-shaped loop. An adapter whose library has no
 * equivalent supplies the concept itself, in the adapter, the same way every time, and says so
 * in a comment and in adapters/README.md (adapters/glib.c, sdevent.c, tevent.c do all four):
 *   - No "active" count (run()'s 1/0 answer, DEFAULT's "until nothing is active"): count the
 *     handles that can still call back (armed timers, started watchers, existing wakeups) in
 *     the loop; run() in any mode returns 0 at once when the count is 0, without asking the
 *     library to wait (it may wait forever or for a default tick), and DEFAULT iterates (or
 *     quits the library's loop) while the count is non-zero.
 *   - No resumable stop (the library's exit is final, sd_event_exit, or there is none,
 *     tevent): stop() sets a flag in the loop; DEFAULT checks it before each iteration and
 *     every run() clears it when it returns. So stop() from a callback ends run() before the
 *     next wait, and stop() outside run() makes the next run() return after at most one
 *     iteration (DEFAULT: none). A library with a real stop keeps its own (g_main_loop_quit),
 *     with whatever it does before run().
 *   - No repeating timer: re-arm in the adapter's callback at the elapsed deadline plus the
 *     period (no drift added by the adapter), before calling the user.
 *   - No loop time (now/update_time): now() reads the clock the library's timers use, live, in
 *     the contract's unit; update_time does nothing. A library that caches a time with no call
 *     to refresh it (sd_event_now) returns the cached value and update_time does nothing: the
 *     staleness shows in the matrix.
 *   - No version call: report the real file name of the loaded shared object
 *     (lc_version_from_library in loopconf/adapter.h), which carries the version the system
 *     installed; never the headers' version.
 *   - No non-blocking iteration: leave LC_CAP_NOWAIT out and return -ENOTSUP for NOWAIT;
 *     but if ONCE returns for a due timer without polling, supply NOWAIT instead: poll(2)
 *     the fds you watch with a zero timeout, then iterate once (adapters/tevent.c).
 *   - No thread-safe wakeup: an eventfd (or pipe) watched by the library's fd watcher; the
 *     callback drains it before calling the user, so a send during the callback brings another.
 */

/* Every backend module defines this function with default visibility. The returned struct has
 * static storage duration. */
typedef const struct lc_backend *(*lc_backend_entry_fn)(void);

#if defined(__GNUC__)
#define LC_BACKEND_EXPORT __attribute__((visibility("default")))
#else
#define LC_BACKEND_EXPORT
#endif

LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void);

/* ---- Helpers for backends and their users ---------------------------------------------- */

/* Time units in the contract's unit (int64_t ns). */
#define LC_US ((int64_t)1000)
#define LC_MS ((int64_t)1000000)
#define LC_S ((int64_t)1000000000)

/* ns -> ms, rounded up (libuv). Never overflows: INT64_MAX gives its ms ceiling. */
static inline uint64_t lc_ns_to_ms_ceil(int64_t ns) {
  if (ns <= 0) return 0;
  return (uint64_t)(ns / 1000000) + (ns % 1000000 != 0);
}

/* ns -> us, rounded up (libevent's struct timeval). Never overflows. */
static inline int64_t lc_ns_to_us_ceil(int64_t ns) {
  if (ns <= 0) return 0;
  return ns / 1000 + (ns % 1000 != 0);
}

/* The interest io_start accepts: LC_READABLE and/or LC_WRITABLE, non-zero, nothing else. */
static inline int lc_io_events_valid(unsigned events) {
  return events != 0 && (events & ~(unsigned)(LC_READABLE | LC_WRITABLE)) == 0;
}

#ifdef __cplusplus
}
#endif

#endif /* LOOPCONF_BACKEND_H */
