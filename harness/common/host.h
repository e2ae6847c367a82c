/* host.h: the host library every loopconf command is built on (harness/common).
 *
 * What each command needs and must do the same way: memory and strings that never fail,
 * the one-line error convention, the executable's directory and the data found relative to
 * it, loading and validating a backend module, finding the built-in backends, children run
 * under a time limit with their output captured, atomic output files and JSON results files.
 * Prefix: lch_ ("loopconf host"). Not a public API: commands in this tree use it; backends and
 * the runtime never do (they see only include/loopconf/). */
#ifndef LCH_HOST_H
#define LCH_HOST_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "loopconf/backend.h"

/* ---- util.c: program name, errors, memory, strings --------------------------------------- */

/* The name error lines start with ("loopconf" unless set). Static storage. */
void lch_set_program(const char *name);
const char *lch_program(void);

/* Print "<program>: error: <message>" as one line on stderr (newlines become spaces). */
void lch_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* After getopt_long() returned ':' (a missing value; the option string must start with ':')
 * or '?' (an unknown option), with opterr set to 0: print the one error line naming the
 * option, "unknown option '--x' (see <help> --help)", "option '--x' needs a value" or
 * "option '--x' takes no value" (for "--x=1"), a short option by its letter alone; help
 * NULL means the program's name. Returns 2, the exit status of bad usage. */
int lch_getopt_error(int c, char *const argv[], const char *help);

/* Allocation that never returns NULL: out of memory prints one error line and exits 2. */
void *lch_xmalloc(size_t n);
void *lch_xcalloc(size_t n, size_t size);
void *lch_xrealloc(void *p, size_t n);
char *lch_xstrdup(const char *s);
char *lch_xstrndup(const char *s, size_t n);
char *lch_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *lch_xvasprintf(const char *fmt, va_list ap);

