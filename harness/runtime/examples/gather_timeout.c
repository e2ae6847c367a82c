/* gather_timeout.c: the README's runtime example, built and run by CTest so it stays true.
 * usage: gather_timeout BACKEND (a built-in name or a module path) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "loopconf/runtime.h"

/* async def fetch(delay): await asyncio.sleep(delay); return delay */
static int fetch(void *arg, intptr_t *result) {
  intptr_t delay_ms = (intptr_t)arg;
  int rc = lc_sleep(delay_ms * LC_MS);
  if (rc < 0) return rc; /* cancelled: -ECANCELED, after any cleanup */
  *result = delay_ms;
  return 0;
}

static int amain(void *arg, intptr_t *result) {
  (void)arg;
  int64_t t0 = lc_now();
  lc_task *t[2] = {lc_spawn(fetch, (void *)200, "a"), lc_spawn(fetch, (void *)100, "b")};
  intptr_t r[2];
  int rc = lc_gather(t, 2, r, NULL, 0); /* results in argument order */
  printf("gather -> [%ld, %ld] rc=%d after %lld ms (max, not sum)\n", (long)r[0], (long)r[1], rc,
         (long long)((lc_now() - t0) / LC_MS));
  lc_task_unref(t[0]);
  lc_task_unref(t[1]);

  lc_task *slow = lc_spawn(fetch, (void *)1000, "slow");
  rc = lc_wait_for(slow, 100 * LC_MS, NULL); /* cancels slow and waits for its cleanup */
  printf("wait_for -> %s\n", rc == -ETIMEDOUT ? "ETIMEDOUT" : strerror(-rc));
  lc_task_unref(slow);
  *result = rc == -ETIMEDOUT && r[0] == 200 && r[1] == 100;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s BACKEND (a built-in name or a module path)\n", argv[0]);
    return 2;
  }
  lch_set_program("gather_timeout");
  const struct lc_backend *backend = lch_backend_open(argv[1]);
  if (!backend) return 2; /* the host library printed why */
  intptr_t ok = 0;
  int rc = lc_run(backend, NULL, amain, NULL, &ok); /* asyncio.run(main()) */
  if (rc < 0) fprintf(stderr, "gather_timeout: %s\n", strerror(-rc));
  return rc == 0 && ok ? 0 : 1;
}
