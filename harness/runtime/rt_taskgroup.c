/* rt_taskgroup.c: asyncio.TaskGroup (structured concurrency) on top of lc_spawn and lc_cancel.
 *
 * Each child runs inside a small wrapper that calls the user's function and then, still on the
 * child's task, does what CPython's TaskGroup._on_task_done does: record a failure and, on the
 * first one, cancel the other children and the body's task. A child cancelled before its first
 * step never runs its wrapper, so lc_taskgroup_wait does not count on the wrappers to learn
 * that children are done: it awaits each child in turn (which also retrieves their errors).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

typedef struct tg_child {
  struct lc_taskgroup *tg; /* NULL once the group was freed before this child ran (orphan) */
  lc_task *task;           /* the group's reference */
  lc_task_fn fn;
  void *arg;
  int finished; /* the wrapper ran to its end */
} tg_child;

struct lc_taskgroup {
  lc_task *parent; /* the body's task */
  tg_child **kids;
  size_t nkids, capkids;
  lc_task **failed; /* children that failed, in the order they failed (own refs) */
  int *failed_codes;
  size_t nfailed, capfailed;
  int body_failed_at; /* index in the error list where the body's failure goes, or -1 */
  int body_code;
  int aborting;                /* first failure seen: children cancelled, new ones refused */
  int parent_cancel_requested; /* we called lc_cancel(parent) and owe it a withdrawal */
  int exiting, finished;
  lc_tg_error *errors; /* built by lc_taskgroup_wait */
  size_t nerrors;
};

static void tg_abort(lc_taskgroup *tg, lc_task *except) {
  tg->aborting = 1;
  for (size_t i = 0; i < tg->nkids; i++) {
    lc_task *t = tg->kids[i]->task;
    if (t != except && !lc_task_done(t)) lc_cancel(t);
  }
}

static int tg_record_failure(lc_taskgroup *tg, lc_task *t, int code) {
  if (tg->nfailed == tg->capfailed) {
    size_t cap = tg->capfailed ? tg->capfailed * 2 : 4;
    lc_task **nf = realloc(tg->failed, cap * sizeof *nf);
    if (!nf) return -ENOMEM;
    tg->failed = nf;
    int *nc = realloc(tg->failed_codes, cap * sizeof *nc);
    if (!nc) return -ENOMEM;
    tg->failed_codes = nc;
    tg->capfailed = cap;
  }
  if (t) lc_task_ref(t);
  tg->failed[tg->nfailed] = t;
  tg->failed_codes[tg->nfailed] = code;
  tg->nfailed++;
  return 0;
}

/* The wrapper every child runs: the user's function, then CPython's _on_task_done. */
static int tg_child_main(void *arg, intptr_t *result) {
  tg_child *c = arg;
  int rc = c->fn(c->arg, result);
  lc_taskgroup *tg = c->tg;
  c->finished = 1;
  if (!tg) { /* the group is gone: nothing to report to */
    free(c);
    return rc;
  }
  if (rc < 0 && rc != -ECANCELED) {
    /* A failure we cannot record (ENOMEM) still aborts the group below. */
    (void)tg_record_failure(tg, c->task, rc);
    if (!tg->aborting && !tg->parent_cancel_requested) {
      tg_abort(tg, c->task);
      tg->parent_cancel_requested = 1;
      lc_cancel(tg->parent);
    }
  }
  return rc;
}

/* Enter a group from the body's task. NULL with errno EPERM outside a task, ENOMEM. */
lc_taskgroup *lc_taskgroup_new(void) {
  lc_task *parent = lc_current_task();
  if (!parent) {
    errno = EPERM;
    return NULL;
  }
  lc_taskgroup *tg = calloc(1, sizeof *tg);
  if (!tg) return NULL;
  tg->parent = parent;
  lc_task_ref(parent);
  tg->body_failed_at = -1;
  return tg;
}

/* Start a child in the group. Returns the task (borrowed: valid until lc_taskgroup_free), or
 * NULL with errno ESHUTDOWN once the group is failing or finished, ENOMEM, or lc_spawn's errno. */
lc_task *lc_taskgroup_spawn(lc_taskgroup *tg, lc_task_fn fn, void *arg, const char *name) {
  if (tg->aborting || tg->finished || (tg->exiting && tg->nkids == 0)) {
    errno = ESHUTDOWN;
    return NULL;
  }
  if (!fn) {
    errno = EINVAL;
    return NULL;
  }
  if (tg->nkids == tg->capkids) {
    size_t cap = tg->capkids ? tg->capkids * 2 : 8;
    tg_child **nk = realloc(tg->kids, cap * sizeof *nk);
    if (!nk) return NULL;
    tg->kids = nk;
    tg->capkids = cap;
  }
  tg_child *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->tg = tg;
  c->fn = fn;
  c->arg = arg;
  c->task = lc_spawn(tg_child_main, c, name);
  if (!c->task) {
    int e = errno;
    free(c);
    errno = e;
    return NULL;
  }
  tg->kids[tg->nkids++] = c;
  return c->task;
}

static char *dup_or_empty(const char *s) {
  char *d = strdup(s ? s : "");
  return d;
}

