/* compare.c: `loopconf-bench compare OLD NEW`: per benchmark, ratio of medians, Mann-Whitney U
 * over the repetitions, a verdict, and exit 1 on a significant regression beyond a threshold. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_main.h"
#include "lj.h"
#include "mw.h"

/* All samples of one (backend, benchmark) in one file. */
struct series {
  char *backend, *name;
  double *v;
  size_t n, cap;
  int errors;       /* repetitions that reported an error */
  char *error_msg;  /* the first error message */
};

struct results {
  lj *doc;
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
  lj_free(r->doc);
}

/* Load a results file. On error prints one line and returns -1. */
static int load_results(const char *path, struct results *r) {
  char err[512];
  memset(r, 0, sizeof *r);
  r->doc = lj_parse_file(path, err, sizeof err);
  if (!r->doc) {
    fprintf(stderr, "loopconf-bench compare: %s\n", err);
    return -1;
  }
  const char *schema = lj_get_str(r->doc, "schema");
  lj *benches = lj_get(r->doc, "benchmarks");
  if (!schema || strcmp(schema, LCBENCH_SCHEMA) != 0) {
    fprintf(stderr, "loopconf-bench compare: %s: not a %s results file (schema: %s)\n", path,
            LCBENCH_SCHEMA, schema ? schema : "missing");
    return -1;
  }
  if (!benches || benches->type != LJ_ARR || !lj_get(r->doc, "context")) {
    fprintf(stderr, "loopconf-bench compare: %s: missing \"context\" or \"benchmarks\" array\n",
            path);
    return -1;
  }
  const char *mode = lj_get_str(lj_get(r->doc, "context"), "mode");
  r->callgrind = mode && strcmp(mode, "callgrind") == 0;
  for (size_t i = 0; i < benches->n; i++) {
    lj *e = benches->items[i];
    const char *name = lj_get_str(e, "run_name");
    if (!name) name = lj_get_str(e, "name");
    const char *backend = lj_get_str(e, "backend");
    if (!name || !backend) {
      fprintf(stderr, "loopconf-bench compare: %s: benchmark entry %zu lacks \"name\" or "
              "\"backend\"\n", path, i);
      return -1;
    }
    const char *run_type = lj_get_str(e, "run_type");
    if (run_type && strcmp(run_type, "aggregate") == 0) continue; /* we compute our own */
    struct series *s = add_series(r, backend, name);
    if (!s) {
      fprintf(stderr, "loopconf-bench compare: out of memory\n");
      return -1;
    }
    lj *erred = lj_get(e, "error_occurred");
    if (erred && erred->type == LJ_TRUE) {
      s->errors++;
      if (!s->error_msg) s->error_msg = strdup(lj_get_str(e, "error_message") ?
                                               lj_get_str(e, "error_message") : "error");
      continue;
    }
    double v;
    if (r->callgrind) {
      v = lj_get_num(e, "instructions_per_item", -1);
    } else {
      double f = unit_to_ns(lj_get_str(e, "time_unit"));
      double t = lj_get_num(e, "real_time", -1);
      v = f > 0 && t >= 0 ? t * f : -1;
    }
    if (!(v >= 0) || !isfinite(v)) {
      fprintf(stderr, "loopconf-bench compare: %s: entry %zu (%s on %s) has no valid %s\n",
              path, i, name, backend, r->callgrind ? "instructions_per_item" :
              "real_time/time_unit");
      return -1;
    }
    if (push_sample(s, v) < 0) {
      fprintf(stderr, "loopconf-bench compare: out of memory\n");
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

static int compare_usage(void) {
  fprintf(stderr, "usage: loopconf-bench compare OLD NEW [--alpha A] [--threshold PCT]\n");
  return 2;
}

int lcbench_cmd_compare(int argc, char **argv) {
  const char *files[2] = {NULL, NULL};
  int nfiles = 0;
  double alpha = 0.05, threshold = 10;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--alpha") == 0 || strcmp(a, "--threshold") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "loopconf-bench compare: %s needs a value\n", a);
        return 2;
      }
      char *end;
      double x = strtod(argv[++i], &end);
      int is_alpha = a[2] == 'a';
      if (*end || end == argv[i] || !isfinite(x) || x < 0 || (is_alpha && (x <= 0 || x >= 1))) {
        fprintf(stderr, "loopconf-bench compare: bad %s '%s' (%s)\n", a, argv[i],
                is_alpha ? "want 0 < A < 1" : "want a percentage >= 0");
        return 2;
      }
      if (is_alpha) alpha = x;
      else threshold = x;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      printf("usage: loopconf-bench compare OLD NEW [--alpha A] [--threshold PCT]\n");
      return 0;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "loopconf-bench compare: unknown option '%s'\n", a);
      return 2;
    } else if (nfiles < 2) {
      files[nfiles++] = a;
    } else {
      fprintf(stderr, "loopconf-bench compare: too many files ('%s')\n", a);
      return 2;
    }
  }
  if (nfiles != 2) return compare_usage();

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
    fprintf(stderr, "loopconf-bench compare: %s holds %s but %s holds %s\n", files[0],
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
    double mo = mw_median(o->v, o->n), mn = mw_median(n->v, n->n);
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
      double u, p = mw_test(n->v, n->n, o->v, o->n, &u, &exact);
      snprintf(sp, sizeof sp, "%.4f", p);
      int can_decide = mw_min_p(o->n, n->n) < alpha;
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
