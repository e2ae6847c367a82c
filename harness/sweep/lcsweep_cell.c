/* lcsweep_cell.c: one cell of the sweep in a fresh process: a workload run by N units of one
 * model, measured from inside (monotonic clock, getrusage, /proc/meminfo, a memory cgroup).
 *
 * One body per workload (the unit_* functions), written against a small table of operations
 * (struct ops) that each model fills in: tasks on the runtime, threads, processes, the
 * runtime's executors. CPython models run lcsweep.py under this cell, which provides the io
 * peer and the cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "loopconf/runtime.h"
#include "lcsweep.h"
#include "loopconf/clock.h"

const char *const lcsweep_workload_names[LCSW_NWORKLOADS] = {"sleep",  "io",    "cpu",
                                                             "switch", "spawn", "block"};

int lcsweep_workload_parse(const char *s) {
  for (int i = 0; i < LCSW_NWORKLOADS; i++)
    if (strcmp(s, lcsweep_workload_names[i]) == 0) return i;
  return -1;
}

uint64_t lcsweep_spin(uint64_t steps, uint64_t seed) {
  uint64_t x = seed | 1;
  for (uint64_t i = 0; i < steps; i++) { /* xorshift64*: cannot be folded away */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x *= 0x2545F4914F6CDD1DULL;
  }
  return x;
}

/* ---- the cell's state ------------------------------------------------------------------------ */

enum model_kind {
  M_TASK,
  M_TASK_COPY,
  M_THREAD,
  M_THREAD_SMALL,
  M_PROCESS,
  M_THREAD_EXEC,
  M_PROCESS_EXEC
};

static struct {
  int workload;
  enum model_kind kind;
  long n;
  const struct lc_backend *backend;
  char peer_name[108]; /* unix socket path of the io peer ("" if none) */
  socklen_t peer_len;
  struct sockaddr_un peer_addr;
  /* measurement */
  int64_t t_start, t_created, t_end;
  int64_t lag_max_ns;
  long created;           /* units created when something failed */
  const char *stack_mode; /* task models: the runtime's stack mode as lc_run applied it */
  int err;                /* first failure (negative errno) */
  char errmsg[256];
  int mem_sampled;
  long long mem_avail_kb, kstack_kb, pagetables_kb; /* at the sample */
} C;

static void fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(int err, const char *fmt, ...) {
  if (C.err) return;
  C.err = err < 0 ? err : -EIO;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(C.errmsg, sizeof C.errmsg, fmt, ap);
  va_end(ap);
}

/* /proc/meminfo: MemAvailable, KernelStack, PageTables in KiB. */
static void meminfo(long long *avail, long long *kstack, long long *pt) {
  *avail = *kstack = *pt = -1;
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    long long v;
    if (sscanf(line, "MemAvailable: %lld", &v) == 1) *avail = v;
    else if (sscanf(line, "KernelStack: %lld", &v) == 1) *kstack = v;
    else if (sscanf(line, "PageTables: %lld", &v) == 1) *pt = v;
  }
  fclose(f);
}

/* Called by each model once every unit exists (and, for spawn, runs): the memory sample. */
static void sample_created(void) {
  C.t_created = lc_clock_ns();
  meminfo(&C.mem_avail_kb, &C.kstack_kb, &C.pagetables_kb);
  C.mem_sampled = 1;
}

/* ---- a memory cgroup of our own (cgroup v1 or v2), when we may create one --------------------- */

static char cg_dir[560], cg_parent[512];
static int cg_v2;

static int write_file(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t w = write(fd, s, strlen(s));
  int e = w < 0 ? -errno : 0;
  close(fd);
  return e;
}

