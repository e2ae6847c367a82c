/* rt_stream.c: asyncio-style streams (StreamReader + StreamWriter in one object) and servers,
 * built only on parking (rt_internal.h), lc_spawn and the backend contract's io ops.
 *
 * Each stream owns one io watcher whose interest follows its state: readable while the read
 * buffer is below twice the limit (or a reader waits for more), writable while bytes are queued.
 * The watcher's callback moves bytes between the socket and the buffers and wakes waiters; tasks
 * only ever take bytes out of the read buffer. So a read that is cancelled never drops data: what
 * arrived stays buffered for the next read, and a cancelled drain leaves the queue as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "rt_internal.h"

#define DEFAULT_LIMIT ((size_t)64 * 1024) /* asyncio streams' _DEFAULT_LIMIT */
#define DEFAULT_HIGH ((size_t)64 * 1024)  /* asyncio transports' write buffer limits */
#define RECV_CHUNK ((size_t)64 * 1024)    /* asyncio's max_size per recv */
#define ACCEPTS_PER_CALLBACK 64
#define ACCEPT_RETRY_NS LC_S /* out of fds: stop accepting this long (asyncio's 1 s) */

/* A FIFO of parked waiters. */
typedef struct wlist {
  lc_waiter *head, *tail;
} wlist;

static void wl_push(wlist *l, lc_waiter *w) {
  w->next = NULL;
  w->prev = l->tail;
  if (l->tail) l->tail->next = w;
  else l->head = w;
  l->tail = w;
}

static void wl_remove(wlist *l, lc_waiter *w) {
  if (w->prev) w->prev->next = w->next;
  else if (l->head == w) l->head = w->next;
  else return; /* not linked */
  if (w->next) w->next->prev = w->prev;
  else l->tail = w->prev;
  w->next = w->prev = NULL;
}

/* Wake every waiter with rc and empty the list (each removes itself again: a no-op). */
static void wl_wake_all(wlist *l, int rc) {
  lc_waiter *w = l->head;
  l->head = l->tail = NULL;
  while (w) {
    lc_waiter *next = w->next;
    w->next = w->prev = NULL;
    lc_unpark(w, rc);
    w = next;
  }
}

/* Park the current task on l until woken; always unlinked afterwards. */
static int wl_park(wlist *l) {
  lc_waiter local = {0}, *w = lc__park_mem(&local, sizeof local);
  if (!w) return -ENOMEM;
  wl_push(l, w);
  int rc = lc_park(w);
  wl_remove(l, w);
  lc__park_mem_free(w, &local);
  return rc;
}

/* A byte buffer: data lives in [head, head + len) of mem[cap]. */
typedef struct bbuf {
  unsigned char *mem;
  size_t head, len, cap;
} bbuf;

/* Room for `more` bytes after the data; 0 or -ENOMEM. */
static int bb_reserve(bbuf *b, size_t more) {
  if (b->head + b->len + more <= b->cap) return 0;
  if (b->head > 0) {
    memmove(b->mem, b->mem + b->head, b->len);
    b->head = 0;
    if (b->len + more <= b->cap) return 0;
  }
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  unsigned char *m = realloc(b->mem, cap);
  if (!m) return -ENOMEM;
  b->mem = m;
  b->cap = cap;
  return 0;
}

static unsigned char *bb_data(const bbuf *b) { return b->mem + b->head; }

static void bb_consume(bbuf *b, size_t n) {
  b->head += n;
  b->len -= n;
  if (b->len == 0) b->head = 0;
}

/* First occurrence of sep in b's data at or after offset, or -1. */
static ssize_t bb_find(const bbuf *b, size_t offset, const unsigned char *sep, size_t seplen) {
  if (b->len < seplen || offset > b->len - seplen) return -1;
  const unsigned char *d = bb_data(b);
  void *p = memmem(d + offset, b->len - offset, sep, seplen);
  return p ? (ssize_t)((const unsigned char *)p - d) : -1;
}

