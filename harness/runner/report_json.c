/* report_json.c: `loopconf run --json FILE`, the machine-readable results of one run (schema
 * loopconf-run/1): the machine context, the backends as they were really loaded, and per cell
 * the verdict, what was expected and why, the duration, the characteristics and their pins.
 * `loopconf report` reads these files (harness/report). */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

/* "A B C" -> ["A", "B", "C"] */
static json_t *lcr_json_words(const char *s) {
  json_t *a = json_array();
  while (s && *s) {
    size_t skip = strspn(s, " \t");
    s += skip;
    size_t n = strcspn(s, " \t");
    if (n) json_array_append_new(a, json_stringn(s, n));
    s += n;
  }
  return a;
}

/* Report text is untrusted (a test's message): keep it valid UTF-8 for the JSON writer. */
static json_t *lcr_json_text(const char *s) {
  if (!s) return json_null();
  json_t *j = json_string(s);
  if (j) return j;
  char *copy = lch_xstrdup(s);
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p >= 0x80) *p = '?';
  j = json_string(copy);
  free(copy);
  return j ? j : json_string("?");
}

static json_t *lcr_json_cell(const struct lcr_matrix *m, size_t t, size_t c) {
  const struct lcr_cell *cell = lcr_matrix_cell(m, t, c);
  const struct lcr_column *col = &m->cols[c];
  const char *test = m->tests[t]->name;
  json_t *j = json_object();
  json_object_set_new(j, "backend", json_string(col->mod.name));
  json_object_set_new(j, "backend_version",
                      lcr_json_text(cell->shown.version ? cell->shown.version : col->mod.version));
  json_object_set_new(j, "test", json_string(test));
  json_object_set_new(j, "clauses", lcr_json_words(m->tests[t]->clauses));
  json_object_set_new(j, "verdict", json_string(lcr_verdict_name(cell->verdict)));
  json_object_set_new(j, "unexpected", json_boolean(!lcr_verdict_expected(cell->verdict)));
  const struct lcr_expect *e = lcr_expect_find(&col->expect, test);
  if (e) {
    json_t *x = json_object();
    json_object_set_new(x, "verdict", json_string(lcr_verdict_name(e->verdict)));
    json_object_set_new(x, "reason", lcr_json_text(e->reason));
    json_object_set_new(j, "expected", x);
  } else {
    json_object_set_new(j, "expected", json_null());
  }
  json_object_set_new(j, "reason", lcr_json_text(cell->reason));
  json_object_set_new(j, "duration_s", json_real(cell->shown.seconds));
  json_object_set_new(j, "runs", json_integer(cell->runs));
  json_t *counts = json_object();
  for (int v = 0; v < LCR_VERDICT_COUNT; v++)
    if (cell->counts[v])
      json_object_set_new(counts, lcr_verdict_name((enum lcr_verdict)v),
                          json_integer(cell->counts[v]));
  json_object_set_new(j, "counts", counts);
  json_t *chars = json_object();
  for (size_t i = 0; i < cell->shown.nchars; i++) {
    const struct lcr_kv *kv = &cell->shown.chars[i];
    const char *old = lch_json_str(chars, kv->key);
    if (old && strcmp(old, kv->value) == 0) continue;
    char *v = old ? lch_xasprintf("%s; %s", old, kv->value) : lch_xstrdup(kv->value);
    json_object_set_new(chars, kv->key, lcr_json_text(v));
    free(v);
  }
  json_object_set_new(j, "characteristics", chars);
  json_t *pins = json_object();
  for (size_t i = 0; i < col->expect.npins; i++)
    if (strcmp(col->expect.pins[i].test, test) == 0)
      json_object_set_new(pins, col->expect.pins[i].key, lcr_json_text(col->expect.pins[i].value));
  json_object_set_new(j, "pins", pins);
  return j;
}

int lcr_report_json(const char *path, const struct lcr_matrix *m) {
  json_t *doc = json_object();
  json_object_set_new(doc, "schema", json_string(LCR_JSON_SCHEMA));
  json_t *ctx = lch_context_json();
  json_object_set_new(ctx, "time_multiplier", json_real(m->multiplier));
  json_object_set_new(ctx, "repeat", json_integer(m->repeat));
  json_object_set_new(doc, "context", ctx);
  json_t *backends = json_array();
  for (size_t c = 0; c < m->ncols; c++) {
    json_t *b = json_object();
    json_object_set_new(b, "name", json_string(m->cols[c].mod.name));
    json_object_set_new(b, "version", lcr_json_text(m->cols[c].mod.version));
    json_object_set_new(
        b, "expectations",
        m->cols[c].expect.path ? lcr_json_text(m->cols[c].expect.path) : json_null());
    json_array_append_new(backends, b);
  }
  json_object_set_new(doc, "backends", backends);
  json_t *clauses = json_array();
  for (size_t i = 0; m->spec && i < m->spec->n; i++) {
    json_t *cl = json_object();
    json_object_set_new(cl, "id", json_string(m->spec->v[i].id));
    json_object_set_new(cl, "file", json_string(m->spec->v[i].file));
    json_object_set_new(cl, "tests",
                        json_integer((json_int_t)lcr_spec_claimants(m->spec->v[i].id)));
    json_array_append_new(clauses, cl);
  }
  json_object_set_new(doc, "spec_clauses", clauses);
  json_t *cells = json_array();
  for (size_t t = 0; t < m->ntests; t++)
    for (size_t c = 0; c < m->ncols; c++) json_array_append_new(cells, lcr_json_cell(m, t, c));
  json_object_set_new(doc, "cells", cells);
  int rc = lch_json_write(path, doc);
  json_decref(doc);
  return rc;
}
