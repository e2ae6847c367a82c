/* compare.c: `loopconf-bench compare OLD NEW`: per benchmark, ratio of medians, Mann-Whitney U
 * over the repetitions, a verdict, and exit 1 on a significant regression beyond a threshold. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_main.h"
#include "mann_whitney.h"

/* All samples of one (backend, benchmark) in one file. */
struct series {
  char *backend, *name;
  double *v;
  size_t n, cap;
  int errors;       /* repetitions that reported an error */
  char *error_msg;  /* the first error message */
};

struct results {
  json_t *doc;
  int callgrind;    /* 1: instruction counts, 0: timings */
  struct series *s;
  size_t n, cap;
};

static double unit_to_ns(const char *unit) {
  if (!unit || strcmp(unit, "ns") == 0) return 1;
  if (strcmp(unit, "us") == 0) return 1e3;
  if (strcmp(unit, "ms") == 0) return 1e6;
  if (strcmp(unit, "s") == 0) return 1e9;
  return -1;
}

static struct series *find_series(struct results *r, const char *backend, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->s[i].backend, backend) == 0 && strcmp(r->s[i].name, name) == 0)
      return &r->s[i];
  return NULL;
}

static struct series *add_series(struct results *r, const char *backend, const char *name) {
  struct series *s = find_series(r, backend, name);
  if (s) return s;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 32;
    struct series *ns = realloc(r->s, cap * sizeof *ns);
    if (!ns) return NULL;
    r->s = ns;
    r->cap = cap;
  }
  s = &r->s[r->n];
  *s = (struct series){.backend = strdup(backend), .name = strdup(name)};
  if (!s->backend || !s->name) {
    free(s->backend);
    free(s->name);
    return NULL;
  }
  r->n++;
  return s;
}

static int push_sample(struct series *s, double v) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    double *nv = realloc(s->v, cap * sizeof *nv);
    if (!nv) return -ENOMEM;
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->n++] = v;
  return 0;
}

static void free_results(struct results *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->s[i].backend);
    free(r->s[i].name);
    free(r->s[i].v);
    free(r->s[i].error_msg);
  }
  free(r->s);
  json_decref(r->doc);
}

/* Load a results file. On error prints one line and returns -1. */
static int load_results(const char *path, struct results *r) {
  memset(r, 0, sizeof *r);
  r->doc = lch_json_load(path);
  if (!r->doc) return -1;
  const char *schema = lch_json_str(r->doc, "schema");
  json_t *benches = json_object_get(r->doc, "benchmarks");
  if (!schema || strcmp(schema, LCBENCH_SCHEMA) != 0) {
    lch_error("compare: %s: not a %s results file (schema: %s)", path, LCBENCH_SCHEMA,
              schema ? schema : "missing");
    return -1;
  }
  if (!json_is_array(benches) || !json_is_object(json_object_get(r->doc, "context"))) {
    lch_error("compare: %s: missing \"context\" or \"benchmarks\" array", path);
    return -1;
  }
  const char *mode = lch_json_str(json_object_get(r->doc, "context"), "mode");
  r->callgrind = mode && strcmp(mode, "callgrind") == 0;
  size_t i;
  json_t *e;
  json_array_foreach(benches, i, e) {
    const char *name = lch_json_str(e, "run_name");
    if (!name) name = lch_json_str(e, "name");
    const char *backend = lch_json_str(e, "backend");
    if (!name || !backend) {
      lch_error("compare: %s: benchmark entry %zu lacks \"name\" or \"backend\"", path, i);
      return -1;
    }
    const char *run_type = lch_json_str(e, "run_type");
    if (run_type && strcmp(run_type, "aggregate") == 0) continue; /* we compute our own */
    struct series *s = add_series(r, backend, name);
    if (!s) {
      lch_error("compare: out of memory");
      return -1;
    }
    if (json_is_true(json_object_get(e, "error_occurred"))) {
      s->errors++;
      const char *msg = lch_json_str(e, "error_message");
      if (!s->error_msg) s->error_msg = strdup(msg ? msg : "error");
      continue;
    }
    double v;
    if (r->callgrind) {
      v = lch_json_num(e, "instructions_per_item", -1);
    } else {
      double f = unit_to_ns(lch_json_str(e, "time_unit"));
      double t = lch_json_num(e, "real_time", -1);
      v = f > 0 && t >= 0 ? t * f : -1;
    }
    if (!(v >= 0) || !isfinite(v)) {
      lch_error("compare: %s: entry %zu (%s on %s) has no valid %s", path, i, name, backend,
                r->callgrind ? "instructions_per_item" : "real_time/time_unit");
      return -1;
    }
    if (push_sample(s, v) < 0) {
      lch_error("compare: out of memory");
      return -1;
    }
  }
  return 0;
}

static void fmt_value(char *buf, size_t len, double v, int callgrind) {
  if (callgrind) snprintf(buf, len, "%.3f Ir", v);
  else if (v >= 1e9) snprintf(buf, len, "%.3f s", v / 1e9);
  else if (v >= 1e6) snprintf(buf, len, "%.3f ms", v / 1e6);
  else if (v >= 1e3) snprintf(buf, len, "%.3f us", v / 1e3);
  else snprintf(buf, len, "%.1f ns", v);
}

static const char compare_help[] =
    "usage: loopconf-bench compare OLD NEW [--alpha A] [--threshold PCT]\n"
    "Per (backend, benchmark): the ratio of NEW's median to OLD's, a two-sided Mann-Whitney U\n"
    "test over the repetitions (instruction counts: no test, the threshold decides), and a\n"
    "verdict. Exit 1 when a benchmark regressed significantly beyond the threshold or erred in\n"
    "NEW, 0 otherwise, 2 for bad usage or input.\n"
    "  --alpha A        significance level, 0 < A < 1 (default 0.05)\n"
    "  --threshold PCT  smallest slowdown that counts, in percent (default 10)\n";