/* A growable byte buffer, always NUL-terminated when data != NULL. */
struct lch_buf {
  char *data;
  size_t len, cap;
};
void lch_buf_append(struct lch_buf *sb, const void *data, size_t n);
void lch_buf_puts(struct lch_buf *sb, const char *s);
void lch_buf_printf(struct lch_buf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lch_buf_free(struct lch_buf *sb);
/* Drop the first n bytes. */
void lch_buf_consume(struct lch_buf *sb, size_t n);

/* A list of owned strings. */
struct lch_strlist {
  char **v;
  size_t n;
};
void lch_strlist_push(struct lch_strlist *l, char *owned);
/* Split s on commas, trim blanks, push the parts. Returns the number of empty parts seen
 * (",", " ", "a,,b"), so a caller can refuse them. */
size_t lch_strlist_split_commas(struct lch_strlist *l, const char *s);
int lch_strlist_contains(const struct lch_strlist *l, const char *s);
void lch_strlist_free(struct lch_strlist *l);

/* Parse a whole number in [lo, hi] / a finite number in [lo, hi]. Returns 0, or -1 with one
 * error line "<what> '<s>' is not ..." printed. */
int lch_parse_long(const char *s, const char *what, long lo, long hi, long *out);
int lch_parse_double(const char *s, const char *what, double lo, double hi, double *out);

/* The slow-machine multiplier: LOOPCONF_TIME_MULTIPLIER (a number from 1 to 1000), 1 if unset.
 * Returns 0, or -1 with an error line. */
int lch_env_multiplier(double *out);

/* For tests of running out of file descriptors and of CPU spent (util.c). */
struct rlimit;
/* Lower RLIMIT_NOFILE's soft limit to the lowest free descriptor, so the next socket, open or
 * accept fails with EMFILE; *saved gets the old limits, for setrlimit after. 0 once an open
 * has failed with EMFILE, else -errno (-EBUSY: it still succeeded) with the limits restored. */
int lch_fds_exhaust(struct rlimit *saved);
/* CPU time this process has used, in ns (CLOCK_PROCESS_CPUTIME_ID). */
long long lch_process_cpu_ns(void);

/* ---- textclean.c: untrusted text ----------------------------------------------------------
 * Copy text for a report or a terminal: valid UTF-8 is kept, other bytes become '?', control
 * characters other than TAB and LF become '?'; safe for XML 1.0, YAML block scalars and
 * terminals. */
int lch_utf8_valid(const char *s, size_t n); /* 1 if valid UTF-8 without NUL bytes */
char *lch_text_clean(const char *s, size_t n);
/* Append s XML-escaped (&, <, >, ", ') after cleaning. */
void lch_xml_escape(struct lch_buf *out, const char *s);

/* ---- paths.c: where things are -------------------------------------------------------------- */

/* Path and directory of the running executable (from /proc/self/exe), malloc'd; NULL with
 * an error line printed if it cannot be read. */
char *lch_exe_path(void);
char *lch_exe_dir(void);

/* A data directory of loopconf ("spec", "oracle", ...), malloc'd: $LOOPCONF_DATA_DIR/<what> if
 * set; else <exe dir>/../share/loopconf/<what> (an installed tree) if it exists; else the
 * source tree the build came from (LOOPCONF_SOURCE_DIR/<what>). Never NULL. */
char *lch_data_dir(const char *what);

/* ---- backend.c: backends ---------------------------------------------------------------- */

/* dlopen path (RTLD_NOW | RTLD_LOCAL) and validate the backend it exports with
 * lc_backend_validate (loopconf/backend_check.h). Returns the backend (the module stays loaded
 * for the life of the process), or NULL with *err set to a malloc'd one-line message. */
const struct lc_backend *lch_backend_load(const char *path, char **err);

/* The built-in backend directory, the first of: $LOOPCONF_BACKEND_DIR; <exe dir>/backends (the
 * build root); <exe dir>/../lib/loopconf/backends (an installed tree); the build tree's
 * backends directory (for test programs elsewhere in the build). malloc'd, NULL with an error
 * line if the executable's path cannot be read. */
char *lch_backend_dir(void);

/* The built-in backends in dir (the lcb_<name>.so files): first those of this build's list
 * (LOOPCONF_BUILTIN_BACKENDS, in that order), then any others sorted. Returns 0, or -1 with an
 * error line. */
int lch_builtin_names(const char *dir, struct lch_strlist *names);

/* Resolve one --backend argument: a name (lcb_<name>.so in dir) or a path to a module (it
 * contains a '/' or ends in ".so"). Returns a malloc'd path, or NULL with an error line naming
 * the argument and what was looked for. */
char *lch_backend_resolve(const char *dir, const char *name_or_path);

/* The usual whole job: resolve name_or_path in lch_backend_dir() and load it. Returns the
 * backend, or NULL with one error line printed. */
const struct lc_backend *lch_backend_open(const char *name_or_path);

/* ---- exec.c: children under a time limit ------------------------------------------------- */

#define LCH_LOG_CAP (64 * 1024)      /* bytes of log kept per child (the tail) */
#define LCH_RESULT_CAP (1024 * 1024) /* bytes of result channel kept per child (the head) */
#define LCH_RESULT_FD 3              /* the child's end of the result channel */

struct lch_proc_result {
  int timed_out;         /* killed because the time limit passed */
  int exit_code;         /* valid when signo == 0 and !timed_out */
  int signo;             /* the signal that ended it, or 0 */
  int leftovers_killed;  /* processes it started that outlived it and were killed */
  struct lch_buf log;    /* stdout+stderr (stderr only with LCH_JOB_STDOUT_RESULT), the tail */
  size_t log_dropped;    /* bytes dropped from the front of the log */
  struct lch_buf result; /* the result channel (fd 3, or stdout with LCH_JOB_STDOUT_RESULT) */
  double seconds;        /* wall time */
  int spawn_errno;       /* non-zero if the child could not be started */
};

enum lch_job_flags {
  LCH_JOB_STDOUT_RESULT = 1u << 0, /* stdout is the result channel; no fd 3 */
  LCH_JOB_INHERIT_OUTPUT = 1u << 1 /* stdout and stderr are ours (a terminal's progress) */
};

struct lch_job {
  char **argv;            /* NULL-terminated; argv[0] is a display name when path is NULL */
  const char *path;       /* program to run (searched on PATH); NULL: this executable */
  long timeout_ms;        /* already multiplied; <= 0: no limit */
  unsigned flags;         /* enum lch_job_flags */
  const char *const *env; /* NAME=VALUE entries added to the child's environment, or NULL */
};

/* Called when job i starts and when it has finished (res is owned by the callee until the
 * callback returns; it is freed afterwards). */
typedef void (*lch_job_start_fn)(size_t i, void *ud);
typedef void (*lch_job_done_fn)(size_t i, struct lch_proc_result *res, void *ud);

/* Run n jobs, at most `parallel` at once, each a fork + exec in its own process group, with
 * stdin from /dev/null, stdout+stderr to the log and the result channel on fd 3 (see the
 * flags). A child still running at its time limit is killed with its whole process group, and
 * so is anything it left behind when it exits. SIGINT, SIGTERM, SIGHUP and SIGQUIT while jobs
 * run kill every child and make this return -EINTR; lch_interrupted() then says which signal.
 * Returns 0, or -errno if the host itself failed (pipes, poll). */
int lch_exec_jobs(const struct lch_job *jobs, size_t n, unsigned parallel,
                  lch_job_start_fn on_start, lch_job_done_fn on_done, void *ud);
/* The one-job case: run it and fill *res (free with lch_proc_result_free). Returns as above. */
int lch_exec_one(const struct lch_job *job, struct lch_proc_result *res);
void lch_proc_result_free(struct lch_proc_result *res);
/* The signal that interrupted the last lch_exec_jobs, or 0. */
int lch_interrupted(void);

/* ---- outfile.c: atomic output files ------------------------------------------------------ */

struct lch_outfile {
  char *path, *tmp;
  FILE *f;
};
/* Open PATH.tmp.<pid> for writing. Returns 0, or -1 with an error line. */
int lch_outfile_open(struct lch_outfile *o, const char *path);
/* Flush, fsync and rename over PATH. Returns 0, or -1 with an error line (tmp removed). */
int lch_outfile_commit(struct lch_outfile *o);
/* Remove the temporary file if still open (error paths). */
void lch_outfile_abort(struct lch_outfile *o);
/* Check up front that PATH can be written later (its directory exists and is writable, PATH
 * is not a directory). Returns 0, or -1 with an error line naming `what` (e.g. "--out"). */
int lch_outfile_check(const char *path, const char *what);

/* ---- json.c: results files (jansson) ----------------------------------------------------- */

/* Read a JSON document from path. Returns it, or NULL with one error line
 * "<path>: <reason> (line L)" printed. */
json_t *lch_json_load(const char *path);
/* Write doc to path atomically (indented, keys in insertion order). Returns 0, or -1 with an
 * error line. */
int lch_json_write(const char *path, const json_t *doc);
/* A string member of an object, or NULL. */
const char *lch_json_str(const json_t *obj, const char *key);
/* A number member (integer or real) of an object, or dflt. */
double lch_json_num(const json_t *obj, const char *key, double dflt);

/* ---- context.c: the machine a results file came from ---------------------------------------
 * Every results file (run --json, bench, http) carries the same context keys. */

typedef void (*lch_context_fn)(const char *key, const char *value, void *ud);
/* Call add for cpu_model, kernel, compiler, build_type, git_commit and time_multiplier
 * (LOOPCONF_TIME_MULTIPLIER, "1" if unset), each as a string. */
void lch_host_context(lch_context_fn add, void *ud);
/* Those keys as a JSON object (time_multiplier a number), plus num_cpus, date (UTC, ISO
 * 8601: when the results were taken) and load_avg (1, 5 and 15 minutes, at that time). */
json_t *lch_context_json(void);

/* Time the hypervisor has taken from all of this machine's CPUs since boot (steal, the 8th
 * field of /proc/stat's "cpu" line), in ms; -1 when not reported. On a VM this is the one
 * interference no priority inside it can stop; the difference over a run is what it cost. */
double lch_host_steal_ms(void);

#endif /* LCH_HOST_H */
