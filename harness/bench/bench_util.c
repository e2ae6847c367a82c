/* bench_util.c: clock, sleep and RSS helpers shared by the benchmark sets. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "bench_suite.h"

void bench_sleep_until(int64_t deadline_ns) {
  struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

int64_t bench_rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long long size, resident;
  int n = fscanf(f, "%lld %lld", &size, &resident);
  fclose(f);
  if (n != 2) return -1;
  return (int64_t)resident * (int64_t)sysconf(_SC_PAGESIZE);
}
