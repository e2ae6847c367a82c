/* list.c: `loopconf list backends|tests|clauses` and `loopconf spec-check`. */
#include "runner.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int lcr_list_backends(void) {
  char *dir = lch_backend_dir();
  struct lch_strlist names = {0}, paths = {0};
  int rc = 2;
  if (!dir || lch_builtin_names(dir, &names) < 0) goto out;
  for (size_t i = 0; i < names.n; i++)
    lch_strlist_push(&paths, lch_xasprintf("%s/lcb_%s.so", dir, names.v[i]));
  double mult;
  if (lch_env_multiplier(&mult) < 0) goto out;
  struct lcr_backend_info *mods = lch_xcalloc(paths.n, sizeof *mods);
  if (lcr_probe_modules(paths.v, paths.n, mult, mods) == 0) {
    printf("%-12s %-24s %s\n", "NAME", "VERSION", "MODULE");
    for (size_t i = 0; i < paths.n; i++) {
      printf("%-12s %-24s %s\n", mods[i].name, mods[i].version, mods[i].path);
      lcr_backend_info_free(&mods[i]);
    }
    if (!paths.n) printf("(no lcb_*.so modules in %s)\n", dir);
    rc = 0;
  }
  free(mods);
out:
  free(dir);
  lch_strlist_free(&names);
  lch_strlist_free(&paths);
  return rc;
}

static int lcr_list_tests(void) {
  printf("%-40s %-8s %s\n", "TEST", "NEEDS", "CLAUSES");
  for (const struct lc_test_def *t = lc_test_first(); t; t = t->next)
    if (!lcr_test_hidden(t->name))
      printf("%-40s %-8s %s\n", t->name, lcr_needs_name(t->needs), *t->clauses ? t->clauses : "-");
  return 0;
}

static int lcr_list_clauses(const char *dir) {
  struct lcr_spec spec;
  if (lcr_spec_load(dir, &spec) < 0) return 2;
  printf("%-32s %s\n", "CLAUSE", "TESTS");
  size_t untested = 0;
  for (size_t i = 0; i < spec.n; i++) {
    size_t n = lcr_spec_claimants(spec.v[i].id);
    printf("%-32s %zu\n", spec.v[i].id, n);
    untested += n == 0;
  }
  printf("\nclauses with no test yet (%zu):\n", untested);
  for (size_t i = 0; i < spec.n; i++)
    if (lcr_spec_claimants(spec.v[i].id) == 0)
      printf("  %s  (%s:%d)\n", spec.v[i].id, spec.v[i].file, spec.v[i].line);
  lcr_spec_free(&spec);
  return 0;
}

static const char list_help[] =
    "usage: loopconf list backends|tests|clauses [--spec DIR]\n"
    "  backends  the built-in backends ($LOOPCONF_BACKEND_DIR or <exe dir>/backends), each loaded\n"
    "            in a child process: name, the library version it runs, module path\n"
    "  tests     every test with the capabilities it needs and the clauses it checks\n"
    "  clauses   every clause of spec/*.tsv with its number of tests, then those with none\n"
    "  --spec DIR  the spec directory for clauses (default: the installed or source spec/)\n";

static const char spec_check_help[] =
    "usage: loopconf spec-check [--spec DIR]\n"
    "Cross-checks the tests against spec/*.tsv: every clause a test names exists, every test a\n"
    "clause lists exists and claims it, and every clause has a test. Exit 0 when all hold, 1\n"
    "when a problem was found (each printed), 2 for bad usage or input.\n"
    "  --spec DIR  the spec directory (default: the installed or source spec/)\n";

/* Parse "[--spec DIR] [--help]" for list and spec-check; positional arguments go to *pos (at
 * most maxpos). Returns 0, 1 for --help (printed), or -1 (error printed). */
