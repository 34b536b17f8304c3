//! Timing and counting: the cycle counter ([`now`]), syscalls timed at their `svc`
//! ([`timed_sync`] and its neighbours), the kernel's event counters as arithmetic values
//! ([`Events`]) read around a region ([`Window`]), and keeping timer interrupts out of
//! measurements ([`repeat`], [`between_ticks`]).

use crate::{Failed, OrFail};
use core::ops::{Add, AddAssign, Div, Sub};
use urt::sys::{decode, timed_syscall_span};
use urt::{Counters, Fence, Handle, Result, Stat, Sys};

/// The cycle counter now: PMCCNTR_EL0, read at EL0 without a syscall. Under
/// `-icount shift=0` it counts retired instructions.
///
/// Unlike `urt::sys::read_pmccntr` the `asm!` is not `nomem`: the compiler must treat it
/// as touching memory, so it never moves the stores of a timed write phase across it.
#[inline(always)]
pub fn now() -> u64 {
    let v: u64;
    // SAFETY: reads a system register that the kernel makes readable at EL0 into a
    // general register; no stack use. Not `nomem` on purpose (see above).
    unsafe {
        core::arch::asm!(
            "mrs {}, pmccntr_el0",
            out(reg) v,
            options(nostack, preserves_flags)
        )
    };
    v
}

/// Make syscall `sys` and return its result with the cycles of exactly its `svc`
/// ([`urt::sys::timed_syscall`]), logged in [`crate::windows`]. Private: only for the
/// calls below, which neither write into this task's memory nor move handles.
fn timed_call(sys: Sys, args: [u64; 6]) -> (Result<(u64, u64)>, u64) {
    // SAFETY: every caller below passes a call that only reads its arguments: no pointer
    // the kernel writes through, no handle moved or closed, not `exit`.
    let (r, start, end) = unsafe { timed_syscall_span(sys as u64, args) };
    (decode(r), crate::windows::window(start, end))
}

/// `buffer_sync(h, flags, offset, len)`, timed at the `svc`: returns its cycles.
pub fn timed_sync(h: Handle, flags: u64, offset: u64, len: u64) -> Result<u64> {
    let (r, cycles) = timed_call(Sys::BufferSync, [h.0 as u64, flags, offset, len, 0, 0]);
    r.map(|_| cycles)
}

/// `buffer_sync_rect(h, flags, offset, row_len, rows, stride)`, timed at the `svc`:
/// returns its cycles.
pub fn timed_sync_rect(
    h: Handle,
    flags: u64,
    offset: u64,
    row_len: u64,
    rows: u64,
    stride: u64,
) -> Result<u64> {
    let args = [h.0 as u64, flags, offset, row_len, rows, stride];
    let (r, cycles) = timed_call(Sys::BufferSyncRect, args);
    r.map(|_| cycles)
}

/// `bench_clean_all()`, timed at the `svc` (syscall included, unlike the cycles the
/// kernel returns): returns its cycles.
pub fn timed_clean_all() -> Result<u64> {
    let (r, cycles) = timed_call(Sys::BenchCleanAll, [0; 6]);
    r.map(|_| cycles)
}

/// `gpu_present(resource, x, y, width, height)`, timed at the `svc`: returns the fence
/// and its cycles.
pub fn timed_present(resource: Handle, x: u32, y: u32, w: u32, h: u32) -> Result<(Fence, u64)> {
    let args = [resource.0 as u64, x.into(), y.into(), w.into(), h.into(), 0];
    let (r, cycles) = timed_call(Sys::GpuPresent, args);
    r.map(|(fence, _)| (Fence(fence), cycles))
}

