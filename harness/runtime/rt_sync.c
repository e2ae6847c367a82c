/* rt_sync.c: Semaphore, BoundedSemaphore, Lock, Event and Queue, built only from parking.
 *
 * Every primitive keeps its parked tasks in a FIFO list of lc_waiter nodes (which live on the
 * parked tasks' stacks). Grants are made by the releaser, at release time, to the first waiter:
 * a unit, a queue item or a queue slot is assigned before the woken task runs again, so a
 * newcomer can never take it first (no barging, gh-90155). A waiter that was granted something
 * and then cancelled before it resumed hands the grant on, so nothing is ever lost.
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

static void wq_remove(wq *q, lc_waiter *w) {
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

/* ==== Semaphore / BoundedSemaphore ========================================================== */

struct lc_sem {
  int value;   /* units free and not yet granted to anybody */
  int bound;   /* initial value for a BoundedSemaphore, -1 for a plain one */
  int granted; /* units granted to woken waiters that have not resumed yet */
  wq waiters;  /* tasks waiting for a unit, not yet granted one */
};

/* Grant free units to queued waiters, first come first served. Invariant afterwards: if
 * anybody is still queued, value == 0. */
static void sem_grant(lc_sem *s) {
  while (s->value > 0 && s->waiters.head) {
    lc_waiter *w = wq_pop(&s->waiters);
    s->value--;
    s->granted++;
    lc_unpark(w, 0);
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
  if (s->value > 0 && !s->waiters.head) { /* free unit and nobody queued: no suspension */
    s->value--;
    return 0;
  }
  if (!lc_current_task()) return -EPERM;
  lc_waiter w;
  waiter_init(&w, NULL);
  wq_push(&s->waiters, &w);
  int rc = lc_park(&w);
  if (!w.woken) { /* never granted: leave the queue */
    wq_remove(&s->waiters, &w);
    return rc;
  }
  s->granted--;
  if (rc != 0) { /* granted, then cancelled before resuming: hand the unit on */
    s->value++;
    sem_grant(s);
  }
  return rc;
}

/* Return one unit; the first queued waiter (if any) gets it. 0, or -EOVERFLOW when a bounded
 * semaphore would go above its initial value. */
int lc_sem_release(lc_sem *s) {
  if (s->bound >= 0 && s->value >= s->bound) return -EOVERFLOW;
  s->value++;
  sem_grant(s);
  return 0;
}

/* Units free right now (asyncio's _value). */
int lc_sem_value(const lc_sem *s) { return s->value; }

/* 1 if an acquire would have to wait (no free unit, or waiters queued ahead). */
int lc_sem_locked(const lc_sem *s) { return s->value == 0 || s->waiters.head != NULL; }

/* ==== Lock ================================================================================= */

/* A Lock is a semaphore of one unit whose release checks ownership of the unit. */
struct lc_lock {
  lc_sem sem;
};

/* A new, unlocked lock; NULL on ENOMEM. */
lc_lock *lc_lock_new(void) {
  lc_lock *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->sem.value = 1;
  l->sem.bound = 1;
  return l;
}

/* Free a lock nobody waits on. */
void lc_lock_free(lc_lock *l) { free(l); }

/* [await] Lock it, FIFO behind earlier waiters. 0 or -ECANCELED (ownership handed to this task
 * before the cancel arrived goes to the next waiter). */
int lc_lock_acquire(lc_lock *l) { return lc_sem_acquire(&l->sem); }

/* Unlock; the first waiter becomes the owner. -EPERM if the lock is not locked (as in asyncio,
 * a lock handed to a waiter that has not resumed yet counts as unlocked). */
int lc_lock_release(lc_lock *l) {
  if (!lc_lock_locked(l)) return -EPERM;
  return lc_sem_release(&l->sem);
}

/* 1 while owned by a running task. Handed to a waiter that has not resumed yet, it reads 0
 * (asyncio's locked()), though a newcomer still cannot take it. */
int lc_lock_locked(const lc_lock *l) { return l->sem.value == 0 && l->sem.granted == 0; }

/* ==== Event ================================================================================ */

struct lc_event {
  int flag;
  wq waiters;
};

/* A new, clear event; NULL on ENOMEM. */
lc_event *lc_event_new(void) { return calloc(1, sizeof(lc_event)); }

/* Free an event nobody waits on. */
void lc_event_free(lc_event *e) { free(e); }

/* Set the flag and wake every waiter (they return 0 even if the flag is cleared again before
 * they resume, as asyncio). */
void lc_event_set(lc_event *e) {
  e->flag = 1;
  lc_waiter *w;
  while ((w = wq_pop(&e->waiters)) != NULL) lc_unpark(w, 0);
}

/* Clear the flag; later waits suspend again. */
void lc_event_clear(lc_event *e) { e->flag = 0; }

int lc_event_is_set(const lc_event *e) { return e->flag; }

/* [await] Return 0 at once if set, else wait for lc_event_set. 0 or -ECANCELED. */
int lc_event_wait(lc_event *e) {
  if (e->flag) return 0;
  if (!lc_current_task()) return -EPERM;
  lc_waiter w;
  waiter_init(&w, NULL);
  wq_push(&e->waiters, &w);
  int rc = lc_park(&w);
  if (!w.woken) wq_remove(&e->waiters, &w);
  return rc;
}

/* ==== Queue ================================================================================ */

/* What a parked getter was given. */
enum getter_state {
  GET_WAITING = 0, /* queued, nothing yet */
  GET_HANDED,      /* an item was handed to it directly (it sits in q->handed) */
  GET_SHUTDOWN     /* woken by shutdown with nothing: -ESHUTDOWN */
};

typedef struct getter_slot {
  intptr_t item;
  int state;
} getter_slot;

/* What a parked putter was given. */
enum putter_state {
  PUT_WAITING = 0, /* queued, queue still full */
  PUT_RESERVED,    /* a slot was reserved for it (counted in q->reserved) */
  PUT_SHUTDOWN     /* woken by shutdown: -ESHUTDOWN */
};

struct lc_queue {
  size_t maxsize;      /* 0: unbounded */
  intptr_t *buf;       /* ring buffer of queued items */
  size_t cap, head, n; /* capacity, index of the first item, number of items */
  size_t handed;       /* items handed to woken getters that have not resumed yet */
  size_t reserved;     /* slots reserved for woken putters that have not resumed yet */
  size_t unfinished;   /* items put and not yet acknowledged with task_done */
  int shutdown;
  wq getters;       /* waiting getters (state GET_WAITING) */
  wq handed_to;     /* woken getters holding a handed item (state GET_HANDED) */
  wq putters;       /* waiting putters (state PUT_WAITING) */
  wq joiners;       /* tasks in lc_queue_join */
};

/* Items plus everything promised to tasks that have not resumed yet: what counts as "in the
 * queue" for back-pressure and for lc_queue_size. */
static size_t q_load(const lc_queue *q) { return q->n + q->handed + q->reserved; }

static int q_full(const lc_queue *q) { return q->maxsize > 0 && q_load(q) >= q->maxsize; }

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

static int q_push_front(lc_queue *q, intptr_t item) {
  if (q->n == q->cap) {
    int rc = q_grow(q);
    if (rc) return rc;
  }
  q->head = (q->head + q->cap - 1) % q->cap;
  q->buf[q->head] = item;
  q->n++;
  return 0;
}

static intptr_t q_pop_front(lc_queue *q) {
  intptr_t item = q->buf[q->head];
  q->head = (q->head + 1) % q->cap;
  q->n--;
  return item;
}

/* Reserve freed slots for waiting putters, first come first served. */
static void q_wake_putters(lc_queue *q) {
  while (q->putters.head && !q_full(q)) {
    lc_waiter *w = wq_pop(&q->putters);
    *(int *)w->data = PUT_RESERVED;
    q->reserved++;
    lc_unpark(w, 0);
  }
}

static void q_wake_joiners(lc_queue *q) {
  lc_waiter *w;
  while ((w = wq_pop(&q->joiners)) != NULL) lc_unpark(w, 0);
}

/* Hand item to the first waiting getter, or queue it at the front/back. Never fails for a
 * hand-off; -ENOMEM if the buffer cannot grow. */
static int q_deliver(lc_queue *q, intptr_t item, int front) {
  lc_waiter *w = wq_pop(&q->getters);
  if (w) {
    getter_slot *g = w->data;
    g->item = item;
    g->state = GET_HANDED;
    wq_push(&q->handed_to, w);
    q->handed++;
    lc_unpark(w, 0);
    return 0;
  }
  return front ? q_push_front(q, item) : q_push_back(q, item);
}

/* Queue(maxsize), 0 for unbounded. NULL on ENOMEM. */
lc_queue *lc_queue_new(size_t maxsize) {
  lc_queue *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->maxsize = maxsize;
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
  int rc = q_deliver(q, item, 0);
  if (rc) return rc;
  q->unfinished++;
  return 0;
}

/* [await] Put, waiting FIFO for a slot while the queue is full. 0, -ESHUTDOWN, -ECANCELED (the
 * item was not put; a slot reserved for this task goes to the next putter), -ENOMEM. */
int lc_queue_put(lc_queue *q, intptr_t item) {
  if (q->shutdown) return -ESHUTDOWN;
  if (!q_full(q)) return lc_queue_put_nowait(q, item);
  if (!lc_current_task()) return -EPERM;
  int state = PUT_WAITING;
  lc_waiter w;
  waiter_init(&w, &state);
  wq_push(&q->putters, &w);
  int rc = lc_park(&w);
  if (state == PUT_WAITING) { /* cancelled while queued */
    wq_remove(&q->putters, &w);
    return rc;
  }
  if (state == PUT_SHUTDOWN) return rc == -ECANCELED ? rc : -ESHUTDOWN;
  q->reserved--; /* PUT_RESERVED: the slot is ours to use or to pass on */
  if (rc == 0 && q->shutdown) rc = -ESHUTDOWN;
  if (rc == 0) {
    rc = q_deliver(q, item, 0);
    if (rc == 0) q->unfinished++;
  }
  if (rc != 0) q_wake_putters(q);
  return rc;
}

/* Take the first item without waiting: 0, -EAGAIN when empty, -ESHUTDOWN when empty after
 * shutdown. A freed slot goes to the first waiting putter. */
int lc_queue_get_nowait(lc_queue *q, intptr_t *item) {
  if (q->n == 0) return q->shutdown ? -ESHUTDOWN : -EAGAIN;
  intptr_t v = q_pop_front(q);
  if (item) *item = v;
  q_wake_putters(q);
  return 0;
}

/* [await] Take the first item, waiting FIFO while the queue is empty. 0, -ESHUTDOWN (shut down
 * and drained), -ECANCELED (an item handed to this task before the cancel arrived goes to the
 * next getter or back to the front of the queue). */
int lc_queue_get(lc_queue *q, intptr_t *item) {
  if (q->n > 0) return lc_queue_get_nowait(q, item);
  if (q->shutdown) return -ESHUTDOWN;
  if (!lc_current_task()) return -EPERM;
  getter_slot g = {0, GET_WAITING};
  lc_waiter w;
  waiter_init(&w, &g);
  wq_push(&q->getters, &w);
  int rc = lc_park(&w);
  switch (g.state) {
  case GET_WAITING: /* cancelled while queued */
    wq_remove(&q->getters, &w);
    return rc;
  case GET_SHUTDOWN:
    return rc == -ECANCELED ? rc : -ESHUTDOWN;
  default: /* GET_HANDED */
    break;
  }
  wq_remove(&q->handed_to, &w);
  q->handed--;
  if (rc == 0) {
    if (item) *item = g.item;
  } else if (q_deliver(q, g.item, 1) != 0) {
    /* Out of memory putting it back: deliver it to this task after all rather than lose it.
     * Unreachable in practice (the buffer had room for it before it was handed). */
    if (item) *item = g.item;
    return 0;
  }
  q_wake_putters(q);
  return rc;
}

/* Acknowledge one item taken with get. 0, or -EINVAL if every item is already acknowledged. */
int lc_queue_task_done(lc_queue *q) {
  if (q->unfinished == 0) return -EINVAL;
  if (--q->unfinished == 0) q_wake_joiners(q);
  return 0;
}

/* [await] Wait until every item put has been acknowledged. 0 or -ECANCELED. */
int lc_queue_join(lc_queue *q) {
  if (q->unfinished == 0) return 0;
  if (!lc_current_task()) return -EPERM;
  lc_waiter w;
  waiter_init(&w, NULL);
  wq_push(&q->joiners, &w);
  int rc = lc_park(&w);
  if (!w.woken) wq_remove(&q->joiners, &w);
  return rc;
}

/* Items in the queue, counting those already promised to woken getters/putters. */
size_t lc_queue_size(const lc_queue *q) { return q_load(q); }

/* Python 3.13 Queue.shutdown (see lc_runtime.h). */
void lc_queue_shutdown(lc_queue *q, int immediate) {
  q->shutdown = 1;
  if (immediate) {
    size_t dropped = q->n;
    q->n = 0;
    q->head = 0;
    /* Items handed to getters that have not resumed are dropped too: those getters see the
     * shutdown, as they would on CPython, where the item is still in the queue. */
    lc_waiter *w;
    while ((w = wq_pop(&q->handed_to)) != NULL) {
      ((getter_slot *)w->data)->state = GET_SHUTDOWN;
      q->handed--;
      dropped++;
    }
    q->unfinished = q->unfinished > dropped ? q->unfinished - dropped : 0;
    if (q->unfinished == 0) q_wake_joiners(q);
  }
  lc_waiter *w;
  while ((w = wq_pop(&q->getters)) != NULL) {
    ((getter_slot *)w->data)->state = GET_SHUTDOWN;
    lc_unpark(w, -ESHUTDOWN);
  }
  while ((w = wq_pop(&q->putters)) != NULL) {
    *(int *)w->data = PUT_SHUTDOWN;
    lc_unpark(w, -ESHUTDOWN);
  }
}

