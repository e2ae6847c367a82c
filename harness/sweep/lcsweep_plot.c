/* lcsweep_plot.c: `loopconf sweep plot RESULTS --out DIR`: charts with gnuplot (pngcairo and
 * svg) and the claims table (claims.md) from a sweep results file. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "lcsweep.h"

json_t *lcsweep_results_load(const char *path) {
  json_t *doc = lch_json_load(path);
  if (!doc) return NULL;
  const char *schema = json_is_object(doc) ? lch_json_str(doc, "schema") : NULL;
  if (!schema || strcmp(schema, LCSWEEP_SCHEMA) != 0) {
    lch_error("%s: not a sweep results file (schema is %s, expected %s)", path,
              schema ? schema : "missing", LCSWEEP_SCHEMA);
    json_decref(doc);
    return NULL;
  }
  json_t *cells = json_object_get(doc, "cells");
  if (!json_is_array(cells) || !json_is_object(json_object_get(doc, "context")) ||
      !json_is_array(json_object_get(doc, "models"))) {
    lch_error("%s: malformed sweep results (missing context, models or cells)", path);
    json_decref(doc);
    return NULL;
  }
  size_t i;
  json_t *c;
  json_array_foreach(cells, i, c) {
    if (!json_is_object(c) || !lch_json_str(c, "workload") || !lch_json_str(c, "model") ||
        !json_is_integer(json_object_get(c, "n")) || !lch_json_str(c, "status") ||
        (json_object_get(c, "stats") && !json_is_object(json_object_get(c, "stats")))) {
      lch_error("%s: malformed sweep results (cell %zu lacks workload, model, n or status)", path,
                i);
      json_decref(doc);
      return NULL;
    }
  }
  return doc;
}

/* ---- styles: one fixed colour (Okabe-Ito, colour-blind safe) and point type per model -------- */

struct style {
  const char *model, *colour;
  int dash, point;
};
static const struct style styles[] = {
    {"task:reference", "#0072B2", 1, 7},   {"task:libuv", "#56B4E9", 1, 5},
    {"task:libev", "#009E73", 1, 9},       {"task:libevent", "#000000", 1, 13},
    {"task:glib", "#F0E442", 1, 8},        {"task:sdevent", "#56B4E9", 3, 12},
    {"task:tevent", "#000000", 3, 14},     {"task-copy:reference", "#0072B2", 2, 6},
    {"thread", "#E69F00", 1, 11},          {"thread-small", "#E69F00", 2, 10},
    {"process", "#D55E00", 1, 15},         {"thread-executor", "#009E73", 2, 4},
    {"process-executor", "#D55E00", 2, 6}, {"asyncio", "#CC79A7", 1, 3},
    {"uvloop", "#CC79A7", 2, 2},
};
static const char *const extra_colours[] = {"#0072B2", "#56B4E9", "#009E73", "#000000"};

static void style_for(const char *model, size_t index, char *out, size_t len) {
  for (size_t i = 0; i < sizeof styles / sizeof *styles; i++)
    if (strcmp(styles[i].model, model) == 0) {
      snprintf(out, len, "lc rgb '%s' dt %d pt %d", styles[i].colour, styles[i].dash,
               styles[i].point);
      return;
    }
  snprintf(out, len, "lc rgb '%s' dt 3 pt %d", extra_colours[index % 4], 1 + (int)(index % 6));
}

/* ---- lookups ------------------------------------------------------------------------------------ */

static const json_t *find_cell(const json_t *doc, const char *w, const char *m, long n) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(doc, "cells"), i, c) {
    if (strcmp(lch_json_str(c, "workload"), w) == 0 && strcmp(lch_json_str(c, "model"), m) == 0 &&
        (n < 0 || json_integer_value(json_object_get(c, "n")) == n))
      return c;
  }
  return NULL;
}

