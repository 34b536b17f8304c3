//! How long the kernel keeps interrupts waiting (kernels built with the `latency`
//! feature only: the benchmark's second kernel, see `cargo xtask bench`): the longest
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
//! different CPUs are unrelated) and keeps its own maximum; the read takes the maximum
//! over all CPUs (a stretch ending on another CPU during the read may count in this
//! period or the next). The few instructions of
//! the vectors before the Rust handler and after it are not counted, and the probe's
//! own instructions are (a stretch is a few instructions longer than on a kernel
//! without it). Other kernels record nothing and report 0: every cycle figure of the
//! benchmark comes from a kernel without the probe.

#[cfg(feature = "latency")]
use core::sync::atomic::Ordering;

/// IRQs were just masked by an exception entry: a stretch starts.
#[inline(always)]
pub fn enter() {
    #[cfg(feature = "latency")]
    crate::smp::this_cpu()
        .masked_since
        .store(crate::arch::pmu::cycles(), Ordering::Relaxed);
}

/// A pending interrupt would be taken here: the stretch ends (and the next one starts,
/// if the kernel carries on masked). Only this CPU writes its own `masked_since` and
/// `masked_max` (with IRQs masked), so plain loads and stores do: no read-modify-write
/// and nothing shared with other CPUs on every syscall.
#[inline(always)]
pub fn point() {
    #[cfg(feature = "latency")]
    {
        let me = crate::smp::this_cpu();
        let now = crate::arch::pmu::cycles();
        let stretch = now.wrapping_sub(me.masked_since.load(Ordering::Relaxed));
        me.masked_since.store(now, Ordering::Relaxed);
        if stretch > me.masked_max.load(Ordering::Relaxed) {
            me.masked_max.store(stretch, Ordering::Relaxed);
        }
    }
}

/// The longest stretch since the last call (0 on kernels that do not measure).
pub fn take_max() -> u64 {
    #[cfg(feature = "latency")]
    return crate::smp::each_cpu()
        .map(|c| c.masked_max.swap(0, Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    #[cfg(not(feature = "latency"))]
    0
}
