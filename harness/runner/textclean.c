/* textclean.c: make child output safe to embed in TAP (YAML), JUnit (XML) and the text report. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

char *lch_text_clean(const char *s, size_t n) {
  struct lch_buf out = {0};
  lch_buf_append(&out, "", 0);
  size_t i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      /* XML 1.0 allows TAB, LF and CR only; CR is dropped so line ends stay uniform. */
      if (c == '\t' || c == '\n' || (c >= 0x20 && c != 0x7f))
        lch_buf_append(&out, &s[i], 1);
      else if (c != '\r')
        lch_buf_append(&out, "?", 1);
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
