/* verdict.c: verdict names and turning a finished cell process into an outcome. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

static const char *const lc_verdict_names[LC_VERDICT_COUNT] = {
    "PASS", "FAIL", "XFAIL", "XPASS", "SKIP", "TIMEOUT", "CRASH", "FLAKY"};

const char *lc_verdict_name(enum lc_verdict v) {
  return (unsigned)v < LC_VERDICT_COUNT ? lc_verdict_names[v] : "?";
}

int lc_verdict_parse_expectable(const char *s) {
  if (strcmp(s, "FAIL") == 0) return LC_FAIL;
  if (strcmp(s, "TIMEOUT") == 0) return LC_TIMEOUT;
  if (strcmp(s, "CRASH") == 0) return LC_CRASH;
  return -1;
}

int lc_verdict_expected(enum lc_verdict v) {
  return v == LC_PASS || v == LC_XFAIL || v == LC_SKIP;
}

void lc_outcome_free(struct lc_outcome *o) {
  free(o->reason);
  free(o->version);
  free(o->log);
  for (size_t i = 0; i < o->nchars; i++) {
    free(o->chars[i].key);
    free(o->chars[i].value);
  }
  free(o->chars);
  sl_free(&o->notes);
  memset(o, 0, sizeof *o);
}

/* What the result channel said. */
struct lc_channel_state {
  struct lc_outcome *o;
  char *skip, *fail, *error;
  int ended;
};

static void lc_on_record(const char *kind, const char *f1, const char *f2, void *ud) {
  struct lc_channel_state *st = ud;
  struct lc_outcome *o = st->o;
  if (strcmp(kind, "backend") == 0) {
    free(o->version);
    o->version = xstrdup(f2);
  } else if (strcmp(kind, "char") == 0) {
    o->chars = xrealloc(o->chars, (o->nchars + 1) * sizeof *o->chars);
    o->chars[o->nchars].key = xstrdup(f1);
    o->chars[o->nchars].value = xstrdup(f2);
    o->nchars++;
  } else if (strcmp(kind, "skip") == 0 && !st->skip) {
    st->skip = xstrdup(f1);
  } else if (strcmp(kind, "fail") == 0 && !st->fail) {
    st->fail = xstrdup(f1); /* the first failure is the cause; later ones are fallout */
  } else if (strcmp(kind, "error") == 0 && !st->error) {
    st->error = xstrdup(f1);
  } else if (strcmp(kind, "note") == 0) {
    sl_push(&o->notes, xstrdup(f1));
  } else if (strcmp(kind, "end") == 0) {
    st->ended = 1;
  }
}

/* A failure reason from the log: cmocka's ERROR/LINE lines if present, else the last three
 * non-empty lines. */
static char *lc_reason_from_log(const char *log) {
  struct strbuf sb = {0};
  const char *p = log;
  int found = 0;
  while (*p && found < 4) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if ((len > 16 && strncmp(p, "[  ERROR   ] --- ", 17) == 0) ||
        (len > 16 && strncmp(p, "[   LINE   ] --- ", 17) == 0)) {
      if (found++) sb_puts(&sb, " | ");
      sb_append(&sb, p + 17, len - 17);
    }
    p = nl ? nl + 1 : p + len;
  }
  if (found) return sb.data;
  /* Keep the last three non-empty lines. */
  const char *last[3] = {NULL, NULL, NULL};
  size_t lens[3] = {0, 0, 0};
  for (p = log; *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len) {
      memmove(&last[0], &last[1], 2 * sizeof last[0]);
      memmove(&lens[0], &lens[1], 2 * sizeof lens[0]);
      last[2] = p;
      lens[2] = len;
    }
    p += len + (nl ? 1 : 0);
  }
  for (int i = 0; i < 3; i++) {
    if (!last[i]) continue;
    if (sb.len) sb_puts(&sb, " | ");
    sb_append(&sb, last[i], lens[i]);
  }
  if (!sb.len) sb_puts(&sb, "no output");
  return sb.data;
}

void lc_outcome_from_proc(struct lc_outcome *o, struct lc_proc_result *res, long timeout_ms) {
  memset(o, 0, sizeof *o);
  struct lc_channel_state st = {.o = o};
  lc_channel_parse(res->result.data ? res->result.data : "", res->result.len, lc_on_record, &st);
  o->seconds = res->seconds;
  struct strbuf log = {0};
  if (res->log_dropped)
    sb_printf(&log, "[log truncated: the first %zu bytes were dropped]\n", res->log_dropped);
  if (res->log.len) sb_append(&log, res->log.data, res->log.len);
  o->log = log.data ? log.data : xstrdup("");

  if (res->spawn_errno) {
    o->verdict = LC_FAIL;
    o->reason = xasprintf("cannot start the child: %s", strerror(res->spawn_errno));
  } else if (res->timed_out) {
    o->verdict = LC_TIMEOUT;
    o->reason = xasprintf("no result within the time limit of %ld ms", timeout_ms);
  } else if (res->signo) {
    o->verdict = LC_CRASH;
    const char *abbrev = sigabbrev_np(res->signo);
    o->reason = xasprintf("killed by signal SIG%s (%s)%s%s", abbrev ? abbrev : "?",
                          strsignal(res->signo), st.fail ? " after: " : "",
                          st.fail ? st.fail : "");
  } else if (res->exit_code == 0 && st.skip) {
    o->verdict = LC_SKIP;
    o->reason = xstrdup(st.skip);
  } else if (res->exit_code == 0 && st.ended) {
    o->verdict = LC_PASS;
  } else if (res->exit_code == 0) {
    o->verdict = LC_FAIL;
    o->reason = xstrdup("the child exited with status 0 before the test finished");
  } else {
    o->verdict = LC_FAIL;
    if (st.error)
      o->reason = xasprintf("cannot run the cell: %s", st.error);
    else if (st.fail)
      o->reason = xstrdup(st.fail);
    else
      o->reason = lc_reason_from_log(o->log);
  }
  free(st.skip);
  free(st.fail);
  free(st.error);
}
