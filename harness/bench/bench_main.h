/* bench_main.h: the subcommands of loopconf-bench and what they share. */
#ifndef LCBENCH_MAIN_H
#define LCBENCH_MAIN_H

#include "host.h"
#include "loopconf/backend.h"

/* The schema name of merged results files. */
#define LCBENCH_SCHEMA "loopconf-bench/2"
/* The schema before rounds (no "round" per entry); compare and table.py still read it. */
#define LCBENCH_SCHEMA_V1 "loopconf-bench/1"

/* `loopconf-bench bench ...`, `compare ...`, `run ...` (argv[0] is the subcommand). Each
 * returns the process exit code. */
int lcbench_cmd_bench(int argc, char **argv);
int lcbench_cmd_compare(int argc, char **argv);
int lcbench_cmd_run(int argc, char **argv);

/* Host context: cpu_model, kernel, compiler, build_type, git_commit. Calls add(key, value)
 * for each. */
void lcbench_host_context(void (*add)(const char *key, const char *value, void *ctx), void *ctx);

/* The rankings of a timed run (rankings.c): per benchmark of names and backend pair (a, b) of
 * backends (file order, "none" left out), the per-round ratio a/b: median, exact interval at
 * LCBENCH_RANK_LEVEL, the point verdict against margin (a fraction, e.g. 0.10) and whether it
 * is too noisy to rank with the drift allowance drift (paired.h). A JSON array of {benchmark,
 * a, b, rounds, ratio, lo, hi, level, verdict, too_noisy, rounds_to_decide}. */
/* Nanoseconds per Google Benchmark time_unit ("ns", "us", "ms", "s"; NULL: ns), -1 if unknown. */
double lcbench_unit_ns(const char *unit);

#define LCBENCH_RANK_LEVEL 0.95
#define LCBENCH_DEFAULT_MARGIN 10 /* percent; see harness/bench/README.md for the noise */
#define LCBENCH_DEFAULT_DRIFT 5   /* percent: the between-run drift allowance (README.md) */
json_t *lcbench_rankings(json_t *benches, json_t *backends, json_t *names, double margin,
                         double drift);
void lcbench_print_rankings(FILE *f, json_t *rankings, json_t *backends, json_t *names,
                            double margin, double drift);

#endif /* LCBENCH_MAIN_H */
