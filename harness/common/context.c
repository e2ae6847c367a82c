/* context.c: the machine context every results file carries (conformance, benchmark and HTTP
 * results write the same keys, so a report can put them side by side and merge machines). */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* First line of a command's output, or "" (trailing newline removed). */
static void first_line(const char *cmd, char *out, size_t len) {
  out[0] = '\0';
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (!fgets(out, (int)len, p)) out[0] = '\0';
  pclose(p);
  out[strcspn(out, "\n")] = '\0';
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The kernel's mitigations of CPU flaws (/sys/devices/system/cpu/vulnerabilities), those that
 * cost something: "name: state" of every entry that is not "Not affected", sorted by name and
 * joined by " | ". Two boots of the same CPU model and kernel version can differ here, and each
 * mitigation at the user/kernel boundary is paid on every system call. */
static void mitigations(char *out, size_t cap) {
  snprintf(out, cap, "unknown (no /sys/devices/system/cpu/vulnerabilities)");
  DIR *d = opendir("/sys/devices/system/cpu/vulnerabilities");
  if (!d) return;
  char *names[64];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < sizeof names / sizeof *names)
    if (e->d_name[0] != '.') names[n++] = lch_xstrdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof *names, cmp_name);
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    char path[320], state[256] = "";
    snprintf(path, sizeof path, "/sys/devices/system/cpu/vulnerabilities/%s", names[i]);
    FILE *f = fopen(path, "r");
    if (f) {
      if (!fgets(state, sizeof state, f)) state[0] = '\0';
      fclose(f);
    }
    state[strcspn(state, "\n")] = '\0';
    if (state[0] && strcmp(state, "Not affected") != 0 && len < cap) {
      int w = snprintf(out + len, cap - len, "%s%s: %s", len ? " | " : "", names[i], state);
      len += w > 0 ? (size_t)w : 0;
    }
    free(names[i]);
  }
  if (len >= cap && cap > 4) memcpy(out + cap - 4, "...", 4);
  if (!len) snprintf(out, cap, "none");
}

static double mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* What one system call costs here, in ns: the fastest of 5 batches of 2000 getppid(2) (no work
 * in the kernel, so it is the entry and exit with their mitigations, the hypervisor's share
 * included). On two boots of VMs of one kind and kernel version it was 445-708 ns on one, and
 * an idle loop iteration (one epoll_wait) took 0.7 us there against 0.2 us on the other. */
static double syscall_ns(void) {
  double best = 0;
  for (int b = 0; b < 5; b++) {
    double t0 = mono_ns();
    for (int i = 0; i < 2000; i++) (void)syscall(SYS_getppid);
    double per = (mono_ns() - t0) / 2000;
    if (b == 0 || per < best) best = per;
  }
  return best;
}

void lch_host_context(lch_context_fn add, void *ud) {
  char buf[512] = "unknown";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      char *colon = strchr(line, ':');
      if (strncmp(line, "model name", 10) != 0 || !colon) continue;
      snprintf(buf, sizeof buf, "%s", colon + 1 + (colon[1] == ' '));
      buf[strcspn(buf, "\n")] = '\0';
      break;
    }
    fclose(f);
  }
  add("cpu_model", buf, ud);
  struct utsname u;
  if (uname(&u) == 0) {
    snprintf(buf, sizeof buf, "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
    add("kernel", buf, ud);
  }
  char mit[2048];
  mitigations(mit, sizeof mit);
  add("cpu_mitigations", mit, ud);
  add("compiler", LOOPCONF_HOST_COMPILER, ud);
  add("build_type", LOOPCONF_HOST_BUILD_TYPE, ud);
  char commit[128], dirty[8];
  first_line("git -C '" LOOPCONF_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", commit, sizeof commit);
  first_line("git -C '" LOOPCONF_SOURCE_DIR
             "' status --porcelain --untracked-files=no "
             "2>/dev/null | head -c 1",
             dirty, sizeof dirty);
  if (commit[0]) snprintf(buf, sizeof buf, "%s%s", commit, dirty[0] ? "-dirty" : "");
  else snprintf(buf, sizeof buf, "unknown (no git commit at %s)", LOOPCONF_SOURCE_DIR);
  add("git_commit", buf, ud);
  double mult = 1;
  const char *env = getenv("LOOPCONF_TIME_MULTIPLIER");
  char *end = NULL;
  if (env && *env) mult = strtod(env, &end);
  if (env && *env && (!end || *end || mult < 1)) snprintf(buf, sizeof buf, "invalid (%s)", env);
  else snprintf(buf, sizeof buf, "%g", mult);
  add("time_multiplier", buf, ud);
}

static void add_json(const char *key, const char *value, void *ud) {
  json_t *obj = ud;
  if (strcmp(key, "time_multiplier") == 0 && strncmp(value, "invalid", 7) != 0)
    json_object_set_new(obj, key, json_real(strtod(value, NULL)));
  else json_object_set_new(obj, key, json_string(value));
}

json_t *lch_context_json(void) {
  json_t *c = json_object();
  lch_host_context(add_json, c);
  json_object_set_new(c, "num_cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
  json_object_set_new(c, "syscall_ns", json_real(syscall_ns()));
  char date[64];
  time_t now = time(NULL);
  struct tm tm;
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  json_object_set_new(c, "date", json_string(date));
  double load[3];
  if (getloadavg(load, 3) == 3) { /* how busy the machine was when the results were written */
    json_t *l = json_array();
    for (int i = 0; i < 3; i++) json_array_append_new(l, json_real(load[i]));
    json_object_set_new(c, "load_avg", l);
  }
  return c;
}

double lch_host_steal_ms(void) {
  FILE *f = fopen("/proc/stat", "re");
  if (!f) return -1;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  long hz = sysconf(_SC_CLK_TCK);
  return n == 8 && hz > 0 ? (double)v[7] * 1000.0 / (double)hz : -1;
}
