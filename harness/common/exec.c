/* exec.c: run children in parallel under time limits: fork, exec, poll, kill, reap. */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loopconf/clock.h"

/* Without a pidfd the loop wakes this often to notice a child's exit. */
#define REAP_POLL_MS 20

/* Set by SIGINT/SIGTERM/SIGHUP/SIGQUIT while jobs run: kill the children, then give up. */
static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSTOP (sizeof stop_signals / sizeof stop_signals[0])

int lch_interrupted(void) { return interrupted; }
/* The signal mask from before lch_exec_jobs blocked the stop signals; children get it back. */
static sigset_t child_mask;

/* Every child carries LOOPCONF_JOB_TOKEN=<our pid>:<serial> in its environment, and so does
 * everything it starts: after the child is gone, whatever still carries its token (a process
 * that called setsid() or left its process group, a double-forked daemon) is killed. We are a
 * child subreaper, so those orphans are reparented to us and reaped here. A descendant that
 * replaces its whole environment escapes this; only a cgroup per job would catch it. */
#define TOKEN_VAR "LOOPCONF_JOB_TOKEN"
static unsigned long token_serial;

struct running {
  size_t job;
  pid_t pid;
  char token[64];
  int pidfd; /* -1 if pidfd_open is unavailable */
  int logfd; /* read ends, -1 once at EOF */
  int resfd;
  int64_t start_ns, deadline_ns;
  struct lch_proc_result res;
};

static int64_t now_ns(void) { return lc_clock_ns(); }

/* Read everything available on *fd without blocking; close it at EOF. The log keeps its
 * tail (trimmed in amortised steps), the result channel its head. */
