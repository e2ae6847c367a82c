/* spec.c: read the spec index (the .tsv files: id, behaviour, source, tests) and cross-check it. */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LC_SPEC_HEADER "id\tbehaviour\tsource\ttests"

const char *lc_spec_default_dir(void) { return LOOPCONF_SOURCE_DIR "/spec"; }

int lc_clauses_contain(const char *clauses, const char *id) {
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

size_t lc_spec_claimants(const char *id) {
  size_t n = 0;
  for (const struct lc_test_def *t = lc_test_first(); t; t = t->next)
    if (!lc_test_hidden(t->name) && lc_clauses_contain(t->clauses, id)) n++;
  return n;
}

const struct lc_clause *lc_spec_find(const struct lc_spec *spec, const char *id) {
  for (size_t i = 0; i < spec->n; i++)
    if (strcmp(spec->v[i].id, id) == 0) return &spec->v[i];
  return NULL;
}

void lc_spec_free(struct lc_spec *spec) {
  for (size_t i = 0; i < spec->n; i++) {
    free(spec->v[i].id);
    free(spec->v[i].file);
    sl_free(&spec->v[i].tests);
  }
  free(spec->v);
  memset(spec, 0, sizeof *spec);
}

/* Parse one data row. Returns NULL or a malloc'd description of the problem. */
static char *lc_spec_row(struct lc_spec *spec, char *line, const char *file, int lineno) {
  char *fields[4];
  int nf = 0;
  for (char *p = line;; p++) {
    if (nf == 4) return xstrdup("more than 4 TAB-separated fields");
    fields[nf++] = p;
    p = strchr(p, '\t');
    if (!p) break;
    *p = '\0';
  }
  if (nf != 4) return xasprintf("%d TAB-separated fields, expected 4", nf);
  const char *id = fields[0];
  if (!*id || strpbrk(id, " ,"))
    return xasprintf("clause id '%s' is empty or contains a space or comma", id);
  const struct lc_clause *dup = lc_spec_find(spec, id);
  if (dup) return xasprintf("clause %s is already defined at %s:%d", id, dup->file, dup->line);
  spec->v = xrealloc(spec->v, (spec->n + 1) * sizeof *spec->v);
  struct lc_clause *c = &spec->v[spec->n++];
  memset(c, 0, sizeof *c);
  c->id = xstrdup(id);
  c->file = xstrdup(file);
  c->line = lineno;
  sl_split_commas(&c->tests, fields[3]);
  return NULL;
}

static int lc_spec_file(struct lc_spec *spec, const char *dir, const char *name) {
  char *path = xasprintf("%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  if (!f) {
    cli_error("cannot read spec file %s: %s", path, strerror(errno));
    free(path);
    return -1;
  }
  char *line = NULL, *problem = NULL;
  size_t cap = 0;
  ssize_t len;
  int lineno = 0;
  while (!problem && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (!lc_utf8_valid(line, (size_t)len)) {
      problem = xstrdup("not valid UTF-8 text");
      break;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (lineno == 1) {
      if (strcmp(line, LC_SPEC_HEADER) != 0)
        problem = xstrdup("the first line must be the header "
                          "id<TAB>behaviour<TAB>source<TAB>tests");
      continue;
    }
    if (line[0] == '#' || line[strspn(line, " \t")] == '\0') continue;
    problem = lc_spec_row(spec, line, name, lineno);
  }
  if (!problem && lineno == 0) problem = xstrdup("empty file (the header line is missing)");
  if (!problem && ferror(f)) problem = xasprintf("read error: %s", strerror(errno));
  free(line);
  fclose(f);
  if (problem) cli_error("spec file %s:%d: %s", path, lineno, problem);
  free(problem);
  free(path);
  return problem ? -1 : 0;
}

static int lc_cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int lc_spec_load(const char *dir, struct lc_spec *spec) {
  memset(spec, 0, sizeof *spec);
  DIR *d = opendir(dir);
  if (!d) {
    cli_error("cannot read the spec directory %s: %s", dir, strerror(errno));
    return -1;
  }
  struct strlist names = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n > 4 && e->d_name[0] != '.' && strcmp(e->d_name + n - 4, ".tsv") == 0)
      sl_push(&names, xstrdup(e->d_name));
  }
  closedir(d);
  if (names.n) qsort(names.v, names.n, sizeof *names.v, lc_cmp_name);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < names.n; i++) rc = lc_spec_file(spec, dir, names.v[i]);
  spec->nfiles = names.n;
  sl_free(&names);
  if (rc < 0) lc_spec_free(spec);
  return rc;
}
