/* lchttp.h: internals of `loopconf http` (harness/http): the server processes, a blocking test
 * client (verifier, bad-input checks) and the open-loop load client. Prefix lchttp_. */
#ifndef LCHTTP_H
#define LCHTTP_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "host.h"

/* ---- server processes (lchttp_main.c) ---- */
struct lchttp_proc {
  pid_t pid;
  int in_fd; /* the server's stdin: closing it asks the server to exit */
  int port;
};

/* ---- the blocking client (lchttp_client.c) ---- */
struct lchttp_rbuf {
  char data[256 * 1024];
  size_t len;
};

struct lchttp_resp {
  int status;
  char server[64], date[64], ctype[64];
  long clen;      /* -1: no Content-Length */
  int conn_close; /* Connection: close */
  char body[256];
  size_t blen;
};

/* Connect to 127.0.0.1:port (blocking, TCP_NODELAY). fd or -errno. */
int lchttp_connect(int port);
int lchttp_send_all(int fd, const void *p, size_t n);
/* Read one response within timeout_ms: 0; -ETIMEDOUT; -ENODATA at EOF before a whole
 * response; -EPROTO for a response that cannot be parsed; -errno. */
int lchttp_read_resp(int fd, struct lchttp_rbuf *rb, struct lchttp_resp *r, int timeout_ms);
/* Wait up to timeout_ms for the peer to close: 0 closed (EOF or reset), -ETIMEDOUT, or
 * -EPROTO if bytes arrived instead (*extra gets how many). */
int lchttp_wait_closed(int fd, int timeout_ms, size_t *extra);

/* The verifier: status, headers, bodies, Date changing, keep-alive, pipelining, 404. Appends
 * one line per problem. dates: 1 to include the Date-changes check (waits about 1.1 s). */
void lchttp_verify(int port, int dates, struct lch_strlist *problems);
/* The bad-input checks; header_timeout_ms is what the server was started with. Appends one
 * line per problem. alive(ud) reports whether the server process still runs. */
void lchttp_bad_input(int port, long header_timeout_ms, double multiplier, int (*alive)(void *ud),
                      void *ud, struct lch_strlist *problems, int verbose);

/* ---- the open-loop client (lchttp_openloop.c): `loopconf-http __openloop ...` ---- */
/* The SCHED_FIFO priority of the open-loop client and of the server while the open-loop
 * client measures it (where permitted; the kernel's RT throttling still leaves 5% of each
 * core to everything else). */
#define LCHTTP_RT_PRIORITY 10
int lchttp_openloop_main(int argc, char **argv);

#endif /* LCHTTP_H */
