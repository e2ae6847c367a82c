/* report_text.c: the readable matrix, characteristics, reasons and summary on stdout. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

/* One line of display text: cleaned, with TABs and newlines turned into spaces. */
static char *lcr_oneline(const char *s) {
  char *c = lch_text_clean(s, strlen(s));
  for (char *p = c; *p; p++)
    if (*p == '\t' || *p == '\n') *p = ' ';
  return c;
}

/* Display width in code points (good enough for the ASCII-heavy matrix). */
static size_t lcr_width(const char *s) {
  size_t w = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p & 0xc0) != 0x80) w++;
  return w;
}

static void lcr_pad(FILE *out, const char *s, size_t width) {
  fputs(s, out);
  for (size_t w = lcr_width(s); w < width; w++) fputc(' ', out);
}

/* The characteristic value(s) one backend recorded for key over all tests, "" if none. */
static char *lcr_char_value(const struct lcr_matrix *m, size_t col, const char *key) {
  struct lch_strlist seen = {0};
  struct lch_buf sb = {0};
  lch_buf_puts(&sb, "");
  for (size_t t = 0; t < m->ntests; t++) {
    const struct lcr_outcome *o = &lcr_matrix_cell(m, t, col)->shown;
    for (size_t i = 0; i < o->nchars; i++) {
      if (strcmp(o->chars[i].key, key) != 0 || lch_strlist_contains(&seen, o->chars[i].value)) continue;
      lch_strlist_push(&seen, lch_xstrdup(o->chars[i].value));
      char *v = lcr_oneline(o->chars[i].value);
      if (sb.len) lch_buf_puts(&sb, " | ");
      lch_buf_puts(&sb, v);
      free(v);
    }
  }
  lch_strlist_free(&seen);
  return sb.data;
}

static void lcr_text_matrix(FILE *out, const struct lcr_matrix *m) {
  size_t name_w = strlen("TEST");
  for (size_t t = 0; t < m->ntests; t++)
    if (strlen(m->tests[t]->name) > name_w) name_w = strlen(m->tests[t]->name);
  size_t *col_w = lch_xcalloc(m->ncols, sizeof *col_w);
  for (size_t c = 0; c < m->ncols; c++) {
    col_w[c] = strlen("TIMEOUT");
    if (lcr_width(m->cols[c].mod.name) > col_w[c]) col_w[c] = lcr_width(m->cols[c].mod.name);
    if (lcr_width(m->cols[c].mod.version) > col_w[c]) col_w[c] = lcr_width(m->cols[c].mod.version);
  }
  lcr_pad(out, "TEST", name_w + 2);
  for (size_t c = 0; c < m->ncols; c++) lcr_pad(out, m->cols[c].mod.name, col_w[c] + 2);
  fputs("CLAUSES\n", out);
  lcr_pad(out, "", name_w + 2);
  for (size_t c = 0; c < m->ncols; c++) lcr_pad(out, m->cols[c].mod.version, col_w[c] + 2);
  fputc('\n', out);
  for (size_t t = 0; t < m->ntests; t++) {
    const struct lc_test_def *def = m->tests[t];
    lcr_pad(out, def->name, name_w + 2);
    for (size_t c = 0; c < m->ncols; c++)
      lcr_pad(out, lcr_verdict_name(lcr_matrix_cell(m, t, c)->verdict), col_w[c] + 2);
    /* Clause ids; one the spec index does not define is marked with '?'. */
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
    fputc('\n', out);
  }
  free(col_w);
}

static void lcr_text_characteristics(FILE *out, const struct lcr_matrix *m) {
  struct lch_strlist keys = {0};
  for (size_t t = 0; t < m->ntests; t++)
    for (size_t c = 0; c < m->ncols; c++) {
      const struct lcr_outcome *o = &lcr_matrix_cell(m, t, c)->shown;
      for (size_t i = 0; i < o->nchars; i++)
        if (!lch_strlist_contains(&keys, o->chars[i].key)) lch_strlist_push(&keys, lch_xstrdup(o->chars[i].key));
    }
  int name_w = 0;
  for (size_t c = 0; c < m->ncols; c++)
    if ((int)strlen(m->cols[c].mod.name) > name_w) name_w = (int)strlen(m->cols[c].mod.name);
  fprintf(out, "\ncharacteristics:%s\n", keys.n ? "" : " none recorded");
  for (size_t k = 0; k < keys.n; k++) {
    char *key = lcr_oneline(keys.v[k]);
    fprintf(out, "  %s\n", key);
    free(key);
    for (size_t c = 0; c < m->ncols; c++) {
      char *v = lcr_char_value(m, c, keys.v[k]);
      fprintf(out, "    %-*s  %s\n", name_w, m->cols[c].mod.name, *v ? v : "-");
      free(v);
    }
  }
  lch_strlist_free(&keys);
}

static void lcr_text_reasons(FILE *out, const struct lcr_matrix *m) {
  int any = 0;
  for (size_t c = 0; c < m->ncols; c++)
    for (size_t t = 0; t < m->ntests; t++) {
      const struct lcr_cell *cell = lcr_matrix_cell(m, t, c);
      if (cell->verdict == LCR_PASS && !cell->reason) continue; /* a "may" PASS has one */
      if (!any++) fputs("\nreasons:\n", out);
      char *why = lcr_oneline(cell->reason ? cell->reason : "");
      fprintf(out, "  %s %s %s: %s\n", m->cols[c].mod.name, m->tests[t]->name,
              lcr_verdict_name(cell->verdict), why);
      free(why);
      if (cell->verdict == LCR_XFAIL || cell->verdict == LCR_SKIP) continue;
      for (size_t i = 0; i < cell->shown.notes.n; i++) {
        char *note = lcr_oneline(cell->shown.notes.v[i]);
        fprintf(out, "      note: %s\n", note);
        free(note);
      }
    }
  if (!any) fputs("\nreasons: every cell passed\n", out);
}

void lcr_report_text(FILE *out, const struct lcr_matrix *m) {
  fprintf(out, "loopconf %s conformance: %zu test(s) x %zu backend(s), time multiplier %g",
          LOOPCONF_VERSION, m->ntests, m->ncols, m->multiplier);
  if (m->repeat > 1) fprintf(out, ", %d repetitions", m->repeat);
  fputs("\n\n", out);
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
    fprintf(out, "  %s (%s): %u PASS, %u XFAIL, %u SKIP, %u unexpected", m->cols[c].mod.name,
            m->cols[c].mod.version, n[LCR_PASS], n[LCR_XFAIL], n[LCR_SKIP], unexpected);
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
