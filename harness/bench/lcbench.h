/* lcbench.h: a small C API over Google Benchmark (implemented in lcbench_shim.cc).
 *
 * A benchmark is a C function that loops over batches handed out by the C++ side, so the
 * cross-language call happens once per batch, not once per iteration:
 *
 *     static void bm_work(lcbench_state *st, void *arg) {
 *       setup();                                   // not timed: before the first batch
 *       int64_t n;
 *       while (lcbench_next_batch(st, &n))
 *         for (int64_t i = 0; i < n; i++) work();
 *       lcbench_set_items(st, lcbench_iterations(st));
 *       teardown();                                // not timed: after the last batch
 *     }
 *     lcbench_register(&(lcbench_spec){.name = "area.work", .fn = bm_work});
 *
 * Timing is wall-clock time (Google Benchmark's UseRealTime: loops block in the kernel and
 * some benchmarks use helper threads) from the first lcbench_next_batch to the call that returns 0,
 * minus paused spans.
 * Google Benchmark's own flags (--benchmark_filter, --benchmark_repetitions,
 * --benchmark_format=json, --benchmark_out=...) keep working.
 *
 * The same body also runs in callgrind mode (lcbench_run_callgrind): no Google Benchmark, a fixed
 * number of iterations in one batch, and instruction collection switched on only while the
 * clock would run (between the first batch and the end, outside paused spans).
 */
#ifndef LCBENCH_H
#define LCBENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcbench_state lcbench_state;
typedef void (*lcbench_fn)(lcbench_state *st, void *arg);

/* How a benchmark is registered. Zeroed fields take the defaults shown. */
typedef struct lcbench_spec {
  const char *name;     /* "tier.area_scenario"; copied */
  lcbench_fn fn;        /* the body */
  void *arg;            /* passed to fn unchanged */
  const char *arg_name; /* with args: registered as name/arg_name:value per value */
  const int64_t *args;  /* values for lcbench_arg(); NULL: no argument */
  int nargs;
  char unit;             /* display unit: 'n' ns (default), 'u' us, 'm' ms */
  int64_t batch_max;     /* largest batch handed out; 0: 10000 */
  int deterministic;     /* 1: user-space path whose instruction count is repeatable, so
                            `bench --callgrind` measures it */
  int64_t cg_iterations; /* iterations in callgrind mode; 0: 1 */
} lcbench_spec;

/* Register a benchmark (before lcbench_main). Returns 0 or -EINVAL (missing name or fn). */
int lcbench_register(const lcbench_spec *spec);

/* Hand out the next batch: returns 1 and stores its size (> 0) in *n, or returns 0 when the
 * run is over (timing stops then). Call until it returns 0, unless lcbench_fail was called. */
int lcbench_next_batch(lcbench_state *st, int64_t *n);

/* Stop / restart the clock around work that must not count (setup inside the timed span). */
void lcbench_pause(lcbench_state *st);
void lcbench_resume(lcbench_state *st);

/* The iterations handed out so far, and the benchmark's argument (0 without args). */
int64_t lcbench_iterations(const lcbench_state *st);
int64_t lcbench_arg(const lcbench_state *st);

/* Was this state created for callgrind mode? Bodies use it to shrink a problem size so that
 * the run stays short under valgrind (report per-item counts, which stay comparable). */
int lcbench_is_callgrind(const lcbench_state *st);

/* Items processed in total (Google Benchmark reports items_per_second; callgrind mode divides
 * the instruction count by it). Default: the iteration count. */
void lcbench_set_items(lcbench_state *st, int64_t items);

/* Counter flags (a subset of benchmark::Counter::Flags, same meanings). */
enum lcbench_counter_flags {
  LCBENCH_COUNTER_PLAIN = 0,         /* reported as given */
  LCBENCH_COUNTER_RATE = 1,          /* divided by the elapsed time */
  LCBENCH_COUNTER_AVG_ITERATIONS = 8 /* divided by the iteration count */
};
/* Set a named custom counter (copied into the results entry as a field). */
void lcbench_counter(lcbench_state *st, const char *name, double value, unsigned flags);

/* Report an error for this run: the entry carries error_occurred/error_message. The body must
 * return without calling lcbench_next_batch again. The message is copied. */
void lcbench_fail(lcbench_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Add a key/value to the "context" object of the JSON output. Copied. */
void lcbench_add_context(const char *key, const char *value);

/* Initialise Google Benchmark from argv (its own --benchmark_* flags), refuse any other
 * argument with one error line, run every registered benchmark that matches the filter.
 * Returns the process exit code: 0, 1 if a benchmark reported an error, 2 for bad arguments. */
int lcbench_main(int argc, char **argv);

/* Callgrind mode: run the registered benchmark called `name` once through its body with
 * cg_iterations iterations, collection toggled around the timed spans. Stores the items it
 * reported in *items. Returns 0, -ENOENT (no such benchmark), or -EIO (the body failed; its
 * message went to stderr). */
int lcbench_run_callgrind(const char *name, int64_t *items);

/* Names of registered benchmarks (after expansion of args), for listing and checks.
 * Returns the count; name(i) is valid until exit. deterministic(i) tells callgrind mode. */
int lcbench_count(void);
const char *lcbench_name(int i);
int lcbench_deterministic(int i);

#ifdef __cplusplus
}
#endif

#endif /* LCBENCH_H */
