//! [`Gate`]: a per-object gate between the kernel's lock-free fast paths ("passes",
//! many at once, none of which may wait) and the kernel paths that must see the object
//! still while they decide and act ("closers", which wait for the passes inside to
//! leave).
//!
//! The kernel uses one per buffer: a `buffer_sync` on the fast path runs inside a pass
//! (it reads the device fences there, and changes the buffer's holder counts as it
//! leaves: the gate's word carries them, see [`Pass::leave_with`]), and a
//! device submission's last misuse check through its fence publication, a legacy fault's
//! decision and maintenance, and the creation or end of a legacy mapping run with the
//! gate closed. So a fast START can never slip between a submission's "no CPU writer
//! holds the buffer" and its fence, and the fast path never has to wait: a pass that
//! finds the gate closed is refused and the call takes the full path (behind the kernel
//! lock, so after the closer).
//!
//! The word also carries marks, which closers set and never clear: what they did that a
//! pass would have to look at (a fence, stale lines). A START on an object no closer
//! ever marked has nothing to look at, and takes hold in one atomic step instead of a
//! pass: [`Gate::try_change_unmarked`] changes the counts only while the word shows
//! neither a closer nor a mark.
//!
//! Why not `spin::RwLock`: its writer waits for a moment with no reader at all, which
//! steady fast-path traffic on other CPUs could postpone for ever; here closing comes
//! first (new passes are refused at once) and the wait is only for the passes already
//! inside, each a bounded piece of code. Both sides touch one atomic word, so its
//! modification order decides every race: a pass counted before the close is waited
//! for, one counted after it sees the close. `loom` checks this (`cargo xtask test`
//! runs `tests/gate_loom.rs`).

#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU64, Ordering};

/// The word: passes inside in bits 0..8, closers in 8..16, the marks ([`Gate::mark`])
/// in 16..24, and the two counts the gate carries ([`Gate::counts`]) in 24..44 and
/// 44..64.
const PASSES: u64 = 0xFF;
const CLOSER: u64 = 1 << 8;
const CLOSERS: u64 = 0xFF << 8;
const MARKS_AT: u32 = 16;
const MARKS: u64 = 0xFF << MARKS_AT;
const COUNT_A: u32 = 24;
const COUNT_B: u32 = 44;
const COUNT_MASK: u64 = (1 << 20) - 1;

/// See the module documentation.
///
/// Bounds (each checked where it could be crossed, never reached in the kernel): at
/// most 255 passes inside at once (one per CPU), 255 nested closers, and counts below
/// 2^20 (the kernel's are CPU holders of one buffer, at most one per task, and a task
/// has an address space id of 16 bits at most).
#[derive(Debug, Default)]
pub struct Gate {
    state: AtomicU64,
}

/// A fast path inside an open [`Gate`]; it leaves when this is dropped.
#[must_use = "the pass leaves the gate when dropped"]
#[derive(Debug)]
pub struct Pass<'g>(&'g Gate);

/// A [`Gate`] closed: no pass is inside, and none enters until this is dropped.
#[must_use = "the gate opens again when dropped"]
#[derive(Debug)]
pub struct Closed<'g>(&'g Gate);

impl Gate {
    /// An open gate.
    #[cfg(not(loom))]
    pub const fn new() -> Gate {
        Gate {
            state: AtomicU64::new(0),
        }
    }

