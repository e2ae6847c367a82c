/* lchttp_openloop.c: an open-loop, constant-rate HTTP load client on the runtime (reference
 * loop by default), like wrk2: request i of connection k is due at t0 + k*gap/C + i*gap*C...
 * precisely, connection k of C sends every C/rate seconds, the connections staggered evenly;
 * each request is sent at its due time (or at once if the connection is late, because the
 * previous response came late) and its latency is measured from the due time, not from when it
 * was actually sent, so a stalled server is charged for every request it delayed (no
 * coordinated omission). One request in flight per connection, as wrk2 does.
 *
 * usage: loopconf-http __openloop --port P --rate R [--connections C] [--duration S]
 *                                 [--warmup S] [--path /plaintext] [--backend B] [--fifo]
 *                                 [--idle-poll] [--wait auto|spin|sleep]
 * --fifo runs the client at SCHED_FIFO priority LCHTTP_RT_PRIORITY when permitted (else at
 * normal priority, and the JSON says why): on a shared machine a normal-priority client waits
 * for other processes' time slices, and that wait would be charged to the server. The timer
 * slack is always 1 ns, so a send is not 50 us late by default.
 * Prints one JSON object on stdout: target and achieved rate, counts, and percentiles in
 * microseconds over the requests due after the warm-up: latency_us from the due time (what
 * the schedule's user saw), service_us from the actual send, and send_lag_us (actual send
 * minus due: how late the client, or the previous response, made each send), client_lag_us
 * (the client's own share of each latency, see ol_conn), and the client's CPU use over the run,
 * in all and without idle spinning (client_busy_cores: near 1 core, the client, not the server,
 * is the limit). read_delay_us: how long each response waited in the socket to be read, from
 * the kernel's receive stamp (rx_stamps says whether stamping was on, rx_stamped how many
 * measured responses had one); server_latency_us: each latency less the client's share;
 * client_runq_wait_ms and client_preemptions: the client waiting for a CPU while runnable.
 * --wait: spin (the default where safe, see ol_wait_mode) or sleep. */
#include "lchttp.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopconf/runtime.h"
#include "loopconf/clock.h"

enum { OL_WINDOWS = 10 }; /* windows per run for the spread (window_percentiles) */

struct ol {
  long port, conns;
  double rate, duration, warmup;
  const char *path, *backend;
  int fifo, idle_poll, spin;
  int64_t t0, t_measure, t_end;
  /* ns, of the measured requests: from due, from send, send - due, and send minus the moment
   * the send became possible (the later of due and the previous response): the client's own
   * lateness, with the server's share taken out */
  int64_t *lat, *svc, *lag, *own, *rdel;
  unsigned char *win; /* which of the OL_WINDOWS windows each is due in */
  size_t nlat, cap;
  unsigned long sent, done, errors, late_sends, unfinished, in_window, stamped;
  /* spin mode (see ol_ticker): sends and reads so far, the idle time, and the ticker's last
   * three returns, newest first */
  unsigned long progress;
  int stop;
  int64_t spin_idle, tick[3];
  char first_error[160];
};

static void ol_error(struct ol *o, const char *what, long rc) {
  o->errors++;
  if (!o->first_error[0])
    snprintf(o->first_error, sizeof o->first_error, "%s: %s", what, strerror((int)-rc));
}

struct conn_arg {
  struct ol *o;
  long k;
};

/* Spinning. Sleeping in the kernel until each send is due arms a timer per request: on a VM
 * each arming is a hypervisor exit, and at 80% of a fast server's peak that had cost about half
 * the client's core and 10-20 us of lateness per send (and up to 30 us of the median: a sleeping
 * client also has to be woken for each response). In spin mode a ticker task yields in a loop
 * for the whole run, so the loop never blocks: it polls with a zero timeout and the connections'
 * timers and responses are seen within one turn. The ticker also tells the client's time apart:
 * a turn in which no connection sent or read was idle (subtracted from the CPU time: busy). And
 * it bounds how long a response waited for the client (ol_read_delay). */
enum { OL_SLOW_TURN_NS = 20 * 1000 }; /* longer without progress: stopped or preempted, not idle */

