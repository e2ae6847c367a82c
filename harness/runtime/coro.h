/* coro.h: stackful coroutines, the context switch under every task.
 *
 * A coroutine runs entry(arg) on its own stack. lc_coro_switch saves the callee-saved registers
 * of the current context and restores another's: hand-written assembly on x86-64 and aarch64
 * (coro_x86_64.S, coro_aarch64.S), with a portable ucontext fallback (coro_ucontext.c) that is
 * always built as well so both can be tested and benchmarked. glibc's swapcontext makes a
 * sigprocmask syscall on every switch; the assembly does not touch the signal mask.
 *
 * Stacks are mmap'ed with a PROT_NONE guard page below them and are reused through a per-thread
 * free list (a freed coroutine's stack goes back to the pool of its size; up to 1024 are kept).
 * The lc_coro itself lives at the top of its stack mapping: creating one from the pool costs no
 * syscall and no malloc. On Linux 6.13+ the guard is a MADV_GUARD_INSTALL guard region, which
 * keeps the stack one mapping (neighbours even merge); older kernels get a PROT_NONE page,
 * making each stack two mappings, so vm.max_map_count (65530 by default) caps a process at
 * about 32,000 live coroutines there. COROUTINES.md has the figures.
 *
 * Floating-point control state (x86-64: MXCSR and the x87 control word; aarch64: FPCR) is
 * per context: a new coroutine starts with the state current at lc_coro_new, and a change made
 * in one context (e.g. the rounding mode) is never seen by another. Both impls behave so.
 *
 * Under ASan and TSan every switch is announced to the sanitizer (fiber API); under valgrind
 * (when <valgrind/valgrind.h> was found at build time) every stack is registered.
 */
#ifndef LC_CORO_H
#define LC_CORO_H

#include "arena.h"
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lc_coro lc_coro;

/* Which implementation a coroutine uses. */
enum lc_coro_impl {
  LC_CORO_ASM = 0,     /* default where available */
  LC_CORO_UCONTEXT = 1 /* portable fallback */
};

/* The calling thread's own context (its "main" context), to switch away from and back to.
 * Each thread has its own; a coroutine may only be resumed, and must be freed, on the thread
 * that created it. Never freed (lc_coro_free ignores it). */
lc_coro *lc_coro_main(void);

/* Create a coroutine that will run entry(arg) on a stack of stack_size bytes (raised to at
 * least 16 KiB, rounded up to pages; one guard page extra; the lc_coro header, ~100 bytes, or
 * ~1 KiB with its ucontext_t, is taken from the top of it) when first switched to. entry must
 * never return: it ends by switching away for good (the runtime switches to the scheduler and
 * frees the coroutine from there); if it returns, the process aborts with a message. Overflowing
 * the stack faults on the guard page (SIGSEGV). impl selects the switch implementation; when
 * LC_CORO_ASM is not available on this architecture the ucontext one is used. Returns NULL with
 * errno on failure: EINVAL (entry NULL or unknown impl), ENOMEM (size too large, or mmap /
 * the guard failed, e.g. at the vm.max_map_count limit). */
lc_coro *lc_coro_new(void (*entry)(void *arg), void *arg, size_t stack_size,
                     enum lc_coro_impl impl);

/* Free a coroutine that is not running (it may be suspended anywhere, never resumed again); its
 * stack returns to this thread's pool, or is unmapped when the pool is full. NULL is a no-op. */
void lc_coro_free(lc_coro *co);

/* Save the current context into `from` and resume `to`. `from` must be the context running
 * now. Both must use the same impl (the main context adapts to either); a mix aborts with a
 * message. Returns when something switches back to `from`. Does not touch the signal mask. */
void lc_coro_switch(lc_coro *from, lc_coro *to);

/* Is the assembly switch available on this build (x86-64, aarch64)? 1 or 0. */
int lc_coro_asm_available(void);

/* 1 if guard pages are MADV_GUARD_INSTALL guard regions (one mapping per stack, so the
 * vm.max_map_count limit does not bound the number of coroutines), 0 if PROT_NONE pages. */
int lc_coro_light_guards(void);

/* Bytes of address space reserved per coroutine (stack raised to the minimum and rounded up,
 * plus the guard page), or 0 if stack_size is absurdly large. Only touched pages are resident. */
size_t lc_coro_footprint(size_t stack_size);

/* ---- Copy-stack (shared-stack) coroutines ----
 * Coroutines of one lc_coro_shared all run on its one stack; the stack holds the frames of the
 * one that ran last, and switching to another copies the used part of the stack out to the
 * previous one's heap buffer and the incoming one's buffer in. A suspended coroutine then costs
 * its header (~200 bytes, malloc'ed) plus the bytes its frames use, instead of a page or more.
 * THE RULE: an address inside a suspended copy-stack coroutine's stack is invalid until that
 * coroutine runs again (another one's frames are there meanwhile): nothing may read or write a
 * suspended coroutine's locals through a pointer. Switching from one coroutine of a shared stack
 * straight to another of the same stack aborts with a message (switch through the main context
 * or a coroutine on another stack). asm impl only: ENOTSUP where it is missing. */
typedef struct lc_coro_shared lc_coro_shared;
lc_coro_shared *lc_coro_shared_new(size_t stack_size); /* NULL with errno */
void lc_coro_shared_free(lc_coro_shared *sh);          /* after all of its coroutines */
/* The small-object arena of the shared stack's coroutines (arena.h): the runtime puts the
 * copy-stack tasks' own structs there too. It outlives lc_coro_shared_free until its last
 * object is freed. */
lc_arena *lc_coro_shared_arena(lc_coro_shared *sh);
lc_coro *lc_coro_new_shared(void (*entry)(void *arg), void *arg, lc_coro_shared *sh);
/* Put a suspended copy-stack coroutine's frames back on its shared stack without resuming it
 * (the current owner's image is saved first), so that its locals can be read and written at
 * their addresses until another coroutine of that stack runs. Must be called from a context
 * not running on that shared stack. 0 (also for a coroutine not started yet, or not a
 * copy-stack one), -1 with errno ENOMEM. */
int lc_coro_shared_own(lc_coro *co);
/* Bytes of stack image a started copy-stack coroutine holds now (0 for others). */
size_t lc_coro_saved_bytes(const lc_coro *co);

/* Unmap every pooled stack of this thread (at runtime shutdown; also done at thread exit). */
void lc_coro_pool_trim(void);

#ifdef __cplusplus
}
#endif

#endif /* LC_CORO_H */
