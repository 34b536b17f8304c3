//! The runner's own, line-exact account of what is dirty and stale, written from the
//! rules' wording and not from [`crate::Boundary`]'s code: the exactness oracle of the
//! scenario runner ([`super::scenario::Check::Exact`]).
//!
//! * a line is *dirty* from the END WRITE/RW that covers it (or the buffer's creation)
//!   until a device submission reads or writes it, or a new uncached mapping cleans it;
//!   ENDs while an uncached mapping exists clean at once and leave nothing dirty;
//! * a line is *stale* from the submission of a device write that covers it (or the
//!   removal of an uncached mapping) until a START covers it.
//!
//! A START must then maintain exactly its range's stale lines (every line of its range
//! while an uncached mapping exists), an END nothing (every line of its range while an
//! uncached mapping exists), a submission exactly the dirty lines it touches.

use crate::lineset::LineSet;

use super::cache::LINE;
use super::scenario::SIZE;

/// Number of lines of the model's buffer.
const LINES: usize = SIZE / LINE;

/// Per line: dirty, stale.
#[derive(Clone, Debug, Default)]
pub struct Shadow {
    /// Lines that may be dirty.
    pub dirty: [bool; LINES],
    /// Lines that may be stale.
    pub stale: [bool; LINES],
}

/// The lines `[s, e)` (bytes) touches.
pub fn lines(s: usize, e: usize) -> core::ops::Range<usize> {
    if e <= s {
        return 0..0;
    }
    s / LINE..(e - 1) / LINE + 1
}

impl Shadow {
    /// How many of the lines of `[s, e)` are set in `which`.
    pub fn count(which: &[bool; LINES], s: usize, e: usize) -> u64 {
        lines(s, e).filter(|&l| which[l]).count() as u64
    }

    /// Set (or clear) the lines of `[s, e)` in `which`.
    pub fn set(which: &mut [bool; LINES], s: usize, e: usize, v: bool) {
        lines(s, e).for_each(|l| which[l] = v);
    }

    /// Whether `set` holds exactly the lines marked in `which`.
    pub fn equals<const N: usize>(which: &[bool; LINES], set: &LineSet<N>) -> bool {
        (0..LINES).all(|l| which[l] == set.contains_line(l as u64))
    }
}
