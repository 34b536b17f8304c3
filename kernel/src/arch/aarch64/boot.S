// Boot entry: the arm64 Linux Image header and the code that runs before the MMU is on.
//
// The loader (QEMU -kernel, U-Boot booti) jumps to _start at a 2 MiB-aligned physical
// address with the MMU off and the DTB's physical address in x0. Until the branch to
// `primary_switched` this code uses only PC-relative addressing, so it works wherever the
// image was placed. It:
//   0. refuses what it cannot run on, saying so through semihosting (the only output
//      that needs no device tree) and exiting 4: entry at EL3, an Image not 2 MiB
//      aligned. A tiny vector table (early_vectors) skips any instruction that faults
//      before the MMU is on, so a semihosting call without semihosting is harmless,
//   1. drops from EL2 to EL1 if entered at EL2 (el2_to_el1),
//   2. zeroes .bss (which holds the early tables and the boot stack),
//   3. builds early translation tables:
//        TTBR0: identity map of the 1 GiB blocks holding the image and the DTB (and
//               the block after the DTB's, so a DTB may cross a 1 GiB boundary),
//        TTBR1: the same blocks at LINEAR_BASE + PA (the linear map), and the image at
//               its link address KIMAGE_BASE in 2 MiB blocks,
//   4. turns the MMU and caches on and jumps to the link address,
//   5. calls kernel_main(dtb_pa, load_pa, entry_el) on the boot stack.
// Rust replaces the early tables with fine-grained ones as soon as it has parsed the FDT.

.equ CURRENTEL_EL2,     (2 << 2)
.equ HCR_EL2_RW,        (1 << 31)
.equ SPSR_EL1H_MASKED,  0x3c5                 // EL1h, D A I F masked
.equ SCTLR_EL1_RES1,    0x30d00800            // RES1 bits, MMU and caches off
.equ SCTLR_M,           (1 << 0)
.equ SCTLR_C,           (1 << 2)
.equ SCTLR_SA,          (1 << 3)
.equ SCTLR_SA0,         (1 << 4)              // EL0 SP alignment check
.equ SCTLR_I,           (1 << 12)
.equ SCTLR_UCT,         (1 << 15)             // EL0 may read CTR_EL0
// Descriptor bits (ARM ARM D8.3): valid block, AF, inner shareable, AttrIndx 0 (Normal WB).
.equ DESC_TABLE,        0x3
.equ DESC_BLOCK_NORMAL, (0x1 | (1 << 10) | (3 << 8))
.equ DESC_UXN,          (1 << 54)
// MAIR: attr0 Normal WB RW-alloc, attr1 Normal non-cacheable, attr2 Device-nGnRE.
// Must equal mm::pgtable::MAIR_EL1_VALUE.
.equ MAIR_VALUE,        0x000444ff
// TCR: T0SZ=T1SZ=16 (48-bit VA), 4 KiB granules, walks inner-shareable write-back,
// 16-bit ASIDs (AS). IPS is filled in from ID_AA64MMFR0_EL1.PARange.
.equ TCR_VALUE,         (16 | (1 << 8) | (1 << 10) | (3 << 12) | (16 << 16) | (1 << 24) | (1 << 26) | (3 << 28) | (2 << 30) | (1 << 36))

.section .text.head, "ax"
.global _start
_start:
    b       primary_entry               // code0
    .long   0                           // code1
    .quad   0                           // text_offset: any 2 MiB-aligned base
    .quad   __image_size                // image_size, including .bss
    .quad   0xa                         // flags: little endian, 4 KiB pages, placement anywhere
    .quad   0                           // res2
    .quad   0                           // res3
    .quad   0                           // res4
    .ascii  "ARM\x64"                   // magic
    .long   0                           // res5

primary_entry:
    msr     daifset, #0xf
    mov     x19, x0                     // x19 = DTB physical address
    adr     x20, _start                 // x20 = physical load address
    mrs     x21, CurrentEL
    lsr     x21, x21, #2                // x21 = exception level we were entered at
    cmp     x21, #2
    b.gt    el3_entry                   // EL3 entry is not supported: say so
    adr     x0, early_vectors           // until the MMU is on: skip faulting instructions
    msr     vbar_el1, x0
    b.lt    0f
    msr     vbar_el2, x0
0:  isb
    tst     x20, #0x1fffff              // the boot protocol's 2 MiB alignment
    b.ne    misaligned_image
    cmp     x21, #2
    b.lt    1f
    bl      el2_to_el1
1:
    // Zero .bss, early tables and boot stack included (physical addresses).
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
2:  stp     xzr, xzr, [x0], #16
    cmp     x0, x1
    b.lo    2b

    bl      build_early_tables

    // The tables and .bss were written with the MMU off (non-cacheable). Invalidate that
    // range so no stale line from before the hand-over can shadow them once caches are on.
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
    mrs     x2, ctr_el0
    ubfx    x2, x2, #16, #4
    mov     x3, #4
    lsl     x2, x3, x2                  // x2 = smallest D-cache line (bytes)
