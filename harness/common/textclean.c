/* textclean.c: make untrusted text (child output, results files) safe to embed in TAP (YAML),
 * JUnit (XML), reports and terminal output. */
#include "host.h"

#include <stdlib.h>
#include <string.h>

int lch_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (c == 0 || len == 0 || (size_t)(end - p) < len) return 0;
    unsigned cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
      if ((p[i] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return 0;
    p += len;
  }
  return 1;
}

char *lch_text_clean(const char *s, size_t n) {
  struct lch_buf out = {0};
  lch_buf_append(&out, "", 0);
  size_t i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      /* XML 1.0 allows TAB, LF and CR only; CR is dropped so line ends stay uniform. */
      if (c == '\t' || c == '\n' || (c >= 0x20 && c != 0x7f)) lch_buf_append(&out, &s[i], 1);
      else if (c != '\r') lch_buf_append(&out, "?", 1);
      i++;
      continue;
    }
    size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len && i + len <= n && lch_utf8_valid(&s[i], len)) {
      lch_buf_append(&out, &s[i], len);
      i += len;
    } else {
      lch_buf_append(&out, "?", 1);
      i++;
    }
  }
  return out.data;
}

void lch_xml_escape(struct lch_buf *out, const char *s) {
  char *clean = lch_text_clean(s, strlen(s));
  for (const char *p = clean; *p; p++) {
    switch (*p) {
    case '&': lch_buf_puts(out, "&amp;"); break;
    case '<': lch_buf_puts(out, "&lt;"); break;
    case '>': lch_buf_puts(out, "&gt;"); break;
    case '"': lch_buf_puts(out, "&quot;"); break;
    case '\'': lch_buf_puts(out, "&apos;"); break;
    default: lch_buf_append(out, p, 1);
    }
  }
  free(clean);
}
