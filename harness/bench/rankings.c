/* rankings.c: the verdicts of one timed run, per benchmark and backend pair, written into the
 * results file ("rankings") and printed by `bench`: the median of the per-round ratios a/b
 * with its exact 95% interval, the point verdict against the equivalence margin, and whether
 * it is decided once the interval is widened by the drift allowance (paired.h; table.py
 * renders the same objects). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_main.h"
#include "mann_whitney.h"
#include "paired.h"

enum { MAX_ROUNDS = 1000 };

double lcbench_unit_ns(const char *u) {
  if (!u || strcmp(u, "ns") == 0) return 1;
  if (strcmp(u, "us") == 0) return 1e3;
  if (strcmp(u, "ms") == 0) return 1e6;
  if (strcmp(u, "s") == 0) return 1e9;
  return -1;
}

/* Per round, the median of backend's figures of name (NAN where the round has none). Returns
 * the number of rounds seen (max index + 1). */
static size_t round_values(json_t *benches, const char *backend, const char *name, double *out) {
  static double tmp[MAX_ROUNDS][32]; /* the first 32 repetitions of a round */
  static size_t cnt[MAX_ROUNDS];
  size_t nr = 0, i;
  json_t *e;
  memset(cnt, 0, sizeof cnt);
  json_array_foreach(benches, i, e) {
    const char *rn = lch_json_str(e, "run_name"), *be = lch_json_str(e, "backend");
    const char *rt = lch_json_str(e, "run_type");
    json_t *jr = json_object_get(e, "round");
    if (!rn || !be || strcmp(rn, name) || strcmp(be, backend) || !json_is_integer(jr)) continue;
    if ((rt && strcmp(rt, "iteration")) || json_is_true(json_object_get(e, "error_occurred")))
      continue;
    json_int_t r = json_integer_value(jr);
    double f = lcbench_unit_ns(lch_json_str(e, "time_unit")), t = lch_json_num(e, "real_time", -1);
    if (r < 0 || r >= MAX_ROUNDS || f < 0 || !(t > 0)) continue;
    if (cnt[r] < 32) tmp[r][cnt[r]++] = t * f;
    if ((size_t)r + 1 > nr) nr = (size_t)r + 1;
  }
  for (size_t r = 0; r < nr; r++) out[r] = cnt[r] ? lcbench_median(tmp[r], cnt[r]) : NAN;
  return nr;
}

json_t *lcbench_rankings(json_t *benches, json_t *backends, json_t *names, double margin,
                         double drift) {
  json_t *out = json_array();
  static double va[MAX_ROUNDS], vb[MAX_ROUNDS], ratios[MAX_ROUNDS];
  size_t ni, ai, bi;
  json_t *jn, *ja, *jb;
  json_array_foreach(names, ni, jn) {
    const char *name = json_string_value(jn);
    json_array_foreach(backends, ai, ja) {
      json_array_foreach(backends, bi, jb) {
        if (bi <= ai) continue;
        const char *a = json_string_value(ja), *b = json_string_value(jb);
        if (!name || !a || !b || strcmp(a, "none") == 0 || strcmp(b, "none") == 0) continue;
        size_t na = round_values(benches, a, name, va), nb = round_values(benches, b, name, vb);
        size_t k = 0;
        for (size_t r = 0; r < na && r < nb; r++)
          if (!isnan(va[r]) && !isnan(vb[r])) ratios[k++] = va[r] / vb[r];
        if (k == 0) continue; /* one of them lacks the benchmark */
        struct lcbench_ci ci;
        lcbench_median_ci(ratios, k, LCBENCH_RANK_LEVEL, &ci);
        int noisy = lcbench_verdict(&ci, margin, drift, LCBENCH_RANK_LEVEL, 6) == LCBENCH_NOISY;
        json_t *o = json_object();
        json_object_set_new(o, "benchmark", json_string(name));
        json_object_set_new(o, "a", json_string(a));
        json_object_set_new(o, "b", json_string(b));
        json_object_set_new(o, "rounds", json_integer((json_int_t)k));
        json_object_set_new(o, "ratio", json_real(ci.median));
        json_object_set_new(o, "lo", json_real(ci.lo));
        json_object_set_new(o, "hi", json_real(ci.hi));
        json_object_set_new(o, "level", json_real(ci.level));
        json_object_set_new(
            o, "verdict",
            json_string(lcbench_verdict_name(lcbench_point_verdict(ci.median, margin))));
        json_object_set_new(o, "too_noisy", json_boolean(noisy));
        double need = noisy ? lcbench_rounds_to_decide(&ci, margin, drift) : 0;
        json_object_set_new(o, "rounds_to_decide",
                            need > 0 ? json_integer((json_int_t)need) : json_null());
        json_array_append_new(out, o);
      }
    }
  }
  return out;
}

