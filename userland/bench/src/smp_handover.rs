//! The `smp` suite's legacy hand-over and TLBI cases (what they measure and how to read
//! them: [`smp_suite`](crate::smp_suite)): `legacy present` and `legacy re-fault` with
//! 0, 1 and 3 writer threads hammering a `FAULT` mapping from other CPUs, and
//! `TLBI broadcast`, the unmap of one page with the other CPUs idle or busy.

use crate::gpu_target::{Target, Variant};
use crate::measure::{
    between_ticks, now, timed_present, timed_unmap, wait_for_tick, Span, Totals, Window,
};
use crate::smp_suite::{join, pass_turn, print, spawn, HELPERS};
use crate::{kib, Failed, MappedBuffer, OrFail, FENCE_TIMEOUT_NS};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use urt::prot;

/// Width of the legacy buffer in pixels (one 1 KiB row).
pub const WIDTH: u32 = 256;
/// Height of the legacy buffer in pixels: 48 pages of 4 rows.
pub const HEIGHT: u32 = 192;
/// Pages of the legacy buffer.
pub const PAGES: usize = 48;
/// Bytes per page.
pub const PAGE: usize = 4096;
/// Stride of the writers' stores: one word per 64-byte line.
const LINE: usize = 64;

/// Writer threads in `legacy present` and `legacy re-fault`.
pub const WRITERS: [usize; 3] = [0, 1, 3];
/// Spinning threads in `TLBI broadcast`.
pub const BUSY: [usize; 2] = [0, 3];

/// Presents measured per writer count (after one warm-up present).
pub const ROUNDS: u32 = 8;
/// Unmaps measured per `TLBI broadcast` record.
pub const TLBI_REPS: u32 = 8;
/// Cycles a `late` measurement waits after the timer tick before its window opens: a
/// fifth of the 10 ms tick period, past where a broadcast TLBI costs the rest of a
/// round-robin turn (measured: from 2,000,000 on it costs what it costs on one CPU).
pub const LATE: u64 = 2_000_000;
/// A first store into a page that takes more cycles than this faulted (a store to a
/// mapped page takes one instruction; a fault thousands).
pub const FAULT_MIN: u64 = 100;

// ---- The legacy hand-over with writers on other CPUs ----

/// The round the writers work for; [`STOP`] ends them.
static ROUND: AtomicU32 = AtomicU32::new(0);
const STOP: u32 = u32::MAX;
/// Faults are kept as re-fault samples (from the first present on: every later fault is
/// a page faulting in again after a zap).
static RECORDING: AtomicBool = AtomicBool::new(false);
/// The round of each writer's last complete pass over its pages.
static PASSED: [AtomicU32; HELPERS] = [const { AtomicU32::new(0) }; HELPERS];
/// The mapping's address.
static PIXELS: AtomicU64 = AtomicU64::new(0);
/// Re-fault samples per thread (index 0: this thread).
const MAX_FAULTS: usize = PAGES * (ROUNDS as usize + 1);
static FAULTS: [[AtomicU32; MAX_FAULTS]; HELPERS + 1] =
    [const { [const { AtomicU32::new(0) }; MAX_FAULTS] }; HELPERS + 1];
static FAULT_COUNT: [AtomicUsize; HELPERS + 1] = [const { AtomicUsize::new(0) }; HELPERS + 1];

/// Pages of writer `k` of `w` (1-based `k`): `(first, count)`.
fn share(k: usize, w: usize) -> (usize, usize) {
    let per = PAGES / w;
    ((k - 1) * per, per)
}

/// One pass of thread `who` (0: this one): a word into every line of `count` pages from
/// page `first`, with `value`. While [`RECORDING`], the cycles of each page's first
/// store are kept as a re-fault sample if the store faulted (took more than
/// [`FAULT_MIN`]).
fn pass(first: usize, count: usize, value: u64, who: usize) {
    let base = PIXELS.load(Ordering::Acquire) as *mut u8;
    for p in first..first + count {
        for line in 0..PAGE / LINE {
            // SAFETY: `base` is the legacy mapping of the whole 48-page buffer, readable
            // and writable, alive until every writer is joined; page `p` < PAGES. The
            // writers and this thread store words into it, never forming references.
            let at = unsafe { base.add(p * PAGE + line * LINE) } as *mut u64;
            let t0 = now();
            // SAFETY: as above; `at` is 8-byte aligned.
            unsafe { at.write_volatile(value) };
            let cycles = now() - t0;
            if line == 0 && cycles > FAULT_MIN && RECORDING.load(Ordering::Acquire) {
                let i = FAULT_COUNT[who].fetch_add(1, Ordering::AcqRel);
                if let Some(slot) = FAULTS[who].get(i) {
                    slot.store(cycles.min(u64::from(u32::MAX)) as u32, Ordering::Relaxed);
                }
            }
        }
    }
}