    /// An open gate (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub fn new() -> Gate {
        Gate {
            state: AtomicU64::new(0),
        }
    }

    /// Enter if the gate is open; `None` if it is closed (or closing). Never waits.
    #[inline(always)]
    pub fn try_pass(&self) -> Option<Pass<'_>> {
        let before = self.state.fetch_add(1, Ordering::Acquire);
        debug_assert!(before & PASSES != PASSES, "more than 255 passes at once");
        if before & CLOSERS != 0 {
            self.state.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some(Pass(self))
    }

    /// Close the gate and wait until the passes inside have left. Closers may nest (the
    /// gate opens when the last is dropped); callers serialize otherwise (the kernel
    /// closes only under its kernel lock), so closers never wait for each other.
    pub fn close(&self) -> Closed<'_> {
        let before = self.state.fetch_add(CLOSER, Ordering::Acquire);
        assert!(before & CLOSERS != CLOSERS, "more than 255 nested closers");
        while self.state.load(Ordering::Acquire) & PASSES != 0 {
            spin_hint();
        }
        Closed(self)
    }

    /// True if the gate is closed (for assertions and tests).
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CLOSERS != 0
    }

    /// The two counts the gate carries (the kernel's: a buffer's CPU holders and
    /// writers). Read with the gate closed, they are the passes' last word: a pass
    /// changes them only as it leaves ([`Pass::leave_with`]), in the same atomic step.
    #[inline(always)]
    pub fn counts(&self) -> (u32, u32) {
        let s = self.state.load(Ordering::SeqCst);
        (
            (s >> COUNT_A & COUNT_MASK) as u32,
            (s >> COUNT_B & COUNT_MASK) as u32,
        )
    }

    /// Set the `marks` bits (never cleared): what closers did to the object that a pass
    /// would have to look at (the kernel's: lines marked stale, device work submitted,
    /// an uncached mapping made). Only with the gate closed, so a pass sees the marks of
    /// every closer that left before it entered, and [`Gate::try_change_unmarked`] never
    /// succeeds on a word without them that a closer is about to mark.
    #[inline(always)]
    pub fn mark(&self, marks: u8) {
        assert!(
            self.state.load(Ordering::Relaxed) & CLOSERS != 0,
            "a gate marked while open"
        );
        self.state
            .fetch_or(u64::from(marks) << MARKS_AT, Ordering::Relaxed);
    }

    /// The marks set so far ([`Gate::mark`]). Inside a pass, or with the gate closed,
    /// every mark of a closer that left before is there.
    #[inline(always)]
    pub fn marks(&self) -> u8 {
        (self.state.load(Ordering::Relaxed) >> MARKS_AT) as u8
    }

    /// Where the gate's word (a `u64`) is, in bytes from the gate's start, for code that
    /// does [`Gate::try_change_unmarked`] without calling it (the kernel's hand-written
    /// syscall fast path): it may add [`Gate::unmarked_delta`] to the word in one atomic
    /// step (acquire and release, as that does) if none of [`Gate::UNMARKED_FAILS`] is
    /// set in it.
    pub const WORD_OFFSET: usize = core::mem::offset_of!(Gate, state);
    /// The bits of the word with which [`Gate::try_change_unmarked`] fails: a closer
    /// inside, or any mark.
    pub const UNMARKED_FAILS: u64 = CLOSERS | MARKS;

    /// What [`Gate::try_change_unmarked`] adds to the word for counts changing by `a`
    /// and `b`.
    pub const fn unmarked_delta(a: i32, b: i32) -> u64 {
        delta(a, b)
    }

    /// Change the counts by `a` and `b` as a pass would that entered, found nothing to
    /// look at and left at once, in one atomic step: only if the gate is open and
    /// unmarked (`false`, nothing changed, otherwise). A closer that closes after this
    /// sees the change; one inside, or one that marked the word before, makes it fail.
    /// It may also fail if another CPU changed the word at the same moment (one try, no
    /// loop: the caller then takes a pass). (Ranges as [`Gate::change`].)
    #[inline(always)]
    pub fn try_change_unmarked(&self, a: i32, b: i32) -> bool {
        let s = self.state.load(Ordering::Relaxed);
        if s & (CLOSERS | MARKS) != 0 {
            return false;
        }
        let changed = self
            .state
            .compare_exchange_weak(
                s,
                s.wrapping_add(delta(a, b)),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok();
        debug_assert!(!changed || in_range(s, a, b), "a gate count out of range");
        changed
    }

    /// Change the counts by `a` and `b` outside a pass (the kernel: under its kernel
    /// lock, which every closer holds). Neither count may go below zero or reach 2^20.
    #[inline(always)]
    pub fn change(&self, a: i32, b: i32) {
        let delta = delta(a, b);
        if delta != 0 {
            let before = self.state.fetch_add(delta, Ordering::SeqCst);
            debug_assert!(in_range(before, a, b), "a gate count out of range");
        }
    }
}

/// The word's change for counts changing by `a` and `b` (two's complement: the sum
/// borrows from the bits above a count only if that count goes below zero).
#[inline(always)]
const fn delta(a: i32, b: i32) -> u64 {
    (((a as i64) << COUNT_A) as u64).wrapping_add(((b as i64) << COUNT_B) as u64)
}

/// Whether counts read from `before` stay in range when changed by `a` and `b`.
fn in_range(before: u64, a: i32, b: i32) -> bool {
    let ok = |count: u64, d: i32| (0..=COUNT_MASK as i64).contains(&(count as i64 + i64::from(d)));
    ok(before >> COUNT_A & COUNT_MASK, a) && ok(before >> COUNT_B & COUNT_MASK, b)
}

impl Pass<'_> {
    /// Leave, changing the counts by `a` and `b` in the same atomic step: a closer
    /// that waited for this pass sees the change, one that closed after it sees it too,
    /// and no closer ever sees the pass gone but the counts not yet changed. (Ranges as
    /// [`Gate::change`].)
    #[inline(always)]
    pub fn leave_with(self, a: i32, b: i32) {
        let gate = self.0;
        core::mem::forget(self);
        let before = gate
            .state
            .fetch_add(delta(a, b).wrapping_sub(1), Ordering::SeqCst);
        debug_assert!(in_range(before, a, b), "a gate count out of range");
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(CLOSER, Ordering::Release);
    }
}

#[cfg(loom)]
fn spin_hint() {
    loom::thread::yield_now();
}

