/* verdict.c: verdict names and turning a finished cell process into an outcome. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

static const char *const lcr_verdict_names[LCR_VERDICT_COUNT] = {
    "PASS", "FAIL", "XFAIL", "XPASS", "SKIP", "TIMEOUT", "CRASH", "FLAKY"};

const char *lcr_verdict_name(enum lcr_verdict v) {
  return (unsigned)v < LCR_VERDICT_COUNT ? lcr_verdict_names[v] : "?";
}

int lcr_verdict_parse_expectable(const char *s) {
  if (strcmp(s, "FAIL") == 0) return LCR_FAIL;
  if (strcmp(s, "TIMEOUT") == 0) return LCR_TIMEOUT;
  if (strcmp(s, "CRASH") == 0) return LCR_CRASH;
  return -1;
}

int lcr_verdict_expected(enum lcr_verdict v) {
  return v == LCR_PASS || v == LCR_XFAIL || v == LCR_SKIP;
}

void lcr_outcome_free(struct lcr_outcome *o) {
  free(o->reason);
  free(o->version);
  free(o->log);
  for (size_t i = 0; i < o->nchars; i++) {
    free(o->chars[i].key);
    free(o->chars[i].value);
  }
  free(o->chars);
  lch_strlist_free(&o->notes);
  memset(o, 0, sizeof *o);
}

/* What the result channel said. */
struct lcr_channel_state {
  struct lcr_outcome *o;
  char *skip, *fail, *error;
  int ended;
};

static void lcr_on_record(const char *kind, const char *f1, const char *f2, void *ud) {
  struct lcr_channel_state *st = ud;
  struct lcr_outcome *o = st->o;
  if (strcmp(kind, "backend") == 0) {
    free(o->version);
    o->version = lch_xstrdup(f2);
  } else if (strcmp(kind, "char") == 0) {
    o->chars = lch_xrealloc(o->chars, (o->nchars + 1) * sizeof *o->chars);
    o->chars[o->nchars].key = lch_xstrdup(f1);
    o->chars[o->nchars].value = lch_xstrdup(f2);
    o->nchars++;
  } else if (strcmp(kind, "skip") == 0 && !st->skip) {
    st->skip = lch_xstrdup(f1);
  } else if (strcmp(kind, "fail") == 0 && !st->fail) {
    st->fail = lch_xstrdup(f1); /* the first failure is the cause; later ones are fallout */
  } else if (strcmp(kind, "error") == 0 && !st->error) {
    st->error = lch_xstrdup(f1);
  } else if (strcmp(kind, "note") == 0) {
    lch_strlist_push(&o->notes, lch_xstrdup(f1));
  } else if (strcmp(kind, "end") == 0) {
    st->ended = 1;
  }
}

/* A failure reason from the log: cmocka's ERROR/LINE lines if present, else the last three
 * non-empty lines. */
static char *lcr_reason_from_log(const char *log) {
  struct lch_buf sb = {0};
  const char *p = log;
  int found = 0;
  while (*p && found < 4) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if ((len > 16 && strncmp(p, "[  ERROR   ] --- ", 17) == 0) ||
        (len > 16 && strncmp(p, "[   LINE   ] --- ", 17) == 0)) {
      if (found++) lch_buf_puts(&sb, " | ");
      lch_buf_append(&sb, p + 17, len - 17);
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
    if (sb.len) lch_buf_puts(&sb, " | ");
    lch_buf_append(&sb, last[i], lens[i]);
  }
  if (!sb.len) lch_buf_puts(&sb, "no output");
  return sb.data;
}

void lcr_outcome_from_proc(struct lcr_outcome *o, struct lch_proc_result *res, long timeout_ms) {
  memset(o, 0, sizeof *o);
  struct lcr_channel_state st = {.o = o};
  lcr_channel_parse(res->result.data ? res->result.data : "", res->result.len, lcr_on_record, &st);
  o->seconds = res->seconds;
  struct lch_buf log = {0};
  if (res->log_dropped)
    lch_buf_printf(&log, "[log truncated: the first %zu bytes were dropped]\n", res->log_dropped);
  if (res->log.len) lch_buf_append(&log, res->log.data, res->log.len);
  o->log = log.data ? log.data : lch_xstrdup("");

  if (res->spawn_errno) {
    o->verdict = LCR_FAIL;
    o->reason = lch_xasprintf("cannot start the child: %s", strerror(res->spawn_errno));
  } else if (res->timed_out) {
    o->verdict = LCR_TIMEOUT;
    o->reason = lch_xasprintf("no result within the time limit of %ld ms", timeout_ms);
  } else if (res->signo) {
    o->verdict = LCR_CRASH;
    const char *abbrev = sigabbrev_np(res->signo);
    o->reason =
        lch_xasprintf("killed by signal SIG%s (%s)%s%s", abbrev ? abbrev : "?",
                      strsignal(res->signo), st.fail ? " after: " : "", st.fail ? st.fail : "");
  } else if (res->exit_code == 0 && st.skip) {
    o->verdict = LCR_SKIP;
    o->reason = lch_xstrdup(st.skip);
  } else if (res->exit_code == 0 && st.ended) {
    o->verdict = LCR_PASS;
  } else if (res->exit_code == 0) {
    o->verdict = LCR_FAIL;
    o->reason = lch_xstrdup("the child exited with status 0 before the test finished");
  } else {
    o->verdict = LCR_FAIL;
    if (st.error) o->reason = lch_xasprintf("cannot run the cell: %s", st.error);
    else if (st.fail) o->reason = lch_xstrdup(st.fail);
    else o->reason = lcr_reason_from_log(o->log);
  }
  free(st.skip);
  free(st.fail);
  free(st.error);
}
