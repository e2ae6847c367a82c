/* arena_test.c: the copy-stack mode's small-object arena (arena.h): objects of one class are
 * reused, reused memory handed out by calloc is zero, live objects never overlap across chunk
 * boundaries (up to the 2 MiB huge-page chunks), big objects fall back to malloc, and an arena
 * closed with objects alive stays valid until the last one is freed: a copy-stack task still
 * referenced after lc_run returns keeps its struct. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "rt_test.h"

static void test_class_reuse_and_zeroing(void **state) {
  (void)state;
  lc_arena *a = lc_arena_new();
  assert_non_null(a);
  unsigned char *p = lc_arena_alloc(a, 100);
  assert_non_null(p);
  memset(p, 0xAB, 100);
  lc_arena_free(a, p, 100);
  unsigned char *q = lc_arena_calloc(a, 97); /* the same 112-byte class */
  assert_non_null(q);
  if (!lc_arena_is_plain(a)) assert_ptr_equal(p, q);
  for (int i = 0; i < 97; i++) assert_int_equal(q[i], 0);
  lc_arena_free(a, q, 97);
  lc_arena_close(a);
}

#define MANY 12000 /* x 448 bytes: 5 MiB, past the growing chunks into 2 MiB ones */

static void test_no_overlap_across_chunks(void **state) {
  (void)state;
  lc_arena *a = lc_arena_new();
  assert_non_null(a);
  static unsigned char *obj[MANY];
  for (int i = 0; i < MANY; i++) {
    size_t size = 416 + (size_t)(i % 3) * 16; /* three neighbouring classes */
    obj[i] = lc_arena_calloc(a, size);
    assert_non_null(obj[i]);
    assert_int_equal((uintptr_t)obj[i] % 16, 0);
    memset(obj[i], (int)(i & 0xff), size);
  }
  for (int i = 0; i < MANY; i++) {
    size_t size = 416 + (size_t)(i % 3) * 16;
    for (size_t k = 0; k < size; k++)
      if (obj[i][k] != (unsigned char)(i & 0xff)) fail_msg("object %d byte %zu overwritten", i, k);
  }
  unsigned char *big = lc_arena_calloc(a, 5000); /* past the classes: malloc */
  assert_non_null(big);
  memset(big, 1, 5000);
  lc_arena_free(a, big, 5000);
  for (int i = 0; i < MANY; i++) lc_arena_free(a, obj[i], 416 + (size_t)(i % 3) * 16);
  lc_arena_close(a);
}

static void test_close_defers_until_last_free(void **state) {
  (void)state;
  lc_arena *a = lc_arena_new();
  assert_non_null(a);
  char *p = lc_arena_calloc(a, 64), *q = lc_arena_calloc(a, 2000);
  assert_non_null(p);
  assert_non_null(q);
  lc_arena_close(a); /* both still allocated: nothing is unmapped yet */
  strcpy(p, "still here");
  memset(q, 7, 2000);
  assert_string_equal(p, "still here");
  lc_arena_free(a, q, 2000);
  lc_arena_free(a, p, 64); /* the last one: the arena goes */
}

/* A task of a copy-stack run referenced after lc_run returned: its struct lives in the run's
 * arena, which lc_run closed; it must stay readable until lc_task_unref. */
static lc_task *g_kept;

static int t_child(void *arg, intptr_t *result) {
  (void)arg;
  *result = 42;
  return lc_sleep(LC_MS);
}

static int t_keep(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  g_kept = lc_spawn(t_child, NULL, "kept-after-run");
  if (!g_kept) return -errno;
  return lc_gather(&g_kept, 1, NULL, NULL, 0);
}

static void test_task_outlives_its_run(void **state) {
  (void)state;
  const char *e = getenv("LOOPCONF_CORO");
  lc_run_opts opts = {.stack_mode =
                          e && strcmp(e, "ucontext") == 0 ? LC_STACK_DEDICATED : LC_STACK_COPY};
  run_main_opts(&opts, t_keep, NULL);
  assert_non_null(g_kept);
  assert_string_equal(lc_task_name(g_kept), "kept-after-run");
  intptr_t r = 0;
  assert_int_equal(lc_task_result(g_kept, &r), 0);
  assert_int_equal(r, 42);
  lc_task_unref(g_kept); /* frees the struct, then the closed arena */
  g_kept = NULL;
}

int main(void) {
  if (rt_test_load_backend("rt_arena_test") != 0) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_class_reuse_and_zeroing),
      cmocka_unit_test(test_no_overlap_across_chunks),
      cmocka_unit_test(test_close_defers_until_last_free),
      cmocka_unit_test(test_task_outlives_its_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
