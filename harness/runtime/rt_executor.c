/* rt_executor.c: run_in_executor for the runtime: a lazily started pthread pool and a pool of
 * forked worker processes, both reporting back to the loop thread through the backend.
 *
 * Thread pool. Jobs wait in a FIFO under one mutex + condvar; threads are started on demand up
 * to the limit (min(32, cpus + 4) by default) when no idle thread can take a new job. A finished
 * job goes on a "done" list and the worker calls the backend's wakeup_send; the wakeup callback
 * (loop thread) hands each result to its parked task with lc_unpark. Every job in flight holds
 * the loop alive (lc_rt_hold). A cancelled awaiter returns at once: a job still queued is
 * dropped, a running one is marked abandoned and freed by the loop thread when it finishes.
 *
 * Process pool: why fork is safe here. Workers are forked, all of them at once, on the first
 * lc_run_in_process, so that job functions keep their addresses (a pointer into this program is
 * the job's name). A child of a multithreaded process inherits every lock in whatever state the
 * other threads left it, so the fork is done only at a quiet point: from a loop callback (on the
 * loop thread's own stack, not a 64 KiB task stack), while holding the pool mutex and only when
 * no pool thread is running a job (otherwise the pool stops starting jobs and the fork waits for
 * the running ones to finish). Idle pool threads sit in pthread_cond_wait and hold nothing the
 * child uses. The child closes every descriptor but its socket and stdio, and from then on only
 * reads a job, calls the function, writes the reply and _exit()s on EOF: it never returns into
 * the runtime. Other threads of the program (outside this runtime) are the caller's business, as
 * with multiprocessing's "fork" start method. Each worker talks to the loop over a socketpair
 * (send with MSG_NOSIGNAL: a dead worker is an error, not a SIGPIPE); replies are watched with
 * backend io watchers. Requests are written with blocking sends, only ever to an idle worker
 * that is waiting to read, so the loop thread blocks at most for the copy itself.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_internal.h"

#define LC_PROC_MAX_ARG ((size_t)64 << 20) /* bytes copied to a worker per job */

enum job_state { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE };

typedef struct job {
  struct job *next, *prev;
  lc_job_fn fn;
  void *arg; /* thread job: the caller's pointer; process job: our copy of the bytes */
  size_t arg_len;
  intptr_t result;
  int status;                 /* 0, or -errno when the job could not run (worker died, ...) */
  int state;                  /* thread jobs: under ex->mu */
  lc_waiter *waiter;          /* loop thread only; NULL once the awaiter gave up (abandoned) */
  struct proc_worker *worker; /* process job: the worker it was sent to, NULL while pending */
} job;

typedef struct job_list {
  job *head, *tail;
} job_list;

typedef struct proc_worker {
  struct executor *ex;
  pid_t pid;
  int fd; /* our end of the socketpair */
  lc_io *io;
  job *job; /* the job it is running, NULL when idle */
  unsigned char rbuf[16];
  size_t rlen;
  int dead;
} proc_worker;

/* What a worker sends back. */
typedef struct proc_reply {
  int64_t result;
  int64_t status;
} proc_reply;

/* What the loop sends a worker, followed by len bytes. */
typedef struct proc_request {
  lc_job_fn fn;
  uint64_t len;
} proc_request;

enum proc_pool_state { PROC_NONE = 0, PROC_STARTING, PROC_RUNNING };

typedef struct executor {
  lc_rt *rt;
  const struct lc_backend *b;

  /* Thread pool: everything below up to `wakeup` is under mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job_list queue; /* jobs not started yet */
  size_t queued;
  job_list done; /* finished, not yet delivered on the loop thread */
  int idle, running, stopping, fork_pending;
  pthread_t *threads;
  int nthreads, maxthreads;
  lc_wakeup *wakeup; /* created with the first thread job */

  /* Process pool: loop thread only. */
  int proc_state; /* enum proc_pool_state, or -errno once starting failed */
  proc_worker *workers;
  int nworkers, live_workers;
  job_list pending; /* process jobs waiting for an idle worker */
} executor;

