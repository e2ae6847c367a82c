/* selftest.c: unit checks of the Mann-Whitney test (mann_whitney.c) and the JSON tree (lj.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mann_whitney.h"
#include "paired.h"

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                              \
    }                                                                          \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                   \
  do {                                                                                          \
    double a_ = (a), b_ = (b);                                                                  \
    if (!(fabs(a_ - b_) <= (tol))) {                                                            \
      fprintf(stderr, "%s:%d: %s = %.10g, want %.10g (+-%g)\n", __FILE__, __LINE__, #a, a_, b_, \
              (double)(tol));                                                                   \
      failures++;                                                                               \
    }                                                                                           \
  } while (0)

static void test_mw(void) {
  double u;
  int exact;
  /* Complete separation: exact p = 2 / C(n+m, n). */
  double a3[] = {1, 2, 3}, b3[] = {4, 5, 6};
  CHECK_NEAR(lcbench_mwu_test(a3, 3, b3, 3, &u, &exact), 0.1, 1e-12);
  CHECK(exact == 1);
  CHECK_NEAR(u, 0, 0);
  double a5[] = {5, 1, 4, 2, 3}, b5[] = {10, 6, 9, 7, 8};
  CHECK_NEAR(lcbench_mwu_test(b5, 5, a5, 5, &u, &exact), 2.0 / 252, 1e-12);
  CHECK_NEAR(u, 25, 0);
  CHECK_NEAR(lcbench_mwu_min_p(5, 5), 2.0 / 252, 1e-12);
  CHECK_NEAR(lcbench_mwu_min_p(3, 3), 0.1, 1e-12);
  /* Interleaved, checked against brute-force enumeration of all 35 arrangements. */
  double x[] = {1, 5, 7}, y[] = {2, 3, 4, 6};
  CHECK_NEAR(lcbench_mwu_test(x, 3, y, 4, &u, &exact), 6.0 / 7, 1e-12);
  CHECK_NEAR(u, 7, 0);
  /* Ties: normal approximation with tie and continuity corrections. */
  double tx[] = {1, 2, 3, 3, 4, 5}, ty[] = {3, 4, 4, 5, 6, 7, 8};
  CHECK_NEAR(lcbench_mwu_test(tx, 6, ty, 7, &u, &exact), 0.042847505496600526, 1e-9);
  CHECK(exact == 0);
  CHECK_NEAR(u, 6.5, 0);
  /* All equal: no evidence of a difference. */
  double e1[] = {2, 2, 2}, e2[] = {2, 2, 2, 2};
  CHECK_NEAR(lcbench_mwu_test(e1, 3, e2, 4, &u, &exact), 1, 0);
  /* Large samples: normal approximation, agreeing with the exact value in the middle. */
  double big1[60], big2[60];
  for (int i = 0; i < 60; i++) {
    big1[i] = i;
    big2[i] = i + 100.5;
  }
  CHECK(lcbench_mwu_test(big1, 60, big2, 60, &u, &exact) < 1e-15);
  CHECK(exact == 0);
  double m1[10], m2[10];
  for (int i = 0; i < 10; i++) {
    m1[i] = 2 * i;
    m2[i] = 2 * i + 1;
  }
  double pe = lcbench_mwu_test(m1, 10, m2, 10, &u, &exact);
  CHECK(exact == 1);
  CHECK(pe > 0.5 && pe <= 1);
  CHECK_NEAR(lcbench_median(a5, 5), 3, 0);
  CHECK_NEAR(lcbench_median(y, 4), 3.5, 0);
  CHECK(lcbench_mwu_test(x, 0, y, 4, &u, &exact) == 1);
}

