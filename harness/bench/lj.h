/* lj.h: a small JSON tree (parse, build, write) for results files. No dependencies.
 *
 * Numbers keep their source text so a parse/write round trip does not change them. Objects
 * keep their keys in order (duplicates are kept; lj_get returns the first). Nesting is limited
 * to 64 levels; strings must be valid JSON (escapes, \uXXXX with surrogate pairs -> UTF-8).
 */
#ifndef LOOPCONF_LJ_H
#define LOOPCONF_LJ_H

#include <stddef.h>
#include <stdio.h>

typedef enum { LJ_NULL, LJ_FALSE, LJ_TRUE, LJ_NUM, LJ_STR, LJ_ARR, LJ_OBJ } lj_type;

typedef struct lj {
  lj_type type;
  double num;        /* LJ_NUM */
  char *text;        /* LJ_STR: the string (NUL-terminated); LJ_NUM: its source text */
  size_t n, cap;     /* LJ_ARR / LJ_OBJ: element count */
  char **keys;       /* LJ_OBJ */
  struct lj **items; /* LJ_ARR / LJ_OBJ */
} lj;

/* Parse a whole document. On error returns NULL and writes "line L: what" into err. */
lj *lj_parse(const char *text, size_t len, char *err, size_t errlen);

/* Read and parse a file. On error returns NULL with "PATH: reason" in err. */
lj *lj_parse_file(const char *path, char *err, size_t errlen);

void lj_free(lj *v);

/* Member of an object (NULL if v is not an object or has no such key). */
lj *lj_get(const lj *v, const char *key);
/* The string of a string member, or NULL. */
const char *lj_get_str(const lj *v, const char *key);
/* The value of a number member, or `dflt`. */
double lj_get_num(const lj *v, const char *key, double dflt);

/* Builders. Each returns NULL on allocation failure; lj_add/lj_push take ownership of val
 * (freed on failure) and return 0 or -ENOMEM. */
lj *lj_new(lj_type type);
lj *lj_new_str(const char *s);
lj *lj_new_num(double x);
lj *lj_copy(const lj *v);
int lj_add(lj *obj, const char *key, lj *val);
int lj_push(lj *arr, lj *val);
/* Replace or add a member. */
int lj_set(lj *obj, const char *key, lj *val);
/* Remove a member (all with that key). */
void lj_del(lj *obj, const char *key);

/* Write v as indented JSON. Returns 0 or -EIO. */
int lj_write(FILE *f, const lj *v);

#endif /* LOOPCONF_LJ_H */
