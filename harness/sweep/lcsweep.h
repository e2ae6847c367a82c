/* lcsweep.h: `loopconf sweep`, the concurrency sweep (issue 11): workloads x models x N, each
 * cell a fresh child process; results as JSON + CSV; charts with gnuplot; the claims table.
 * Internal to harness/sweep (prefix lcsweep_). */
#ifndef LCSWEEP_H
#define LCSWEEP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define LCSWEEP_SCHEMA "loopconf-sweep/1"

/* The workloads, in chart order. */
enum lcsweep_workload {
  LCSW_SLEEP,
  LCSW_IO,
  LCSW_CPU,
  LCSW_SWITCH,
  LCSW_SPAWN,
  LCSW_BLOCK,
  LCSW_NWORKLOADS
};
extern const char *const lcsweep_workload_names[LCSW_NWORKLOADS];
int lcsweep_workload_parse(const char *s); /* index, or -1 */

/* Fixed parameters of the work, the same in every model (and in lcsweep.py). */
#define LCSWEEP_SLEEP_NS (50 * 1000000LL)     /* sleep: each unit waits 50 ms */
#define LCSWEEP_IO_ROUNDS 4                   /* io: round trips per unit */
#define LCSWEEP_IO_BYTES 64                   /* io: bytes per message */
#define LCSWEEP_CPU_TOTAL 4000000LL           /* cpu: mixing steps shared by all units */
#define LCSWEEP_SWITCH_ROUNDS 20000           /* switch: round trips between the two units */
#define LCSWEEP_BLOCK_NS (200 * 1000000LL)    /* block: the blocking call */
#define LCSWEEP_TICK_NS (10 * 1000000LL)      /* block: the others' tick */
#define LCSWEEP_TICKS 40                      /* block: ticks per ticker (400 ms) */
#define LCSWEEP_BLOCK_AT_NS (100 * 1000000LL) /* block: when the blocker blocks */
#define LCSWEEP_SMALL_STACK (64 * 1024)       /* thread-small: the runtime's default task stack */

/* The cell child: `loopconf sweep __cell --workload W --model M --n N [--backend PATH]`; writes
 * one JSON object on fd 3. */
int lcsweep_cell_main(int argc, char **argv);
/* The mixing loop of the cpu workload (also run by executors in worker processes). */
uint64_t lcsweep_spin(uint64_t steps, uint64_t seed);

/* `loopconf sweep plot RESULTS --out DIR` and the claims table. */
int lcsweep_plot_main(int argc, char **argv);
/* Load and check a results file: NULL with one error line if malformed or foreign. */
json_t *lcsweep_results_load(const char *path);
/* Write charts and claims.md for doc into dir. Returns 0, or 2 with an error line. */
int lcsweep_report(const json_t *doc, const char *dir, int quiet);

int lcsweep_main(int argc, char **argv);

#endif /* LCSWEEP_H */
