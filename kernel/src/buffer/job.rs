//! Long maintenance in bounded steps: the preemption points of `buffer_sync`,
//! `buffer_sync_rect` and of the clean a device submission owes (`gpu_present`,
//! `blk_read`).
//!
//! The kernel runs a syscall with IRQs masked, so one sync over 64 MiB, or over tens of
//! millions of one-line rows, or the clean of a whole dirty frame before a present,
//! would shut interrupts out for as long as it takes. A [`Job`] instead does at most
//! [`STEP_LINES`] cache lines at a time (one by-VA loop and its DSB per piece of a step)
//! and looks for a pending interrupt between steps. When one is pending the job is
//! parked on the task and the `svc` is re-issued (`elr -= 4`): the interrupt is taken
//! the moment the task is resumed at EL0, the scheduler may run others, and when the
//! task runs again the re-issued call carries on from where the job stopped. A sync's
//! checks and its change of the holder's state happened once, before the first step;
//! until the last step the task still holds (or has not yet released) the buffer, so the
//! misuse detector keeps devices away from a range half maintained. A submission's
//! device is told only after the last step.
//!
//! A step splits a range only at line boundaries, so the planner's edge rule (partial
//! edge lines clean+invalidate, never a bare invalidate) applies to the range's true
//! edges exactly as in one pass.

use super::Buffer;
use alloc::sync::Arc;
use coherency::{Region, Work};
use mm::cache::CacheOp;

/// Most cache lines one step maintains (about 14,000 icount cycles at 2.25 per line):
/// the bound on how long a sync keeps IRQs masked, with the syscall's own work.
pub const STEP_LINES: u64 = 6144;

/// Intervals per boundary set of a buffer (`coherency::Boundary`).
pub const SPANS: usize = 8;

/// The maintenance of one sync or submission, as the boundary planned it.
pub type Plan = Work;

/// Maintenance in progress.
pub struct Job {
    buf: Arc<Buffer>,
    work: Plan,
    /// Never a bare invalidate (legacy mappings of the buffer have written pages, which
    /// no END will clean): `Invalidate` runs as `CleanInvalidate`.
    no_bare_invalidate: bool,
    /// Rows finished (a region).
    row: u64,
    /// Bytes of row `row` finished (a region).
    at: u64,
    /// Next byte to maintain (pieces).
    cursor: u64,
    /// No piece is left (pieces): known once a step found none.
    done: bool,
}

impl Job {
    /// `work` on `buf`, nothing done yet.
    pub fn new(buf: Arc<Buffer>, work: Plan, no_bare_invalidate: bool) -> Job {
        let cursor = match &work {
            Work::Pieces(p) => p.range().0,
            _ => 0,
        };
        Job {
            buf,
            work,
            no_bare_invalidate,
            row: 0,
            at: 0,
            cursor,
            done: false,
        }
    }

    /// The buffer maintained.
    pub fn buffer(&self) -> &Arc<Buffer> {
        &self.buf
    }

    /// The planned work.
    pub fn work(&self) -> &Plan {
        &self.work
    }

    fn op(&self, op: CacheOp) -> CacheOp {
        match op {
            CacheOp::Invalidate if self.no_bare_invalidate => CacheOp::CleanInvalidate,
            op => op,
        }
    }

    /// True once every line is done.
    pub fn finished(&self) -> bool {
        match &self.work {
            Work::None => true,
            Work::Region(_, r) => self.row >= r.rows,
            Work::Pieces(_) => self.done,
        }
    }

