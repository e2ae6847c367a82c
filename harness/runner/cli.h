/* cli.h: the parsed options of `loopconf run`. */
#ifndef LC_CLI_H
#define LC_CLI_H

#include "runner.h"

struct lc_run_opts {
  struct strlist backends; /* --backend names */
  struct strlist adapters; /* --adapter paths */
  struct strlist expects;  /* --expect NAME=FILE */
  struct strlist patterns; /* --test / --tier */
  double multiplier;       /* --time-multiplier or LOOPCONF_TIME_MULTIPLIER, >= 1 */
  int repeat, jobs, quiet, help;
  const char *tap, *junit, *spec_dir; /* borrowed from argv */
};

/* Parse argv (argv[0] is "run"). Returns 0, or -1 with one error line printed. */
int lc_run_opts_parse(int argc, char **argv, struct lc_run_opts *o);
void lc_run_opts_free(struct lc_run_opts *o);

#endif /* LC_CLI_H */
