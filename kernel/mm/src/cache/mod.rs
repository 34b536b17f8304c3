//! Cache-maintenance range arithmetic for DMA buffers on non-coherent AArch64.
//!
//! Data-cache maintenance by VA (`DC CVAC`, `DC IVAC`, `DC CIVAC`) works on whole
//! cache lines. [`plan`] turns a byte range into at most three [`LineRun`]s of whole
//! lines, choosing the operation per run so that maintenance never destroys data that
//! merely *shares* a line with the buffer:
//!
//! * [`CacheOp::Clean`] and [`CacheOp::CleanInvalidate`] are harmless to neighbours, so
//!   they become one run over every line the range touches.
//! * [`CacheOp::Invalidate`] discards dirty data. A partially covered first or last line
//!   may hold someone else's dirty bytes, so those lines are downgraded to
//!   `CleanInvalidate`; only lines fully inside the range are plain `Invalidate`.
//!
//! The line size comes from `CTR_EL0.DminLine`, the *smallest* data-cache line in the
//! system, so stepping by it never skips a line. Buffers that are invalidated for DMA
//! should additionally be aligned to `CTR_EL0.CWG` (see
//! [`CacheGeometry::writeback_granule_from_ctr_el0`]) so that no larger line in an outer
//! cache is shared with unrelated data.

use core::fmt;

#[cfg(test)]
mod tests;

/// Data-cache line geometry used for maintenance by VA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheGeometry {
    line: u64,
}

impl CacheGeometry {
    /// Bit position of `CTR_EL0.DminLine`.
    const DMINLINE_SHIFT: u32 = 16;
    /// Bit position of `CTR_EL0.CWG`.
    const CWG_SHIFT: u32 = 24;
    /// Width mask of the 4-bit `CTR_EL0` size fields.
    const FIELD_MASK: u64 = 0xf;

    /// Geometry from a raw `CTR_EL0` value: line = `4 << DminLine` bytes (DminLine is
    /// bits \[19:16\], log2 of the line size in 4-byte words).
    ///
    /// The hardware value is trusted: the result is always a power of two in
    /// `4..=131072`, even if that is outside the range [`CacheGeometry::new`] accepts.
    pub const fn from_ctr_el0(ctr: u64) -> Self {
        let dminline = (ctr >> Self::DMINLINE_SHIFT) & Self::FIELD_MASK;
        Self {
            line: 4 << dminline,
        }
    }

    /// Cache writeback granule from `CTR_EL0.CWG` (bits \[27:24\]) in bytes, or `None`
    /// when the field is 0 ("not provided"; assume 2 KiB, the architectural maximum).
    pub const fn writeback_granule_from_ctr_el0(ctr: u64) -> Option<u64> {
        match (ctr >> Self::CWG_SHIFT) & Self::FIELD_MASK {
            0 => None,
            cwg => Some(4 << cwg),
        }
    }

    /// Geometry with an explicit line size; `None` unless it is a power of two in
    /// `16..=2048` (the architecturally plausible range).
    pub const fn new(line: u64) -> Option<Self> {
        if line.is_power_of_two() && line >= 16 && line <= 2048 {
            Some(Self { line })
        } else {
            None
        }
    }

    /// Line size in bytes (always a power of two).
    pub const fn line(self) -> u64 {
        self.line
    }
}

/// A data-cache maintenance operation by VA to the Point of Coherency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheOp {
    /// `DC CVAC`: write dirty lines back; before a device reads the buffer.
    Clean,
    /// `DC IVAC`: discard lines; after a device wrote the buffer.
    Invalidate,
    /// `DC CIVAC`: write back then discard.
    CleanInvalidate,
}

/// `lines` consecutive cache lines starting at `start`, all receiving `op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineRun {
    /// Operation to apply to every line of the run.
    pub op: CacheOp,
    /// Address of the first line (a multiple of `line`).
    pub start: u64,
    /// Number of lines (never 0 in a [`RangePlan`]).
    pub lines: u64,
    /// Line size in bytes, copied from the [`CacheGeometry`].
    pub line: u64,
}

impl LineRun {
    /// Exclusive end address: `start + lines * line`. Never overflows for runs produced
    /// by [`plan`].
    pub const fn end(&self) -> u64 {
        self.start + self.lines * self.line
    }

    /// Address of every line of the run, ascending: what to feed to `DC <op>`.
    pub fn line_addrs(&self) -> impl Iterator<Item = u64> {
        let (start, line) = (self.start, self.line);
        (0..self.lines).map(move |i| start + i * line)
    }
}

/// Why a range could not be planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeError {
    /// The range, rounded out to whole cache lines, does not end within the 64-bit
    /// address space (`align_up(addr + len, line) > 2^64 - 1`). This includes ranges
    /// that wrap around and ranges touching the topmost cache line, including
    /// `addr + len == 2^64` exactly: such ranges are rejected so that every
    /// [`LineRun::end`] fits in a `u64`.
    Wraps,
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wraps => {
                f.write_str("cache maintenance range wraps past the top of the address space")
            }
        }
    }
}

