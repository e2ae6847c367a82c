/* bench_main.c: loopconf-bench's entry point, the `run` child mode, backend loading and the
 * host context written into every results file. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench_main.h"
#include "bench_suite.h"
#include "lcbench.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: loopconf-bench bench [--backend a,b] [--adapter PATH]... [--filter REGEX]\n"
          "                            [--repetitions N] [--quick] [--callgrind] [--out FILE]\n"
          "       loopconf-bench compare OLD NEW [--alpha A] [--threshold PCT]\n"
          "       loopconf-bench run (--adapter PATH | --independent) [--benchmark_* flags]\n"
          "\n"
          "bench    run the benchmarks, one child process per backend, and merge the results\n"
          "         into one file (schema " LCBENCH_SCHEMA ")\n"
          "compare  compare two results files; exit 1 if a benchmark regressed significantly\n"
          "run      one backend in this process (what bench starts; Google Benchmark's flags\n"
          "         work here, e.g. --benchmark_filter=loop.pingpong)\n");
}

const char *lcbench_exe_dir(void) {
  static char dir[PATH_MAX];
  if (dir[0]) return dir;
  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n <= 0) {
    snprintf(dir, sizeof dir, ".");
    return dir;
  }
  dir[n] = '\0';
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) *slash = '\0';
  return dir;
}

const struct lc_backend *lcbench_load_backend(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "loopconf-bench: cannot load backend: %s\n", dlerror());
    return NULL;
  }
  lc_backend_entry_fn entry;
  *(void **)&entry = dlsym(h, LC_BACKEND_ENTRY);
  const struct lc_backend *b = entry ? entry() : NULL;
  if (!b) {
    fprintf(stderr, "loopconf-bench: %s: no %s() or it returned NULL\n", path, LC_BACKEND_ENTRY);
  } else if (b->abi_version != LC_BACKEND_ABI_VERSION) {
    fprintf(stderr, "loopconf-bench: %s: backend ABI %u, this build expects %u\n", path,
            (unsigned)b->abi_version, (unsigned)LC_BACKEND_ABI_VERSION);
    b = NULL;
  } else if (!b->name || !b->version || !b->loop_new || !b->loop_free || !b->run ||
             !b->stop || !b->timer_new || !b->timer_start || !b->timer_stop || !b->timer_free) {
    fprintf(stderr, "loopconf-bench: %s: backend lacks a required operation\n", path);
    b = NULL;
  }
  if (!b) dlclose(h);
  return b; /* the module stays loaded for the life of the process */
}

/* First line of a command's output, or "" (trailing newline removed). */
static void command_line_out(const char *cmd, char *out, size_t len) {
  out[0] = '\0';
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (!fgets(out, (int)len, p)) out[0] = '\0';
  pclose(p);
  out[strcspn(out, "\n")] = '\0';
}

void lcbench_host_context(void (*add)(const char *key, const char *value, void *ctx), void *ctx) {
  char buf[512] = "unknown";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "model name", 10) != 0) continue;
      char *colon = strchr(line, ':');
      if (!colon) continue;
      snprintf(buf, sizeof buf, "%s", colon + 2);
      buf[strcspn(buf, "\n")] = '\0';
      break;
    }
    fclose(f);
  }
  add("cpu_model", buf, ctx);
  struct utsname u;
  if (uname(&u) == 0) {
    snprintf(buf, sizeof buf, "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
    add("kernel", buf, ctx);
  }
  add("compiler", LCBENCH_C_COMPILER, ctx);
  add("build_type", LCBENCH_BUILD_TYPE, ctx);
  char commit[128], dirty[8];
  command_line_out("git -C '" LCBENCH_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", commit,
                   sizeof commit);
  command_line_out("git -C '" LCBENCH_SOURCE_DIR "' status --porcelain --untracked-files=no "
                   "2>/dev/null | head -c 1", dirty, sizeof dirty);
  if (commit[0]) snprintf(buf, sizeof buf, "%s%s", commit, dirty[0] ? "-dirty" : "");
  else snprintf(buf, sizeof buf, "unknown (no git commit at %s)", LCBENCH_SOURCE_DIR);
  add("git_commit", buf, ctx);
}

static void add_gb_context(const char *key, const char *value, void *ctx) {
  (void)ctx;
  lcbench_add_context(key, value);
}

/* `run`: one backend (or the backend-independent set) in this process. */
int lcbench_cmd_run(int argc, char **argv) {
  const char *adapter = NULL, *cg_name = NULL;
  int independent = 0, list_det = 0;
  /* Our own options come first; everything else goes to Google Benchmark. */
  char **gargv = calloc((size_t)argc + 2, sizeof *gargv);
  if (!gargv) return 1;
  int gargc = 0;
  gargv[gargc++] = "loopconf-bench";
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--adapter") == 0 && i + 1 < argc) adapter = argv[++i];
    else if (strcmp(argv[i], "--independent") == 0) independent = 1;
    else if (strcmp(argv[i], "--callgrind") == 0 && i + 1 < argc) cg_name = argv[++i];
    else if (strcmp(argv[i], "--list-deterministic") == 0) list_det = 1;
    else gargv[gargc++] = argv[i];
  }
  if (!!adapter == independent) {
    fprintf(stderr, "loopconf-bench run: give exactly one of --adapter PATH, --independent\n");
    free(gargv);
    return 2;
  }
  if (adapter) {
    const struct lc_backend *b = lcbench_load_backend(adapter);
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
    if (r == -ENOENT) fprintf(stderr, "loopconf-bench run: no benchmark '%s'\n", cg_name);
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
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "bench") == 0) return lcbench_cmd_bench(argc - 2, argv + 2);
  if (strcmp(cmd, "compare") == 0) return lcbench_cmd_compare(argc - 2, argv + 2);
  if (strcmp(cmd, "run") == 0) return lcbench_cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "loopconf-bench: unknown command '%s' (try loopconf-bench --help)\n", cmd);
  return 2;
}