static int ol_ticker(void *arg, intptr_t *result) {
  (void)result;
  struct ol *o = arg;
  o->tick[0] = o->tick[1] = o->tick[2] = lc_now();
  unsigned long seen = o->progress;
  while (!o->stop) {
    int rc = lc_yield();
    if (rc < 0) return 0;
    int64_t now = lc_now();
    if (o->progress == seen && now - o->tick[0] <= OL_SLOW_TURN_NS)
      o->spin_idle += now - o->tick[0];
    o->tick[2] = o->tick[1];
    o->tick[1] = o->tick[0];
    o->tick[0] = now;
    seen = o->progress;
  }
  return 0;
}

/* How long a response read at `fin` (sent at `sent`) waited for the client: from its arrival in
 * the socket by the kernel's receive stamp (rx, see lc_stream_rx_timestamps), which counts the
 * loop's turns, the other connections' work, preemption and a sleeping client's wake-up alike.
 * Without a stamp (rx 0), the bound below. */
static int64_t ol_read_delay(const struct ol *o, int64_t sent, int64_t rx, int64_t fin);

/* The most a response read at `fin` (sent at `sent`) can have waited for the client. Each turn
 * of the loop polls once and then runs what the poll made ready, the ticker somewhere among
 * them; a response read in this turn was not there at the previous turn's poll, which came
 * after the ticker's return two returns ago (tick[1] if this task runs before the ticker in
 * the turn, tick[2] if after: the earlier is taken). An upper bound, loose when the turns are
 * long next to the server's time: then it cannot tell the two apart and charges the client.
 * Unknown (0) when the client sleeps. */
static int64_t ol_turn_bound(const struct ol *o, int64_t sent, int64_t fin) {
  if (!o->spin) return 0;
  return fin - (o->tick[2] > sent ? o->tick[2] : sent);
}

static int64_t ol_read_delay(const struct ol *o, int64_t sent, int64_t rx, int64_t fin) {
  if (!rx) return ol_turn_bound(o, sent, fin);
  return fin - (rx > sent ? rx : sent); /* not before the send: a clock read a little off */
}

static int ol_conn(void *arg, intptr_t *result) {
  (void)result;
  struct conn_arg *ca = arg;
  struct ol *o = ca->o;
  int64_t gap = (int64_t)(1e9 * (double)o->conns / o->rate);
  int64_t due = o->t0 + gap * ca->k / o->conns;
  lc_stream *s;
  int rc = lc_open_connection("127.0.0.1", (int)o->port, &s);
  if (rc < 0) {
    ol_error(o, "connect", rc);
    return 0;
  }
  lc_stream_rx_timestamps(s); /* refused: no stamps, the turn bound instead */
  char req[256];
  int rl = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", o->path);
  char head[4096], body[4096];
  /* The client's share of each latency: its own lateness in sending (from the later of the due
   * time and the previous response), how long its response waited to be read
   * (ol_read_delay), and, when the previous response
   * held this send back, as much of that wait as was the client's share of the previous latency
   * (so the backlog a stalled client builds on a connection stays the client's) */
  int64_t prev_fin = due, prev_share = 0;
  while (due < o->t_end) {
    int64_t now = lc_now();
    if (due > now) {
      rc = lc_sleep(due - now);
      if (rc < 0) break;
    } else if (now - due > LC_MS) {
      o->late_sends++;
    }
    int64_t sent_at = lc_now();
    o->sent++;
    o->progress++;
    rc = lc_stream_write(s, req, (size_t)rl);
    if (rc < 0) {
      ol_error(o, "write", rc);
      break;
    }
    ssize_t n = lc_stream_readuntil(s, "\r\n\r\n", 4, head, sizeof head - 1, NULL);
    if (n < 0) {
      if (n != -ECANCELED) ol_error(o, "read", n);
      else o->unfinished++;
      break;
    }
    head[n] = 0;
    long clen = 0;
    char *cl = strcasestr(head, "\r\nContent-Length:");
    if (cl) clen = strtol(cl + 17, NULL, 10);
    if (strncmp(head, "HTTP/1.1 200", 12) != 0 || clen <= 0 || clen > (long)sizeof body) {
      ol_error(o, "response", -EPROTO);
      break;
    }
    n = lc_stream_readexactly(s, body, (size_t)clen, NULL);
    if (n < 0) {
      if (n != -ECANCELED) ol_error(o, "read body", n);
      else o->unfinished++;
      break;
    }
    int64_t fin = lc_now(), lat = fin - due, rx = lc_stream_rx_time(s);
    int64_t rd = ol_read_delay(o, sent_at, rx, fin);
    int64_t held = prev_fin > due ? prev_fin - due : 0; /* waited for the previous response */
    int64_t share = sent_at - (due + held) + rd + (held < prev_share ? held : prev_share);
    o->done++;
    o->progress++;
    if (fin >= o->t_measure && fin < o->t_end) o->in_window++;
    if (due >= o->t_measure) {
      if (o->nlat == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 65536;
        o->lat = lch_xrealloc(o->lat, o->cap * sizeof *o->lat);
        o->svc = lch_xrealloc(o->svc, o->cap * sizeof *o->svc);
        o->lag = lch_xrealloc(o->lag, o->cap * sizeof *o->lag);
        o->own = lch_xrealloc(o->own, o->cap * sizeof *o->own);
        o->rdel = lch_xrealloc(o->rdel, o->cap * sizeof *o->rdel);
        o->win = lch_xrealloc(o->win, o->cap * sizeof *o->win);
      }
      if (rx) o->stamped++;
      int64_t w = (due - o->t_measure) * OL_WINDOWS / (o->t_end - o->t_measure);
      o->win[o->nlat] = (unsigned char)(w < OL_WINDOWS ? w : OL_WINDOWS - 1);
      o->lat[o->nlat] = lat;
      o->svc[o->nlat] = fin - sent_at;
      o->own[o->nlat] = share;
      o->rdel[o->nlat] = rd;
      o->lag[o->nlat++] = sent_at - due;
    }
    prev_fin = fin;
    prev_share = share;
    due += gap;
  }
  lc_stream_free(s);
  return 0;
}

