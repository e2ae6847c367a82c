/* lchttp_client.c: a small blocking HTTP/1.1 client for the verifier and the bad-input checks
 * of `loopconf http` (never for load: wrk and the open-loop client do that). */
#include "lchttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lchttp_proto.h"
#include "loopconf/backend.h"
#include "loopconf/clock.h"

int lchttp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int lchttp_send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Read more bytes within the deadline: >0, 0 at EOF, -ETIMEDOUT, -errno. */
static ssize_t fill(int fd, struct lchttp_rbuf *rb, int64_t deadline) {
  if (rb->len == sizeof rb->data) return -EMSGSIZE;
  for (;;) {
    int64_t left = deadline - lc_clock_ns();
    if (left <= 0) return -ETIMEDOUT;
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, (int)(left / LC_MS) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r == 0) continue;
    ssize_t n = recv(fd, rb->data + rb->len, sizeof rb->data - rb->len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    rb->len += (size_t)n;
    return n;
  }
}

static void header_value(const char *line, size_t n, char *out, size_t cap) {
  const char *colon = memchr(line, ':', n);
  if (!colon) return;
  const char *v = colon + 1;
  while (v < line + n && (*v == ' ' || *v == '\t')) v++;
  size_t vl = (size_t)(line + n - v);
  while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
  if (vl >= cap) vl = cap - 1;
  memcpy(out, v, vl);
  out[vl] = 0;
}

int lchttp_read_resp(int fd, struct lchttp_rbuf *rb, struct lchttp_resp *r, int timeout_ms) {
  memset(r, 0, sizeof *r);
  r->clen = -1;
  int64_t deadline = lc_clock_ns() + (int64_t)timeout_ms * LC_MS;
  char *end;
  while (!(end = memmem(rb->data, rb->len, "\r\n\r\n", 4))) {
    ssize_t n = fill(fd, rb, deadline);
    if (n == 0) return -ENODATA;
    if (n < 0) return (int)n;
  }
  size_t hlen = (size_t)(end - rb->data) + 4;
  char *p = rb->data, *lim = end;
  char *eol = memmem(p, (size_t)(lim - p) + 2, "\r\n", 2);
  if (sscanf(p, "HTTP/1.%*[01] %d", &r->status) != 1) return -EPROTO;
  p = eol + 2;
  while (p < lim) {
    eol = memmem(p, (size_t)(lim - p) + 2, "\r\n", 2);
    size_t n = (size_t)(eol - p);
    char v[64] = "";
    if (n > 7 && strncasecmp(p, "Server:", 7) == 0) header_value(p, n, r->server, sizeof r->server);
    else if (n > 5 && strncasecmp(p, "Date:", 5) == 0) header_value(p, n, r->date, sizeof r->date);
    else if (n > 13 && strncasecmp(p, "Content-Type:", 13) == 0)
      header_value(p, n, r->ctype, sizeof r->ctype);
    else if (n > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
      header_value(p, n, v, sizeof v);
      char *e;
      r->clen = strtol(v, &e, 10);
      if (*e || r->clen < 0) return -EPROTO;
    } else if (n > 11 && strncasecmp(p, "Connection:", 11) == 0) {
      header_value(p, n, v, sizeof v);
      r->conn_close = strcasecmp(v, "close") == 0;
    }
    p = eol + 2;
  }
  size_t body = r->clen > 0 ? (size_t)r->clen : 0;
  while (rb->len < hlen + body) {
    ssize_t n = fill(fd, rb, deadline);
    if (n == 0) return -ENODATA;
    if (n < 0) return (int)n;
  }
  r->blen = body < sizeof r->body - 1 ? body : sizeof r->body - 1;
  memcpy(r->body, rb->data + hlen, r->blen);
  r->body[r->blen] = 0;
  memmove(rb->data, rb->data + hlen + body, rb->len - hlen - body);
  rb->len -= hlen + body;
  return 0;
}