int lcbench_cmd_compare(int argc, char **argv) {
  enum { OPT_ALPHA = 256, OPT_THRESHOLD };
  static const struct option longopts[] = {
      {"alpha", required_argument, NULL, OPT_ALPHA},
      {"threshold", required_argument, NULL, OPT_THRESHOLD},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  double alpha = 0.05, threshold = 10;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_ALPHA:
      if (lch_parse_double(optarg, "compare: --alpha", 1e-9, 1 - 1e-9, &alpha) < 0) return 2;
      break;
    case OPT_THRESHOLD:
      if (lch_parse_double(optarg, "compare: --threshold", 0, 1e6, &threshold) < 0) return 2;
      break;
    case 'h': fputs(compare_help, stdout); return 0;
    case ':': lch_error("compare: option '%s' needs a value", argv[optind - 1]); return 2;
    default:
      lch_error("compare: unknown option '%s' (see loopconf-bench compare --help)",
                argv[optind - 1]);
      return 2;
    }
  }
  if (argc - optind != 2) {
    lch_error("compare: want two results files, OLD and NEW, got %d (see loopconf-bench "
              "compare --help)", argc - optind);
    return 2;
  }
  const char *files[2] = {argv[optind], argv[optind + 1]};

  struct results old, new;
  int rc = 2;
  int ok_old = load_results(files[0], &old);
  int ok_new = ok_old == 0 ? load_results(files[1], &new) : -1;
  if (ok_old < 0 || ok_new < 0) {
    if (ok_old == 0) free_results(&new);
    free_results(&old);
    return 2;
  }
  if (old.callgrind != new.callgrind) {
    lch_error("compare: %s holds %s but %s holds %s", files[0],
              old.callgrind ? "instruction counts" : "timings", files[1],
              new.callgrind ? "instruction counts" : "timings");
    goto out;
  }
  int cg = old.callgrind;
  double thr = threshold / 100;
  int regressed = 0, few_reps = 0;
  printf("%-10s %-32s %14s %14s %7s %8s  %s\n", "backend", "benchmark", "old", "new", "ratio",
         cg ? "" : "p", "verdict");
  for (size_t i = 0; i < old.n; i++) {
    struct series *o = &old.s[i], *n = find_series(&new, o->backend, o->name);
    if (!n) {
      printf("%-10s %-32s %14s %14s %7s %8s  %s\n", o->backend, o->name, "", "", "", "",
             "missing in NEW");
      continue;
    }
    if (n->errors || n->n == 0) {
      printf("%-10s %-32s %14s %14s %7s %8s  ERROR in NEW: %s\n", o->backend, o->name, "", "",
             "", "", n->error_msg ? n->error_msg : "no figure");
      regressed++;
      continue;
    }
    if (o->n == 0) {
      printf("%-10s %-32s %14s %14s %7s %8s  %s\n", o->backend, o->name, "", "", "", "",
             "no figure in OLD");
      continue;
    }
    double mo = lcbench_median(o->v, o->n), mn = lcbench_median(n->v, n->n);
    double ratio = mo > 0 ? mn / mo : (mn > 0 ? INFINITY : 1);
    char so[32], sn[32], sp[16] = "", verdict[64];
    fmt_value(so, sizeof so, mo, cg);
    fmt_value(sn, sizeof sn, mn, cg);
    if (cg) { /* exact counts: the threshold alone decides */
      if (ratio > 1 + thr) {
        snprintf(verdict, sizeof verdict, "REGRESSED");
        regressed++;
      } else if (ratio < 1 / (1 + thr)) {
        snprintf(verdict, sizeof verdict, "improved");
      } else {
        snprintf(verdict, sizeof verdict, ratio == 1 ? "identical" : "same (within threshold)");
      }
    } else {
      int exact;
      double u, p = lcbench_mwu_test(n->v, n->n, o->v, o->n, &u, &exact);
      snprintf(sp, sizeof sp, "%.4f", p);
      int can_decide = lcbench_mwu_min_p(o->n, n->n) < alpha;
      if (!can_decide) few_reps = 1;
      if (!can_decide)
        snprintf(verdict, sizeof verdict, "too few repetitions to test");
      else if (p >= alpha)
        snprintf(verdict, sizeof verdict, "%s", fabs(ratio - 1) > thr ? "noisy (not significant)"
                                                                      : "same");
      else if (ratio > 1 + thr) {
        snprintf(verdict, sizeof verdict, "REGRESSED");
        regressed++;
      } else if (ratio < 1 / (1 + thr))
        snprintf(verdict, sizeof verdict, "improved");
      else
        snprintf(verdict, sizeof verdict, "%s (within threshold)",
                 ratio > 1 ? "slower" : "faster");
    }
    printf("%-10s %-32s %14s %14s %7.3f %8s  %s\n", o->backend, o->name, so, sn, ratio, sp,
           verdict);
  }
  for (size_t i = 0; i < new.n; i++)
    if (!find_series(&old, new.s[i].backend, new.s[i].name))
      printf("%-10s %-32s %14s %14s %7s %8s  %s\n", new.s[i].backend, new.s[i].name, "", "", "",
             "", "new (not in OLD)");
  if (few_reps)
    printf("note: some benchmarks have too few repetitions for p < %g; use --repetitions 9\n",
           alpha);
  if (cg) printf("threshold %g%% (instruction counts: no statistical test)\n", threshold);
  else printf("alpha %g, threshold %g%%\n", alpha, threshold);
  printf("%d regressed\n", regressed);
  rc = regressed ? 1 : 0;
out:
  free_results(&old);
  free_results(&new);
  return rc;
}
