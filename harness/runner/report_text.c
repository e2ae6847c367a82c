/* report_text.c: the readable matrix, characteristics, reasons and summary on stdout. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

/* One line of display text: cleaned, with TABs and newlines turned into spaces. */
static char *lc_oneline(const char *s) {
  char *c = lc_text_clean(s, strlen(s));
  for (char *p = c; *p; p++)
    if (*p == '\t' || *p == '\n') *p = ' ';
  return c;
}

/* Display width in code points (good enough for the ASCII-heavy matrix). */
static size_t lc_width(const char *s) {
  size_t w = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p & 0xc0) != 0x80) w++;
  return w;
}

static void lc_pad(FILE *out, const char *s, size_t width) {
  fputs(s, out);
  for (size_t w = lc_width(s); w < width; w++) fputc(' ', out);
}

/* The characteristic value(s) one backend recorded for key over all tests, "" if none. */
static char *lc_char_value(const struct lc_matrix *m, size_t col, const char *key) {
  struct strlist seen = {0};
  struct strbuf sb = {0};
  sb_puts(&sb, "");
  for (size_t t = 0; t < m->ntests; t++) {
    const struct lc_outcome *o = &lc_matrix_cell(m, t, col)->shown;
    for (size_t i = 0; i < o->nchars; i++) {
      if (strcmp(o->chars[i].key, key) != 0 || sl_contains(&seen, o->chars[i].value)) continue;
      sl_push(&seen, xstrdup(o->chars[i].value));
      char *v = lc_oneline(o->chars[i].value);
      if (sb.len) sb_puts(&sb, " | ");
      sb_puts(&sb, v);
      free(v);
    }
  }
  sl_free(&seen);
  return sb.data;
}