struct lc_stream {
  lc_rt *rt;
  const struct lc_backend *b;
  int fd;
  lc_io *io;
  unsigned interest; /* what io is started with (0: stopped) */
  /* reading */
  bbuf rb;
  size_t limit;
  int eof;         /* the peer sent EOF or the connection failed */
  int rerr;        /* the error that ended reading (-ECONNRESET ...), reported after the data */
  int want_more;   /* a reader waits: read past twice the limit */
  int rx_stamps;   /* lc_stream_rx_timestamps: recv through recvmsg, keeping rx_time */
  int64_t rx_time; /* the newest read bytes' arrival, lc_now() clock; 0: no stamp */
  lc_waiter *reader;
  /* writing */
  bbuf wb;
  size_t high, low;
  int werr; /* the error that ended writing */
  int eof_queued, eof_sent;
  wlist drainers;
  /* closing */
  int closing, closed;
  int close_rc;
  wlist closers;
  /* server connections */
  lc_server *srv;
  struct lc_stream *srv_prev, *srv_next;
};

struct lc_server {
  lc_rt *rt;
  const struct lc_backend *b;
  int fd;
  lc_io *io;
  lc_timer *retry; /* restarts accepting after EMFILE and friends */
  int port;
  char name[32];
  char unix_path[sizeof((struct sockaddr_un *)0)->sun_path];
  lc_conn_fn fn;
  void *arg;
  unsigned long accepted;
  size_t nconn;
  lc_stream *conns;
  int closed;
  wlist closers;
};

static int have_io(const struct lc_backend *b) {
  return b && b->io_new && b->io_start && b->io_stop && b->io_free;
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  return 0;
}

/* ==== Stream I/O (loop callbacks) ========================================================== */

static void stream_update(lc_stream *s);

/* Close the fd and wake wait_closed. */
static void stream_finish_close(lc_stream *s) {
  if (s->closed) return;
  if (s->io) {
    s->b->io_free(s->io);
    s->io = NULL;
    s->interest = 0;
  }
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  s->closed = 1;
  s->eof = 1;
  if (s->close_rc == 0) s->close_rc = s->werr ? s->werr : 0;
  wl_wake_all(&s->drainers, s->werr ? s->werr : -EPIPE);
  if (s->reader) lc_unpark(s->reader, 0);
  wl_wake_all(&s->closers, 0);
}

/* The connection is lost for writing (and, since the peer is gone, for reading). */
static void stream_lost(lc_stream *s, int err) {
  if (!s->werr) s->werr = err;
  s->wb.len = s->wb.head = 0;
  wl_wake_all(&s->drainers, s->werr);
  if (s->closing) stream_finish_close(s);
}

/* Send what is queued; wake drainers once at or below the low-water mark. */
static void stream_flush(lc_stream *s) {
  while (s->wb.len > 0 && !s->werr) {
    ssize_t n = send(s->fd, bb_data(&s->wb), s->wb.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      stream_lost(s, -errno);
      return;
    }
    bb_consume(&s->wb, (size_t)n);
  }
  if (s->wb.len <= s->low) wl_wake_all(&s->drainers, 0);
  if (s->wb.len == 0) {
    if (s->eof_queued && !s->eof_sent) {
      s->eof_sent = 1;
      if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN) stream_lost(s, -errno);
    }
    if (s->closing) stream_finish_close(s);
  }
}

/* recv, keeping the kernel's stamp of the newest segment read (SCM_TIMESTAMPNS, wall-clock
 * time) in s->rx_time on the lc_now() clock: now less how long ago the stamp was by the wall
 * clock, so a wall-clock step costs only what falls between the arrival and this read. */
static ssize_t recv_stamped(lc_stream *s, void *dst, size_t cap) {
  struct iovec iov = {.iov_base = dst, .iov_len = cap};
  union {
    char buf[CMSG_SPACE(3 * sizeof(struct timespec))];
    struct cmsghdr align;
  } ctl;
  struct msghdr m = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  ssize_t n = recvmsg(s->fd, &m, MSG_DONTWAIT);
  if (n <= 0) return n;
  s->rx_time = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    struct timespec ts, wall;
    memcpy(&ts, CMSG_DATA(c), sizeof ts);
    if (ts.tv_sec == 0 && ts.tv_nsec == 0) break;
    int64_t now = lc_now();
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t ago = (wall.tv_sec - ts.tv_sec) * LC_S + (wall.tv_nsec - ts.tv_nsec);
    s->rx_time = now - (ago > 0 ? ago : 0);
    break;
  }
  return n;
}

