// lcbench_shim.cc: the C++ side of lcbench.h, over Google Benchmark 1.7.
#include "lcbench.h"
#include "loopconf/clock.h"

#include <benchmark/benchmark.h>
#include <valgrind/callgrind.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

// One registered benchmark after expansion of its args.
struct Entry {
  std::string name;
  lcbench_spec spec;
  int64_t arg;
};

std::vector<Entry> &registry() {
  static std::vector<Entry> r;
  return r;
}

bool g_any_error = false;

// LOOPCONF_BENCH_SLOWDOWN=name:factor makes the named benchmark `factor` times slower by
// spinning after every batch for (factor - 1) times the batch's timed span. Used by the
// compare-gate test to fake a regression; the name may be the full one or its base.
double slowdown_for(const std::string &name) {
  const char *env = getenv("LOOPCONF_BENCH_SLOWDOWN");
  if (!env || !*env) return 1.0;
  const char *colon = strrchr(env, ':');
  if (!colon) return 1.0;
  std::string want(env, (size_t)(colon - env));
  std::string base = name.substr(0, name.find('/'));
  if (want != name && want != base) return 1.0;
  char *end = nullptr;
  double f = strtod(colon + 1, &end);
  if (end == colon + 1 || *end || !(f >= 1.0) || f > 1000.0) {
    fprintf(stderr, "loopconf-bench: bad LOOPCONF_BENCH_SLOWDOWN '%s' (want name:factor)\n", env);
    exit(2);
  }
  return f;
}

} // namespace

struct lcbench_state {
  benchmark::State *gb = nullptr; // NULL in callgrind mode
  const Entry *entry = nullptr;
  int64_t given = 0;  // iterations handed out
  int64_t items = -1; // -1: not set, use the iteration count
  bool paused = false;
  bool failed = false;
  bool finished = false; // lcbench_next_batch returned 0
  bool started = false;
  // Callgrind mode.
  bool collecting = false;
  int64_t cg_left = 0;
  // Slowdown injection.
  double slow = 1.0;
  int64_t batch_start = 0;  // monotonic ns when the current batch began
  int64_t batch_paused = 0; // ns paused inside the current batch
  int64_t pause_start = 0;
};

static void cg_collect(lcbench_state *st, bool on) {
  if (st->collecting == on) return;
  CALLGRIND_TOGGLE_COLLECT; // a no-op outside valgrind
  st->collecting = on;
}

// Spin for (slow - 1) times the timed span of the batch that just ended.
static void inject_slowdown(lcbench_state *st) {
  int64_t now = lc_clock_ns();
  int64_t worked = now - st->batch_start - st->batch_paused;
  if (worked > 0) {
    int64_t until = now + (int64_t)((st->slow - 1.0) * (double)worked);
    volatile uint64_t sink = 0;
    while (lc_clock_ns() < until) sink = sink + 1;
  }
}