static void lc_text_matrix(FILE *out, const struct lc_matrix *m) {
  size_t name_w = strlen("TEST");
  for (size_t t = 0; t < m->ntests; t++)
    if (strlen(m->tests[t]->name) > name_w) name_w = strlen(m->tests[t]->name);
  size_t *col_w = xcalloc(m->ncols, sizeof *col_w);
  for (size_t c = 0; c < m->ncols; c++) {
    col_w[c] = strlen("TIMEOUT");
    if (lc_width(m->cols[c].mod.name) > col_w[c]) col_w[c] = lc_width(m->cols[c].mod.name);
    if (lc_width(m->cols[c].mod.version) > col_w[c]) col_w[c] = lc_width(m->cols[c].mod.version);
  }
  lc_pad(out, "TEST", name_w + 2);
  for (size_t c = 0; c < m->ncols; c++) lc_pad(out, m->cols[c].mod.name, col_w[c] + 2);
  fputs("CLAUSES\n", out);
  lc_pad(out, "", name_w + 2);
  for (size_t c = 0; c < m->ncols; c++) lc_pad(out, m->cols[c].mod.version, col_w[c] + 2);
  fputc('\n', out);
  for (size_t t = 0; t < m->ntests; t++) {
    const struct lc_test_def *def = m->tests[t];
    lc_pad(out, def->name, name_w + 2);
    for (size_t c = 0; c < m->ncols; c++)
      lc_pad(out, lc_verdict_name(lc_matrix_cell(m, t, c)->verdict), col_w[c] + 2);
    /* Clause ids; one the spec index does not define is marked with '?'. */
    const char *p = def->clauses;
    int first = 1;
    while (*p) {
      while (*p == ' ') p++;
      const char *e = p;
      while (*e && *e != ' ') e++;
      if (e > p) {
        char *id = xstrndup(p, (size_t)(e - p));
        fprintf(out, "%s%s%s", first ? "" : " ", id,
                m->spec && m->spec->n && !lc_spec_find(m->spec, id) ? "?" : "");
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

static void lc_text_characteristics(FILE *out, const struct lc_matrix *m) {
  struct strlist keys = {0};
  for (size_t t = 0; t < m->ntests; t++)
    for (size_t c = 0; c < m->ncols; c++) {
      const struct lc_outcome *o = &lc_matrix_cell(m, t, c)->shown;
      for (size_t i = 0; i < o->nchars; i++)
        if (!sl_contains(&keys, o->chars[i].key)) sl_push(&keys, xstrdup(o->chars[i].key));
    }
  int name_w = 0;
  for (size_t c = 0; c < m->ncols; c++)
    if ((int)strlen(m->cols[c].mod.name) > name_w) name_w = (int)strlen(m->cols[c].mod.name);
  fprintf(out, "\ncharacteristics:%s\n", keys.n ? "" : " none recorded");
  for (size_t k = 0; k < keys.n; k++) {
    char *key = lc_oneline(keys.v[k]);
    fprintf(out, "  %s\n", key);
    free(key);
    for (size_t c = 0; c < m->ncols; c++) {
      char *v = lc_char_value(m, c, keys.v[k]);
      fprintf(out, "    %-*s  %s\n", name_w, m->cols[c].mod.name, *v ? v : "-");
      free(v);
    }
  }
  sl_free(&keys);
}

static void lc_text_reasons(FILE *out, const struct lc_matrix *m) {
  int any = 0;
  for (size_t c = 0; c < m->ncols; c++)
    for (size_t t = 0; t < m->ntests; t++) {
      const struct lc_cell *cell = lc_matrix_cell(m, t, c);
      if (cell->verdict == LC_PASS && !cell->reason) continue; /* a "may" PASS has one */
      if (!any++) fputs("\nreasons:\n", out);
      char *why = lc_oneline(cell->reason ? cell->reason : "");
      fprintf(out, "  %s %s %s: %s\n", m->cols[c].mod.name, m->tests[t]->name,
              lc_verdict_name(cell->verdict), why);
      free(why);
      if (cell->verdict == LC_XFAIL || cell->verdict == LC_SKIP) continue;
      for (size_t i = 0; i < cell->shown.notes.n; i++) {
        char *note = lc_oneline(cell->shown.notes.v[i]);
        fprintf(out, "      note: %s\n", note);
        free(note);
      }
    }
  if (!any) fputs("\nreasons: every cell passed\n", out);
}

void lc_report_text(FILE *out, const struct lc_matrix *m) {
  fprintf(out, "loopconf %s conformance: %zu test(s) x %zu backend(s), time multiplier %g",
          LOOPCONF_VERSION, m->ntests, m->ncols, m->multiplier);
  if (m->repeat > 1) fprintf(out, ", %d repetitions", m->repeat);
  fputs("\n\n", out);
  lc_text_matrix(out, m);
  lc_text_characteristics(out, m);
  lc_text_reasons(out, m);

  unsigned passed = 0, failed = 0, skipped = 0;
  fputs("\nsummary:\n", out);
  for (size_t c = 0; c < m->ncols; c++) {
    unsigned n[LC_VERDICT_COUNT] = {0}, unexpected = 0;
    for (size_t t = 0; t < m->ntests; t++) {
      enum lc_verdict v = lc_matrix_cell(m, t, c)->verdict;
      n[v]++;
      if (!lc_verdict_expected(v)) unexpected++;
    }
    fprintf(out, "  %s (%s): %u PASS, %u XFAIL, %u SKIP, %u unexpected", m->cols[c].mod.name,
            m->cols[c].mod.version, n[LC_PASS], n[LC_XFAIL], n[LC_SKIP], unexpected);
    const char *sep = ": ";
    for (int v = 0; v < LC_VERDICT_COUNT; v++)
      if (!lc_verdict_expected((enum lc_verdict)v) && n[v]) {
        fprintf(out, "%s%u %s", sep, n[v], lc_verdict_name((enum lc_verdict)v));
        sep = ", ";
      }
    fputc('\n', out);
    passed += n[LC_PASS] + n[LC_XFAIL];
    skipped += n[LC_SKIP];
    failed += unexpected;
  }
  fprintf(out, "\nconformance: %u passed, %u failed, %u skipped\n", passed, failed, skipped);
}