/* One recv into the read buffer. */
static void stream_fill(lc_stream *s) {
  if (bb_reserve(&s->rb, RECV_CHUNK) != 0) {
    s->rerr = -ENOMEM;
    s->eof = 1;
    return;
  }
  ssize_t n;
  do {
    unsigned char *dst = s->rb.mem + s->rb.head + s->rb.len;
    n = s->rx_stamps ? recv_stamped(s, dst, RECV_CHUNK)
                     : recv(s->fd, dst, RECV_CHUNK, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    s->rb.len += (size_t)n;
  } else if (n == 0) {
    s->eof = 1;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
    s->rerr = -errno;
    s->eof = 1;
    if (!s->werr && (errno == ECONNRESET || errno == EPIPE)) stream_lost(s, -errno);
  }
  if (s->reader) lc_unpark(s->reader, 0);
}

static void stream_io_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io;
  (void)fd;
  lc_stream *s = arg;
  if ((s->interest & LC_READABLE) && (revents & (LC_READABLE | LC_IO_ERROR))) stream_fill(s);
  if (!s->closed && (s->interest & LC_WRITABLE) && (revents & (LC_WRITABLE | LC_IO_ERROR)))
    stream_flush(s);
  if (!s->closed) stream_update(s);
}

/* Start/stop the watcher to match the stream's state. */
static void stream_update(lc_stream *s) {
  if (s->closed || !s->io) return;
  unsigned want = 0;
  if (!s->eof && !s->closing && (s->rb.len < 2 * s->limit || s->want_more)) want |= LC_READABLE;
  if (s->wb.len > 0 && !s->werr) want |= LC_WRITABLE;
  if (want == s->interest) return;
  int rc = want ? s->b->io_start(s->io, want) : s->b->io_stop(s->io);
  if (rc) {
    /* The loop cannot watch this fd: the connection is unusable. */
    s->rerr = s->rerr ? s->rerr : rc;
    s->eof = 1;
    stream_lost(s, rc);
    if (s->reader) lc_unpark(s->reader, 0);
    return;
  }
  s->interest = want;
}

static lc_stream *stream_new(lc_rt *rt, int fd) {
  lc_stream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->rt = rt;
  s->b = lc_rt_backend(rt);
  s->fd = fd;
  s->limit = DEFAULT_LIMIT;
  s->high = DEFAULT_HIGH;
  s->low = DEFAULT_HIGH / 4;
  int rc = s->b->io_new(lc_rt_loop(rt), fd, stream_io_cb, s, &s->io);
  if (rc) {
    free(s);
    errno = -rc;
    return NULL;
  }
  stream_update(s);
  return s;
}

lc_stream *lc_stream_adopt(int fd) {
  lc_rt *rt = lc_rt_current();
  if (!rt) {
    errno = EPERM;
    return NULL;
  }
  if (!have_io(lc_rt_backend(rt))) {
    errno = ENOTSUP;
    return NULL;
  }
  int rc = set_nonblock(fd);
  if (rc) {
    errno = -rc;
    return NULL;
  }
  return stream_new(rt, fd);
}

/* ==== Connecting =========================================================================== */

static int parse_inet(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  if (!host || port < 0 || port > 65535) return -EINVAL;
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof *in4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof *in6;
    return 0;
  }
  return -EINVAL; /* not numeric: no blocking name lookup on the loop thread */
}

static int parse_unix(const char *path, struct sockaddr_storage *ss, socklen_t *len) {
  struct sockaddr_un *un = (struct sockaddr_un *)ss;
  if (!path || !*path || strlen(path) >= sizeof un->sun_path) return -EINVAL;
  memset(ss, 0, sizeof *ss);
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, path, strlen(path) + 1);
  *len = (socklen_t)sizeof *un;
  return 0;
}

