/* loopconf/backend_check.h: the one check that a struct lc_backend honours the contract's
 * shape. Used by every loader (the host library) and by lc_run, so a backend is judged by one
 * rule wherever it is loaded. Header-only, so out-of-tree hosts can use it too. */
#ifndef LOOPCONF_BACKEND_CHECK_H
#define LOOPCONF_BACKEND_CHECK_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "loopconf/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if name is usable as a column header, a TAP prefix and a JUnit class name:
 * 1-64 characters of [A-Za-z0-9._-]. */
static inline int lc_backend_name_ok(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > 64) return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-' || *p == '.'))
      return 0;
  return 1;
}

/* Check b: the ABI version, a well-formed name, every mandatory operation, each optional group
 * all-set or all-NULL, and a non-NULL version string. Returns 0, or -1 with a one-line reason
 * (no trailing newline, naming the backend when it has a name) in why[0..len). */
static inline int lc_backend_validate(const struct lc_backend *b, char *why, size_t len) {
  if (!b) {
    snprintf(why, len, "%s() returned NULL", LC_BACKEND_ENTRY);
    return -1;
  }
  if (b->abi_version != LC_BACKEND_ABI_VERSION) {
    snprintf(why, len, "backend ABI version %u, this build needs %d", (unsigned)b->abi_version,
             LC_BACKEND_ABI_VERSION);
    return -1;
  }
  if (!lc_backend_name_ok(b->name)) {
    snprintf(why, len, "lc_backend.name must be 1-64 characters of [A-Za-z0-9._-]");
    return -1;
  }
  const struct {
    const char *what;
    int set;
  } mandatory[] = {
      {"version", b->version != NULL},
      {"loop_new", b->loop_new != NULL},
      {"loop_free", b->loop_free != NULL},
      {"now", b->now != NULL},
      {"update_time", b->update_time != NULL},
      {"run", b->run != NULL},
      {"stop", b->stop != NULL},
      {"timer_new", b->timer_new != NULL},
      {"timer_start", b->timer_start != NULL},
      {"timer_stop", b->timer_stop != NULL},
      {"timer_free", b->timer_free != NULL},
  };
  for (size_t i = 0; i < sizeof mandatory / sizeof mandatory[0]; i++)
    if (!mandatory[i].set) {
      snprintf(why, len, "backend '%s' lacks the mandatory operation %s", b->name,
               mandatory[i].what);
      return -1;
    }
  int io = !!b->io_new + !!b->io_start + !!b->io_stop + !!b->io_free;
  int wk = !!b->wakeup_new + !!b->wakeup_send + !!b->wakeup_free;
  if ((io != 0 && io != 4) || (wk != 0 && wk != 3)) {
    snprintf(why, len,
             "backend '%s' sets only part of an optional group (io: all four or none, "
             "wakeup: all three or none)",
             b->name);
    return -1;
  }
  if (!b->version()) {
    snprintf(why, len, "backend '%s' version() returned NULL", b->name);
    return -1;
  }
  return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* LOOPCONF_BACKEND_CHECK_H */
