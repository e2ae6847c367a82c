/* lchttp_server.c: the loopconf HTTP servers (harness/http), one program:
 *   loopconf-http-server runtime --backend B   one task per connection on the runtime's streams
 *   loopconf-http-server threads               a thread per connection (blocking sockets)
 *   loopconf-http-server prefork [--workers N] N pre-forked processes sharing the listen
 *                                              socket, each an epoll loop of its own
 * All three answer with lchttp_proto.c. Each listens on --host (127.0.0.1) --port (0: the kernel
 * picks), prints "lchttp-port <port>" on stdout once it accepts, and exits when its stdin
 * reaches EOF (the driver holds the other end), so sanitizers see a clean shutdown. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "loopconf/runtime.h"
#include "lchttp_proto.h"
#include "loopconf/clock.h"

struct opts {
  const char *kind, *backend, *host;
  long port, workers, max_header_bytes;
  int64_t header_timeout_ns;
};
static struct opts O = {NULL,
                        "reference",
                        "127.0.0.1",
                        0,
                        0,
                        LCHTTP_DEFAULT_MAX_HEADER_BYTES,
                        LCHTTP_DEFAULT_HEADER_TIMEOUT_MS *LC_MS};

static void announce(int port) {
  printf("lchttp-port %d\n", port);
  fflush(stdout);
}

/* 1 if the error is the peer's doing (no report). */
static int peer_error(long rc) {
  return rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT || rc == -ECANCELED || rc == 0;
}

/* ---- runtime: one task per connection -------------------------------------------------- */

static int rt_conn(lc_stream *s, void *arg) {
  (void)arg;
  struct lchttp_conn c;
  lchttp_conn_init(&c, (size_t)O.max_header_bytes);
  lc_timeout to;
  int rc = lc_timeout_enter(&to, O.header_timeout_ns);
  if (rc < 0) {
    lchttp_conn_free(&c);
    return rc;
  }
  unsigned seen = c.window;
  char buf[16384];
  for (;;) {
    ssize_t n = lc_stream_read(s, buf, sizeof buf);
    if (n <= 0) {
      rc = (int)n;
      break;
    }
    int done = lchttp_conn_feed(&c, buf, (size_t)n);
    if (c.out.len) {
      lc_stream_write(s, c.out.data, c.out.len);
      c.out.len = 0;
      rc = lc_stream_drain(s);
      if (rc < 0) break;
    }
    if (done) break;
    /* the header deadline: a fresh one for each new wait, none while a body is read */
    if (!lchttp_conn_waiting(&c)) lc_timeout_reschedule(&to, INT64_MAX);
    else if (c.window != seen) lc_timeout_reschedule(&to, lc_now() + O.header_timeout_ns);
    seen = c.window;
  }
  rc = lc_timeout_exit(&to, rc);
  lchttp_conn_free(&c);
  return peer_error(rc) ? 0 : rc;
}

static int rt_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_server *srv;
  int rc = lc_start_server(O.host, (int)O.port, rt_conn, NULL, &srv);
  if (rc < 0) {
    lch_error("cannot listen on %s:%ld: %s", O.host, O.port, strerror(-rc));
    return rc;
  }
  lc_server_set_name(srv, "http");
  announce(lc_server_port(srv));
  char b[64];
  for (;;) { /* until stdin reaches EOF */
    rc = lc_wait_readable(0);
    if (rc < 0) break;
    ssize_t n = read(0, b, sizeof b);
    if (n <= 0 && !(n < 0 && errno == EINTR)) break;
  }
  lc_server_close(srv);
  /* give open connections a moment to finish; any left are cancelled when main returns */
  lc_timeout to;
  lc_timeout_enter(&to, 2 * LC_S);
  rc = lc_timeout_exit(&to, lc_server_wait_closed(srv));
  if (rc == 0) lc_server_free(srv);
  return 0;
}

/* ---- plain sockets, for the baselines ---------------------------------------------------- */

static int listen_socket(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)O.port);
  if (inet_pton(AF_INET, O.host, &a.sin_addr) != 1) {
    lch_error("--host '%s' is not a numeric IPv4 address", O.host);
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, SOMAXCONN) < 0) {
    lch_error("cannot listen on %s:%ld: %s", O.host, O.port, strerror(errno));
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  announce(ntohs(a.sin_port));
  return fd;
}