/* ---- small helpers ----------------------------------------------------------------------- */

static void list_push(job_list *l, job *j) {
  j->next = NULL;
  j->prev = l->tail;
  if (l->tail) l->tail->next = j;
  else l->head = j;
  l->tail = j;
}

static void list_remove(job_list *l, job *j) {
  if (j->prev) j->prev->next = j->next;
  else l->head = j->next;
  if (j->next) j->next->prev = j->prev;
  else l->tail = j->prev;
  j->next = j->prev = NULL;
}

static job *list_pop(job_list *l) {
  job *j = l->head;
  if (j) list_remove(l, j);
  return j;
}

static int cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void job_free(job *j, int owns_arg) {
  if (owns_arg) free(j->arg);
  free(j);
}

/* Hand a finished job to its awaiter (which then owns it), or free it if it was abandoned. */
static void job_deliver(executor *ex, job *j, int owns_arg) {
  lc_rt_release(ex->rt);
  if (!j->waiter) {
    job_free(j, owns_arg);
  } else if (j->waiter->task == lc_current_task()) {
    /* Failed synchronously inside its own lc_run_in_process, before parking: unparking the
     * running task would leave a stale wakeup behind, so just mark it. */
    j->waiter->woken = 1;
    j->waiter->rc = 0;
  } else {
    lc_unpark(j->waiter, 0);
  }
}

static executor *executor_get(lc_rt *rt, int *err) {
  void **slot = lc_rt_executor_slot(rt);
  if (*slot) return *slot;
  executor *ex = calloc(1, sizeof *ex);
  if (!ex) {
    *err = -ENOMEM;
    return NULL;
  }
  int rc = pthread_mutex_init(&ex->mu, NULL);
  if (rc == 0) {
    rc = pthread_cond_init(&ex->cv, NULL);
    if (rc) pthread_mutex_destroy(&ex->mu);
  }
  if (rc) {
    free(ex);
    *err = -rc;
    return NULL;
  }
  ex->rt = rt;
  ex->b = lc_rt_backend(rt);
  const lc_run_opts *o = lc_rt_opts(rt);
  int cpus = cpu_count();
  ex->maxthreads =
      o && o->executor_threads > 0 ? o->executor_threads : (cpus + 4 < 32 ? cpus + 4 : 32);
  ex->nworkers = o && o->process_workers > 0 ? o->process_workers : cpus;
  *slot = ex;
  return ex;
}

static void proc_try_start(executor *ex);

/* ==== Thread pool ============================================================================ */

static void *pool_thread_main(void *arg) {
  executor *ex = arg;
  pthread_mutex_lock(&ex->mu);
  for (;;) {
    while (!ex->stopping && (!ex->queue.head || ex->fork_pending)) {
      ex->idle++;
      pthread_cond_wait(&ex->cv, &ex->mu);
      ex->idle--;
    }
    if (ex->stopping) break;
    job *j = list_pop(&ex->queue);
    ex->queued--;
    j->state = JOB_RUNNING;
    ex->running++;
    pthread_mutex_unlock(&ex->mu);

    intptr_t r = j->fn(j->arg);

    pthread_mutex_lock(&ex->mu);
    j->result = r;
    j->state = JOB_DONE;
    ex->running--;
    list_push(&ex->done, j);
    pthread_mutex_unlock(&ex->mu);
    ex->b->wakeup_send(ex->wakeup); /* coalesced sends are fine: the callback drains the list */
    pthread_mutex_lock(&ex->mu);
  }
  pthread_mutex_unlock(&ex->mu);
  return NULL;
}

