/* report_text.c: the readable matrix, characteristics, reasons and summary on stdout.
 *
 * Made for a terminal: rows fit LCR_TEXT_WIDTH columns (backends are numbered columns,
 * explained by a legend with their versions, and split into several matrices when there are
 * too many for one), the clause column only on request, an "unexpected only" view, ANSI
 * colour when asked for. Everything a backend controls (its name, version, reasons, notes,
 * characteristics) is cleaned of control characters and invalid UTF-8 and bounded per cell,
 * so a flooding backend cannot flood the report. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

#define LCR_TEXT_WIDTH 100
#define LCR_CELL_W 7       /* "TIMEOUT" */
#define LCR_REASON_MAX 600 /* code points of one reason */
#define LCR_NOTE_MAX 300   /* code points of one note */
#define LCR_NOTES_MAX 8    /* notes shown per cell */
#define LCR_CHAR_MAX 200   /* code points of one backend's value(s) for a characteristic */
#define LCR_KEYS_MAX 40    /* characteristic keys shown */

/* Display width in code points (good enough for the ASCII-heavy matrix). */
static size_t lcr_width(const char *s) {
  size_t w = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p & 0xc0) != 0x80) w++;
  return w;
}

/* One line of display text: cleaned, TABs and newlines turned into spaces, at most max code
 * points (then cut at a code point boundary, saying how much was cut). */
static char *lcr_oneline_max(const char *s, size_t max) {
  char *c = lch_text_clean(s, strlen(s));
  for (char *p = c; *p; p++)
    if (*p == '\t' || *p == '\n') *p = ' ';
  if (lcr_width(c) <= max) return c;
  size_t w = 0, i = 0;
  for (; c[i]; i++) {
    if (((unsigned char)c[i] & 0xc0) != 0x80 && w++ == max) break;
  }
  char *r = lch_xasprintf("%.*s... (%zu more bytes not shown)", (int)i, c, strlen(c) - i);
  free(c);
  return r;
}

static void lcr_pad(FILE *out, const char *s, size_t width) {
  fputs(s, out);
  for (size_t w = lcr_width(s); w < width; w++) fputc(' ', out);
}

static const char *lcr_verdict_colour(enum lcr_verdict v) {
  switch (v) {
  case LCR_PASS: return "\033[32m";  /* green */
  case LCR_XFAIL: return "\033[33m"; /* yellow: expected, but not a pass */
  case LCR_SKIP: return "\033[2m";   /* dim */
  default: return "\033[1;31m";      /* bold red: unexpected */
  }
}

/* A verdict padded to the cell width, coloured if asked. */
static void lcr_verdict_cell(FILE *out, const struct lcr_matrix *m, enum lcr_verdict v, size_t w) {
  const char *name = lcr_verdict_name(v);
  if (m->text_color) fprintf(out, "%s%s\033[0m", lcr_verdict_colour(v), name);
  else fputs(name, out);
  for (size_t i = strlen(name); i < w; i++) fputc(' ', out);
}

static int lcr_row_unexpected(const struct lcr_matrix *m, size_t t) {
  for (size_t c = 0; c < m->ncols; c++)
    if (!lcr_verdict_expected(lcr_matrix_cell(m, t, c)->verdict)) return 1;
  return 0;
}

/* The characteristic value(s) one backend recorded for key over all tests, "" if none. */
static char *lcr_char_value(const struct lcr_matrix *m, size_t col, const char *key) {
  struct lch_strlist seen = {0};
  struct lch_buf sb = {0};
  lch_buf_puts(&sb, "");
  for (size_t t = 0; t < m->ntests && sb.len < 4 * LCR_CHAR_MAX; t++) {
    const struct lcr_outcome *o = &lcr_matrix_cell(m, t, col)->shown;
    for (size_t i = 0; i < o->nchars && sb.len < 4 * LCR_CHAR_MAX; i++) {
      if (strcmp(o->chars[i].key, key) != 0 || lch_strlist_contains(&seen, o->chars[i].value))
        continue;
      lch_strlist_push(&seen, lch_xstrdup(o->chars[i].value));
      if (sb.len) lch_buf_puts(&sb, " | ");
      lch_buf_puts(&sb, o->chars[i].value);
    }
  }
  lch_strlist_free(&seen);
  char *v = lcr_oneline_max(sb.data, LCR_CHAR_MAX);
  lch_buf_free(&sb);
  return v;
}

