/* mann_whitney.c: Mann-Whitney U test (exact for small tie-free samples, normal approximation else). */
#include "mann_whitney.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MW_EXACT_MAX 50

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double lcbench_median(const double *v, size_t n) {
  if (n == 0) return 0;
  double *c = malloc(n * sizeof *c);
  if (!c) return v[0];
  memcpy(c, v, n * sizeof *c);
  qsort(c, n, sizeof *c, cmp_double);
  double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  free(c);
  return m;
}

/* Number of arrangements of n x's and m y's giving each U = 0..n*m, divided by C(n+m, n):
 * the null distribution of U. Uses f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u). Returns a
 * malloc'ed array of n*m+1 probabilities, or NULL. */
static double *u_distribution(size_t n, size_t m) {
  size_t umax = n * m;
  /* cur[j][u] for the current i, j = 0..m */
  double *prev = calloc((m + 1) * (umax + 1), sizeof *prev);
  double *cur = calloc((m + 1) * (umax + 1), sizeof *cur);
  if (!prev || !cur) {
    free(prev);
    free(cur);
    return NULL;
  }
#define AT(a, j, u) a[(j) * (umax + 1) + (u)]
  for (size_t j = 0; j <= m; j++) AT(prev, j, 0) = 1; /* i = 0: one arrangement, U = 0 */
  for (size_t i = 1; i <= n; i++) {
    memset(cur, 0, (m + 1) * (umax + 1) * sizeof *cur);
    AT(cur, 0, 0) = 1; /* j = 0 */
    for (size_t j = 1; j <= m; j++)
      for (size_t u = 0; u <= i * j; u++) {
        /* The largest element is an x (it beats all j y's) or a y. */
        double v = AT(cur, j - 1, u);
        if (u >= j) v += AT(prev, j, u - j);
        AT(cur, j, u) = v;
      }
    double *t = prev;
    prev = cur;
    cur = t;
  }
  double *dist = malloc((umax + 1) * sizeof *dist);
  if (dist) {
    double total = 0;
    for (size_t u = 0; u <= umax; u++) total += AT(prev, m, u);
    for (size_t u = 0; u <= umax; u++) dist[u] = AT(prev, m, u) / total;
  }
#undef AT
  free(prev);
  free(cur);
  return dist;
}

static double exact_p(size_t n, size_t m, double u) {
  double *dist = u_distribution(n, m);
  if (!dist) return -1;
  double lo = 0, hi = 0;
  size_t umax = n * m;
  for (size_t k = 0; k <= umax; k++) {
    if ((double)k <= u + 1e-9) lo += dist[k];
    if ((double)k >= u - 1e-9) hi += dist[k];
  }
  free(dist);
  double p = 2 * (lo < hi ? lo : hi);
  return p > 1 ? 1 : p;
}

double lcbench_mwu_min_p(size_t n, size_t m) {
  if (n == 0 || m == 0) return 1;
  if (n <= MW_EXACT_MAX && m <= MW_EXACT_MAX) {
    double p = exact_p(n, m, 0);
    if (p >= 0) return p;
  }
  /* Normal approximation at the extreme U = 0. */
  double nm = (double)n * (double)m;
  double sigma = sqrt(nm * (double)(n + m + 1) / 12);
  return erfc(((nm / 2) - 0.5) / sigma / sqrt(2));
}

struct obs {
  double v;
  int from_x;
};

static int cmp_obs(const void *a, const void *b) {
  return cmp_double(&((const struct obs *)a)->v, &((const struct obs *)b)->v);
}

double lcbench_mwu_test(const double *x, size_t n, const double *y, size_t m, double *u,
                        int *exact) {
  if (exact) *exact = 0;
  if (u) *u = 0;
  if (n == 0 || m == 0) return 1;
  size_t total = n + m;
  struct obs *o = malloc(total * sizeof *o);
  if (!o) return 1;
  for (size_t i = 0; i < n; i++) o[i] = (struct obs){x[i], 1};
  for (size_t i = 0; i < m; i++) o[n + i] = (struct obs){y[i], 0};
  qsort(o, total, sizeof *o, cmp_obs);
  /* Average ranks for tied groups; sum of t^3 - t for the variance correction. */
  double rank_x = 0, tie_sum = 0;
  int ties = 0;
  for (size_t i = 0; i < total;) {
    size_t j = i;
    while (j + 1 < total && o[j + 1].v == o[i].v) j++;
    double t = (double)(j - i + 1);
    double avg = ((double)i + (double)j) / 2 + 1; /* ranks are 1-based */
    for (size_t k = i; k <= j; k++)
      if (o[k].from_x) rank_x += avg;
    if (t > 1) {
      ties = 1;
      tie_sum += t * t * t - t;
    }
    i = j + 1;
  }
  free(o);
  double ux = rank_x - (double)n * (double)(n + 1) / 2;
  if (u) *u = ux;
  if (!ties && n <= MW_EXACT_MAX && m <= MW_EXACT_MAX) {
    double p = exact_p(n, m, ux);
    if (p >= 0) {
      if (exact) *exact = 1;
      return p;
    }
  }
  double nn = (double)n, mm = (double)m, N = (double)total;
  double var = nn * mm / 12 * ((N + 1) - tie_sum / (N * (N - 1)));
  if (var <= 0) return 1; /* every value equal */
  double z = (fabs(ux - nn * mm / 2) - 0.5) / sqrt(var);
  if (z < 0) z = 0;
  double p = erfc(z / sqrt(2));
  return p > 1 ? 1 : p;
}
