/* json.c: reading and writing JSON results files through jansson. */
#include "host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

json_t *lch_json_load(const char *path) {
  json_error_t err;
  /* JSON_REJECT_DUPLICATES: a results file with a key twice is malformed, not ambiguous. */
  json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
  if (!doc) {
    FILE *f = fopen(path, "r");
    if (!f) {
      lch_error("%s: %s", path, strerror(errno));
    } else {
      fclose(f);
      if (err.line > 0) lch_error("%s: not valid JSON: %s (line %d)", path, err.text, err.line);
      else lch_error("%s: not valid JSON: %s", path, err.text);
    }
  }
  return doc;
}

static int write_cb(const char *buffer, size_t size, void *data) {
  return fwrite(buffer, 1, size, (FILE *)data) == size ? 0 : -1;
}

int lch_json_write(const char *path, const json_t *doc) {
  struct lch_outfile o;
  if (lch_outfile_open(&o, path) < 0) return -1;
  if (json_dump_callback(doc, write_cb, o.f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
      fputc('\n', o.f) == EOF) {
    lch_error("cannot write %s: %s", path, strerror(errno ? errno : EIO));
    lch_outfile_abort(&o);
    return -1;
  }
  return lch_outfile_commit(&o);
}

const char *lch_json_str(const json_t *obj, const char *key) {
  return json_string_value(json_object_get(obj, key));
}

double lch_json_num(const json_t *obj, const char *key, double dflt) {
  json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : dflt;
}