/* The exact median interval: coverage 1 - 2 P(Bin(n, 1/2) < k), enumerated by hand. */
static void test_median_ci(void) {
  struct lcbench_ci ci;
  double v10[] = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5}; /* 1..10 shuffled */
  lcbench_median_ci(v10, 10, 0.95, &ci);
  CHECK(ci.n == 10 && ci.k == 2); /* k = 3 would cover 1 - 2 * 56/1024 = 0.8906 */
  CHECK_NEAR(ci.level, 1 - 2 * 11.0 / 1024, 1e-12);
  CHECK_NEAR(ci.median, 5.5, 0);
  CHECK_NEAR(ci.lo, 2, 0);
  CHECK_NEAR(ci.hi, 9, 0);
  double v6[] = {1.1, 0.9, 1.2, 1.0, 1.3, 1.05};
  lcbench_median_ci(v6, 6, 0.95, &ci); /* six rounds: only the range reaches 95% */
  CHECK(ci.k == 1);
  CHECK_NEAR(ci.level, 1 - 2.0 / 64, 1e-12);
  CHECK_NEAR(ci.lo, 0.9, 0);
  CHECK_NEAR(ci.hi, 1.3, 0);
  double v5[] = {1, 2, 3, 4, 5};
  lcbench_median_ci(v5, 5, 0.95, &ci); /* five cannot: the range, with what it covers */
  CHECK(ci.k == 1);
  CHECK_NEAR(ci.level, 1 - 2.0 / 32, 1e-12);
  double v15[15];
  for (int i = 0; i < 15; i++) v15[i] = 15 - i;
  lcbench_median_ci(v15, 15, 0.95, &ci);
  CHECK(ci.k == 4); /* 1 - 2 * 576/32768 = 0.9648; k = 5: 0.8815 */
  CHECK_NEAR(ci.lo, 4, 0);
  CHECK_NEAR(ci.hi, 12, 0);
  lcbench_median_ci(v15, 15, 1 - 0.05 / 60, &ci); /* Bonferroni over 60 rows: k = 1 */
  CHECK(ci.k == 1);
  lcbench_median_ci(NULL, 0, 0.95, &ci);
  CHECK(ci.n == 0);
  /* Rounds to decide: median 1.02 with the interval [0.98, 1.06] over 10 rounds: half-width
   * in log space ~0.0392, centre log 1.02 ~0.0198: 10 * (0.0392 / 0.0198)^2 ~ 39.2 -> 40. */
  struct lcbench_ci w = {.n = 10, .median = 1.02, .lo = 0.98, .hi = 1.06};
  double need = lcbench_rounds_to_decide(&w, 0, 0);
  CHECK(need >= 39 && need <= 41);
  w.median = 1;
  CHECK(lcbench_rounds_to_decide(&w, 0, 0) == 0);
  struct lcbench_ci narrow = {.n = 3, .median = 1.5, .lo = 1.4, .hi = 1.6};
  CHECK(lcbench_rounds_to_decide(&narrow, 0, 0) == 6);
}

/* The verdict against an equivalence margin, on constructed per-round ratios (12 rounds:
 * the 96.1% interval is [x(3), x(10)]). */
static enum lcbench_verdict verdict_drift(const double *src, double margin, double drift) {
  double v[12];
  memcpy(v, src, sizeof v);
  struct lcbench_ci ci;
  lcbench_median_ci(v, 12, 0.95, &ci);
  return lcbench_verdict(&ci, margin, drift, 0.95, 6);
}
static enum lcbench_verdict verdict_of(const double *src, double margin) {
  return verdict_drift(src, margin, 0);
}