static int ol_main(void *arg, intptr_t *result) {
  (void)result;
  struct ol *o = arg;
  o->t0 = lc_now() + 20 * LC_MS;
  o->t_measure = o->t0 + (int64_t)(o->warmup * 1e9);
  o->t_end = o->t_measure + (int64_t)(o->duration * 1e9);
  struct conn_arg *ca = lch_xcalloc((size_t)o->conns, sizeof *ca);
  lc_task **t = lch_xcalloc((size_t)o->conns, sizeof *t);
  for (long k = 0; k < o->conns; k++) {
    ca[k] = (struct conn_arg){o, k};
    t[k] = lc_spawn(ol_conn, &ca[k], "ol");
  }
  lc_task *tick = o->spin ? lc_spawn(ol_ticker, o, "ol-ticker") : NULL;
  /* responses still missing 5 s after the end are counted as unfinished */
  lc_timeout to;
  lc_timeout_enter(&to, o->t_end - lc_now() + 5 * LC_S);
  int rc = lc_gather(t, (size_t)o->conns, NULL, NULL, 0);
  lc_timeout_exit(&to, rc);
  for (long k = 0; k < o->conns; k++) lc_task_unref(t[k]);
  o->stop = 1;
  if (tick) {
    lc_await(tick, NULL);
    lc_task_unref(tick);
  }
  free(t);
  free(ca);
  return 0;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Percentiles of v (ns, sorted here) as an object in microseconds. */
static json_t *percentiles(int64_t *v, size_t n) {
  qsort(v, n, sizeof *v, cmp64);
  json_t *lat = json_object();
  static const struct {
    const char *k;
    double q;
  } qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}, {"max", 1.0}};
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)v[i];
  if (n) {
    json_object_set_new(lat, "min", json_real((double)v[0] / 1e3));
    json_object_set_new(lat, "mean", json_real(sum / (double)n / 1e3));
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
      size_t idx = (size_t)ceil(qs[i].q * (double)n);
      if (idx) idx--;
      json_object_set_new(lat, qs[i].k, json_real((double)v[idx] / 1e3));
    }
  }
  return lat;
}

/* The percentiles of each of the run's OL_WINDOWS equal windows (by due time), as arrays
 * keyed like percentiles(), entry w for window w (null where no request was due): a whole
 * run's percentile lies between its windows' lowest and highest (a quantile of a mixture lies
 * between the quantiles of its parts), so their range is the spread of that percentile over
 * the timescale of the host's stalls. */