/// `buffer_unmap(addr)`, timed at the `svc`: returns its cycles.
///
/// # Safety
/// As [`urt::buffer_unmap`]: `addr` is a mapping nothing refers to any more.
pub unsafe fn timed_unmap(addr: *mut u8) -> Result<u64> {
    // SAFETY: the call writes no memory of this task's and moves no handle; it removes
    // the mapping at `addr`, which the caller promises nothing refers to any more.
    let (r, start, end) =
        unsafe { timed_syscall_span(Sys::BufferUnmap as u64, [addr as u64, 0, 0, 0, 0, 0]) };
    decode(r).map(|_| crate::windows::window(start, end))
}

/// `blk_read(buffer, offset, sector, count)`, timed at the `svc`: returns the fence and
/// its cycles.
pub fn timed_blk_read(
    buffer: Handle,
    offset: u64,
    sector: u64,
    count: u64,
) -> Result<(Fence, u64)> {
    let args = [buffer.0 as u64, offset, sector, count, 0, 0];
    let (r, cycles) = timed_call(Sys::BlkRead, args);
    r.map(|(fence, _)| (Fence(fence), cycles))
}

/// Names of the kernel's event counters, in [`Events`] order (and in the JSON).
pub const EVENT_NAMES: [&str; 8] = [
    "lines_cleaned",
    "lines_invalidated",
    "lines_clean_invalidated",
    "syscalls",
    "faults",
    "zaps",
    "tlbis",
    "setway_ops",
];

/// Index of the syscall count in [`Events`].
const SYSCALLS: usize = 3;

/// The kernel's event counters ([`Counters`]) as an array in [`EVENT_NAMES`] order, so
/// that they add, subtract and divide field by field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events(pub [u64; 8]);

impl From<Counters> for Events {
    fn from(c: Counters) -> Events {
        Events([
            c.lines_cleaned,
            c.lines_invalidated,
            c.lines_clean_invalidated,
            c.syscalls,
            c.faults,
            c.zaps,
            c.tlbis,
            c.setway_ops,
        ])
    }
}

impl Add for Events {
    type Output = Events;
    fn add(self, o: Events) -> Events {
        Events(core::array::from_fn(|i| self.0[i].wrapping_add(o.0[i])))
    }
}

impl AddAssign for Events {
    fn add_assign(&mut self, o: Events) {
        *self = *self + o;
    }
}

impl Sub for Events {
    type Output = Events;
    fn sub(self, o: Events) -> Events {
        Events(core::array::from_fn(|i| self.0[i].wrapping_sub(o.0[i])))
    }
}

impl Div<u64> for Events {
    type Output = Events;
    fn div(self, n: u64) -> Events {
        Events(self.0.map(|v| v / n))
    }
}

/// Timer ticks since boot (`stats`).
fn ticks() -> Result<u64> {
    urt::stats(Stat::Ticks)
}

/// What happened in a [`Window`].
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// The kernel's events between [`Window::open`] and [`Window::close`].
    pub events: Events,
    /// No timer tick arrived while the window was open (so no interrupt handler or
    /// scheduler ran inside it).
    pub quiet: bool,
    /// The longest stretch the kernel ran with IRQs masked and no point where a pending
    /// interrupt would be taken, in cycles, while the window was open
    /// (`stats(MaskedMax)`; benchmark kernels built with the `latency` probe only, 0
    /// elsewhere).
    pub masked_max: u64,
}

/// A region of kernel events: [`Window::open`] reads the counters, [`Window::close`]
/// reads them again and returns what happened in between.
///
/// The closing `counters` call counts itself as a syscall; `close` takes it off, so the
/// result is exactly the events of the code between the two calls. The timer tick count
/// is read outside the pair (before opening, after closing) to tell whether an interrupt
/// may have landed inside; so is `stats(MaskedMax)`, read once before opening (which
/// starts its count) and once after closing (the longest masked stretch in between,
/// the two `counters` calls' own included: a few hundred cycles).
#[derive(Debug)]
pub struct Window {
    ticks: u64,
    start: Events,
}

impl Window {
    /// Start counting.
    pub fn open() -> Result<Window> {
        let ticks = ticks()?;
        urt::stats(Stat::MaskedMax)?;
        let start = urt::counters()?.into();
        Ok(Window { ticks, start })
    }

