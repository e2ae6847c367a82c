/* backend.c: loading a backend module, and finding the built-in ones. One loader and one
 * discovery rule for every command. */
#include "host.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopconf/backend_check.h"

const struct lc_backend *lch_backend_load(const char *path, char **err) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    *err = lch_xasprintf("cannot load %s: %s", path, why ? why : "unknown dlopen error");
    return NULL;
  }
  lc_backend_entry_fn entry;
  void *sym = dlsym(h, LC_BACKEND_ENTRY);
  if (!sym) {
    *err = lch_xasprintf("%s does not export %s()", path, LC_BACKEND_ENTRY);
    dlclose(h);
    return NULL;
  }
  memcpy(&entry, &sym, sizeof entry); /* object pointer -> function pointer, ISO C-clean */
  const struct lc_backend *b = entry();
  char why[256];
  if (lc_backend_validate(b, why, sizeof why) < 0) {
    *err = lch_xasprintf("%s: %s", path, why);
    dlclose(h);
    return NULL;
  }
  return b; /* the handle stays open for the life of the process */
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *lch_backend_dir(void) {
  const char *env = getenv("LOOPCONF_BACKEND_DIR");
  if (env && *env) return lch_xstrdup(env);
  char *exe = lch_exe_dir();
  if (!exe) return NULL;
  const char *const rel[] = {"backends", "../lib/loopconf/backends"};
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    char *dir = lch_xasprintf("%s/%s", exe, rel[i]);
    if (is_dir(dir)) {
      free(exe);
      return dir;
    }
    free(dir);
  }
  free(exe);
  return lch_xstrdup(LOOPCONF_BUILD_BACKEND_DIR); /* a program of this build tree */
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int lch_builtin_names(const char *dir, struct lch_strlist *names) {
  DIR *d = opendir(dir);
  if (!d) {
    lch_error("cannot read the backend directory %s: %s", dir, strerror(errno));
    return -1;
  }
  struct lch_strlist found = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n > 7 && strncmp(e->d_name, "lcb_", 4) == 0 && strcmp(e->d_name + n - 3, ".so") == 0)
      lch_strlist_push(&found, lch_xstrndup(e->d_name + 4, n - 7));
  }
  closedir(d);
  if (found.n) qsort(found.v, found.n, sizeof *found.v, cmp_str);
  /* This build's list first, in its order (the order the CMake files registered them). */
  struct lch_strlist order = {0};
  lch_strlist_split_commas(&order, LOOPCONF_BUILTIN_BACKENDS);
  for (size_t i = 0; i < order.n; i++)
    if (lch_strlist_contains(&found, order.v[i])) lch_strlist_push(names, lch_xstrdup(order.v[i]));
  for (size_t i = 0; i < found.n; i++)
    if (!lch_strlist_contains(&order, found.v[i])) lch_strlist_push(names, lch_xstrdup(found.v[i]));
  lch_strlist_free(&order);
  lch_strlist_free(&found);
  return 0;
}

char *lch_backend_resolve(const char *dir, const char *arg) {
  size_t n = strlen(arg);
  if (strchr(arg, '/') || (n > 3 && strcmp(arg + n - 3, ".so") == 0)) {
    struct stat st;
    errno = 0;
    if (stat(arg, &st) < 0 || !S_ISREG(st.st_mode)) {
      lch_error("backend module %s: %s", arg, errno ? strerror(errno) : "not a regular file");
      return NULL;
    }
    char *abs = realpath(arg, NULL);
    if (!abs) {
      lch_error("backend module %s: %s", arg, strerror(errno));
      return NULL;
    }
    return abs;
  }
  char *path = lch_xasprintf("%s/lcb_%s.so", dir, arg);
  if (access(path, R_OK) != 0) {
    struct lch_strlist names = {0};
    struct lch_buf known = {0};
    if (lch_builtin_names(dir, &names) == 0)
      for (size_t i = 0; i < names.n; i++)
        lch_buf_printf(&known, "%s%s", i ? ", " : "", names.v[i]);
    lch_error("unknown backend '%s' (no %s; built-in: %s)", arg, path,
              known.len ? known.data : "none");
    lch_buf_free(&known);
    lch_strlist_free(&names);
    free(path);
    return NULL;
  }
  return path;
}

const struct lc_backend *lch_backend_open(const char *name_or_path) {
  char *dir = lch_backend_dir();
  char *path = dir ? lch_backend_resolve(dir, name_or_path) : NULL;
  free(dir);
  if (!path) return NULL;
  char *err = NULL;
  const struct lc_backend *b = lch_backend_load(path, &err);
  free(path);
  if (!b) {
    lch_error("%s", err);
    free(err);
  }
  return b;
}