static int lcr_spec_arg(int argc, char **argv, const char *help, const char **dir, const char **pos,
                        int maxpos, int *npos) {
  static const struct option longopts[] = {
      {"spec", required_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *dir = lcr_spec_default_dir();
  *npos = 0;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case 's': *dir = optarg; break;
    case 'h': fputs(help, stdout); return 1;
    default: {
      char *see = lch_xasprintf("loopconf %s", argv[0]);
      lch_getopt_error(c, argv, see);
      free(see);
      return -1;
    }
    }
  }
  for (int i = optind; i < argc; i++) {
    if (*npos == maxpos) {
      lch_error("%s: unexpected argument '%s' (see loopconf %s --help)", argv[0], argv[i], argv[0]);
      return -1;
    }
    pos[(*npos)++] = argv[i];
  }
  return 0;
}

int lcr_cmd_list(int argc, char **argv) {
  const char *dir, *kind[1];
  int n;
  int p = lcr_spec_arg(argc, argv, list_help, &dir, kind, 1, &n);
  if (p != 0) return p > 0 ? 0 : 2;
  if (lcr_registry_check() < 0) return 2;
  if (n == 0) {
    lch_error("list: what? backends, tests or clauses (see loopconf list --help)");
    return 2;
  }
  if (strcmp(kind[0], "clauses") == 0) return lcr_list_clauses(dir);
  if (strcmp(kind[0], "backends") == 0) return lcr_list_backends();
  if (strcmp(kind[0], "tests") == 0) return lcr_list_tests();
  lch_error("list: unknown kind '%s' (backends, tests or clauses)", kind[0]);
  return 2;
}

int lcr_cmd_spec_check(int argc, char **argv) {
  const char *dir, *none[1];
  struct lcr_spec spec;
  int n, p = lcr_spec_arg(argc, argv, spec_check_help, &dir, none, 0, &n);
  if (p != 0) return p > 0 ? 0 : 2;
  if (lcr_registry_check() < 0) return 2;
  if (lcr_spec_load(dir, &spec) < 0) return 2;
  size_t problems = 0, ntests = 0;
  if (spec.nfiles == 0) {
    printf("%s: no *.tsv spec index file\n", dir);
    problems++;
  }
  /* Every clause a test names exists. */
  for (const struct lc_test_def *t = lc_test_first(); t; t = t->next) {
    if (lcr_test_hidden(t->name)) continue;
    ntests++;
    if (t->clauses[strspn(t->clauses, " ")] == '\0') {
      printf("test %s names no clause\n", t->name);
      problems++;
    }
    for (const char *p = t->clauses; *p;) {
      while (*p == ' ') p++;
      const char *e = p;
      while (*e && *e != ' ') e++;
      if (e > p) {
        char *id = lch_xstrndup(p, (size_t)(e - p));
        if (!lcr_spec_find(&spec, id)) {
          printf("test %s names clause %s, which no spec/*.tsv defines\n", t->name, id);
          problems++;
        }
        free(id);
      }
      p = e;
    }
  }
  /* Every test a clause lists exists and claims it; every clause has a test. */
  for (size_t i = 0; i < spec.n; i++) {
    const struct lcr_clause *c = &spec.v[i];
    for (size_t k = 0; k < c->tests.n; k++) {
      const struct lc_test_def *t = lc_test_find(c->tests.v[k]);
      if (!t || lcr_test_hidden(t->name)) {
        printf("%s:%d: clause %s lists test %s, which does not exist\n", c->file, c->line, c->id,
               c->tests.v[k]);
        problems++;
      } else if (!lcr_clauses_contain(t->clauses, c->id)) {
        printf("%s:%d: clause %s lists test %s, which does not claim it\n", c->file, c->line, c->id,
               t->name);
        problems++;
      }
    }
    if (lcr_spec_claimants(c->id) == 0) {
      printf("%s:%d: clause %s has no test\n", c->file, c->line, c->id);
      problems++;
    }
  }
  printf("spec-check: %zu clause(s) in %zu file(s), %zu test(s): %s\n", spec.n, spec.nfiles, ntests,
         problems ? "problems found" : "OK");
  lcr_spec_free(&spec);
  return problems ? 1 : 0;
}