/* Wakeup callback, loop thread: deliver every finished job. */
static void pool_wakeup_cb(lc_wakeup *w, void *arg) {
  (void)w;
  executor *ex = arg;
  pthread_mutex_lock(&ex->mu);
  job_list done = ex->done;
  ex->done.head = ex->done.tail = NULL;
  int fork_now = ex->fork_pending && ex->running == 0;
  pthread_mutex_unlock(&ex->mu);
  job *j;
  while ((j = list_pop(&done)) != NULL) job_deliver(ex, j, 0);
  if (fork_now) proc_try_start(ex);
}

/* Start one more pool thread if no idle thread is free for the queued jobs. Under ex->mu.
 * Returns 0, or -errno if no thread exists at all and none could be started. */
static int pool_maybe_grow(executor *ex) {
  if ((size_t)ex->idle >= ex->queued || ex->nthreads >= ex->maxthreads) return 0;
  if (!ex->threads) {
    ex->threads = calloc((size_t)ex->maxthreads, sizeof *ex->threads);
    if (!ex->threads) return ex->nthreads ? 0 : -ENOMEM;
  }
  /* Pool threads never take signals: they belong to the program's main thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&ex->threads[ex->nthreads], NULL, pool_thread_main, ex);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc == 0) ex->nthreads++;
  return rc == 0 || ex->nthreads > 0 ? 0 : -rc;
}

/* [await] See loopconf/runtime.h. Also -EPERM outside a task, -ENOTSUP on a backend without wakeups,
 * -ENOMEM/-EAGAIN when the pool cannot be set up. */
int lc_run_in_thread(lc_job_fn fn, void *arg, intptr_t *result) {
  lc_rt *rt = lc_rt_current();
  if (!rt || !lc_current_task()) return -EPERM;
  if (!fn) return -EINVAL;
  const struct lc_backend *b = lc_rt_backend(rt);
  if (!b->wakeup_new || !b->wakeup_send || !b->wakeup_free) return -ENOTSUP;
  int err = 0;
  executor *ex = executor_get(rt, &err);
  if (!ex) return err;
  if (!ex->wakeup) {
    int rc = b->wakeup_new(lc_rt_loop(rt), pool_wakeup_cb, ex, &ex->wakeup);
    if (rc) {
      ex->wakeup = NULL;
      return rc;
    }
  }
  job *j = calloc(1, sizeof *j);
  if (!j) return -ENOMEM;
  j->fn = fn;
  j->arg = arg;
  lc_waiter local, *w;
  memset(&local, 0, sizeof local);
  local.task = lc_current_task();
  local.data = j;
  if (!(w = lc__park_mem(&local, sizeof local))) {
    free(j);
    return -ENOMEM;
  }
  j->waiter = w;

  pthread_mutex_lock(&ex->mu);
  list_push(&ex->queue, j);
  ex->queued++;
  int rc = pool_maybe_grow(ex);
  if (rc) {
    list_remove(&ex->queue, j);
    ex->queued--;
    pthread_mutex_unlock(&ex->mu);
    free(j);
    lc__park_mem_free(w, &local);
    return rc;
  }
  pthread_cond_signal(&ex->cv);
  pthread_mutex_unlock(&ex->mu);
  lc_rt_hold(rt);

  rc = lc_park(w);
  if (w->woken) { /* delivered: the job is ours */
    if (rc == 0) {
      rc = j->status;
      if (rc == 0 && result) *result = j->result;
    }
    free(j);
    lc__park_mem_free(w, &local);
    return rc;
  }
  /* Cancelled before the result came back. */
  pthread_mutex_lock(&ex->mu);
  if (j->state == JOB_QUEUED) { /* never started: drop it */
    list_remove(&ex->queue, j);
    ex->queued--;
    pthread_mutex_unlock(&ex->mu);
    free(j);
    lc_rt_release(rt);
    lc__park_mem_free(w, &local);
    return rc;
  }
  pthread_mutex_unlock(&ex->mu);
  j->waiter = NULL; /* running or finished-not-delivered: the wakeup callback frees it */
  lc__park_mem_free(w, &local);
  return rc;
}

/* ==== Process pool =========================================================================== */

static int write_full(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n == 0) return -EPIPE;
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The forked worker: serve jobs until the loop closes its end. Never returns. */
static void proc_worker_main(int fd) {
  /* Keep stdio and our socket; drop every other descriptor inherited from the parent (event
   * loop fds, other workers' sockets) so they close when the parent closes them. */
  if (fd > 3) close_range(3, (unsigned)fd - 1, 0);
  close_range((unsigned)fd + 1, ~0u, 0);
  for (;;) {
    proc_request req;
    if (read_full(fd, &req, sizeof req) != 0) _exit(0);
    proc_reply rep = {0, 0};
    void *buf = NULL;
    if (req.len > 0) {
      buf = malloc((size_t)req.len);
      if (!buf) _exit(1); /* the parent sees EOF and fails the job */
      if (read_full(fd, buf, (size_t)req.len) != 0) _exit(0);
    }
    rep.result = (int64_t)req.fn(buf);
    free(buf);
    if (write_full(fd, &rep, sizeof rep) != 0) _exit(0);
  }
}

static void proc_dispatch(executor *ex);

/* A worker died (EOF or error on its socket): fail its job, reap it. */
static void proc_worker_lost(executor *ex, proc_worker *pw) {
  ex->b->io_free(pw->io);
  pw->io = NULL;
  close(pw->fd);
  pw->fd = -1;
  pw->dead = 1;
  ex->live_workers--;
  int st;
  while (waitpid(pw->pid, &st, 0) < 0 && errno == EINTR) {
  }
  job *j = pw->job;
  pw->job = NULL;
  if (j) {
    j->status = -EPIPE;
    job_deliver(ex, j, 1);
  }
  proc_dispatch(ex); /* with no worker left, this fails the pending jobs */
}

/* io callback: (part of) a reply arrived, or the worker went away. */
static void proc_io_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io;
  (void)revents;
  proc_worker *pw = arg;
  executor *ex = pw->ex;
  ssize_t n = recv(fd, pw->rbuf + pw->rlen, sizeof(proc_reply) - pw->rlen, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0 || !pw->job) { /* EOF, error, or a reply nobody asked for */
    proc_worker_lost(ex, pw);
    return;
  }
  pw->rlen += (size_t)n;
  if (pw->rlen < sizeof(proc_reply)) return;
  proc_reply rep;
  memcpy(&rep, pw->rbuf, sizeof rep);
  pw->rlen = 0;
  job *j = pw->job;
  pw->job = NULL;
  j->result = (intptr_t)rep.result;
  j->status = (int)rep.status;
  job_deliver(ex, j, 1);
  proc_dispatch(ex);
}

