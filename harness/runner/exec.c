/* exec.c: run cell children in parallel under time limits: fork, exec, poll, kill, reap. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Without a pidfd the loop wakes this often to notice a child's exit. */
#define REAP_POLL_MS 20

/* Set by SIGINT/SIGTERM/SIGHUP while jobs run: kill the children, then give up. */
static volatile sig_atomic_t lcr_interrupted;
static void lcr_on_signal(int sig) { lcr_interrupted = sig; }
static const int lcr_stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSTOP (sizeof lcr_stop_signals / sizeof lcr_stop_signals[0])
/* The signal mask from before lch_exec_jobs blocked the stop signals; children get it back. */
static sigset_t lcr_child_mask;

struct lcr_running {
  size_t job;
  pid_t pid;
  int pidfd;  /* -1 if pidfd_open is unavailable */
  int logfd;  /* read ends, -1 once at EOF */
  int resfd;
  int64_t start_ns, deadline_ns;
  struct lch_proc_result res;
};

static int64_t lcr_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Read everything available on *fd without blocking; close it at EOF. The log keeps its
 * tail (trimmed in amortised steps), the result channel its head. */
static void lcr_drain(int *fd, struct lch_buf *sb, size_t cap, int keep_tail, size_t *dropped) {
  char buf[65536];
  while (*fd >= 0) {
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { /* EOF, or an error we treat as EOF */
      close(*fd);
      *fd = -1;
      return;
    }
    if (keep_tail) {
      lch_buf_append(sb, buf, (size_t)n);
      if (sb->len > 2 * cap) {
        *dropped += sb->len - cap;
        lch_buf_consume(sb, sb->len - cap);
      }
    } else if (sb->len < cap) {
      size_t room = cap - sb->len;
      lch_buf_append(sb, buf, (size_t)n < room ? (size_t)n : room);
    }
  }
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void lcr_child_exec(const char *exe, const struct lch_job *job, int devnull, int logw,
                          int resw) {
  setpgid(0, 0);
  sigprocmask(SIG_SETMASK, &lcr_child_mask, NULL);
  if (dup2(devnull, 0) < 0 || dup2(logw, 1) < 0 || dup2(logw, 2) < 0) _exit(127);
  if (resw == LCH_RESULT_FD) {
    if (fcntl(resw, F_SETFD, 0) < 0) _exit(127);
  } else if (dup2(resw, LCH_RESULT_FD) < 0) {
    _exit(127);
  }
  execv(exe, job->argv);
  static const char msg[] = "loopconf: cannot exec the loopconf executable\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(127);
}

/* Start a job. Returns 0, or -errno with nothing left open. */
static int lcr_start(const char *exe, const struct lch_job *job, struct lcr_running *r) {
  int logp[2], resp[2];
  if (pipe2(logp, O_CLOEXEC) < 0) return -errno;
  if (pipe2(resp, O_CLOEXEC) < 0) {
    int e = errno;
    close(logp[0]);
    close(logp[1]);
    return -e;
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = devnull < 0 ? -1 : fork();
  if (pid == 0) lcr_child_exec(exe, job, devnull, logp[1], resp[1]);
  int e = errno;
  if (devnull >= 0) close(devnull);
  close(logp[1]);
  close(resp[1]);
  if (pid < 0) {
    close(logp[0]);
    close(resp[0]);
    return -e;
  }
  setpgid(pid, pid); /* also done by the child: whichever runs first wins the race */
  fcntl(logp[0], F_SETFL, O_NONBLOCK);
  fcntl(resp[0], F_SETFL, O_NONBLOCK);
  r->pid = pid;
  r->logfd = logp[0];
  r->resfd = resp[0];
#ifdef SYS_pidfd_open
  static int no_pidfd; /* ENOSYS once (old kernel, valgrind): do not ask again */
  r->pidfd = no_pidfd ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
  if (r->pidfd < 0 && errno == ENOSYS) no_pidfd = 1;
  if (r->pidfd >= 0) fcntl(r->pidfd, F_SETFD, FD_CLOEXEC);
#else
  r->pidfd = -1;
#endif
  r->start_ns = lcr_now_ns();
  r->deadline_ns = r->start_ns + (int64_t)job->timeout_ms * 1000000;
  return 0;
}

/* Has the child exited? Checked without reaping, so its process group id stays reserved
 * until we have killed any leftovers in it. */
static int lcr_exited(const struct lcr_running *r) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (waitid(P_PID, (id_t)r->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0) return 1;
  return info.si_pid == r->pid;
}

/* Finish a child that has exited or must be killed: kill its group, reap, drain. */
static void lcr_finish(struct lcr_running *r, int timed_out) {
  kill(-r->pid, SIGKILL); /* leftovers (or the whole cell on timeout) */
  int status = 0;
  while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR) {
  }
  /* Everything the dead child wrote is in the pipes now; take what is there. */
  lcr_drain(&r->logfd, &r->res.log, LCH_LOG_CAP, 1, &r->res.log_dropped);
  lcr_drain(&r->resfd, &r->res.result, LCH_RESULT_CAP, 0, NULL);
  if (r->res.log.len > LCH_LOG_CAP) {
    r->res.log_dropped += r->res.log.len - LCH_LOG_CAP;
    lch_buf_consume(&r->res.log, r->res.log.len - LCH_LOG_CAP);
  }
  if (r->logfd >= 0) close(r->logfd);
  if (r->resfd >= 0) close(r->resfd);
  if (r->pidfd >= 0) close(r->pidfd);
  r->logfd = r->resfd = r->pidfd = -1;
  r->res.timed_out = timed_out;
  if (!timed_out && WIFSIGNALED(status)) r->res.signo = WTERMSIG(status);
  if (!timed_out && WIFEXITED(status)) r->res.exit_code = WEXITSTATUS(status);
  r->res.seconds = (double)(lcr_now_ns() - r->start_ns) / 1e9;
}

int lch_exec_jobs(const struct lch_job *jobs, size_t n, unsigned parallel, lch_job_start_fn on_start,
                 lch_job_done_fn on_done, void *ud) {
  if (parallel == 0) parallel = 1;
  char *exe = lch_exe_path();
  if (!exe) return -ENOENT;
  /* The children have their own process groups, so a terminal's ^C reaches only us: catch it
   * and take them down too. The signals stay blocked except inside ppoll(), so none is lost
   * between checking the flag and sleeping. */
  struct sigaction sa, old_sa[NSTOP];
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = lcr_on_signal;
  sigemptyset(&sa.sa_mask);
  sigset_t block, old_mask;
  sigemptyset(&block);
  for (size_t i = 0; i < NSTOP; i++) {
    sigaction(lcr_stop_signals[i], &sa, &old_sa[i]);
    sigaddset(&block, lcr_stop_signals[i]);
  }
  sigprocmask(SIG_BLOCK, &block, &old_mask);
  lcr_child_mask = old_mask;
  lcr_interrupted = 0;
  struct lcr_running *run = lch_xcalloc(parallel, sizeof *run);
  struct pollfd *pfds = lch_xcalloc(3 * (size_t)parallel, sizeof *pfds);
  size_t nrun = 0, next = 0;
  int rc = 0;
  while (next < n || nrun > 0) {
    while (nrun < parallel && next < n) {
      struct lcr_running *r = &run[nrun];
      memset(r, 0, sizeof *r);
      r->job = next++;
      if (on_start) on_start(r->job, ud);
      int e = lcr_start(exe, &jobs[r->job], r);
      if (e < 0) {
        r->res.spawn_errno = -e;
        on_done(r->job, &r->res, ud);
        lch_buf_free(&r->res.log);
        lch_buf_free(&r->res.result);
        continue;
      }
      nrun++;
    }
    if (nrun == 0) continue;

    /* Wait for output, an exit, or the nearest deadline. */
    size_t np = 0;
    int64_t now = lcr_now_ns(), wait_ns = INT64_MAX;
    int need_reap_poll = 0;
    for (size_t i = 0; i < nrun; i++) {
      struct lcr_running *r = &run[i];
      if (r->logfd >= 0) pfds[np++] = (struct pollfd){.fd = r->logfd, .events = POLLIN};
      if (r->resfd >= 0) pfds[np++] = (struct pollfd){.fd = r->resfd, .events = POLLIN};
      if (r->pidfd >= 0)
        pfds[np++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
      else
        need_reap_poll = 1;
      int64_t left = r->deadline_ns - now;
      if (left < wait_ns) wait_ns = left;
    }
    if (wait_ns < 0) wait_ns = 0;
    int timeout_ms = (int)(wait_ns > (int64_t)INT32_MAX * 1000000 ? INT32_MAX
                                                                   : (wait_ns + 999999) / 1000000);
    if (need_reap_poll && timeout_ms > REAP_POLL_MS) timeout_ms = REAP_POLL_MS;
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
    sigset_t during = old_mask;
    for (size_t i = 0; i < NSTOP; i++) sigdelset(&during, lcr_stop_signals[i]);
    int prc = ppoll(pfds, np, &ts, &during);
    if ((prc < 0 && errno != EINTR) || lcr_interrupted) {
      rc = lcr_interrupted ? -EINTR : -errno;
      if (!lcr_interrupted) lch_error("poll failed: %s", strerror(errno));
      for (size_t i = 0; i < nrun; i++) { /* kill and reap what is running, report nothing */
        lcr_finish(&run[i], 1);
        lch_buf_free(&run[i].res.log);
        lch_buf_free(&run[i].res.result);
      }
      break;
    }

    /* Collect output; finish children that exited or ran out of time. */
    now = lcr_now_ns();
    for (size_t i = 0; i < nrun;) {
      struct lcr_running *r = &run[i];
      lcr_drain(&r->logfd, &r->res.log, LCH_LOG_CAP, 1, &r->res.log_dropped);
      lcr_drain(&r->resfd, &r->res.result, LCH_RESULT_CAP, 0, NULL);
      int exited = lcr_exited(r);
      int timed_out = !exited && now >= r->deadline_ns;
      if (!exited && !timed_out) {
        i++;
        continue;
      }
      lcr_finish(r, timed_out);
      on_done(r->job, &r->res, ud);
      lch_buf_free(&r->res.log);
      lch_buf_free(&r->res.result);
      run[i] = run[--nrun]; /* order among running jobs does not matter */
    }
  }
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  for (size_t i = 0; i < NSTOP; i++) sigaction(lcr_stop_signals[i], &old_sa[i], NULL);
  free(pfds);
  free(run);
  free(exe);
  return rc;
}
