//! Small CPU helpers: interrupt masking, waiting, identification.

use aarch64_cpu::asm;
use aarch64_cpu::registers::{Readable, DAIF};

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

/// Wait for an interrupt.
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
