//! Small CPU helpers: interrupt masking, waiting, identification.

use aarch64_cpu::asm;
use aarch64_cpu::registers::{ReadWriteable, Readable, Writeable, CNTKCTL_EL1, DAIF, SCTLR_EL1};
use core::sync::atomic::{AtomicBool, Ordering};

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

/// EL0 may clean the data cache by address (`uci` on the kernel command line).
static EL0_CACHE_CLEAN: AtomicBool = AtomicBool::new(false);

/// Let EL0 clean the data cache by address from now on, on every CPU (boot, once, before
/// the secondaries start): SCTLR_EL1.UCI on this CPU, and [`apply_el0_cache_clean`] on
/// each secondary.
///
/// UCI lets EL0 issue `DC CVAC`, `DC CVAP`, `DC CVAU`, `DC CIVAC` and `IC IVAU` on
/// addresses it may read. None of them can lose data or show data the task could not
/// read: a clean writes back a dirty line (what an eviction may do at any moment), a
/// clean+invalidate also drops the clean copy (what a replacement may do). `DC IVAC`,
/// which discards dirty data, stays EL1-only whatever UCI says (Arm ARM: it is
/// UNDEFINED at EL0), and so does set/way maintenance. Linux sets UCI on every boot.
pub fn allow_el0_cache_clean() {
    EL0_CACHE_CLEAN.store(true, Ordering::SeqCst);
    apply_el0_cache_clean();
}

/// Set SCTLR_EL1.UCI on this CPU if [`allow_el0_cache_clean`] was called.
pub fn apply_el0_cache_clean() {
    if el0_cache_clean() {
        SCTLR_EL1.modify(SCTLR_EL1::UCI::SET);
        asm::barrier::isb(asm::barrier::SY);
    }
}

/// True if EL0 may clean the data cache by address (the boot said `uci`).
pub fn el0_cache_clean() -> bool {
    EL0_CACHE_CLEAN.load(Ordering::Relaxed)
}

/// Complete this CPU's cache maintenance issued so far, EL0's included (`DSB SY`), if
/// EL0 may issue any ([`el0_cache_clean`]). Called where a thread may be preempted (an
/// IRQ from EL0) and where a task says it has cleaned lines itself (END with
/// `USER_CLEANED`): an EL0 `DC CVAC` completes only at a DSB *of the CPU that issued
/// it*, and a thread's own DSB after its loop runs on another CPU if it was preempted
/// and moved in between (Linux issues a DSB at every context switch for the same
/// reason). A thread that makes a blocking call between its cleans and its own DSB is
/// outside the protocol (`urt::uclean` cleans, DSBs and ENDs with no call between):
/// like a task that lies about its clean, it can only leave its own lines stale.
#[inline(always)]
pub fn complete_el0_maintenance() {
    if el0_cache_clean() {
        asm::barrier::dsb(asm::barrier::SY);
    }
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