/* stat(cell, key): median/min/max, or 0 if absent */
static int stat3(const json_t *c, const char *key, double *med, double *lo, double *hi) {
  if (!c || strcmp(lch_json_str(c, "status"), "ok") != 0) return 0;
  const json_t *s = json_object_get(json_object_get(c, "stats"), key);
  if (!json_is_object(s)) return 0;
  *med = lch_json_num(s, "median", NAN);
  *lo = lch_json_num(s, "min", NAN);
  *hi = lch_json_num(s, "max", NAN);
  return isfinite(*med);
}

/* The memory of a cell: the cgroup's peak if measured, else the drop of MemAvailable. */
static const char *mem_key(const json_t *c) {
  return json_object_get(json_object_get(c, "stats"), "cgroup_peak_b") ? "cgroup_peak_b"
                                                                       : "mem_avail_drop_b";
}

/* Memory per unit at n: the slope from the smallest N measured to n (bytes/unit). */
static int mem_slope(const json_t *doc, const char *m, long n, double *med, double *lo,
                     double *hi) {
  const json_t *c = find_cell(doc, "spawn", m, n);
  if (!c) return 0;
  const json_t *c0 = NULL;
  long n0 = -1;
  size_t i;
  json_t *x;
  json_array_foreach(json_object_get(doc, "cells"), i, x) {
    long xn = (long)json_integer_value(json_object_get(x, "n"));
    if (strcmp(lch_json_str(x, "workload"), "spawn") == 0 &&
        strcmp(lch_json_str(x, "model"), m) == 0 && strcmp(lch_json_str(x, "status"), "ok") == 0 &&
        xn < n && (n0 < 0 || xn < n0)) {
      n0 = xn;
      c0 = x;
    }
  }
  double a, al, ah, b, bl, bh;
  if (!c0 || !stat3(c, mem_key(c), &a, &al, &ah) || !stat3(c0, mem_key(c0), &b, &bl, &bh)) return 0;
  double dn = (double)(n - n0);
  *med = (a - b) / dn;
  *lo = (al - bh) / dn;
  *hi = (ah - bl) / dn;
  return 1;
}

/* ---- the gnuplot script ---------------------------------------------------------------------- */

struct chart {
  const char *file, *title, *ylabel;
};

static void footer(struct lch_buf *gp, const json_t *doc) {
  const json_t *ctx = json_object_get(doc, "context");
  const json_t *cfg = json_object_get(doc, "config");
  char commit[13] = "";
  const char *gc = lch_json_str(ctx, "git_commit");
  snprintf(commit, sizeof commit, "%s", gc ? gc : "?");
  char *cpu = lch_xstrdup(lch_json_str(ctx, "cpu_model") ? lch_json_str(ctx, "cpu_model") : "?");
  for (char *p = cpu; *p; p++)
    if (*p == '"' || *p == '\\') *p = ' ';
  const char *kernel = lch_json_str(ctx, "kernel");
  char kshort[64] = "?";
  if (kernel) sscanf(kernel, "%*s %63s", kshort);
  lch_buf_printf(gp,
                 "set label 99 \"%s, %lld cpus, Linux %s, %s, commit %s, %s, python %s, uvloop %s, "
                 "%lld reps%s\" at screen 0.01, screen 0.02 font ',7' tc rgb '#444444'\n",
                 cpu, (long long)lch_json_num(ctx, "cpus", 0), kshort,
                 lch_json_str(ctx, "build_type") ? lch_json_str(ctx, "build_type") : "?", commit,
                 lch_json_str(ctx, "date") ? lch_json_str(ctx, "date") : "?",
                 lch_json_str(ctx, "python") ? lch_json_str(ctx, "python") : "?",
                 lch_json_str(ctx, "uvloop") ? lch_json_str(ctx, "uvloop") : "?",
                 (long long)lch_json_num(cfg, "repetitions", 0),
                 "; shared machine, load in results");
  free(cpu);
}

/* One line chart: for each model, the points (N, value, lo, hi) that get(...) gives. */
typedef int (*point_fn)(const json_t *doc, const char *w, const char *m, long n, double *v,
                        double *lo, double *hi);

