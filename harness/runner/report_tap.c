/* report_tap.c: TAP version 13, one test point per cell, YAML diagnostics for failures. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

/* Text for a description or a directive's reason: one line, with '#' written "\#" and a
 * backslash written "\\", as TAP requires (an unescaped '#' would start a directive). */
static char *lcr_tap_text(const char *s) {
  char *c = lch_text_clean(s, strlen(s));
  struct lch_buf b = {0};
  lch_buf_puts(&b, "");
  for (const char *p = c; *p; p++) {
    if (*p == '#' || *p == '\\') lch_buf_append(&b, "\\", 1);
    lch_buf_append(&b, *p == '\t' || *p == '\n' ? " " : p, 1);
  }
  free(c);
  return b.data;
}

/* A YAML literal block scalar "key: |" with every line indented under the key. */
static void lcr_tap_block(FILE *out, const char *key, const char *text) {
  char *c = lch_text_clean(text, strlen(text));
  size_t n = strlen(c);
  while (n && c[n - 1] == '\n') c[--n] = '\0';
  /* An explicit indentation indicator when the first line starts with a blank. */
  fprintf(out, "  %s: |%s\n", key, c[0] == ' ' || c[0] == '\t' ? "2" : "");
  for (char *line = c; *line;) {
    char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    fprintf(out, "    %.*s\n", (int)len, line);
    line += len + (nl ? 1 : 0);
  }
  free(c);
}

void lcr_report_tap(FILE *out, const struct lcr_matrix *m) {
  fprintf(out, "TAP version 13\n1..%zu\n", m->ntests * m->ncols);
  size_t k = 0;
  for (size_t c = 0; c < m->ncols; c++)
    for (size_t t = 0; t < m->ntests; t++) {
      const struct lcr_cell *cell = lcr_matrix_cell(m, t, c);
      char *name = lcr_tap_text(m->cols[c].mod.name);
      const char *test = m->tests[t]->name;
      char *why = lcr_tap_text(cell->reason ? cell->reason : "");
      k++;
      switch (cell->verdict) {
      case LCR_PASS: fprintf(out, "ok %zu - %s/%s\n", k, name, test); break;
      case LCR_SKIP: fprintf(out, "ok %zu - %s/%s # SKIP %s\n", k, name, test, why); break;
      case LCR_XFAIL:
        fprintf(out, "not ok %zu - %s/%s # TODO xfail %s\n", k, name, test, why);
        break;
      default:
        fprintf(out, "not ok %zu - %s/%s\n", k, name, test);
        fputs("  ---\n", out);
        fprintf(out, "  verdict: %s\n", lcr_verdict_name(cell->verdict));
        lcr_tap_block(out, "reason", cell->reason ? cell->reason : "");
        lcr_tap_block(out, "backend_version", m->cols[c].mod.version);
        lcr_tap_block(out, "log", cell->shown.log ? cell->shown.log : "");
        fputs("  ...\n", out);
      }
      free(why);
      free(name);
    }
}
