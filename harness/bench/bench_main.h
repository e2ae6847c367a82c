/* bench_main.h: the subcommands of loopconf-bench and what they share. */
#ifndef LOOPCONF_BENCH_MAIN_H
#define LOOPCONF_BENCH_MAIN_H

#include "lj.h"
#include "loopconf/backend.h"

/* The schema name of merged results files. */
#define LCBENCH_SCHEMA "loopconf-bench/1"

/* `loopconf-bench bench ...`, `compare ...`, `run ...` (argv after the subcommand). Each
 * returns the process exit code. */
int lcbench_cmd_bench(int argc, char **argv);
int lcbench_cmd_compare(int argc, char **argv);
int lcbench_cmd_run(int argc, char **argv);

/* Load a backend module with dlopen(RTLD_LOCAL) and check its ABI. On error prints one line
 * and returns NULL. */
const struct lc_backend *lcbench_load_backend(const char *path);

/* Directory of this executable (the build root), static storage. */
const char *lcbench_exe_dir(void);

/* Host context: cpu_model, kernel, compiler, build_type, git_commit. Calls add(key, value)
 * for each. */
void lcbench_host_context(void (*add)(const char *key, const char *value, void *ctx), void *ctx);

#endif /* LOOPCONF_BENCH_MAIN_H */
