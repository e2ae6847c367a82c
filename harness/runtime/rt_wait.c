/* rt_wait.c: asyncio.wait and asyncio.as_completed, from done callbacks (lc__done), parking,
 * call_later handles and a Queue. Follows CPython 3.11's Lib/asyncio/tasks.py _wait and
 * as_completed: every task reports through a done callback scheduled with call_soon, so both
 * always suspend, even when the tasks are done already.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

/* ==== wait ================================================================================= */

typedef struct wait_state {
  lc_waiter w;
  size_t counter;
  int mode;
  lc_handle *timeout;
} wait_state;

/* _on_completion */
static void wait_on_completion(lc__done *d, lc_task *t) {
  wait_state *ws = d->ctx;
  ws->counter--;
  int failed = 0;
  if (ws->mode == LC_FIRST_EXCEPTION && !lc_task_cancelled(t)) {
    int code = lc_task_result(t, NULL); /* f.exception(): marks it retrieved, as CPython */
    failed = code < 0;
  }
  if (ws->counter == 0 || ws->mode == LC_FIRST_COMPLETED || failed) {
    if (ws->timeout) lc_handle_cancel(ws->timeout);
    lc_unpark(&ws->w, 0);
  }
}

/* _release_waiter */
static void wait_on_timeout(void *arg) {
  wait_state *ws = arg;
  lc_unpark(&ws->w, 0);
}

int lc_wait(lc_task *const *tasks, size_t n, int mode, int64_t timeout_ns, unsigned char *done,
            size_t *ndone) {
  lc_task *self = lc_current_task();
  if (!self) return -EPERM;
  if (n == 0 || !tasks ||
      (mode != LC_FIRST_COMPLETED && mode != LC_FIRST_EXCEPTION && mode != LC_ALL_COMPLETED))
    return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!tasks[i] || tasks[i] == self) return tasks[i] ? -EDEADLK : -EINVAL;
  /* The state and the done records are written by the callbacks while we are parked: on
   * this stack in the dedicated mode (records on the heap beyond 16), all on the heap in
   * LC_STACK_COPY (runtime.h, the rule); `done` is written only after we resume. */
  int copy = lc__on_shared_stack(self);
  lc__done local[16];
  wait_state local_ws;
  wait_state *ws = &local_ws;
  lc__done *nodes = local;
  if (copy) {
    if (!(ws = calloc(1, sizeof *ws + n * sizeof *nodes))) return -ENOMEM;
    nodes = (lc__done *)(ws + 1);
  } else {
    if (n > 16 && !(nodes = calloc(n, sizeof *nodes))) return -ENOMEM;
    memset(ws, 0, sizeof *ws);
  }
  ws->counter = n;
  ws->mode = mode;
  ws->w.woken = 1; /* nothing may wake it before it parks (callbacks are queued anyway) */
  if (timeout_ns >= 0 && !(ws->timeout = lc_call_later(timeout_ns, wait_on_timeout, ws))) {
    if (copy) free(ws);
    else if (nodes != local) free(nodes);
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    memset(&nodes[i], 0, sizeof nodes[i]);
    nodes[i].fn = wait_on_completion;
    nodes[i].ctx = ws;
    nodes[i].index = i;
    lc__done_add(tasks[i], &nodes[i]);
  }
  int rc = lc_park(&ws->w);
  if (ws->timeout) {
    lc_handle_cancel(ws->timeout);
    lc_handle_unref(ws->timeout);
  }
  size_t nd = 0;
  for (size_t i = 0; i < n; i++) {
    lc__done_remove(tasks[i], &nodes[i]);
    int d = lc_task_done(tasks[i]);
    if (done) done[i] = (unsigned char)d;
    nd += (size_t)d;
  }
  if (ndone) *ndone = nd;
  if (copy) free(ws);
  else if (nodes != local) free(nodes);
  return rc == -ECANCELED ? rc : 0;
}