/* Send pending jobs to idle workers; with no live worker left, fail them. */
static void proc_dispatch(executor *ex) {
  if (ex->proc_state != PROC_RUNNING) return;
  for (int i = 0; i < ex->nworkers && ex->pending.head; i++) {
    proc_worker *pw = &ex->workers[i];
    if (pw->dead || pw->job) continue;
    job *j = list_pop(&ex->pending);
    proc_request req = {j->fn, j->arg_len};
    int rc = write_full(pw->fd, &req, sizeof req);
    if (rc == 0 && j->arg_len) rc = write_full(pw->fd, j->arg, j->arg_len);
    j->worker = pw;
    pw->job = j;
    if (rc) { /* the worker is gone; its io callback would say so too, say it now */
      proc_worker_lost(ex, pw);
      return;
    }
  }
  if (ex->live_workers == 0) {
    job *j;
    while ((j = list_pop(&ex->pending)) != NULL) {
      j->status = -ECHILD;
      job_deliver(ex, j, 1);
    }
  }
}

/* Fail every pending job with rc (the pool could not start). */
static void proc_fail_pending(executor *ex, int rc) {
  job *j;
  while ((j = list_pop(&ex->pending)) != NULL) {
    j->status = rc;
    job_deliver(ex, j, 1);
  }
}

