/* lchttp_proto.h: the HTTP/1.1 part every loopconf HTTP server shares (harness/http).
 *
 * A connection feeds the bytes it reads to lchttp_conn_feed, which parses them with llhttp (or
 * the older http_parser where llhttp is absent) and appends the responses, in request order, to
 * conn->out; the transport sends conn->out and empties it. Pipelined requests in one read get
 * their responses in one batch. Routes (TechEmpower's): GET /plaintext -> "Hello, World!" as
 * text/plain, GET /json -> {"message":"Hello, World!"} as application/json, anything else 404.
 * Every response has Server, Date (the current second, RFC 7231 format), Content-Type and
 * Content-Length.
 *
 * Bad input: a request the parser rejects gets 400 and the connection is closed; a request
 * whose URL and header names and values exceed max_header_bytes gets 431 and is closed. The
 * header timeout is the transport's job: lchttp_conn_waiting tells it when a request's headers
 * are due (from the connection's start or the previous request's end until its headers are
 * complete) and conn->window changes each time a new such wait begins. */
#ifndef LCHTTP_PROTO_H
#define LCHTTP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "host.h"

#define LCHTTP_DEFAULT_MAX_HEADER_BYTES (8 * 1024)
#define LCHTTP_DEFAULT_HEADER_TIMEOUT_MS 10000

struct lchttp_parser; /* llhttp_t or http_parser, opaque here */

struct lchttp_conn {
  struct lchttp_parser *parser;
  struct lch_buf out; /* responses waiting to be sent */
  char url[64];
  size_t url_len;
  int url_long;        /* the URL did not fit: no route matches */
  size_t header_bytes; /* URL + header names + values of the current request */
  size_t max_header_bytes;
  int too_large;          /* the current request exceeded max_header_bytes */
  int in_message;         /* a request has begun */
  int headers_done;       /* ... and its headers are complete */
  int head;               /* the current request is HEAD */
  int close;              /* close once out is sent */
  unsigned window;        /* changes whenever a new header wait starts */
  unsigned long requests; /* requests answered */
};

/* The parser in use: "llhttp 8.1.0" or "http_parser 2.9.4". */
const char *lchttp_parser_name(void);

void lchttp_conn_init(struct lchttp_conn *c, size_t max_header_bytes);
void lchttp_conn_free(struct lchttp_conn *c);
/* Parse n bytes; responses are appended to c->out. Returns 0 to go on reading, 1 when the
 * connection must be closed once c->out is sent (a bad request, or Connection: close);
 * bytes after that point are ignored. */
int lchttp_conn_feed(struct lchttp_conn *c, const char *data, size_t n);
/* The peer closed its side: 1 if a request was cut short (nothing more to answer). */
int lchttp_conn_eof(struct lchttp_conn *c);
/* 1 while the connection waits for (the rest of) a request's headers. */
int lchttp_conn_waiting(const struct lchttp_conn *c);

/* The Date header's value for now ("Tue, 01 Dec 2026 11:16:22 GMT", 29 chars + NUL), cached per
 * thread and recomputed when the second changes. */
const char *lchttp_date(void);

/* The bodies, for the verifiers. */
#define LCHTTP_PLAINTEXT_BODY "Hello, World!"
#define LCHTTP_JSON_BODY "{\"message\":\"Hello, World!\"}"
#define LCHTTP_SERVER_NAME "loopconf"

#define LCHTTP_STR_(x) #x
#define LCHTTP_STR(x) LCHTTP_STR_(x)

#endif /* LCHTTP_PROTO_H */