static int pt_stat(const json_t *doc, const char *w, const char *m, long n, double *v, double *lo,
                   double *hi, const char *key, int per_unit) {
  const json_t *c = find_cell(doc, w, m, n);
  if (!stat3(c, key, v, lo, hi)) return 0;
  if (per_unit) {
    *v /= (double)n;
    *lo /= (double)n;
    *hi /= (double)n;
  }
  return 1;
}
static int pt_wall(const json_t *d, const char *w, const char *m, long n, double *v, double *lo,
                   double *hi) {
  return pt_stat(d, w, m, n, v, lo, hi, "wall_s", 0);
}
static int pt_create(const json_t *d, const char *w, const char *m, long n, double *v, double *lo,
                     double *hi) {
  return pt_stat(d, w, m, n, v, lo, hi, "create_s", 1);
}
static int pt_mem(const json_t *d, const char *w, const char *m, long n, double *v, double *lo,
                  double *hi) {
  (void)w;
  return mem_slope(d, m, n, v, lo, hi);
}
static int pt_csw(const json_t *d, const char *w, const char *m, long n, double *v, double *lo,
                  double *hi) {
  double a, al, ah, b, bl, bh;
  const json_t *c = find_cell(d, w, m, n);
  if (!stat3(c, "nvcsw", &a, &al, &ah) || !stat3(c, "nivcsw", &b, &bl, &bh)) return 0;
  *v = a + b + 1; /* +1: log scale */
  *lo = al + bl + 1;
  *hi = ah + bh + 1;
  return 1;
}

static int line_chart(struct lch_buf *gp, const json_t *doc, const char *w, const char *file,
                      const char *title, const char *ylabel, point_fn fn) {
  struct lch_buf data = {0}, plot = {0};
  size_t i, drawn = 0;
  json_t *m;
  json_array_foreach(json_object_get(doc, "models"), i, m) {
    const char *name = lch_json_str(m, "name");
    size_t k;
    json_t *c;
    int any = 0;
    json_array_foreach(json_object_get(doc, "cells"), k, c) {
      if (strcmp(lch_json_str(c, "workload"), w) != 0 ||
          strcmp(lch_json_str(c, "model"), name) != 0)
        continue;
      long n = (long)json_integer_value(json_object_get(c, "n"));
      double v, lo, hi;
      if (!fn(doc, w, name, n, &v, &lo, &hi) || !(v > 0)) continue;
      if (!any) lch_buf_printf(&data, "$d_%s_%zu << EOD\n", file, i);
      any = 1;
      lch_buf_printf(&data, "%ld %.9g %.9g %.9g\n", n, v, lo > 0 ? lo : v, hi > 0 ? hi : v);
    }
    if (!any) continue;
    lch_buf_puts(&data, "EOD\n");
    char st[128];
    style_for(name, i, st, sizeof st);
    lch_buf_printf(&plot, "%s$d_%s_%zu using 1:2:3:4 with yerrorlines %s lw 2 title '%s'",
                   drawn ? ", \\\n  " : "plot ", file, i, st, name);
    drawn++;
  }
  if (!drawn) { /* nothing measured: still a chart that says so */
    lch_buf_printf(&plot,
                   "set label 1 'no data' at graph 0.5, graph 0.5 center\n"
                   "plot [1:10] [1:10] NaN notitle");
  }
  lch_buf_printf(gp,
                 "%sset title \"%s\"\nset ylabel \"%s\"\nset xlabel 'N (units)'\n"
                 "set logscale xy\nset format x '10^{%%L}'\nset key outside right top\n",
                 data.data ? data.data : "", title, ylabel);
  lch_buf_printf(
      gp,
      "do for [t in 'png svg'] {\n"
      "  if (t eq 'png') { set terminal pngcairo size 1000,600 enhanced font ',10' } "
      "else { set terminal svg size 1000,600 enhanced font ',10' background '#ffffff' }\n"
      "  set output OUTDIR.'/%s.'.t.'.tmp'\n  %s\n  unset output\n}\n"
      "unset label 1\nunset logscale\nset format x '%%g'\n",
      file, plot.data);
  lch_buf_free(&data);
  lch_buf_free(&plot);
  return 0;
}

