// Exception vector table and the thin entry/exit shell around the Rust handler.
//
// Every vector saves the full register state as a TrapFrame (see exception.rs; the layout
// here and there must match) on the current SP_EL1 and calls
//     handle_exception(frame: &mut TrapFrame, kind: u64)
// which may edit the frame (ELR, registers) before we restore it and `eret`.
// Probe routines with known faulting instructions (probe_read_u8 & co.) let Rust test
// whether an access faults; the handler recognises their PCs and resumes after them.

.equ FRAME_SIZE, 272                    // 31 GPRs + SP_EL0 + ELR + SPSR, 16-byte aligned

.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #(0 * 16)]
    mov     x0, #\kind
    b       exception_common
.endm

.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    // Current EL with SP_EL0 (kinds 0-3: never used by this kernel)
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    // Current EL with SP_ELx (4 sync, 5 irq, 6 fiq, 7 serror)
    .balign 0x80
    b       el1_sync_checked
    VECTOR 5
    VECTOR 6
    VECTOR 7
    // Lower EL, AArch64 (8 sync, 9 irq, 10 fiq, 11 serror). A sync exception with
    // x8 = 17 (buffer_sync) and x1 a plain START's word (START|READ 5, START|WRITE 9,
    // START|RW 13; syscall/fast_start.rs asserts the numbers) tries the hand-written
    // START first, which checks that it is an `svc` and goes on to el0_sync, with
    // every register as it came, for anything it does not finish.
    .balign 0x80
    cmp     x8, #17
    b.ne    el0_sync
    cmp     x1, #9
    b.eq    fast_start_write
    cmp     x1, #5
    b.eq    fast_start_read
    cmp     x1, #13
    b.eq    fast_start_rw
    b       el0_sync
    VECTOR 9
    VECTOR 10
    VECTOR 11
    // Lower EL, AArch32 (12-15: not supported)
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

// EL1 synchronous exceptions first check that the frame fits on a mapped stack: a kernel
// stack overflow runs into the guard page, and saving the frame there would fault again
// forever. AT S1E1W asks the MMU without faulting. The scratch register is TPIDRRO_EL0
// (TPIDR_EL1 holds this CPU's per-CPU data): EL0 could read it, so it is zeroed again
// before anything else runs (this path starts and ends at EL1, and the kernel gives
// TPIDRRO_EL0 no other meaning: EL0 always reads 0). On overflow the frame goes on a
// small emergency stack, kind 16.
el1_sync_checked:
    msr     tpidrro_el0, x0
    sub     x0, sp, #FRAME_SIZE
    at      s1e1w, x0
    isb
    mrs     x0, par_el1
    tbnz    x0, #0, 1f                  // PAR_EL1.F: the translation failed
    mrs     x0, tpidrro_el0
    msr     tpidrro_el0, xzr
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #(0 * 16)]
    mov     x0, #4
    b       exception_common
1:  adrp    x0, overflow_stack_top
    add     x0, x0, :lo12:overflow_stack_top
    mov     sp, x0
    mrs     x0, tpidrro_el0
    msr     tpidrro_el0, xzr
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #(0 * 16)]
    mov     x0, #16
    b       exception_common

