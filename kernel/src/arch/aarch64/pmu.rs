//! The PMU cycle counter (PMCCNTR_EL0). Under QEMU with `-icount shift=0` it counts
//! retired instructions deterministically: report its values as "icount cycles".
//!
//! aarch64-cpu has no PMU registers, so the few this kernel uses are accessed here with
//! their architectural names; field positions are from the Arm ARM (D13.4).

use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// Performance Monitors Control Register.
    pub PMCR_EL0 [
        /// Number of event counters implemented.
        N OFFSET(11) NUMBITS(5) [],
        /// Long cycle counter: overflow at 64 bits.
        LC OFFSET(6) NUMBITS(1) [],
        /// Cycle counter reset (write-only).
        C OFFSET(2) NUMBITS(1) [],
        /// Enable.
        E OFFSET(0) NUMBITS(1) []
    ],
    /// Which counters count.
    pub PMCNTENSET_EL0 [
        /// The cycle counter.
        C OFFSET(31) NUMBITS(1) []
    ],
    /// EL0 access to the PMU.
    pub PMUSERENR_EL0 [
        /// EL0 may read the cycle counter.
        CR OFFSET(2) NUMBITS(1) [],
        /// EL0 may access all PMU registers.
        EN OFFSET(0) NUMBITS(1) []
    ]
}

macro_rules! sysreg_write {
    ($name:literal, $val:expr) => {
        // SAFETY: writing a PMU control register only affects performance counting.
        unsafe { core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) $val, options(nostack)) }
    };
}

/// Enable the cycle counter (64-bit, counting at EL1 and EL0) and let EL0 read it, and
/// nothing else: EL0 may not write, stop or reset any PMU register (PMUSERENR_EL0.EN
/// stays 0, only CR is set).
pub fn enable_cycle_counter() {
    let pmcr = PMCR_EL0::E::SET + PMCR_EL0::LC::SET + PMCR_EL0::C::SET;
    sysreg_write!("pmcr_el0", pmcr.value);
    sysreg_write!("pmccfiltr_el0", 0u64); // count at EL0 and EL1
    sysreg_write!("pmcntenset_el0", PMCNTENSET_EL0::C::SET.value);
    sysreg_write!(
        "pmuserenr_el0",
        (PMUSERENR_EL0::CR::SET + PMUSERENR_EL0::EN::CLEAR).value
    );
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Read the cycle counter.
#[inline(always)]
pub fn cycles() -> u64 {
    let v: u64;
    // SAFETY: reading PMCCNTR_EL0 has no side effects; EL1 always has access.
    unsafe { core::arch::asm!("mrs {}, pmccntr_el0", out(reg) v, options(nomem, nostack)) };
    v
}
