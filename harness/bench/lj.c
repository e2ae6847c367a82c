/* lj.c: the JSON tree of lj.h: a recursive-descent parser and an indenting writer. */
#include "lj.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LJ_MAX_DEPTH 64

struct parser {
  const char *p, *end, *start;
  char *err;
  size_t errlen;
  int failed;
};

static void perr(struct parser *ps, const char *fmt, ...) {
  if (ps->failed) return;
  ps->failed = 1;
  int line = 1;
  for (const char *q = ps->start; q < ps->p && q < ps->end; q++) line += *q == '\n';
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(ps->err, ps->errlen, "line %d: %s", line, msg);
}

static void skip_ws(struct parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

lj *lj_new(lj_type type) {
  lj *v = calloc(1, sizeof *v);
  if (v) v->type = type;
  return v;
}

void lj_free(lj *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) {
    if (v->keys) free(v->keys[i]);
    lj_free(v->items[i]);
  }
  free(v->keys);
  free(v->items);
  free(v->text);
  free(v);
}

static int grow(lj *v) {
  if (v->n < v->cap) return 0;
  size_t cap = v->cap ? v->cap * 2 : 8;
  lj **items = realloc(v->items, cap * sizeof *items);
  if (!items) return -ENOMEM;
  v->items = items;
  if (v->type == LJ_OBJ) {
    char **keys = realloc(v->keys, cap * sizeof *keys);
    if (!keys) return -ENOMEM;
    v->keys = keys;
  }
  v->cap = cap;
  return 0;
}

int lj_push(lj *arr, lj *val) {
  if (!val || !arr || arr->type != LJ_ARR || grow(arr) < 0) {
    lj_free(val);
    return -ENOMEM;
  }
  arr->items[arr->n++] = val;
  return 0;
}

int lj_add(lj *obj, const char *key, lj *val) {
  char *k = key ? strdup(key) : NULL;
  if (!val || !k || !obj || obj->type != LJ_OBJ || grow(obj) < 0) {
    free(k);
    lj_free(val);
    return -ENOMEM;
  }
  obj->keys[obj->n] = k;
  obj->items[obj->n++] = val;
  return 0;
}

void lj_del(lj *obj, const char *key) {
  if (!obj || obj->type != LJ_OBJ) return;
  size_t w = 0;
  for (size_t i = 0; i < obj->n; i++) {
    if (strcmp(obj->keys[i], key) == 0) {
      free(obj->keys[i]);
      lj_free(obj->items[i]);
      continue;
    }
    obj->keys[w] = obj->keys[i];
    obj->items[w++] = obj->items[i];
  }
  obj->n = w;
}

int lj_set(lj *obj, const char *key, lj *val) {
  lj_del(obj, key);
  return lj_add(obj, key, val);
}

lj *lj_new_str(const char *s) {
  lj *v = lj_new(LJ_STR);
  if (v && !(v->text = strdup(s ? s : ""))) {
    free(v);
    return NULL;
  }
  return v;
}

lj *lj_new_num(double x) {
  lj *v = lj_new(LJ_NUM);
  if (!v) return NULL;
  char buf[64];
  if (!isfinite(x)) x = 0; /* JSON has no inf/nan */
  snprintf(buf, sizeof buf, "%.17g", x);
  v->num = x;
  if (!(v->text = strdup(buf))) {
    free(v);
    return NULL;
  }
  return v;
}

lj *lj_copy(const lj *v) {
  if (!v) return NULL;
  lj *c = lj_new(v->type);
  if (!c) return NULL;
  c->num = v->num;
  if (v->text && !(c->text = strdup(v->text))) goto fail;
  for (size_t i = 0; i < v->n; i++) {
    lj *item = lj_copy(v->items[i]);
    if ((v->type == LJ_OBJ ? lj_add(c, v->keys[i], item) : lj_push(c, item)) < 0) goto fail;
  }
  return c;
fail:
  lj_free(c);
  return NULL;
}

lj *lj_get(const lj *v, const char *key) {
  if (!v || v->type != LJ_OBJ) return NULL;
  for (size_t i = 0; i < v->n; i++)
    if (strcmp(v->keys[i], key) == 0) return v->items[i];
  return NULL;
}

