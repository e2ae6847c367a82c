/* loopconf/adapter.h: small helpers for adapters whose library lacks a concept the contract
 * has (backend.h, "When the library lacks a concept"). Optional: an adapter needs only
 * backend.h. Static inline, no state, no dependency beyond libc (dladdr, eventfd, clock_gettime;
 * Linux).
 */
#ifndef LOOPCONF_ADAPTER_H
#define LOOPCONF_ADAPTER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* The running library's version when it has no version call: the real file name of the
 * shared object that defines `symbol` (dladdr, then symlinks resolved), whose suffix is the
 * version the distribution installed: libtevent.so.0 -> libtevent.so.0.14.1 gives
 * "<label> (libtevent.so.0.14.1)". Writes "<label> (unknown file)" if the object cannot be
 * found. Returns buf. Call it once and keep the result (static storage). */
static inline const char *lc_version_from_library(const void *symbol, const char *label, char *buf,
                                                  size_t len) {
  Dl_info info;
  char *real = NULL;
  const char *file = "unknown file";
  if (dladdr(symbol, &info) != 0 && info.dli_fname != NULL) {
    real = realpath(info.dli_fname, NULL);
    file = real != NULL ? real : info.dli_fname;
    const char *slash = strrchr(file, '/');
    if (slash != NULL) file = slash + 1;
  }
  snprintf(buf, len, "%s (%s)", label, file);
  free(real);
  return buf;
}

/* The offset from CLOCK_REALTIME to CLOCK_MONOTONIC in ns (monotonic = realtime + offset), for
 * a library whose cached time is realtime-based while the contract's now() is monotonic (libev's
 * ev_now, libevent's cached gettimeofday). The realtime clock is read between two monotonic
 * reads and the midpoint of the tightest of three tries is taken, so that a preemption between
 * the reads does not shift it. Convert each new library time once and keep the result: the
 * offset moves by the reads' jitter from call to call. */
static inline int64_t lc_realtime_to_monotonic_ns(void) {
  int64_t best_gap = INT64_MAX, offset = 0;
  for (int i = 0; i < 3; i++) {
    struct timespec a, r, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    int64_t m0 = (int64_t)a.tv_sec * 1000000000 + a.tv_nsec;
    int64_t rt = (int64_t)r.tv_sec * 1000000000 + r.tv_nsec;
    int64_t m1 = (int64_t)b.tv_sec * 1000000000 + b.tv_nsec;
    if (m1 - m0 < best_gap) {
      best_gap = m1 - m0;
      offset = m0 + (m1 - m0) / 2 - rt;
    }
  }
  return offset;
}

/* The cross-thread wakeup of a library that has none (or whose own needs global locking): an
 * eventfd the loop watches for reading. Open it non-blocking; any thread signals it with one
 * write(2); the loop's read callback drains it BEFORE calling the contract's callback, so a
 * signal racing with that callback leaves the fd readable and brings another callback (at
 * least one callback starts after the last wakeup_send).
 * lc_eventfd_open returns the fd or a negative errno; lc_eventfd_signal returns 0 or a
 * negative errno (EAGAIN, a saturated counter, means a callback is due anyway: 0). */
static inline int lc_eventfd_open(void) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return fd < 0 ? -errno : fd;
}

static inline int lc_eventfd_signal(int fd) {
  uint64_t one = 1;
  return write(fd, &one, sizeof one) < 0 && errno != EAGAIN ? -errno : 0;
}

static inline void lc_eventfd_drain(int fd) {
  uint64_t count;
  if (read(fd, &count, sizeof count) < 0) {
    /* EAGAIN: another callback already drained it; nothing else can fail on an eventfd */
  }
}

#endif /* LOOPCONF_ADAPTER_H */
