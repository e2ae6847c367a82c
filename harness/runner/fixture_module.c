/* fixture_module.c: deliberately broken backend modules that the runner must refuse cleanly.
 *
 * Built three times (see CMakeLists.txt): LCFIX_NO_ENTRY exports no loopconf_backend(),
 * LCFIX_BAD_ABI reports ABI version 999, LCFIX_INCOMPLETE leaves mandatory operations NULL.
 * None of them is ever run as a loop: the runner must reject them at load time. */
#include "loopconf/backend.h"

static const char *lcfix_version(void) { return "fixture 0"; }

#ifdef LCFIX_NO_ENTRY
/* Something exported, so the module is a valid shared object without the entry point. */
LC_BACKEND_EXPORT int lcfix_not_a_backend(void);
LC_BACKEND_EXPORT int lcfix_not_a_backend(void) { return lcfix_version()[0]; }
#else
static const struct lc_backend lcfix_backend = {
#ifdef LCFIX_BAD_ABI
    .abi_version = 999,
#else
    .abi_version = LC_BACKEND_ABI_VERSION,
#endif
    .name = "fixture",
    .version = lcfix_version,
};

LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &lcfix_backend; }
#endif