const char *lj_get_str(const lj *v, const char *key) {
  lj *m = lj_get(v, key);
  return m && m->type == LJ_STR ? m->text : NULL;
}

double lj_get_num(const lj *v, const char *key, double dflt) {
  lj *m = lj_get(v, key);
  return m && m->type == LJ_NUM ? m->num : dflt;
}

/* ---- Parsing ----------------------------------------------------------------------------- */

static lj *parse_value(struct parser *ps, int depth);

static int hex4(struct parser *ps, unsigned *out) {
  if (ps->end - ps->p < 4) return -1;
  unsigned x = 0;
  for (int i = 0; i < 4; i++) {
    char c = ps->p[i];
    x <<= 4;
    if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') x |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') x |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  ps->p += 4;
  *out = x;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Parse a string starting at the opening quote; returns a malloc'ed copy. */
static char *parse_string(struct parser *ps) {
  ps->p++; /* opening quote */
  const char *q = ps->p;
  size_t maxlen = 0;
  while (q < ps->end && *q != '"') { /* upper bound of the decoded length */
    if (*q == '\\') q++;
    q++;
    maxlen++;
  }
  char *out = malloc(maxlen * 4 + 1), *o = out;
  if (!out) {
    perr(ps, "out of memory");
    return NULL;
  }
  for (;;) {
    if (ps->p >= ps->end) {
      perr(ps, "unterminated string");
      break;
    }
    unsigned char c = (unsigned char)*ps->p++;
    if (c == '"') {
      *o = '\0';
      return out;
    }
    if (c < 0x20) {
      perr(ps, "control character in string");
      break;
    }
    if (c != '\\') {
      *o++ = (char)c;
      continue;
    }
    if (ps->p >= ps->end) {
      perr(ps, "unterminated string");
      break;
    }
    char e = *ps->p++;
    switch (e) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (hex4(ps, &cp) < 0) {
          perr(ps, "bad \\u escape");
          goto fail;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
              (ps->p += 2, hex4(ps, &lo) < 0) || lo < 0xDC00 || lo > 0xDFFF) {
            perr(ps, "bad surrogate pair");
            goto fail;
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          perr(ps, "lone low surrogate");
          goto fail;
        }
        if (cp == 0) {
          perr(ps, "\\u0000 is not supported");
          goto fail;
        }
        o += put_utf8(o, cp);
        break;
      }
      default:
        perr(ps, "bad escape '\\%c'", e);
        goto fail;
    }
  }
fail:
  free(out);
  return NULL;
}

static lj *parse_number(struct parser *ps) {
  const char *s = ps->p;
  if (ps->p < ps->end && *ps->p == '-') ps->p++;
  if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) {
    perr(ps, "bad number");
    return NULL;
  }
  if (*ps->p == '0') ps->p++;
  else while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) {
      perr(ps, "bad number");
      return NULL;
    }
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) {
      perr(ps, "bad number");
      return NULL;
    }
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  lj *v = lj_new(LJ_NUM);
  if (!v || !(v->text = strndup(s, (size_t)(ps->p - s)))) {
    free(v);
    perr(ps, "out of memory");
    return NULL;
  }
  v->num = strtod(v->text, NULL);
  return v;
}

static int literal(struct parser *ps, const char *word) {
  size_t len = strlen(word);
  if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0) return 0;
  ps->p += len;
  return 1;
}

static lj *parse_container(struct parser *ps, int depth, int is_obj) {
  lj *v = lj_new(is_obj ? LJ_OBJ : LJ_ARR);
  if (!v) {
    perr(ps, "out of memory");
    return NULL;
  }
  char close = is_obj ? '}' : ']';
  ps->p++;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return v;
  }
  for (;;) {
    char *key = NULL;
    skip_ws(ps);
    if (is_obj) {
      if (ps->p >= ps->end || *ps->p != '"') {
        perr(ps, "expected a string key");
        break;
      }
      if (!(key = parse_string(ps))) break;
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        free(key);
        perr(ps, "expected ':'");
        break;
      }
      ps->p++;
    }
    lj *item = parse_value(ps, depth + 1);
    if (!item) {
      free(key);
      break;
    }
    int rc = is_obj ? lj_add(v, key, item) : lj_push(v, item);
    free(key);
    if (rc < 0) {
      perr(ps, "out of memory");
      break;
    }
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == close) {
      ps->p++;
      return v;
    }
    perr(ps, "expected ',' or '%c'", close);
    break;
  }
  lj_free(v);
  return NULL;
}

