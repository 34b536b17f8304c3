//! How long the kernel keeps interrupts waiting (benchmark kernels only): the longest
//! stretch it runs with IRQs masked and no point at which a pending interrupt would be
//! taken.
//!
//! The kernel runs every exception with IRQs masked. A stretch starts at the entry of
//! an exception handler ([`enter`]) and ends where a pending interrupt gets its turn
//! ([`point`]): the return to EL0, the idle loop unmasking IRQs, and the preemption
//! points between the bounded steps of long maintenance (`buffer::job`), where a
//! pending interrupt makes the call give way. `stats(MaskedMax)` reads the longest
//! stretch since its last read, in cycles (PMCCNTR_EL0; instructions under icount), and
//! starts over. Each CPU times its own stretches with its own counter (the counters of
//! different CPUs are unrelated); the maximum is over all CPUs. The few instructions of
//! the vectors before the Rust handler and after it are not counted. Other kernels
//! record nothing and report 0.

#[cfg(feature = "bench")]
use core::sync::atomic::{AtomicU64, Ordering};

/// This CPU's stretch start (`PerCpu::masked_since`).
#[cfg(feature = "bench")]
#[inline(always)]
fn start() -> &'static AtomicU64 {
    &crate::smp::this_cpu().masked_since
}

/// Longest stretch since the last [`take_max`].
#[cfg(feature = "bench")]
static MAX: AtomicU64 = AtomicU64::new(0);

/// IRQs were just masked by an exception entry: a stretch starts.
#[inline(always)]
pub fn enter() {
    #[cfg(feature = "bench")]
    start().store(crate::arch::pmu::cycles(), Ordering::Relaxed);
}

/// A pending interrupt would be taken here: the stretch ends (and the next one starts,
/// if the kernel carries on masked).
#[inline(always)]
pub fn point() {
    #[cfg(feature = "bench")]
    {
        let now = crate::arch::pmu::cycles();
        let start = start().swap(now, Ordering::Relaxed);
        MAX.fetch_max(now.wrapping_sub(start), Ordering::Relaxed);
    }
}

/// The longest stretch since the last call (0 on kernels that do not measure).
pub fn take_max() -> u64 {
    #[cfg(feature = "bench")]
    return MAX.swap(0, Ordering::Relaxed);
    #[cfg(not(feature = "bench"))]
    0
}