3:  dc      ivac, x0
    add     x0, x0, x2
    cmp     x0, x1
    b.lo    3b
    dsb     sy

    // MMU configuration.
    ldr     x0, =MAIR_VALUE
    msr     mair_el1, x0
    ldr     x0, =TCR_VALUE
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #7                  // PARange
    cmp     x1, #5
    mov     x2, #5
    csel    x1, x1, x2, ls              // at most 48-bit PA with 4 KiB granules
    bfi     x0, x1, #32, #3             // IPS
    msr     tcr_el1, x0
    adrp    x0, early_tables
    msr     ttbr0_el1, x0               // early_tables + 0: identity L0
    add     x0, x0, #0x2000
    msr     ttbr1_el1, x0               // early_tables + 8K: kernel L0
    isb
    tlbi    vmalle1
    ic      iallu
    dsb     nsh
    isb
    mrs     x0, sctlr_el1
    ldr     x1, =(SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_SA0 | SCTLR_I | SCTLR_UCT)
    orr     x0, x0, x1
    msr     sctlr_el1, x0
    isb

    ldr     x8, =primary_switched       // absolute: the link address
    br      x8

// Runs at the link address with the MMU on.
primary_switched:
    ldr     x0, =__stack_top
    mov     sp, x0
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    bl      kernel_main
park:
    wfe
    b       park

// A secondary CPU, started by PSCI CPU_ON at this physical address with the MMU off, in
// the boot CPU's entry EL, x0 = the physical address of its SecondaryBoot block
// (kernel/src/smp.rs: ttbr1, stack_top, percpu, index; cleaned to memory by the boot
// CPU, since it is read here with the caches off). It drops to EL1 like the boot CPU,
// turns the MMU on with the boot identity map in TTBR0 (the image's 1 GiB block, left in
// .bss) and the kernel's final tables in TTBR1, and calls secondary_main(index) on its
// own stack with TPIDR_EL1 = its per-CPU data.
.global secondary_entry
secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    mrs     x21, CurrentEL
    lsr     x21, x21, #2
    cmp     x21, #2
    b.lt    1f
    bl      el2_to_el1
