/* coro.h: stackful coroutines, the context switch under every task.
 *
 * A coroutine runs entry(arg) on its own stack. lc_coro_switch saves the callee-saved registers
 * of the current context and restores another's: hand-written assembly on x86-64 and aarch64
 * (coro_x86_64.S, coro_aarch64.S), with a portable ucontext fallback (coro_ucontext.c) that is
 * always built as well so both can be tested and benchmarked. glibc's swapcontext makes a
 * sigprocmask syscall on every switch; the assembly does not touch the signal mask.
 *
 * Stacks are mmap'ed with a PROT_NONE guard page below them and are reused through a free list
 * (a freed coroutine's stack goes back to the pool of its size).
 */
#ifndef LC_CORO_H
#define LC_CORO_H

#include <stddef.h>

typedef struct lc_coro lc_coro;

/* Which implementation a coroutine uses. */
enum lc_coro_impl {
  LC_CORO_ASM = 0,      /* default where available */
  LC_CORO_UCONTEXT = 1  /* portable fallback */
};

/* The context of the thread that calls lc_coro_switch first (the "main" context). Each thread
 * has its own; a coroutine may only be resumed on the thread that created it. */
lc_coro *lc_coro_main(void);

/* Create a coroutine that will run entry(arg) on a stack of stack_size bytes (rounded up to
 * pages; one guard page extra) when first switched to. entry must never return: it ends by
 * switching away for good (the runtime switches to the scheduler and frees the coroutine from
 * there). impl selects the switch implementation; when LC_CORO_ASM is not available on this
 * architecture the ucontext one is used. Returns NULL with errno on failure. */
lc_coro *lc_coro_new(void (*entry)(void *arg), void *arg, size_t stack_size,
                     enum lc_coro_impl impl);

/* Free a coroutine that is not running; its stack returns to the pool. */
void lc_coro_free(lc_coro *co);

/* Save the current context into `from` and resume `to`. Both must use the same impl (the main
 * context adapts to either). Returns when something switches back to `from`. */
void lc_coro_switch(lc_coro *from, lc_coro *to);

/* Is the assembly switch available on this build? */
int lc_coro_asm_available(void);

/* Bytes actually reserved per coroutine (stack rounded up + guard page), for the README. */
size_t lc_coro_footprint(size_t stack_size);

/* Release every pooled stack of this thread (at runtime shutdown). */
void lc_coro_pool_trim(void);

#endif /* LC_CORO_H */