#[cfg(not(loom))]
fn spin_hint() {
    core::hint::spin_loop();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// What code that does `try_change_unmarked` by hand uses: the word's place, the
    /// bits that refuse, the change.
    #[test]
    fn the_unmarked_change_by_hand_matches_try_change_unmarked() {
        let g = Gate::new();
        let word = |g: &Gate| g.state.load(Ordering::Relaxed);
        assert_eq!(Gate::WORD_OFFSET, 0);
        for (a, b) in [(1, 0), (1, 1), (2, 1)] {
            let before = word(&g);
            assert!(g.try_change_unmarked(a, b));
            assert_eq!(word(&g), before.wrapping_add(Gate::unmarked_delta(a, b)));
        }
        g.try_pass().unwrap().leave_with(-4, -2);
        assert_eq!((word(&g), g.counts()), (0, (0, 0)));
        let c = g.close();
        assert_ne!(
            word(&g) & Gate::UNMARKED_FAILS,
            0,
            "a closer inside refuses"
        );
        drop(c);
        assert_eq!(word(&g) & Gate::UNMARKED_FAILS, 0);
        let c = g.close();
        g.mark(1);
        drop(c);
        assert_ne!(word(&g) & Gate::UNMARKED_FAILS, 0, "a mark refuses");
        assert!(!g.try_change_unmarked(1, 0));
    }

    #[test]
    fn a_closed_gate_refuses_passes_until_every_closer_is_gone() {
        let g = Gate::new();
        let outer = g.close();
        assert!(g.try_pass().is_none());
        let inner = g.close();
        drop(outer);
        assert!(g.try_pass().is_none(), "one closer is still there");
        drop(inner);
        assert!(g.try_pass().is_some());
        assert!(!g.is_closed());
    }

    #[test]
    fn passes_do_not_exclude_each_other_and_a_refused_pass_leaves_no_count() {
        let g = Gate::new();
        let a = g.try_pass().unwrap();
        let b = g.try_pass().unwrap();
        drop((a, b));
        let c = g.close();
        for _ in 0..10 {
            assert!(g.try_pass().is_none());
        }
        drop(c);
        // Had a refused pass stayed counted, this close would wait for ever.
        let _c = g.close();
    }

    #[test]
    fn counts_change_as_a_pass_leaves_and_never_touch_the_gate_bits() {
        let g = Gate::new();
        g.change(3, 1);
        g.try_pass().unwrap().leave_with(1, 1);
        assert_eq!(g.counts(), (4, 2));
        g.try_pass().unwrap().leave_with(-4, -2);
        assert_eq!(g.counts(), (0, 0));
        assert!(!g.is_closed(), "no pass left behind, no closer made");
        let _c = g.close(); // would wait for ever if a pass were still counted
                            // The counts' whole range, neither borrowing from the other nor the gate's bits.
        g.change(COUNT_MASK as i32, COUNT_MASK as i32);
        assert_eq!(g.counts(), (COUNT_MASK as u32, COUNT_MASK as u32));
        g.change(-(COUNT_MASK as i32), 0);
        assert_eq!(g.counts(), (0, COUNT_MASK as u32));
        assert!(g.is_closed());
        assert!(g.try_pass().is_none());
    }

    #[test]
    fn marks_stay_and_the_one_step_change_needs_an_open_unmarked_gate() {
        let g = Gate::new();
        assert!(g.try_change_unmarked(1, 1));
        assert_eq!(g.counts(), (1, 1));
        let c = g.close();
        assert!(!g.try_change_unmarked(1, 0), "a closer is inside");
        assert_eq!(g.counts(), (1, 1), "a refused step changes nothing");
        g.mark(2);
        g.mark(4);
        drop(c);
        assert_eq!(g.marks(), 6, "marks outlive the closer");
        assert!(!g.try_change_unmarked(-1, -1), "marked");
        assert_eq!(g.counts(), (1, 1));
        g.try_pass().unwrap().leave_with(-1, -1);
        assert_eq!(g.counts(), (0, 0));
        assert_eq!(g.marks(), 6, "counts never touch the marks");
        assert!(!g.is_closed());
        // Every mark bit, and the counts' whole range beside them.
        let _c = g.close();
        g.mark(0xFF);
        g.change(COUNT_MASK as i32, COUNT_MASK as i32);
        assert_eq!(g.marks(), 0xFF);
        assert_eq!(g.counts(), (COUNT_MASK as u32, COUNT_MASK as u32));
    }

    #[test]
    #[should_panic(expected = "a gate marked while open")]
    fn only_a_closer_marks() {
        Gate::new().mark(1);
    }

    #[test]
    fn a_closer_waits_for_the_pass_inside() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let g = Arc::new(Gate::new());
        let left = Arc::new(AtomicBool::new(false));
        let pass = g.try_pass().unwrap();
        let closer = {
            let (g, left) = (g.clone(), left.clone());
            std::thread::spawn(move || {
                let _c = g.close();
                assert!(left.load(Ordering::SeqCst), "closed with a pass inside");
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        left.store(true, Ordering::SeqCst);
        drop(pass);
        closer.join().unwrap();
    }
}
