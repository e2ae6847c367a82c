/* bench_main.c: loopconf-bench's entry point, the `run` child mode, backend loading and the
 * host context written into every results file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench_main.h"
#include "bench_suite.h"
#include "lcbench.h"

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: loopconf-bench bench [--backend NAME|PATH,...] [--adapter PATH]... [--filter REGEX]\n"
      "                            [--repetitions N] [--min-time S] [--timeout S] [--quick]\n"
      "                            [--callgrind] [--out FILE]\n"
      "       loopconf-bench compare OLD NEW [--alpha A] [--threshold PCT]\n"
      "       loopconf-bench run (--backend NAME|PATH | --independent) [--benchmark_*...]\n"
      "\n"
      "bench    run the benchmarks, one child process per backend, and merge the results\n"
      "         into one file (schema " LCBENCH_SCHEMA
      ")\n"
      "compare  compare two results files; exit 1 if a benchmark regressed significantly\n"
      "run      one backend in this process (what bench starts; Google Benchmark's flags\n"
      "         work here, e.g. --benchmark_filter=loop.pingpong)\n"
      "Each subcommand takes --help. Built-in backends are found in $LOOPCONF_BACKEND_DIR or\n"
      "<exe dir>/backends.\n");
}

/* The shared host context (harness/common/context.c), so bench, run --json and http results
 * carry the same keys; the compiler names the C++ one too (Google Benchmark is C++). */
struct host_ctx_fwd {
  void (*add)(const char *key, const char *value, void *ctx);
  void *ctx;
};
static void host_ctx_add(const char *key, const char *value, void *ud) {
  struct host_ctx_fwd *f = ud;
  f->add(key, strcmp(key, "compiler") == 0 ? LOOPCONF_COMPILER : value, f->ctx);
}
void lcbench_host_context(void (*add)(const char *key, const char *value, void *ctx), void *ctx) {
  struct host_ctx_fwd f = {add, ctx};
  lch_host_context(host_ctx_add, &f);
}

static void add_gb_context(const char *key, const char *value, void *ctx) {
  (void)ctx;
  lcbench_add_context(key, value);
}

/* `run`: one backend (or the backend-independent set) in this process. Our own options come
 * first; every --benchmark_* option goes to Google Benchmark. */
int lcbench_cmd_run(int argc, char **argv) {
  enum { OPT_BACKEND = 256, OPT_INDEPENDENT, OPT_CALLGRIND, OPT_LIST_DET };
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, OPT_BACKEND},
      {"adapter", required_argument, NULL, OPT_BACKEND}, /* the old spelling */
      {"independent", no_argument, NULL, OPT_INDEPENDENT},
      {"callgrind", required_argument, NULL, OPT_CALLGRIND},
      {"list-deterministic", no_argument, NULL, OPT_LIST_DET},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *backend = NULL, *cg_name = NULL;
  int independent = 0, list_det = 0;
  char **gargv = lch_xcalloc((size_t)argc + 2, sizeof *gargv);
  int gargc = 0;
  gargv[gargc++] = "loopconf-bench";
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_BACKEND: backend = optarg; break;
    case OPT_INDEPENDENT: independent = 1; break;
    case OPT_CALLGRIND: cg_name = optarg; break;
    case OPT_LIST_DET: list_det = 1; break;
    case 'h':
      printf(
          "usage: loopconf-bench run (--backend NAME|PATH | --independent)\n"
          "                          [--callgrind NAME | --list-deterministic] [--benchmark_*...]\n"
          "One backend's benchmarks (or the backend-independent set) in this process: what\n"
          "`bench` starts once per backend. Google Benchmark's own --benchmark_* options work\n"
          "here (e.g. --benchmark_filter=loop.pingpong).\n");
      free(gargv);
      return 0;
    default:
      if (c == '?' && strncmp(argv[optind - 1], "--benchmark_", 12) == 0) {
        gargv[gargc++] = argv[optind - 1];
        break;
      }
      free(gargv);
      return lch_getopt_error(c, argv, "loopconf-bench run");
    }
  }
  if (optind < argc || !!backend == independent) {
    lch_error("run: give exactly one of --backend NAME|PATH, --independent");
    free(gargv);
    return 2;
  }
  if (backend) {
    const struct lc_backend *b = lch_backend_open(backend);
    if (!b) {
      free(gargv);
      return 2;
    }
    bench_loop_register(b);
    bench_runtime_register(b);
    lcbench_add_context("backend", b->name);
    lcbench_add_context("backend_version", b->version());
    if (cg_name || list_det) printf("backend %s\t%s\n", b->name, b->version());
  } else {
    bench_floor_register();
    bench_coro_register();
    lcbench_add_context("backend", "none");
    lcbench_add_context("backend_version", "none (bare syscalls, coroutine switch)");
    if (cg_name || list_det) printf("backend none\tnone\n");
  }
  int rc;
  if (list_det) {
    for (int i = 0; i < lcbench_count(); i++)
      if (lcbench_deterministic(i)) printf("bench %s\n", lcbench_name(i));
    rc = 0;
  } else if (cg_name) {
    int64_t items = 0;
    int r = lcbench_run_callgrind(cg_name, &items);
    if (r == -ENOENT) lch_error("run: no benchmark '%s'", cg_name);
    if (r == 0) printf("items %lld\n", (long long)items);
    rc = r == 0 ? 0 : 1;
  } else {
    lcbench_host_context(add_gb_context, NULL);
    rc = lcbench_main(gargc, gargv);
  }
  fflush(stdout);
  free(gargv);
  return rc;
}

int main(int argc, char **argv) {
  lch_set_program("loopconf-bench");
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "bench") == 0) return lcbench_cmd_bench(argc - 1, argv + 1);
  if (strcmp(cmd, "compare") == 0) return lcbench_cmd_compare(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0) return lcbench_cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  lch_error("unknown command '%s' (see loopconf-bench --help)", cmd);
  return 2;
}