    /// Do the next step: at most about [`STEP_LINES`] lines. Returns true when the job
    /// is finished. (A job of pieces learns that it is when a step finds no piece left,
    /// which may take one more, empty, step.)
    pub fn step(&mut self) -> bool {
        if self.finished() {
            return true;
        }
        match self.work {
            Work::None => {}
            Work::Region(op, r) => self.region_step(self.op(op), r),
            Work::Pieces(p) => {
                let line = crate::arch::cache::geometry().line();
                let mut budget = STEP_LINES * line;
                if self.cursor != p.range().0 {
                    super::trace::continue_next();
                }
                loop {
                    // The live sets: a submission's clean takes lines ENDed meanwhile.
                    let next = p.next(&self.buf.boundary(), self.cursor);
                    let Some((op, o, l)) = next else {
                        self.done = true;
                        break;
                    };
                    // Up to the budget, cut at a line boundary unless the piece ends first.
                    let end = match o.checked_add(budget) {
                        Some(e) if e < o + l => e & !(line - 1),
                        _ => o + l,
                    };
                    if end <= o {
                        break;
                    }
                    self.buf.maintain(self.op(op), o, end - o);
                    self.cursor = end;
                    if end >= p.range().1 {
                        self.done = true;
                        break;
                    }
                    // A piece cut by the budget spends it; a whole one costs its lines and
                    // one more for its loop.
                    budget = match end < o + l {
                        true => 0,
                        false => budget.saturating_sub((end - o).next_multiple_of(line) + line),
                    };
                    if budget == 0 {
                        break;
                    }
                }
            }
        }
        self.finished()
    }

    /// One step of `op` over the rows of `r`: a part of a long row, or as many whole rows
    /// as fit, counting each row as at least one line more than it covers.
    fn region_step(&mut self, op: CacheOp, r: Region) {
        if self.row > 0 || self.at > 0 {
            super::trace::continue_next();
        }
        let line = crate::arch::cache::geometry().line();
        let budget = STEP_LINES * line;
        let row_start = r.offset + self.row * r.stride;
        // Lines a whole row touches, at most, and its loop overhead in lines: rows of up
        // to 8 lines run unrolled (`arch::cache_rows`: next to nothing per row), longer
        // ones in the simple loop (five instructions per row).
        let lines = r.row_len / line + 1;
        let row_cost = lines + if lines <= 8 { 0 } else { 3 };
        if self.at > 0 || row_cost > STEP_LINES || r.rows == 1 {
            // Within one row: up to the budget, ending on a line boundary unless the row
            // ends first.
            let start = row_start + self.at;
            let row_end = row_start + r.row_len;
            let end = match start.checked_add(budget) {
                Some(e) if e < row_end => e & !(line - 1),
                _ => row_end,
            };
            self.buf.maintain(op, start, end - start);
            if end == row_end {
                self.row += 1;
                self.at = 0;
            } else {
                self.at = end - row_start;
            }
        } else {
            let n = (STEP_LINES / row_cost).clamp(1, r.rows - self.row);
            self.buf
                .maintain_rows(op, row_start, r.row_len, n, r.stride);
            self.row += n;
        }
    }
}

/// At most how many lines `work` maintains (a bound, for the fast path's choice of
/// doing it in one pass).
pub fn lines_bound(work: &Plan) -> u64 {
    let line = crate::arch::cache::geometry().line();
    match work {
        Work::None => 0,
        Work::Region(_, r) => r.rows.saturating_mul(r.row_len / line + 2),
        Work::Pieces(p) => {
            let (s, e) = p.range();
            (e - s) / line + 2
        }
    }
}

/// `work` on `buf` in one pass (the caller checked it is short and that no legacy
/// mapping of the buffer asks for [`Job`]'s `no_bare_invalidate`).
#[inline(always)]
pub fn run_once(buf: &Buffer, work: &Plan) {
    match work {
        Work::None => {}
        Work::Region(op, r) if r.rows == 1 => buf.maintain(*op, r.offset, r.row_len),
        Work::Region(op, r) => buf.maintain_rows(*op, r.offset, r.row_len, r.rows, r.stride),
        Work::Pieces(p) => {
            let mut at = p.range().0;
            loop {
                let next = p.next(&buf.boundary(), at);
                let Some((op, o, l)) = next else { break };
                buf.maintain(op, o, l);
                at = o + l;
            }
        }
    }
}