static lj *parse_value(struct parser *ps, int depth) {
  if (depth > LJ_MAX_DEPTH) {
    perr(ps, "nested too deeply");
    return NULL;
  }
  skip_ws(ps);
  if (ps->p >= ps->end) {
    perr(ps, "unexpected end of input");
    return NULL;
  }
  char c = *ps->p;
  if (c == '{' || c == '[') return parse_container(ps, depth, c == '{');
  if (c == '"') {
    char *s = parse_string(ps);
    if (!s) return NULL;
    lj *v = lj_new(LJ_STR);
    if (!v) {
      free(s);
      perr(ps, "out of memory");
      return NULL;
    }
    v->text = s;
    return v;
  }
  if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps);
  if (literal(ps, "true")) return lj_new(LJ_TRUE);
  if (literal(ps, "false")) return lj_new(LJ_FALSE);
  if (literal(ps, "null")) return lj_new(LJ_NULL);
  perr(ps, "unexpected character '%c'", c);
  return NULL;
}

lj *lj_parse(const char *text, size_t len, char *err, size_t errlen) {
  struct parser ps = {.p = text, .end = text + len, .start = text, .err = err, .errlen = errlen};
  lj *v = parse_value(&ps, 0);
  if (v) {
    skip_ws(&ps);
    if (ps.p != ps.end) {
      perr(&ps, "trailing data after the document");
      lj_free(v);
      v = NULL;
    }
  }
  return v;
}

lj *lj_parse_file(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    len += fread(buf + len, 1, cap - len, f);
    if (len < cap) break;
    char *nb = realloc(buf, cap * 2);
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  int rerr = ferror(f);
  fclose(f);
  if (!buf || rerr) {
    snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
    free(buf);
    return NULL;
  }
  char msg[256];
  lj *v = lj_parse(buf, len, msg, sizeof msg);
  free(buf);
  if (!v) snprintf(err, errlen, "%s: malformed JSON: %s", path, msg);
  return v;
}

/* ---- Writing ----------------------------------------------------------------------------- */

static void write_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
      case '"': fputs("\\\"", f); break;
      case '\\': fputs("\\\\", f); break;
      case '\n': fputs("\\n", f); break;
      case '\r': fputs("\\r", f); break;
      case '\t': fputs("\\t", f); break;
      default:
        if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
  }
  fputc('"', f);
}

static void write_value(FILE *f, const lj *v, int indent) {
  switch (v->type) {
    case LJ_NULL: fputs("null", f); return;
    case LJ_FALSE: fputs("false", f); return;
    case LJ_TRUE: fputs("true", f); return;
    case LJ_NUM: fputs(v->text, f); return;
    case LJ_STR: write_string(f, v->text); return;
    case LJ_ARR:
    case LJ_OBJ: break;
  }
  int obj = v->type == LJ_OBJ;
  if (v->n == 0) {
    fputs(obj ? "{}" : "[]", f);
    return;
  }
  fputc(obj ? '{' : '[', f);
  for (size_t i = 0; i < v->n; i++) {
    fprintf(f, "%s\n%*s", i ? "," : "", indent + 2, "");
    if (obj) {
      write_string(f, v->keys[i]);
      fputs(": ", f);
    }
    write_value(f, v->items[i], indent + 2);
  }
  fprintf(f, "\n%*s%c", indent, "", obj ? '}' : ']');
}

int lj_write(FILE *f, const lj *v) {
  write_value(f, v, 0);
  fputc('\n', f);
  return ferror(f) ? -EIO : 0;
}
