/* cell.c: the child side of a cell: load one backend, run one test body under cmocka. */
#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The test this child runs (cmocka's test function takes no user pointer but the state). */
static const struct lc_test_def *lcr_cell_test;
/* Set when the body returned normally, i.e. did not leave through fail() or skip(). */
static int lcr_cell_body_returned;

static void lcr_cell_body(void **state) {
  /* cmocka turns fatal signals into a failed test; a crash must stay a crash, so give the
   * default actions back before the body runs. */
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
  lcr_cell_test->fn((lc_ctx *)*state);
  lcr_cell_body_returned = 1;
}

/* Parse the result fd argument; -1 if it is not a small non-negative number. */
static int lcr_parse_fd(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > 65535) return -1;
  return (int)v;
}

static void lcr_channel_error(int fd, const char *msg) {
  lc__channel_write(fd, "error", msg, NULL);
  fprintf(stderr, "loopconf cell: %s\n", msg);
}

int lcr_cell_main(int argc, char **argv) {
  if (argc != 4 || lcr_parse_fd(argv[3]) < 0) {
    fprintf(stderr, "loopconf: error: usage: loopconf __cell MODULE TEST FD (internal)\n");
    return 2;
  }
  const char *module = argv[1], *name = argv[2];
  int fd = lcr_parse_fd(argv[3]);
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep output that precedes a crash */

  lcr_cell_test = lc_test_find(name);
  if (!lcr_cell_test) {
    char *msg = lch_xasprintf("no test named %s", name);
    lcr_channel_error(fd, msg);
    free(msg);
    return 2;
  }
  char *err = NULL;
  const struct lc_backend *b = lch_backend_load(module, &err);
  if (!b) {
    lcr_channel_error(fd, err);
    free(err);
    return 2;
  }
  lc__channel_write(fd, "backend", b->name, b->version());

  /* Capabilities: an optional group left NULL, or a capability not declared in caps, makes the
   * tests that need it SKIP. */
  unsigned needs = lcr_cell_test->needs, absent = 0;
  if ((needs & LC_NEEDS_IO) && !b->io_new) absent |= LC_NEEDS_IO;
  if ((needs & LC_NEEDS_WAKEUP) && !b->wakeup_new) absent |= LC_NEEDS_WAKEUP;
  if ((needs & LC_NEEDS_NOWAIT) && !(b->caps & LC_CAP_NOWAIT)) absent |= LC_NEEDS_NOWAIT;
  if (absent) {
    char *reason = lch_xasprintf("capability absent: %s", lcr_needs_name(absent));
    lc__channel_write(fd, "skip", reason, NULL);
    free(reason);
    lc__channel_write(fd, "end", "0", NULL);
    return 0;
  }

  double multiplier = 1.0;
  if (lch_env_multiplier(&multiplier) < 0) return 2;
  lc_ctx ctx = {.b = b, .multiplier = multiplier, .result_fd = fd, .test = name};
  const struct CMUnitTest tests[] = {
      {.name = lcr_cell_test->name, .test_func = lcr_cell_body, .initial_state = &ctx},
  };
  cmocka_set_message_output(CM_OUTPUT_STDOUT);
  int rc = cmocka_run_group_tests_name(lcr_cell_test->name, tests, NULL, NULL);
  fflush(NULL);
  char status[16];
  snprintf(status, sizeof status, "%d", rc);
  lc__channel_write(fd, "end", status, NULL);
  /* A body that left through fail() or skip() jumped over its own cleanup: skip exit-time
   * leak checks (LeakSanitizer) that would turn that into a different verdict. A body that
   * returned exits normally, so its leaks are reported. */
  if (!lcr_cell_body_returned) _exit(rc == 0 ? 0 : 1);
  return rc == 0 ? 0 : 1;
}

int lcr_probe_main(int argc, char **argv) {
  if (argc != 3 || lcr_parse_fd(argv[2]) < 0) {
    fprintf(stderr, "loopconf: error: usage: loopconf __probe MODULE FD (internal)\n");
    return 2;
  }
  int fd = lcr_parse_fd(argv[2]);
  char *err = NULL;
  const struct lc_backend *b = lch_backend_load(argv[1], &err);
  if (!b) {
    lcr_channel_error(fd, err);
    free(err);
    return 2;
  }
  lc__channel_write(fd, "backend", b->name, b->version());
  return 0;
}
