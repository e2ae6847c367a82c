/* rt_condition.c: asyncio.Condition over an lc_lock, built only from parking.
 *
 * Follows CPython 3.11's Lib/asyncio/locks.py Condition line for line: wait releases the lock,
 * parks on a waiter of its own, leaves the waiter list, and re-acquires the lock before it
 * returns, also when it was cancelled (re-trying the acquire through further cancellations and
 * reporting -ECANCELED afterwards). notify(n) wakes the first n waiters not done.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

struct lc_cond {
  lc_lock *lock;
  int own_lock;           /* created by lc_cond_new, freed with the condition */
  lc_waiter *head, *tail; /* parked in wait, arrival order, done or not */
};

lc_cond *lc_cond_new(lc_lock *lock) {
  lc_cond *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (!lock) {
    if (!(lock = lc_lock_new())) {
      free(c);
      return NULL;
    }
    c->own_lock = 1;
  }
  c->lock = lock;
  return c;
}

void lc_cond_free(lc_cond *c) {
  if (!c) return;
  if (c->own_lock) lc_lock_free(c->lock);
  free(c);
}

lc_lock *lc_cond_lock(lc_cond *c) { return c->lock; }
int lc_cond_acquire(lc_cond *c) { return lc_lock_acquire(c->lock); }
int lc_cond_release(lc_cond *c) { return lc_lock_release(c->lock); }
int lc_cond_locked(const lc_cond *c) { return lc_lock_locked(c->lock); }

static void push(lc_cond *c, lc_waiter *w) {
  w->next = NULL;
  w->prev = c->tail;
  if (c->tail) c->tail->next = w;
  else c->head = w;
  c->tail = w;
}

static void unlink_w(lc_cond *c, lc_waiter *w) {
  if (w->prev) w->prev->next = w->next;
  else c->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else c->tail = w->prev;
  w->next = w->prev = NULL;
}

int lc_cond_wait(lc_cond *c) {
  if (!lc_current_task()) return -EPERM;
  if (!lc_lock_locked(c->lock)) return -EPERM; /* RuntimeError: un-acquired lock */
  lc_waiter local, *w;
  memset(&local, 0, sizeof local);
  if (!(w = lc__park_mem(&local, sizeof local))) return -ENOMEM; /* the lock is still held */
  lc_lock_release(c->lock);
  push(c, w);
  int rc = lc_park(w);
  unlink_w(c, w);
  lc__park_mem_free(w, &local);
  /* Must re-acquire the lock even if the wait was cancelled. */
  int cancelled = rc == -ECANCELED;
  for (;;) {
    int arc = lc_lock_acquire(c->lock);
    if (arc == 0) break;
    if (arc == -ECANCELED) cancelled = 1;
    else return arc; /* cannot happen with a valid lock */
  }
  return cancelled ? -ECANCELED : 0;
}

int lc_cond_wait_for(lc_cond *c, int (*pred)(void *arg), void *arg) {
  if (!pred) return -EINVAL;
  while (!pred(arg)) {
    int rc = lc_cond_wait(c);
    if (rc) return rc;
  }
  return 0;
}

int lc_cond_notify(lc_cond *c, size_t n) {
  if (!lc_lock_locked(c->lock)) return -EPERM;
  size_t woken = 0;
  for (lc_waiter *w = c->head; w && woken < n; w = w->next)
    if (!lc__waiter_done(w)) {
      woken++;
      lc_unpark(w, 0);
    }
  return 0;
}

int lc_cond_notify_all(lc_cond *c) { return lc_cond_notify(c, SIZE_MAX); }
