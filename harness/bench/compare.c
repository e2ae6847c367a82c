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
#include "paired.h"

/* All samples of one (backend, benchmark) in one file. */
struct series {
  char *backend, *name;
  double *v;
  int *round; /* the round of each sample (schema 2), -1 if none */
  size_t n, cap;
  int errors;      /* repetitions that reported an error */
  char *error_msg; /* the first error message */
};

struct results {
  json_t *doc;
  int callgrind;             /* 1: instruction counts, 0: timings */
  const char *run_id, *role; /* of a `bench --vs` run (both NULL otherwise) */
  struct series *s;
  size_t n, cap;
  char *path; /* the file's name, cleaned for printing */
};

static struct series *find_series(struct results *r, const char *backend, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->s[i].backend, backend) == 0 && strcmp(r->s[i].name, name) == 0) return &r->s[i];
  return NULL;
}

/* Untrusted text from a results file, safe to print on a terminal: invalid UTF-8 and control
 * characters become '?' (lch_text_clean), and so do line breaks, tabs (one row stays one line)
 * and the C1 controls U+0080-U+009F (U+009B is a CSI to some terminals). malloc'd. */
static char *clean_text(const char *s) {
  char *c = lch_text_clean(s, strlen(s)), *w = c;
  for (const char *p = c; *p; p++) {
    if ((unsigned char)p[0] == 0xc2 && (unsigned char)p[1] >= 0x80 && (unsigned char)p[1] <= 0x9f) {
      *w++ = '?';
      p++;
    } else {
      *w++ = *p == '\n' || *p == '\t' ? '?' : *p;
    }
  }
  *w = '\0';
  return c;
}

static struct series *add_series(struct results *r, const char *backend, const char *name) {
  struct series *s = find_series(r, backend, name);
  if (s) return s;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 32;
    r->s = lch_xrealloc(r->s, cap * sizeof *r->s);
    r->cap = cap;
  }
  s = &r->s[r->n];
  *s = (struct series){.backend = lch_xstrdup(backend), .name = lch_xstrdup(name)};
  r->n++;
  return s;
}

static int push_sample(struct series *s, double v, int round) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    double *nv = realloc(s->v, cap * sizeof *nv);
    if (!nv) return -ENOMEM;
    s->v = nv;
    int *nr = realloc(s->round, cap * sizeof *nr);
    if (!nr) return -ENOMEM;
    s->round = nr;
    s->cap = cap;
  }
  s->round[s->n] = round;
  s->v[s->n++] = v;
  return 0;
}

static void free_results(struct results *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->s[i].backend);
    free(r->s[i].name);
    free(r->s[i].v);
    free(r->s[i].round);
    free(r->s[i].error_msg);
  }
  free(r->s);
  free(r->path);
  json_decref(r->doc);
}

