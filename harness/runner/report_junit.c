/* report_junit.c: JUnit XML, one testsuite per backend, one testcase per cell.
 *
 * Follows the usual junit-10 layout (harness/runner/junit-10.xsd is our statement of it; the
 * runner.ci_formats test validates reports with xmllint): <testsuites name tests failures
 * errors time>, <testsuite> with timestamp and hostname, and per verdict:
 *   FAIL, XPASS, FLAKY   <failure type="...">    (the test ran and gave a wrong answer)
 *   CRASH, TIMEOUT       <error type="...">      (the test did not finish)
 *   XFAIL                <skipped type="XFAIL">  (expected failure: shown, not red)
 *   SKIP                 <skipped type="SKIP">   (capability absent) */
#include "runner.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int lcr_junit_is_error(enum lcr_verdict v) { return v == LCR_CRASH || v == LCR_TIMEOUT; }

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
  if (cell->verdict == LCR_SKIP || cell->verdict == LCR_XFAIL) {
    lch_buf_puts(sb, "      <skipped");
    lcr_attr(sb, "type", lcr_verdict_name(cell->verdict));
    char *msg = cell->verdict == LCR_XFAIL ? lch_xasprintf("expected failure: %s", reason)
                                           : lch_xstrdup(reason);
    lcr_attr(sb, "message", msg);
    free(msg);
    lch_buf_puts(sb, "/>\n");
  } else if (!lcr_verdict_expected(cell->verdict)) {
    const char *el = lcr_junit_is_error(cell->verdict) ? "error" : "failure";
    lch_buf_printf(sb, "      <%s", el);
    lcr_attr(sb, "type", lcr_verdict_name(cell->verdict));
    char *msg = lch_xasprintf("%s: %s", lcr_verdict_name(cell->verdict), reason);
    lcr_attr(sb, "message", msg);
    lch_buf_puts(sb, ">");
    lch_xml_escape(sb, msg);
    lch_buf_printf(sb, "</%s>\n", el);
    free(msg);
  }
  lch_buf_puts(sb, "      <system-out>");
  lch_xml_escape(sb, cell->shown.log ? cell->shown.log : "");
  lch_buf_puts(sb, "</system-out>\n    </testcase>\n");
}

void lcr_report_junit(FILE *out, const struct lcr_matrix *m) {
  struct lch_buf sb = {0};
  size_t all_fail = 0, all_err = 0;
  double all_time = 0;
  struct lch_buf suites = {0};
  /* When the report was made (UTC, no zone: the schema's form) and where. */
  char stamp[32] = "1970-01-01T00:00:00", host[256] = "localhost";
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm)) strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) strcpy(host, "localhost");
  host[sizeof host - 1] = '\0';
  for (size_t c = 0; c < m->ncols; c++) {
    size_t fail = 0, err = 0, skip = 0;
    double time = 0;
    for (size_t t = 0; t < m->ntests; t++) {
      const struct lcr_cell *cell = lcr_matrix_cell(m, t, c);
      if (lcr_junit_is_error(cell->verdict)) err++;
      else if (!lcr_verdict_expected(cell->verdict)) fail++;
      skip += cell->verdict == LCR_SKIP || cell->verdict == LCR_XFAIL;
      time += cell->shown.seconds;
    }
    lch_buf_printf(&suites, "  <testsuite id=\"%zu\"", c);
    lcr_attr(&suites, "name", m->cols[c].mod.name);
    lcr_attr(&suites, "package", "loopconf");
    lch_buf_printf(&suites,
                   " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\""
                   " timestamp=\"%s\"",
                   m->ntests, fail, err, skip, time, stamp);
    lcr_attr(&suites, "hostname", host);
    lch_buf_puts(&suites, ">\n");
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
    all_err += err;
    all_time += time;
  }
  lch_buf_puts(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  lch_buf_printf(&sb,
                 "<testsuites name=\"loopconf\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                 "time=\"%.3f\">\n",
                 m->ntests * m->ncols, all_fail, all_err, all_time);
  if (suites.len) lch_buf_append(&sb, suites.data, suites.len);
  lch_buf_puts(&sb, "</testsuites>\n");
  fwrite(sb.data, 1, sb.len, out);
  lch_buf_free(&suites);
  lch_buf_free(&sb);
}