static void test_verdict(void) {
  /* 1.5x slower in every round but a wild one: behind at margin 10%. */
  double slow[12] = {1.5, 1.5, 1.6, 1.45, 1.5, 9, 1.5, 1.55, 1.5, 1.48, 0.2, 1.52};
  CHECK(verdict_of(slow, 0.10) == LCBENCH_BEHIND);
  double fast[12];
  for (int i = 0; i < 12; i++) fast[i] = 1 / slow[i];
  CHECK(verdict_of(fast, 0.10) == LCBENCH_AHEAD);
  /* Within +-3% every round: a tie at margin 10% (not "ahead" though all are below 1). */
  double close[12] = {0.98, 0.99, 0.97, 0.99, 0.98, 0.985, 0.99, 0.975, 0.98, 0.99, 0.97, 0.98};
  CHECK(verdict_of(close, 0.10) == LCBENCH_TIE);
  /* ... but at margin 1% the same data are decidedly ahead (interval [0.975, 0.99]). */
  CHECK(verdict_of(close, 0.01) == LCBENCH_AHEAD);
  /* Significant (the interval excludes 1) but reaching across the margin: too noisy. */
  double across[12] = {1.02, 1.05, 1.08, 1.12, 1.15, 1.2, 1.03, 1.06, 1.09, 1.11, 1.3, 1.01};
  CHECK(verdict_of(across, 0.10) == LCBENCH_NOISY);
  /* Scattered 0.6-1.6x: too noisy, with a finite number of rounds to decide. */
  double wide[12] = {0.6, 1.6, 0.8, 1.4, 0.9, 1.3, 0.7, 1.5, 1.0, 1.2, 1.1, 0.95};
  CHECK(verdict_of(wide, 0.10) == LCBENCH_NOISY);
  /* Too few rounds, or an interval short of the level: no verdict. */
  struct lcbench_ci ci = {.n = 5, .median = 2, .lo = 1.9, .hi = 2.1, .level = 0.9375};
  CHECK(lcbench_verdict(&ci, 0.10, 0, 0.95, 6) == LCBENCH_NOISY);
  ci.n = 8;
  CHECK(lcbench_verdict(&ci, 0.10, 0, 0.95, 6) == LCBENCH_NOISY);
  ci.level = 0.99;
  CHECK(lcbench_verdict(&ci, 0.10, 0, 0.95, 6) == LCBENCH_BEHIND);
  /* The drift allowance widens the interval before it is judged: [0.87, 0.90] (median 0.885)
   * is decidedly ahead at margin 10% with no allowance, too noisy with 5% (0.90 e^0.05 =
   * 0.946 > 0.909), and its point verdict stays "ahead" either way; [0.95, 0.96] is a tie
   * with no allowance, too noisy with 5% (0.95 e^-0.05 = 0.904 < 0.909). */
  double edge[12] = {0.85, 0.86, 0.87, 0.88, 0.88, 0.885, 0.885, 0.89, 0.89, 0.90, 0.91, 0.92};
  CHECK(verdict_drift(edge, 0.10, 0) == LCBENCH_AHEAD);
  CHECK(verdict_drift(edge, 0.10, 0.05) == LCBENCH_NOISY);
  CHECK(lcbench_point_verdict(0.885, 0.10) == LCBENCH_AHEAD);
  double tie[12] = {0.94, 0.945, 0.95, 0.95, 0.952, 0.955, 0.955, 0.957, 0.958, 0.96, 0.97, 0.98};
  CHECK(verdict_drift(tie, 0.10, 0) == LCBENCH_TIE);
  CHECK(verdict_drift(tie, 0.10, 0.05) == LCBENCH_NOISY);
  CHECK(lcbench_point_verdict(0.955, 0.10) == LCBENCH_TIE);
  CHECK(lcbench_point_verdict(1.2, 0.10) == LCBENCH_BEHIND);
  /* ... while 2x slower in every round stays decidedly behind with the allowance. */
  CHECK(verdict_drift(slow, 0.10, 0.05) == LCBENCH_BEHIND);
  /* Rounds to decide against a margin: median 1.20, [1.05, 1.40] over 12 rounds; d = log 1.2 -
   * log 1.1 = 0.0870, h = (log 1.4 - log 1.05) / 2 = 0.1438: 12 (h/d)^2 = 32.8 -> 33. */
  struct lcbench_ci w = {.n = 12, .median = 1.2, .lo = 1.05, .hi = 1.4, .level = 0.96};
  CHECK_NEAR(lcbench_rounds_to_decide(&w, 0.10, 0), 33, 0);
  /* With a 5% drift allowance the distance left is 0.0870 - 0.05 = 0.0370: 12 (h/0.037)^2 =
   * 181.4 -> 182; with 9% none is left (the median sits within it of the margin): 0. */
  CHECK_NEAR(lcbench_rounds_to_decide(&w, 0.10, 0.05), 182, 1);
  CHECK(lcbench_rounds_to_decide(&w, 0.10, 0.09) == 0);
  w.median = 1.1; /* on the margin: no finite number */
  CHECK(lcbench_rounds_to_decide(&w, 0.10, 0) == 0);
  CHECK(strcmp(lcbench_verdict_name(LCBENCH_TIE), "tie") == 0);
  CHECK(strcmp(lcbench_verdict_name(LCBENCH_NOISY), "noisy") == 0);
}

int main(void) {
  test_mw();
  test_median_ci();
  test_verdict();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("lcbench selftest: all checks passed\n");
  return 0;
}