/* Fork the workers, at a quiet point (see the top of the file). Loop thread, main stack. */
static void proc_try_start(executor *ex) {
  if (ex->proc_state != PROC_STARTING) return;
  pthread_mutex_lock(&ex->mu);
  if (ex->running > 0) { /* pool threads are running jobs: wait for them, start no new ones */
    ex->fork_pending = 1;
    pthread_mutex_unlock(&ex->mu);
    return;
  }
  int rc = 0;
  ex->workers = calloc((size_t)ex->nworkers, sizeof *ex->workers);
  if (!ex->workers) rc = -ENOMEM;
  int made = 0;
  for (; rc == 0 && made < ex->nworkers; made++) {
    proc_worker *pw = &ex->workers[made];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      rc = -errno;
      break;
    }
    pid_t pid = fork();
    if (pid < 0) {
      rc = -errno;
      close(sv[0]);
      close(sv[1]);
      break;
    }
    if (pid == 0) proc_worker_main(sv[1]); /* the child never comes back */
    close(sv[1]);
    pw->ex = ex;
    pw->pid = pid;
    pw->fd = sv[0];
  }
  ex->fork_pending = 0;
  pthread_cond_broadcast(&ex->cv); /* pool threads may take jobs again */
  pthread_mutex_unlock(&ex->mu);

  for (int i = 0; rc == 0 && i < made; i++) {
    proc_worker *pw = &ex->workers[i];
    rc = ex->b->io_new(lc_rt_loop(ex->rt), pw->fd, proc_io_cb, pw, &pw->io);
    if (rc == 0) {
      rc = ex->b->io_start(pw->io, LC_READABLE);
      if (rc) {
        ex->b->io_free(pw->io);
        pw->io = NULL;
      }
    }
  }
  if (rc) { /* undo: close the sockets (workers exit on EOF) and reap them */
    for (int i = 0; i < made; i++) {
      proc_worker *pw = &ex->workers[i];
      if (pw->io) ex->b->io_free(pw->io);
      close(pw->fd);
      int st;
      while (waitpid(pw->pid, &st, 0) < 0 && errno == EINTR) {
      }
    }
    free(ex->workers);
    ex->workers = NULL;
    ex->proc_state = rc;
    proc_fail_pending(ex, rc);
    return;
  }
  ex->live_workers = made;
  ex->proc_state = PROC_RUNNING;
  proc_dispatch(ex);
}

/* call_soon callback: runs on the loop thread's own stack, where the fork happens. */
static void proc_start_cb(void *arg) {
  executor *ex = arg;
  lc_rt_release(ex->rt);
  proc_try_start(ex);
}

/* [await] See loopconf/runtime.h. Also -EPERM outside a task, -ENOTSUP on a backend without io
 * watchers, -E2BIG for more than 64 MiB of argument, -EPIPE when the worker died running the job
 * (it is not replaced), -ECHILD when no worker is left, or the error that stopped the pool from
 * starting. */