/* A bar chart: one bar per model, the median of key in workload w at its largest ok N. */
static void bar_chart(struct lch_buf *gp, const json_t *doc, const char *w, const char *key,
                      double scale, const char *file, const char *title, const char *ylabel) {
  struct lch_buf data = {0}, plot = {0};
  size_t i, x = 0;
  json_t *m;
  lch_buf_printf(&data, "$b_%s << EOD\n", file);
  struct lch_buf xt = {0};
  json_array_foreach(json_object_get(doc, "models"), i, m) {
    const char *name = lch_json_str(m, "name");
    const json_t *best = NULL;
    size_t k;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cells"), k, c) {
      if (strcmp(lch_json_str(c, "workload"), w) != 0 ||
          strcmp(lch_json_str(c, "model"), name) != 0)
        continue;
      if (strcmp(lch_json_str(c, "status"), "ok") == 0) best = c;
    }
    double v, lo, hi;
    if (!best || !stat3(best, key, &v, &lo, &hi)) continue;
    char st[128];
    style_for(name, i, st, sizeof st);
    char *colour = strstr(st, "'") ? lch_xstrndup(strstr(st, "'") + 1, 7) : lch_xstrdup("#000000");
    lch_buf_printf(&data, "%zu %.9g %.9g %.9g 0x%s\n", x, v * scale, lo * scale, hi * scale,
                   colour + 1);
    lch_buf_printf(&xt, "%s'%s' %zu", x ? ", " : "", name, x);
    free(colour);
    x++;
  }
  lch_buf_puts(&data, "EOD\n");
  if (x)
    lch_buf_printf(&plot,
                   "plot $b_%s using 1:2:5 with boxes lc rgb variable notitle, "
                   "'' using 1:2:3:4 with yerrorbars lc rgb '#000000' pt 0 notitle",
                   file);
  else
    lch_buf_puts(
        &plot,
        "set label 1 'no data' at graph 0.5, graph 0.5 center\nplot [0:1] [0:1] NaN notitle");
  lch_buf_printf(gp,
                 "%sset title \"%s\"\nset ylabel \"%s\"\nset xlabel ''\nset style fill solid 0.8\n"
                 "set boxwidth 0.7\nset xtics rotate by -30 (%s)\nset key off\nset yrange [0:*]\n"
                 "set xrange [-0.6:%zu]\n",
                 data.data, title, ylabel, xt.data ? xt.data : "", x ? x : 1);
  lch_buf_printf(
      gp,
      "do for [t in 'png svg'] {\n"
      "  if (t eq 'png') { set terminal pngcairo size 1000,600 enhanced font ',10' } "
      "else { set terminal svg size 1000,600 enhanced font ',10' background '#ffffff' }\n"
      "  set output OUTDIR.'/%s.'.t.'.tmp'\n  %s\n  unset output\n}\n"
      "unset label 1\nset xtics norotate autofreq\nset yrange [*:*]\nset xrange [*:*]\n"
      "set key outside right top\n",
      file, plot.data);
  lch_buf_free(&data);
  lch_buf_free(&plot);
  lch_buf_free(&xt);
}

static const char *const chart_files[] = {
    "wall_sleep",        "wall_io",      "wall_cpu",  "wall_spawn",  "memory_per_unit",
    "creation_per_unit", "ctx_switches", "block_lag", "switch_cost", NULL};

/* ---- the claims table -------------------------------------------------------------------------- */

