/* stream_test.c: unit tests of awaitable readiness (rt_io.c) and the stream buffer logic
 * (rt_stream.c) over socketpairs and loopback sockets. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopconf/runtime.h"

#include "rt_test.h"

static int open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the directory's own fd */
}

static void put(int fd, const char *s) {
  CHECK_EQ(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* ==== lc_io_wait ============================================================================ */

struct iow {
  int fd;
  int rc;
  unsigned rev;
};

static int iow_task(void *arg, intptr_t *result) {
  struct iow *w = arg;
  w->rc = lc_io_wait(w->fd, LC_READABLE, &w->rev);
  *result = 0;
  return w->rc == -ECANCELED ? w->rc : 0;
}

static int t_io_wait(void *arg, intptr_t *result) {
  (void)arg;
  int sv[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  CHECK_EQ(lc_io_wait(sv[0], 0, NULL), -EINVAL);
  CHECK_EQ(lc_io_wait(-1, LC_READABLE, NULL), -EINVAL);
  unsigned rev = 0;
  CHECK_EQ(lc_io_wait(sv[0], LC_WRITABLE, &rev), 0);
  CHECK(rev & LC_WRITABLE);
  struct iow w = {.fd = sv[0], .rc = 99};
  lc_task *t = lc_spawn(iow_task, &w, "waiter");
  for (int i = 0; i < 5; i++) lc_yield();
  CHECK_EQ(w.rc, 99); /* nothing to read yet */
  put(sv[1], "x");
  lc_await(t, NULL);
  lc_task_unref(t);
  CHECK_EQ(w.rc, 0);
  CHECK(w.rev & LC_READABLE);
  char c;
  CHECK_EQ(read(sv[0], &c, 1), 1);
  /* Cancelled while waiting: -ECANCELED at once, and the watcher is gone (the loop ends). */
  w.rc = 99;
  t = lc_spawn(iow_task, &w, "cancelled");
  lc_yield();
  lc_yield();
  lc_cancel(t);
  lc_await(t, NULL);
  lc_task_unref(t);
  CHECK_EQ(w.rc, -ECANCELED);
  close(sv[0]);
  close(sv[1]);
  *result = 0;
  return 0;
}

static void test_io_wait(void **state) {
  (void)state;
  run_main(t_io_wait, NULL);
}

/* ==== Reading ================================================================================ */

static int t_readuntil(void *arg, intptr_t *result) {
  (void)arg;
  int sv[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  lc_stream *s = lc_stream_adopt(sv[0]);
  CHECK(s != NULL);
  char buf[64];
  size_t partial = 0;
  put(sv[1], "ab||cd");
  ssize_t n = lc_stream_readuntil(s, "||", 2, buf, sizeof buf, &partial);
  CHECK_EQ(n, 4);
  CHECK(memcmp(buf, "ab||", 4) == 0);
  /* A separator split across two arrivals is still found. */
  put(sv[1], "e|");
  lc_sleep(LC_MS);
  put(sv[1], "|f");
  n = lc_stream_readuntil(s, "||", 2, buf, sizeof buf, &partial);
  CHECK_EQ(n, 5);
  CHECK(memcmp(buf, "cde||", 5) == 0);
  /* Limit 4: a separator found beyond the limit -> -EMSGSIZE, consumed = its offset, and
   * nothing is consumed. */
  CHECK_EQ(lc_stream_set_limit(s, 4), 0);
  put(sv[1], "ghijk\n");
  lc_sleep(LC_MS);
  n = lc_stream_readuntil(s, "\n", 1, buf, sizeof buf, &partial);
  CHECK_EQ(n, -EMSGSIZE);
  CHECK_EQ(partial, 6); /* "fghijk" before the separator */
  CHECK_EQ(lc_stream_buffered(s), 7);
  /* readline drops the over-long line, then the next line is read. */
  put(sv[1], "ok\n");
  lc_sleep(LC_MS);
  CHECK_EQ(lc_stream_readline(s, buf, sizeof buf), -EMSGSIZE);
  n = lc_stream_readline(s, buf, sizeof buf);
  CHECK_EQ(n, 3);
  CHECK(memcmp(buf, "ok\n", 3) == 0);
  /* Separator not found and the buffer is past the limit: -EMSGSIZE, nothing consumed. */
  put(sv[1], "0123456789");
  lc_sleep(LC_MS);
  n = lc_stream_readuntil(s, "\n", 1, buf, sizeof buf, &partial);
  CHECK_EQ(n, -EMSGSIZE);
  CHECK_EQ(lc_stream_buffered(s), 10);
  CHECK_EQ(lc_stream_set_limit(s, 64 * 1024), 0);
  /* EOF without the separator: -ENODATA with everything as the partial read. */
  shutdown(sv[1], SHUT_WR);
  n = lc_stream_readuntil(s, "\n", 1, buf, sizeof buf, &partial);
  CHECK_EQ(n, -ENODATA);
  CHECK_EQ(partial, 10);
  CHECK(memcmp(buf, "0123456789", 10) == 0);
  CHECK(lc_stream_at_eof(s));
  CHECK_EQ(lc_stream_read(s, buf, sizeof buf), 0);
  CHECK_EQ(lc_stream_readline(s, buf, sizeof buf), 0);
  lc_stream_free(s);
  close(sv[1]);
  *result = 0;
  return 0;
}

static void test_readuntil(void **state) {
  (void)state;
  run_main(t_readuntil, NULL);
}

static int t_readexactly(void *arg, intptr_t *result) {
  (void)arg;
  int sv[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  lc_stream *s = lc_stream_adopt(sv[0]);
  char buf[16];
  size_t partial = 99;
  put(sv[1], "abcdefg");
  CHECK_EQ(lc_stream_readexactly(s, buf, 4, &partial), 4);
  CHECK(memcmp(buf, "abcd", 4) == 0);
  close(sv[1]);
  CHECK_EQ(lc_stream_readexactly(s, buf, 8, &partial), -ENODATA);
  CHECK_EQ(partial, 3);
  CHECK(memcmp(buf, "efg", 3) == 0);
  CHECK(lc_stream_at_eof(s));
  lc_stream_free(s);
  *result = 0;
  return 0;
}

static void test_readexactly(void **state) {
  (void)state;
  run_main(t_readexactly, NULL);
}

struct rd {
  lc_stream *s;
  ssize_t rc;
  char buf[16];
};

static int readexactly_task(void *arg, intptr_t *result) {
  struct rd *r = arg;
  r->rc = lc_stream_readexactly(r->s, r->buf, 10, NULL);
  *result = 0;
  return r->rc == -ECANCELED ? -ECANCELED : 0;
}

/* Bytes that arrived before a read was cancelled are returned by the next read. */
static int t_cancel_keeps_data(void *arg, intptr_t *result) {
  (void)arg;
  int sv[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  struct rd r = {.s = lc_stream_adopt(sv[0])};
  lc_task *t = lc_spawn(readexactly_task, &r, "reader");
  lc_yield();
  put(sv[1], "abc");
  lc_sleep(2 * LC_MS); /* the bytes reach the stream's buffer while the reader waits for 10 */
  CHECK_EQ(lc_stream_buffered(r.s), 3);
  lc_cancel(t);
  lc_await(t, NULL);
  lc_task_unref(t);
  CHECK_EQ(r.rc, -ECANCELED);
  /* A concurrent second reader is refused while one waits; none waits now. */
  char buf[16];
  CHECK_EQ(lc_stream_read(r.s, buf, sizeof buf), 3);
  CHECK(memcmp(buf, "abc", 3) == 0);
  /* Timeout scope around a read: -ETIMEDOUT, later data still read. */
  lc_timeout to;
  CHECK_EQ(lc_timeout_enter(&to, 5 * LC_MS), 0);
  ssize_t n = lc_stream_read(r.s, buf, sizeof buf);
  CHECK_EQ(lc_timeout_exit(&to, (int)n), -ETIMEDOUT);
  put(sv[1], "z");
  CHECK_EQ(lc_stream_read(r.s, buf, sizeof buf), 1);
  lc_stream_free(r.s);
  close(sv[1]);
  *result = 0;
  return 0;
}

static void test_cancel_keeps_data(void **state) {
  (void)state;
  run_main(t_cancel_keeps_data, NULL);
}

/* ==== Writing ================================================================================ */

struct dr {
  lc_stream *s;
  int rc;
};

static int drain_task(void *arg, intptr_t *result) {
  struct dr *d = arg;
  d->rc = lc_stream_drain(d->s);
  *result = 0;
  return d->rc == -ECANCELED ? d->rc : 0;
}

static int t_drain(void *arg, intptr_t *result) {
  (void)arg;
  int sv[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  lc_stream *s = lc_stream_adopt(sv[0]);
  CHECK_EQ(lc_stream_set_write_limits(s, 8, 16), -EINVAL);
  CHECK_EQ(lc_stream_set_write_limits(s, 16384, 4096), 0);
  static char chunk[8192];
  memset(chunk, 'w', sizeof chunk);
  size_t written = 0;
  while (lc_stream_write_buffered(s) <= 16384) {
    CHECK_EQ(lc_stream_write(s, chunk, sizeof chunk), 0);
    written += sizeof chunk;
  }
  CHECK(lc_stream_write_buffered(s) <= 16384 + sizeof chunk);
  /* Nobody reads: drain waits. Cancel it: the queue is untouched. */
  struct dr d = {.s = s, .rc = 99};
  lc_task *t = lc_spawn(drain_task, &d, "drainer");
  lc_sleep(5 * LC_MS);
  CHECK_EQ(d.rc, 99);
  size_t queued = lc_stream_write_buffered(s);
  lc_cancel(t);
  lc_await(t, NULL);
  lc_task_unref(t);
  CHECK_EQ(d.rc, -ECANCELED);
  CHECK_EQ(lc_stream_write_buffered(s), queued);
  /* Drain again while the peer reads everything: returns once at the low-water mark, and every
   * byte arrives. */
  d.rc = 99;
  t = lc_spawn(drain_task, &d, "drainer2");
  size_t got = 0;
  char rb[4096];
  lc_stream_close(s); /* sends what is queued, then closes */
  while (got < written) {
    lc_yield();
    ssize_t n = recv(sv[1], rb, sizeof rb, MSG_DONTWAIT);
    if (n > 0) {
      for (ssize_t i = 0; i < n; i++) CHECK_EQ(rb[i], 'w');
      got += (size_t)n;
    } else if (n == 0) {
      break;
    }
  }
  CHECK_EQ(got, written);
  lc_await(t, NULL);
  lc_task_unref(t);
  CHECK(d.rc == 0 || d.rc == -EPIPE);
  CHECK_EQ(lc_stream_wait_closed(s), 0);
  CHECK_EQ(lc_stream_fd(s), -1);
  lc_stream_free(s);
  close(sv[1]);
  *result = 0;
  return 0;
}

static void test_drain(void **state) {
  (void)state;
  run_main(t_drain, NULL);
}

static int t_peer_closed(void *arg, intptr_t *result) {
  (void)arg;
  int sv[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  lc_stream *s = lc_stream_adopt(sv[0]);
  close(sv[1]);
  int rc = 0;
  for (int i = 0; i < 100 && rc == 0; i++) {
    rc = lc_stream_write(s, "data", 4);
    if (rc == 0) rc = lc_stream_drain(s);
  }
  CHECK(rc == -EPIPE || rc == -ECONNRESET);
  CHECK_EQ(lc_stream_drain(s), rc);
  lc_stream_free(s);
  *result = 0;
  return 0;
}

static void test_peer_closed(void **state) {
  (void)state;
  run_main(t_peer_closed, NULL);
}

/* ==== Connecting ============================================================================= */

struct conn {
  int port;
  int rc;
  lc_stream *s;
};

static int connect_task(void *arg, intptr_t *result) {
  struct conn *c = arg;
  c->rc = lc_open_connection("127.0.0.1", c->port, &c->s);
  *result = 0;
  return c->rc == -ECANCELED ? c->rc : 0;
}

static int echo_once(lc_stream *s, void *arg) {
  (void)arg;
  char buf[64];
  ssize_t n = lc_stream_readline(s, buf, sizeof buf);
  if (n > 0) lc_stream_write(s, buf, (size_t)n);
  return 0;
}

static int t_connect(void *arg, intptr_t *result) {
  (void)arg;
  /* A bound socket that does not listen: the connection is refused. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t al = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &al);
  lc_stream *s = NULL;
  CHECK_EQ(lc_open_connection("127.0.0.1", ntohs(a.sin_port), &s), -ECONNREFUSED);
  close(fd);
  CHECK_EQ(lc_open_connection("localhost", 80, &s), -EINVAL);

  lc_server *srv = NULL;
  CHECK_EQ(lc_start_server("127.0.0.1", 0, echo_once, NULL, &srv), 0);
  int port = lc_server_port(srv);
  CHECK(port > 0);
  /* A connect cancelled while it waits leaves no fd open. */
  struct conn c = {.port = port, .rc = 99};
  lc_task *t = lc_spawn(connect_task, &c, "connector");
  lc_cancel(t); /* before its first step: never runs */
  lc_await(t, NULL);
  lc_task_unref(t);
  c.rc = 99;
  int before = open_fds();
  t = lc_spawn(connect_task, &c, "connector2");
  lc_yield(); /* it runs up to its wait for writability */
  lc_cancel(t);
  lc_await(t, NULL);
  lc_task_unref(t);
  CHECK_EQ(c.rc, -ECANCELED); /* loopback TCP connects are EINPROGRESS: it was waiting */
  for (int i = 0; i < 5; i++) lc_yield(); /* the server drops what it accepted */
  CHECK_EQ(open_fds(), before);
  /* Echo through IPv4. */
  CHECK_EQ(lc_open_connection("127.0.0.1", port, &s), 0);
  CHECK_EQ(lc_stream_write(s, "hi\n", 3), 0);
  char buf[8];
  CHECK_EQ(lc_stream_readexactly(s, buf, 3, NULL), 3);
  CHECK(memcmp(buf, "hi\n", 3) == 0);
  CHECK_EQ(lc_stream_read(s, buf, sizeof buf), 0); /* the handler returned: closed */
  lc_stream_free(s);
  lc_server_close(srv);
  CHECK_EQ(lc_server_wait_closed(srv), 0);
  CHECK_EQ(lc_server_free(srv), 0);
  *result = 0;
  return 0;
}

static void test_connect(void **state) {
  (void)state;
  run_main(t_connect, NULL);
}

/* Kernel receive timestamps: the stamp is the bytes' arrival, not their read, so a loop kept
 * busy after they arrived shows as their wait; a stream that did not ask has no stamp. */
static int t_rx_time(void *arg, intptr_t *result) {
  (void)arg;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  CHECK_EQ(listen(lfd, 4), 0);
  socklen_t al = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &al);
  lc_stream *s = NULL, *plain = NULL;
  CHECK_EQ(lc_open_connection("127.0.0.1", ntohs(a.sin_port), &s), 0);
  int peer = accept(lfd, NULL, NULL);
  CHECK_EQ(lc_open_connection("127.0.0.1", ntohs(a.sin_port), &plain), 0);
  int peer2 = accept(lfd, NULL, NULL);
  CHECK(peer >= 0 && peer2 >= 0);
  CHECK_EQ(lc_stream_rx_timestamps(NULL), -EINVAL);
  CHECK_EQ(lc_stream_rx_time(s), 0);
  CHECK_EQ(lc_stream_rx_timestamps(s), 0);
  char buf[8];
  /* The kernel turns stamping on from a work queue: segments that arrive before it has run are
   * not stamped (0). Wait for the first stamp. */
  for (int i = 0; i < 1000 && lc_stream_rx_time(s) == 0; i++) {
    put(peer, "x");
    CHECK_EQ(lc_stream_readexactly(s, buf, 1, NULL), 1);
    if (lc_stream_rx_time(s) == 0) lc_sleep(LC_MS);
  }
  CHECK(lc_stream_rx_time(s) != 0);
  for (int round = 0; round < 2; round++) {
    int64_t before = lc_now();
    put(peer, "abc");
    put(peer2, "abc");
    int64_t after = lc_now();
    /* keep the loop from running for 30 ms: the bytes wait in the socket */
    while (lc_now() - after < 30 * LC_MS) {
    }
    CHECK_EQ(lc_stream_readexactly(s, buf, 3, NULL), 3);
    CHECK_EQ(lc_stream_readexactly(plain, buf, 3, NULL), 3);
    int64_t fin = lc_now(), rx = lc_stream_rx_time(s);
    /* the two clocks are read a few ns apart: 1 ms covers that and a slow machine's preemption */
    if ((rx < before - LC_MS || rx > after + tol(LC_MS)) && !g_fail[0])
      snprintf(g_fail, sizeof g_fail, "round %d: stamp %.3f ms from the send (sent within %.3f ms)",
               round, (double)(rx - before) / 1e6, (double)(after - before) / 1e6);
    CHECK(fin - rx >= 30 * LC_MS - LC_MS); /* the wait is seen */
    CHECK_EQ(lc_stream_rx_time(plain), 0);
  }
  lc_stream_free(s);
  lc_stream_free(plain);
  close(peer);
  close(peer2);
  close(lfd);
  *result = 0;
  return 0;
}

static void test_rx_time(void **state) {
  (void)state;
  run_main(t_rx_time, NULL);
}

/* Out of fds: the server stops accepting for a second instead of spinning on a listener that
 * stays ready, then serves the waiting connection. */
static int t_emfile(void *arg, intptr_t *result) {
  (void)arg;
  lc_server *srv = NULL;
  CHECK_EQ(lc_start_server("127.0.0.1", 0, echo_once, NULL, &srv), 0);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                          .sin_port = htons((uint16_t)lc_server_port(srv))};
  struct rlimit old;
  CHECK_EQ(lch_fds_exhaust(&old), 0); /* harness/common: accept gets EMFILE */
  CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0); /* completes in the backlog */
  int64_t c0 = lch_process_cpu_ns();
  lc_sleep(300 * LC_MS); /* accept fails with EMFILE meanwhile */
  int64_t spent = lch_process_cpu_ns() - c0;
  CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  CHECK(spent < tol(100 * LC_MS)); /* a spinning loop would burn the whole 300 ms */
  CHECK_EQ(send(fd, "hi\n", 3, MSG_NOSIGNAL), 3);
  int64_t t0 = lc_now();
  lc_timeout to;
  lc_timeout_enter(&to, tol(3000 * LC_MS));
  int rc = lc_wait_readable(fd);
  CHECK_EQ(lc_timeout_exit(&to, rc), 0);
  char buf[8];
  CHECK_EQ(recv(fd, buf, sizeof buf, MSG_DONTWAIT), 3);
  CHECK(lc_now() - t0 < tol(2000 * LC_MS));
  close(fd);
  lc_server_close(srv);
  CHECK_EQ(lc_server_wait_closed(srv), 0);
  CHECK_EQ(lc_server_free(srv), 0);
  *result = 0;
  return 0;
}

static void test_emfile(void **state) {
  (void)state;
  run_main(t_emfile, NULL);
}

/* A peer that aborts (SO_LINGER 0: RST): the bytes it sent first are read, then -ECONNRESET. */
static int reset_handler(lc_stream *s, void *arg) {
  (void)arg;
  lc_stream_write(s, "abc", 3);
  lc_sleep(20 * LC_MS);
  struct linger lg = {1, 0};
  setsockopt(lc_stream_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  return 0;
}

static int t_reset(void *arg, intptr_t *result) {
  (void)arg;
  lc_server *srv = NULL;
  CHECK_EQ(lc_start_server("127.0.0.1", 0, reset_handler, NULL, &srv), 0);
  lc_stream *c = NULL;
  CHECK_EQ(lc_open_connection("127.0.0.1", lc_server_port(srv), &c), 0);
  char buf[8];
  CHECK_EQ(lc_stream_read(c, buf, sizeof buf), 3);
  CHECK_EQ(lc_stream_read(c, buf, sizeof buf), -ECONNRESET);
  CHECK_EQ(lc_stream_read(c, buf, sizeof buf), -ECONNRESET);
  CHECK(lc_stream_at_eof(c));
  int rc = lc_stream_write(c, "x", 1);
  if (rc == 0) rc = lc_stream_drain(c);
  CHECK(rc == -ECONNRESET || rc == -EPIPE);
  lc_stream_free(c);
  lc_server_close(srv);
  CHECK_EQ(lc_server_wait_closed(srv), 0);
  CHECK_EQ(lc_server_free(srv), 0);
  *result = 0;
  return 0;
}

static void test_reset(void **state) {
  (void)state;
  run_main(t_reset, NULL);
}

/* A backend without io ops: every stream call says -ENOTSUP. */
static int t_no_io(void *arg, intptr_t *result) {
  (void)arg;
  int sv[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  CHECK_EQ(lc_io_wait(sv[0], LC_READABLE, NULL), -ENOTSUP);
  CHECK_EQ(lc_wait_writable(sv[0]), -ENOTSUP);
  errno = 0;
  CHECK(lc_stream_adopt(sv[0]) == NULL);
  CHECK_EQ(errno, ENOTSUP);
  lc_stream *s = NULL;
  CHECK_EQ(lc_open_connection("127.0.0.1", 1, &s), -ENOTSUP);
  lc_server *srv = NULL;
  CHECK_EQ(lc_start_server("127.0.0.1", 0, echo_once, NULL, &srv), -ENOTSUP);
  close(sv[0]);
  close(sv[1]);
  *result = 0;
  return 0;
}

static void test_no_io(void **state) {
  (void)state;
  struct lc_backend b = *g_backend;
  b.io_new = NULL;
  b.io_start = NULL;
  b.io_stop = NULL;
  b.io_free = NULL;
  lc_run_opts opts = {0};
  run_main_on(&b, &opts, t_no_io, NULL);
}

/* Outside a task the awaits refuse. */
static void test_outside_task(void **state) {
  (void)state;
  CHECK_EQ(lc_io_wait(0, LC_READABLE, NULL), -EPERM);
  lc_stream *s = NULL;
  CHECK_EQ(lc_open_connection("127.0.0.1", 1, &s), -EPERM);
  errno = 0;
  assert_null(lc_stream_adopt(0));
  assert_int_equal(errno, EPERM);
  if (g_fail[0]) fail_msg("%s", g_fail);
}

int main(void) {
  if (rt_test_load_backend("stream_test") != 0) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_io_wait),      cmocka_unit_test(test_readuntil),
      cmocka_unit_test(test_readexactly),  cmocka_unit_test(test_cancel_keeps_data),
      cmocka_unit_test(test_drain),        cmocka_unit_test(test_peer_closed),
      cmocka_unit_test(test_connect),      cmocka_unit_test(test_no_io),
      cmocka_unit_test(test_outside_task), cmocka_unit_test(test_emfile),
      cmocka_unit_test(test_reset),        cmocka_unit_test(test_rx_time),
  };
  return cmocka_run_group_tests_name("runtime.stream", tests, NULL, NULL);
}