static json_t *window_percentiles(const int64_t *lat, const unsigned char *win, size_t n) {
  static const char *const keys[] = {"p50", "p90", "p99", "p99.9"};
  json_t *out = json_object(), *arr[4];
  for (size_t k = 0; k < 4; k++) arr[k] = json_array();
  int64_t *v = lch_xcalloc(n ? n : 1, sizeof *v);
  for (int w = 0; w < OL_WINDOWS; w++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (win[i] == w) v[m++] = lat[i];
    if (!m) { /* nothing was due in it (the run broke off): null keeps the arrays by window */
      for (size_t k = 0; k < 4; k++) json_array_append_new(arr[k], json_null());
      continue;
    }
    json_t *p = percentiles(v, m);
    for (size_t k = 0; k < 4; k++) json_array_append(arr[k], json_object_get(p, keys[k]));
    json_decref(p);
  }
  free(v);
  json_object_set_new(out, "windows", json_integer(OL_WINDOWS));
  for (size_t k = 0; k < 4; k++) json_object_set_new(out, keys[k], arr[k]);
  return out;
}

/* Ask the kernel to keep every idle CPU polling instead of halting while this process lives
 * (a PM QoS request of 0 us, as cyclictest makes): on a VM, waking a halted vCPU costs a
 * hypervisor exit each way (a 1-byte round trip between two pinned threads: 104 us p50
 * halted, 8 us polling on a Xeon VM of this project's kind, and 8 us either way 15 minutes
 * later), and there that cost, not the server, had set the open loop's median. The request
 * ends with the process. The text says what happened. */
static void hold_idle_poll(char *what, size_t cap) {
  int fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
  int32_t zero = 0;
  if (fd >= 0 && write(fd, &zero, sizeof zero) == (ssize_t)sizeof zero)
    snprintf(what, cap, "polling (cpu_dma_latency 0)");
  else snprintf(what, cap, "halting (cpu_dma_latency refused: %s)", strerror(errno));
  /* fd stays open on purpose: closing it would end the request */
}

/* Turn the kernel's receive stamps on before the run and keep them on (lc_stream_rx_timestamps
 * on the connections then finds them on at once). The kernel turns stamping on from a work
 * queue on this CPU, and a realtime client spinning there would starve it: in a hand run that
 * way, the first 0.9 s of responses had no stamp. So: a loopback TCP pair, stamps asked on one
 * end, one byte sent and read until it comes stamped (at most 1 s), and that end left open for
 * the process's life. The text says what happened. */
static void hold_rx_stamps(char *what, size_t cap) {
  snprintf(what, cap, "off (loopback pair failed: %s)", strerror(errno));
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, a = -1, on = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 1) ||
      getsockname(l, (struct sockaddr *)&sa, &sl))
    goto out;
  c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof sa) || (a = accept(l, NULL, NULL)) < 0)
    goto out;
  if (setsockopt(a, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on)) {
    snprintf(what, cap, "off (SO_TIMESTAMPNS refused: %s)", strerror(errno));
    goto out;
  }
  snprintf(what, cap, "off (no stamp within 1 s: the loop-turn bound instead)");
  for (int i = 0; i < 200; i++) {
    char byte = 0, ctl[CMSG_SPACE(3 * sizeof(struct timespec))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    if (send(c, &byte, 1, MSG_NOSIGNAL) != 1 || recvmsg(a, &m, 0) != 1) break;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
      snprintf(what, cap, "kernel receive stamps (SO_TIMESTAMPNS)");
      a = -1; /* stays open on purpose: it keeps stamping on */
      break;
    }
    usleep(5000);
  }
out:
  if (a >= 0) close(a);
  if (c >= 0) close(c);
  if (l >= 0) close(l);
}

/* Spin or sleep (--wait auto|spin|sleep). auto spins unless the client runs at SCHED_FIFO
 * under the kernel's RT throttling (sched_rt_runtime_us not -1): a FIFO task busy all the time
 * is stopped for the rest of each period (50 ms a second by default), which would be charged to
 * the server. The text says what was chosen and why. */