// Synchronous exceptions from EL0 (after the hand-written START, which comes here with
// every register as it came for anything it does not finish) try the Rust syscall fast
// path (syscall::fast): an `svc` preserves x3..x30 for its caller, and the Rust code
// called here preserves x19..x29 itself, so only x0..x18 and x30 are saved, in their
// TrapFrame slots. An `svc`
// (ESR_EL1.EC 0x15) calls `fast_syscall` with its arguments where they are (x0..x5) and
// its number (x8) as the seventh; if that handled the call (it returns 0, and every
// result of such a call is 0) x3..x18 and x30 are restored and x0..x2 zeroed; otherwise
// the rest of the frame is saved and the full path runs, as if nothing had happened
// (the fast path changes nothing before it decides).
el0_sync:
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #(0 * 16)]
    stp     x2, x3, [sp, #(1 * 16)]
    stp     x4, x5, [sp, #(2 * 16)]
    stp     x6, x7, [sp, #(3 * 16)]
    stp     x8, x9, [sp, #(4 * 16)]
    stp     x10, x11, [sp, #(5 * 16)]
    stp     x12, x13, [sp, #(6 * 16)]
    stp     x14, x15, [sp, #(7 * 16)]
    stp     x16, x17, [sp, #(8 * 16)]
    str     x18, [sp, #(9 * 16)]
    str     x30, [sp, #(15 * 16)]
    mrs     x9, esr_el1
    lsr     x9, x9, #26
    cmp     x9, #0x15                   // EC: SVC from AArch64
    b.ne    1f
    mov     x6, x8
    bl      fast_syscall
    cbnz    x0, 1f
    ldr     x30, [sp, #(15 * 16)]
    ldr     x18, [sp, #(9 * 16)]
    ldp     x16, x17, [sp, #(8 * 16)]
    ldp     x14, x15, [sp, #(7 * 16)]
    ldp     x12, x13, [sp, #(6 * 16)]
    ldp     x10, x11, [sp, #(5 * 16)]
    ldp     x8, x9, [sp, #(4 * 16)]
    ldp     x6, x7, [sp, #(3 * 16)]
    ldp     x4, x5, [sp, #(2 * 16)]
    ldr     x3, [sp, #(1 * 16 + 8)]
    mov     x1, xzr
    mov     x2, xzr
    add     sp, sp, #FRAME_SIZE
    eret
    // (x0..x18 and x30 are the call's now; their entry values are in the frame, and
    // x19..x29 are untouched: the callee preserved them.)
1:  str     x19, [sp, #(9 * 16 + 8)]
    stp     x20, x21, [sp, #(10 * 16)]
    stp     x22, x23, [sp, #(11 * 16)]
    stp     x24, x25, [sp, #(12 * 16)]
    stp     x26, x27, [sp, #(13 * 16)]
    stp     x28, x29, [sp, #(14 * 16)]
    mrs     x1, sp_el0
    str     x1, [sp, #(15 * 16 + 8)]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #(16 * 16)]
    mov     x0, sp
    mov     x1, #8
    bl      handle_exception
    b       exception_restore

exception_common:
    stp     x2, x3, [sp, #(1 * 16)]
    stp     x4, x5, [sp, #(2 * 16)]
    stp     x6, x7, [sp, #(3 * 16)]
    stp     x8, x9, [sp, #(4 * 16)]
    stp     x10, x11, [sp, #(5 * 16)]
    stp     x12, x13, [sp, #(6 * 16)]
    stp     x14, x15, [sp, #(7 * 16)]
    stp     x16, x17, [sp, #(8 * 16)]
    stp     x18, x19, [sp, #(9 * 16)]
    stp     x20, x21, [sp, #(10 * 16)]
    stp     x22, x23, [sp, #(11 * 16)]
    stp     x24, x25, [sp, #(12 * 16)]
    stp     x26, x27, [sp, #(13 * 16)]
    stp     x28, x29, [sp, #(14 * 16)]
    mrs     x1, sp_el0
    stp     x30, x1, [sp, #(15 * 16)]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #(16 * 16)]

    mov     x1, x0
    mov     x0, sp
    bl      handle_exception

exception_restore:
    ldp     x2, x3, [sp, #(16 * 16)]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x30, x1, [sp, #(15 * 16)]
    msr     sp_el0, x1
    ldp     x28, x29, [sp, #(14 * 16)]
    ldp     x26, x27, [sp, #(13 * 16)]
    ldp     x24, x25, [sp, #(12 * 16)]
    ldp     x22, x23, [sp, #(11 * 16)]
    ldp     x20, x21, [sp, #(10 * 16)]
    ldp     x18, x19, [sp, #(9 * 16)]
    ldp     x16, x17, [sp, #(8 * 16)]
    ldp     x14, x15, [sp, #(7 * 16)]
    ldp     x12, x13, [sp, #(6 * 16)]
    ldp     x10, x11, [sp, #(5 * 16)]
    ldp     x8, x9, [sp, #(4 * 16)]
    ldp     x6, x7, [sp, #(3 * 16)]
    ldp     x4, x5, [sp, #(2 * 16)]
    ldp     x2, x3, [sp, #(1 * 16)]
    ldp     x0, x1, [sp, #(0 * 16)]
    add     sp, sp, #FRAME_SIZE
    eret

// enter_user_frame(frame: x0, stack_top: x1): reset SP_EL1 to the top of this CPU's
// kernel stack, copy the frame there and restore it as if returning from an exception
// (first entry to EL0).
.global enter_user_frame
enter_user_frame:
    sub     x1, x1, #FRAME_SIZE
    mov     sp, x1
    mov     x2, #(FRAME_SIZE / 16)
1:  ldp     x3, x4, [x0], #16
    stp     x3, x4, [x1], #16
    subs    x2, x2, #1
    b.ne    1b
    b       exception_restore

.section .bss.overflow_stack, "aw", %nobits
.balign 16
overflow_stack:
    .space  8192
overflow_stack_top:

// Probes: fn(addr: x0, value: x1, out: x2 -> [u64; 3] = {value read, ESR, FAR}).
// x9/x10 carry ESR/FAR; the exception handler fills them and skips the faulting
// instruction when ELR is one of the *_insn labels below. ESR == 0 means no fault.
.section .text.probe, "ax"
.global probe_read_u8
.global probe_read_u8_insn
probe_read_u8:
    mov     x9, xzr
    mov     x10, xzr
    mov     x3, xzr
probe_read_u8_insn:
    ldrb    w3, [x0]
    stp     x3, x9, [x2]
    str     x10, [x2, #16]
    ret

.global probe_write_u8
.global probe_write_u8_insn
probe_write_u8:
    mov     x9, xzr
    mov     x10, xzr
probe_write_u8_insn:
    strb    w1, [x0]
    stp     xzr, x9, [x2]
    str     x10, [x2, #16]
    ret

// Branches to x0. If x0 is not executable the instruction abort is taken with ELR == x0;
// the handler (armed by the caller) resumes at x30, the return address set by blr.
.global probe_exec
probe_exec:
    stp     x29, x30, [sp, #-16]!
    stp     x2, xzr, [sp, #-16]!
    mov     x9, xzr
    mov     x10, xzr
    blr     x0
    ldp     x2, xzr, [sp], #16
    stp     xzr, x9, [x2]
    str     x10, [x2, #16]
    ldp     x29, x30, [sp], #16
    ret
