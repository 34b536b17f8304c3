//! GICv3 CPU interface system registers (`ICC_*_EL1`), by their encodings since
//! `aarch64-cpu` does not provide them.

use core::arch::asm;

use aarch64_cpu::asm::barrier;

macro_rules! sysreg {
    (read $enc:literal) => {{
        let v: u64;
        // SAFETY: GIC CPU-interface registers touch no memory we own (reading IAR
        // acknowledges an interrupt, which is the caller's intent); EL1
        // access is enabled (ICC_SRE_EL2.Enable is set by the kernel's EL2 stub).
        unsafe { asm!(concat!("mrs {}, ", $enc), out(reg) v, options(nostack, preserves_flags)) };
        v
    }};
    (write $enc:literal, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: as above; writes affect only interrupt delivery to this CPU.
        unsafe { asm!(concat!("msr ", $enc, ", {}"), in(reg) v, options(nostack, preserves_flags)) };
    }};
}

/// Enables the system-register interface and group 1 interrupts with the priority
/// mask fully open.
pub fn init() {
    // ICC_SRE_EL1.SRE = 1 (bit 0), keep DFB/DIB.
    let sre = sysreg!(read "s3_0_c12_c12_5");
    sysreg!(write "s3_0_c12_c12_5", sre | 1);
    barrier::isb(barrier::SY);
    // ICC_PMR_EL1 = 0xff: signal every priority.
    sysreg!(write "s3_0_c4_c6_0", 0xff);
    // ICC_BPR1_EL1 = 0: no priority grouping.
    sysreg!(write "s3_0_c12_c12_3", 0);
    // ICC_CTLR_EL1.EOImode = 0 (bit 1): EOIR both drops priority and deactivates.
    let ctlr = sysreg!(read "s3_0_c12_c12_4");
    sysreg!(write "s3_0_c12_c12_4", ctlr & !0b10);
    // ICC_IGRPEN1_EL1 = 1.
    sysreg!(write "s3_0_c12_c12_7", 1);
    barrier::isb(barrier::SY);
}

/// ICC_IAR1_EL1: acknowledges and returns the INTID (1020..=1023 = none).
pub fn read_iar1() -> u32 {
    (sysreg!(read "s3_0_c12_c12_0") & 0xff_ffff) as u32
}

/// ICC_EOIR1_EL1: ends `intid`.
pub fn write_eoir1(intid: u32) {
    sysreg!(write "s3_0_c12_c12_1", u64::from(intid));
    barrier::isb(barrier::SY);
}

/// ICC_SGI1R_EL1 with IRM (bit 40) set: SGI `intid` to every CPU but this one.
pub fn send_sgi_to_others(intid: u32) {
    barrier::dsb(barrier::ISHST);
    sysreg!(write "s3_0_c12_c11_5", (1 << 40) | (u64::from(intid & 0xf) << 24));
    barrier::isb(barrier::SY);
}
