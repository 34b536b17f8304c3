//! The raw system call instruction.
//!
//! Convention (SYSCALLS.md): `svc #0` with the number in `x8` and arguments in `x0..x5`;
//! on return `x0` is 0 or an error code and `x1`, `x2` hold results. The kernel preserves
//! every other register, so only `x0..x2` are declared as outputs; `x3..x5` and `x8` are
//! plain inputs.

use core::arch::asm;

/// Issue `svc #0` with call number `num` and arguments `args` in `x0..x5`; returns
/// `[x0, x1, x2]` as the kernel left them.
///
/// This is the escape hatch for tests that pass garbage; programs use the typed wrappers
/// in the crate root.
///
/// # Safety
///
/// The kernel acts on whatever the arguments say. The caller must make sure that:
/// - every pointer the call may *write* through (`channel_recv`'s buffers) is either
///   rejected by the kernel or names memory that the program may have overwritten
///   (no live Rust reference, no data the program relies on);
/// - handles the call may move or close (`handle_close`, `channel_send`, `spawn`) are not
///   handles some other code still relies on;
/// - `num == 0` (`exit`) is intended: it does not return.
pub unsafe fn raw_syscall(num: u64, args: [u64; 6]) -> [u64; 3] {
    let r0: u64;
    let r1: u64;
    let r2: u64;
    // SAFETY: `svc #0` traps to the kernel, which preserves every register except x0..x2
    // (declared as outputs) and does not touch the user stack (`nostack`). Memory it
    // reads or writes on our behalf is the caller's responsibility (see `# Safety`), so
    // the block is not `nomem`/`readonly`.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") args[0] => r0,
            inlateout("x1") args[1] => r1,
            inlateout("x2") args[2] => r2,
            in("x3") args[3],
            in("x4") args[4],
            in("x5") args[5],
            in("x8") num,
            options(nostack),
        );
    }
    [r0, r1, r2]
}

/// [`raw_syscall`], timed: also returns how far the cycle counter (PMCCNTR_EL0, read at
/// EL0) advanced from just before the `svc` to just after it. Both reads are in the same
/// `asm!` block as the `svc`, so nothing else runs in between: the count is the kernel
/// entry, the call and the return, plus the one counter read.
///
/// # Safety
///
/// As [`raw_syscall`].
pub unsafe fn timed_syscall(num: u64, args: [u64; 6]) -> ([u64; 3], u64) {
    // SAFETY: the caller's contract is `timed_syscall_span`'s.
    let (r, t0, t1) = unsafe { timed_syscall_span(num, args) };
    (r, t1.wrapping_sub(t0))
}

/// [`timed_syscall`] with the two raw counter values (read just before and just after
/// the `svc`) instead of their difference, for tools that attribute something else to
/// the same window (the sanitizer's memory-cost model records the penalty at every
/// counter read).
///
/// # Safety
///
/// As [`raw_syscall`].
#[inline(always)]
pub unsafe fn timed_syscall_span(num: u64, args: [u64; 6]) -> ([u64; 3], u64, u64) {
    let r0: u64;
    let r1: u64;
    let r2: u64;
    let t0: u64;
    let t1: u64;
    // SAFETY: as in `raw_syscall`; in addition the block reads PMCCNTR_EL0, which the
    // kernel makes readable at EL0, into `t0` and `t1`. `t0` is an `out` (not `lateout`)
    // register, so it is none of the argument registers, and the kernel preserves it
    // across the `svc`.
    unsafe {
        asm!(
            "mrs {t0}, pmccntr_el0",
            "svc #0",
            "mrs {t1}, pmccntr_el0",
            t0 = out(reg) t0,
            t1 = lateout(reg) t1,
            inlateout("x0") args[0] => r0,
            inlateout("x1") args[1] => r1,
            inlateout("x2") args[2] => r2,
            in("x3") args[3],
            in("x4") args[4],
            in("x5") args[5],
            in("x8") num,
            options(nostack),
        );
    }
    ([r0, r1, r2], t0, t1)
}

/// Turn a raw result into `Ok((x1, x2))` or the error in `x0`. An error code the ABI
/// does not define (a kernel bug) reads as [`abi::Error::InvalidArgument`]; tests that
/// care look at the raw value.
pub fn decode(r: [u64; 3]) -> Result<(u64, u64), abi::Error> {
    match r[0] {
        0 => Ok((r[1], r[2])),
        e => Err(abi::Error::try_from(e).unwrap_or(abi::Error::InvalidArgument)),
    }
}

/// Read the cycle counter directly (`mrs pmccntr_el0`), which the kernel allows at EL0.
/// [`crate::cycles`] is the syscall that returns the same counter.
pub fn read_pmccntr() -> u64 {
    let v: u64;
    // SAFETY: reads a system register into a general register; no memory or stack use.
    // If the kernel did not enable EL0 access the instruction traps and the task is
    // killed, which is the documented contract's failure, not undefined behaviour.
    unsafe { asm!("mrs {}, pmccntr_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Read the cache type register CTR_EL0 (`mrs ctr_el0`), which the kernel lets EL0 read
/// (SCTLR_EL1.UCT).
pub fn read_ctr_el0() -> u64 {
    let v: u64;
    // SAFETY: reads a system register into a general register; no memory or stack use.
    // Without EL0 access the instruction traps and the task is killed (a broken
    // contract, not undefined behaviour).
    unsafe { asm!("mrs {}, ctr_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// The smallest data cache line size in bytes, from CTR_EL0.DminLine (bits 19:16, log2
/// of the number of 4-byte words): the granule of the kernel's buffer maintenance.
pub fn dcache_line_size() -> u64 {
    4 << ((read_ctr_el0() >> 16) & 0xf)
}