extern "C" {

int lcbench_register(const lcbench_spec *spec) {
  if (!spec || !spec->name || !*spec->name || !spec->fn || (spec->nargs > 0 && !spec->args))
    return -EINVAL;
  if (spec->nargs <= 0) {
    registry().push_back(Entry{spec->name, *spec, 0});
    return 0;
  }
  for (int i = 0; i < spec->nargs; i++) {
    std::string name = std::string(spec->name) + "/" + (spec->arg_name ? spec->arg_name : "arg") +
                       ":" + std::to_string(spec->args[i]);
    registry().push_back(Entry{name, *spec, spec->args[i]});
  }
  return 0;
}

int lcbench_next_batch(lcbench_state *st, int64_t *n) {
  if (st->failed || st->finished) return 0;
  int64_t cap = st->entry->spec.batch_max > 0 ? st->entry->spec.batch_max : 10000;
  if (!st->gb) { // callgrind mode: everything in one batch
    if (st->cg_left <= 0) {
      cg_collect(st, false);
      st->finished = true;
      return 0;
    }
    *n = st->cg_left;
    st->cg_left = 0;
    st->given += *n;
    st->started = true;
    cg_collect(st, true);
    return 1;
  }
  if (st->slow > 1.0 && st->started) inject_slowdown(st);
  int64_t left = (int64_t)st->gb->max_iterations - st->given;
  int64_t take = left < cap ? left : cap;
  // With take == 0 the call below is the one that ends Google Benchmark's loop (and stops
  // its clock); batches never overshoot max_iterations, so it returns false exactly then.
  if (!st->gb->KeepRunningBatch(take > 0 ? take : 1)) {
    st->finished = true;
    return 0;
  }
  st->started = true;
  st->given += take;
  *n = take;
  st->batch_start = lc_clock_ns();
  st->batch_paused = 0;
  return 1;
}

void lcbench_pause(lcbench_state *st) {
  if (st->paused || st->failed || !st->started || st->finished) return;
  st->paused = true;
  if (!st->gb) {
    cg_collect(st, false);
    return;
  }
  st->pause_start = lc_clock_ns();
  st->gb->PauseTiming();
}

void lcbench_resume(lcbench_state *st) {
  if (!st->paused || st->failed) return;
  st->paused = false;
  if (!st->gb) {
    cg_collect(st, true);
    return;
  }
  st->gb->ResumeTiming();
  st->batch_paused += lc_clock_ns() - st->pause_start;
}

int64_t lcbench_iterations(const lcbench_state *st) { return st->given; }
int64_t lcbench_arg(const lcbench_state *st) { return st->entry->arg; }
int lcbench_is_callgrind(const lcbench_state *st) { return st->gb == nullptr; }
void lcbench_set_items(lcbench_state *st, int64_t items) { st->items = items; }

void lcbench_counter(lcbench_state *st, const char *name, double value, unsigned flags) {
  if (!st->gb) return; // callgrind mode reports instructions only
  int f = 0;
  if (flags & LCBENCH_COUNTER_RATE) f |= benchmark::Counter::kIsRate;
  if (flags & LCBENCH_COUNTER_AVG_ITERATIONS) f |= benchmark::Counter::kAvgIterations;
  st->gb->counters[name] = benchmark::Counter(value, (benchmark::Counter::Flags)f);
}

void lcbench_fail(lcbench_state *st, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  g_any_error = true;
  if (st->failed) return;
  st->failed = true;
  if (!st->gb) {
    cg_collect(st, false);
    fprintf(stderr, "loopconf-bench: %s: %s\n", st->entry->name.c_str(), msg);
    return;
  }
  if (st->paused) { // Google Benchmark wants its clock running when the run ends
    st->gb->ResumeTiming();
    st->paused = false;
  }
  st->gb->SkipWithError(msg);
}

void lcbench_add_context(const char *key, const char *value) {
  benchmark::AddCustomContext(key, value);
}

int lcbench_main(int argc, char **argv) {
  for (const Entry &e : registry()) {
    const Entry *ep = &e;
    benchmark::internal::Benchmark *b =
        benchmark::RegisterBenchmark(e.name.c_str(), [ep](benchmark::State &gbs) {
          lcbench_state st;
          st.gb = &gbs;
          st.entry = ep;
          st.slow = slowdown_for(ep->name);
          ep->spec.fn(&st, ep->spec.arg);
          if (st.failed) return;
          if (!st.finished) {
            lcbench_fail(&st, "the body returned before lcbench_next_batch returned 0");
            return;
          }
          gbs.SetItemsProcessed(st.items >= 0 ? st.items : st.given);
        });
    b->UseRealTime();
    switch (e.spec.unit) {
    case 'u': b->Unit(benchmark::kMicrosecond); break;
    case 'm': b->Unit(benchmark::kMillisecond); break;
    default: b->Unit(benchmark::kNanosecond); break;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return g_any_error ? 1 : 0;
}

int lcbench_run_callgrind(const char *name, int64_t *items) {
  for (const Entry &e : registry()) {
    if (e.name != name) continue;
    lcbench_state st;
    st.entry = &e;
    st.cg_left = e.spec.cg_iterations > 0 ? e.spec.cg_iterations : 1;
    e.spec.fn(&st, e.spec.arg);
    cg_collect(&st, false);
    if (st.failed) return -EIO;
    if (!st.finished) {
      fprintf(stderr, "loopconf-bench: %s: the body returned before the end\n", name);
      return -EIO;
    }
    *items = st.items >= 0 ? st.items : st.given;
    return 0;
  }
  return -ENOENT;
}

int lcbench_count(void) { return (int)registry().size(); }
const char *lcbench_name(int i) { return registry()[(size_t)i].name.c_str(); }
int lcbench_deterministic(int i) { return registry()[(size_t)i].spec.deterministic; }

} // extern "C"
