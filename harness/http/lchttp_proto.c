/* lchttp_proto.c: request parsing (llhttp, or http_parser as the fallback) and the responses
 * every loopconf HTTP server sends. See lchttp_proto.h. */
#include "lchttp_proto.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef LCHTTP_USE_HTTP_PARSER
#include <http_parser.h>
typedef http_parser parser_t;
typedef http_parser_settings settings_t;
#define P_PAUSE_RC (-1) /* http_parser has no pause from a callback: stop with an error */
#else
#include <llhttp.h>
typedef llhttp_t parser_t;
typedef llhttp_settings_t settings_t;
#endif

struct lchttp_parser {
  parser_t p;
  struct lchttp_conn *conn;
  int stopped; /* on_message_complete asked to stop (Connection: close) */
};

const char *lchttp_parser_name(void) {
#ifdef LCHTTP_USE_HTTP_PARSER
  static char name[32];
  unsigned long v = http_parser_version();
  snprintf(name, sizeof name, "http_parser %lu.%lu.%lu", (v >> 16) & 255, (v >> 8) & 255, v & 255);
  return name;
#else
  return "llhttp " LCHTTP_STR(LLHTTP_VERSION_MAJOR) "." LCHTTP_STR(
      LLHTTP_VERSION_MINOR) "." LCHTTP_STR(LLHTTP_VERSION_PATCH);
#endif
}

const char *lchttp_date(void) {
  static _Thread_local time_t cached = (time_t)-1;
  static _Thread_local char buf[40];
  time_t now = time(NULL);
  if (now != cached) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = now;
  }
  return buf;
}

static void respond(struct lchttp_conn *c, int status, const char *reason, const char *type,
                    const char *body, int close) {
  size_t blen = strlen(body);
  lch_buf_printf(&c->out,
                 "HTTP/1.1 %d %s\r\nServer: " LCHTTP_SERVER_NAME
                 "\r\nDate: %s\r\n"
                 "Content-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
                 status, reason, lchttp_date(), type, blen, close ? "Connection: close\r\n" : "");
  if (!c->head) lch_buf_append(&c->out, body, blen);
}

static struct lchttp_conn *conn_of(parser_t *p) { return ((struct lchttp_parser *)p)->conn; }

static int on_message_begin(parser_t *p) {
  struct lchttp_conn *c = conn_of(p);
  c->in_message = 1;
  c->headers_done = 0;
  c->url_len = 0;
  c->url_long = 0;
  c->header_bytes = 0;
  c->too_large = 0;
  return 0;
}

static int count_header(struct lchttp_conn *c, size_t n) {
  c->header_bytes += n;
  if (c->header_bytes > c->max_header_bytes) {
    c->too_large = 1;
    return -1;
  }
  return 0;
}

static int on_url(parser_t *p, const char *at, size_t n) {
  struct lchttp_conn *c = conn_of(p);
  if (c->url_len + n < sizeof c->url) {
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
  } else {
    c->url_long = 1;
  }
  return count_header(c, n);
}

static int on_header_data(parser_t *p, const char *at, size_t n) {
  (void)at;
  return count_header(conn_of(p), n);
}

static int on_headers_complete(parser_t *p) {
  struct lchttp_conn *c = conn_of(p);
  c->headers_done = 1;
#ifdef LCHTTP_USE_HTTP_PARSER
  c->head = p->method == HTTP_HEAD;
  unsigned major = p->http_major, minor = p->http_minor;
#else
  c->head = llhttp_get_method(p) == HTTP_HEAD;
  unsigned major = llhttp_get_http_major(p), minor = llhttp_get_http_minor(p);
#endif
  /* HTTP/1.0 and 1.1 only (http_parser takes any digits; llhttp already refuses others) */
  return major == 1 && minor <= 1 ? 0 : -1;
}

static int on_message_complete(parser_t *p) {
  struct lchttp_conn *c = conn_of(p);
#ifdef LCHTTP_USE_HTTP_PARSER
  int keep = http_should_keep_alive(p);
#else
  int keep = llhttp_should_keep_alive(p);
#endif
  int close = !keep;
  const char *url = c->url;
  size_t ul = c->url_long ? 0 : c->url_len;
  if (ul == 10 && memcmp(url, "/plaintext", 10) == 0)
    respond(c, 200, "OK", "text/plain", LCHTTP_PLAINTEXT_BODY, close);
  else if (ul == 5 && memcmp(url, "/json", 5) == 0)
    respond(c, 200, "OK", "application/json", LCHTTP_JSON_BODY, close);
  else respond(c, 404, "Not Found", "text/plain", "Not Found", close);
  c->requests++;
  c->in_message = 0;
  c->headers_done = 0;
  c->head = 0;
  c->window++;
  if (close) {
    c->close = 1;
    ((struct lchttp_parser *)p)->stopped = 1;
#ifdef LCHTTP_USE_HTTP_PARSER
    return P_PAUSE_RC;
#else
    return HPE_PAUSED;
#endif
  }
  return 0;
}

static settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void settings_init(void) {
  memset(&settings, 0, sizeof settings);
#ifndef LCHTTP_USE_HTTP_PARSER
  llhttp_settings_init(&settings);
#endif
  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_header_data;
  settings.on_header_value = on_header_data;
  settings.on_headers_complete = on_headers_complete;
  settings.on_message_complete = on_message_complete;
}

void lchttp_conn_init(struct lchttp_conn *c, size_t max_header_bytes) {
  pthread_once(&settings_once, settings_init); /* connection threads start concurrently */
  memset(c, 0, sizeof *c);
  c->max_header_bytes = max_header_bytes ? max_header_bytes : LCHTTP_DEFAULT_MAX_HEADER_BYTES;
  struct lchttp_parser *hp = lch_xcalloc(1, sizeof *hp);
  hp->conn = c;
#ifdef LCHTTP_USE_HTTP_PARSER
  http_parser_init(&hp->p, HTTP_REQUEST);
#else
  llhttp_init(&hp->p, HTTP_REQUEST, &settings);
#endif
  c->parser = hp;
}

void lchttp_conn_free(struct lchttp_conn *c) {
  free(c->parser);
  c->parser = NULL;
  lch_buf_free(&c->out);
}

static void bad_request(struct lchttp_conn *c) {
  c->head = 0;
  if (c->too_large)
    respond(c, 431, "Request Header Fields Too Large", "text/plain",
            "Request Header Fields Too Large", 1);
  else respond(c, 400, "Bad Request", "text/plain", "Bad Request", 1);
  c->close = 1;
}

int lchttp_conn_feed(struct lchttp_conn *c, const char *data, size_t n) {
  if (c->close) return 1;
  struct lchttp_parser *hp = c->parser;
#ifdef LCHTTP_USE_HTTP_PARSER
  size_t used = http_parser_execute(&hp->p, &settings, data, n);
  if (hp->stopped) return 1;
  if (HTTP_PARSER_ERRNO(&hp->p) != HPE_OK || used != n) bad_request(c);
#else
  llhttp_errno_t err = llhttp_execute(&hp->p, data, n);
  if (hp->stopped) return 1;
  if (err != HPE_OK) bad_request(c); /* includes upgrades, which no route serves */
#endif
  return c->close;
}

int lchttp_conn_eof(struct lchttp_conn *c) { return c->in_message; }

int lchttp_conn_waiting(const struct lchttp_conn *c) { return !c->close && !c->headers_done; }
