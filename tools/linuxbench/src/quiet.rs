//! Keeping interrupts out of the timed windows, and Linux's own event counts.
//!
//! Under `-icount` a timer tick lands at a deterministic instruction count only if
//! everything before it was deterministic, and device interrupts (the block device's
//! completion) arrive when the host finishes the work. So no figure may contain an
//! interrupt: every measured repetition runs inside a [`Window`] that counts, for this
//! task, the interrupts taken while it ran (a perf event on the `irq:irq_handler_entry`
//! tracepoint, which every handled interrupt passes, the arch timer's per-CPU one
//! included) and its context switches (the `context-switches` software event), and a
//! repetition during which either moved is thrown away and run again ([`until_quiet`]),
//! right after the next tick and after yielding to whatever it woke.
//! Reading the two counters costs two `read(2)`s, so the windows stay short next to the
//! 4 ms (4 million instruction) tick. [`Detector::open`] checks that the detector sees
//! the timer ticks of a busy loop longer than two tick periods before anything is
//! measured. The window also takes the task's page faults (`getrusage` minor + major),
//! Linux's counterpart of the project's `faults` counter.

use crate::pmu::{perf_open, perf_read};
use std::sync::OnceLock;

/// `PERF_TYPE_SOFTWARE` / `PERF_COUNT_SW_CONTEXT_SWITCHES`.
const SOFTWARE: (u32, u64) = (1, 3);
/// `PERF_TYPE_TRACEPOINT`.
const TRACEPOINT: u32 = 2;
/// Where the harness mounts tracefs, and the tracepoint's id file under it.
const TRACEFS: &str = "/tracing";
const IRQ_ENTRY_ID: &str = "/tracing/events/irq/irq_handler_entry/id";

/// The two perf events that tell whether anything disturbed this task.
pub struct Detector {
    irqs: i32,
    switches: i32,
}

static DETECTOR: OnceLock<Detector> = OnceLock::new();

impl Detector {
    /// Mount tracefs, open both events, and check that a busy loop of about 10 million
    /// instructions (two and a half tick periods) is seen to be interrupted.
    pub fn open() -> Result<(), String> {
        crate::mount("tracefs", TRACEFS, "tracefs")?;
        let id: u64 = std::fs::read_to_string(IRQ_ENTRY_ID)
            .map_err(|e| format!("{IRQ_ENTRY_ID}: {e}"))?
            .trim()
            .parse()
            .map_err(|e| format!("{IRQ_ENTRY_ID}: {e}"))?;
        let d = Detector {
            irqs: perf_open("irq:irq_handler_entry", TRACEPOINT, id, 0)?,
            switches: perf_open("context-switches", SOFTWARE.0, SOFTWARE.1, 0)?,
        };
        let _ = DETECTOR.set(d);
        let w = Window::open()?;
        let mut x = 0u64;
        for i in 0..2_500_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        let span = w.close()?;
        if span.quiet || span.disturbed.0 < 2 {
            return Err(format!(
                "the interrupt detector saw {} interrupts in a busy loop of 2.5 tick periods",
                span.disturbed.0
            ));
        }
        Ok(())
    }

    fn counts() -> Result<(u64, u64), String> {
        let d = DETECTOR.get().ok_or("the interrupt detector is not open")?;
        Ok((perf_read(d.irqs)?, perf_read(d.switches)?))
    }
}

/// This task's page faults so far (minor + major).
fn faults() -> Result<u64, String> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `rusage` into the zeroed buffer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) } != 0 {
        return Err("getrusage failed".into());
    }
    // SAFETY: zero-initialised and filled by getrusage.
    let ru = unsafe { ru.assume_init() };
    Ok((ru.ru_minflt + ru.ru_majflt) as u64)
}

/// What happened between [`Window::open`] and [`Window::close`].
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// Page faults of this task.
    pub faults: u64,
    /// No interrupt was taken and no other task ran.
    pub quiet: bool,
    /// Interrupts taken and task switches.
    pub disturbed: (u64, u64),
}