static void drain(int *fd, struct lch_buf *sb, size_t cap, int keep_tail, size_t *dropped) {
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

/* In the child between fork and exec: only async-signal-safe calls (and setenv, which is
 * safe here because this process has one thread). */
static void child_exec(const char *exe, const struct lch_job *job, int devnull, int logw, int resw,
                       char *token) {
  setpgid(0, 0);
  putenv(token);
  sigprocmask(SIG_SETMASK, &child_mask, NULL);
  if (dup2(devnull, 0) < 0) _exit(127);
  if (!(job->flags & LCH_JOB_INHERIT_OUTPUT)) {
    int out = (job->flags & LCH_JOB_STDOUT_RESULT) ? resw : logw;
    if (dup2(out, 1) < 0 || dup2(logw, 2) < 0) _exit(127);
  }
  if (!(job->flags & (LCH_JOB_STDOUT_RESULT | LCH_JOB_INHERIT_OUTPUT))) {
    if (resw == LCH_RESULT_FD) {
      if (fcntl(resw, F_SETFD, 0) < 0) _exit(127);
    } else if (dup2(resw, LCH_RESULT_FD) < 0) {
      _exit(127);
    }
  }
  for (const char *const *e = job->env; e && *e; e++) putenv((char *)*e);
  if (job->path) execvp(job->path, job->argv);
  else execv(exe, job->argv);
  static const char msg[] = ": cannot exec the program of a child job\n";
  const char *prog = lch_program();
  ssize_t ignored = write(2, prog, strlen(prog));
  ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(127);
}

/* Start a job. Returns 0, or -errno with nothing left open. */
static int start(const char *exe, const struct lch_job *job, struct running *r) {
  int logp[2], resp[2];
  if (pipe2(logp, O_CLOEXEC) < 0) return -errno;
  if (pipe2(resp, O_CLOEXEC) < 0) {
    int e = errno;
    close(logp[0]);
    close(logp[1]);
    return -e;
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  snprintf(r->token, sizeof r->token, TOKEN_VAR "=%ld:%lu", (long)getpid(), ++token_serial);
  pid_t pid = devnull < 0 ? -1 : fork();
  if (pid == 0) child_exec(exe, job, devnull, logp[1], resp[1], r->token);
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
  r->start_ns = now_ns();
  r->deadline_ns =
      job->timeout_ms > 0 ? r->start_ns + (int64_t)job->timeout_ms * 1000000 : INT64_MAX;
  return 0;
}

/* Has the child exited? Checked without reaping, so its process group id stays reserved
 * until we have killed any leftovers in it. */
static int child_exited(const struct running *r) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (waitid(P_PID, (id_t)r->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0) return 1;
  return info.si_pid == r->pid;
}

/* Does /proc/<pid>/environ hold exactly this "NAME=value" entry? */
static int environ_has(const char *pid, const char *entry) {
  char path[64], buf[8192];
  snprintf(path, sizeof path, "/proc/%s/environ", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;                      /* gone, or not ours to read (so not our descendant) */
  size_t want = strlen(entry) + 1, have = 0; /* the entry and its NUL */
  int found = 0;
  ssize_t n;
  /* Entries may straddle reads: keep the unfinished tail at the front of buf. */
  while (!found && (n = read(fd, buf + have, sizeof buf - have)) > 0) {
    have += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < have; i++)
      if (buf[i] == '\0') {
        if (i + 1 - start == want && memcmp(buf + start, entry, want) == 0) found = 1;
        start = i + 1;
      }
    memmove(buf, buf + start, have - start);
    have -= start;
    if (have == sizeof buf) have = 0; /* an entry longer than buf: not ours */
  }
  close(fd);
  return found;
}

/* Kill every process still carrying r's token, and reap those that were reparented to us.
 * Returns how many were killed. */
static int kill_leftovers(const struct running *r) {
  int killed = 0;
  for (int round = 0; round < 8; round++) { /* new ones may appear while we scan */
    DIR *d = opendir("/proc");
    if (!d) return killed;
    pid_t found[64];
    int nfound = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nfound < 64) {
      if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
      if (environ_has(e->d_name, r->token)) found[nfound++] = (pid_t)atol(e->d_name);
    }
    closedir(d);
    if (nfound == 0) break;
    for (int i = 0; i < nfound; i++) {
      kill(found[i], SIGKILL);
      kill(-found[i], SIGKILL); /* its own group, if it made one */
    }
    killed += nfound;
    /* Reap those that are (or become, as their parents die) our children; give the rest a
     * moment to be reaped by their parents. A zombie's environ is empty, so they drop out. */
    for (int i = 0; i < nfound; i++)
      for (int tries = 0; tries < 50; tries++) {
        pid_t w = waitpid(found[i], NULL, WNOHANG);
        if (w == found[i] || (w < 0 && errno == ECHILD && kill(found[i], 0) < 0)) break;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
      }
  }
  return killed;
}

/* Finish a child that has exited or must be killed: kill its group, reap, drain. */
static void finish(struct running *r, int timed_out) {
  kill(-r->pid, SIGKILL); /* leftovers (or the whole cell on timeout) */
  int status = 0;
  while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR) {
  }
  r->res.leftovers_killed = kill_leftovers(r);
  /* Everything the dead child wrote is in the pipes now; take what is there. */
  drain(&r->logfd, &r->res.log, LCH_LOG_CAP, 1, &r->res.log_dropped);
  drain(&r->resfd, &r->res.result, LCH_RESULT_CAP, 0, NULL);
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
  r->res.seconds = (double)(now_ns() - r->start_ns) / 1e9;
}

