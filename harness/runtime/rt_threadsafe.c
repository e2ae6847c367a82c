/* rt_threadsafe.c: loop.call_soon_threadsafe and asyncio.run_coroutine_threadsafe.
 *
 * A portal (lc_portal) is opened on the loop thread and owns one backend wakeup handle; other
 * threads post calls to its mutex-protected list and send the wakeup; the wakeup callback (loop
 * thread) moves every posted call to the ready queue with lc_call_soon, as asyncio appends the
 * handle to _ready and writes to its self-pipe. A threadsafe future (lc_tsfuture) is completed
 * on the loop thread by a done callback of the task it spawned, and waited for on the other
 * thread with a condition variable. Portals and futures are reference counted, so a thread
 * that still holds one after the runtime closed it gets -ESHUTDOWN instead of a dangling
 * pointer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_internal.h"

struct lc_tsfuture {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs;             /* under mu */
  int done, code;       /* under mu */
  intptr_t result;      /* under mu */
  int cancel_requested; /* under mu */
  lc_task *task;        /* loop thread only */
  lc__done node;        /* loop thread only */
  lc_rt *rt;            /* set at creation; compared only, never dereferenced off-thread */
};

typedef struct ts_call {
  struct ts_call *next;
  void (*cb)(void *arg); /* call_soon_threadsafe */
  void *arg;
  lc_task_fn fn; /* run_coroutine_threadsafe */
  char *name;
  lc_tsfuture *fut;
} ts_call;

struct lc_portal {
  pthread_mutex_t mu;
  int refs;             /* under mu */
  int closed;           /* under mu */
  ts_call *head, *tail; /* under mu */
  lc_rt *rt;            /* loop thread only below */
  const struct lc_backend *b;
  lc_wakeup *wakeup;
  struct lc_portal *next; /* the runtime's open portals */
};

/* ==== Futures ============================================================================== */

