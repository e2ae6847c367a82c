/* paired.h: paired ratios of interleaved rounds: the median of per-round ratios with an exact,
 * distribution-free confidence interval (binomial order statistics), and how many rounds an
 * undecided comparison would need. Used by `compare` (and mirrored by table.py). */
#ifndef LCBENCH_PAIRED_H
#define LCBENCH_PAIRED_H

#include <stddef.h>

struct lcbench_ci {
  size_t n;      /* rounds */
  double median; /* median of the values */
  double lo, hi; /* the interval: order statistics x(k) and x(n+1-k), 1-based */
  double level;  /* its exact coverage for the median, 1 - 2 P(Bin(n, 1/2) < k) */
  int k;         /* the order statistic used (1: min and max) */
};

/* The confidence interval for the median of v[0..n) (v is sorted in place): the largest k
 * with 1 - 2 P(Bin(n, 1/2) <= k - 1) >= level, i.e. [x(k), x(n+1-k)]. When even k = 1 (the
 * range) falls short of level, ci->k = 1 and ci->level says what was reached. n == 0 gives
 * n = 0 and zeros. */
void lcbench_median_ci(double *v, size_t n, double level, struct lcbench_ci *ci);

/* Rounds an interval of ratios around 1 would need to exclude 1, from the observed spread: the
 * half-width in log space shrinks like 1/sqrt(n), so n * (half-width / |log median|)^2.
 * Returns at least n + 1 and 6; 0 when the median is exactly 1 (no finite number). */
double lcbench_rounds_needed(const struct lcbench_ci *ci);

#endif /* LCBENCH_PAIRED_H */