static int connect_to(const struct sockaddr_storage *ss, socklen_t len, lc_stream **out) {
  lc_rt *rt = lc_rt_current();
  if (!rt || !lc_current_task()) return -EPERM;
  if (!out) return -EINVAL;
  if (!have_io(lc_rt_backend(rt))) return -ENOTSUP;
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (ss->ss_family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
  int rc = 0;
  if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
    if (errno == EINPROGRESS) {
      rc = lc_io_wait(fd, LC_WRITABLE, NULL); /* cancelled: the fd is closed below */
      if (rc == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
        rc = -err;
      }
    } else {
      rc = -errno;
    }
  }
  if (rc == 0) {
    lc_stream *s = stream_new(rt, fd);
    if (s) {
      *out = s;
      return 0;
    }
    rc = -errno;
  }
  close(fd);
  return rc;
}

int lc_open_connection(const char *host, int port, lc_stream **out) {
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = parse_inet(host, port, &ss, &len);
  return rc ? rc : connect_to(&ss, len, out);
}

int lc_open_unix_connection(const char *path, lc_stream **out) {
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = parse_unix(path, &ss, &len);
  return rc ? rc : connect_to(&ss, len, out);
}

/* ==== Reading ============================================================================== */

/* Park the (only) reader until the callback adds data, EOF or an error. */
static int wait_data(lc_stream *s) {
  if (s->reader) return -EBUSY; /* asyncio: "another coroutine is already waiting" */
  lc_waiter local = {0}, *w = lc__park_mem(&local, sizeof local);
  if (!w) return -ENOMEM;
  s->reader = w;
  s->want_more = 1;
  stream_update(s);
  int rc = lc_park(w);
  s->reader = NULL;
  s->want_more = 0;
  stream_update(s);
  lc__park_mem_free(w, &local);
  return rc;
}

static int reader_check(lc_stream *s) {
  if (!s) return -EINVAL;
  if (!lc_current_task()) return -EPERM;
  if (s->reader) return -EBUSY;
  return 0;
}

/* After the data: the error that ended reading, else 0 (EOF). */
static int eof_code(const lc_stream *s) { return s->rerr; }

ssize_t lc_stream_read(lc_stream *s, void *buf, size_t n) {
  int rc = reader_check(s);
  if (rc) return rc;
  if (n == 0) return 0;
  while (s->rb.len == 0 && !s->eof) {
    rc = wait_data(s);
    if (rc) return rc;
  }
  if (s->rb.len == 0) return eof_code(s);
  size_t k = s->rb.len < n ? s->rb.len : n;
  memcpy(buf, bb_data(&s->rb), k);
  bb_consume(&s->rb, k);
  stream_update(s);
  return (ssize_t)k;
}

ssize_t lc_stream_readexactly(lc_stream *s, void *buf, size_t n, size_t *partial) {
  int rc = reader_check(s);
  if (partial) *partial = 0;
  if (rc) return rc;
  while (s->rb.len < n) {
    if (s->eof) {
      size_t k = s->rb.len;
      memcpy(buf, bb_data(&s->rb), k);
      bb_consume(&s->rb, k);
      if (partial) *partial = k;
      stream_update(s);
      return s->rerr && k == 0 ? s->rerr : -ENODATA; /* IncompleteReadError */
    }
    rc = wait_data(s); /* cancelled: what arrived stays buffered */
    if (rc) return rc;
  }
  if (n) memcpy(buf, bb_data(&s->rb), n);
  bb_consume(&s->rb, n);
  stream_update(s);
  return (ssize_t)n;
}