/// A writer: `arg` is its index `k` (1-based) and the writer count `w`. It writes its
/// pages over and over.
extern "C" fn writer(arg: u64) -> ! {
    let (k, w) = ((arg & 0xff) as usize, (arg >> 8) as usize);
    let (first, count) = share(k, w);
    loop {
        let round = ROUND.load(Ordering::Acquire);
        if round == STOP {
            urt::thread_exit(0);
        }
        pass(first, count, u64::from(round), k);
        if ROUND.load(Ordering::Acquire) == round {
            PASSED[k - 1].store(round, Ordering::Release);
        }
    }
}

/// Start round `round`: every page is written from now on (by the writers, or here with
/// none) before this returns.
fn write_round(round: u32, w: usize) {
    ROUND.store(round, Ordering::Release);
    if w == 0 {
        pass(0, PAGES, u64::from(round), 0);
        return;
    }
    while PASSED[..w]
        .iter()
        .any(|p| p.load(Ordering::Acquire) != round)
    {
        pass_turn();
    }
}

/// Spin for `cycles` cycles (of this CPU's counter).
fn burn(cycles: u64) {
    let t0 = now();
    while now().wrapping_sub(t0) < cycles {
        core::hint::spin_loop();
    }
}

/// Run `op` (which returns its cycles) in a counters window that opens right after a
/// timer tick, or [`LATE`] cycles after it; again if a tick landed in it.
fn after_tick(
    late: bool,
    mut op: impl FnMut() -> Result<u64, Failed>,
) -> Result<(u64, Span), Failed> {
    between_ticks(|| {
        if late {
            burn(LATE);
        }
        let window = Window::open().or_fail("counters")?;
        let cycles = op()?;
        let span = window.close().or_fail("counters")?;
        Ok((cycles, span))
    })
}

/// Present `w` x `h` pixels of `target` from (0, 0) ([`after_tick`]) and wait for its
/// fence (outside the window); returns its cycles and events.
fn present(target: &Target, w: u32, h: u32, late: bool) -> Result<(u64, Span), Failed> {
    let mut fence = None;
    let r = after_tick(late, || {
        let (f, cycles) = timed_present(target.resource, 0, 0, w, h).or_fail("gpu_present")?;
        fence = Some(f);
        Ok(cycles)
    })?;
    if let Some(f) = fence {
        urt::fence_wait(f, FENCE_TIMEOUT_NS).or_fail("fence_wait")?;
    }
    Ok(r)
}

