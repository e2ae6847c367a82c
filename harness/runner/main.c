/* main.c: the `loopconf` command: subcommand dispatch, help, and the bench pass-through. */
#include "runner.h"
#include "lcsweep.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lcr_usage(FILE *out) {
  fputs(
      "loopconf " LOOPCONF_VERSION
      ": conformance suite and benchmarks for event loops\n"
      "\n"
      "usage:\n"
      "  loopconf run [options]                 run the conformance matrix\n"
      "  loopconf list backends|tests|clauses   show what is available (clauses: [--spec DIR])\n"
      "  loopconf spec-check [--spec DIR]       cross-check tests against spec/*.tsv\n"
      "  loopconf bench ... | compare ...       run loopconf-bench with these arguments\n"
      "  loopconf http [options]                HTTP servers under wrk (loopconf-http)\n"
      "  loopconf sweep [options] | plot ...    the concurrency sweep (see loopconf sweep --help)\n"
      "  loopconf report [FILES] [--out DIR]    the HTML + markdown report of results files\n"
      "\n"
      "run options:\n"
      "  --backend a,b,...      built-in backends (default: every lcb_<name>.so in\n"
      "                         <exe dir>/backends, or $LOOPCONF_BACKEND_DIR)\n"
      "  --adapter PATH         add an out-of-tree backend module to the selection\n"
      "                         (repeatable): with no --backend, the built-ins and it run;\n"
      "                         --backend PATH runs only that module\n"
      "  --expect NAME=FILE     expectations for backend NAME (default: <module>.expect)\n"
      "  --test PATTERNS        comma-separated test names or globs (\"loop.timer.*\")\n"
      "  --tier loop|semantics  shorthand for --test 'loop.*' / 'semantics.*'\n"
      "  --time-multiplier X    scale every time limit and tolerance (>= 1; also\n"
      "                         $LOOPCONF_TIME_MULTIPLIER)\n"
      "  --repeat N             run the selection N times; changing verdicts are FLAKY\n"
      "  --tap FILE             also write TAP version 13\n"
      "  --junit FILE           also write JUnit XML\n"
      "  --json FILE            also write the results as JSON (loopconf-run/1, for\n"
      "                         loopconf report)\n"
      "  --jobs N               cells in parallel (default 1)\n"
      "  --spec DIR             spec directory (default: the installed or source spec/)\n"
      "  --clauses              add the clause column to the matrix\n"
      "  --unexpected           matrix rows and reasons of unexpected verdicts only\n"
      "  --color auto|always|never  verdicts in colour (auto: stdout is a terminal and\n"
      "                         $NO_COLOR is unset or empty)\n"
      "  -q, --quiet            no progress on stderr\n"
      "\n"
      "exit status: 0 every verdict expected (PASS, XFAIL, SKIP); 1 an unexpected verdict\n"
      "(FAIL, XPASS, TIMEOUT, CRASH, FLAKY) or spec-check problems; 2 bad usage or input.\n"
      "Self-tests of the runner run only when named: --test 'selftest.*'.\n",
      out);
}

/* Replace this process with <exe dir>/<tool> (loopconf-bench, loopconf-http), passing our
 * arguments through. */
static int lcr_exec_tool(const char *tool, int argc, char **argv) {
  char *dir = lch_exe_dir();
  if (!dir) return 2;
  char *path = lch_xasprintf("%s/%s", dir, tool);
  free(dir);
  if (access(path, X_OK) != 0) {
    lch_error("%s: the program %s is missing (%s); build the %s target", argv[1], path,
              strerror(errno), tool);
    free(path);
    return 2;
  }
  char **args = lch_xcalloc((size_t)argc + 1, sizeof *args);
  args[0] = path;
  for (int i = 1; i < argc; i++) args[i] = argv[i];
  execv(path, args);
  lch_error("cannot run %s: %s", path, strerror(errno));
  free(args);
  free(path);
  return 2;
}

/* Children get fds 0-2 by dup2 and the result channel on fd 3; a closed 0-2 in the runner
 * would let a pipe land there, so make sure they are open. */
static void lcr_ensure_std_fds(void) {
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
      if (n >= 0 && n != fd) close(n); /* cannot happen: open takes the lowest free fd */
    }
}

int main(int argc, char **argv) {
  lcr_ensure_std_fds();
  if (argc < 2) {
    lcr_usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "__cell") == 0) return lcr_cell_main(argc - 1, argv + 1);
  if (strcmp(cmd, "__probe") == 0) return lcr_probe_main(argc - 1, argv + 1);
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    lcr_usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("loopconf %s\n", LOOPCONF_VERSION);
    return 0;
  }
  if (strcmp(cmd, "run") == 0) return lcr_cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "list") == 0) return lcr_cmd_list(argc - 1, argv + 1);
  if (strcmp(cmd, "spec-check") == 0) return lcr_cmd_spec_check(argc - 1, argv + 1);
  if (strcmp(cmd, "bench") == 0 || strcmp(cmd, "compare") == 0)
    return lcr_exec_tool("loopconf-bench", argc, argv);
  if (strcmp(cmd, "http") == 0) return lcr_exec_tool("loopconf-http", argc, argv);
  if (strcmp(cmd, "sweep") == 0) return lcsweep_main(argc - 1, argv + 1);
  if (strcmp(cmd, "report") == 0) return lcr_exec_tool("loopconf-report", argc, argv);
  lch_error("unknown command '%s' (see loopconf --help)", cmd);
  return 2;
}
