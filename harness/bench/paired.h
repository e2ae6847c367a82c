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
 * practical-difference threshold, e.g. 0.10 for 10%) and a drift allowance d (how far a
 * pair's median moves between two runs of one build made at different times on this machine,
 * beyond what one run's interval shows; 0 for two builds compared in the same run). Two parts:
 *
 * - lcbench_point_verdict: where the median lies. AHEAD (a is faster) when it is below
 *   1/(1+m), BEHIND when above 1+m, TIE otherwise. Every pair has one.
 * - lcbench_verdict: the verdict only when it is decided: the interval widened by d on each
 *   side (in log space: [lo e^-d, hi e^d]) lies wholly below 1/(1+m) (AHEAD), wholly above
 *   1+m (BEHIND) or wholly within [1/(1+m), 1+m] (TIE); otherwise NOISY, "too noisy to rank"
 *   (the point verdict stands, flagged). Fewer than min_n rounds, or an interval short of the
 *   level asked for (ci->level < level), is NOISY too.
 *
 * A decided verdict is always the point verdict (the interval holds the median). Two runs then
 * differ on a pair whose verdict the first decided only if the second's median lies beyond the
 * first's interval widened by d, which is what d is measured to make rare
 * (harness/bench/README.md); differing pairs near the margin are flagged by both runs. */
enum lcbench_verdict { LCBENCH_NOISY = 0, LCBENCH_AHEAD, LCBENCH_BEHIND, LCBENCH_TIE };
enum lcbench_verdict lcbench_point_verdict(double median, double margin);
enum lcbench_verdict lcbench_verdict(const struct lcbench_ci *ci, double margin, double drift,
                                     double level, size_t min_n);
const char *lcbench_verdict_name(enum lcbench_verdict v); /* "ahead", ..., "noisy" */

/* Rounds a NOISY interval would need to decide against the margin: its log half-width h
 * shrinks like 1/sqrt(n) and must fall below D - drift, D = | |log median| - log(1+m) | the
 * median's distance from the margin, so n (h/(D - drift))^2 (at least n + 1 and 6; fewer than
 * 6 never reach 95%). Margin 0: the rounds to exclude 1.0. 0 when D <= drift: the median sits
 * within the drift allowance of the margin, and no number of rounds in one run decides. */
double lcbench_rounds_to_decide(const struct lcbench_ci *ci, double margin, double drift);

#endif /* LCBENCH_PAIRED_H */