/// The `legacy present` and `legacy re-fault` records with `w` writer threads.
pub fn legacy_case(w: usize) -> Result<(), Failed> {
    let target = Target::new(
        Variant::LegacyFault,
        WIDTH,
        HEIGHT,
        prot::READ | prot::WRITE,
    )?;
    PIXELS.store(target.pixels as u64, Ordering::Release);
    ROUND.store(0, Ordering::Release);
    RECORDING.store(false, Ordering::Release);
    for c in &FAULT_COUNT {
        c.store(0, Ordering::Release);
    }
    for p in &PASSED {
        p.store(0, Ordering::Release);
    }
    let mut helpers = [None; HELPERS];
    for (i, slot) in helpers.iter_mut().enumerate().take(w) {
        let k = i as u64 + 1;
        *slot = Some(spawn(writer, i + 1, k | (w as u64) << 8)?);
    }
    let mut presents = [0u32; ROUNDS as usize];
    let mut totals = Totals::default();
    for round in 1..=ROUNDS + 1 {
        write_round(round, w);
        // Every page has been touched: from now on a fault is a re-fault.
        RECORDING.store(true, Ordering::Release);
        let (cycles, span) = present(&target, WIDTH, HEIGHT, true)?;
        if round > 1 {
            presents[round as usize - 2] = cycles.min(u64::from(u32::MAX)) as u32;
            totals.add(cycles, &span);
        }
    }
    // One more pass each, so every page faults in again after the last present.
    write_round(ROUNDS + 2, w);
    ROUND.store(STOP, Ordering::Release);
    for h in helpers.into_iter().flatten() {
        join(h)?;
    }
    target.close()?;
    let variant = ["0-writers", "1-writer", "", "3-writers"][w];
    let size = PAGES as u64 * PAGE as u64;
    print("legacy present", variant, size, totals, &mut presents);

    let mut samples = [0u32; (HELPERS + 1) * MAX_FAULTS];
    let mut n = 0;
    let mut faults = Totals::default();
    for t in 0..=HELPERS {
        let count = FAULT_COUNT[t].load(Ordering::Acquire).min(MAX_FAULTS);
        for slot in &FAULTS[t][..count] {
            samples[n] = slot.load(Ordering::Relaxed);
            faults.reps += 1;
            faults.cycles += u64::from(samples[n]);
            n += 1;
        }
    }
    // One fault per sample.
    faults.events.0[4] = faults.reps;
    print(
        "legacy re-fault",
        variant,
        PAGE as u64,
        faults,
        &mut samples[..n],
    );
    Ok(())
}

// ---- The TLBI broadcast with the other CPUs idle or busy ----

/// A busy thread: spins in user space until [`ROUND`] is [`STOP`].
extern "C" fn spinner(_: u64) -> ! {
    while ROUND.load(Ordering::Acquire) != STOP {
        core::hint::spin_loop();
    }
    urt::thread_exit(0)
}

/// One `TLBI broadcast` record: [`TLBI_REPS`] unmaps of a 4 KiB mapping this thread
/// wrote (after one untimed), each right after a timer tick (or [`LATE`] cycles after
/// it) and timed at its `svc`.
pub fn unmaps(variant: &str, late: bool) -> Result<(), Failed> {
    let mut samples = [0u32; TLBI_REPS as usize];
    let mut totals = Totals::default();
    for rep in 0..=TLBI_REPS {
        let b = MappedBuffer::new(kib(4))?;
        // SAFETY: `b.ptr` is the buffer's read-write mapping of 4 KiB; no reference into
        // it exists.
        unsafe { (b.ptr as *mut u64).write_volatile(u64::from(rep)) };
        // Not `after_tick`: an unmap cannot be made again should a tick land in its
        // window (none does: it is far shorter than the 10 ms period).
        wait_for_tick().or_fail("sleep")?;
        if late {
            burn(LATE);
        }
        let window = Window::open().or_fail("counters")?;
        // SAFETY: `b.ptr` is the mapping `MappedBuffer::new` made; nothing uses it
        // afterwards (the handle is closed below without unmapping again).
        let cycles = unsafe { timed_unmap(b.ptr) }.or_fail("buffer_unmap")?;
        let span = window.close().or_fail("counters")?;
        urt::handle_close(b.handle).or_fail("handle_close")?;
        if rep > 0 {
            samples[rep as usize - 1] = cycles.min(u64::from(u32::MAX)) as u32;
            totals.add(cycles, &span);
        }
    }
    print("TLBI broadcast", variant, PAGE as u64, totals, &mut samples);
    Ok(())
}

/// The `TLBI broadcast` records with `busy` (0 or 3) spinning threads on the other
/// CPUs, right after a tick and [`LATE`] cycles after it.
pub fn tlbi_case(busy: usize) -> Result<(), Failed> {
    ROUND.store(0, Ordering::Release);
    let mut helpers = [None; HELPERS];
    for (i, slot) in helpers.iter_mut().enumerate().take(busy) {
        *slot = Some(spawn(spinner, i + 1, 0)?);
    }
    let r = if busy == 0 {
        unmaps("idle", false).and_then(|()| unmaps("idle, late", true))
    } else {
        unmaps("3-busy", false).and_then(|()| unmaps("3-busy, late", true))
    };
    ROUND.store(STOP, Ordering::Release);
    for h in helpers.into_iter().flatten() {
        join(h)?;
    }
    r
}
