//! Data-cache maintenance by virtual address: DC CVAC (clean to the point of coherency),
//! DC IVAC (invalidate) and DC CIVAC (clean and invalidate), one line at a time over a
//! range, followed by a single DSB for the whole range.
//!
//! Which operation runs over which lines is decided by the portable planner in
//! `mm::cache` (tested on the host); this file only issues the instructions.

use aarch64_cpu::asm::barrier;
use mm::cache::{plan, CacheGeometry, CacheOp, LineRun, RangeError, RangePlan};

/// The data-cache geometry of this CPU, read from CTR_EL0.
pub fn geometry() -> CacheGeometry {
    let ctr: u64;
    // SAFETY: CTR_EL0 is a read-only identification register.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    CacheGeometry::from_ctr_el0(ctr)
}

/// Run one planned line run without a trailing barrier.
///
/// # Safety
/// Every line in the run must be mapped at EL1 for the duration of the call, and an
/// invalidate must not discard data that someone still needs (the planner makes partial
/// edge lines clean+invalidate for that reason).
unsafe fn run_lines(run: &LineRun, line: u64) {
    let mut va = run.start;
    let end = run.start + run.lines * line;
    match run.op {
        CacheOp::Clean => {
            while va < end {
                // SAFETY: the caller guarantees `va` is mapped; DC CVAC writes back a line.
                unsafe { core::arch::asm!("dc cvac, {}", in(reg) va, options(nostack)) };
                va += line;
            }
        }
        CacheOp::Invalidate => {
            while va < end {
                // SAFETY: the caller guarantees `va` is mapped and whole lines only.
                unsafe { core::arch::asm!("dc ivac, {}", in(reg) va, options(nostack)) };
                va += line;
            }
        }
        CacheOp::CleanInvalidate => {
            while va < end {
                // SAFETY: the caller guarantees `va` is mapped; DC CIVAC loses no data.
                unsafe { core::arch::asm!("dc civac, {}", in(reg) va, options(nostack)) };
                va += line;
            }
        }
    }
}

/// Perform `op` over `[va, va + len)` and finish with one DSB SY.
///
/// An `Invalidate` clean+invalidates partial edge lines so that bytes outside the range
/// sharing a line with it are not lost. Returns the plan that was executed (its runs are
/// what the maintenance trace records).
///
/// # Safety
/// The whole range must be mapped at EL1 (cacheable or not) for the duration of the call.
pub unsafe fn maintain_range(op: CacheOp, va: u64, len: u64) -> Result<RangePlan, RangeError> {
    let geom = geometry();
    let plan = plan(geom, op, va, len)?;
    for run in plan.iter() {
        // SAFETY: the caller guarantees the range is mapped; the plan stays inside the lines
        // the range touches.
        unsafe { run_lines(run, geom.line()) };
    }
    barrier::dsb(barrier::SY);
    Ok(plan)
}
