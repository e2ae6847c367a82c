/* ref_loop.h: internal helpers of the reference loop that its unit tests call directly. */
#ifndef LOOPCONF_REF_LOOP_H
#define LOOPCONF_REF_LOOP_H

#include <stdint.h>

/* a + b for b >= 0, saturating at INT64_MAX instead of overflowing. */
static inline int64_t ref_add_sat(int64_t a, int64_t b) {
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* The next deadline of a repeating timer whose previous deadline was `prev` (REF-6): the first
 * prev + k * period (k >= 1) that is strictly later than `now`. With k = 1 unless the loop fell
 * more than a period behind: missed ticks are skipped, the phase is kept. period must be > 0;
 * prev and now are non-negative instants. Saturates at INT64_MAX. */
static inline int64_t ref_next_deadline(int64_t prev, int64_t period, int64_t now) {
  int64_t next = ref_add_sat(prev, period);
  if (next > now || next == INT64_MAX) return next;
  /* Here prev < now: skip every whole period that has already passed. */
  int64_t behind = now - prev;
  int64_t skipped = behind / period * period; /* prev + skipped <= now */
  return ref_add_sat(prev + skipped, period);
}

#endif /* LOOPCONF_REF_LOOP_H */
