//! Long maintenance in bounded steps: the preemption points of `buffer_sync` and
//! `buffer_sync_rect`.
//!
//! The kernel runs a syscall with IRQs masked, so one sync over 64 MiB, or over tens of
//! millions of one-line rows, would shut interrupts out for as long as it takes. A
//! [`Job`] instead does at most [`STEP_LINES`] cache lines at a time (one by-VA loop and
//! its DSB per step) and looks for a pending interrupt between steps. When one is
//! pending the job is parked on the task and the `svc` is re-issued (`elr -= 4`): the
//! interrupt is taken the moment the task is resumed at EL0, the scheduler may run
//! others, and when the task runs again the re-issued call carries on from where the job
//! stopped. The sync's checks and its change of the holder's state happened once, before
//! the first step; until the last step the task still holds (or has not yet released)
//! the buffer, so the misuse detector keeps devices away from a range half maintained.
//!
//! A step splits a range only at line boundaries, so the planner's edge rule (partial
//! edge lines clean+invalidate, never a bare invalidate) applies to the range's true
//! edges exactly as in one pass.

use super::Buffer;
use alloc::sync::Arc;
use mm::cache::CacheOp;

/// Most cache lines one step maintains (about 9,000 icount cycles at 2.25 per line):
/// the bound on how long a sync keeps IRQs masked, with the syscall's own work.
pub const STEP_LINES: u64 = 4096;

/// A range or rectangle of a buffer to maintain: `rows` ranges of `row_len` bytes,
/// `stride` apart, from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    /// First byte of the first row.
    pub offset: u64,
    /// Bytes per row.
    pub row_len: u64,
    /// Number of rows (1: a plain range).
    pub rows: u64,
    /// Bytes from one row to the next.
    pub stride: u64,
}

/// Maintenance in progress.
pub struct Job {
    buf: Arc<Buffer>,
    op: CacheOp,
    r: Rows,
    /// Rows finished.
    row: u64,
    /// Bytes of row `row` finished.
    at: u64,
}

impl Job {
    /// `op` over `r` of `buf`, nothing done yet.
    pub fn new(buf: Arc<Buffer>, op: CacheOp, r: Rows) -> Job {
        Job {
            buf,
            op,
            r,
            row: 0,
            at: 0,
        }
    }

    /// The buffer maintained.
    pub fn buffer(&self) -> &Arc<Buffer> {
        &self.buf
    }

    /// True once every row is done.
    pub fn finished(&self) -> bool {
        self.row >= self.r.rows
    }

    /// Do the next step: at most about [`STEP_LINES`] lines (a part of a long row, or as
    /// many whole rows as fit, counting each row as at least one line more than it
    /// covers). Returns true when the job is finished.
    pub fn step(&mut self) -> bool {
        if self.finished() {
            return true;
        }
        if self.row > 0 || self.at > 0 {
            super::trace::continue_next();
        }
        let line = crate::arch::cache::geometry().line();
        let budget = STEP_LINES * line;
        let r = self.r;
        let row_start = r.offset + self.row * r.stride;
        // Lines a whole row touches, at most, and one for its loop overhead.
        let row_cost = r.row_len / line + 3;
        if self.at > 0 || row_cost > STEP_LINES || r.rows == 1 {
            // Within one row: up to the budget, ending on a line boundary unless the row
            // ends first.
            let start = row_start + self.at;
            let row_end = row_start + r.row_len;
            let end = match start.checked_add(budget) {
                Some(e) if e < row_end => e & !(line - 1),
                _ => row_end,
            };
            self.buf.maintain(self.op, start, end - start);
            if end == row_end {
                self.row += 1;
                self.at = 0;
            } else {
                self.at = end - row_start;
            }
        } else {
            let n = (STEP_LINES / row_cost).clamp(1, r.rows - self.row);
            self.buf
                .maintain_rows(self.op, row_start, r.row_len, n, r.stride);
            self.row += n;
        }
        self.finished()
    }
}