ssize_t lc_stream_readuntil(lc_stream *s, const void *sep, size_t seplen, void *buf, size_t cap,
                            size_t *partial) {
  int rc = reader_check(s);
  if (partial) *partial = 0;
  if (rc) return rc;
  if (!sep || seplen == 0 || cap < seplen) return -EINVAL;
  size_t limit = s->limit < cap - seplen ? s->limit : cap - seplen;
  size_t offset = 0;
  ssize_t isep;
  for (;;) {
    if (s->rb.len >= seplen + offset) {
      isep = bb_find(&s->rb, offset, sep, seplen);
      if (isep >= 0) break;
      offset = s->rb.len + 1 - seplen;
      if (offset > limit) { /* LimitOverrunError: separator not found within the limit */
        if (partial) *partial = offset;
        return -EMSGSIZE;
      }
    }
    if (s->eof) { /* IncompleteReadError: everything buffered, consumed */
      size_t k = s->rb.len < cap ? s->rb.len : cap;
      memcpy(buf, bb_data(&s->rb), k);
      bb_consume(&s->rb, s->rb.len);
      if (partial) *partial = k;
      stream_update(s);
      return s->rerr && k == 0 ? s->rerr : -ENODATA;
    }
    rc = wait_data(s);
    if (rc) return rc;
  }
  if ((size_t)isep > limit) { /* LimitOverrunError: found, but the chunk is too long */
    if (partial) *partial = (size_t)isep;
    return -EMSGSIZE;
  }
  size_t k = (size_t)isep + seplen;
  memcpy(buf, bb_data(&s->rb), k);
  bb_consume(&s->rb, k);
  stream_update(s);
  return (ssize_t)k;
}

ssize_t lc_stream_readline(lc_stream *s, void *buf, size_t cap) {
  size_t partial = 0;
  ssize_t n = lc_stream_readuntil(s, "\n", 1, buf, cap, &partial);
  if (n == -ENODATA) return (ssize_t)partial; /* the last, unterminated line (or 0) */
  if (n == -EMSGSIZE) {
    /* asyncio: drop the over-long line if its end is buffered, else the whole buffer. */
    if (partial < s->rb.len && bb_data(&s->rb)[partial] == '\n') bb_consume(&s->rb, partial + 1);
    else bb_consume(&s->rb, s->rb.len);
    stream_update(s);
  }
  return n;
}

int lc_stream_at_eof(const lc_stream *s) { return s && s->eof && s->rb.len == 0; }
size_t lc_stream_buffered(const lc_stream *s) { return s ? s->rb.len : 0; }

int lc_stream_set_limit(lc_stream *s, size_t limit) {
  if (!s || limit == 0) return -EINVAL;
  s->limit = limit;
  stream_update(s);
  return 0;
}

/* ==== Writing ============================================================================== */