static void fut_unref(lc_tsfuture *f) {
  pthread_mutex_lock(&f->mu);
  int last = --f->refs == 0;
  pthread_mutex_unlock(&f->mu);
  if (!last) return;
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

static void fut_complete(lc_tsfuture *f, int code, intptr_t result) {
  pthread_mutex_lock(&f->mu);
  if (!f->done) {
    f->done = 1;
    f->code = code;
    f->result = code == 0 ? result : 0;
    pthread_cond_broadcast(&f->cv);
  }
  pthread_mutex_unlock(&f->mu);
}

/* The spawned task finished (loop thread). */
static void fut_task_done(lc__done *d, lc_task *t) {
  lc_tsfuture *f = d->ctx;
  intptr_t r = 0;
  int code = lc_task_result(t, &r);
  fut_complete(f, code, r);
  lc_task_unref(f->task);
  f->task = NULL;
  fut_unref(f); /* the runtime's reference */
}

int lc_tsfuture_result(lc_tsfuture *f, int64_t timeout_ns, intptr_t *result) {
  if (!f) return -EINVAL;
  if (lc_rt_current() && lc_rt_current() == f->rt) return -EDEADLK; /* would block its loop */
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  if (timeout_ns >= 0) {
    int64_t ns = dl.tv_nsec + timeout_ns % 1000000000;
    dl.tv_sec += (time_t)(timeout_ns / 1000000000 + ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
  }
  pthread_mutex_lock(&f->mu);
  int rc = 0;
  while (!f->done && rc == 0)
    rc = timeout_ns < 0 ? pthread_cond_wait(&f->cv, &f->mu)
                        : pthread_cond_timedwait(&f->cv, &f->mu, &dl);
  int code = f->done ? f->code : -ETIMEDOUT;
  if (f->done && result) *result = f->result;
  pthread_mutex_unlock(&f->mu);
  return code;
}

int lc_tsfuture_done(lc_tsfuture *f) {
  pthread_mutex_lock(&f->mu);
  int d = f->done;
  pthread_mutex_unlock(&f->mu);
  return d;
}

void lc_tsfuture_free(lc_tsfuture *f) {
  if (f) fut_unref(f);
}

/* ==== Portals ============================================================================== */

static void portal_unref(lc_portal *p) {
  pthread_mutex_lock(&p->mu);
  int last = --p->refs == 0;
  pthread_mutex_unlock(&p->mu);
  if (!last) return;
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static void call_free(ts_call *c) {
  free(c->name);
  free(c);
}

/* Run one posted call (loop thread, from the ready queue). */
static void call_run(void *arg) {
  ts_call *c = arg;
  if (c->cb) {
    c->cb(c->arg);
  } else {
    lc_tsfuture *f = c->fut;
    lc_task *t = lc_spawn(c->fn, c->arg, c->name);
    if (!t) {
      fut_complete(f, -(errno ? errno : ENOMEM), 0);
      fut_unref(f);
    } else {
      f->task = t; /* our reference, dropped when it is done */
      pthread_mutex_lock(&f->mu);
      int cancel = f->cancel_requested;
      pthread_mutex_unlock(&f->mu);
      memset(&f->node, 0, sizeof f->node);
      f->node.fn = fut_task_done;
      f->node.ctx = f;
      lc__done_add(t, &f->node);
      if (cancel) lc_cancel(t);
    }
  }
  call_free(c);
}

/* The wakeup fired (loop thread): move the posted calls to the ready queue. */
static void portal_wakeup_cb(lc_wakeup *w, void *arg) {
  (void)w;
  lc_portal *p = arg;
  pthread_mutex_lock(&p->mu);
  ts_call *c = p->head;
  p->head = p->tail = NULL;
  pthread_mutex_unlock(&p->mu);
  while (c) {
    ts_call *next = c->next;
    if (lc_call_soon(call_run, c) != 0) call_run(c); /* out of memory: run it now */
    c = next;
  }
}

lc_portal *lc_portal_open(void) {
  lc_rt *rt = lc_rt_current();
  if (!rt) {
    errno = EPERM;
    return NULL;
  }
  const struct lc_backend *b = lc_rt_backend(rt);
  if (!b->wakeup_new || !b->wakeup_send || !b->wakeup_free) {
    errno = ENOTSUP;
    return NULL;
  }
  lc_portal *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  pthread_mutex_init(&p->mu, NULL);
  p->refs = 2; /* the caller's and the runtime's (while open) */
  p->rt = rt;
  p->b = b;
  int rc = b->wakeup_new(lc_rt_loop(rt), portal_wakeup_cb, p, &p->wakeup);
  if (rc) {
    pthread_mutex_destroy(&p->mu);
    free(p);
    errno = -rc;
    return NULL;
  }
  void **slot = lc__rt_threadsafe_slot(rt);
  p->next = *slot;
  *slot = p;
  return p;
}

/* Post a call: 0, -ESHUTDOWN once closed, -ENOMEM. Any thread. */
static int portal_post(lc_portal *p, ts_call *c) {
  pthread_mutex_lock(&p->mu);
  if (p->closed) {
    pthread_mutex_unlock(&p->mu);
    return -ESHUTDOWN;
  }
  c->next = NULL;
  if (p->tail) p->tail->next = c;
  else p->head = c;
  p->tail = c;
  /* Sent under the lock: the loop thread frees the wakeup only after marking the portal
   * closed under the same lock, so it cannot be freed while we are in wakeup_send. */
  p->b->wakeup_send(p->wakeup);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

int lc_call_soon_threadsafe(lc_portal *p, void (*cb)(void *arg), void *arg) {
  if (!p || !cb) return -EINVAL;
  ts_call *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->cb = cb;
  c->arg = arg;
  int rc = portal_post(p, c);
  if (rc) call_free(c);
  return rc;
}

lc_tsfuture *lc_run_coroutine_threadsafe(lc_portal *p, lc_task_fn fn, void *arg, const char *name) {
  if (!p || !fn) {
    errno = EINVAL;
    return NULL;
  }
  lc_tsfuture *f = calloc(1, sizeof *f);
  ts_call *c = calloc(1, sizeof *c);
  if (!f || !c || (name && !(c->name = strdup(name)))) {
    free(f);
    if (c) call_free(c);
    errno = ENOMEM;
    return NULL;
  }
  pthread_mutex_init(&f->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&f->cv, &ca);
  pthread_condattr_destroy(&ca);
  f->refs = 2; /* the caller's and the runtime's until completed */
  f->rt = p->rt;
  c->fn = fn;
  c->arg = arg;
  c->fut = f;
  int rc = portal_post(p, c);
  if (rc) {
    call_free(c);
    fut_unref(f);
    fut_unref(f);
    errno = -rc;
    return NULL;
  }
  return f;
}

static void cancel_call(void *arg) {
  lc_tsfuture *f = arg;
  if (f->task) lc_cancel(f->task);
  fut_unref(f); /* the reference cancel took */
}

int lc_tsfuture_cancel(lc_tsfuture *f, lc_portal *p) {
  if (!f || !p) return -EINVAL;
  pthread_mutex_lock(&f->mu);
  if (f->done) {
    pthread_mutex_unlock(&f->mu);
    return 0;
  }
  f->cancel_requested = 1; /* for a task not spawned yet */
  f->refs++;
  pthread_mutex_unlock(&f->mu);
  int rc = lc_call_soon_threadsafe(p, cancel_call, f);
  if (rc) {
    fut_unref(f);
    return rc;
  }
  return 1;
}

/* Close (loop thread): refuse new calls, drop the pending ones (their futures fail with
 * -ESHUTDOWN), free the wakeup. */
static void portal_close(lc_portal *p) {
  pthread_mutex_lock(&p->mu);
  p->closed = 1;
  ts_call *c = p->head;
  p->head = p->tail = NULL;
  pthread_mutex_unlock(&p->mu);
  while (c) {
    ts_call *next = c->next;
    if (c->fut) {
      fut_complete(c->fut, -ESHUTDOWN, 0);
      fut_unref(c->fut);
    } else if (c->cb == cancel_call) {
      fut_unref(c->arg);
    }
    call_free(c);
    c = next;
  }
  p->b->wakeup_free(p->wakeup);
  p->wakeup = NULL;
}

void lc_portal_close(lc_portal *p) {
  if (!p || !p->rt || p->rt != lc_rt_current()) return;
  void **slot = lc__rt_threadsafe_slot(p->rt);
  for (lc_portal **q = (lc_portal **)slot; *q; q = &(*q)->next)
    if (*q == p) {
      *q = p->next;
      portal_close(p);
      p->rt = NULL;
      portal_unref(p); /* the runtime's reference */
      return;
    }
}

void lc_portal_unref(lc_portal *p) {
  if (p) portal_unref(p);
}

void lc__threadsafe_shutdown(lc_rt *rt) {
  void **slot = lc__rt_threadsafe_slot(rt);
  while (*slot) lc_portal_close(*slot);
}