int lchttp_wait_closed(int fd, int timeout_ms, size_t *extra) {
  int64_t deadline = lc_clock_ns() + (int64_t)timeout_ms * LC_MS;
  size_t got = 0;
  char b[4096];
  for (;;) {
    int64_t left = deadline - lc_clock_ns();
    if (left <= 0) break;
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, (int)(left / LC_MS) + 1);
    if (r <= 0) continue;
    ssize_t n = recv(fd, b, sizeof b, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      if (extra) *extra = got;
      return got ? -EPROTO : 0;
    }
    if (n > 0) got += (size_t)n;
  }
  if (extra) *extra = got;
  return -ETIMEDOUT;
}

/* ---- the verifier ------------------------------------------------------------------------ */

static void problem(struct lch_strlist *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(struct lch_strlist *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lch_strlist_push(l, lch_xvasprintf(fmt, ap));
  va_end(ap);
}

/* Check one response against the route it answers. */
static void check_resp(const struct lchttp_resp *r, const char *path, const char *what,
                       struct lch_strlist *pr) {
  int json = strcmp(path, "/json") == 0;
  const char *body = json ? LCHTTP_JSON_BODY : LCHTTP_PLAINTEXT_BODY;
  const char *type = json ? "application/json" : "text/plain";
  if (r->status != 200) problem(pr, "%s: GET %s: status %d, not 200", what, path, r->status);
  if (!r->server[0]) problem(pr, "%s: GET %s: no Server header", what, path);
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *e = strptime(r->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!e || *e) problem(pr, "%s: GET %s: Date '%s' is not an RFC 7231 date", what, path, r->date);
  if (strncmp(r->ctype, type, strlen(type)) != 0)
    problem(pr, "%s: GET %s: Content-Type '%s', not %s", what, path, r->ctype, type);
  if (r->clen != (long)strlen(body))
    problem(pr, "%s: GET %s: Content-Length %ld, not %zu", what, path, r->clen, strlen(body));
  else if (strcmp(r->body, body) != 0)
    problem(pr, "%s: GET %s: body '%s', not '%s'", what, path, r->body, body);
  if (r->conn_close)
    problem(pr, "%s: GET %s: Connection: close on a keep-alive request", what, path);
}

void lchttp_verify(int port, int dates, struct lch_strlist *pr) {
  int fd = lchttp_connect(port);
  if (fd < 0) {
    problem(pr, "cannot connect to port %d: %s", port, strerror(-fd));
    return;
  }
  static struct lchttp_rbuf rb;
  rb.len = 0;
  struct lchttp_resp r;
  const char *paths[] = {"/plaintext", "/json"};
  int rc;
  /* keep-alive: several requests one after another on one connection */
  for (int i = 0; i < 4; i++) {
    char req[128];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", paths[i % 2]);
    if ((rc = lchttp_send_all(fd, req, strlen(req))) < 0 ||
        (rc = lchttp_read_resp(fd, &rb, &r, 5000)) < 0) {
      problem(pr, "keep-alive: request %d on one connection: %s", i + 1, strerror(-rc));
      close(fd);
      return;
    }
    check_resp(&r, paths[i % 2], i ? "keep-alive" : "first request", pr);
  }
  char first_date[64];
  snprintf(first_date, sizeof first_date, "%s", r.date);
  /* pipelining: three requests in one write, answered in order */
  const char *pipe_req =
      "GET /json HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "GET /json HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const char *pipe_paths[] = {"/json", "/plaintext", "/json"};
  if ((rc = lchttp_send_all(fd, pipe_req, strlen(pipe_req))) < 0) {
    problem(pr, "pipelining: send: %s", strerror(-rc));
  } else {
    for (int i = 0; i < 3; i++) {
      if ((rc = lchttp_read_resp(fd, &rb, &r, 5000)) < 0) {
        problem(pr, "pipelining: response %d of 3: %s", i + 1, strerror(-rc));
        break;
      }
      check_resp(&r, pipe_paths[i], "pipelining (in order)", pr);
    }
  }
  /* an unknown path: 404 on the same connection, which stays open */
  const char *nf = "GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n";
  if ((rc = lchttp_send_all(fd, nf, strlen(nf))) < 0 ||
      (rc = lchttp_read_resp(fd, &rb, &r, 5000)) < 0)
    problem(pr, "GET /nope: %s", strerror(-rc));
  else if (r.status != 404) problem(pr, "GET /nope: status %d, not 404", r.status);
  if (dates) { /* the Date header changes within 3 s (TechEmpower's rule); we wait 1.1 s */
    struct timespec ts = {1, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    const char *req = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n";
    if ((rc = lchttp_send_all(fd, req, strlen(req))) < 0 ||
        (rc = lchttp_read_resp(fd, &rb, &r, 5000)) < 0)
      problem(pr, "Date check: %s", strerror(-rc));
    else if (strcmp(r.date, first_date) == 0)
      problem(pr, "Date did not change in 1.1 s ('%s')", r.date);
  }
  /* Connection: close is honoured: the response says so and the server closes */
  const char *cl = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if ((rc = lchttp_send_all(fd, cl, strlen(cl))) < 0 ||
      (rc = lchttp_read_resp(fd, &rb, &r, 5000)) < 0)
    problem(pr, "Connection: close: %s", strerror(-rc));
  else if (!r.conn_close) problem(pr, "Connection: close: the response lacks Connection: close");
  else if (lchttp_wait_closed(fd, 5000, NULL) != 0)
    problem(pr, "Connection: close: the server did not close the connection within 5 s");
  close(fd);
}

/* ---- bad input ------------------------------------------------------------------------- */

/* Send req on a new connection; expect status `want` and then the server closing. */
static void expect_reject(int port, const char *what, const char *req, size_t n, int want,
                          struct lch_strlist *pr) {
  int fd = lchttp_connect(port);
  if (fd < 0) {
    problem(pr, "%s: cannot connect: %s", what, strerror(-fd));
    return;
  }
  static struct lchttp_rbuf rb;
  rb.len = 0;
  struct lchttp_resp r;
  int rc = lchttp_send_all(fd, req, n);
  /* a server may close before reading all of an oversized request: the reply still counts */
  if (rc < 0 && rc != -ECONNRESET && rc != -EPIPE) problem(pr, "%s: send: %s", what, strerror(-rc));
  rc = lchttp_read_resp(fd, &rb, &r, 5000);
  if (rc < 0) problem(pr, "%s: no %d response: %s", what, want, strerror(-rc));
  else if (r.status != want) problem(pr, "%s: status %d, not %d", what, r.status, want);
  else if ((rc = lchttp_wait_closed(fd, 5000, NULL)) != 0)
    problem(pr, "%s: the connection was not closed after the %d (%s)", what, want,
            rc == -ETIMEDOUT ? "still open after 5 s" : "more bytes came");
  close(fd);
}

static int64_t ms_since(int64_t t0) { return (lc_clock_ns() - t0) / LC_MS; }

void lchttp_bad_input(int port, long timeout_ms, double mult, int (*alive)(void *ud), void *ud,
                      struct lch_strlist *pr, int verbose) {
  size_t before = pr->n;
  /* a bystander: a keep-alive connection used before and after every attack */
  static struct lchttp_rbuf brb;
  brb.len = 0;
  int by = lchttp_connect(port);
  struct lchttp_resp r;
  const char *get = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n";
  int rc;
#define BYSTANDER(stage)                                                                 \
  do {                                                                                   \
    if (by >= 0 && ((rc = lchttp_send_all(by, get, strlen(get))) < 0 ||                  \
                    (rc = lchttp_read_resp(by, &brb, &r, 5000)) < 0 || r.status != 200)) \
      problem(pr, "bystander connection broken after %s: %s", stage,                     \
              rc < 0 ? strerror(-rc) : "status not 200");                                \
    if (!alive(ud)) problem(pr, "the server process died after %s", stage);              \
  } while (0)
  if (by < 0) problem(pr, "cannot connect: %s", strerror(-by));
  BYSTANDER("connecting");

  /* malformed requests: 400 and close */
  const char *bad[] = {"GARBAGE\r\n\r\n", "GET /plaintext HTTP/9.9\r\n\r\n",
                       "GET /plaintext HTTP/1.1\r\nNo colon here\r\n\r\n",
                       "GET /plaintext HTTP/1.1\r\nContent-Length: x\r\n\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char what[64];
    snprintf(what, sizeof what, "malformed request %zu", i + 1);
    expect_reject(port, what, bad[i], strlen(bad[i]), 400, pr);
  }
  /* a malformed request after a good one, pipelined: 200, then 400, then close */
  {
    int fd = lchttp_connect(port);
    static struct lchttp_rbuf rb;
    rb.len = 0;
    const char *req = "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\nBAD REQUEST\r\n\r\n";
    if (fd >= 0 && lchttp_send_all(fd, req, strlen(req)) == 0) {
      if (lchttp_read_resp(fd, &rb, &r, 5000) < 0 || r.status != 200)
        problem(pr, "good then malformed, pipelined: the good request was not answered 200");
      else if (lchttp_read_resp(fd, &rb, &r, 5000) < 0 || r.status != 400)
        problem(pr, "good then malformed, pipelined: no 400 for the malformed one");
      else if (lchttp_wait_closed(fd, 5000, NULL) != 0)
        problem(pr, "good then malformed, pipelined: not closed after the 400");
    }
    if (fd >= 0) close(fd);
  }
  BYSTANDER("malformed requests");

  /* oversized headers: 431 and close (16 KiB of one header, over the 8 KiB limit) */
  {
    struct lch_buf big = {0};
    lch_buf_puts(&big, "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nX-Big: ");
    for (int i = 0; i < 16 * 1024; i++) lch_buf_append(&big, "a", 1);
    lch_buf_puts(&big, "\r\n\r\n");
    expect_reject(port, "oversized headers", big.data, big.len, 431, pr);
    /* many small headers add up the same way */
    big.len = 0;
    lch_buf_puts(&big, "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n");
    for (int i = 0; i < 1000; i++) lch_buf_printf(&big, "X-H%d: 0123456789\r\n", i);
    lch_buf_puts(&big, "\r\n");
    expect_reject(port, "many headers", big.data, big.len, 431, pr);
    lch_buf_free(&big);
  }
  BYSTANDER("oversized headers");

  /* slowloris: an idle client and a trickling one are both closed after the header timeout,
   * not before 80% of it and not later than 2 s (times the multiplier) after it */
  {
    int64_t lo = timeout_ms * 8 / 10, hi = timeout_ms + (int64_t)(2000 * mult);
    /* the third client is answered once, after half a timeout, then trickles its second
     * request: the deadline restarts after every response */
    const char *head = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    int second = lchttp_connect(port);
    static struct lchttp_rbuf srb;
    srb.len = 0;
    struct timespec half = {timeout_ms / 2 / 1000, timeout_ms / 2 % 1000 * 1000000L};
    nanosleep(&half, NULL); /* its first request comes late: its deadline must move */
    if (second >= 0 && (lchttp_send_all(second, get, strlen(get)) < 0 ||
                        lchttp_read_resp(second, &srb, &r, 5000) < 0 || r.status != 200))
      problem(pr, "slowloris: the keep-alive client's first request was not answered");
    int64_t t1 = lc_clock_ns(); /* the keep-alive client's wait starts with its response */
    int idle = lchttp_connect(port), trickle = lchttp_connect(port);
    int64_t t0 = lc_clock_ns();
    if (trickle >= 0) lchttp_send_all(trickle, head, strlen(head));
    int64_t idle_ms = -1, trickle_ms = -1, second_ms = -1;
    int second_started = 0;
    while ((ms_since(t0) < hi + 500 || ms_since(t1) < hi + 500) &&
           (idle_ms < 0 || trickle_ms < 0 || second_ms < 0)) {
      if (trickle_ms < 0 && trickle >= 0) {
        if (lchttp_send_all(trickle, "a", 1) < 0) trickle_ms = ms_since(t0);
        else if (lchttp_wait_closed(trickle, 30, NULL) == 0) trickle_ms = ms_since(t0);
      }
      if (second_ms < 0 && second >= 0) {
        int sent = 0;
        if (ms_since(t1) > timeout_ms / 2) {
          sent = second_started ? lchttp_send_all(second, "a", 1)
                                : lchttp_send_all(second, head, strlen(head));
          second_started = 1;
        }
        if (sent < 0 || lchttp_wait_closed(second, 20, NULL) == 0) second_ms = ms_since(t1);
      }
      if (idle_ms < 0 && idle >= 0 && lchttp_wait_closed(idle, 20, NULL) == 0)
        idle_ms = ms_since(t0);
    }
    if (second_ms < 0)
      problem(pr,
              "keep-alive client trickling its second request: still open %lld ms after its first "
              "response (header timeout %ld ms)",
              (long long)ms_since(t1), timeout_ms);
    else if (second_ms < lo)
      problem(pr,
              "keep-alive client: closed %lld ms after its first response, before the header "
              "timeout (%ld ms)",
              (long long)second_ms, timeout_ms);
    if (second >= 0) close(second);
    if (idle_ms < 0)
      problem(pr, "idle client: still open %lld ms after connecting (header timeout %ld ms)",
              (long long)ms_since(t0), timeout_ms);
    else if (idle_ms < lo)
      problem(pr, "idle client: closed after %lld ms, before the header timeout (%ld ms)",
              (long long)idle_ms, timeout_ms);
    if (trickle_ms < 0)
      problem(pr,
              "trickling client (a header byte every 50 ms): still open after %lld ms (header "
              "timeout %ld ms)",
              (long long)ms_since(t0), timeout_ms);
    else if (trickle_ms < lo)
      problem(pr, "trickling client: closed after %lld ms, before the header timeout (%ld ms)",
              (long long)trickle_ms, timeout_ms);
    if (verbose)
      fprintf(stderr,
              "  slowloris: idle closed after %lld ms, trickler after %lld ms, keep-alive "
              "trickler after %lld ms (timeout %ld ms)\n",
              (long long)idle_ms, (long long)trickle_ms, (long long)second_ms, timeout_ms);
    if (idle >= 0) close(idle);
    if (trickle >= 0) close(trickle);
  }
  /* the bystander idled through that: open a new one (the old one was timed out) */
  if (by >= 0) close(by);
  brb.len = 0;
  by = lchttp_connect(port);
  BYSTANDER("slowloris");

  /* clients that vanish mid-response: many pipelined requests, nothing read, then a reset */
  {
    struct lch_buf many = {0};
    for (int i = 0; i < 4000; i++) lch_buf_puts(&many, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int k = 0; k < 10; k++) {
      int fd = lchttp_connect(port);
      if (fd < 0) {
        problem(pr, "mid-response disconnect %d: cannot connect: %s", k + 1, strerror(-fd));
        break;
      }
      lchttp_send_all(fd, many.data, many.len);
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, NULL);
      struct linger lg = {1, 0}; /* close with RST while the server is writing */
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(fd);
      BYSTANDER("a client reset mid-response"); /* also keeps it inside its header timeout */
    }
    lch_buf_free(&many);
  }
  BYSTANDER("mid-response disconnects");
  if (by >= 0) close(by);
  /* after all that, a fresh client is served */
  struct lch_strlist v = {0};
  lchttp_verify(port, 0, &v);
  for (size_t i = 0; i < v.n; i++) problem(pr, "after the attacks: %s", v.v[i]);
  lch_strlist_free(&v);
  (void)before;
#undef BYSTANDER
}