static long largest_ok_n(const json_t *doc, const char *w, const char *m) {
  long best = -1;
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(doc, "cells"), i, c) {
    if (strcmp(lch_json_str(c, "workload"), w) == 0 && strcmp(lch_json_str(c, "model"), m) == 0 &&
        strcmp(lch_json_str(c, "status"), "ok") == 0) {
      long n = (long)json_integer_value(json_object_get(c, "n"));
      if (n > best) best = n;
    }
  }
  return best;
}

static void human_bytes(double b, char *out, size_t len) {
  if (!isfinite(b)) snprintf(out, len, "n/a");
  else if (fabs(b) >= 1048576) snprintf(out, len, "%.1f MiB", b / 1048576);
  else if (fabs(b) >= 1024) snprintf(out, len, "%.1f KiB", b / 1024);
  else snprintf(out, len, "%.0f B", b);
}

static void human_s(double s, char *out, size_t len) {
  if (!isfinite(s)) snprintf(out, len, "n/a");
  else if (s >= 1) snprintf(out, len, "%.2f s", s);
  else if (s >= 1e-3) snprintf(out, len, "%.2f ms", s * 1e3);
  else if (s >= 1e-6) snprintf(out, len, "%.2f us", s * 1e6);
  else snprintf(out, len, "%.0f ns", s * 1e9);
}

static void claim_mem(struct lch_buf *md, const json_t *doc, const char *claim, const char *model,
                      double lo_ok, double hi_ok) {
  long n = largest_ok_n(doc, "spawn", model);
  double v, lo, hi;
  char a[32], b[32], c[32];
  if (n < 2 || !mem_slope(doc, model, n, &v, &lo, &hi)) {
    lch_buf_printf(md, "| %s | %s: not measured | n/a |\n", claim, model);
    return;
  }
  human_bytes(v, a, sizeof a);
  human_bytes(lo, b, sizeof b);
  human_bytes(hi, c, sizeof c);
  lch_buf_printf(md, "| %s | %s: %s per unit (%s to %s), slope up to N=%ld | %s |\n", claim, model,
                 a, b, c, n, v >= lo_ok && v <= hi_ok ? "holds" : "does not hold");
}

static void claim_time(struct lch_buf *md, const json_t *doc, const char *claim, const char *w,
                       const char *model, const char *key, int per_unit, double lo_ok, double hi_ok,
                       const char *note) {
  long n = largest_ok_n(doc, w, model);
  double v, lo, hi;
  char a[32], b[32], c[32];
  const json_t *cell = n > 0 ? find_cell(doc, w, model, n) : NULL;
  if (!stat3(cell, key, &v, &lo, &hi)) {
    lch_buf_printf(md, "| %s | %s: not measured | n/a |\n", claim, model);
    return;
  }
  if (per_unit) {
    v /= (double)n;
    lo /= (double)n;
    hi /= (double)n;
  }
  human_s(v, a, sizeof a);
  human_s(lo, b, sizeof b);
  human_s(hi, c, sizeof c);
  lch_buf_printf(md, "| %s | %s: %s (%s to %s)%s%s | %s |\n", claim, model, a, b, c,
                 note ? "; " : "", note ? note : "",
                 v >= lo_ok && v <= hi_ok ? "holds" : "does not hold");
}

