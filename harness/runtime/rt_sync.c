/* rt_sync.c: Semaphore, BoundedSemaphore, Lock, Event and Queue, built only from parking.
 *
 * Each primitive follows CPython 3.11's Lib/asyncio/locks.py and queues.py line for line, with
 * an lc_waiter standing for asyncio's future: a waiter is "done" once woken or cancelled
 * (lc__waiter_done). A release, item or slot goes to the first waiter that is not done, so a
 * cancelled waiter never receives it (asyncio's _wake_up_next skips done futures); a waiter
 * that was woken and then cancelled before it resumed hands its wake-up on; a parked task
 * removes its own waiter when it resumes (asyncio's `finally: waiters.remove(fut)`). The Queue
 * makes no hand-off reservations: a woken getter re-checks the queue when it runs, and a
 * newcomer's get_nowait may have taken the item first, exactly as in asyncio (it then waits
 * again, at the back).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

/* ==== FIFO waiter lists ===================================================================== */

typedef struct wq {
  lc_waiter *head, *tail;
} wq;

static void wq_push(wq *q, lc_waiter *w) {
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail) q->tail->next = w;
  else q->head = w;
  q->tail = w;
}

static int wq_contains(const wq *q, const lc_waiter *w) { return w->prev || q->head == w; }

/* Remove w if it is in q (asyncio: waiters.remove(fut), tolerating "already popped"). */
static void wq_remove(wq *q, lc_waiter *w) {
  if (!wq_contains(q, w)) return;
  if (w->prev) w->prev->next = w->next;
  else q->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else q->tail = w->prev;
  w->next = w->prev = NULL;
}

/* Remove and return the first waiter, or NULL. */
static lc_waiter *wq_pop(wq *q) {
  lc_waiter *w = q->head;
  if (w) wq_remove(q, w);
  return w;
}

static void waiter_init(lc_waiter *w, void *data) {
  memset(w, 0, sizeof *w);
  w->task = lc_current_task();
  w->data = data;
}

/* Park on a new waiter at the back of q, then leave q (asyncio: append, await, remove).
 * *cancelled_out: 1 if the waiter itself was cancelled (asyncio's fut.cancelled()). */
static int wq_wait(wq *q, int *cancelled_out) {
  lc_waiter local, *w;
  waiter_init(&local, NULL);
  if (!(w = lc__park_mem(&local, sizeof local))) return -ENOMEM;
  wq_push(q, w);
  int rc = lc_park(w);
  wq_remove(q, w);
  if (cancelled_out) *cancelled_out = w->cancelled;
  lc__park_mem_free(w, &local);
  return rc;
}

/* ==== Semaphore / BoundedSemaphore ========================================================== */

struct lc_sem {
  int value;  /* asyncio's _value */
  int bound;  /* initial value for a BoundedSemaphore, -1 for a plain one */
  wq waiters; /* parked acquirers, in arrival order, done or not */
};

/* _wake_up_next: the first waiter not done takes one unit. */
static void sem_wake_next(lc_sem *s) {
  for (lc_waiter *w = s->waiters.head; w; w = w->next)
    if (!lc__waiter_done(w)) {
      s->value--;
      lc_unpark(w, 0);
      return;
    }
}

static lc_sem *sem_new(int value, int bound) {
  if (value < 0) {
    errno = EINVAL;
    return NULL;
  }
  lc_sem *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->value = value;
  s->bound = bound;
  return s;
}

/* Semaphore(value): NULL with errno EINVAL for value < 0, ENOMEM. */
lc_sem *lc_sem_new(int value) { return sem_new(value, -1); }

/* BoundedSemaphore(value): as lc_sem_new; releasing above value fails with -EOVERFLOW. */
lc_sem *lc_bounded_sem_new(int value) { return sem_new(value, value); }

/* Free a semaphore nobody waits on. */
void lc_sem_free(lc_sem *s) { free(s); }

/* [await] Take one unit, waiting FIFO behind earlier waiters. 0, or -ECANCELED (a unit granted
 * to this task before the cancel arrived is passed on to the next waiter). -EPERM outside a
 * task when it would have to wait. */