    /// Stop counting: the events since [`Window::open`], less the `counters` call that
    /// read them.
    pub fn close(self) -> Result<Span> {
        let end: Events = urt::counters()?.into();
        let masked_max = urt::stats(Stat::MaskedMax)?;
        let quiet = ticks()? == self.ticks;
        let mut events = end - self.start;
        events.0[SYSCALLS] = events.0[SYSCALLS].wrapping_sub(1);
        Ok(Span {
            events,
            quiet,
            masked_max,
        })
    }
}

/// Cycles and events summed over a number of operations.
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    /// Operations measured.
    pub reps: u64,
    /// Cycles over all of them.
    pub cycles: u64,
    /// Kernel events over all of them.
    pub events: Events,
    /// The longest IRQ-masked stretch seen in any of them ([`Span::masked_max`]).
    pub masked_max: u64,
}

impl Totals {
    /// Add one operation, measured in `span`.
    pub fn add(&mut self, cycles: u64, span: &Span) {
        self.reps += 1;
        self.cycles += cycles;
        self.events += span.events;
        self.masked_max = self.masked_max.max(span.masked_max);
    }
}

/// How many times a measurement that a timer tick interrupted is run again before its
/// numbers are taken anyway.
pub const TICK_RETRIES: u32 = 4;

/// Block until the next timer tick: `sleep` has the resolution of a tick and never
/// returns early, so a 1 ns sleep ends at a tick. Code that starts right after a tick has
/// a whole tick period (10 ms: ten million instructions under icount) before the next
/// one. (With `sleep=off` QEMU skips idle time, so this costs no wall time.)
pub fn wait_for_tick() -> Result<()> {
    urt::sleep_ns(1)
}

/// Run `attempt` (a measurement that returns its results with the [`Span`] of its
/// counters window) right after a timer tick, so that no timer interrupt lands in it;
/// should one have landed anyway, run it again, up to [`TICK_RETRIES`] times. For
/// measurements too long for [`repeat`]'s retry-if-unlucky approach (frames, rounds of
/// hand-overs), but far shorter than a tick period.
pub fn between_ticks<T>(
    mut attempt: impl FnMut() -> core::result::Result<(T, Span), Failed>,
) -> core::result::Result<(T, Span), Failed> {
    let mut retries = 0;
    loop {
        wait_for_tick().or_fail("sleep")?;
        let (r, span) = attempt()?;
        if span.quiet || retries == TICK_RETRIES {
            return Ok((r, span));
        }
        retries += 1;
    }
}

/// Measure an operation `reps` times. Each repetition:
///
/// 1. `before()`: untimed and outside the counters (e.g. the START that an END being
///    measured needs);
/// 2. `op()` inside a [`Window`]; it returns the cycles of what it measures (usually
///    [`timed_sync`] of exactly one syscall, or a cycle count the kernel measured);
/// 3. `after()`: untimed and outside the counters (e.g. the END that closes a START
///    being measured).
///
/// A timer interrupt costs more than a short syscall, so a repetition during which a
/// tick arrived is discarded and run again right after the next tick, up to
/// [`TICK_RETRIES`] times: the numbers are then exactly repeatable.
pub fn repeat(
    reps: u64,
    mut before: impl FnMut() -> Result<()>,
    mut op: impl FnMut() -> Result<u64>,
    mut after: impl FnMut() -> Result<()>,
) -> Result<Totals> {
    let mut totals = Totals::default();
    for _ in 0..reps {
        let mut retries = 0;
        loop {
            before()?;
            let window = Window::open()?;
            let cycles = op()?;
            let span = window.close()?;
            after()?;
            if span.quiet || retries == TICK_RETRIES {
                totals.add(cycles, &span);
                break;
            }
            retries += 1;
            wait_for_tick()?;
        }
    }
    Ok(totals)
}
