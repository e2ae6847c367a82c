/* coro_ucontext.c: the portable context switch for coro.c, on getcontext/makecontext/swapcontext. */
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

/* Defined in coro.c: runs a new coroutine (never returns). */
void lc__coro_start(void *co);

/* The functions coro.c calls (declared there too; this file has no header of its own). */
int lc__coro_uc_make(ucontext_t *uc, void *stack_lo, size_t stack_size, void *co);
void lc__coro_uc_swap(ucontext_t *save, ucontext_t *load);

/* makecontext passes only int arguments, so the coroutine pointer travels as two halves. */
static void uc_trampoline(unsigned hi, unsigned lo) {
  uintptr_t p = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo; /* two shifts: fine on 32-bit */
  lc__coro_start((void *)p);
}

/* Prepare *uc to run lc__coro_start(co) on [stack_lo, stack_lo + stack_size) when first swapped
 * to. The new context inherits the caller's signal mask and floating-point control state.
 * Returns 0, or -1 with errno set (getcontext failed). */
int lc__coro_uc_make(ucontext_t *uc, void *stack_lo, size_t stack_size, void *co) {
  if (getcontext(uc) != 0) return -1;
  uc->uc_stack.ss_sp = stack_lo;
  uc->uc_stack.ss_size = stack_size;
  uc->uc_stack.ss_flags = 0;
  uc->uc_link = NULL; /* lc__coro_start never returns */
  uintptr_t p = (uintptr_t)co;
  makecontext(uc, (void (*)(void))uc_trampoline, 2, (unsigned)(p >> 16 >> 16), (unsigned)p);
  return 0;
}

/* Save the current context in *save and resume *load (glibc: one sigprocmask syscall). */
void lc__coro_uc_swap(ucontext_t *save, ucontext_t *load) { swapcontext(save, load); }
