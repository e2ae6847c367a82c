/* module.c: load one backend module with dlopen and check it honours the contract's shape. */
#include "runner.h"

#include <dlfcn.h>
#include <string.h>

/* A name usable as a column header, a TAP prefix and a JUnit class name. */
static int lcr_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 64) return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-' || *p == '.'))
      return 0;
  return 1;
}

const struct lc_backend *lch_backend_load(const char *path, char **err) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    *err = lch_xasprintf("cannot load %s: %s", path, why ? why : "unknown dlopen error");
    return NULL;
  }
  /* The handle stays open for the life of the (short-lived) child process. */
  lc_backend_entry_fn entry;
  void *sym = dlsym(h, LC_BACKEND_ENTRY);
  if (!sym) {
    *err = lch_xasprintf("%s does not export %s()", path, LC_BACKEND_ENTRY);
    return NULL;
  }
  memcpy(&entry, &sym, sizeof entry); /* object pointer -> function pointer, ISO C-clean */
  const struct lc_backend *b = entry();
  if (!b) {
    *err = lch_xasprintf("%s: %s() returned NULL", path, LC_BACKEND_ENTRY);
    return NULL;
  }
  if (b->abi_version != LC_BACKEND_ABI_VERSION) {
    *err = lch_xasprintf("%s has backend ABI version %u, this runner needs %d", path,
                     (unsigned)b->abi_version, LC_BACKEND_ABI_VERSION);
    return NULL;
  }
  if (!b->name || !lcr_name_ok(b->name)) {
    *err = lch_xasprintf("%s: lc_backend.name must be 1-64 characters of [A-Za-z0-9._-]", path);
    return NULL;
  }
  struct {
    const char *what;
    int set;
  } mandatory[] = {
      {"version", b->version != NULL},       {"loop_new", b->loop_new != NULL},
      {"loop_free", b->loop_free != NULL},   {"now", b->now != NULL},
      {"update_time", b->update_time != NULL}, {"run", b->run != NULL},
      {"stop", b->stop != NULL},             {"timer_new", b->timer_new != NULL},
      {"timer_start", b->timer_start != NULL}, {"timer_stop", b->timer_stop != NULL},
      {"timer_free", b->timer_free != NULL},
  };
  for (size_t i = 0; i < sizeof mandatory / sizeof mandatory[0]; i++) {
    if (!mandatory[i].set) {
      *err = lch_xasprintf("%s: backend '%s' lacks the mandatory operation %s", path, b->name,
                       mandatory[i].what);
      return NULL;
    }
  }
  int io = !!b->io_new + !!b->io_start + !!b->io_stop + !!b->io_free;
  int wk = !!b->wakeup_new + !!b->wakeup_send + !!b->wakeup_free;
  if ((io != 0 && io != 4) || (wk != 0 && wk != 3)) {
    *err = lch_xasprintf("%s: backend '%s' sets only part of an optional group (io: all four or "
                     "none, wakeup: all three or none)",
                     path, b->name);
    return NULL;
  }
  if (!b->version()) {
    *err = lch_xasprintf("%s: backend '%s' version() returned NULL", path, b->name);
    return NULL;
  }
  return b;
}