int lc_run_in_process(lc_job_fn fn, const void *arg, size_t arg_len, intptr_t *result) {
  lc_rt *rt = lc_rt_current();
  if (!rt || !lc_current_task()) return -EPERM;
  if (!fn || (arg_len > 0 && !arg)) return -EINVAL;
  if (arg_len > LC_PROC_MAX_ARG) return -E2BIG;
  const struct lc_backend *b = lc_rt_backend(rt);
  if (!b->io_new || !b->io_start || !b->io_stop || !b->io_free) return -ENOTSUP;
  int err = 0;
  executor *ex = executor_get(rt, &err);
  if (!ex) return err;
  if (ex->proc_state < 0) return ex->proc_state;
  if (ex->proc_state == PROC_RUNNING && ex->live_workers == 0) return -ECHILD;

  job *j = calloc(1, sizeof *j);
  if (!j) return -ENOMEM;
  if (arg_len) {
    j->arg = malloc(arg_len);
    if (!j->arg) {
      free(j);
      return -ENOMEM;
    }
    memcpy(j->arg, arg, arg_len);
  }
  j->fn = fn;
  j->arg_len = arg_len;
  if (ex->proc_state == PROC_NONE) {
    int rc = lc_call_soon(proc_start_cb, ex);
    if (rc) {
      job_free(j, 1);
      return rc;
    }
    lc_rt_hold(rt); /* until proc_start_cb has run */
    ex->proc_state = PROC_STARTING;
  }
  lc_waiter local, *w;
  memset(&local, 0, sizeof local);
  local.task = lc_current_task();
  local.data = j;
  if (!(w = lc__park_mem(&local, sizeof local))) {
    job_free(j, 1);
    return -ENOMEM;
  }
  j->waiter = w;
  list_push(&ex->pending, j);
  lc_rt_hold(rt);
  proc_dispatch(ex); /* may fail the job at once (worker found dead): then w is marked woken */

  int rc = w->woken ? 0 : lc_park(w);
  if (w->woken) { /* delivered: the job is ours */
    if (rc == 0) {
      rc = j->status;
      if (rc == 0 && result) *result = j->result;
    }
    job_free(j, 1);
    lc__park_mem_free(w, &local);
    return rc;
  }
  if (!j->worker) { /* never sent: drop it */
    list_remove(&ex->pending, j);
    job_free(j, 1);
    lc_rt_release(rt);
    lc__park_mem_free(w, &local);
    return rc;
  }
  j->waiter = NULL; /* running in a worker: freed when its reply (or EOF) arrives */
  lc__park_mem_free(w, &local);
  return rc;
}

/* ==== Shutdown =============================================================================== */

/* Called by lc_run once every task is done, before the loop is freed: join the pool threads,
 * close and reap the worker processes, free every job left and both backend handles. */
void lc__executor_shutdown(lc_rt *rt) {
  void **slot = lc_rt_executor_slot(rt);
  executor *ex = *slot;
  if (!ex) return;

  pthread_mutex_lock(&ex->mu);
  ex->stopping = 1;
  pthread_cond_broadcast(&ex->cv);
  pthread_mutex_unlock(&ex->mu);
  for (int i = 0; i < ex->nthreads; i++) pthread_join(ex->threads[i], NULL); /* running jobs end */
  free(ex->threads);
  /* Threads are gone: no locking needed. Jobs left belong to awaiters that are gone too, except
   * in misuse; those get their job back rather than a dangling pointer. */
  job *j;
  while ((j = list_pop(&ex->done)) != NULL) job_deliver(ex, j, 0);
  while ((j = list_pop(&ex->queue)) != NULL) {
    j->status = -ECANCELED;
    job_deliver(ex, j, 0);
  }
  if (ex->wakeup) ex->b->wakeup_free(ex->wakeup);

  for (int i = 0; ex->workers && i < ex->nworkers; i++) {
    proc_worker *pw = &ex->workers[i];
    if (pw->dead) continue;
    if (pw->io) ex->b->io_free(pw->io);
    close(pw->fd); /* the worker sees EOF after its current job and exits */
  }
  for (int i = 0; ex->workers && i < ex->nworkers; i++) {
    proc_worker *pw = &ex->workers[i];
    if (pw->dead) continue;
    int st;
    while (waitpid(pw->pid, &st, 0) < 0 && errno == EINTR) {
    }
    if ((j = pw->job) != NULL) {
      j->status = -ECANCELED;
      job_deliver(ex, j, 1);
    }
  }
  while ((j = list_pop(&ex->pending)) != NULL) {
    j->status = -ECANCELED;
    job_deliver(ex, j, 1);
  }
  free(ex->workers);
  pthread_cond_destroy(&ex->cv);
  pthread_mutex_destroy(&ex->mu);
  free(ex);
  *slot = NULL;
}