static void claims(struct lch_buf *md, const json_t *doc) {
  const json_t *ctx = json_object_get(doc, "context");
  lch_buf_printf(
      md,
      "# Seed claims against this machine\n\n"
      "Measured by `loopconf sweep` on %s (%lld cpus), %s, commit %s, %s. "
      "A claim \"holds\" when the median falls inside the claimed range (the range "
      "used is in each row). The machine was shared with other agents while this ran: "
      "see `load1_max` and `busy` per cell in the results.\n\n"
      "| Claim (seeds) | Measured here (median, min to max) | Verdict |\n|---|---|---|\n",
      lch_json_str(ctx, "cpu_model"), (long long)lch_json_num(ctx, "cpus", 0),
      lch_json_str(ctx, "kernel") ? lch_json_str(ctx, "kernel") : "?",
      lch_json_str(ctx, "git_commit") ? lch_json_str(ctx, "git_commit") : "?",
      lch_json_str(ctx, "date") ? lch_json_str(ctx, "date") : "?");
  claim_mem(md, doc, "a coroutine costs ~200 bytes (range 100-400 B)", "asyncio", 100, 400);
  claim_mem(md, doc, "a coroutine costs a few KB (range 1-8 KiB)", "asyncio", 1024, 8192);
  claim_mem(md, doc, "a task (C runtime) costs a few KB (range 1-8 KiB)", "task:reference", 1024,
            8192);
  claim_mem(md, doc, "(for comparison) a task in the copy-stack mode (target: under 1 KiB)",
            "task-copy:reference", 0, 1024);
  claim_mem(md, doc, "a thread costs 8 MB (range 4-16 MiB)", "thread", 4 << 20, 16 << 20);
  claim_mem(md, doc, "a thread costs 8 MB (range 4-16 MiB)", "thread-small", 4 << 20, 16 << 20);
  claim_mem(md, doc, "a process costs 25-100 MB", "process", 25 << 20, 100 << 20);
  claim_time(md, doc, "a thread switch costs 1-10 us", "switch", "thread", "switch_s", 0, 1e-6,
             10e-6,
             "one switch = half a pipe round trip between two threads, pipe syscalls included");
  claim_time(md, doc, "a process switch costs 10-100 us", "switch", "process", "switch_s", 0, 10e-6,
             100e-6, "half a pipe round trip between two processes");
  claim_time(md, doc, "(for comparison) a task switch", "switch", "task:reference", "switch_s", 0,
             0, 1e-6, "lc_yield between two tasks; range used: under 1 us");
  claim_time(md, doc, "a process takes 100-500 ms to spawn", "spawn", "process", "create_s", 1, 0.1,
             0.5, "fork() per unit until it runs, at the largest N; fork, not a fresh interpreter");
  /* gather takes max, not sum: wall of N sleeping tasks vs 50 ms and N x 50 ms */
  static const char *const gm[] = {"task:reference", "asyncio", NULL};
  for (int i = 0; gm[i]; i++) {
    long n = largest_ok_n(doc, "sleep", gm[i]);
    double v, lo, hi;
    const json_t *c = n > 0 ? find_cell(doc, "sleep", gm[i], n) : NULL;
    if (!stat3(c, "wall_s", &v, &lo, &hi)) {
      lch_buf_printf(md, "| gather takes max, not sum | %s: not measured | n/a |\n", gm[i]);
      continue;
    }
    double sum = (double)n * 0.05;
    lch_buf_printf(md,
                   "| gather takes max, not sum | %s: %ld units each sleeping 50 ms took %.3f s "
                   "(%.3f to %.3f; the sum would be %.1f s) | %s |\n",
                   gm[i], n, v, lo, hi, sum,
                   n > 1 && v < sum / 2
                       ? "holds (wall far below the sum; at large N creation dominates)"
                       : (n > 1 ? "does not hold" : "n/a (N=1)"));
  }
  /* uvloop 2-4x faster: asyncio wall / uvloop wall per workload at the largest N both did */
  for (int w = 0; w < LCSW_NWORKLOADS; w++) {
    const char *wn = lcsweep_workload_names[w];
    long na = largest_ok_n(doc, wn, "asyncio"), nu = largest_ok_n(doc, wn, "uvloop");
    long n = na < nu ? na : nu;
    double a, al, ah, u, ul, uh;
    if (n < 1 || !stat3(find_cell(doc, wn, "asyncio", n), "wall_s", &a, &al, &ah) ||
        !stat3(find_cell(doc, wn, "uvloop", n), "wall_s", &u, &ul, &uh) || !(u > 0)) {
      lch_buf_printf(md, "| uvloop makes asyncio 2-4x faster (%s) | not measured | n/a |\n", wn);
      continue;
    }
    double r = a / u;
    lch_buf_printf(md,
                   "| uvloop makes asyncio 2-4x faster (%s) | asyncio/uvloop wall at N=%ld: "
                   "%.2fx (%.2fx to %.2fx) | %s |\n",
                   wn, n, r, ul > 0 ? al / uh : 0, ul > 0 ? ah / ul : 0,
                   r >= 2 && r <= 4 ? "holds" : "does not hold");
  }
  /* one blocking call freezes everything */
  json_t *m;
  size_t i;
  json_array_foreach(json_object_get(doc, "models"), i, m) {
    const char *name = lch_json_str(m, "name");
    long n = largest_ok_n(doc, "block", name);
    double v, lo, hi;
    if (n < 2 || !stat3(find_cell(doc, "block", name, n), "lag_max_s", &v, &lo, &hi)) continue;
    int on_loop = strncmp(name, "task", 4) == 0 || strcmp(name, "asyncio") == 0 ||
                  strcmp(name, "uvloop") == 0;
    const char *verdict = on_loop ? (v >= 0.15 ? "holds (the loop froze)" : "does not hold")
                                  : (v < 0.05 ? "holds: this model does not freeze (the call is "
                                                "off the loop or in its own unit)"
                                              : "does not hold: the others lagged anyway");
    lch_buf_printf(md,
                   "| one blocking call (200 ms) freezes everything | %s: worst tick lag of "
                   "the %ld others %.1f ms (%.1f to %.1f) | %s |\n",
                   name, n - 1, v * 1e3, lo * 1e3, hi * 1e3, verdict);
  }
  lch_buf_puts(md,
               "\nIn C, threads and processes run in parallel on the cores (the cpu workload "
               "shows what 2 cores buy); CPython's asyncio runs its coroutines on one thread, "
               "and the GIL would serialise threads too.\n");
}