/* ==== as_completed ========================================================================= */

struct lc_as_completed {
  lc_task **tasks;
  lc__done *nodes;
  unsigned char *todo; /* 1 while tasks[i] is registered and not reported */
  size_t n, ntodo, yielded;
  lc_queue *done; /* finished tasks, NULL entries for the timeout */
  lc_handle *timeout;
};

static void ac_on_completion(lc__done *d, lc_task *t) {
  lc_as_completed *ac = d->ctx;
  if (ac->ntodo == 0 || !ac->todo[d->index]) return; /* _on_timeout was here first */
  ac->todo[d->index] = 0;
  ac->ntodo--;
  lc_queue_put_nowait(ac->done, (intptr_t)t);
  if (ac->ntodo == 0 && ac->timeout) lc_handle_cancel(ac->timeout);
}

static void ac_on_timeout(void *arg) {
  lc_as_completed *ac = arg;
  for (size_t i = 0; i < ac->n; i++) {
    if (!ac->todo[i]) continue;
    lc__done_remove(ac->tasks[i], &ac->nodes[i]);
    ac->todo[i] = 0;
    lc_queue_put_nowait(ac->done, 0); /* a dummy entry for one _wait_for_one */
  }
  ac->ntodo = 0;
}

lc_as_completed *lc_as_completed_new(lc_task *const *tasks, size_t n, int64_t timeout_ns) {
  if (!lc_rt_current()) {
    errno = EPERM;
    return NULL;
  }
  if (n > 0 && !tasks) {
    errno = EINVAL;
    return NULL;
  }
  lc_as_completed *ac = calloc(1, sizeof *ac);
  if (!ac) return NULL;
  ac->n = ac->ntodo = n;
  ac->tasks = calloc(n ? n : 1, sizeof *ac->tasks);
  ac->nodes = calloc(n ? n : 1, sizeof *ac->nodes);
  ac->todo = calloc(n ? n : 1, 1);
  ac->done = lc_queue_new(0);
  if (!ac->tasks || !ac->nodes || !ac->todo || !ac->done) goto nomem;
  if (n > 0 && timeout_ns >= 0 && !(ac->timeout = lc_call_later(timeout_ns, ac_on_timeout, ac)))
    goto nomem;
  for (size_t i = 0; i < n; i++) {
    ac->tasks[i] = tasks[i];
    lc_task_ref(tasks[i]);
    ac->todo[i] = 1;
    ac->nodes[i].fn = ac_on_completion;
    ac->nodes[i].ctx = ac;
    ac->nodes[i].index = i;
    lc__done_add(tasks[i], &ac->nodes[i]);
  }
  return ac;
nomem:
  lc_queue_free(ac->done);
  free(ac->todo);
  free(ac->nodes);
  free(ac->tasks);
  free(ac);
  errno = ENOMEM;
  return NULL;
}

int lc_as_completed_next(lc_as_completed *ac, lc_task **task, intptr_t *result) {
  if (!ac) return -EINVAL;
  if (ac->yielded >= ac->n) return -ENOENT;
  intptr_t v = 0;
  int rc = lc_queue_get(ac->done, &v); /* [await] */
  if (rc) return rc;
  ac->yielded++;
  lc_task *t = (lc_task *)v;
  if (task) *task = t;
  if (!t) return -ETIMEDOUT;
  return lc_task_result(t, result);
}

void lc_as_completed_free(lc_as_completed *ac) {
  if (!ac) return;
  if (ac->timeout) {
    lc_handle_cancel(ac->timeout);
    lc_handle_unref(ac->timeout);
  }
  for (size_t i = 0; i < ac->n; i++) {
    lc__done_remove(ac->tasks[i], &ac->nodes[i]);
    lc_task_unref(ac->tasks[i]);
  }
  lc_queue_free(ac->done);
  free(ac->todo);
  free(ac->nodes);
  free(ac->tasks);
  free(ac);
}
