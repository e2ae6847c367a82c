/* spec.c: read the spec index (the .tsv files: id, behaviour, source, tests) and cross-check it. */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LCR_SPEC_HEADER "id\tbehaviour\tsource\ttests"

const char *lcr_spec_default_dir(void) {
  static char *dir;
  if (!dir) dir = lch_data_dir("spec");
  return dir;
}

int lcr_clauses_contain(const char *clauses, const char *id) {
  size_t n = strlen(id);
  for (const char *p = clauses; *p;) {
    while (*p == ' ') p++;
    const char *e = p;
    while (*e && *e != ' ') e++;
    if ((size_t)(e - p) == n && strncmp(p, id, n) == 0) return 1;
    p = e;
  }
  return 0;
}

size_t lcr_spec_claimants(const char *id) {
  size_t n = 0;
  for (const struct lc_test_def *t = lc_test_first(); t; t = t->next)
    if (!lcr_test_hidden(t->name) && lcr_clauses_contain(t->clauses, id)) n++;
  return n;
}

const struct lcr_clause *lcr_spec_find(const struct lcr_spec *spec, const char *id) {
  for (size_t i = 0; i < spec->n; i++)
    if (strcmp(spec->v[i].id, id) == 0) return &spec->v[i];
  return NULL;
}

void lcr_spec_free(struct lcr_spec *spec) {
  for (size_t i = 0; i < spec->n; i++) {
    free(spec->v[i].id);
    free(spec->v[i].file);
    lch_strlist_free(&spec->v[i].tests);
  }
  free(spec->v);
  memset(spec, 0, sizeof *spec);
}

/* Parse one data row. Returns NULL or a malloc'd description of the problem. */
static char *lcr_spec_row(struct lcr_spec *spec, char *line, const char *file, int lineno) {
  char *fields[4];
  int nf = 0;
  for (char *p = line;; p++) {
    if (nf == 4) return lch_xstrdup("more than 4 TAB-separated fields");
    fields[nf++] = p;
    p = strchr(p, '\t');
    if (!p) break;
    *p = '\0';
  }
  if (nf != 4) return lch_xasprintf("%d TAB-separated fields, expected 4", nf);
  const char *id = fields[0];
  if (!*id || strpbrk(id, " ,"))
    return lch_xasprintf("clause id '%s' is empty or contains a space or comma", id);
  const struct lcr_clause *dup = lcr_spec_find(spec, id);
  if (dup) return lch_xasprintf("clause %s is already defined at %s:%d", id, dup->file, dup->line);
  spec->v = lch_xrealloc(spec->v, (spec->n + 1) * sizeof *spec->v);
  struct lcr_clause *c = &spec->v[spec->n++];
  memset(c, 0, sizeof *c);
  c->id = lch_xstrdup(id);
  c->file = lch_xstrdup(file);
  c->line = lineno;
  lch_strlist_split_commas(&c->tests, fields[3]);
  return NULL;
}

static int lcr_spec_file(struct lcr_spec *spec, const char *dir, const char *name) {
  char *path = lch_xasprintf("%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  if (!f) {
    lch_error("cannot read spec file %s: %s", path, strerror(errno));
    free(path);
    return -1;
  }
  char *line = NULL, *problem = NULL;
  size_t cap = 0;
  ssize_t len;
  int lineno = 0;
  while (!problem && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (!lch_utf8_valid(line, (size_t)len)) {
      problem = lch_xstrdup("not valid UTF-8 text");
      break;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (lineno == 1) {
      if (strcmp(line, LCR_SPEC_HEADER) != 0)
        problem = lch_xstrdup(
            "the first line must be the header "
            "id<TAB>behaviour<TAB>source<TAB>tests");
      continue;
    }
    if (line[0] == '#' || line[strspn(line, " \t")] == '\0') continue;
    problem = lcr_spec_row(spec, line, name, lineno);
  }
  if (!problem && lineno == 0) problem = lch_xstrdup("empty file (the header line is missing)");
  if (!problem && ferror(f)) problem = lch_xasprintf("read error: %s", strerror(errno));
  free(line);
  fclose(f);
  if (problem) lch_error("spec file %s:%d: %s", path, lineno, problem);
  free(problem);
  free(path);
  return problem ? -1 : 0;
}

static int lcr_cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int lcr_spec_load(const char *dir, struct lcr_spec *spec) {
  memset(spec, 0, sizeof *spec);
  DIR *d = opendir(dir);
  if (!d) {
    lch_error("cannot read the spec directory %s: %s", dir, strerror(errno));
    return -1;
  }
  struct lch_strlist names = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n > 4 && e->d_name[0] != '.' && strcmp(e->d_name + n - 4, ".tsv") == 0)
      lch_strlist_push(&names, lch_xstrdup(e->d_name));
  }
  closedir(d);
  if (names.n) qsort(names.v, names.n, sizeof *names.v, lcr_cmp_name);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < names.n; i++) rc = lcr_spec_file(spec, dir, names.v[i]);
  spec->nfiles = names.n;
  lch_strlist_free(&names);
  if (rc < 0) lcr_spec_free(spec);
  return rc;
}
