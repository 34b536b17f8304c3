//! Small CPU helpers: interrupt masking, waiting, identification.

use aarch64_cpu::asm;
use aarch64_cpu::registers::{Readable, Writeable, CNTKCTL_EL1, DAIF};

/// ISR_EL1.I: an IRQ is pending (Arm ARM D19.2; aarch64-cpu has no ISR_EL1).
const ISR_EL1_I: u64 = 1 << 7;

/// True if an IRQ is pending at this CPU (ISR_EL1.I), masked or not: a long kernel
/// operation checks it between bounded steps and gives way.
pub fn irq_pending() -> bool {
    let isr: u64;
    // SAFETY: ISR_EL1 is a read-only status register.
    unsafe { core::arch::asm!("mrs {}, isr_el1", out(reg) isr, options(nomem, nostack)) };
    isr & ISR_EL1_I != 0
}

/// This CPU's per-CPU data pointer (TPIDR_EL1; 0 before it is set).
pub fn percpu_pointer() -> u64 {
    let v: u64;
    // SAFETY: reading TPIDR_EL1 has no side effects.
    unsafe { core::arch::asm!("mrs {}, tpidr_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// Set this CPU's per-CPU data pointer (TPIDR_EL1).
pub fn set_percpu_pointer(p: u64) {
    // SAFETY: TPIDR_EL1 is reserved for this pointer; nothing else reads it.
    unsafe { core::arch::asm!("msr tpidr_el1, {}", in(reg) p, options(nomem, nostack)) };
}

/// This CPU's affinity fields of MPIDR_EL1 (Aff3, Aff2, Aff1, Aff0): what `/cpus` `reg`
/// and PSCI `CPU_ON` name it by.
pub fn mpidr_affinity() -> u64 {
    let v: u64;
    // SAFETY: MPIDR_EL1 is a read-only identification register.
    unsafe { core::arch::asm!("mrs {}, mpidr_el1", out(reg) v, options(nomem, nostack)) };
    v & 0xff_00ff_ffff
}

/// EL0's access to the generic timer, set explicitly rather than left at a reset value
/// that is UNKNOWN on real hardware: EL0 may read the virtual counter (CNTVCT_EL0) and
/// nothing else; the physical counter, both timers and the event stream stay EL1's.
pub fn restrict_el0_timer_access() {
    CNTKCTL_EL1.write(
        CNTKCTL_EL1::EL0VCTEN::SET
            + CNTKCTL_EL1::EL0PCTEN::CLEAR
            + CNTKCTL_EL1::EL0VTEN::CLEAR
            + CNTKCTL_EL1::EL0PTEN::CLEAR
            + CNTKCTL_EL1::EVNTEN::CLEAR,
    );
}

/// Unmask IRQs at EL1.
pub fn enable_irqs() {
    // SAFETY: unmasking IRQs is sound once the vector table and GIC are set up, which the
    // caller (kernel_main) guarantees by calling this after their initialisation.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack)) };
}

/// Mask IRQs at EL1.
pub fn disable_irqs() {
    // SAFETY: masking interrupts has no memory effects.
    unsafe { core::arch::asm!("msr daifset, #2", options(nomem, nostack)) };
}

#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
/// True if IRQs are currently masked.
pub fn irqs_masked() -> bool {
    DAIF.is_set(DAIF::I)
}

/// Wake every CPU waiting in WFE (SEV, after a DSB so what it waits for is visible).
pub fn send_event() {
    asm::barrier::dsb(asm::barrier::ISH);
    asm::sev();
}

/// Wait for an event (WFE), or an interrupt.
pub fn wait_for_event() {
    asm::wfe();
}

/// Wait for an interrupt (WFI): returns when one is pending, masked or not.
pub fn wait_for_interrupt() {
    asm::wfi();
}

/// Park the CPU forever with interrupts masked.
pub fn halt() -> ! {
    disable_irqs();
    loop {
        asm::wfe();
    }
}