static long long read_ll(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long long v = -1;
  if (fscanf(f, "%lld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

static void cgroup_join(void) {
  FILE *f = fopen("/proc/self/cgroup", "r");
  if (!f) return;
  char line[512], v1[400] = "", v2[400] = "";
  int have1 = 0, have2 = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!b) continue;
    *b = '\0';
    const char *ctl = a + 1;
    if (strcmp(ctl, "memory") == 0) {
      snprintf(v1, sizeof v1, "%s", b + 1);
      have1 = 1;
    } else if (ctl[0] == '\0') {
      snprintf(v2, sizeof v2, "%s", b + 1);
      have2 = 1;
    }
  }
  fclose(f);
  if (have1 && access("/sys/fs/cgroup/memory", W_OK) == 0) {
    snprintf(cg_parent, sizeof cg_parent, "/sys/fs/cgroup/memory%s", v1);
    cg_v2 = 0;
  } else if (have2 && access("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0) {
    snprintf(cg_parent, sizeof cg_parent, "/sys/fs/cgroup%s", v2);
    cg_v2 = 1;
  } else {
    return;
  }
  size_t len = strlen(cg_parent);
  if (len && cg_parent[len - 1] == '/') cg_parent[len - 1] = '\0';
  snprintf(cg_dir, sizeof cg_dir, "%s/loopconf-sweep-%d", cg_parent, (int)getpid());
  if (mkdir(cg_dir, 0755) != 0) {
    cg_dir[0] = '\0';
    return;
  }
  char p[640], pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  snprintf(p, sizeof p, "%s/cgroup.procs", cg_dir);
  if (write_file(p, pid) != 0) {
    rmdir(cg_dir);
    cg_dir[0] = '\0';
  }
}

/* Reset the peak; return the current usage in bytes (-1 without a cgroup). */
static long long cgroup_reset(void) {
  if (!cg_dir[0]) return -1;
  char p[640];
  snprintf(p, sizeof p, "%s/%s", cg_dir, cg_v2 ? "memory.peak" : "memory.max_usage_in_bytes");
  if (write_file(p, cg_v2 ? "reset" : "0") != 0 && cg_v2) return -1; /* old v2: no reset */
  snprintf(p, sizeof p, "%s/%s", cg_dir, cg_v2 ? "memory.current" : "memory.usage_in_bytes");
  return read_ll(p);
}

static long long cgroup_peak(void) {
  if (!cg_dir[0]) return -1;
  char p[640];
  snprintf(p, sizeof p, "%s/%s", cg_dir, cg_v2 ? "memory.peak" : "memory.max_usage_in_bytes");
  return read_ll(p);
}

static void cgroup_leave(void) {
  if (!cg_dir[0]) return;
  char p[640], pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  snprintf(p, sizeof p, "%s/cgroup.procs", cg_parent);
  write_file(p, pid);
  rmdir(cg_dir); /* fails harmlessly while a leftover child is still in it */
}

/* ---- the io peer: an echo server in a child process (not part of what is measured) ----------- */

static pid_t peer_pid = -1;

static void peer_loop(int lfd) {
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event evs[256];
  char buf[4096];
  for (;;) {
    int k = epoll_wait(ep, evs, 256, -1);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) _exit(1);
    for (int i = 0; i < k; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce) != 0) close(c);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        ssize_t off = 0;
        while (off < r) { /* 64-byte echoes: the socket buffer always takes them */
          ssize_t w = write(fd, buf + off, (size_t)(r - off));
          if (w < 0 && errno == EAGAIN) {
            sched_yield();
            continue;
          }
          if (w <= 0) break;
          off += w;
        }
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fd); /* closing removes it from the epoll set */
      }
    }
  }
}

static int peer_start(void) {
  memset(&C.peer_addr, 0, sizeof C.peer_addr);
  C.peer_addr.sun_family = AF_UNIX;
  /* A path, not the abstract namespace: libuv (uvloop) cannot connect to abstract names. */
  const char *tmp = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
  snprintf(C.peer_name, sizeof C.peer_name, "%s/loopconf-sweep-peer-%d.sock", tmp, (int)getpid());
  if (strlen(C.peer_name) >= sizeof C.peer_addr.sun_path) return -ENAMETOOLONG;
  memcpy(C.peer_addr.sun_path, C.peer_name, strlen(C.peer_name) + 1);
  C.peer_len = (socklen_t)sizeof C.peer_addr;
  unlink(C.peer_name);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) return -errno;
  if (bind(lfd, (struct sockaddr *)&C.peer_addr, C.peer_len) != 0 || listen(lfd, 65535) != 0) {
    int e = -errno;
    close(lfd);
    return e;
  }
  peer_pid = fork();
  if (peer_pid < 0) {
    int e = -errno;
    close(lfd);
    return e;
  }
  if (peer_pid == 0) peer_loop(lfd);
  close(lfd);
  return 0;
}

static void peer_stop(void) {
  if (peer_pid <= 0) return;
  kill(peer_pid, SIGKILL);
  waitpid(peer_pid, NULL, 0);
  peer_pid = -1;
  unlink(C.peer_name);
}

/* A connected socket to the peer; blocking (threads, processes) or not (tasks). A full backlog
 * gives -EAGAIN on a non-blocking unix socket. */
