/* rt_barrier.c: asyncio.Barrier (new in CPython 3.11) over lc_cond, transliterated from
 * Lib/asyncio/locks.py Barrier: the states filling / draining / resetting / broken, a count of
 * the tasks inside wait, and one Condition that every state change notifies.
 * BrokenBarrierError is -EPIPE.
 */
#include <errno.h>
#include <stdlib.h>

#include "rt_internal.h"

enum { B_FILLING, B_DRAINING, B_RESETTING, B_BROKEN };

struct lc_barrier {
  lc_cond *cond;
  int parties;
  int state;
  int count; /* tasks inside wait */
};

lc_barrier *lc_barrier_new(int parties) {
  if (parties < 1) {
    errno = EINVAL;
    return NULL;
  }
  lc_barrier *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  if (!(b->cond = lc_cond_new(NULL))) {
    free(b);
    return NULL;
  }
  b->parties = parties;
  b->state = B_FILLING;
  return b;
}

void lc_barrier_free(lc_barrier *b) {
  if (!b) return;
  lc_cond_free(b->cond);
  free(b);
}

static int not_draining_or_resetting(void *arg) {
  const lc_barrier *b = arg;
  return b->state != B_DRAINING && b->state != B_RESETTING;
}

static int not_filling(void *arg) { return ((const lc_barrier *)arg)->state != B_FILLING; }

/* _exit: the last task out of a drained or reset round opens the barrier again. */
static void barrier_exit(lc_barrier *b) {
  if (b->count == 0) {
    if (b->state == B_RESETTING || b->state == B_DRAINING) b->state = B_FILLING;
    lc_cond_notify_all(b->cond);
  }
}

int lc_barrier_wait(lc_barrier *b) {
  int rc = lc_cond_acquire(b->cond);
  if (rc) return rc;
  /* _block: wait while the barrier drains or resets. */
  rc = lc_cond_wait_for(b->cond, not_draining_or_resetting, b);
  if (rc == 0 && b->state == B_BROKEN) rc = -EPIPE;
  if (rc) {
    lc_cond_release(b->cond);
    return rc;
  }
  int index = b->count++;
  if (index + 1 == b->parties) { /* _release */
    b->state = B_DRAINING;
    lc_cond_notify_all(b->cond);
  } else { /* _wait */
    rc = lc_cond_wait_for(b->cond, not_filling, b);
    if (rc == 0 && (b->state == B_BROKEN || b->state == B_RESETTING)) rc = -EPIPE;
  }
  b->count--;
  barrier_exit(b);
  lc_cond_release(b->cond);
  return rc ? rc : index;
}

int lc_barrier_reset(lc_barrier *b) {
  int rc = lc_cond_acquire(b->cond);
  if (rc) return rc;
  b->state = b->count > 0 ? B_RESETTING : B_FILLING;
  lc_cond_notify_all(b->cond);
  lc_cond_release(b->cond);
  return 0;
}

int lc_barrier_abort(lc_barrier *b) {
  int rc = lc_cond_acquire(b->cond);
  if (rc) return rc;
  b->state = B_BROKEN;
  lc_cond_notify_all(b->cond);
  lc_cond_release(b->cond);
  return 0;
}

int lc_barrier_parties(const lc_barrier *b) { return b->parties; }
int lc_barrier_n_waiting(const lc_barrier *b) { return b->state == B_FILLING ? b->count : 0; }
int lc_barrier_broken(const lc_barrier *b) { return b->state == B_BROKEN; }
