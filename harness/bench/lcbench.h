/* lcbench.h: a small C API over Google Benchmark (implemented in lcbench_shim.cc).
 *
 * A benchmark is a C function that loops over batches handed out by the C++ side, so the
 * cross-language call happens once per batch, not once per iteration:
 *
 *     static void bm_work(lcb_state *st, void *arg) {
 *       setup();                                   // not timed: before the first batch
 *       int64_t n;
 *       while (lcb_next_batch(st, &n))
 *         for (int64_t i = 0; i < n; i++) work();
 *       lcb_set_items(st, lcb_iterations(st));
 *       teardown();                                // not timed: after the last batch
 *     }
 *     lcb_register(&(lcb_spec){.name = "area.work", .fn = bm_work});
 *
 * Timing is wall-clock time (Google Benchmark's UseRealTime: loops block in the kernel and
 * some benchmarks use helper threads) from the first lcb_next_batch to the call that returns 0,
 * minus paused spans.
 * Google Benchmark's own flags (--benchmark_filter, --benchmark_repetitions,
 * --benchmark_format=json, --benchmark_out=...) keep working.
 *
 * The same body also runs in callgrind mode (lcb_run_callgrind): no Google Benchmark, a fixed
 * number of iterations in one batch, and instruction collection switched on only while the
 * clock would run (between the first batch and the end, outside paused spans).
 */
#ifndef LCBENCH_H
#define LCBENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lcb_state lcb_state;
typedef void (*lcb_fn)(lcb_state *st, void *arg);

/* How a benchmark is registered. Zeroed fields take the defaults shown. */
typedef struct lcb_spec {
  const char *name;      /* "tier.area_scenario"; copied */
  lcb_fn fn;             /* the body */
  void *arg;             /* passed to fn unchanged */
  const char *arg_name;  /* with args: registered as name/arg_name:value per value */
  const int64_t *args;   /* values for lcb_arg(); NULL: no argument */
  int nargs;
  char unit;             /* display unit: 'n' ns (default), 'u' us, 'm' ms */
  int64_t batch_max;     /* largest batch handed out; 0: 10000 */
  int deterministic;     /* 1: user-space path whose instruction count is repeatable, so
                            `bench --callgrind` measures it */
  int64_t cg_iterations; /* iterations in callgrind mode; 0: 1 */
} lcb_spec;

/* Register a benchmark (before lcb_main). Returns 0 or -EINVAL (missing name or fn). */
int lcb_register(const lcb_spec *spec);

/* Hand out the next batch: returns 1 and stores its size (> 0) in *n, or returns 0 when the
 * run is over (timing stops then). Call until it returns 0, unless lcb_fail was called. */
int lcb_next_batch(lcb_state *st, int64_t *n);

/* Stop / restart the clock around work that must not count (setup inside the timed span). */
void lcb_pause(lcb_state *st);
void lcb_resume(lcb_state *st);

/* The iterations handed out so far, and the benchmark's argument (0 without args). */
int64_t lcb_iterations(const lcb_state *st);
int64_t lcb_arg(const lcb_state *st);

/* Was this state created for callgrind mode? Bodies use it to shrink a problem size so that
 * the run stays short under valgrind (report per-item counts, which stay comparable). */
int lcb_is_callgrind(const lcb_state *st);

/* Items processed in total (Google Benchmark reports items_per_second; callgrind mode divides
 * the instruction count by it). Default: the iteration count. */
void lcb_set_items(lcb_state *st, int64_t items);

/* Counter flags (a subset of benchmark::Counter::Flags, same meanings). */
enum lcb_counter_flags {
  LCB_COUNTER_PLAIN = 0,          /* reported as given */
  LCB_COUNTER_RATE = 1,           /* divided by the elapsed time */
  LCB_COUNTER_AVG_ITERATIONS = 8  /* divided by the iteration count */
};
/* Set a named custom counter (copied into the results entry as a field). */
void lcb_counter(lcb_state *st, const char *name, double value, unsigned flags);

/* Report an error for this run: the entry carries error_occurred/error_message. The body must
 * return without calling lcb_next_batch again. The message is copied. */
void lcb_fail(lcb_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Add a key/value to the "context" object of the JSON output. Copied. */
void lcb_add_context(const char *key, const char *value);

/* Initialise Google Benchmark from argv (its own --benchmark_* flags), refuse any other
 * argument with one error line, run every registered benchmark that matches the filter.
 * Returns the process exit code: 0, 1 if a benchmark reported an error, 2 for bad arguments. */
int lcb_main(int argc, char **argv);

/* Callgrind mode: run the registered benchmark called `name` once through its body with
 * cg_iterations iterations, collection toggled around the timed spans. Stores the items it
 * reported in *items. Returns 0, -ENOENT (no such benchmark), or -EIO (the body failed; its
 * message went to stderr). */
int lcb_run_callgrind(const char *name, int64_t *items);

/* Names of registered benchmarks (after expansion of args), for listing and checks.
 * Returns the count; name(i) is valid until exit. deterministic(i) tells callgrind mode. */
int lcb_count(void);
const char *lcb_name(int i);
int lcb_deterministic(int i);

#ifdef __cplusplus
}
#endif

#endif /* LCBENCH_H */