/// A region whose interrupts, task switches and faults are counted.
pub struct Window {
    start: (u64, u64),
    faults: u64,
}

impl Window {
    /// Start counting.
    pub fn open() -> Result<Window, String> {
        Ok(Window {
            start: Detector::counts()?,
            faults: faults()?,
        })
    }

    /// Stop counting.
    pub fn close(self) -> Result<Span, String> {
        let faults = faults()? - self.faults;
        let end = Detector::counts()?;
        let disturbed = (end.0 - self.start.0, end.1 - self.start.1);
        Ok(Span {
            faults,
            quiet: disturbed == (0, 0),
            disturbed,
        })
    }
}

/// How many times a repetition that an interrupt disturbed is run again; if every try
/// is disturbed the run fails (a figure with an interrupt in it is not reproducible).
pub const RETRIES: u32 = 64;

/// Run `attempt` (which returns its result and the [`Span`] of its window) until one run
/// is quiet, at most [`RETRIES`] + 1 times, each retry right after a timer tick
/// ([`wait_for_interrupt`]); returns the result and how many tries were thrown away.
pub fn until_quiet<T>(
    what: &str,
    mut attempt: impl FnMut() -> Result<(T, Span), String>,
) -> Result<(T, Span, u32), String> {
    let mut seen = Vec::new();
    for thrown in 0..=RETRIES {
        let (r, span) = attempt()?;
        if span.quiet {
            return Ok((r, span, thrown));
        }
        seen.push(span.disturbed);
        wait_for_interrupt()?;
    }
    Err(format!(
        "{what}: an interrupt or task switch landed in each of {} tries \
         (interrupts, switches: {seen:?})",
        RETRIES + 1
    ))
}

/// Spin until this task takes an interrupt (the next timer tick, at most 4 ms away), so
/// that what follows starts a whole tick period before the next one.
pub fn wait_for_interrupt() -> Result<(), String> {
    let start = Detector::counts()?.0;
    while Detector::counts()?.0 == start {}
    // Let whatever the tick woke (kworkers, RCU) run now rather than in the next try.
    // SAFETY: no arguments, no memory.
    unsafe { libc::sched_yield() };
    Ok(())
}

/// Totals over measured repetitions.
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    /// Repetitions measured.
    pub reps: u64,
    /// Cycles over all of them.
    pub cycles: u64,
    /// Page faults over all of them.
    pub faults: u64,
    /// Syscalls over all of them.
    pub syscalls: u64,
    /// Tries thrown away because an interrupt landed in them.
    pub thrown: u64,
}

/// The timed windows of one operation of [`repeat`] (raw counter values), at most two.
pub type Spans = [Option<(u64, u64)>; 2];

/// Measure `op` `reps` times, each between untimed `before()` and `after()`, each in a
/// quiet [`Window`]; `op` returns its timed windows. `syscalls` is the number of syscalls
/// `op` makes. Returns the totals and the measured windows, in order.
pub fn repeat(
    what: &str,
    reps: u64,
    syscalls: u64,
    mut before: impl FnMut() -> Result<(), String>,
    mut op: impl FnMut() -> Result<Spans, String>,
    mut after: impl FnMut() -> Result<(), String>,
) -> Result<(Totals, Vec<(u64, u64)>), String> {
    let mut t = Totals::default();
    let mut windows = Vec::with_capacity(2 * reps as usize);
    for _ in 0..reps {
        let (spans, span, thrown) = until_quiet(what, || {
            before()?;
            let w = Window::open()?;
            let c = op()?;
            let span = w.close()?;
            after()?;
            Ok((c, span))
        })?;
        t.reps += 1;
        t.cycles += spans
            .iter()
            .flatten()
            .map(|&w| crate::record::cycles(w))
            .sum::<u64>();
        t.faults += span.faults;
        t.syscalls += syscalls;
        t.thrown += u64::from(thrown);
        windows.extend(spans.iter().flatten());
    }
    Ok((t, windows))
}
