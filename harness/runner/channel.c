/* channel.c: parse the result channel a cell child writes (format: see lc_test.c). */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

/* Undo the \\ \t \n \r escapes of one field in place. */
static void lcr_unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (*r == '\\' && r[1]) {
      r++;
      *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

void lcr_channel_parse(const char *text, size_t len, lcr_channel_fn cb, void *ud) {
  size_t start = 0;
  while (start < len) {
    const char *nl = memchr(text + start, '\n', len - start);
    /* A last line without a newline was cut short (the child died mid-write): ignore it. */
    if (!nl) break;
    char *line = lch_xstrndup(text + start, (size_t)(nl - (text + start)));
    start = (size_t)(nl - text) + 1;
    char *fields[3] = {line, NULL, NULL};
    char *tab = strchr(line, '\t');
    if (tab) {
      *tab = '\0';
      fields[1] = tab + 1;
      tab = strchr(fields[1], '\t');
      if (tab) {
        *tab = '\0';
        fields[2] = tab + 1;
      }
    }
    for (int i = 1; i < 3; i++)
      if (fields[i]) lcr_unescape(fields[i]);
    cb(fields[0], fields[1] ? fields[1] : "", fields[2] ? fields[2] : "", ud);
    free(line);
  }
}