int lch_exec_jobs(const struct lch_job *jobs, size_t n, unsigned parallel,
                  lch_job_start_fn on_start, lch_job_done_fn on_done, void *ud) {
  if (parallel == 0) parallel = 1;
  char *exe = lch_exe_path();
  if (!exe) return -ENOENT;
  /* Orphans of our children are reparented to us instead of init, so kill_leftovers can
   * reap them (and a daemonising child cannot hide under init). */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  /* The children have their own process groups, so a terminal's ^C reaches only us: catch it
   * and take them down too. The signals stay blocked except inside ppoll(), so none is lost
   * between checking the flag and sleeping. */
  struct sigaction sa, old_sa[NSTOP];
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigset_t block, old_mask;
  sigemptyset(&block);
  for (size_t i = 0; i < NSTOP; i++) {
    sigaction(stop_signals[i], &sa, &old_sa[i]);
    if (stop_signals[i] == SIGHUP && old_sa[i].sa_handler == SIG_IGN) /* nohup stays nohup */
      sigaction(stop_signals[i], &old_sa[i], NULL);
    else sigaddset(&block, stop_signals[i]);
  }
  sigprocmask(SIG_BLOCK, &block, &old_mask);
  child_mask = old_mask;
  interrupted = 0;
  struct running *run = lch_xcalloc(parallel, sizeof *run);
  struct pollfd *pfds = lch_xcalloc(3 * (size_t)parallel, sizeof *pfds);
  size_t nrun = 0, next = 0;
  int rc = 0;
  while (next < n || nrun > 0) {
    while (nrun < parallel && next < n) {
      struct running *r = &run[nrun];
      memset(r, 0, sizeof *r);
      r->job = next++;
      if (on_start) on_start(r->job, ud);
      int e = start(exe, &jobs[r->job], r);
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
    int64_t now = now_ns(), wait_ns = INT64_MAX;
    int need_reap_poll = 0;
    for (size_t i = 0; i < nrun; i++) {
      struct running *r = &run[i];
      if (r->logfd >= 0) pfds[np++] = (struct pollfd){.fd = r->logfd, .events = POLLIN};
      if (r->resfd >= 0) pfds[np++] = (struct pollfd){.fd = r->resfd, .events = POLLIN};
      if (r->pidfd >= 0) pfds[np++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
      else need_reap_poll = 1;
      int64_t left = r->deadline_ns - now;
      if (left < wait_ns) wait_ns = left;
    }
    if (wait_ns < 0) wait_ns = 0;
    int timeout_ms =
        (int)(wait_ns > (int64_t)INT32_MAX * 1000000 ? INT32_MAX : (wait_ns + 999999) / 1000000);
    if (need_reap_poll && timeout_ms > REAP_POLL_MS) timeout_ms = REAP_POLL_MS;
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
    sigset_t during = old_mask;
    for (size_t i = 0; i < NSTOP; i++) sigdelset(&during, stop_signals[i]);
    int prc = ppoll(pfds, np, &ts, &during);
    if ((prc < 0 && errno != EINTR) || interrupted) {
      rc = interrupted ? -EINTR : -errno;
      if (!interrupted) lch_error("poll failed: %s", strerror(errno));
      for (size_t i = 0; i < nrun; i++) { /* kill and reap what is running, report nothing */
        finish(&run[i], 1);
        lch_buf_free(&run[i].res.log);
        lch_buf_free(&run[i].res.result);
      }
      break;
    }

    /* Collect output; finish children that exited or ran out of time. */
    now = now_ns();
    for (size_t i = 0; i < nrun;) {
      struct running *r = &run[i];
      drain(&r->logfd, &r->res.log, LCH_LOG_CAP, 1, &r->res.log_dropped);
      drain(&r->resfd, &r->res.result, LCH_RESULT_CAP, 0, NULL);
      int exited = child_exited(r);
      int timed_out = !exited && now >= r->deadline_ns;
      if (!exited && !timed_out) {
        i++;
        continue;
      }
      finish(r, timed_out);
      on_done(r->job, &r->res, ud);
      lch_buf_free(&r->res.log);
      lch_buf_free(&r->res.result);
      run[i] = run[--nrun]; /* order among running jobs does not matter */
    }
  }
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  for (size_t i = 0; i < NSTOP; i++) sigaction(stop_signals[i], &old_sa[i], NULL);
  free(pfds);
  free(run);
  free(exe);
  return rc;
}

struct one_state {
  struct lch_proc_result *res;
};

static void one_done(size_t i, struct lch_proc_result *res, void *ud) {
  (void)i;
  struct one_state *st = ud;
  *st->res = *res;
  memset(res, 0, sizeof *res); /* ownership of the buffers moves to the caller */
}

int lch_exec_one(const struct lch_job *job, struct lch_proc_result *res) {
  memset(res, 0, sizeof *res);
  struct one_state st = {res};
  return lch_exec_jobs(job, 1, 1, NULL, one_done, &st);
}

void lch_proc_result_free(struct lch_proc_result *res) {
  lch_buf_free(&res->log);
  lch_buf_free(&res->result);
}
