/* paths.c: the executable's path and the data directories found relative to it. */
#include "host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *lch_exe_path(void) {
  size_t cap = 256;
  for (;;) {
    char *buf = lch_xmalloc(cap);
    ssize_t n = readlink("/proc/self/exe", buf, cap);
    if (n < 0) {
      lch_error("cannot read /proc/self/exe: %s", strerror(errno));
      free(buf);
      return NULL;
    }
    if ((size_t)n < cap) {
      buf[n] = '\0';
      return buf;
    }
    free(buf);
    cap *= 2;
  }
}

char *lch_exe_dir(void) {
  char *path = lch_exe_path();
  char *slash = path ? strrchr(path, '/') : NULL;
  if (slash) *(slash == path ? slash + 1 : slash) = '\0';
  return path;
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *lch_data_dir(const char *what) {
  const char *env = getenv("LOOPCONF_DATA_DIR");
  if (env && *env) return lch_xasprintf("%s/%s", env, what);
  char *exe = lch_exe_dir();
  if (exe) {
    char *installed = lch_xasprintf("%s/../share/loopconf/%s", exe, what);
    free(exe);
    if (is_dir(installed)) return installed;
    free(installed);
  }
  return lch_xasprintf("%s/%s", LOOPCONF_SOURCE_DIR, what);
}
