/* loopconf/clock.h: the monotonic clock in the contract's unit, for backends, tests and tools.
 *
 * CLOCK_MONOTONIC is POSIX, not ISO C: compile with _POSIX_C_SOURCE >= 199309L (or
 * _GNU_SOURCE) defined before the first system header, as every loopconf target does. */
#ifndef LOOPCONF_CLOCK_H
#define LOOPCONF_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "loopconf/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* clock_gettime(CLOCK_MONOTONIC) in ns. */
static inline int64_t lc_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * LC_S + ts.tv_nsec;
}

#ifdef __cplusplus
}
#endif

#endif /* LOOPCONF_CLOCK_H */
