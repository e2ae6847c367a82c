/* mann_whitney.h: the two-sided Mann-Whitney U test, used by `loopconf-bench compare`. */
#ifndef LCBENCH_MANN_WHITNEY_H
#define LCBENCH_MANN_WHITNEY_H

#include <stddef.h>

/* Test whether x[0..n) and y[0..m) come from the same distribution. Returns the two-sided
 * p-value in [0, 1] and stores U of x (count of pairs with x > y, ties counting 1/2) in *u.
 * Exact (by counting rank arrangements) when there are no ties and n, m <= 50; otherwise the
 * normal approximation with tie and continuity corrections. *exact (may be NULL) says which.
 * n == 0 or m == 0 gives p = 1. */
double lcbench_mwu_test(const double *x, size_t n, const double *y, size_t m, double *u,
                        int *exact);

/* The smallest p-value the test can give for sample sizes n and m (both sides exact, no
 * ties): below alpha means a significant result is possible at all. */
double lcbench_mwu_min_p(size_t n, size_t m);

/* Median of v[0..n) (sorts a copy); 0 for n == 0. */
double lcbench_median(const double *v, size_t n);

#endif /* LCBENCH_MANN_WHITNEY_H */
