/* report_junit.c: JUnit XML, one testsuite per backend, one testcase per cell. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

static void lcr_attr(struct lch_buf *sb, const char *name, const char *value) {
  lch_buf_printf(sb, " %s=\"", name);
  lch_xml_escape(sb, value);
  lch_buf_puts(sb, "\"");
}

static void lcr_junit_case(struct lch_buf *sb, const struct lcr_matrix *m, size_t t, size_t c) {
  const struct lcr_cell *cell = lcr_matrix_cell(m, t, c);
  const char *reason = cell->reason ? cell->reason : "";
  lch_buf_puts(sb, "    <testcase");
  lcr_attr(sb, "classname", m->cols[c].mod.name);
  lcr_attr(sb, "name", m->tests[t]->name);
  lch_buf_printf(sb, " time=\"%.3f\">\n", cell->shown.seconds);
  if (cell->verdict == LCR_SKIP) {
    lch_buf_puts(sb, "      <skipped");
    lcr_attr(sb, "message", reason);
    lch_buf_puts(sb, "/>\n");
  } else if (!lcr_verdict_expected(cell->verdict)) {
    lch_buf_puts(sb, "      <failure");
    lcr_attr(sb, "type", lcr_verdict_name(cell->verdict));
    char *msg = lch_xasprintf("%s: %s", lcr_verdict_name(cell->verdict), reason);
    lcr_attr(sb, "message", msg);
    lch_buf_puts(sb, ">");
    lch_xml_escape(sb, msg);
    lch_buf_puts(sb, "</failure>\n");
    free(msg);
  }
  lch_buf_puts(sb, "      <system-out>");
  if (cell->verdict == LCR_XFAIL) { /* JUnit has no expected failure: say it in the output */
    char *msg = lch_xasprintf("XFAIL (expected failure): %s\n", reason);
    lch_xml_escape(sb, msg);
    free(msg);
  }
  lch_xml_escape(sb, cell->shown.log ? cell->shown.log : "");
  lch_buf_puts(sb, "</system-out>\n    </testcase>\n");
}

void lcr_report_junit(FILE *out, const struct lcr_matrix *m) {
  struct lch_buf sb = {0};
  size_t all_fail = 0, all_skip = 0;
  double all_time = 0;
  struct lch_buf suites = {0};
  for (size_t c = 0; c < m->ncols; c++) {
    size_t fail = 0, skip = 0;
    double time = 0;
    for (size_t t = 0; t < m->ntests; t++) {
      const struct lcr_cell *cell = lcr_matrix_cell(m, t, c);
      fail += !lcr_verdict_expected(cell->verdict);
      skip += cell->verdict == LCR_SKIP;
      time += cell->shown.seconds;
    }
    lch_buf_puts(&suites, "  <testsuite");
    lcr_attr(&suites, "name", m->cols[c].mod.name);
    lch_buf_printf(&suites,
              " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
              m->ntests, fail, skip, time);
    lch_buf_puts(&suites, "    <properties>\n      <property name=\"version\"");
    lcr_attr(&suites, "value", m->cols[c].mod.version);
    lch_buf_puts(&suites, "/>\n      <property name=\"module\"");
    lcr_attr(&suites, "value", m->cols[c].mod.path);
    lch_buf_printf(&suites, "/>\n      <property name=\"time-multiplier\" value=\"%g\"/>\n",
              m->multiplier);
    lch_buf_puts(&suites, "    </properties>\n");
    for (size_t t = 0; t < m->ntests; t++) lcr_junit_case(&suites, m, t, c);
    lch_buf_puts(&suites, "  </testsuite>\n");
    all_fail += fail;
    all_skip += skip;
    all_time += time;
  }
  lch_buf_puts(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  lch_buf_printf(&sb, "<testsuites name=\"loopconf\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                 "skipped=\"%zu\" time=\"%.3f\">\n",
            m->ntests * m->ncols, all_fail, all_skip, all_time);
  if (suites.len) lch_buf_append(&sb, suites.data, suites.len);
  lch_buf_puts(&sb, "</testsuites>\n");
  fwrite(sb.data, 1, sb.len, out);
  lch_buf_free(&suites);
  lch_buf_free(&sb);
}