/* One line per benchmark: the ranks (1 + backends decidedly ahead) and the pairs too noisy to
 * rank with the rounds each would need. */
void lcbench_print_rankings(FILE *f, json_t *rankings, json_t *backends, json_t *names,
                            double margin, double drift) {
  fprintf(f,
          "rankings (median per-round ratio, exact 95%% interval, margin %g%%: ahead/behind when"
          " the median lies beyond it, tie when within it; decided when the whole interval,"
          " widened by the %g%% drift allowance, lies on that side, otherwise too noisy to"
          " rank):\n",
          100 * margin, 100 * drift);
  size_t ni, bi, ri;
  json_t *jn, *jb, *jr;
  json_array_foreach(names, ni, jn) {
    const char *name = json_string_value(jn);
    struct lch_buf line = {0}, nbuf = {0};
    int pairs = 0, nnoisy = 0, ties = 0;
    json_array_foreach(backends, bi, jb) {
      const char *b = json_string_value(jb);
      int seen = 0, ahead = 0;
      json_array_foreach(rankings, ri, jr) {
        if (strcmp(lch_json_str(jr, "benchmark"), name)) continue;
        const char *x = lch_json_str(jr, "a"), *y = lch_json_str(jr, "b"),
                   *v = lch_json_str(jr, "verdict");
        if (strcmp(x, b) == 0 || strcmp(y, b) == 0) seen = 1;
        if (json_is_true(json_object_get(jr, "too_noisy"))) continue;
        if ((strcmp(y, b) == 0 && strcmp(v, "ahead") == 0) ||
            (strcmp(x, b) == 0 && strcmp(v, "behind") == 0))
          ahead++;
      }
      if (!seen) continue;
      lch_buf_printf(&line, "%s%s %d", line.len ? ", " : "", b, 1 + ahead);
    }
    json_array_foreach(rankings, ri, jr) {
      if (strcmp(lch_json_str(jr, "benchmark"), name)) continue;
      pairs++;
      int noisy = json_is_true(json_object_get(jr, "too_noisy"));
      if (!noisy && strcmp(lch_json_str(jr, "verdict"), "tie") == 0) ties++;
      if (!noisy) continue;
      nnoisy++;
      json_t *need = json_object_get(jr, "rounds_to_decide");
      lch_buf_printf(&nbuf, "%s%s/%s", nbuf.len ? ", " : "", lch_json_str(jr, "a"),
                     lch_json_str(jr, "b"));
      if (json_is_integer(need))
        lch_buf_printf(&nbuf, " ~%lld", (long long)json_integer_value(need));
      else lch_buf_printf(&nbuf, " (on the margin)");
    }
    if (pairs)
      fprintf(f, "  %s: rank %s; %d pair(s): %d decided, %d tie(s), %d too noisy to rank%s%s%s\n",
              name, line.data ? line.data : "", pairs, pairs - nnoisy - ties, ties, nnoisy,
              nnoisy ? " (rounds to decide: " : "", nnoisy ? nbuf.data : "", nnoisy ? ")" : "");
    free(line.data);
    free(nbuf.data);
  }
}