/* ---- the report ------------------------------------------------------------------------------- */

int lcsweep_report(const json_t *doc, const char *dir, int quiet) {
  const char *gnuplot = getenv("LOOPCONF_GNUPLOT") ? getenv("LOOPCONF_GNUPLOT") : "gnuplot";
  char *probe = lch_xasprintf("command -v '%s' >/dev/null 2>&1", gnuplot);
  int have = system(probe) == 0;
  free(probe);
  if (!have) {
    lch_error("plot: gnuplot is not installed (%s not found; Debian: gnuplot-nox)", gnuplot);
    return 2;
  }
  struct lch_buf gp = {0};
  lch_buf_printf(&gp,
                 "# Generated by `loopconf sweep plot`: the charts of one sweep.\n"
                 "if (!exists('OUTDIR')) OUTDIR = '.'\nset encoding utf8\nset grid\n"
                 "set bmargin 6\nset key outside right top\n");
  footer(&gp, doc);
  line_chart(&gp, doc, "sleep", "wall_sleep", "sleep: N units each wait 50 ms (gather)",
             "wall time (s)", pt_wall);
  line_chart(&gp, doc, "io", "wall_io", "io: N units, 4 round trips each with an echo peer",
             "wall time (s)", pt_wall);
  line_chart(&gp, doc, "cpu", "wall_cpu", "cpu: N units share 4M mixing steps", "wall time (s)",
             pt_wall);
  line_chart(&gp, doc, "spawn", "wall_spawn", "spawn: create N parked units, release, join",
             "wall time (s)", pt_wall);
  line_chart(&gp, doc, "spawn", "memory_per_unit",
             "memory per unit (spawn; slope from the smallest N)",
             "bytes per unit (cgroup peak, else MemAvailable drop)", pt_mem);
  line_chart(&gp, doc, "spawn", "creation_per_unit",
             "creation cost per unit (spawn, until every unit runs)", "seconds per unit",
             pt_create);
  line_chart(&gp, doc, "sleep", "ctx_switches",
             "context switches (sleep workload, voluntary + involuntary, + 1)", "context switches",
             pt_csw);
  bar_chart(&gp, doc, "block", "lag_max_s", 1e3, "block_lag",
            "block: worst lag of the other units while one makes a 200 ms blocking call",
            "lag (ms)");
  bar_chart(&gp, doc, "switch", "switch_s", 1e6, "switch_cost",
            "switch: one hand-off between two units", "microseconds per switch");
  char *script = lch_xasprintf("%s/sweep.gp", dir);
  struct lch_outfile o;
  if (lch_outfile_open(&o, script) != 0) {
    lch_buf_free(&gp);
    free(script);
    return 2;
  }
  fwrite(gp.data, 1, gp.len, o.f);
  lch_buf_free(&gp);
  if (lch_outfile_commit(&o) != 0) {
    free(script);
    return 2;
  }
  char *def = lch_xasprintf("OUTDIR='%s'", dir);
  char *argv[] = {(char *)gnuplot, "-e", def, script, NULL};
  struct lch_job job = {.argv = argv, .path = gnuplot, .timeout_ms = 120000};
  struct lch_proc_result res;
  int e = lch_exec_one(&job, &res);
  int ok = e == 0 && !res.timed_out && res.signo == 0 && res.exit_code == 0 && !res.spawn_errno;
  if (!ok) {
    char *clean = res.log.len ? lch_text_clean(res.log.data, res.log.len > 300 ? 300 : res.log.len)
                              : lch_xstrdup("");
    lch_error("plot: gnuplot failed (exit %d): %s", res.exit_code, clean);
    free(clean);
  }
  lch_proc_result_free(&res);
  free(def);
  free(script);
  int rc = ok ? 0 : 2;
  for (int i = 0; chart_files[i]; i++)
    for (int t = 0; t < 2; t++) {
      const char *ext = t ? "svg" : "png";
      char *tmp = lch_xasprintf("%s/%s.%s.tmp", dir, chart_files[i], ext);
      char *fin = lch_xasprintf("%s/%s.%s", dir, chart_files[i], ext);
      if (ok && rc == 0 && rename(tmp, fin) != 0) { /* one error line: the first missing */
        lch_error("plot: gnuplot did not draw %s: %s", fin, strerror(errno));
        rc = 2;
      }
      if (ok && rc) unlink(tmp);
      if (!ok) unlink(tmp);
      free(tmp);
      free(fin);
    }
  if (rc) return rc;
  struct lch_buf md = {0};
  claims(&md, doc);
  char *cpath = lch_xasprintf("%s/claims.md", dir);
  if (lch_outfile_open(&o, cpath) != 0) rc = 2;
  else {
    fwrite(md.data, 1, md.len, o.f);
    if (lch_outfile_commit(&o) != 0) rc = 2;
  }
  if (!quiet && !rc)
    fprintf(stderr, "wrote %d charts (png, svg), sweep.gp and claims.md in %s\n", 9, dir);
  lch_buf_free(&md);
  free(cpath);
  return rc;
}

int lcsweep_plot_main(int argc, char **argv) {
  const char *out = NULL;
  int quiet = 0;
  static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                           {"quiet", no_argument, NULL, 'q'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'q': quiet = 1; break;
    case 'h':
      puts(
          "usage: loopconf sweep plot RESULTS.json --out DIR [-q]\n"
          "Draw the sweep's charts (PNG and SVG, gnuplot) and write claims.md into DIR.");
      return 0;
    default: return 2;
    }
  }
  if (optind != argc - 1 || !out) {
    lch_error("plot: needs one RESULTS file and --out DIR (see loopconf sweep plot --help)");
    return 2;
  }
  struct stat st;
  if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode) || access(out, W_OK) != 0) {
    lch_error("plot: --out %s is not a writable directory", out);
    return 2;
  }
  json_t *doc = lcsweep_results_load(argv[optind]);
  if (!doc) return 2;
  int rc = lcsweep_report(doc, out, quiet);
  json_decref(doc);
  return rc;
}
