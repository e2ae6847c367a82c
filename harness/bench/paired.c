/* paired.c: median and its exact order-statistic confidence interval (see paired.h). */
#include "paired.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void lcbench_median_ci(double *v, size_t n, double level, struct lcbench_ci *ci) {
  *ci = (struct lcbench_ci){.n = n};
  if (n == 0) return;
  qsort(v, n, sizeof *v, cmp_double);
  ci->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  /* cdf[j] = P(Bin(n, 1/2) <= j), summed in log space so large n does not overflow. */
  double cdf = 0;
  size_t best = 1;
  double best_level = 1 - 2 * exp(-(double)n * log(2)); /* k = 1: 1 - 2 P(X = 0) */
  for (size_t k = 1; k <= (n + 1) / 2; k++) {
    /* P(X = k - 1) = C(n, k-1) / 2^n */
    double lp = lgamma((double)n + 1) - lgamma((double)k) - lgamma((double)(n - k + 2)) -
                (double)n * log(2);
    cdf += exp(lp);
    double lev = 1 - 2 * cdf;
    if (lev >= level) {
      best = k;
      best_level = lev;
    } else {
      break;
    }
  }
  ci->k = (int)best;
  ci->level = best_level;
  ci->lo = v[best - 1];
  ci->hi = v[n - best];
}

enum lcbench_verdict lcbench_point_verdict(double median, double margin) {
  if (median < 1 / (1 + margin)) return LCBENCH_AHEAD;
  if (median > 1 + margin) return LCBENCH_BEHIND;
  return LCBENCH_TIE;
}

enum lcbench_verdict lcbench_verdict(const struct lcbench_ci *ci, double margin, double drift,
                                     double level, size_t min_n) {
  if (ci->n == 0 || ci->n < min_n || ci->level < level || !(ci->lo > 0)) return LCBENCH_NOISY;
  double up = 1 + margin, down = 1 / (1 + margin);
  double lo = ci->lo * exp(-drift), hi = ci->hi * exp(drift);
  if (hi < down) return LCBENCH_AHEAD;
  if (lo > up) return LCBENCH_BEHIND;
  if (lo >= down && hi <= up) return LCBENCH_TIE;
  return LCBENCH_NOISY;
}

const char *lcbench_verdict_name(enum lcbench_verdict v) {
  switch (v) {
  case LCBENCH_AHEAD: return "ahead";
  case LCBENCH_BEHIND: return "behind";
  case LCBENCH_TIE: return "tie";
  default: return "noisy";
  }
}

double lcbench_rounds_to_decide(const struct lcbench_ci *ci, double margin, double drift) {
  if (ci->n == 0 || !(ci->lo > 0) || !(ci->median > 0)) return 0;
  double d = fabs(fabs(log(ci->median)) - log1p(margin)) - drift;
  if (d < 1e-12) return 0;
  double h = (log(ci->hi) - log(ci->lo)) / 2;
  double need = ceil((double)ci->n * (h / d) * (h / d));
  if (need < (double)ci->n + 1) need = (double)ci->n + 1;
  return need < 6 ? 6 : need;
}
