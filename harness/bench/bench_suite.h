/* bench_suite.h: the benchmark sets of loopconf-bench and the helpers they share. */
#ifndef LOOPCONF_BENCH_SUITE_H
#define LOOPCONF_BENCH_SUITE_H

#include <stdint.h>

#include "lcbench.h"
#include "loopconf/backend.h"
#include "loopconf/clock.h"

/* Register the loop.* benchmarks, run against backend b (kept for the process lifetime). */
void bench_loop_register(const struct lc_backend *b);

/* Register the runtime.* benchmarks (lc_run over backend b). */
void bench_runtime_register(const struct lc_backend *b);

/* Register the backend-independent benchmarks: floor.* (bare syscalls) and coro.*. */
void bench_floor_register(void);
void bench_coro_register(void);

/* Sleep until the monotonic clock reaches deadline_ns. */
void bench_sleep_until(int64_t deadline_ns);

/* Resident set size of this process in bytes (from /proc/self/statm), or -1. */
int64_t bench_rss_bytes(void);

#endif /* LOOPCONF_BENCH_SUITE_H */