static void wait_stdin_eof(void) {
  char b[64];
  for (;;) {
    ssize_t n = read(0, b, sizeof b);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* ---- threads: one per connection, blocking reads with a receive timeout ---------------- */

static void *thread_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  struct timeval tv = {(time_t)(O.header_timeout_ns / LC_S),
                       (suseconds_t)(O.header_timeout_ns % LC_S / 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct lchttp_conn c;
  lchttp_conn_init(&c, (size_t)O.max_header_bytes);
  unsigned seen = c.window;
  int64_t deadline = lc_clock_ns() + O.header_timeout_ns;
  char buf[16384];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* EOF, error, or no byte for a whole header timeout */
    int done = lchttp_conn_feed(&c, buf, (size_t)n);
    if (c.out.len) {
      if (write_all(fd, c.out.data, c.out.len) < 0) break;
      c.out.len = 0;
    }
    if (done) break;
    if (c.window != seen) deadline = lc_clock_ns() + O.header_timeout_ns;
    seen = c.window;
    if (lchttp_conn_waiting(&c) && lc_clock_ns() > deadline) break; /* a trickling client */
  }
  lchttp_conn_free(&c);
  close(fd);
  return NULL;
}

static int threads_main(void) {
  int lfd = listen_socket();
  if (lfd < 0) return 2;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (;;) {
    struct pollfd pf[2] = {{lfd, POLLIN, 0}, {0, POLLIN, 0}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pf[1].revents) {
      char b[64];
      ssize_t n = read(0, b, sizeof b);
      if (n <= 0) break;
    }
    if (!(pf[0].revents & POLLIN)) continue;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) continue;
    pthread_t t;
    if (pthread_create(&t, &attr, thread_conn, (void *)(intptr_t)fd) != 0) close(fd);
  }
  pthread_attr_destroy(&attr);
  close(lfd);
  return 0; /* connection threads still running end with the process */
}

/* ---- prefork: N processes, each an epoll loop over the shared listen socket ------------- */

struct ep_conn {
  struct lchttp_conn c;
  int fd;
  unsigned seen;
  size_t sent;      /* bytes of c.out already written */
  int64_t deadline; /* INT64_MAX: none */
  int closing;
};

static volatile sig_atomic_t worker_stop;
static void on_term(int sig) {
  (void)sig;
  worker_stop = 1;
}

static void ep_close(int ep, struct ep_conn **tab, int fd) {
  struct ep_conn *k = tab[fd];
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  lchttp_conn_free(&k->c);
  free(k);
  tab[fd] = NULL;
}

/* Write what is queued; 1 when all is sent, 0 if the socket is full, -1 on error. */
static int ep_flush(struct ep_conn *k) {
  while (k->sent < k->c.out.len) {
    ssize_t w = send(k->fd, k->c.out.data + k->sent, k->c.out.len - k->sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    k->sent += (size_t)w;
  }
  k->c.out.len = 0;
  k->sent = 0;
  return 1;
}

static void worker(int lfd) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  size_t cap = 1024;
  struct ep_conn **tab = lch_xcalloc(cap, sizeof *tab);
  struct epoll_event evs[256];
  int64_t next_sweep = lc_clock_ns() + 100 * LC_MS;
  char buf[16384];
  while (!worker_stop) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          if ((size_t)cfd >= cap) {
            size_t ncap = (size_t)cfd * 2;
            tab = lch_xrealloc(tab, ncap * sizeof *tab);
            memset(tab + cap, 0, (ncap - cap) * sizeof *tab);
            cap = ncap;
          }
          int one = 1;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct ep_conn *k = lch_xcalloc(1, sizeof *k);
          lchttp_conn_init(&k->c, (size_t)O.max_header_bytes);
          k->fd = cfd;
          k->seen = k->c.window;
          k->deadline = lc_clock_ns() + O.header_timeout_ns;
          tab[cfd] = k;
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      struct ep_conn *k = tab[fd];
      if (!k) continue;
      if (k->c.out.len) { /* EPOLLOUT: finish the pending write first */
        int f = ep_flush(k);
        if (f < 0 || (f == 1 && k->closing)) {
          ep_close(ep, tab, fd);
          continue;
        }
        if (f == 0) continue;
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
      }
      ssize_t r = recv(fd, buf, sizeof buf, 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        ep_close(ep, tab, fd);
        continue;
      }
      k->closing = lchttp_conn_feed(&k->c, buf, (size_t)r);
      int f = ep_flush(k);
      if (f < 0 || (f == 1 && k->closing)) {
        ep_close(ep, tab, fd);
        continue;
      }
      if (f == 0) { /* the peer reads slowly: stop reading until the queue is sent */
        struct epoll_event cev = {.events = EPOLLOUT, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
      }
      if (!lchttp_conn_waiting(&k->c)) k->deadline = INT64_MAX;
      else if (k->c.window != k->seen) k->deadline = lc_clock_ns() + O.header_timeout_ns;
      k->seen = k->c.window;
    }
    int64_t now = lc_clock_ns();
    if (now >= next_sweep) { /* header timeouts, checked ten times a second */
      for (size_t fd = 0; fd < cap; fd++)
        if (tab[fd] && tab[fd]->deadline <= now) ep_close(ep, tab, (int)fd);
      next_sweep = now + 100 * LC_MS;
    }
  }
  for (size_t fd = 0; fd < cap; fd++)
    if (tab[fd]) ep_close(ep, tab, (int)fd);
  free(tab);
  close(ep);
}

