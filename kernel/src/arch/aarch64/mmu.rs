//! MMU control: switching the kernel's TTBR1 tables and TLB maintenance.
//!
//! The translation tables themselves are built by the portable `mm::pgtable` builder;
//! this file only installs them.

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{ReadWriteable, Readable, Writeable, TCR_EL1};

extern "C" {
    fn replace_ttbr1(new_root_pa: u64);
}

/// Install `root_pa` as the TTBR1 (kernel half) root, break-before-make style.
///
/// `replace_ttbr1` must not run through TTBR1 while TTBR1 changes, so it is called at its
/// physical address through the identity map the boot code left in TTBR0.
///
/// # Safety
/// The new tables must map the running kernel image, its stack and everything the kernel
/// will touch next at the same virtual addresses, and `image_pa_of` must return the
/// physical address of a kernel-image virtual address. TTBR0 must still hold the boot
/// identity map.
pub unsafe fn switch_kernel_tables(root_pa: u64, image_pa_of: impl Fn(u64) -> u64) {
    let trampoline_pa = image_pa_of(replace_ttbr1 as *const () as u64);
    // SAFETY: the identity map makes `trampoline_pa` the same code as `replace_ttbr1`,
    // executable at EL1; it clobbers only x0/x1 and touches no memory through TTBR1.
    unsafe {
        let f: extern "C" fn(u64) = core::mem::transmute(trampoline_pa as usize);
        f(root_pa);
    }
}

/// Stop TTBR0 walks (EPD0): drops the boot identity map until user address spaces exist.
pub fn disable_ttbr0_walks() {
    TCR_EL1.modify(TCR_EL1::EPD0::DisableTTBR0Walks);
    barrier::isb(barrier::SY);
    invalidate_tlb_all();
}

/// Invalidate every EL1&0 TLB entry on this CPU.
pub fn invalidate_tlb_all() {
    crate::counters::add(&crate::counters::TLBIS, 1);
    // SAFETY: TLB invalidation has no effect beyond forcing fresh table walks.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            options(nostack)
        )
    };
}

/// Invalidate the TLB entries of one kernel (global) page.
pub fn invalidate_tlb_page(va: u64) {
    crate::counters::add(&crate::counters::TLBIS, 1);
    // SAFETY: as above; the operand is VA[55:12].
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi vaae1is, {}", "dsb ish", "isb", in(reg) (va >> 12) & ((1 << 44) - 1), options(nostack))
    };
}

/// Invalidate every TLB entry tagged with `asid` (a user address space going away or
/// changing).
pub fn invalidate_tlb_asid(asid: u16) {
    crate::counters::add(&crate::counters::TLBIS, 1);
    // SAFETY: TLB invalidation only forces fresh walks; the operand is ASID << 48.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb", in(reg) u64::from(asid) << 48, options(nostack))
    };
}

/// Install a user address space (root table | ASID << 48) in TTBR0 and make sure TTBR0
/// walks are on. ASID-tagged entries of other spaces stay valid in the TLB.
pub fn set_user_table(ttbr0: u64) {
    aarch64_cpu::registers::TTBR0_EL1.set(ttbr0);
    if TCR_EL1.matches_all(TCR_EL1::EPD0::DisableTTBR0Walks) {
        TCR_EL1.modify(TCR_EL1::EPD0::EnableTTBR0Walks);
    }
    barrier::isb(barrier::SY);
}

/// Invalidate the TLB entry of one user page of address space `asid`.
pub fn invalidate_tlb_user_page(va: u64, asid: u16) {
    crate::counters::add(&crate::counters::TLBIS, 1);
    let operand = ((va >> 12) & ((1 << 44) - 1)) | (u64::from(asid) << 48);
    // SAFETY: TLB invalidation only forces a fresh walk for that page.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi vae1is, {}", "dsb ish", "isb", in(reg) operand, options(nostack))
    };
}
