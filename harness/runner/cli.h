/* cli.h: the parsed options of `loopconf run`. */
#ifndef LCR_CLI_H
#define LCR_CLI_H

#include "runner.h"

struct lcr_run_args {
  struct lch_strlist backends; /* --backend names */
  struct lch_strlist adapters; /* --adapter paths */
  struct lch_strlist expects;  /* --expect NAME=FILE */
  struct lch_strlist patterns; /* --test / --tier */
  double multiplier;           /* --time-multiplier or LOOPCONF_TIME_MULTIPLIER, >= 1 */
  int repeat, jobs, quiet, help;
  int clauses, unexpected_only; /* --clauses, --unexpected */
  int color;                    /* --color: -1 auto (a TTY and no NO_COLOR), 0 never, 1 always */
  const char *tap, *junit, *json, *spec_dir; /* borrowed from argv */
};

/* Parse argv (argv[0] is "run"). Returns 0, or -1 with one error line printed. */
int lcr_run_args_parse(int argc, char **argv, struct lcr_run_args *o);
void lcr_run_args_free(struct lcr_run_args *o);

#endif /* LCR_CLI_H */