/* Turn the recorded failures into the lc_tg_error list, in the order they happened. */
static int tg_build_errors(lc_taskgroup *tg) {
  size_t n = tg->nfailed + (tg->body_failed_at >= 0);
  if (n == 0) return 0;
  tg->errors = calloc(n, sizeof *tg->errors);
  if (!tg->errors) return -ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i <= tg->nfailed; i++) {
    if ((int)i == tg->body_failed_at) {
      lc_tg_error *e = &tg->errors[k++];
      e->task_name = dup_or_empty(lc_task_name(tg->parent));
      e->code = tg->body_code;
      e->message = dup_or_empty(lc_task_error_message(tg->parent));
    }
    if (i == tg->nfailed) break;
    lc_tg_error *e = &tg->errors[k++];
    e->task_name = dup_or_empty(lc_task_name(tg->failed[i]));
    e->code = tg->failed_codes[i];
    e->message = dup_or_empty(lc_task_error_message(tg->failed[i]));
  }
  tg->nerrors = k;
  for (size_t i = 0; i < k; i++)
    if (!tg->errors[i].task_name || !tg->errors[i].message) return -ENOMEM;
  return 0;
}

/* [await] The `async with` exit: see loopconf/runtime.h. Must be called once, from the body's task.
 * Returns 0, the first failure's code, -ECANCELED when the body's task was cancelled from
 * outside (and nothing failed), -EPERM from another task, -EINVAL when called twice. */
int lc_taskgroup_wait(lc_taskgroup *tg, int body_rc) {
  if (lc_current_task() != tg->parent) return -EPERM;
  if (tg->exiting) return -EINVAL;
  tg->exiting = 1;
  int saw_cancel = body_rc == -ECANCELED; /* a cancellation reached the body */
  if (body_rc < 0 && body_rc != -ECANCELED) {
    tg->body_failed_at = (int)tg->nfailed;
    tg->body_code = body_rc;
  }
  if (body_rc < 0 && !tg->aborting) tg_abort(tg, NULL);

  /* Wait for every child, including those spawned by children meanwhile. A cancel of the body's
   * task while it waits is handed on by lc_await to the child it awaits (and lc_await keeps
   * waiting), so it is recognised by the body's cancel count going up, not by a return code. */
  for (size_t i = 0; i < tg->nkids; i++) {
    lc_task *t = tg->kids[i]->task;
    while (!lc_task_done(t)) {
      int before = lc_cancelling(tg->parent);
      int rc = lc_await(t, NULL);
      if (lc_cancelling(tg->parent) > before ||
          (rc == -ECANCELED && !(lc_task_done(t) && lc_task_cancelled(t)))) {
        /* Unless the group is already aborting (then this is its own cancel, or moot), abort
         * and propagate it. */
        saw_cancel = 1;
        if (!tg->aborting) tg_abort(tg, NULL);
      }
    }
    (void)lc_task_result(t, NULL); /* mark a failure as retrieved: the group reports it */
  }

  /* Withdraw the cancel we sent (the core also drops it if it is still undelivered). Propagate
   * a cancellation only if one reached us and somebody else's request is still standing. */
  if (tg->parent_cancel_requested) {
    lc__withdraw_cancel(tg->parent); /* not the task's own uncancel: see rt_internal.h */
    tg->parent_cancel_requested = 0;
  }
  if (lc_cancelling(tg->parent) == 0) saw_cancel = 0;
  tg->finished = 1;
  int brc = tg_build_errors(tg);
  if (tg->nerrors > 0) return tg->errors[0].code;
  if (brc < 0) return brc;
  if (tg->nfailed > 0) return tg->failed_codes[0];
  return saw_cancel ? -ECANCELED : 0;
}

/* Every failure, in the order they happened (valid until lc_taskgroup_free). */
size_t lc_taskgroup_errors(const lc_taskgroup *tg, const lc_tg_error **out) {
  if (out) *out = tg->errors;
  return tg->nerrors;
}

/* Free the group after lc_taskgroup_wait. Freed early, it cancels the children still running
 * and detaches them (their wrappers free their own records). */
void lc_taskgroup_free(lc_taskgroup *tg) {
  if (!tg) return;
  for (size_t i = 0; i < tg->nkids; i++) {
    tg_child *c = tg->kids[i];
    int orphan = !lc_task_done(c->task) && !c->finished;
    if (orphan) lc_cancel(c->task);
    lc_task_unref(c->task);
    if (orphan) c->tg = NULL; /* freed by its wrapper, if it ever runs */
    else free(c);
  }
  for (size_t i = 0; i < tg->nfailed; i++)
    if (tg->failed[i]) lc_task_unref(tg->failed[i]);
  for (size_t i = 0; i < tg->nerrors; i++) {
    free((char *)tg->errors[i].task_name);
    free((char *)tg->errors[i].message);
  }
  if (tg->parent_cancel_requested) lc__withdraw_cancel(tg->parent);
  lc_task_unref(tg->parent);
  free(tg->errors);
  free(tg->failed);
  free(tg->failed_codes);
  free(tg->kids);
  free(tg);
}