int lc_stream_write(lc_stream *s, const void *data, size_t n) {
  if (!s || (!data && n)) return -EINVAL;
  if (s->werr) return s->werr;
  if (s->closing || s->closed || s->eof_queued) return -EPIPE;
  if (n == 0) return 0;
  const unsigned char *p = data;
  if (s->wb.len == 0) { /* nothing queued: try the kernel first, as asyncio's transport */
    while (n > 0) {
      ssize_t k = send(s->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (k < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        int e = -errno;
        stream_lost(s, e);
        stream_update(s);
        return e;
      }
      p += k;
      n -= (size_t)k;
    }
    if (n == 0) return 0;
  }
  int rc = bb_reserve(&s->wb, n);
  if (rc) return rc;
  memcpy(s->wb.mem + s->wb.head + s->wb.len, p, n);
  s->wb.len += n;
  stream_update(s);
  return 0;
}

int lc_stream_drain(lc_stream *s) {
  if (!s) return -EINVAL;
  if (!lc_current_task()) return -EPERM;
  if (s->werr) return s->werr;
  if (s->closed) return -EPIPE;
  if (s->wb.len <= s->high) return 0; /* not paused: asyncio returns without suspending */
  int rc = 0;
  while (s->wb.len > s->low && !s->werr && !s->closed) {
    rc = wl_park(&s->drainers); /* cancelled: the queue is left as it is */
    if (rc) return rc;
  }
  return s->werr ? s->werr : 0;
}

int lc_stream_set_write_limits(lc_stream *s, size_t high, size_t low) {
  if (!s || low > high) return -EINVAL;
  s->high = high;
  s->low = low;
  if (s->wb.len <= s->low) wl_wake_all(&s->drainers, 0);
  return 0;
}

size_t lc_stream_write_buffered(const lc_stream *s) { return s ? s->wb.len : 0; }

int lc_stream_write_eof(lc_stream *s) {
  if (!s) return -EINVAL;
  if (s->werr) return s->werr;
  if (s->closing || s->closed) return -EPIPE;
  if (s->eof_queued) return 0;
  s->eof_queued = 1;
  if (s->wb.len == 0) stream_flush(s);
  return s->werr;
}

/* ==== Closing ============================================================================== */

void lc_stream_close(lc_stream *s) {
  if (!s || s->closing || s->closed) return;
  s->closing = 1;
  if (s->reader) lc_unpark(s->reader, 0);
  if (s->wb.len == 0 || s->werr) stream_finish_close(s);
  else stream_update(s); /* stop reading; the callback closes once the queue is sent */
}

int lc_stream_wait_closed(lc_stream *s) {
  if (!s) return -EINVAL;
  if (!lc_current_task()) return -EPERM;
  while (!s->closed) {
    int rc = wl_park(&s->closers);
    if (rc) return rc;
  }
  return s->close_rc;
}

void lc_stream_free(lc_stream *s) {
  if (!s) return;
  s->closing = 1;
  stream_finish_close(s);
  free(s->rb.mem);
  free(s->wb.mem);
  free(s);
}

int lc_stream_fd(const lc_stream *s) { return s ? s->fd : -1; }

int lc_stream_rx_timestamps(lc_stream *s) {
  if (!s) return -EINVAL;
  if (s->fd < 0) return -EBADF;
  int on = 1;
  if (setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) return -errno;
  s->rx_stamps = 1;
  return 0;
}

int64_t lc_stream_rx_time(const lc_stream *s) { return s ? s->rx_time : 0; }

/* ==== Servers ============================================================================== */

static void server_conn_done(lc_server *srv, lc_stream *s) {
  if (s->srv_prev) s->srv_prev->srv_next = s->srv_next;
  else srv->conns = s->srv_next;
  if (s->srv_next) s->srv_next->srv_prev = s->srv_prev;
  srv->nconn--;
  if (srv->closed && srv->nconn == 0) wl_wake_all(&srv->closers, 0);
}

/* One connection's task: the user's handler, then close (sending what is queued) and free. */
static int conn_task(void *arg, intptr_t *result) {
  lc_stream *s = arg;
  lc_server *srv = s->srv;
  int rc = srv->fn(s, srv->arg);
  lc_stream_close(s);
  if (!s->closed) (void)lc_stream_wait_closed(s); /* cancelled: freed below anyway */
  server_conn_done(srv, s);
  lc_stream_free(s);
  *result = 0;
  return rc;
}

static void server_accept_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io;
  (void)revents;
  lc_server *srv = arg;
  for (int i = 0; i < ACCEPTS_PER_CALLBACK && !srv->closed; i++) {
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the listener would stay ready and spin the loop. As
       * asyncio, stop accepting for a second; queued connections wait in the backlog. */
      fprintf(stderr, "loopconf runtime: server %s: accept: %s; retrying in 1 s\n", srv->name,
              strerror(errno));
      if (srv->b->io_stop(srv->io) == 0 && srv->b->timer_start(srv->retry, ACCEPT_RETRY_NS, 0))
        srv->b->io_start(srv->io, LC_READABLE);
      return;
    }
    if (!srv->unix_path[0]) setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    lc_stream *s = stream_new(srv->rt, cfd);
    if (!s) {
      close(cfd);
      continue;
    }
    s->srv = srv;
    char name[48];
    snprintf(name, sizeof name, "%s-%lu", srv->name, ++srv->accepted);
    lc_task *t = lc_spawn(conn_task, s, name);
    if (!t) {
      lc_stream_free(s);
      continue;
    }
    lc_task_unref(t); /* detached: conn_task frees the stream */
    s->srv_next = srv->conns;
    if (srv->conns) srv->conns->srv_prev = s;
    srv->conns = s;
    srv->nconn++;
  }
}

static void server_retry_cb(lc_timer *timer, void *arg) {
  (void)timer;
  lc_server *srv = arg;
  if (!srv->closed) srv->b->io_start(srv->io, LC_READABLE);
}