1:  ldr     x0, =MAIR_VALUE
    msr     mair_el1, x0
    ldr     x0, =TCR_VALUE
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #7
    cmp     x1, #5
    mov     x2, #5
    csel    x1, x1, x2, ls
    bfi     x0, x1, #32, #3
    msr     tcr_el1, x0
    adrp    x0, early_tables
    msr     ttbr0_el1, x0
    ldr     x0, [x19, #0]               // ttbr1: the kernel's final root table
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    ic      iallu
    dsb     nsh
    isb
    mrs     x0, sctlr_el1
    ldr     x1, =(SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_SA0 | SCTLR_I | SCTLR_UCT)
    orr     x0, x0, x1
    msr     sctlr_el1, x0
    isb
    ldr     x8, =secondary_switched
    br      x8

// A secondary at the link address, MMU on; x19 (the block's physical address) is still
// reachable through the identity map in TTBR0.
secondary_switched:
    ldr     x0, [x19, #8]               // stack_top
    mov     sp, x0
    ldr     x0, [x19, #16]              // percpu
    msr     tpidr_el1, x0
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    ldr     x0, [x19, #24]              // index
    bl      secondary_main
    b       park

// Entered at EL3 (e.g. firmware that does not drop to EL2/EL1): the kernel runs only
// non-secure at EL1 or EL2. Report through semihosting and stop.
el3_entry:
    adr     x0, early_vectors
    msr     vbar_el3, x0
    isb
    adr     x1, msg_el3
    b       early_fail

misaligned_image:
    adr     x1, msg_misaligned
    b       early_fail

// Print the NUL-terminated message at x1 (a physical address: the MMU is off) through
// semihosting SYS_WRITE0, exit with status 4 (boot error) through SYS_EXIT, and park.
// Without semihosting each `hlt` is undefined and early_vectors skips it.
early_fail:
    mov     x0, #0x04                   // SYS_WRITE0
    hlt     #0xf000
    adr     x1, early_exit_block
    mov     x0, #0x18                   // SYS_EXIT
    hlt     #0xf000
    b       park

.balign 8
early_exit_block:
    .quad   0x20026                     // ADP_Stopped_ApplicationExit
    .quad   4                           // exit status: boot error
msg_el3:
    .asciz  "\nBOOT ERROR: entered at EL3; this kernel runs non-secure at EL2 or EL1 (have the firmware drop to EL2, as U-Boot with TF-A or QEMU -kernel do)\nkernel stopping with exit code 4 (BootError)\n"
msg_misaligned:
    .asciz  "\nBOOT ERROR: kernel Image loaded at a physical address that is not 2 MiB aligned (the arm64 boot protocol requires it; text_offset is 0)\nkernel stopping with exit code 4 (BootError)\n"

// Vectors in force until the MMU is on (at EL1 and EL2) or at EL3: every exception
// resumes after the instruction that raised it (a `hlt` without semihosting, for one).
.balign 2048
early_vectors:
    .rept   16
    b       early_skip
    .balign 128
    .endr
early_skip:
    mrs     x9, CurrentEL
    cmp     x9, #(2 << 2)
    b.eq    2f
    b.hi    3f
    mrs     x10, elr_el1
    add     x10, x10, #4
    msr     elr_el1, x10
    eret
2:  mrs     x10, elr_el2
    add     x10, x10, #4
    msr     elr_el2, x10
    eret
3:  mrs     x10, elr_el3
    add     x10, x10, #4
    msr     elr_el3, x10
    eret

// A semihosting call (x0 = operation, x1 = argument; returns x0) whose `hlt` the
// exception handler skips if semihosting is not enabled (the kernel's
// `arch::semihosting` records that and stops using it).
.global semihosting_checked
.global semihosting_hlt_insn
semihosting_checked:
semihosting_hlt_insn:
    hlt     #0xf000
    ret

// Leave EL2 for EL1 with everything EL1 needs granted: AArch64 at EL1, the counters and
// timers, the GICv3 system-register interface, the PMU, and FP/SIMD untrapped at EL2.
el2_to_el1:
    mov     x0, #HCR_EL2_RW
    msr     hcr_el2, x0
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3                  // EL1PCTEN | EL1PCEN
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4             // GIC system register interface present?
    cbz     x0, 1f
    mrs     x0, S3_4_C12_C9_5           // ICC_SRE_EL2
    orr     x0, x0, #0x1                // SRE
    orr     x0, x0, #0x8                // Enable: EL1 may use ICC_SRE_EL1
    msr     S3_4_C12_C9_5, x0
    isb
1:
    mrs     x0, pmcr_el0
    ubfx    x0, x0, #11, #5             // PMCR_EL0.N: give EL1 every event counter
    msr     mdcr_el2, x0
    mov     x0, #0x33ff                 // CPTR_EL2: RES1 bits, no traps
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    ldr     x0, =SCTLR_EL1_RES1
    msr     sctlr_el1, x0
    mov     x0, #SPSR_EL1H_MASKED
    msr     spsr_el2, x0
    msr     elr_el2, x30
    eret

// early_tables layout (five 4 KiB tables):
//   +0x0000 L0 for TTBR0      +0x1000 L1 identity (shared by both halves)
//   +0x2000 L0 for TTBR1      +0x3000 L1 for the image    +0x4000 L2 for the image
build_early_tables:
    adrp    x0, early_tables
    add     x1, x0, #0x1000
    orr     x2, x1, #DESC_TABLE
    str     x2, [x0]                    // TTBR0 L0[0] -> identity L1
    add     x3, x0, #0x2000
    str     x2, [x3]                    // TTBR1 L0[0] -> identity L1 (the linear map)
    add     x4, x0, #0x3000
    orr     x5, x4, #DESC_TABLE
    str     x5, [x3, #(511 * 8)]        // TTBR1 L0[511] -> image L1 (KIMAGE_BASE)
    add     x6, x0, #0x4000
    orr     x7, x6, #DESC_TABLE
    str     x7, [x4]                    // image L1[0] -> image L2

    ldr     x8, =(DESC_BLOCK_NORMAL | DESC_UXN)
    lsr     x9, x20, #30                // 1 GiB block of the image
    cmp     x9, #512
    b.hs    park                        // beyond the identity L1's reach
    lsl     x10, x9, #30
    orr     x10, x10, x8
    str     x10, [x1, x9, lsl #3]
    lsr     x9, x19, #30                // 1 GiB block of the DTB
    cmp     x9, #512
    b.hs    1f                          // kernel_main reports the unreachable DTB
    lsl     x10, x9, #30
    orr     x10, x10, x8
    str     x10, [x1, x9, lsl #3]
    add     x9, x9, #1                  // and the next one: the DTB may cross into it
    cmp     x9, #512                    // (it is at most 16 MiB, kernel_main checks)
    b.hs    1f
    lsl     x10, x9, #30
    orr     x10, x10, x8
    str     x10, [x1, x9, lsl #3]
1:
    ldr     x11, =__image_size
    ldr     x12, =0x1fffff
    add     x11, x11, x12
    lsr     x11, x11, #21               // number of 2 MiB blocks
    orr     x12, x20, x8
2:  str     x12, [x6], #8
    add     x12, x12, #0x200000
    subs    x11, x11, #1
    b.ne    2b
    ret

// Switch TTBR1 to a new root (x0 = physical address). Called at its identity-mapped
// physical address, so nothing it touches goes through TTBR1 while the tables change:
// first an empty table (break), TLB flush, then the new one (make).
.global replace_ttbr1
replace_ttbr1:
    adrp    x1, empty_table
    msr     ttbr1_el1, x1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ret

.section .bss.early_tables, "aw", %nobits
.balign 4096
.global early_tables
early_tables:
    .space  5 * 4096
.global empty_table
empty_table:
    .space  4096