static void lcr_text_legend(FILE *out, const struct lcr_matrix *m) {
  fputs("backends:\n", out);
  size_t name_w = 0;
  char **names = lch_xcalloc(m->ncols, sizeof *names);
  for (size_t c = 0; c < m->ncols; c++) {
    names[c] = lcr_oneline_max(m->cols[c].mod.name, 40);
    if (lcr_width(names[c]) > name_w) name_w = lcr_width(names[c]);
  }
  for (size_t c = 0; c < m->ncols; c++) {
    char *ver = lcr_oneline_max(m->cols[c].mod.version, LCR_TEXT_WIDTH - 12 - name_w);
    fprintf(out, "  [%zu] ", c + 1);
    lcr_pad(out, names[c], name_w + 2);
    fprintf(out, "%s\n", ver);
    free(ver);
    free(names[c]);
  }
  free(names);
  fputc('\n', out);
}

/* Clause ids of a test; one the spec index does not define is marked with '?'. */
static void lcr_text_clauses(FILE *out, const struct lcr_matrix *m, const struct lc_test_def *def) {
  const char *p = def->clauses;
  int first = 1;
  while (*p) {
    while (*p == ' ') p++;
    const char *e = p;
    while (*e && *e != ' ') e++;
    if (e > p) {
      char *id = lch_xstrndup(p, (size_t)(e - p));
      fprintf(out, "%s%s%s", first ? "" : " ", id,
              m->spec && m->spec->n && !lcr_spec_find(m->spec, id) ? "?" : "");
      free(id);
      first = 0;
    }
    p = e;
  }
  if (first) fputs("-", out);
}

static void lcr_text_matrix(FILE *out, const struct lcr_matrix *m) {
  size_t name_w = strlen("TEST");
  for (size_t t = 0; t < m->ntests; t++)
    if (strlen(m->tests[t]->name) > name_w) name_w = strlen(m->tests[t]->name);
  /* Columns are the backends' names when they all fit in one matrix of LCR_TEXT_WIDTH, else
   * "[n]" (the legend says which backend), as many per matrix as fit. */
  size_t cell_w = LCR_CELL_W;
  char **labels = lch_xcalloc(m->ncols, sizeof *labels);
  for (size_t c = 0; c < m->ncols; c++) {
    labels[c] = lcr_oneline_max(m->cols[c].mod.name, 12);
    if (strlen(labels[c]) > 12) labels[c][12] = '\0'; /* drop the "... (n more bytes)" */
    if (lcr_width(labels[c]) > cell_w) cell_w = lcr_width(labels[c]);
  }
  if (name_w + 2 + m->ncols * (cell_w + 2) > LCR_TEXT_WIDTH) {
    cell_w = LCR_CELL_W;
    for (size_t c = 0; c < m->ncols; c++) {
      free(labels[c]);
      labels[c] = lch_xasprintf("[%zu]", c + 1);
    }
  }
  size_t per = (LCR_TEXT_WIDTH - (name_w + 2)) / (cell_w + 2);
  if (per < 1) per = 1;
  size_t shown = 0;
  for (size_t c0 = 0; c0 < m->ncols; c0 += per) {
    size_t c1 = c0 + per < m->ncols ? c0 + per : m->ncols;
    if (c0) fputc('\n', out);
    lcr_pad(out, "TEST", name_w + 2);
    for (size_t c = c0; c < c1; c++)
      lcr_pad(out, labels[c], c + 1 < c1 || m->text_clauses ? cell_w + 2 : 0);
    fputs(m->text_clauses && c1 == m->ncols ? "CLAUSES\n" : "\n", out);
    shown = 0;
    for (size_t t = 0; t < m->ntests; t++) {
      if (m->text_unexpected && !lcr_row_unexpected(m, t)) continue;
      shown++;
      lcr_pad(out, m->tests[t]->name, name_w + 2);
      for (size_t c = c0; c < c1; c++)
        lcr_verdict_cell(out, m, lcr_matrix_cell(m, t, c)->verdict,
                         c + 1 < c1 || (m->text_clauses && c1 == m->ncols) ? cell_w + 2 : 0);
      if (m->text_clauses && c1 == m->ncols) lcr_text_clauses(out, m, m->tests[t]);
      fputc('\n', out);
    }
  }
  if (m->text_unexpected && shown == 0) fputs("(no unexpected verdicts)\n", out);
  for (size_t c = 0; c < m->ncols; c++) free(labels[c]);
  free(labels);
}

