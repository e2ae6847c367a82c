/* cli.c: parse the options of `loopconf run` and the time multiplier. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int lcr_parse_multiplier(const char *s, const char *what, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v < 1.0 || v > 1000.0) {
    lch_error("%s '%s' is not a number from 1 to 1000", what, s);
    return -1;
  }
  *out = v;
  return 0;
}

int lcr_env_multiplier(double *out) {
  const char *env = getenv("LOOPCONF_TIME_MULTIPLIER");
  *out = 1.0;
  if (!env || !*env) return 0;
  return lcr_parse_multiplier(env, "LOOPCONF_TIME_MULTIPLIER", out);
}

/* A whole number in [lo, hi]. */
static int lcr_parse_int(const char *s, const char *what, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    lch_error("%s '%s' is not a whole number from %ld to %ld", what, s, lo, hi);
    return -1;
  }
  *out = (int)v;
  return 0;
}

void lcr_run_args_free(struct lcr_run_args *o) {
  lch_strlist_free(&o->backends);
  lch_strlist_free(&o->adapters);
  lch_strlist_free(&o->expects);
  lch_strlist_free(&o->patterns);
}

int lcr_run_args_parse(int argc, char **argv, struct lcr_run_args *o) {
  enum { OPT_BACKEND = 256, OPT_ADAPTER, OPT_EXPECT, OPT_TEST, OPT_TIER, OPT_MULT, OPT_REPEAT,
         OPT_TAP, OPT_JUNIT, OPT_JOBS, OPT_SPEC };
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
      {"jobs", required_argument, NULL, OPT_JOBS},
      {"spec", required_argument, NULL, OPT_SPEC},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  o->repeat = 1;
  o->jobs = 1;
  if (lcr_env_multiplier(&o->multiplier) < 0) return -1;
  opterr = 0; /* our own one-line messages */
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "+:qh", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_BACKEND: lch_strlist_split_commas(&o->backends, optarg); break;
    case OPT_ADAPTER: lch_strlist_push(&o->adapters, lch_xstrdup(optarg)); break;
    case OPT_EXPECT:
      if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
        lch_error("--expect wants NAME=FILE, got '%s'", optarg);
        return -1;
      }
      lch_strlist_push(&o->expects, lch_xstrdup(optarg));
      break;
    case OPT_TEST: lch_strlist_split_commas(&o->patterns, optarg); break;
    case OPT_TIER:
      if (strcmp(optarg, "loop") != 0 && strcmp(optarg, "semantics") != 0) {
        lch_error("--tier must be 'loop' or 'semantics', got '%s'", optarg);
        return -1;
      }
      lch_strlist_push(&o->patterns, lch_xasprintf("%s.*", optarg));
      break;
    case OPT_MULT:
      if (lcr_parse_multiplier(optarg, "--time-multiplier", &o->multiplier) < 0) return -1;
      break;
    case OPT_REPEAT:
      if (lcr_parse_int(optarg, "--repeat", 1, 100000, &o->repeat) < 0) return -1;
      break;
    case OPT_JOBS:
      if (lcr_parse_int(optarg, "--jobs", 1, 256, &o->jobs) < 0) return -1;
      break;
    case OPT_TAP: o->tap = optarg; break;
    case OPT_JUNIT: o->junit = optarg; break;
    case OPT_SPEC: o->spec_dir = optarg; break;
    case 'q': o->quiet = 1; break;
    case 'h': o->help = 1; break;
    case ':':
      lch_error("run: option '%s' needs a value", argv[optind - 1]);
      return -1;
    default:
      if (optopt)
        lch_error("run: unknown option '-%c' (see loopconf --help)", optopt);
      else
        lch_error("run: unknown option '%s' (see loopconf --help)", argv[optind - 1]);
      return -1;
    }
  }
  if (optind < argc) {
    lch_error("run: unexpected argument '%s' (see loopconf --help)", argv[optind]);
    return -1;
  }
  return 0;
}
