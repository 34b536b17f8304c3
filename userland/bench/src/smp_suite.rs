//! Suite `smp`: the same operations with threads of this task running on other CPUs at
//! the same time. It runs instead of every other suite when the kernel has several CPUs
//! online (`cargo xtask bench` boots a second, 4-CPU machine for it; it needs 4 CPUs);
//! on one CPU only its `TLBI broadcast` case runs, for comparison ([`run_single`]).
//!
//! Cases:
//!
//! - `START+END WRITE`, variant `N-threads` (N = 1, 2, 4): each of N threads (this one
//!   and N - 1 more) owns a cached 4 KiB buffer no device touches and makes
//!   [`SYNC_REPS`] START WRITE + END WRITE pairs on it, each pair timed at its two
//!   `svc`s on the thread that makes it. Every thread hands its CPU's turn on after each
//!   pair (`pass_turn`), so the N threads' syncs interleave. The buffers are disjoint:
//!   any growth of the per-pair cost with N is shared kernel state. Each thread's own
//!   median is printed too (`thread0_median`.., thread 0 being the task's first).
//! - `legacy present`, variant `W-writers` (W = 0, 1, 3): a 256x192 (48-page) buffer
//!   imported as a GPU resource and mapped through the GPU driver (legacy `FAULT`
//!   policy); W writer threads hammer it from other CPUs (each owns 48 / W pages and
//!   stores a word into every line of them, over and over, never pausing), and this
//!   thread presents it [`ROUNDS`](smp_handover::ROUNDS) times (after a warm-up present): the present zaps
//!   the mapping (broadcast TLBI), cleans the written pages and submits. With W = 0 this
//!   thread writes the pages itself before each present. Each present waits until
//!   every page has been written since the last one (so every present cleans all 48
//!   pages) and starts [`LATE`](smp_handover::LATE) cycles after a timer tick (see `TLBI broadcast`).
//! - `legacy re-fault`, same variants: the first store into a page after a present
//!   faults (the page is invalidated and mapped again): the cycles of that store, timed
//!   on the thread that makes it (a writer, or this thread for W = 0), for every page
//!   whose first store faulted from the first present on. A writer's store made while
//!   a present is under way waits in its fault for the present's fence: those few are
//!   the `max_cycles` (and move the mean); the median is the re-fault itself.
//! - `TLBI broadcast`, variants `idle` and `3-busy` (`1-cpu` on the 1-CPU machine):
//!   `buffer_unmap` of a 4 KiB mapping this thread just wrote (one `TLBI VAE1IS`),
//!   timed at its `svc`, with the other three CPUs idle or running threads that spin in
//!   user space and touch nothing; right after a timer tick and, `, late`, [`LATE`](smp_handover::LATE)
//!   cycles after it.
//!
//! # What a cycle is here
//!
//! QEMU's icount runs one virtual CPU at a time, round-robin, each for a turn of
//! instructions (the time to the next timer deadline divided among the CPUs), so
//! `PMCCNTR_EL0`, which counts the machine's virtual time, counts the instructions of
//! *every* CPU that ran inside a timed window. A window that stays within its CPU's turn
//! counts only its own thread's instructions. A turn ends early when the CPU idles
//! (WFI), executes a `YIELD` hint (what `pass_turn` does) or broadcasts a TLB
//! invalidation (QEMU applies it to every virtual CPU between turns). So two CPUs never
//! run kernel code at the same instant here: the kernel lock can only be found held
//! when a CPU's turn ended while it held it, and then the CPU that wants it spins until
//! its own turn ends. What this does to the figures, measured:
//!
//! - a broadcast TLBI in the first part of a tick period costs the issuing CPU the rest
//!   of a turn (about 2.4 or 3.5 million cycles, with the other CPUs idle or not; which
//!   of the two depends on how QEMU's turns fell in that run, i.e. on the host), and
//!   [`LATE`](smp_handover::LATE) cycles into the period nothing more than on one CPU;
//! - with other CPUs busy (writer threads, or threads spinning in user space), a
//!   window with a broadcast TLBI also holds their turns, which QEMU runs before the
//!   broadcasting CPU goes on; a writer that touches a page the present zapped faults
//!   and spins on the kernel lock the present holds.
//!
//! Each record therefore gives the spread (`median_cycles`, `min_cycles`,
//! `max_cycles`) next to the mean (`cycles`). Every figure is the same in every run
//! except those of the legacy cases with writers (their faults wait for the GPU's
//! fence, which the host completes when it gets to it: the medians stayed within 0.06%)
//! and of `TLBI broadcast` right after a tick on 4 CPUs; `cargo xtask bench --check`
//! allows exactly that (`host_timed` in `tools/xtask/src/bench.rs`).
//!
//! The kernel's events (`counters`) are global: a record's events are those of every
//! CPU over its measured windows (for `START+END WRITE`: over the whole case, thread
//! creation and joins included, per pair; for `legacy re-fault`: one fault per store).
//! `masked_max` is 0 here: the IRQ-masked stretches are measured by the 1-CPU suites.

