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

/* The verdict on a median ratio a/b with its interval, against an equivalence margin m (a
 * practical-difference threshold, e.g. 0.10 for 10%): AHEAD (a is faster) only when the whole
 * interval lies below 1/(1+m), BEHIND only when it lies above 1+m, TIE when it lies within
 * [1/(1+m), 1+m], otherwise NOISY (too noisy to rank: the interval reaches across a margin).
 * Fewer than min_n rounds, or an interval short of the level asked for (ci->level < level),
 * is NOISY too. Two runs can then disagree only when one interval lies wholly beyond a margin
 * and the other wholly on the other side: not a matter of which side of 1.0 the noise fell. */
enum lcbench_verdict { LCBENCH_NOISY = 0, LCBENCH_AHEAD, LCBENCH_BEHIND, LCBENCH_TIE };
enum lcbench_verdict lcbench_verdict(const struct lcbench_ci *ci, double margin, double level,
                                     size_t min_n);
const char *lcbench_verdict_name(enum lcbench_verdict v); /* "ahead", ..., "noisy" */

/* Rounds a NOISY interval would need to decide against the margin: its log half-width h
 * shrinks like 1/sqrt(n) and must fall below d = | |log median| - log(1+m) |, so
 * n (h/d)^2 (at least n + 1 and 6; fewer than 6 never reach 95%). Margin 0: the rounds to exclude
 * 1.0. 0 when the median sits on the margin (no finite number). */
double lcbench_rounds_to_decide(const struct lcbench_ci *ci, double margin);

#endif /* LCBENCH_PAIRED_H */