/* Load a results file. On error prints one line and returns -1. */
static int load_results(const char *path, struct results *r) {
  memset(r, 0, sizeof *r);
  r->doc = lch_json_load(path);
  if (!r->doc) return -1;
  r->path = clean_text(path);
  path = r->path;
  const char *schema = lch_json_str(r->doc, "schema");
  json_t *benches = json_object_get(r->doc, "benchmarks");
  if (!schema || (strcmp(schema, LCBENCH_SCHEMA) != 0 && strcmp(schema, LCBENCH_SCHEMA_V1) != 0)) {
    lch_error("compare: %s: not a %s (or %s) results file (schema: %s)", path, LCBENCH_SCHEMA,
              LCBENCH_SCHEMA_V1, schema ? schema : "missing");
    return -1;
  }
  if (!json_is_array(benches) || !json_is_object(json_object_get(r->doc, "context"))) {
    lch_error("compare: %s: missing \"context\" or \"benchmarks\" array", path);
    return -1;
  }
  const char *mode = lch_json_str(json_object_get(r->doc, "context"), "mode");
  r->callgrind = mode && strcmp(mode, "callgrind") == 0;
  r->run_id = lch_json_str(json_object_get(r->doc, "context"), "vs_run_id");
  r->role = lch_json_str(json_object_get(r->doc, "context"), "vs_role");
  size_t i;
  json_t *e;
  json_array_foreach(benches, i, e) {
    const char *raw_name = lch_json_str(e, "run_name");
    if (!raw_name) raw_name = lch_json_str(e, "name");
    const char *raw_backend = lch_json_str(e, "backend");
    if (!raw_name || !raw_backend) {
      lch_error("compare: %s: benchmark entry %zu lacks \"name\" or \"backend\"", path, i);
      return -1;
    }
    const char *run_type = lch_json_str(e, "run_type");
    if (run_type && strcmp(run_type, "aggregate") == 0) continue; /* we compute our own */
    char *name = clean_text(raw_name), *backend = clean_text(raw_backend);
    struct series *s = add_series(r, backend, name);
    if (json_is_true(json_object_get(e, "error_occurred"))) {
      s->errors++;
      const char *msg = lch_json_str(e, "error_message");
      if (!s->error_msg) s->error_msg = clean_text(msg ? msg : "error");
      free(name);
      free(backend);
      continue;
    }
    double v;
    if (r->callgrind) {
      v = lch_json_num(e, "instructions_per_item", -1);
    } else {
      double f = lcbench_unit_ns(lch_json_str(e, "time_unit"));
      double t = lch_json_num(e, "real_time", -1);
      v = f > 0 && t >= 0 ? t * f : -1;
    }
    if (!(v >= 0) || !isfinite(v)) {
      lch_error("compare: %s: entry %zu (%s on %s) has no valid %s", path, i, name, backend,
                r->callgrind ? "instructions_per_item" : "real_time/time_unit");
      free(name);
      free(backend);
      return -1;
    }
    free(name);
    free(backend);
    json_t *jr = json_object_get(e, "round");
    if (push_sample(s, v, json_is_integer(jr) ? (int)json_integer_value(jr) : -1) < 0) {
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

/* The value of each round (the median of that round's repetitions) into out[round], NAN where
 * the round has none. Returns the number of rounds (max index + 1). */
static size_t per_round(const struct series *s, double *out, size_t cap) {
  size_t nr = 0;
  for (size_t i = 0; i < s->n; i++)
    if (s->round[i] >= 0 && (size_t)s->round[i] + 1 > nr) nr = (size_t)s->round[i] + 1;
  if (nr > cap) nr = cap;
  double *tmp = lch_xcalloc(s->n ? s->n : 1, sizeof *tmp);
  for (size_t r = 0; r < nr; r++) {
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
      if (s->round[i] == (int)r) tmp[m++] = s->v[i];
    out[r] = m ? lcbench_median(tmp, m) : NAN;
  }
  free(tmp);
  return nr;
}

/* What a comparison could and could not test: the gate fails on missing benchmarks and when
 * nothing was testable, not only on a regression. */
struct tally {
  int rows;       /* K: benchmarks of OLD with a figure */
  int testable;   /* M: rows that got a verdict */
  int missing;    /* in OLD, absent from NEW */
  int untestable; /* too few repetitions or rounds for the test */
  int errors;     /* erred in NEW (counted as regressions too) */
  int regressed;
  int no_old; /* in OLD without a figure (not counted in K) */
};

/* The rows every mode prints the same way; returns 1 if the row was handled here. */
static int common_row(const struct series *o, const struct series *n, struct tally *t) {
  if (o->n == 0) {
    printf("%-10s %-32s %s\n", o->backend, o->name, "no figure in OLD (not compared)");
    t->no_old++;
    return 1;
  }
  t->rows++;
  if (!n) {
    printf("%-10s %-32s %s\n", o->backend, o->name, "MISSING in NEW");
    t->missing++;
    return 1;
  }
  if (n->errors || n->n == 0) {
    printf("%-10s %-32s ERROR in NEW: %s\n", o->backend, o->name,
           n->error_msg ? n->error_msg : "no figure");
    t->errors++;
    t->regressed++;
    t->testable++;
    return 1;
  }
  return 0;
}

/* The summary lines and the gate's exit status: 1 on a regression, on benchmarks missing from
 * NEW, when nothing was testable, or (--strict) when the contexts differ. */
static int finish(const struct tally *t, int context_differs, int strict, const char *how) {
  printf("%d of %d testable", t->testable, t->rows);
  if (t->missing) printf(", %d MISSING in NEW", t->missing);
  if (t->untestable) printf(", %d with too few %s to test", t->untestable, how);
  if (t->no_old) printf(" (%d without a figure in OLD not counted)", t->no_old);
  printf("\n%d regressed\n", t->regressed);
  int rc = t->regressed ? 1 : 0;
  if (t->missing) {
    printf("FAIL: NEW lacks %d benchmark(s) of OLD\n", t->missing);
    rc = 1;
  }
  if (t->testable == 0) {
    printf("FAIL: nothing was testable (%d benchmark(s) in OLD)\n", t->rows);
    rc = 1;
  }
  if (context_differs && strict) {
    printf("FAIL: the machine or library context differs (--strict)\n");
    rc = 1;
  }
  return rc;
}

/* Context keys whose difference makes timings incomparable: the machine, the toolchain and
 * the library versions (context.backends, per backend present in both). Prints one warning
 * line per difference (on stdout, with the table, and on stderr); returns their number. */
static int context_diff(const struct results *old, const struct results *new) {
  static const char *const keys[] = {"cpu_model", "num_cpus",   "kernel",
                                     "compiler",  "build_type", "cpu_mitigations"};
  json_t *co = json_object_get(old->doc, "context"), *cn = json_object_get(new->doc, "context");
  int diffs = 0;
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    json_t *a = json_object_get(co, keys[i]), *b = json_object_get(cn, keys[i]);
    if (!a && !b) continue;
    if ((!a || !b) && strcmp(keys[i], "cpu_mitigations") == 0) continue; /* older files */
    if (a && b && json_equal(a, b)) continue;
    char *sa = a ? json_dumps(a, JSON_ENCODE_ANY) : lch_xstrdup("(none)");
    char *sb = b ? json_dumps(b, JSON_ENCODE_ANY) : lch_xstrdup("(none)");
    char *ca = clean_text(sa), *cb = clean_text(sb);
    printf("warning: context differs: %s: OLD %s, NEW %s\n", keys[i], ca, cb);
    fprintf(stderr, "loopconf-bench: warning: context differs: %s: OLD %s, NEW %s\n", keys[i], ca,
            cb);
    free(sa), free(sb), free(ca), free(cb);
    diffs++;
  }
  json_t *vo = json_object_get(co, "backends"), *vn = json_object_get(cn, "backends");
  const char *key;
  json_t *a;
  json_object_foreach(vo, key, a) {
    json_t *b = json_object_get(vn, key);
    if (!b || json_equal(a, b)) continue;
    char *sa = json_dumps(a, JSON_ENCODE_ANY), *sb = json_dumps(b, JSON_ENCODE_ANY);
    char *ck = clean_text(key), *ca = clean_text(sa), *cb = clean_text(sb);
    printf("warning: context differs: library of %s: OLD %s, NEW %s\n", ck, ca, cb);
    fprintf(stderr, "loopconf-bench: warning: context differs: library of %s: OLD %s, NEW %s\n", ck,
            ca, cb);
    free(sa), free(sb), free(ck), free(ca), free(cb);
    diffs++;
  }
  if (diffs)
    printf(
        "warning: %d context difference(s): timings from different machines or libraries do not "
        "compare (--strict makes this fail)\n",
        diffs);
  return diffs;
}

/* OLD and NEW from one `bench --vs` run: per round the ratio NEW/OLD (both ran in that round,
 * shuffled among the other children), the median ratio with an exact confidence interval for
 * it at 1 - alpha/m per row (Bonferroni over the m rows compared, so a family of rows is
 * wrongly flagged with probability at most alpha), and a verdict: REGRESSED when the interval
 * lies wholly above 1.0 (a significant slowdown) and the median ratio beyond 1 + threshold;
 * "decidedly" when even the whole interval lies beyond it (lcbench_verdict with the threshold
 * as the margin, no drift allowance: both builds ran in the same rounds). */
static void paired_compare(struct results *old, struct results *new, double alpha, double thr,
                           struct tally *t) {
  size_t m = 0;
  for (size_t i = 0; i < old->n; i++) {
    struct series *n = find_series(new, old->s[i].backend, old->s[i].name);
    if (n && !n->errors && n->n && old->s[i].n) m++;
  }
  double level = 1 - alpha / (double)(m ? m : 1);
  int capped = 0;
  printf("%-10s %-32s %12s %12s %7s %17s %6s  %s\n", "backend", "benchmark", "old", "new", "ratio",
         "interval", "rounds", "verdict");
  enum { MAXR = 4096 };
  static double vo[MAXR], vn[MAXR], ratios[MAXR];
  for (size_t i = 0; i < old->n; i++) {
    struct series *o = &old->s[i], *n = find_series(new, o->backend, o->name);
    if (common_row(o, n, t)) continue;
    size_t ro = per_round(o, vo, MAXR), rn = per_round(n, vn, MAXR), k = 0;
    for (size_t r = 0; r < ro && r < rn; r++)
      if (!isnan(vo[r]) && !isnan(vn[r]) && vo[r] > 0) ratios[k++] = vn[r] / vo[r];
    struct lcbench_ci ci;
    lcbench_median_ci(ratios, k, level, &ci);
    char so[32], sn[32], sci[40], verdict[128];
    fmt_value(so, sizeof so, lcbench_median(o->v, o->n), 0);
    fmt_value(sn, sizeof sn, lcbench_median(n->v, n->n), 0);
    snprintf(sci, sizeof sci, ci.hi < 100 ? "[%.3f, %.3f]" : "[%.3g, %.3g]", ci.lo, ci.hi);
    /* The fewest rounds whose range reaches the level: 1 - 2^(1-n) >= level. */
    int want = (int)ceil(1 - log2(1 - level) - 1e-9);
    if (k < 6 || ci.level < level) {
      /* The interval cannot have the coverage the family needs: no verdict is claimed. */
      snprintf(verdict, sizeof verdict, "too few rounds to test (%zu; %d needed for %zu rows)", k,
               want < 6 ? 6 : want, m);
      capped = 1;
      t->untestable++;
    } else {
      t->testable++;
      /* Rounds for the interval to lie wholly within or beyond the threshold. */
      double need = lcbench_rounds_to_decide(&ci, thr, 0);
      char needs[64] = "";
      if (need > 0 && need < 1e5)
        snprintf(needs, sizeof needs, " (~%.0f rounds to decide against the threshold)", need);
      enum lcbench_verdict firm = lcbench_verdict(&ci, thr, 0, level, 6);
      if (ci.lo > 1 && ci.median > 1 + thr) {
        snprintf(
            verdict, sizeof verdict, "REGRESSED%s",
            firm == LCBENCH_BEHIND ? " (decidedly: the whole interval beyond the threshold)" : "");
        t->regressed++;
      } else if (ci.hi < 1 && ci.median < 1 / (1 + thr)) {
        snprintf(
            verdict, sizeof verdict, "improved%s",
            firm == LCBENCH_AHEAD ? " (decidedly: the whole interval beyond the threshold)" : "");
      } else if (firm == LCBENCH_TIE) {
        snprintf(verdict, sizeof verdict, "same (the whole interval within the threshold)");
      } else if (ci.lo > 1) {
        snprintf(verdict, sizeof verdict, "slower (within threshold)");
      } else if (ci.hi < 1) {
        snprintf(verdict, sizeof verdict, "faster (within threshold)");
      } else {
        snprintf(verdict, sizeof verdict, "no significant difference%s", needs);
      }
    }
    printf("%-10s %-32s %12s %12s %7.3f %17s %6zu  %s\n", o->backend, o->name, so, sn, ci.median,
           sci, k, verdict);
  }
  for (size_t i = 0; i < new->n; i++)
    if (!find_series(old, new->s[i].backend, new->s[i].name))
      printf("%-10s %-32s %s\n", new->s[i].backend, new->s[i].name, "new (not in OLD)");
  printf(
      "paired by round (one interleaved run); ratio = median of per-round NEW/OLD; interval:"
      " exact, %.4g%% per row (alpha %g over %zu rows)%s; threshold %g%%: REGRESSED/improved"
      " when the interval excludes 1.0 and the median lies beyond the threshold, same when the"
      " whole interval lies within it\n",
      100 * level, alpha, m,
      capped ? "; rows with too few rounds for that level are not tested" : "", 100 * thr);
}

static const char compare_help[] =
    "usage: loopconf-bench compare OLD NEW [--alpha A] [--threshold PCT] [--strict]\n"
    "Per (backend, benchmark): the ratio of NEW's median to OLD's, a two-sided Mann-Whitney U\n"
    "test over the repetitions (instruction counts: no test, the threshold decides), and a\n"
    "verdict; then \"M of K testable\" (benchmarks of OLD that got a verdict).\n"
    "When OLD and NEW come from one `bench --vs` run (the same vs_run_id), the comparison is\n"
    "paired by round instead: the median of the per-round ratios NEW/OLD with an exact\n"
    "(order-statistic) confidence interval at 1 - alpha/rows per row; REGRESSED when the\n"
    "interval lies above 1.0 and the median above 1 + threshold, same when the whole interval\n"
    "lies within +-threshold (defaults there: alpha 0.01, threshold 5%; rows whose rounds\n"
    "cannot reach 1 - alpha/rows are not tested).\n"
    "Exit 1 (the gate fails) when a benchmark regressed or erred in NEW, when NEW lacks a\n"
    "benchmark of OLD, when nothing was testable, or with --strict when the machine or library\n"
    "context differs (CPU, kernel, compiler, build type, library versions: a warning without\n"
    "--strict); 0 otherwise; 2 for bad usage or input.\n"
    "  --alpha A        significance level, 0 < A < 1 (default 0.05)\n"
    "  --threshold PCT  smallest slowdown that counts, in percent (default 10)\n"
    "  --strict         a context difference fails the gate\n";

int lcbench_cmd_compare(int argc, char **argv) {
  enum { OPT_ALPHA = 256, OPT_THRESHOLD, OPT_STRICT };
  static const struct option longopts[] = {
      {"alpha", required_argument, NULL, OPT_ALPHA},
      {"threshold", required_argument, NULL, OPT_THRESHOLD},
      {"strict", no_argument, NULL, OPT_STRICT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  double alpha = 0.05, threshold = 10;
  int threshold_given = 0, alpha_given = 0, strict = 0;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_ALPHA:
      if (lch_parse_double(optarg, "compare: --alpha", 1e-9, 1 - 1e-9, &alpha) < 0) return 2;
      alpha_given = 1;
      break;
    case OPT_THRESHOLD:
      if (lch_parse_double(optarg, "compare: --threshold", 0, 1e6, &threshold) < 0) return 2;
      threshold_given = 1;
      break;
    case OPT_STRICT: strict = 1; break;
    case 'h': fputs(compare_help, stdout); return 0;
    default: return lch_getopt_error(c, argv, "loopconf-bench compare");
    }
  }
  if (argc - optind != 2) {
    lch_error(
        "compare: want two results files, OLD and NEW, got %d (see loopconf-bench "
        "compare --help)",
        argc - optind);
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
    lch_error("compare: %s holds %s but %s holds %s", old.path,
              old.callgrind ? "instruction counts" : "timings", new.path,
              new.callgrind ? "instruction counts" : "timings");
    goto out;
  }
  int cg = old.callgrind;
  struct tally t = {0};
  int differs = context_diff(&old, &new);
  if (!cg && old.run_id && new.run_id &&strcmp(old.run_id, new.run_id) == 0) {
    if (old.role && new.role && strcmp(old.role, new.role) == 0) {
      char *role = clean_text(old.role);
      lch_error("compare: %s and %s are the same build of one --vs run (both \"%s\")", old.path,
                new.path, role);
      free(role);
      goto out;
    }
    /* Paired mode defaults to alpha 0.01 per report: a gate run 20 times in a row on one
     * build should stay silent every time (0.99^20 = 0.82; 0.95^20 would be 0.36). */
    paired_compare(&old, &new, alpha_given ? alpha : 0.01, (threshold_given ? threshold : 5) / 100,
                   &t);
    rc = finish(&t, differs, strict, "rounds");
    goto out;
  }
  double thr = threshold / 100;
  printf("%-10s %-32s %14s %14s %7s %8s  %s\n", "backend", "benchmark", "old", "new", "ratio",
         cg ? "" : "p", "verdict");
  for (size_t i = 0; i < old.n; i++) {
    struct series *o = &old.s[i], *n = find_series(&new, o->backend, o->name);
    if (common_row(o, n, &t)) continue;
    double mo = lcbench_median(o->v, o->n), mn = lcbench_median(n->v, n->n);
    double ratio = mo > 0 ? mn / mo : (mn > 0 ? INFINITY : 1);
    char so[32], sn[32], sp[16] = "", verdict[64];
    fmt_value(so, sizeof so, mo, cg);
    fmt_value(sn, sizeof sn, mn, cg);
    if (cg) { /* exact counts: the threshold alone decides */
      t.testable++;
      if (ratio > 1 + thr) {
        snprintf(verdict, sizeof verdict, "REGRESSED");
        t.regressed++;
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
      if (!can_decide) {
        t.untestable++;
        snprintf(verdict, sizeof verdict, "too few repetitions to test (%zu vs %zu)", o->n, n->n);
      } else {
        t.testable++;
        if (p >= alpha)
          snprintf(verdict, sizeof verdict, "%s",
                   fabs(ratio - 1) > thr ? "noisy (not significant)" : "same");
        else if (ratio > 1 + thr) {
          snprintf(verdict, sizeof verdict, "REGRESSED");
          t.regressed++;
        } else if (ratio < 1 / (1 + thr)) snprintf(verdict, sizeof verdict, "improved");
        else
          snprintf(verdict, sizeof verdict, "%s (within threshold)",
                   ratio > 1 ? "slower" : "faster");
      }
    }
    printf("%-10s %-32s %14s %14s %7.3f %8s  %s\n", o->backend, o->name, so, sn, ratio, sp,
           verdict);
  }
  for (size_t i = 0; i < new.n; i++)
    if (!find_series(&old, new.s[i].backend, new.s[i].name))
      printf("%-10s %-32s %14s %14s %7s %8s  %s\n", new.s[i].backend, new.s[i].name, "", "", "", "",
             "new (not in OLD)");
  if (t.untestable)
    printf(
        "note: %d benchmark(s) have too few repetitions for p < %g (3 vs 3 cannot reach 0.05);"
        " use --rounds 9 (or --repetitions 9), or bench --vs for a paired test\n",
        t.untestable, alpha);
  if (cg) printf("threshold %g%% (instruction counts: no statistical test)\n", threshold);
  else
    printf(
        "alpha %g, threshold %g%%; OLD and NEW are separate runs: the machine's drift between "
        "them lands in every ratio (on a shared VM same-build medians move by 15-30%%; see "
        "harness/bench/README.md): gate with bench --vs, paired by round\n",
        alpha, threshold);
  rc = finish(&t, differs, strict, "repetitions");
out:
  free_results(&old);
  free_results(&new);
  return rc;
}