static int ol_wait_mode(const char *want, int fifo, char *what, size_t cap) {
  if (!strcmp(want, "sleep")) {
    snprintf(what, cap, "sleep (asked)");
    return 0;
  }
  if (!strcmp(want, "spin")) {
    snprintf(what, cap, "spin (asked)");
    return 1;
  }
  long rt = 0;
  FILE *f = fopen("/proc/sys/kernel/sched_rt_runtime_us", "r");
  int known = f && fscanf(f, "%ld", &rt) == 1;
  if (f) fclose(f);
  if (fifo && !(known && rt < 0)) {
    snprintf(what, cap,
             "sleep (SCHED_FIFO under RT throttling: a spinning client would be stopped)");
    return 0;
  }
  snprintf(what, cap, "spin (a ticker task keeps the loop polling)");
  return 1;
}

/* This thread's time waiting for a CPU while runnable (ns, the kernel's schedstat run_delay;
 * -1 when unknown): the client preempted, by a higher-priority thread or the kernel's own work,
 * rather than busy or idle. */
static int64_t runq_wait_ns(void) {
  FILE *f = fopen("/proc/thread-self/schedstat", "r");
  long long run = 0, wait = -1;
  if (f && fscanf(f, "%lld %lld", &run, &wait) != 2) wait = -1;
  if (f) fclose(f);
  return wait;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int lchttp_openloop_main(int argc, char **argv) {
  struct ol o = {0};
  o.conns = 32;
  o.duration = 5;
  o.warmup = 1;
  o.path = "/plaintext";
  o.backend = "reference";
  const char *wait = "auto";
  static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
                                           {"rate", required_argument, NULL, 'r'},
                                           {"connections", required_argument, NULL, 'c'},
                                           {"duration", required_argument, NULL, 'd'},
                                           {"warmup", required_argument, NULL, 'w'},
                                           {"path", required_argument, NULL, 'P'},
                                           {"backend", required_argument, NULL, 'b'},
                                           {"fifo", no_argument, NULL, 'f'},
                                           {"idle-poll", no_argument, NULL, 'i'},
                                           {"wait", required_argument, NULL, 'W'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'p':
      if (lch_parse_long(optarg, "--port", 1, 65535, &o.port)) return 2;
      break;
    case 'r':
      if (lch_parse_double(optarg, "--rate", 1, 1e7, &o.rate)) return 2;
      break;
    case 'c':
      if (lch_parse_long(optarg, "--connections", 1, 10000, &o.conns)) return 2;
      break;
    case 'd':
      if (lch_parse_double(optarg, "--duration", 0.1, 3600, &o.duration)) return 2;
      break;
    case 'w':
      if (lch_parse_double(optarg, "--warmup", 0, 3600, &o.warmup)) return 2;
      break;
    case 'P': o.path = optarg; break;
    case 'b': o.backend = optarg; break;
    case 'f': o.fifo = 1; break;
    case 'i': o.idle_poll = 1; break;
    case 'W':
      if (strcmp(optarg, "auto") && strcmp(optarg, "spin") && strcmp(optarg, "sleep")) {
        lch_error("--wait must be auto, spin or sleep, not '%s'", optarg);
        return 2;
      }
      wait = optarg;
      break;
    case 'h':
      puts(
          "usage: loopconf-http __openloop --port P --rate R [--connections C] [--duration S]\n"
          "       [--warmup S] [--path /plaintext] [--backend B] [--fifo] [--idle-poll]\n"
          "       [--wait auto|spin|sleep]\n"
          "       (JSON on stdout)");
      return 0;
    default: return lch_getopt_error(ch, argv, "loopconf-http __openloop");
    }
  }
  if (!o.port || o.rate <= 0) {
    lch_error("__openloop needs --port and --rate");
    return 2;
  }
  const struct lc_backend *b = lch_backend_open(o.backend);
  if (!b) return 2;
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  char stamps[96];
  hold_rx_stamps(stamps, sizeof stamps); /* before the client may become realtime */
  char sched[96] = "other";
  if (o.fifo) {
    struct sched_param sp = {.sched_priority = LCHTTP_RT_PRIORITY};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
      snprintf(sched, sizeof sched, "fifo %d", LCHTTP_RT_PRIORITY);
    else snprintf(sched, sizeof sched, "other (SCHED_FIFO refused: %s)", strerror(errno));
  }
  char waitwhat[96];
  o.spin = ol_wait_mode(wait, !strncmp(sched, "fifo", 4), waitwhat, sizeof waitwhat);
  char idle[96] = "halting (not asked)";
  if (o.idle_poll) hold_idle_poll(idle, sizeof idle);
  double cpu0 = cpu_s();
  int64_t rq0 = runq_wait_ns();
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  int64_t wall0 = lc_clock_ns();
  int rc = lc_run(b, NULL, ol_main, &o, NULL);
  if (rc < 0) {
    lch_error("open-loop client: %s", strerror(-rc));
    return 1;
  }
  int64_t rq1 = runq_wait_ns();
  getrusage(RUSAGE_SELF, &ru1);
  double cpu = cpu_s() - cpu0, wall = (double)(lc_clock_ns() - wall0) / 1e9;
  json_t *j = json_object();
  json_object_set_new(j, "target_rate", json_real(o.rate));
  json_object_set_new(j, "connections", json_integer(o.conns));
  json_object_set_new(j, "duration_s", json_real(o.duration));
  json_object_set_new(j, "warmup_s", json_real(o.warmup));
  json_object_set_new(j, "client_backend", json_string(b->name));
  json_object_set_new(j, "client_sched", json_string(sched));
  json_object_set_new(j, "sent", json_integer((json_int_t)o.sent));
  json_object_set_new(j, "completed", json_integer((json_int_t)o.done));
  json_object_set_new(j, "errors", json_integer((json_int_t)o.errors));
  json_object_set_new(j, "unfinished", json_integer((json_int_t)o.unfinished));
  json_object_set_new(j, "late_sends", json_integer((json_int_t)o.late_sends));
  json_object_set_new(j, "measured", json_integer((json_int_t)o.nlat));
  json_object_set_new(j, "achieved_rate", json_real((double)o.in_window / o.duration));
  if (o.first_error[0]) json_object_set_new(j, "first_error", json_string(o.first_error));
  json_object_set_new(j, "client_cpu_cores", json_real(wall > 0 ? cpu / wall : 0));
  double busy = cpu - (double)o.spin_idle / 1e9;
  json_object_set_new(j, "client_busy_cores", json_real(wall > 0 && busy > 0 ? busy / wall : 0));
  json_object_set_new(j, "idle_cpus", json_string(idle));
  if (rq0 >= 0 && rq1 >= rq0)
    json_object_set_new(j, "client_runq_wait_ms", json_real((double)(rq1 - rq0) / 1e6));
  json_object_set_new(j, "client_preemptions",
                      json_integer((json_int_t)(ru1.ru_nivcsw - ru0.ru_nivcsw)));
  json_object_set_new(j, "client_wait", json_string(waitwhat));
  json_object_set_new(j, "latency_windows_us", window_percentiles(o.lat, o.win, o.nlat));
  /* each latency less the client's own share (before percentiles() sorts them apart): about
   * what a client that cost nothing would have seen */
  int64_t *srv = lch_xcalloc(o.nlat ? o.nlat : 1, sizeof *srv);
  for (size_t i = 0; i < o.nlat; i++) srv[i] = o.lat[i] - o.own[i];
  json_object_set_new(j, "latency_us", percentiles(o.lat, o.nlat));
  json_object_set_new(j, "service_us", percentiles(o.svc, o.nlat));
  json_object_set_new(j, "send_lag_us", percentiles(o.lag, o.nlat));
  json_object_set_new(j, "client_lag_us", percentiles(o.own, o.nlat));
  json_object_set_new(j, "read_delay_us", percentiles(o.rdel, o.nlat));
  json_object_set_new(j, "server_latency_us", percentiles(srv, o.nlat));
  json_object_set_new(j, "rx_stamps", json_string(stamps));
  json_object_set_new(j, "rx_stamped", json_integer((json_int_t)o.stamped));
  char *s = json_dumps(j, JSON_COMPACT);
  puts(s);
  free(s);
  json_decref(j);
  free(o.lat);
  free(o.svc);
  free(o.lag);
  free(o.own);
  free(o.rdel);
  free(srv);
  free(o.win);
  return 0;
}
