//! Kernel event counters for benchmarks (`counters` syscall): what the kernel did, to
//! put next to how long it took. Relaxed atomics; the syscall count, taken on every
//! call, is kept per CPU (`smp::PerCpu::syscalls`) so the fast path shares no counter's
//! cache line with other CPUs.

use core::sync::atomic::{AtomicU64, Ordering};

/// Cache lines cleaned (DC CVAC).
pub static LINES_CLEANED: AtomicU64 = AtomicU64::new(0);
/// Cache lines invalidated (DC IVAC).
pub static LINES_INVALIDATED: AtomicU64 = AtomicU64::new(0);
/// Cache lines cleaned and invalidated (DC CIVAC).
pub static LINES_CLEAN_INVALIDATED: AtomicU64 = AtomicU64::new(0);
/// Legacy faults resolved.
pub static FAULTS: AtomicU64 = AtomicU64::new(0);
/// Legacy PTE shootdowns.
pub static ZAPS: AtomicU64 = AtomicU64::new(0);
/// TLBI instructions.
pub static TLBIS: AtomicU64 = AtomicU64::new(0);
/// DC CISW operations.
pub static SETWAY_OPS: AtomicU64 = AtomicU64::new(0);

/// Cache lines maintained on buffers no device has imported or written (`stats`, not
/// part of `abi::Counters`): about the bytes of each range, per range.
pub static CPU_ONLY_LINES: AtomicU64 = AtomicU64::new(0);

/// Add `n` to a counter.
#[inline(always)]
pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Count a syscall taken on this CPU (from EL0). Only this CPU writes its count (with IRQs
/// masked), so a plain load and store do: no read-modify-write.
#[inline(always)]
pub fn syscall() {
    syscall_on(crate::smp::this_cpu_from_el0());
}

/// [`syscall`], given this CPU's block (the sync fast path has it at hand).
#[inline(always)]
pub fn syscall_on(cpu: &crate::smp::PerCpu) {
    let c = &cpu.syscalls;
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

/// All counters now.
pub fn snapshot() -> abi::Counters {
    let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
    abi::Counters {
        lines_cleaned: g(&LINES_CLEANED),
        lines_invalidated: g(&LINES_INVALIDATED),
        lines_clean_invalidated: g(&LINES_CLEAN_INVALIDATED),
        syscalls: crate::smp::each_cpu().map(|c| g(&c.syscalls)).sum(),
        faults: g(&FAULTS),
        zaps: g(&ZAPS),
        tlbis: g(&TLBIS),
        setway_ops: g(&SETWAY_OPS),
    }
}
