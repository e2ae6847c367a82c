/* selftest_hardening.c: hidden tests for the runner's containment of cells (issue 15).
 *
 * Like selftest_verdicts.c they run only when named (--test 'selftest.*');
 * harness/runner/selftest_hardening.sh checks what the runner does with them. */
#include "lc_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts a grandchild that leaves the cell's session and process group (setsid) and sleeps,
 * writes its pid to $LOOPCONF_SELFTEST_ORPHAN_FILE, then passes: the runner must kill it. */
LC_TEST(selftest_orphan, "selftest.orphan", "", 0, 5000) {
  const char *path = getenv("LOOPCONF_SELFTEST_ORPHAN_FILE");
  if (!path) lc_skip(ctx, "LOOPCONF_SELFTEST_ORPHAN_FILE not set");
  int p[2];
  if (pipe(p) < 0) lc_fail(ctx, "pipe: %s", strerror(errno));
  pid_t mid = fork();
  if (mid < 0) lc_fail(ctx, "fork: %s", strerror(errno));
  if (mid == 0) { /* the middle process: a daemon's double fork */
    setsid();
    pid_t gc = fork();
    if (gc == 0) {
      close(p[0]);
      FILE *f = fopen(path, "w");
      if (f) {
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
      }
      ssize_t ignored = write(p[1], "x", 1);
      (void)ignored;
      close(p[1]);
      for (;;) pause();
    }
    _exit(gc < 0 ? 1 : 0);
  }
  close(p[1]);
  int status = 0;
  waitpid(mid, &status, 0);
  char c;
  if (read(p[0], &c, 1) != 1) lc_fail(ctx, "the grandchild did not start");
  close(p[0]);
  lc_note(ctx, "left a grandchild in its own session");
}

/* Floods the result channel: many long notes and characteristics with terminal escapes,
 * control characters and invalid UTF-8, then fails with a huge reason. The text report must
 * stay bounded and print none of those bytes raw. */
LC_TEST(selftest_noisy, "selftest.noisy", "", 0, 10000) {
  static char big[20000];
  for (size_t i = 0; i < sizeof big - 1; i++) big[i] = (char)('a' + i % 26);
  big[sizeof big - 1] = '\0';
  for (int i = 0; i < 100; i++) { /* about 400 kB: under the 1 MiB the runner keeps */
    lc_note(ctx, "note %d \x1b[2J\x1b]0;title\x07 \x01\xff\xfe %.*s", i, 2000, big);
    lc_characteristic(ctx, "noisy-key", "v%d \x1b[31mred\x1b[0m %.*s", i, 2000, big);
  }
  for (int i = 0; i < 200; i++) lc_characteristic(ctx, "noisy-many", "k%d", i);
  lc_fail(ctx, "flooded the channel \x1b[2J\x9b\xc3\x28 %s", big);
}
