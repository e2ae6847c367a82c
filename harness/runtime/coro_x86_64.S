/* coro_x86_64.S: the x86-64 (System V) context switch and initial frame for coro.c. */

/* A suspended context is its stack pointer. Below it, from low to high addresses:
 *
 *   sp+0   MXCSR (4 bytes), x87 control word (2 bytes), 2 bytes padding
 *   sp+8   r15
 *   sp+16  r14
 *   sp+24  r13
 *   sp+32  r12
 *   sp+40  rbx
 *   sp+48  rbp
 *   sp+56  return address (where the context resumes)
 *
 * These are exactly the registers the System V ABI makes callee-saved (rbx, rbp, r12-r15, rsp,
 * and the control bits of MXCSR and the x87 control word); everything else is clobbered by the
 * call to lc__coro_asm_swap anyway, so the compiler has already saved what it needs. The signal
 * mask is not touched (no syscall). */

#if defined(__x86_64__)

#if defined(__CET__)
#define LC_ENDBR endbr64
#else
#define LC_ENDBR
#endif

        .text

/* void lc__coro_asm_swap(void **save_sp, void *load_sp)
 * Save the current context, store its stack pointer in *save_sp (rdi), resume the context whose
 * stack pointer is load_sp (rsi). Returns when something swaps back to *save_sp. */
        .globl  lc__coro_asm_swap
        .hidden lc__coro_asm_swap
        .type   lc__coro_asm_swap, @function
        .p2align 4
lc__coro_asm_swap:
        LC_ENDBR
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)            /* the old context is now complete */
        movq    %rsi, %rsp              /* switch stacks */
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   lc__coro_asm_swap, .-lc__coro_asm_swap

/* void *lc__coro_asm_make(void *top, void (*start)(void *), void *arg)
 * Build the initial frame of a new context just below top (rdi, 16-byte aligned) and return
 * its stack pointer. Resuming it enters lc__coro_asm_trampoline with r12 = arg, r13 = start,
 * rsp = top, and the MXCSR / x87 control word that were current when this was called. */
        .globl  lc__coro_asm_make
        .hidden lc__coro_asm_make
        .type   lc__coro_asm_make, @function
        .p2align 4
lc__coro_asm_make:
        LC_ENDBR
        leaq    -64(%rdi), %rax
        leaq    lc__coro_asm_trampoline(%rip), %rcx
        movq    %rcx, 56(%rax)          /* return address */
        movq    $0, 48(%rax)            /* rbp: 0 ends frame-pointer backtraces */
        movq    $0, 40(%rax)            /* rbx */
        movq    %rdx, 32(%rax)          /* r12 = arg */
        movq    %rsi, 24(%rax)          /* r13 = start */
        movq    $0, 16(%rax)            /* r14 */
        movq    $0, 8(%rax)             /* r15 */
        movq    $0, (%rax)
        stmxcsr (%rax)
        fnstcw  4(%rax)
        ret
        .size   lc__coro_asm_make, .-lc__coro_asm_make

/* First code a new context runs (reached by ret from lc__coro_asm_swap, rsp 16-byte aligned):
 * call start(arg). start never returns; if it did, trap rather than run off the stack. */
        .type   lc__coro_asm_trampoline, @function
        .p2align 4
lc__coro_asm_trampoline:
        movq    %r12, %rdi
        call    *%r13
        ud2
        .size   lc__coro_asm_trampoline, .-lc__coro_asm_trampoline

#endif /* __x86_64__ */

/* No executable stack needed. */
        .section .note.GNU-stack,"",@progbits
