/* outfile.c: write output files atomically (FILE.tmp.<pid>, fsync, rename). */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lch_outfile_open(struct lch_outfile *o, const char *path) {
  memset(o, 0, sizeof *o);
  o->path = lch_xstrdup(path);
  o->tmp = lch_xasprintf("%s.tmp.%ld", path, (long)getpid());
  o->f = fopen(o->tmp, "we"); /* close-on-exec: cell children must not inherit it */
  if (!o->f) {
    lch_error("cannot create %s: %s", o->tmp, strerror(errno));
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
    return -1;
  }
  return 0;
}

/* fsync the directory holding path so the rename itself is durable. */
static void sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir =
      slash ? lch_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : lch_xstrdup(".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

int lch_outfile_commit(struct lch_outfile *o) {
  if (!o->f) return 0;
  int ok = fflush(o->f) == 0 && !ferror(o->f) && fsync(fileno(o->f)) == 0;
  int e = errno;
  if (fclose(o->f) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  o->f = NULL;
  if (ok && rename(o->tmp, o->path) != 0) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    lch_error("cannot write %s: %s", o->path, strerror(e));
    unlink(o->tmp);
  } else {
    sync_dir(o->path);
  }
  free(o->path);
  free(o->tmp);
  o->path = o->tmp = NULL;
  return ok ? 0 : -1;
}

void lch_outfile_abort(struct lch_outfile *o) {
  if (o->f) {
    fclose(o->f);
    unlink(o->tmp);
  }
  free(o->path);
  free(o->tmp);
  memset(o, 0, sizeof *o);
}

int lch_outfile_check(const char *path, const char *what) {
  if (!*path) {
    lch_error("%s: empty file name", what);
    return -1;
  }
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    lch_error("%s %s: is a directory", what, path);
    return -1;
  }
  const char *slash = strrchr(path, '/');
  char *dir =
      slash ? lch_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : lch_xstrdup(".");
  int ok = access(dir, W_OK | X_OK) == 0;
  int e = errno;
  if (!ok) lch_error("%s %s: cannot write in %s: %s", what, path, dir, strerror(e));
  free(dir);
  return ok ? 0 : -1;
}