use crate::measure::{timed_sync, Totals, Window};
use crate::report::Record;
use crate::smp_handover;
use crate::{fail, kib, Failed, MappedBuffer, OrFail, TASK};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use urt::sync::{END, START, WRITE};
use urt::{ExitHow, Handle, Stat};

/// CPUs the suite needs.
pub const CPUS: u64 = 4;

/// Threads syncing at once in `START+END WRITE`.
pub const THREADS: [usize; 3] = [1, 2, 4];
/// Pairs each thread times in `START+END WRITE`.
pub const SYNC_REPS: usize = 128;
/// Untimed pairs each thread makes first.
pub const SYNC_WARMUP: usize = 4;
/// Helper threads at most (the 4-thread sync case has 3, the 3-writer case 3).
pub(crate) const HELPERS: usize = 3;
const STACK: usize = 16 * 1024;

#[repr(align(16))]
struct Stacks(#[allow(dead_code)] [[u8; STACK]; HELPERS]);

/// The helpers' stacks; helper `i` (1-based) uses stack `i - 1`, and every helper is
/// joined before the next case starts one on the same stack.
static mut STACKS: Stacks = Stacks([[0; STACK]; HELPERS]);

/// Start helper `i` (1..=[`HELPERS`]) at `entry(arg)`.
pub(crate) fn spawn(entry: extern "C" fn(u64) -> !, i: usize, arg: u64) -> Result<Handle, Failed> {
    // Only the address is taken (no reference is formed).
    let top = core::ptr::addr_of_mut!(STACKS) as u64 + (i * STACK) as u64;
    // SAFETY: every `entry` of this suite ends with `thread_exit`; helper `i` alone uses
    // stack `i - 1` until it is joined ([`join`]) at the end of its case.
    unsafe { urt::thread_create(entry, top, arg) }.or_fail("thread_create")
}

/// Wait for a helper to end; it must have exited with 0.
pub(crate) fn join(h: Handle) -> Result<(), Failed> {
    let (code, how) = urt::wait(h).or_fail("wait")?;
    urt::handle_close(h).or_fail("handle_close")?;
    if (code, how) != (0, ExitHow::Exited) {
        return Err(fail(
            TASK,
            "smp helper",
            format_args!("{how:?} with {code}"),
        ));
    }
    Ok(())
}

/// End this CPU's turn: QEMU's icount runs the next virtual CPU when the running one
/// executes `YIELD` (on hardware a hint with no effect).
#[inline(always)]
pub(crate) fn pass_turn() {
    // SAFETY: a hint instruction: no memory, no registers.
    unsafe { core::arch::asm!("yield", options(nomem, nostack, preserves_flags)) };
}

/// Median, least and greatest of `v` (sorted in place); zeros for an empty slice.
fn spread(v: &mut [u32]) -> (u64, u64, u64) {
    if v.is_empty() {
        return (0, 0, 0);
    }
    v.sort_unstable();
    let pick = |i: usize| u64::from(v[i]);
    (pick((v.len() - 1) / 2), pick(0), pick(v.len() - 1))
}

/// Print a record with its spread (`samples`: the measured operations' cycles).
pub(crate) fn print(case: &str, variant: &str, size: u64, totals: Totals, samples: &mut [u32]) {
    let (median, min, max) = spread(samples);
    let extra = [
        ("median_cycles", median),
        ("min_cycles", min),
        ("max_cycles", max),
    ];
    record(case, variant, size, totals, &extra);
}

/// Print a record with `extra` figures. `masked_max` is left out (0): the 1-CPU suites
/// measure it.
fn record(case: &str, variant: &str, size: u64, mut totals: Totals, extra: &[(&str, u64)]) {
    totals.masked_max = 0;
    Record {
        suite: "smp",
        case,
        variant,
        size,
        totals,
        phases: None,
        extra,
    }
    .print();
}

// ---- START+END WRITE on disjoint buffers ----

/// Threads that reached the start line of the current sync case.
static ARRIVED: AtomicUsize = AtomicUsize::new(0);
/// Each thread's pair cycles.
static PAIRS: [[AtomicU32; SYNC_REPS]; 4] = [const { [const { AtomicU32::new(0) }; SYNC_REPS] }; 4];

/// Thread `i` of `n`: warm up, wait for the others, time [`SYNC_REPS`] pairs on `h`.
fn sync_pairs(i: usize, n: usize, h: Handle) -> urt::Result<()> {
    for _ in 0..SYNC_WARMUP {
        urt::buffer_sync(h, START | WRITE, 0, 0)?;
        urt::buffer_sync(h, END | WRITE, 0, 0)?;
    }
    ARRIVED.fetch_add(1, Ordering::AcqRel);
    while ARRIVED.load(Ordering::Acquire) < n {
        pass_turn();
    }
    for slot in &PAIRS[i] {
        let c = timed_sync(h, START | WRITE, 0, 0)? + timed_sync(h, END | WRITE, 0, 0)?;
        slot.store(c.min(u64::from(u32::MAX)) as u32, Ordering::Relaxed);
        pass_turn();
    }
    Ok(())
}

/// A sync helper: `arg` is the thread index, the thread count and the buffer handle.
extern "C" fn sync_helper(arg: u64) -> ! {
    let (i, n, h) = (arg & 0xff, (arg >> 8) & 0xff, Handle((arg >> 16) as u32));
    let code = match sync_pairs(i as usize, n as usize, h) {
        Ok(()) => 0,
        Err(e) => {
            urt::println!("{TASK}: smp sync thread {i}: {e}");
            1
        }
    };
    urt::thread_exit(code)
}

fn sync_case(n: usize) -> Result<(), Failed> {
    ARRIVED.store(0, Ordering::Release);
    let mut bufs: [Option<MappedBuffer>; 4] = [None, None, None, None];
    for b in bufs.iter_mut().take(n) {
        *b = Some(MappedBuffer::new(kib(4))?);
    }
    let handle = |i: usize| bufs[i].as_ref().map_or(Handle(0), |b| b.handle);
    let window = Window::open().or_fail("counters")?;
    let mut helpers = [None; HELPERS];
    for (i, slot) in helpers.iter_mut().enumerate().take(n - 1) {
        let t = i as u64 + 1;
        let arg = t | (n as u64) << 8 | u64::from(handle(i + 1).0) << 16;
        *slot = Some(spawn(sync_helper, i + 1, arg)?);
    }
    let mine = sync_pairs(0, n, handle(0)).or_fail("buffer_sync");
    for h in helpers.into_iter().flatten() {
        join(h)?;
    }
    let span = window.close().or_fail("counters")?;
    mine?;
    for b in bufs.into_iter().flatten() {
        b.close()?;
    }
    let mut samples = [0u32; 4 * SYNC_REPS];
    let mut totals = Totals::default();
    for (i, s) in samples.iter_mut().take(n * SYNC_REPS).enumerate() {
        *s = PAIRS[i / SYNC_REPS][i % SYNC_REPS].load(Ordering::Relaxed);
        totals.reps += 1;
        totals.cycles += u64::from(*s);
    }
    totals.events = span.events;
    // Each thread's own median (thread 0 is this one, the task's first).
    let mut medians = [0u64; 4];
    for (t, m) in medians.iter_mut().enumerate().take(n) {
        let mut own = [0u32; SYNC_REPS];
        own.copy_from_slice(&samples[t * SYNC_REPS..(t + 1) * SYNC_REPS]);
        *m = spread(&mut own).0;
    }
    let (median, min, max) = spread(&mut samples[..n * SYNC_REPS]);
    let extra = [
        ("median_cycles", median),
        ("min_cycles", min),
        ("max_cycles", max),
        ("thread0_median", medians[0]),
        ("thread1_median", medians[1]),
        ("thread2_median", medians[2]),
        ("thread3_median", medians[3]),
    ];
    let variant = ["1-thread", "2-threads", "", "4-threads"][n - 1];
    record("START+END WRITE", variant, kib(4), totals, &extra[..3 + n]);
    Ok(())
}

/// On a 1-CPU machine: the `TLBI broadcast` case with no other CPU (variants `1-cpu`
/// and `1-cpu, late`), for comparison.
pub fn run_single() -> Result<(), Failed> {
    smp_handover::unmaps("1-cpu", false)?;
    smp_handover::unmaps("1-cpu, late", true)
}

/// Run the suite (on a kernel with at least [`CPUS`] CPUs online).
pub fn run() -> Result<(), Failed> {
    let cpus = urt::stats(Stat::Cpus).or_fail("stats")?;
    urt::println!("{TASK}: {cpus} CPUs online: the smp suite only");
    if cpus < CPUS {
        return Err(fail(TASK, "smp suite", format_args!("needs {CPUS} CPUs")));
    }
    for n in THREADS {
        sync_case(n)?;
    }
    for w in smp_handover::WRITERS {
        smp_handover::legacy_case(w)?;
    }
    for b in smp_handover::BUSY {
        smp_handover::tlbi_case(b)?;
    }
    Ok(())
}
