//! The ARM generic timer: EL1 virtual timer (`CNTV_*`) and virtual counter.
//!
//! The virtual timer is used (rather than the physical one) because it works the same
//! whether the kernel entered at EL1 or at EL2 and dropped down; its interrupt is
//! [`crate::board::TimerInfo::virt_irq`] (PPI 11, INTID 27 on QEMU).
//!
//! The register accessors exist only on AArch64; the tick/time conversions are
//! plain arithmetic and available everywhere.

/// Converts counter ticks at `freq_hz` to nanoseconds (rounding down, saturating).
pub const fn ticks_to_nanos(ticks: u64, freq_hz: u64) -> u64 {
    if freq_hz == 0 {
        return 0;
    }
    let ns = ticks as u128 * 1_000_000_000 / freq_hz as u128;
    if ns > u64::MAX as u128 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// Converts nanoseconds to counter ticks at `freq_hz` (rounding up, saturating), so a
/// timer armed with the result never fires early.
pub const fn nanos_to_ticks(nanos: u64, freq_hz: u64) -> u64 {
    let ticks = (nanos as u128 * freq_hz as u128).div_ceil(1_000_000_000);
    if ticks > u64::MAX as u128 {
        u64::MAX
    } else {
        ticks as u64
    }
}

#[cfg(target_arch = "aarch64")]
mod hw {
    use aarch64_cpu::asm::barrier;
    use aarch64_cpu::registers::{CNTFRQ_EL0, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0};
    use tock_registers::interfaces::{Readable, Writeable};

    /// Counter frequency in Hz (`CNTFRQ_EL0`, set by firmware; 62.5 MHz on QEMU 7.2).
    pub fn frequency() -> u64 {
        CNTFRQ_EL0.get()
    }

    /// The virtual counter (`CNTVCT_EL0`), read after an `isb` so it is not
    /// speculated ahead of earlier instructions.
    pub fn now() -> u64 {
        barrier::isb(barrier::SY);
        CNTVCT_EL0.get()
    }

    /// Arms the virtual timer to fire `ticks` counter ticks from now, unmasked.
    pub fn arm_after(ticks: u64) {
        arm_at(now().saturating_add(ticks));
    }

    /// Arms the virtual timer to fire when the virtual counter reaches `deadline`.
    pub fn arm_at(deadline: u64) {
        CNTV_CVAL_EL0.set(deadline);
        CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
        barrier::isb(barrier::SY);
    }

    /// Stops the virtual timer (its interrupt line drops).
    pub fn disable() {
        CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR + CNTV_CTL_EL0::IMASK::SET);
        barrier::isb(barrier::SY);
    }

    /// Whether the timer is enabled and its condition is met (`ISTATUS`).
    pub fn is_pending() -> bool {
        CNTV_CTL_EL0.matches_all(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::ISTATUS::SET)
    }
}

#[cfg(target_arch = "aarch64")]
pub use hw::{arm_after, arm_at, disable, frequency, is_pending, now};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        const QEMU_HZ: u64 = 62_500_000;
        assert_eq!(ticks_to_nanos(QEMU_HZ, QEMU_HZ), 1_000_000_000);
        assert_eq!(ticks_to_nanos(1, QEMU_HZ), 16);
        assert_eq!(nanos_to_ticks(16, QEMU_HZ), 1);
        assert_eq!(nanos_to_ticks(17, QEMU_HZ), 2, "rounds up");
        assert_eq!(nanos_to_ticks(1_000_000, QEMU_HZ), 62_500);
        assert_eq!(ticks_to_nanos(u64::MAX, 1), u64::MAX, "saturates");
        assert_eq!(nanos_to_ticks(u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(ticks_to_nanos(5, 0), 0);
    }
}