int lc_sem_acquire(lc_sem *s) {
  if (!lc_sem_locked(s)) { /* no suspension */
    s->value--;
    return 0;
  }
  if (!lc_current_task()) return -EPERM;
  int cancelled;
  int rc = wq_wait(&s->waiters, &cancelled);
  if (rc != 0) {
    if (!cancelled) { /* woken (granted a unit), then cancelled before resuming: hand it on */
      s->value++;
      sem_wake_next(s);
    }
    return rc;
  }
  if (s->value > 0) sem_wake_next(s);
  return 0;
}

/* Return one unit; the first waiter not done (if any) gets it. 0, or -EOVERFLOW when a
 * bounded semaphore would go above its initial value. */
int lc_sem_release(lc_sem *s) {
  if (s->bound >= 0 && s->value >= s->bound) return -EOVERFLOW;
  s->value++;
  sem_wake_next(s);
  return 0;
}

/* Units free right now (asyncio's _value). */
int lc_sem_value(const lc_sem *s) { return s->value; }

/* 1 if an acquire would have to wait: no free unit, or a waiter not cancelled is queued
 * (asyncio 3.11's locked()). */
int lc_sem_locked(const lc_sem *s) {
  if (s->value == 0) return 1;
  for (const lc_waiter *w = s->waiters.head; w; w = w->next)
    if (!w->cancelled) return 1;
  return 0;
}

/* ==== Lock ================================================================================= */

struct lc_lock {
  int locked; /* asyncio's _locked */
  wq waiters;
};

/* A new, unlocked lock; NULL on ENOMEM. */
lc_lock *lc_lock_new(void) { return calloc(1, sizeof(lc_lock)); }

/* Free a lock nobody waits on. */
void lc_lock_free(lc_lock *l) { free(l); }

/* _wake_up_first: only the first waiter is looked at; if it is done (woken or cancelled and
 * not resumed yet) nobody is woken now: it wakes the next one itself when it resumes. */
static void lock_wake_first(lc_lock *l) {
  lc_waiter *w = l->waiters.head;
  if (w && !lc__waiter_done(w)) lc_unpark(w, 0);
}

/* [await] Lock it, FIFO behind earlier waiters. 0 or -ECANCELED (a wake-up given to this task
 * before the cancel arrived goes to the next waiter). */
int lc_lock_acquire(lc_lock *l) {
  if (!l->locked) {
    int all_cancelled = 1;
    for (lc_waiter *w = l->waiters.head; w; w = w->next)
      if (!w->cancelled) all_cancelled = 0;
    if (all_cancelled) {
      l->locked = 1;
      return 0;
    }
  }
  if (!lc_current_task()) return -EPERM;
  int rc = wq_wait(&l->waiters, NULL);
  if (rc != 0) {
    if (!l->locked) lock_wake_first(l);
    return rc;
  }
  l->locked = 1;
  return 0;
}

/* Unlock; the first waiter is woken and takes the lock when it runs. -EPERM if not locked (as
 * in asyncio, a lock released to a waiter that has not resumed yet counts as unlocked). */
int lc_lock_release(lc_lock *l) {
  if (!l->locked) return -EPERM;
  l->locked = 0;
  lock_wake_first(l);
  return 0;
}

/* asyncio's locked(): 0 from the release until the woken waiter runs, though a newcomer still
 * cannot take it (the woken waiter is not cancelled). */
int lc_lock_locked(const lc_lock *l) { return l->locked; }

/* ==== Event ================================================================================ */

struct lc_event {
  int flag;
  wq waiters;
};

/* A new, clear event; NULL on ENOMEM. */
lc_event *lc_event_new(void) { return calloc(1, sizeof(lc_event)); }

/* Free an event nobody waits on. */
void lc_event_free(lc_event *e) { free(e); }

/* Set the flag and wake every waiter not done (they return 0 even if the flag is cleared again
 * before they resume, as asyncio). */
void lc_event_set(lc_event *e) {
  if (e->flag) return;
  e->flag = 1;
  for (lc_waiter *w = e->waiters.head; w; w = w->next)
    if (!lc__waiter_done(w)) lc_unpark(w, 0);
}

/* Clear the flag; later waits suspend again. */
void lc_event_clear(lc_event *e) { e->flag = 0; }

int lc_event_is_set(const lc_event *e) { return e->flag; }

/* [await] Return 0 at once if set, else wait for lc_event_set. 0 or -ECANCELED. */
int lc_event_wait(lc_event *e) {
  if (e->flag) return 0;
  if (!lc_current_task()) return -EPERM;
  return wq_wait(&e->waiters, NULL);
}

/* ==== Queue ================================================================================ */

