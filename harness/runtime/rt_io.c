/* rt_io.c: awaitable fd readiness (lc_io_wait), built only on lc_park/lc_unpark and the backend
 * contract's io ops, so it behaves the same on every backend. */
#include <errno.h>
#include <stddef.h>

#include "rt_internal.h"

struct io_wait {
  lc_waiter w;
  const struct lc_backend *b;
  unsigned revents;
};

/* The first readiness report wakes the task; the watcher is stopped at once so a
 * level-triggered backend does not call again while the task waits to be resumed. */
static void io_wait_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)fd;
  struct io_wait *iw = arg;
  iw->revents |= revents;
  iw->b->io_stop(io);
  lc_unpark(&iw->w, 0);
}

int lc_io_wait(int fd, unsigned events, unsigned *revents) {
  lc_rt *rt = lc_rt_current();
  if (!rt || !lc_current_task()) return -EPERM;
  if (fd < 0 || !lc_io_events_valid(events)) return -EINVAL;
  const struct lc_backend *b = lc_rt_backend(rt);
  if (!b->io_new || !b->io_start || !b->io_stop || !b->io_free) return -ENOTSUP;
  struct io_wait local = {.b = b}, *iw = lc__park_mem(&local, sizeof local);
  if (!iw) return -ENOMEM;
  lc_io *io = NULL;
  int rc = b->io_new(lc_rt_loop(rt), fd, io_wait_cb, iw, &io);
  if (rc == 0) {
    rc = b->io_start(io, events);
    if (rc == 0) rc = lc_park(&iw->w); /* a pending or later cancellation: -ECANCELED */
    b->io_free(io);                    /* taken off the loop before the task goes on */
    if (revents) *revents = rc == 0 ? iw->revents : 0;
  }
  lc__park_mem_free(iw, &local);
  return rc;
}

int lc_wait_readable(int fd) { return lc_io_wait(fd, LC_READABLE, NULL); }
int lc_wait_writable(int fd) { return lc_io_wait(fd, LC_WRITABLE, NULL); }
