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

#endif /* LCBENCH_MAIN_H */
