/* echo.c: the README's streams example (an echo server and a client on one loop), built and
 * run by CTest so it stays true. usage: echo BACKEND (a built-in name or a module path) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "loopconf/runtime.h"

/* async def handle(reader, writer): echo each line until EOF */
static int handle(lc_stream *s, void *arg) {
  (void)arg;
  char line[1024];
  ssize_t n;
  while ((n = lc_stream_readline(s, line, sizeof line)) > 0) {
    lc_stream_write(s, line, (size_t)n);
    int rc = lc_stream_drain(s); /* back-pressure: waits while the peer is slow */
    if (rc < 0) return rc;
  }
  return n < 0 ? (int)n : 0; /* returning closes the connection */
}

static int amain(void *arg, intptr_t *result) {
  (void)arg;
  lc_server *srv;
  int rc = lc_start_server("127.0.0.1", 0, handle, NULL, &srv); /* port 0: the kernel picks */
  if (rc < 0) return rc;

  lc_stream *c;
  rc = lc_open_connection("127.0.0.1", lc_server_port(srv), &c);
  if (rc < 0) return rc;
  lc_stream_write(c, "hello\n", 6);
  char reply[64];
  ssize_t n = lc_stream_readline(c, reply, sizeof reply - 1);
  lc_stream_close(c);
  lc_stream_wait_closed(c);
  lc_stream_free(c);

  lc_server_close(srv);
  lc_server_wait_closed(srv);
  lc_server_free(srv);
  if (n < 0) return (int)n;
  reply[n] = 0;
  printf("echo -> %s", reply);
  *result = n == 6 && memcmp(reply, "hello\n", 6) == 0;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s BACKEND (a built-in name or a module path)\n", argv[0]);
    return 2;
  }
  lch_set_program("echo");
  const struct lc_backend *backend = lch_backend_open(argv[1]);
  if (!backend) return 2; /* the host library printed why */
  intptr_t ok = 0;
  int rc = lc_run(backend, NULL, amain, NULL, &ok); /* asyncio.run(main()) */
  if (rc < 0) fprintf(stderr, "echo: %s\n", strerror(-rc));
  return rc == 0 && ok ? 0 : 1;
}