static int server_start(const struct sockaddr_storage *ss, socklen_t len, const char *unix_path,
                        lc_conn_fn fn, void *arg, lc_server **out) {
  lc_rt *rt = lc_rt_current();
  if (!rt) return -EPERM;
  if (!fn || !out) return -EINVAL;
  const struct lc_backend *b = lc_rt_backend(rt);
  if (!have_io(b)) return -ENOTSUP;
  lc_server *srv = calloc(1, sizeof *srv);
  if (!srv) return -ENOMEM;
  srv->rt = rt;
  srv->b = b;
  srv->fn = fn;
  srv->arg = arg;
  srv->port = -1;
  snprintf(srv->name, sizeof srv->name, "conn");
  int rc = 0;
  srv->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (srv->fd < 0) {
    rc = -errno;
    free(srv);
    return rc;
  }
  if (ss->ss_family != AF_UNIX) {
    setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
    if (ss->ss_family == AF_INET6)
      setsockopt(srv->fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){1}, sizeof(int));
  }
  if (bind(srv->fd, (const struct sockaddr *)ss, len) < 0 || listen(srv->fd, SOMAXCONN) < 0) {
    rc = -errno;
    goto fail;
  }
  if (unix_path) {
    snprintf(srv->unix_path, sizeof srv->unix_path, "%s", unix_path);
  } else {
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    if (getsockname(srv->fd, (struct sockaddr *)&got, &gl) == 0)
      srv->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                  : ((struct sockaddr_in *)&got)->sin_port);
  }
  rc = b->timer_new(lc_rt_loop(rt), server_retry_cb, srv, &srv->retry);
  if (rc) goto fail;
  rc = b->io_new(lc_rt_loop(rt), srv->fd, server_accept_cb, srv, &srv->io);
  if (rc) {
    b->timer_free(srv->retry);
    goto fail;
  }
  rc = b->io_start(srv->io, LC_READABLE);
  if (rc) {
    b->io_free(srv->io);
    b->timer_free(srv->retry);
    goto fail;
  }
  *out = srv;
  return 0;
fail:
  close(srv->fd);
  if (unix_path && rc != -EADDRINUSE) unlink(unix_path);
  free(srv);
  return rc;
}

int lc_start_server(const char *host, int port, lc_conn_fn fn, void *arg, lc_server **out) {
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = parse_inet(host, port, &ss, &len);
  return rc ? rc : server_start(&ss, len, NULL, fn, arg, out);
}

int lc_start_unix_server(const char *path, lc_conn_fn fn, void *arg, lc_server **out) {
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = parse_unix(path, &ss, &len);
  return rc ? rc : server_start(&ss, len, path, fn, arg, out);
}

int lc_server_set_name(lc_server *srv, const char *name) {
  if (!srv || !name || !*name || strlen(name) >= sizeof srv->name) return -EINVAL;
  memcpy(srv->name, name, strlen(name) + 1);
  return 0;
}

int lc_server_port(const lc_server *srv) { return srv ? srv->port : -1; }
size_t lc_server_connections(const lc_server *srv) { return srv ? srv->nconn : 0; }

void lc_server_close(lc_server *srv) {
  if (!srv || srv->closed) return;
  srv->closed = 1;
  srv->b->io_free(srv->io);
  srv->io = NULL;
  srv->b->timer_free(srv->retry);
  srv->retry = NULL;
  close(srv->fd); /* pending, unaccepted connections are reset: nobody will serve them */
  srv->fd = -1;
  if (srv->unix_path[0]) unlink(srv->unix_path);
  if (srv->nconn == 0) wl_wake_all(&srv->closers, 0);
}

int lc_server_wait_closed(lc_server *srv) {
  if (!srv) return -EINVAL;
  if (!lc_current_task()) return -EPERM;
  while (!srv->closed || srv->nconn > 0) {
    int rc = wl_park(&srv->closers);
    if (rc) return rc;
  }
  return 0;
}

int lc_server_free(lc_server *srv) {
  if (!srv) return 0;
  if (srv->nconn > 0) return -EBUSY;
  lc_server_close(srv);
  free(srv);
  return 0;
}