struct lc_queue {
  size_t maxsize;      /* 0: unbounded */
  int kind;            /* Q_FIFO, Q_LIFO, Q_PRIORITY: how _put/_get order the items */
  intptr_t *buf;       /* ring buffer of queued items (a binary min-heap for Q_PRIORITY) */
  size_t cap, head, n; /* capacity, index of the first item, number of items */
  size_t unfinished;   /* items put and not yet acknowledged with task_done */
  int shutdown;
  wq getters;        /* parked getters (asyncio's _getters deque) */
  wq putters;        /* parked putters */
  lc_event finished; /* set while unfinished == 0 (asyncio's _finished) */
};

static int q_full(const lc_queue *q) { return q->maxsize > 0 && q->n >= q->maxsize; }

static int q_grow(lc_queue *q) {
  size_t cap = q->cap ? q->cap * 2 : 8;
  intptr_t *nb = malloc(cap * sizeof *nb);
  if (!nb) return -ENOMEM;
  for (size_t i = 0; i < q->n; i++) nb[i] = q->buf[(q->head + i) % q->cap];
  free(q->buf);
  q->buf = nb;
  q->cap = cap;
  q->head = 0;
  return 0;
}

static int q_push_back(lc_queue *q, intptr_t item) {
  if (q->n == q->cap) {
    int rc = q_grow(q);
    if (rc) return rc;
  }
  q->buf[(q->head + q->n) % q->cap] = item;
  q->n++;
  return 0;
}

static intptr_t q_pop_front(lc_queue *q) {
  intptr_t item = q->buf[q->head];
  q->head = (q->head + 1) % q->cap;
  q->n--;
  return item;
}

enum { Q_FIFO = 0, Q_LIFO, Q_PRIORITY };

/* Q_PRIORITY keeps head == 0 (it never pops from the front of the ring), so buf[0..n) is a
 * heap, as heapq's list in asyncio's PriorityQueue. */
static int q_put(lc_queue *q, intptr_t item) {
  int rc = q_push_back(q, item);
  if (rc || q->kind != Q_PRIORITY) return rc;
  for (size_t i = q->n - 1; i > 0;) { /* heappush: sift up */
    size_t p = (i - 1) / 2;
    if (q->buf[p] <= q->buf[i]) break;
    intptr_t t = q->buf[p];
    q->buf[p] = q->buf[i];
    q->buf[i] = t;
    i = p;
  }
  return 0;
}

static intptr_t q_get(lc_queue *q) {
  if (q->kind == Q_FIFO) return q_pop_front(q);
  if (q->kind == Q_LIFO) {
    q->n--;
    return q->buf[(q->head + q->n) % q->cap];
  }
  intptr_t top = q->buf[0]; /* heappop: move the last to the root, sift down */
  q->buf[0] = q->buf[--q->n];
  for (size_t i = 0;;) {
    size_t c = 2 * i + 1;
    if (c >= q->n) break;
    if (c + 1 < q->n && q->buf[c + 1] < q->buf[c]) c++;
    if (q->buf[i] <= q->buf[c]) break;
    intptr_t t = q->buf[c];
    q->buf[c] = q->buf[i];
    q->buf[i] = t;
    i = c;
  }
  return top;
}

/* asyncio's _wakeup_next: pop waiters until one not done, and wake it. */
static void q_wakeup_next(wq *waiters) {
  lc_waiter *w;
  while ((w = wq_pop(waiters)) != NULL)
    if (!lc__waiter_done(w)) {
      lc_unpark(w, 0);
      return;
    }
}

/* Park on waiters until woken; on a cancellation, hand a wake-up this task got on to the next
 * waiter when the condition it waited for holds (asyncio's `except: ... _wakeup_next`). */
static int q_wait(lc_queue *q, wq *waiters, int getter) {
  lc_waiter local, *w;
  waiter_init(&local, NULL);
  if (!(w = lc__park_mem(&local, sizeof local))) return -ENOMEM;
  wq_push(waiters, w);
  int rc = lc_park(w);
  if (rc != 0) {
    wq_remove(waiters, w);
    int holds = getter ? q->n > 0 : !q_full(q);
    if (holds && !w->cancelled) q_wakeup_next(waiters);
  }
  lc__park_mem_free(w, &local);
  return rc;
}

/* Queue(maxsize), 0 for unbounded. NULL on ENOMEM. */
lc_queue *lc_queue_new(size_t maxsize) {
  lc_queue *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->maxsize = maxsize;
  q->finished.flag = 1;
  return q;
}

