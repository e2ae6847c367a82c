/* loopconf/adapter.h: small helpers for adapters whose library lacks a concept the contract
 * has (backend.h, "When the library lacks a concept"). Optional: an adapter needs only
 * backend.h. Static inline, no state, no dependency beyond libc (dladdr).
 */
#ifndef LOOPCONF_ADAPTER_H
#define LOOPCONF_ADAPTER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The running library's version when it has no version call: the real file name of the
 * shared object that defines `symbol` (dladdr, then symlinks resolved), whose suffix is the
 * version the distribution installed: libtevent.so.0 -> libtevent.so.0.14.1 gives
 * "<label> (libtevent.so.0.14.1)". Writes "<label> (unknown file)" if the object cannot be
 * found. Returns buf. Call it once and keep the result (static storage). */
static inline const char *lc_version_from_library(const void *symbol, const char *label, char *buf,
                                                  size_t len) {
  Dl_info info;
  char *real = NULL;
  const char *file = "unknown file";
  if (dladdr(symbol, &info) != 0 && info.dli_fname != NULL) {
    real = realpath(info.dli_fname, NULL);
    file = real != NULL ? real : info.dli_fname;
    const char *slash = strrchr(file, '/');
    if (slash != NULL) file = slash + 1;
  }
  snprintf(buf, len, "%s (%s)", label, file);
  free(real);
  return buf;
}

#endif /* LOOPCONF_ADAPTER_H */
