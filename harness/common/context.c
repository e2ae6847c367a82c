/* context.c: the machine context every results file carries (conformance, benchmark and HTTP
 * results write the same keys, so a report can put them side by side and merge machines). */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