static void lcr_text_characteristics(FILE *out, const struct lcr_matrix *m) {
  struct lch_strlist keys = {0};
  size_t more = 0;
  for (size_t t = 0; t < m->ntests; t++)
    for (size_t c = 0; c < m->ncols; c++) {
      const struct lcr_outcome *o = &lcr_matrix_cell(m, t, c)->shown;
      for (size_t i = 0; i < o->nchars; i++) {
        if (lch_strlist_contains(&keys, o->chars[i].key)) continue;
        if (keys.n < LCR_KEYS_MAX) lch_strlist_push(&keys, lch_xstrdup(o->chars[i].key));
        else more++;
      }
    }
  int name_w = 0;
  for (size_t c = 0; c < m->ncols; c++)
    if ((int)lcr_width(m->cols[c].mod.name) > name_w) name_w = (int)lcr_width(m->cols[c].mod.name);
  if (name_w > 40) name_w = 40;
  fprintf(out, "\ncharacteristics:%s\n", keys.n ? "" : " none recorded");
  for (size_t k = 0; k < keys.n; k++) {
    char *key = lcr_oneline_max(keys.v[k], 80);
    fprintf(out, "  %s\n", key);
    free(key);
    for (size_t c = 0; c < m->ncols; c++) {
      char *v = lcr_char_value(m, c, keys.v[k]);
      char *name = lcr_oneline_max(m->cols[c].mod.name, 40);
      fputs("    ", out);
      lcr_pad(out, name, (size_t)name_w + 2);
      fprintf(out, "%s\n", *v ? v : "-");
      free(name);
      free(v);
    }
  }
  if (more) fprintf(out, "  (%zu more keys not shown; see --junit or --tap)\n", more);
  lch_strlist_free(&keys);
}

static void lcr_text_reasons(FILE *out, const struct lcr_matrix *m) {
  int any = 0;
  for (size_t c = 0; c < m->ncols; c++) {
    char *name = lcr_oneline_max(m->cols[c].mod.name, 40);
    for (size_t t = 0; t < m->ntests; t++) {
      const struct lcr_cell *cell = lcr_matrix_cell(m, t, c);
      if (cell->verdict == LCR_PASS && !cell->reason) continue; /* a "may" PASS has one */
      if (m->text_unexpected && lcr_verdict_expected(cell->verdict)) continue;
      if (!any++) fputs("\nreasons:\n", out);
      char *why = lcr_oneline_max(cell->reason ? cell->reason : "", LCR_REASON_MAX);
      fprintf(out, "  %s %s %s: %s\n", name, m->tests[t]->name, lcr_verdict_name(cell->verdict),
              why);
      free(why);
      if (cell->verdict == LCR_XFAIL || cell->verdict == LCR_SKIP) continue;
      size_t nn = cell->shown.notes.n;
      for (size_t i = 0; i < nn && i < LCR_NOTES_MAX; i++) {
        char *note = lcr_oneline_max(cell->shown.notes.v[i], LCR_NOTE_MAX);
        fprintf(out, "      note: %s\n", note);
        free(note);
      }
      if (nn > LCR_NOTES_MAX)
        fprintf(out, "      (%zu more notes not shown; see --junit or --tap)\n",
                nn - LCR_NOTES_MAX);
    }
    free(name);
  }
  if (!any)
    fputs(m->text_unexpected ? "\nreasons: no unexpected verdict\n"
                             : "\nreasons: every cell passed\n",
          out);
}

void lcr_report_text(FILE *out, const struct lcr_matrix *m) {
  fprintf(out, "loopconf %s conformance: %zu test(s) x %zu backend(s), time multiplier %g",
          LOOPCONF_VERSION, m->ntests, m->ncols, m->multiplier);
  if (m->repeat > 1) fprintf(out, ", %d repetitions", m->repeat);
  fputs("\n\n", out);
  lcr_text_legend(out, m);
  lcr_text_matrix(out, m);
  lcr_text_characteristics(out, m);
  lcr_text_reasons(out, m);

  unsigned passed = 0, failed = 0, skipped = 0;
  fputs("\nsummary:\n", out);
  for (size_t c = 0; c < m->ncols; c++) {
    unsigned n[LCR_VERDICT_COUNT] = {0}, unexpected = 0;
    for (size_t t = 0; t < m->ntests; t++) {
      enum lcr_verdict v = lcr_matrix_cell(m, t, c)->verdict;
      n[v]++;
      if (!lcr_verdict_expected(v)) unexpected++;
    }
    char *name = lcr_oneline_max(m->cols[c].mod.name, 40);
    char *ver = lcr_oneline_max(m->cols[c].mod.version, 60);
    fprintf(out, "  %s (%s): %u PASS, %u XFAIL, %u SKIP, %u unexpected", name, ver, n[LCR_PASS],
            n[LCR_XFAIL], n[LCR_SKIP], unexpected);
    free(name);
    free(ver);
    const char *sep = ": ";
    for (int v = 0; v < LCR_VERDICT_COUNT; v++)
      if (!lcr_verdict_expected((enum lcr_verdict)v) && n[v]) {
        fprintf(out, "%s%u %s", sep, n[v], lcr_verdict_name((enum lcr_verdict)v));
        sep = ", ";
      }
    fputc('\n', out);
    passed += n[LCR_PASS] + n[LCR_XFAIL];
    skipped += n[LCR_SKIP];
    failed += unexpected;
  }
  fprintf(out, "\nconformance: %u passed, %u failed, %u skipped\n", passed, failed, skipped);
}