/* Free a queue nobody waits on (items still in it are dropped). */
void lc_queue_free(lc_queue *q) {
  if (!q) return;
  free(q->buf);
  free(q);
}

/* Put without waiting: 0, -EAGAIN when full, -ESHUTDOWN after shutdown, -ENOMEM. */
int lc_queue_put_nowait(lc_queue *q, intptr_t item) {
  if (q->shutdown) return -ESHUTDOWN;
  if (q_full(q)) return -EAGAIN;
  int rc = q_put(q, item);
  if (rc) return rc;
  q->unfinished++;
  lc_event_clear(&q->finished);
  q_wakeup_next(&q->getters);
  return 0;
}

/* [await] Put, waiting FIFO for a slot while the queue is full. 0, -ESHUTDOWN, -ECANCELED (the
 * item was not put; a wake-up this task got goes to the next putter), -ENOMEM. */
int lc_queue_put(lc_queue *q, intptr_t item) {
  while (q_full(q)) {
    if (q->shutdown) return -ESHUTDOWN;
    if (!lc_current_task()) return -EPERM;
    int rc = q_wait(q, &q->putters, 0);
    if (rc) return rc;
  }
  return lc_queue_put_nowait(q, item);
}

/* Take the first item without waiting: 0, -EAGAIN when empty, -ESHUTDOWN when empty after
 * shutdown. The first waiting putter is woken. */
int lc_queue_get_nowait(lc_queue *q, intptr_t *item) {
  if (q->n == 0) return q->shutdown ? -ESHUTDOWN : -EAGAIN;
  intptr_t v = q_get(q);
  if (item) *item = v;
  q_wakeup_next(&q->putters);
  return 0;
}

/* [await] Take the first item, waiting FIFO while the queue is empty. 0, -ESHUTDOWN (shut down
 * and drained), -ECANCELED (a wake-up this task got goes to the next getter). */
int lc_queue_get(lc_queue *q, intptr_t *item) {
  while (q->n == 0) {
    if (q->shutdown) return -ESHUTDOWN;
    if (!lc_current_task()) return -EPERM;
    int rc = q_wait(q, &q->getters, 1);
    if (rc) return rc;
  }
  return lc_queue_get_nowait(q, item);
}

/* Acknowledge one item taken with get. 0, or -EINVAL if every item is already acknowledged. */
int lc_queue_task_done(lc_queue *q) {
  if (q->unfinished == 0) return -EINVAL;
  if (--q->unfinished == 0) lc_event_set(&q->finished);
  return 0;
}

/* [await] Wait until every item put has been acknowledged. 0 or -ECANCELED. */
int lc_queue_join(lc_queue *q) {
  if (q->unfinished == 0) return 0;
  return lc_event_wait(&q->finished);
}

/* Items in the queue (asyncio's qsize()). */
size_t lc_queue_size(const lc_queue *q) { return q->n; }
int lc_queue_empty(const lc_queue *q) { return q->n == 0; }
int lc_queue_full(const lc_queue *q) { return q_full(q); }

/* Python 3.13 Queue.shutdown (see loopconf/runtime.h). */
void lc_queue_shutdown(lc_queue *q, int immediate) {
  q->shutdown = 1;
  if (immediate) {
    while (q->n > 0) {
      q_get(q);
      if (q->unfinished > 0) q->unfinished--;
    }
    q->head = 0;
    if (q->unfinished == 0) lc_event_set(&q->finished);
  }
  lc_waiter *w;
  while ((w = wq_pop(&q->getters)) != NULL)
    if (!lc__waiter_done(w)) lc_unpark(w, 0);
  while ((w = wq_pop(&q->putters)) != NULL)
    if (!lc__waiter_done(w)) lc_unpark(w, 0);
}

/* PriorityQueue / LifoQueue: the same Queue with asyncio's _put/_get of those classes. */
static lc_queue *queue_new_kind(size_t maxsize, int kind) {
  lc_queue *q = lc_queue_new(maxsize);
  if (q) q->kind = kind;
  return q;
}
lc_queue *lc_priority_queue_new(size_t maxsize) { return queue_new_kind(maxsize, Q_PRIORITY); }
lc_queue *lc_lifo_queue_new(size_t maxsize) { return queue_new_kind(maxsize, Q_LIFO); }
