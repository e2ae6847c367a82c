/* coro_aarch64.S: the AArch64 (AAPCS64) context switch and initial frame for coro.c. */

/* A suspended context is its stack pointer. Above it, a 176-byte frame (sp stays 16-aligned):
 *
 *   sp+0    x19 x20     sp+48   x25 x26     sp+96   d8  d9      sp+144  d14 d15
 *   sp+16   x21 x22     sp+64   x27 x28     sp+112  d10 d11     sp+160  FPCR
 *   sp+32   x23 x24     sp+80   x29 x30     sp+128  d12 d13     sp+168  (padding)
 *
 * x19-x28, x29 (frame pointer), x30 (link register: where the context resumes), sp and the low
 * 64 bits of v8-v15 are callee-saved under AAPCS64. FPCR (rounding mode, flush-to-zero) is
 * saved too so that every context keeps its own floating-point control state, as on x86-64
 * (MXCSR) and as glibc's swapcontext does; it is written back only when it differs, because a
 * write to FPCR can be slow. The signal mask is not touched (no syscall). */

#if defined(__aarch64__)

        .text

/* void lc__coro_asm_swap(void **save_sp, void *load_sp)
 * Save the current context, store its stack pointer in *save_sp (x0), resume the context whose
 * stack pointer is load_sp (x1). Returns when something swaps back to *save_sp. */
        .globl  lc__coro_asm_swap
        .hidden lc__coro_asm_swap
        .type   lc__coro_asm_swap, %function
        .p2align 4
lc__coro_asm_swap:
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x10, sp
        str     x10, [x0]               /* the old context is now complete */
        mov     sp, x1                  /* switch stacks */
        ldr     x10, [sp, #160]
        cmp     x9, x10
        b.eq    1f
        msr     fpcr, x10
1:
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .size   lc__coro_asm_swap, .-lc__coro_asm_swap

/* void *lc__coro_asm_make(void *top, void (*start)(void *), void *arg)
 * Build the initial frame of a new context just below top (x0, 16-byte aligned) and return its
 * stack pointer. Resuming it enters lc__coro_asm_trampoline with x19 = arg, x20 = start,
 * sp = top, and the FPCR that was current when this was called. */
        .globl  lc__coro_asm_make
        .hidden lc__coro_asm_make
        .type   lc__coro_asm_make, %function
        .p2align 4
lc__coro_asm_make:
        sub     x0, x0, #176
        stp     x2, x1, [x0, #0]        /* x19 = arg, x20 = start */
        stp     xzr, xzr, [x0, #16]
        stp     xzr, xzr, [x0, #32]
        stp     xzr, xzr, [x0, #48]
        stp     xzr, xzr, [x0, #64]
        adr     x9, lc__coro_asm_trampoline
        stp     xzr, x9, [x0, #80]      /* x29 = 0 ends frame chains, x30 = trampoline */
        stp     xzr, xzr, [x0, #96]
        stp     xzr, xzr, [x0, #112]
        stp     xzr, xzr, [x0, #128]
        stp     xzr, xzr, [x0, #144]
        mrs     x9, fpcr
        stp     x9, xzr, [x0, #160]
        ret
        .size   lc__coro_asm_make, .-lc__coro_asm_make

/* First code a new context runs (reached by ret from lc__coro_asm_swap): call start(arg).
 * start never returns; if it did, trap rather than run off the stack. */
        .type   lc__coro_asm_trampoline, %function
        .p2align 4
lc__coro_asm_trampoline:
        mov     x0, x19
        blr     x20
        brk     #0x3c
        .size   lc__coro_asm_trampoline, .-lc__coro_asm_trampoline

#endif /* __aarch64__ */

/* No executable stack needed. */
        .section .note.GNU-stack,"",%progbits