/// Maximum number of runs in a plan: head, body, tail.
const MAX_RUNS: usize = 3;

/// The result of [`plan`]: up to three non-overlapping, ascending, non-empty runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RangePlan {
    runs: [LineRun; MAX_RUNS],
    len: usize,
}

impl RangePlan {
    const EMPTY_RUN: LineRun = LineRun {
        op: CacheOp::Clean,
        start: 0,
        lines: 0,
        line: 0,
    };

    const fn empty() -> Self {
        Self {
            runs: [Self::EMPTY_RUN; MAX_RUNS],
            len: 0,
        }
    }

    /// Appends a run unless it has no lines.
    fn push(&mut self, run: LineRun) {
        if run.lines != 0 {
            self.runs[self.len] = run;
            self.len += 1;
        }
    }

    /// The runs, in ascending address order.
    pub fn runs(&self) -> &[LineRun] {
        &self.runs[..self.len]
    }

    /// Iterates over [`RangePlan::runs`].
    pub fn iter(&self) -> core::slice::Iter<'_, LineRun> {
        self.runs().iter()
    }

    /// Whether there is nothing to do (zero-length range).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total number of lines over all runs.
    pub fn total_lines(&self) -> u64 {
        self.iter().map(|r| r.lines).sum()
    }

    /// Number of lines that receive `op`.
    pub fn lines_of(&self, op: CacheOp) -> u64 {
        self.iter().filter(|r| r.op == op).map(|r| r.lines).sum()
    }
}

impl<'a> IntoIterator for &'a RangePlan {
    type Item = &'a LineRun;
    type IntoIter = core::slice::Iter<'a, LineRun>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Plans maintenance `op` over the byte range `[addr, addr + len)`.
///
/// * `len == 0`: an empty plan, whatever `addr` is.
/// * `Clean` / `CleanInvalidate`: one run over every line the range touches.
/// * `Invalidate`: partially covered head and tail lines become `CleanInvalidate` runs,
///   the fully covered lines between them one `Invalidate` run. A range inside one line
///   that does not cover it entirely is a single `CleanInvalidate` line; a range that
///   covers whole lines exactly is pure `Invalidate`.
///
/// # Errors
/// [`RangeError::Wraps`] if the line-rounded range does not end below 2^64 (see there).
pub fn plan(
    geom: CacheGeometry,
    op: CacheOp,
    addr: u64,
    len: u64,
) -> Result<RangePlan, RangeError> {
    let mut out = RangePlan::empty();
    plan_each(geom, op, addr, len, |run| out.push(run))?;
    Ok(out)
}

/// [`plan`] without building the plan: calls `f` with each (non-empty) run, in
/// ascending order, as it is decided. This is what the kernel's maintenance loop uses, so nothing is copied
/// between deciding and issuing. Nothing is called if the range is rejected.
///
/// # Errors
/// As [`plan`].
#[inline]
pub fn plan_each(
    geom: CacheGeometry,
    op: CacheOp,
    addr: u64,
    len: u64,
    mut f: impl FnMut(LineRun),
) -> Result<(), RangeError> {
    if len == 0 {
        return Ok(());
    }
    let line = geom.line();
    let mask = line - 1;
    let end = addr.checked_add(len).ok_or(RangeError::Wraps)?;
    let first = addr & !mask;
    // `end_up` is the exclusive end of the last touched line; it must be representable.
    let end_up = end.checked_add(mask).ok_or(RangeError::Wraps)? & !mask;
    let run = |op, start: u64, stop: u64| LineRun {
        op,
        start,
        lines: (stop - start) / line,
        line,
    };

    match op {
        CacheOp::Clean | CacheOp::CleanInvalidate => f(run(op, first, end_up)),
        CacheOp::Invalidate => {
            let head_partial = addr != first;
            let tail_partial = end != end_up;
            if end_up - first == line {
                // A single line: only invalidate if it is covered completely.
                let single = if head_partial || tail_partial {
                    CacheOp::CleanInvalidate
                } else {
                    CacheOp::Invalidate
                };
                f(run(single, first, end_up));
            } else {
                let body_start = if head_partial { first + line } else { first };
                let body_end = if tail_partial { end_up - line } else { end_up };
                if head_partial {
                    f(run(CacheOp::CleanInvalidate, first, body_start));
                }
                if body_end > body_start {
                    f(run(CacheOp::Invalidate, body_start, body_end));
                }
                if tail_partial {
                    f(run(CacheOp::CleanInvalidate, body_end, end_up));
                }
            }
        }
    }
    Ok(())
}
