/* report_junit.c: JUnit XML, one testsuite per backend, one testcase per cell. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

static void lc_attr(struct strbuf *sb, const char *name, const char *value) {
  sb_printf(sb, " %s=\"", name);
  lc_xml_escape(sb, value);
  sb_puts(sb, "\"");
}

static void lc_junit_case(struct strbuf *sb, const struct lc_matrix *m, size_t t, size_t c) {
  const struct lc_cell *cell = lc_matrix_cell(m, t, c);
  const char *reason = cell->reason ? cell->reason : "";
  sb_puts(sb, "    <testcase");
  lc_attr(sb, "classname", m->cols[c].mod.name);
  lc_attr(sb, "name", m->tests[t]->name);
  sb_printf(sb, " time=\"%.3f\">\n", cell->shown.seconds);
  if (cell->verdict == LC_SKIP) {
    sb_puts(sb, "      <skipped");
    lc_attr(sb, "message", reason);
    sb_puts(sb, "/>\n");
  } else if (!lc_verdict_expected(cell->verdict)) {
    sb_puts(sb, "      <failure");
    lc_attr(sb, "type", lc_verdict_name(cell->verdict));
    char *msg = xasprintf("%s: %s", lc_verdict_name(cell->verdict), reason);
    lc_attr(sb, "message", msg);
    sb_puts(sb, ">");
    lc_xml_escape(sb, msg);
    sb_puts(sb, "</failure>\n");
    free(msg);
  }
  sb_puts(sb, "      <system-out>");
  if (cell->verdict == LC_XFAIL) { /* JUnit has no expected failure: say it in the output */
    char *msg = xasprintf("XFAIL (expected failure): %s\n", reason);
    lc_xml_escape(sb, msg);
    free(msg);
  }
  lc_xml_escape(sb, cell->shown.log ? cell->shown.log : "");
  sb_puts(sb, "</system-out>\n    </testcase>\n");
}

void lc_report_junit(FILE *out, const struct lc_matrix *m) {
  struct strbuf sb = {0};
  size_t all_fail = 0, all_skip = 0;
  double all_time = 0;
  struct strbuf suites = {0};
  for (size_t c = 0; c < m->ncols; c++) {
    size_t fail = 0, skip = 0;
    double time = 0;
    for (size_t t = 0; t < m->ntests; t++) {
      const struct lc_cell *cell = lc_matrix_cell(m, t, c);
      fail += !lc_verdict_expected(cell->verdict);
      skip += cell->verdict == LC_SKIP;
      time += cell->shown.seconds;
    }
    sb_puts(&suites, "  <testsuite");
    lc_attr(&suites, "name", m->cols[c].mod.name);
    sb_printf(&suites,
              " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
              m->ntests, fail, skip, time);
    sb_puts(&suites, "    <properties>\n      <property name=\"version\"");
    lc_attr(&suites, "value", m->cols[c].mod.version);
    sb_puts(&suites, "/>\n      <property name=\"module\"");
    lc_attr(&suites, "value", m->cols[c].mod.path);
    sb_printf(&suites, "/>\n      <property name=\"time-multiplier\" value=\"%g\"/>\n",
              m->multiplier);
    sb_puts(&suites, "    </properties>\n");
    for (size_t t = 0; t < m->ntests; t++) lc_junit_case(&suites, m, t, c);
    sb_puts(&suites, "  </testsuite>\n");
    all_fail += fail;
    all_skip += skip;
    all_time += time;
  }
  sb_puts(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  sb_printf(&sb, "<testsuites name=\"loopconf\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                 "skipped=\"%zu\" time=\"%.3f\">\n",
            m->ntests * m->ncols, all_fail, all_skip, all_time);
  if (suites.len) sb_append(&sb, suites.data, suites.len);
  sb_puts(&sb, "</testsuites>\n");
  fwrite(sb.data, 1, sb.len, out);
  sb_free(&suites);
  sb_free(&sb);
}