static int prefork_main(void) {
  int lfd = listen_socket();
  if (lfd < 0) return 2;
  fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
  long n = O.workers > 0 ? O.workers : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  pid_t *pids = lch_xcalloc((size_t)n, sizeof *pids);
  for (long i = 0; i < n; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      close(0);
      worker(lfd);
      _exit(0);
    }
  }
  wait_stdin_eof();
  for (long i = 0; i < n; i++)
    if (pids[i] > 0) kill(pids[i], SIGTERM);
  int bad = 0;
  for (long i = 0; i < n; i++) {
    int st = 0;
    if (pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i] &&
        !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
      bad = 1;
  }
  free(pids);
  close(lfd);
  if (bad) lch_error("a prefork worker did not exit cleanly");
  return bad;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *out) {
  fputs(
      "usage: loopconf-http-server runtime|threads|prefork [options]\n"
      "  --backend NAME|PATH       the runtime's backend (runtime only; default reference)\n"
      "  --host ADDR               numeric IPv4 address to listen on (default 127.0.0.1)\n"
      "  --port N                  port (default 0: the kernel picks; printed on stdout)\n"
      "  --workers N               prefork processes (default: online cores)\n"
      "  --header-timeout-ms MS    time a request's headers may take (default 10000)\n"
      "  --max-header-bytes N      URL + header bytes before 431 (default 8192)\n"
      "Prints \"lchttp-port N\" once listening; exits when stdin reaches EOF.\n",
      out);
}

int main(int argc, char **argv) {
  lch_set_program("loopconf-http-server");
  static const struct option longopts[] = {{"backend", required_argument, NULL, 'b'},
                                           {"host", required_argument, NULL, 'H'},
                                           {"port", required_argument, NULL, 'p'},
                                           {"workers", required_argument, NULL, 'w'},
                                           {"header-timeout-ms", required_argument, NULL, 't'},
                                           {"max-header-bytes", required_argument, NULL, 'm'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int ch;
  long ms;
  while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'b': O.backend = optarg; break;
    case 'H': O.host = optarg; break;
    case 'p':
      if (lch_parse_long(optarg, "--port", 0, 65535, &O.port)) return 2;
      break;
    case 'w':
      if (lch_parse_long(optarg, "--workers", 1, 256, &O.workers)) return 2;
      break;
    case 't':
      if (lch_parse_long(optarg, "--header-timeout-ms", 1, 3600000, &ms)) return 2;
      O.header_timeout_ns = ms * LC_MS;
      break;
    case 'm':
      if (lch_parse_long(optarg, "--max-header-bytes", 64, 1 << 24, &O.max_header_bytes)) return 2;
      break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind != argc - 1) {
    lch_error("expected one server kind: runtime, threads or prefork (see --help)");
    return 2;
  }
  O.kind = argv[optind];
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(O.kind, "threads") == 0) return threads_main();
  if (strcmp(O.kind, "prefork") == 0) return prefork_main();
  if (strcmp(O.kind, "runtime") != 0) {
    lch_error("unknown server kind '%s' (runtime, threads or prefork)", O.kind);
    return 2;
  }
  const struct lc_backend *b = lch_backend_open(O.backend);
  if (!b) return 2;
  intptr_t res = 0;
  int rc = lc_run(b, NULL, rt_main, NULL, &res);
  if (rc < 0) {
    lch_error("the runtime server failed: %s", strerror(-rc));
    return 1;
  }
  return 0;
}
