/* cli.c: parse the options of `loopconf run` and the time multiplier. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Do two output paths name the same file (also through "./", "..", symlinks or hard links)? */
static int same_output(const char *a, const char *b) {
  if (strcmp(a, b) == 0) return 1;
  struct stat sa, sb;
  if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
  ba = ba ? ba + 1 : a;
  bb = bb ? bb + 1 : b;
  if (strcmp(ba, bb) != 0) return 0;
  char *da = ba == a ? lch_xstrdup(".") : lch_xstrndup(a, (size_t)(ba - a));
  char *db = bb == b ? lch_xstrdup(".") : lch_xstrndup(b, (size_t)(bb - b));
  char *ra = realpath(da, NULL), *rb = realpath(db, NULL);
  int same = ra && rb && strcmp(ra, rb) == 0;
  free(da);
  free(db);
  free(ra);
  free(rb);
  return same;
}

void lcr_run_args_free(struct lcr_run_args *o) {
  lch_strlist_free(&o->backends);
  lch_strlist_free(&o->adapters);
  lch_strlist_free(&o->expects);
  lch_strlist_free(&o->patterns);
}

int lcr_run_args_parse(int argc, char **argv, struct lcr_run_args *o) {
  enum {
    OPT_BACKEND = 256,
    OPT_ADAPTER,
    OPT_EXPECT,
    OPT_TEST,
    OPT_TIER,
    OPT_MULT,
    OPT_REPEAT,
    OPT_TAP,
    OPT_JUNIT,
    OPT_JOBS,
    OPT_SPEC,
    OPT_JSON,
    OPT_CLAUSES,
    OPT_UNEXPECTED,
    OPT_COLOR
  };
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, OPT_BACKEND},
      {"adapter", required_argument, NULL, OPT_ADAPTER},
      {"expect", required_argument, NULL, OPT_EXPECT},
      {"test", required_argument, NULL, OPT_TEST},
      {"tier", required_argument, NULL, OPT_TIER},
      {"time-multiplier", required_argument, NULL, OPT_MULT},
      {"repeat", required_argument, NULL, OPT_REPEAT},
      {"tap", required_argument, NULL, OPT_TAP},
      {"junit", required_argument, NULL, OPT_JUNIT},
      {"json", required_argument, NULL, OPT_JSON},
      {"jobs", required_argument, NULL, OPT_JOBS},
      {"spec", required_argument, NULL, OPT_SPEC},
      {"clauses", no_argument, NULL, OPT_CLAUSES},
      {"unexpected", no_argument, NULL, OPT_UNEXPECTED},
      {"color", required_argument, NULL, OPT_COLOR},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  o->repeat = 1;
  o->jobs = 1;
  o->color = -1;
  if (lch_env_multiplier(&o->multiplier) < 0) return -1;
  opterr = 0; /* our own one-line messages */
  optind = 1;
  int c;
  long v;
  while ((c = getopt_long(argc, argv, "+:qh", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_BACKEND:
      if (lch_strlist_split_commas(&o->backends, optarg) > 0) {
        lch_error("run: --backend '%s' has an empty name", optarg);
        return -1;
      }
      break;
    case OPT_ADAPTER: lch_strlist_push(&o->adapters, lch_xstrdup(optarg)); break;
    case OPT_EXPECT:
      if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
        lch_error("--expect wants NAME=FILE, got '%s'", optarg);
        return -1;
      }
      lch_strlist_push(&o->expects, lch_xstrdup(optarg));
      break;
    case OPT_TEST:
      if (lch_strlist_split_commas(&o->patterns, optarg) > 0) {
        lch_error("run: --test '%s' has an empty pattern", optarg);
        return -1;
      }
      break;
    case OPT_TIER:
      if (strcmp(optarg, "loop") != 0 && strcmp(optarg, "semantics") != 0) {
        lch_error("--tier must be 'loop' or 'semantics', got '%s'", optarg);
        return -1;
      }
      lch_strlist_push(&o->patterns, lch_xasprintf("%s.*", optarg));
      break;
    case OPT_MULT:
      if (lch_parse_double(optarg, "--time-multiplier", 1.0, 1000.0, &o->multiplier) < 0) return -1;
      break;
    case OPT_REPEAT:
      if (lch_parse_long(optarg, "--repeat", 1, 100000, &v) < 0) return -1;
      o->repeat = (int)v;
      break;
    case OPT_JOBS:
      if (lch_parse_long(optarg, "--jobs", 1, 256, &v) < 0) return -1;
      o->jobs = (int)v;
      break;
    case OPT_TAP: o->tap = optarg; break;
    case OPT_JUNIT: o->junit = optarg; break;
    case OPT_JSON:
      if (lch_outfile_check(optarg, "--json") < 0) return -1;
      o->json = optarg;
      break;
    case OPT_SPEC: o->spec_dir = optarg; break;
    case OPT_CLAUSES: o->clauses = 1; break;
    case OPT_UNEXPECTED: o->unexpected_only = 1; break;
    case OPT_COLOR:
      if (strcmp(optarg, "auto") == 0) o->color = -1;
      else if (strcmp(optarg, "always") == 0) o->color = 1;
      else if (strcmp(optarg, "never") == 0) o->color = 0;
      else {
        lch_error("run: --color must be auto, always or never, got '%s'", optarg);
        return -1;
      }
      break;
    case 'q': o->quiet = 1; break;
    case 'h': o->help = 1; break;
    default: lch_getopt_error(c, argv, "loopconf"); return -1;
    }
  }
  if (optind < argc) {
    lch_error("run: unexpected argument '%s' (see loopconf --help)", argv[optind]);
    return -1;
  }
  if (o->tap && o->junit && same_output(o->tap, o->junit)) {
    lch_error("run: --tap %s and --junit %s are the same file", o->tap, o->junit);
    return -1;
  }
  return 0;
}