static int peer_connect(int nonblock) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -errno;
  if (connect(fd, (struct sockaddr *)&C.peer_addr, C.peer_len) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

/* ---- the operations a model provides --------------------------------------------------------- */

struct unit {
  long index;
  uint64_t steps;     /* cpu */
  int64_t lag_max_ns; /* block */
  int rc;
};

struct ops {
  int (*sleep_ns)(int64_t ns);
  int (*conn_open)(void **c);
  int (*conn_send)(void *c, const void *buf, size_t n);
  int (*conn_recv)(void *c, void *buf, size_t n);
  void (*conn_close)(void *c);
  int (*cpu)(uint64_t steps, uint64_t seed); /* run the mixing steps (maybe elsewhere) */
  int (*blocking)(int64_t ns);               /* the blocking call of the block workload */
  int (*gate_wait)(void);                    /* spawn: park until released */
  void (*started)(void);                     /* spawn: this unit runs */
};

static void sleep_blocking(int64_t ns) {
  struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static _Atomic uint64_t spin_sink; /* keeps the mixing from being optimised away */

/* The bodies: the same work in every model. */
static int unit_sleep(const struct ops *o, struct unit *u) {
  (void)u;
  return o->sleep_ns(LCSWEEP_SLEEP_NS);
}

static int unit_io(const struct ops *o, struct unit *u) {
  void *c;
  int rc = o->conn_open(&c);
  if (rc != 0) return rc;
  char msg[LCSWEEP_IO_BYTES], back[LCSWEEP_IO_BYTES];
  for (int k = 0; k < LCSWEEP_IO_ROUNDS && rc == 0; k++) {
    memset(msg, 'a' + (int)((u->index + k) % 26), sizeof msg);
    rc = o->conn_send(c, msg, sizeof msg);
    if (rc == 0) rc = o->conn_recv(c, back, sizeof back);
    if (rc == 0 && memcmp(msg, back, sizeof msg) != 0) rc = -EPROTO;
  }
  o->conn_close(c);
  return rc;
}

static int unit_cpu(const struct ops *o, struct unit *u) {
  return o->cpu(u->steps, (uint64_t)u->index);
}

static int unit_block(const struct ops *o, struct unit *u) {
  if (u->index == 0) { /* the blocker */
    int rc = o->sleep_ns(LCSWEEP_BLOCK_AT_NS);
    return rc ? rc : o->blocking(LCSWEEP_BLOCK_NS);
  }
  int64_t next = lc_clock_ns();
  for (int t = 0; t < LCSWEEP_TICKS; t++) {
    next += LCSWEEP_TICK_NS;
    int64_t now = lc_clock_ns();
    int rc = o->sleep_ns(next > now ? next - now : 0);
    if (rc) return rc;
    int64_t lag = lc_clock_ns() - next;
    if (lag > u->lag_max_ns) u->lag_max_ns = lag;
  }
  return 0;
}

static int unit_spawn(const struct ops *o, struct unit *u) {
  (void)u;
  o->started();
  return o->gate_wait();
}

static int unit_run(const struct ops *o, struct unit *u) {
  switch (C.workload) {
  case LCSW_SLEEP: return unit_sleep(o, u);
  case LCSW_IO: return unit_io(o, u);
  case LCSW_CPU: return unit_cpu(o, u);
  case LCSW_BLOCK: return unit_block(o, u);
  case LCSW_SPAWN: return unit_spawn(o, u);
  default: return -EINVAL;
  }
}

static uint64_t cpu_total = LCSWEEP_CPU_TOTAL; /* a hundredth of it during the warm-up */

static struct unit *units_new(long n) {
  struct unit *u = lch_xcalloc((size_t)n, sizeof *u);
  uint64_t share = cpu_total / (uint64_t)n, rest = cpu_total % (uint64_t)n;
  for (long i = 0; i < n; i++) {
    u[i].index = i;
    u[i].steps = share + ((uint64_t)i < rest ? 1 : 0);
  }
  return u;
}

static void units_collect(struct unit *u, long n) {
  for (long i = 0; i < n; i++) {
    if (u[i].rc && !C.err) fail(u[i].rc, "unit %ld failed: %s", i, strerror(-u[i].rc));
    if (u[i].lag_max_ns > C.lag_max_ns) C.lag_max_ns = u[i].lag_max_ns;
  }
}

/* ---- blocking operations (threads, processes) ------------------------------------------------ */

static _Atomic long spawn_started;
static int gate_pipe[2] = {-1, -1};  /* spawn: units read; closing the write end releases */
static int ready_pipe[2] = {-1, -1}; /* spawn (processes): one byte per running unit */

static int b_sleep(int64_t ns) {
  sleep_blocking(ns);
  return 0;
}
static int b_open(void **c) {
  int fd = peer_connect(0);
  if (fd < 0) return fd;
  *c = (void *)(intptr_t)fd;
  return 0;
}
static int b_send(void *c, const void *buf, size_t n) {
  int fd = (int)(intptr_t)c;
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, (const char *)buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -errno;
    off += (size_t)w;
  }
  return 0;
}
static int b_recv(void *c, void *buf, size_t n) {
  int fd = (int)(intptr_t)c;
  size_t off = 0;
  while (off < n) {
    ssize_t r = read(fd, (char *)buf + off, n - off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r == 0) return -ENODATA;
    off += (size_t)r;
  }
  return 0;
}
static void b_close(void *c) { close((int)(intptr_t)c); }
static int b_cpu(uint64_t steps, uint64_t seed) {
  atomic_store_explicit(&spin_sink, lcsweep_spin(steps, seed), memory_order_relaxed);
  return 0;
}
static int b_gate_wait(void) {
  char ch;
  while (read(gate_pipe[0], &ch, 1) < 0 && errno == EINTR) {
  }
  return 0;
}
static void b_started_thread(void) { atomic_fetch_add(&spawn_started, 1); }
static void b_started_process(void) {
  char ch = 1;
  while (write(ready_pipe[1], &ch, 1) < 0 && errno == EINTR) {
  }
}

static const struct ops ops_thread = {b_sleep, b_open,  b_send,      b_recv,          b_close,
                                      b_cpu,   b_sleep, b_gate_wait, b_started_thread};
static const struct ops ops_process = {b_sleep, b_open,  b_send,      b_recv,           b_close,
                                       b_cpu,   b_sleep, b_gate_wait, b_started_process};

static int gates_open(void) {
  if (pipe2(gate_pipe, O_CLOEXEC) != 0 || pipe2(ready_pipe, O_CLOEXEC) != 0) return -errno;
  atomic_store(&spawn_started, 0);
  return 0;
}
static void gates_close(void) {
  for (int i = 0; i < 2; i++) {
    if (gate_pipe[i] >= 0) close(gate_pipe[i]);
    if (ready_pipe[i] >= 0) close(ready_pipe[i]);
    gate_pipe[i] = ready_pipe[i] = -1;
  }
}
static void gate_release(void) {
  if (gate_pipe[1] >= 0) close(gate_pipe[1]);
  gate_pipe[1] = -1;
}

/* ---- switch: two units hand control back and forth ------------------------------------------- */

static int pingpong_fd[4]; /* a->b pipe, b->a pipe */

static void *pong_thread(void *arg) {
  (void)arg;
  char ch;
  for (int r = 0; r < LCSWEEP_SWITCH_ROUNDS; r++) {
    if (read(pingpong_fd[0], &ch, 1) != 1) break;
    if (write(pingpong_fd[3], &ch, 1) != 1) break;
  }
  return NULL;
}

/* Same-thread baseline: a write and a read of one byte on a pipe, per round trip twice. */
static double pipe_baseline_ns(void) {
  int p[2];
  if (pipe(p) != 0) return -1;
  char ch = 1;
  int64_t t0 = lc_clock_ns();
  for (int r = 0; r < 2 * LCSWEEP_SWITCH_ROUNDS; r++) {
    if (write(p[1], &ch, 1) != 1 || read(p[0], &ch, 1) != 1) break;
  }
  int64_t t1 = lc_clock_ns();
  close(p[0]);
  close(p[1]);
  return (double)(t1 - t0) / (2.0 * LCSWEEP_SWITCH_ROUNDS);
}

static double baseline_ns = -1;

static void switch_blocking(int use_fork) {
  int a[2], b[2];
  if (pipe(a) != 0 || pipe(b) != 0) {
    fail(-errno, "pipe: %s", strerror(errno));
    return;
  }
  pingpong_fd[0] = a[0];
  pingpong_fd[1] = a[1];
  pingpong_fd[2] = b[0];
  pingpong_fd[3] = b[1];
  C.t_start = lc_clock_ns();
  pthread_t th;
  pid_t pid = -1;
  if (use_fork) {
    pid = fork();
    if (pid == 0) {
      pong_thread(NULL);
      _exit(0);
    }
    if (pid < 0) {
      fail(-errno, "fork: %s", strerror(errno));
      return;
    }
  } else {
    int e = pthread_create(&th, NULL, pong_thread, NULL);
    if (e) {
      fail(-e, "pthread_create: %s", strerror(e));
      return;
    }
  }
  sample_created();
  char ch = 1;
  for (int r = 0; r < LCSWEEP_SWITCH_ROUNDS; r++) {
    if (write(a[1], &ch, 1) != 1 || read(b[0], &ch, 1) != 1) {
      fail(-EIO, "ping-pong broke at round %d", r);
      break;
    }
  }
  if (use_fork) waitpid(pid, NULL, 0);
  else pthread_join(th, NULL);
  C.t_end = lc_clock_ns();
  for (int i = 0; i < 2; i++) {
    close(a[i]);
    close(b[i]);
  }
}

/* ---- threads --------------------------------------------------------------------------------- */

static void *thread_main(void *arg) {
  struct unit *u = arg;
  u->rc = unit_run(&ops_thread, u);
  return NULL;
}

static void run_threads(long n, size_t stack) {
  if (C.workload == LCSW_SWITCH) {
    switch_blocking(0);
    return;
  }
  struct unit *u = units_new(n);
  pthread_t *th = lch_xcalloc((size_t)n, sizeof *th);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (stack) pthread_attr_setstacksize(&attr, stack);
  if (C.workload == LCSW_SPAWN && gates_open() != 0) fail(-errno, "pipe: %s", strerror(errno));
  C.t_start = lc_clock_ns();
  long made = 0;
  for (; made < n && !C.err; made++) {
    int e = pthread_create(&th[made], &attr, thread_main, &u[made]);
    if (e) {
      C.created = made;
      fail(-e, "pthread_create: %s at unit %ld", strerror(e), made);
      break;
    }
  }
  if (C.workload == LCSW_SPAWN)
    while (atomic_load(&spawn_started) < made) sched_yield();
  sample_created();
  if (C.workload == LCSW_SPAWN) gate_release();
  for (long i = 0; i < made; i++) pthread_join(th[i], NULL);
  C.t_end = lc_clock_ns();
  pthread_attr_destroy(&attr);
  if (C.workload == LCSW_SPAWN) gates_close();
  units_collect(u, made);
  free(th);
  free(u);
}

/* ---- processes ------------------------------------------------------------------------------- */

static void run_processes(long n) {
  if (C.workload == LCSW_SWITCH) {
    switch_blocking(1);
    return;
  }
  /* Each unit's results (rc, lag) come back through shared memory. */
  struct unit *u =
      mmap(NULL, (size_t)n * sizeof *u, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (u == MAP_FAILED) {
    fail(-errno, "mmap: %s", strerror(errno));
    return;
  }
  struct unit *init = units_new(n);
  memcpy(u, init, (size_t)n * sizeof *u);
  free(init);
  pid_t *pids = lch_xcalloc((size_t)n, sizeof *pids);
  if (C.workload == LCSW_SPAWN && gates_open() != 0) fail(-errno, "pipe: %s", strerror(errno));
  C.t_start = lc_clock_ns();
  long made = 0;
  for (; made < n && !C.err; made++) {
    pid_t p = fork();
    if (p == 0) {
      if (C.workload == LCSW_SPAWN) close(gate_pipe[1]);
      u[made].rc = unit_run(&ops_process, &u[made]);
      _exit(0);
    }
    if (p < 0) {
      C.created = made;
      fail(-errno, "fork: %s at unit %ld", strerror(errno), made);
      break;
    }
    pids[made] = p;
  }
  if (C.workload == LCSW_SPAWN) {
    close(ready_pipe[1]);
    ready_pipe[1] = -1;
    char buf[4096];
    long seen = 0;
    while (seen < made) {
      ssize_t r = read(ready_pipe[0], buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      seen += r;
    }
  }
  sample_created();
  if (C.workload == LCSW_SPAWN) gate_release();
  for (long i = 0; i < made; i++) {
    int st;
    while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR) {
    }
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !C.err)
      fail(-ECHILD, "unit %ld: process ended with status %d", i, st);
  }
  C.t_end = lc_clock_ns();
  if (C.workload == LCSW_SPAWN) gates_close();
  units_collect(u, made);
  free(pids);
  munmap(u, (size_t)n * sizeof *u);
}

/* ---- tasks on the runtime (and its executors) -------------------------------------------------- */

static lc_event *task_gate;

static int t_sleep(int64_t ns) { return ns > 0 ? lc_sleep(ns) : lc_yield(); }
static int t_open(void **c) {
  for (;;) {
    int fd = peer_connect(1);
    if (fd == -EAGAIN) { /* the peer's backlog is full: let it accept */
      int rc = lc_sleep(LC_MS);
      if (rc) return rc;
      continue;
    }
    if (fd < 0) return fd;
    lc_stream *s = lc_stream_adopt(fd);
    if (!s) {
      int e = -errno;
      close(fd);
      return e;
    }
    *c = s;
    return 0;
  }
}
static int t_send(void *c, const void *buf, size_t n) {
  int rc = lc_stream_write(c, buf, n);
  return rc ? rc : lc_stream_drain(c);
}
static int t_recv(void *c, void *buf, size_t n) {
  ssize_t r = lc_stream_readexactly(c, buf, n, NULL);
  return r < 0 ? (int)r : 0;
}
static void t_close(void *c) { lc_stream_free(c); }
static int t_gate_wait(void) { return lc_event_wait(task_gate); }
static void t_started(void) { spawn_started++; }

struct spin_arg {
  uint64_t steps, seed;
};
static intptr_t spin_job(void *arg) {
  const struct spin_arg *a = arg;
  return (intptr_t)lcsweep_spin(a->steps, a->seed);
}
static intptr_t block_job(void *arg) {
  sleep_blocking(*(const int64_t *)arg);
  return 0;
}
static int te_cpu(uint64_t steps, uint64_t seed) {
  struct spin_arg a = {steps, seed};
  intptr_t r;
  return lc_run_in_thread(spin_job, &a, &r);
}
static int pe_cpu(uint64_t steps, uint64_t seed) {
  struct spin_arg a = {steps, seed};
  intptr_t r;
  return lc_run_in_process(spin_job, &a, sizeof a, &r);
}
static int te_block(int64_t ns) {
  intptr_t r;
  return lc_run_in_thread(block_job, &ns, &r);
}
static int pe_block(int64_t ns) {
  intptr_t r;
  return lc_run_in_process(block_job, &ns, sizeof ns, &r);
}

static struct ops ops_task = {t_sleep, t_open,  t_send,      t_recv,   t_close,
                              b_cpu,   b_sleep, t_gate_wait, t_started};

static int task_unit(void *arg, intptr_t *result) {
  (void)result;
  return unit_run(&ops_task, arg);
}

static int task_yielder(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  for (int r = 0; r < LCSWEEP_SWITCH_ROUNDS; r++) {
    int rc = lc_yield();
    if (rc) return rc;
  }
  return 0;
}

static int task_main(void *arg, intptr_t *result) {
  (void)result;
  long n = *(const long *)arg;
  C.stack_mode = lc_rt_stack_mode(lc_rt_current()) == LC_STACK_COPY ? "copy" : "dedicated";
  if (C.workload == LCSW_SWITCH) {
    C.t_start = lc_clock_ns();
    lc_task *t[2] = {lc_spawn(task_yielder, NULL, "a"), lc_spawn(task_yielder, NULL, "b")};
    if (!t[0] || !t[1]) {
      fail(-errno, "lc_spawn: %s", strerror(errno));
      return 0;
    }
    sample_created();
    int errs[2];
    lc_gather(t, 2, NULL, errs, 0);
    lc_task_unref(t[0]);
    lc_task_unref(t[1]);
    C.t_end = lc_clock_ns();
    return 0;
  }
  struct unit *u = units_new(n);
  lc_task **t = lch_xcalloc((size_t)n, sizeof *t);
  int *errs = lch_xcalloc((size_t)n, sizeof *errs);
  spawn_started = 0;
  if (C.workload == LCSW_SPAWN) task_gate = lc_event_new();
  C.t_start = lc_clock_ns();
  long made = 0;
  for (; made < n; made++) {
    t[made] = lc_spawn(task_unit, &u[made], NULL);
    if (!t[made]) {
      C.created = made;
      fail(-errno, "lc_spawn: %s at unit %ld", strerror(errno), made);
      break;
    }
  }
  if (C.workload == LCSW_SPAWN) /* a task's stack is taken at its first step: wait for it */
    while (spawn_started < made && !C.err) lc_yield();
  sample_created();
  if (C.workload == LCSW_SPAWN) lc_event_set(task_gate);
  lc_gather(t, (size_t)made, NULL, errs, 0);
  for (long i = 0; i < made; i++) {
    if (errs[i] && !u[i].rc) u[i].rc = errs[i];
    lc_task_unref(t[i]);
  }
  C.t_end = lc_clock_ns();
  if (task_gate) lc_event_free(task_gate);
  task_gate = NULL;
  units_collect(u, made);
  free(errs);
  free(t);
  free(u);
  return 0;
}

static void run_tasks(long n) {
  ops_task.cpu = C.kind == M_THREAD_EXEC ? te_cpu : C.kind == M_PROCESS_EXEC ? pe_cpu : b_cpu;
  ops_task.blocking = C.kind == M_THREAD_EXEC    ? te_block
                      : C.kind == M_PROCESS_EXEC ? pe_block
                                                 : b_sleep;
  intptr_t res;
  lc_run_opts opts = {.stack_mode = C.kind == M_TASK_COPY ? LC_STACK_COPY : LC_STACK_DEDICATED};
  int rc = lc_run(C.backend, &opts, task_main, &n, &res);
  if (rc != 0) fail(rc, "lc_run: %s", strerror(-rc));
}

static void run_model(long n) {
  switch (C.kind) {
  case M_TASK:
  case M_TASK_COPY:
  case M_THREAD_EXEC:
  case M_PROCESS_EXEC: run_tasks(n); break;
  case M_THREAD: run_threads(n, 0); break;
  case M_THREAD_SMALL: run_threads(n, LCSWEEP_SMALL_STACK); break;
  case M_PROCESS: run_processes(n); break;
  }
}

/* ---- CPython: lcsweep.py under this cell ------------------------------------------------------ */

static int run_python(const char *python, const char *loop, struct lch_buf *out) {
  char *dir = lch_data_dir("harness/sweep");
  char *script = lch_xasprintf("%s/lcsweep.py", dir);
  free(dir);
  char nbuf[32];
  snprintf(nbuf, sizeof nbuf, "%ld", C.n);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -errno;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    if (C.peer_name[0]) setenv("LCSWEEP_PEER", C.peer_name, 1);
    if (cg_dir[0]) {
      setenv("LCSWEEP_CGROUP", cg_dir, 1);
      setenv("LCSWEEP_CGROUP_V2", cg_v2 ? "1" : "0", 1);
    }
    execl(python, python, script, "--workload", lcsweep_workload_names[C.workload], "--loop", loop,
          "--n", nbuf, (char *)NULL);
    fprintf(stderr, "cannot run %s: %s\n", python, strerror(errno));
    _exit(127);
  }
  free(script);
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    return -errno;
  }
  char buf[4096];
  for (;;) {
    ssize_t r = read(p[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    lch_buf_append(out, buf, (size_t)r);
  }
  close(p[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return -ECHILD;
  return 0;
}

/* ---- the cell -------------------------------------------------------------------------------- */

static int emit(json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (!s) return 2;
  size_t len = strlen(s), off = 0;
  int rc = 0;
  while (off < len) {
    ssize_t w = write(LCH_RESULT_FD, s + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      rc = 2;
      break;
    }
    off += (size_t)w;
  }
  free(s);
  return rc;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int lcsweep_cell_main(int argc, char **argv) {
  const char *workload = NULL, *model = NULL, *backend = NULL, *python = "/usr/bin/python3";
  long n = -1;
  static const struct option longopts[] = {
      {"workload", required_argument, NULL, 'w'}, {"model", required_argument, NULL, 'm'},
      {"n", required_argument, NULL, 'n'},        {"backend", required_argument, NULL, 'b'},
      {"python", required_argument, NULL, 'p'},   {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'w': workload = optarg; break;
    case 'm': model = optarg; break;
    case 'b': backend = optarg; break;
    case 'p': python = optarg; break;
    case 'n':
      if (lch_parse_long(optarg, "--n", 1, 100000000, &n) != 0) return 2;
      break;
    default: return 2;
    }
  }
  if (!workload || !model || n < 1 || (C.workload = lcsweep_workload_parse(workload)) < 0) {
    lch_error("sweep __cell: needs --workload, --model and --n");
    return 2;
  }
  C.n = n;
  const char *pyloop = NULL;
  if (strcmp(model, "task") == 0) C.kind = M_TASK;
  else if (strcmp(model, "task-copy") == 0) C.kind = M_TASK_COPY;
  else if (strcmp(model, "thread") == 0) C.kind = M_THREAD;
  else if (strcmp(model, "thread-small") == 0) C.kind = M_THREAD_SMALL;
  else if (strcmp(model, "process") == 0) C.kind = M_PROCESS;
  else if (strcmp(model, "thread-executor") == 0) C.kind = M_THREAD_EXEC;
  else if (strcmp(model, "process-executor") == 0) C.kind = M_PROCESS_EXEC;
  else if (strcmp(model, "asyncio") == 0 || strcmp(model, "uvloop") == 0) pyloop = model;
  else {
    lch_error("sweep __cell: unknown model '%s'", model);
    return 2;
  }
  if (!pyloop && (C.kind == M_TASK || C.kind == M_TASK_COPY || C.kind == M_THREAD_EXEC ||
                  C.kind == M_PROCESS_EXEC)) {
    C.backend = lch_backend_open(backend ? backend : "reference");
    if (!C.backend) return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  cgroup_join();
  json_t *o = json_object();
  json_object_set_new(o, "cgroup", json_string(cg_dir[0] ? (cg_v2 ? "v2" : "v1") : "none"));
  struct rlimit nof;
  if (C.workload == LCSW_IO && getrlimit(RLIMIT_NOFILE, &nof) == 0 &&
      nof.rlim_cur != RLIM_INFINITY && (rlim_t)n + 64 > nof.rlim_cur) {
    /* The peer holds one fd per unit (the units another): past the limit connections would sit
     * in the backlog unaccepted. Say so instead of hanging until the time limit. */
    C.created = (long)nof.rlim_cur - 64;
    fail(-EMFILE, "io needs one fd per unit in the echo peer: RLIMIT_NOFILE is %llu (at unit %ld)",
         (unsigned long long)nof.rlim_cur, C.created);
  }
  if (C.workload == LCSW_IO && !C.err) {
    int rc = peer_start();
    if (rc) fail(rc, "io peer: %s", strerror(-rc));
  }
  if (pyloop && !C.err) {
    struct lch_buf out = {0};
    int rc = run_python(python, pyloop, &out);
    peer_stop();
    cgroup_leave();
    json_t *py = out.data ? json_loads(out.data, 0, NULL) : NULL;
    lch_buf_free(&out);
    if (!json_is_object(py)) {
      json_decref(py);
      json_object_set_new(o, "ok", json_false());
      json_object_set_new(o, "error",
                          json_string(rc ? "the Python script failed (see log)"
                                         : "the Python script printed no result"));
      json_object_set_new(o, "errno", json_integer(rc ? -rc : EPROTO));
      return emit(o);
    }
    json_object_update(o, py);
    json_decref(py);
    return emit(o);
  }
  /* Warm-up: the same cell at a small N, not measured (page faults, lazy binding, pools). */
  long warm = n < 16 ? n : 16;
  cpu_total = LCSWEEP_CPU_TOTAL / 100;
  if (!C.err && C.workload != LCSW_BLOCK) run_model(warm); /* block: sleeps, nothing to warm */
  cpu_total = LCSWEEP_CPU_TOTAL;
  if (C.err) {
    json_object_set_new(o, "warmup_failed", json_true());
  } else {
    memset(&C.t_start, 0, sizeof C.t_start);
    C.mem_sampled = 0;
    C.lag_max_ns = 0;
    if (C.workload == LCSW_SWITCH) baseline_ns = pipe_baseline_ns();
    long long a0, k0, p0;
    long long cg0 = cgroup_reset();
    meminfo(&a0, &k0, &p0);
    struct rusage rs0, rc0, rs1, rc1;
    getrusage(RUSAGE_SELF, &rs0);
    getrusage(RUSAGE_CHILDREN, &rc0);
    run_model(n);
    if (C.stack_mode) json_object_set_new(o, "stack_mode", json_string(C.stack_mode));
    getrusage(RUSAGE_SELF, &rs1);
    getrusage(RUSAGE_CHILDREN, &rc1);
    long long cgp = cgroup_peak();
    double wall = (double)(C.t_end - C.t_start) / 1e9;
    json_object_set_new(o, "wall_s", json_real(wall));
    json_object_set_new(o, "create_s", json_real((double)(C.t_created - C.t_start) / 1e9));
    json_object_set_new(o, "rest_s", json_real((double)(C.t_end - C.t_created) / 1e9));
    json_object_set_new(o, "user_s",
                        json_real(tv_s(rs1.ru_utime) - tv_s(rs0.ru_utime) + tv_s(rc1.ru_utime) -
                                  tv_s(rc0.ru_utime)));
    json_object_set_new(o, "sys_s",
                        json_real(tv_s(rs1.ru_stime) - tv_s(rs0.ru_stime) + tv_s(rc1.ru_stime) -
                                  tv_s(rc0.ru_stime)));
    json_object_set_new(
        o, "nvcsw", json_integer((rs1.ru_nvcsw - rs0.ru_nvcsw) + (rc1.ru_nvcsw - rc0.ru_nvcsw)));
    json_object_set_new(
        o, "nivcsw",
        json_integer((rs1.ru_nivcsw - rs0.ru_nivcsw) + (rc1.ru_nivcsw - rc0.ru_nivcsw)));
    json_object_set_new(o, "maxrss_self_kb", json_integer(rs1.ru_maxrss));
    json_object_set_new(o, "maxrss_largest_child_kb", json_integer(rc1.ru_maxrss));
    if (C.mem_sampled && a0 >= 0) {
      json_object_set_new(o, "mem_avail_drop_b", json_integer((a0 - C.mem_avail_kb) * 1024));
      json_object_set_new(o, "kernel_stack_b", json_integer((C.kstack_kb - k0) * 1024));
      json_object_set_new(o, "page_tables_b", json_integer((C.pagetables_kb - p0) * 1024));
    }
    if (cg0 >= 0 && cgp >= 0) json_object_set_new(o, "cgroup_peak_b", json_integer(cgp - cg0));
    if (C.workload == LCSW_BLOCK)
      json_object_set_new(o, "lag_max_s", json_real((double)C.lag_max_ns / 1e9));
    if (C.workload == LCSW_SWITCH) {
      /* two switches per round trip */
      json_object_set_new(o, "switch_s", json_real(wall / (2.0 * LCSWEEP_SWITCH_ROUNDS)));
      if (C.kind == M_THREAD || C.kind == M_THREAD_SMALL || C.kind == M_PROCESS)
        json_object_set_new(o, "pipe_baseline_s", json_real(baseline_ns / 1e9));
    }
  }
  peer_stop();
  cgroup_leave();
  json_object_set_new(o, "ok", json_boolean(!C.err));
  if (C.err) {
    json_object_set_new(o, "error", json_string(C.errmsg));
    json_object_set_new(o, "errno", json_integer(-C.err));
    if (C.created > 0 || strstr(C.errmsg, "at unit"))
      json_object_set_new(o, "limit_at", json_integer(C.created));
  }
  return emit(o);
}
