//! The raw cycle-counter values of the timed windows behind a frame or readback record,
//! printed with it (`"windows":[[phase,start,end],...]`) so that a tool that knows
//! something else at every counter read can attribute it to exactly the windows the
//! record's cycles add up: the coherency sanitizer's memory-cost model records its
//! penalty at every `MRS PMCCNTR_EL0` (`cargo xtask bench --model`). A record's
//! `total_cycles` is the sum of `end - start` over its windows.
//!
//! Every timed syscall ([`crate::measure`]'s `timed_*`) and every [`window`] logs its
//! two values here; a suite [`discard`]s the log before what it measures and
//! [`Windows::claim`]s the entries into the phase they were added to.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Phase of a frame record's write window (a readback record's device write).
pub const WRITE: u8 = 0;
/// Phase of a sync window.
pub const SYNC: u8 = 1;
/// Phase of a frame record's present window (a readback record's CPU read).
pub const PRESENT: u8 = 2;

/// Windows a record can carry (a frame record: 3 frames of at most 4; a readback record:
/// 3 readbacks of at most 4).
pub const MAX_WINDOWS: usize = 24;
/// Windows logged between two claims.
const LOG_MAX: usize = 8;

static LOG: [AtomicU64; 2 * LOG_MAX] = [const { AtomicU64::new(0) }; 2 * LOG_MAX];
static LOG_LEN: AtomicUsize = AtomicUsize::new(0);

/// Log one timed window (its raw counter values). Past [`LOG_MAX`] unclaimed windows
/// (suites that do not claim them) only the count grows.
pub fn log(start: u64, end: u64) {
    let i = LOG_LEN.fetch_add(1, Relaxed);
    if i < LOG_MAX {
        LOG[2 * i].store(start, Relaxed);
        LOG[2 * i + 1].store(end, Relaxed);
    }
}

/// Forget the windows logged so far.
pub fn discard() {
    LOG_LEN.store(0, Relaxed);
}

/// The window from counter value `start` (read with [`crate::measure::now`]) to `end`:
/// logs it and returns its cycles.
pub fn window(start: u64, end: u64) -> u64 {
    log(start, end);
    end.wrapping_sub(start)
}

/// The windows of a record: `(phase, start, end)`, phase 0, 1 or 2 as in its
/// [`crate::report::Phases`] (write / sync / present; for readback device / sync /
/// read).
#[derive(Clone, Copy, Debug, Default)]
pub struct Windows {
    /// How many of `w` are used.
    pub n: usize,
    /// The windows.
    pub w: [(u8, u64, u64); MAX_WINDOWS],
    /// Some windows did not fit: the record cannot be attributed.
    pub overflow: bool,
}

impl Windows {
    /// Add one.
    pub fn push(&mut self, phase: u8, start: u64, end: u64) {
        match self.w.get_mut(self.n) {
            Some(slot) => {
                *slot = (phase, start, end);
                self.n += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Add all of `o`'s.
    pub fn extend(&mut self, o: &Windows) {
        for &(p, s, e) in &o.w[..o.n] {
            self.push(p, s, e);
        }
        self.overflow |= o.overflow;
    }

    /// Move the logged windows here, as phase `phase`.
    pub fn claim(&mut self, phase: u8) {
        let n = LOG_LEN.swap(0, Relaxed);
        for i in 0..n.min(LOG_MAX) {
            self.push(
                phase,
                LOG[2 * i].load(Relaxed),
                LOG[2 * i + 1].load(Relaxed),
            );
        }
        self.overflow |= n > LOG_MAX;
    }

    /// The windows used.
    pub fn as_slice(&self) -> &[(u8, u64, u64)] {
        &self.w[..self.n]
    }
}
