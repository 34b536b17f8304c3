//! Data-cache maintenance by virtual address: DC CVAC (clean to the point of coherency),
//! DC IVAC (invalidate) and DC CIVAC (clean and invalidate), one line at a time over a
//! range, followed by a single DSB for the whole range (or rectangle).
//!
//! Which operation runs over which lines is decided by the portable planner in
//! `mm::cache` (tested on the host); this file only issues the instructions. The line
//! loop is unrolled eight times, so a long run costs 2.25 instructions per line (a DC and
//! an add per line, a compare and a branch per eight). In test kernels the same loop
//! also counts the lines it executes, and what it reports ([`Executed`]) is what the
//! maintenance trace records.

#[cfg(not(feature = "ktest"))]
use super::cache_rows::{
    dc_line, dc_rows_unrolled, r1, r2, r3, r4, r5, r6, r7, r8, rows_loop, MARK,
};
use crate::counters;
use aarch64_cpu::asm::barrier;
use mm::cache::{plan, plan_each, CacheGeometry, CacheOp, LineRun, RangeError};

/// The data-cache geometry of this CPU, read from CTR_EL0.
pub fn geometry() -> CacheGeometry {
    let ctr: u64;
    // SAFETY: CTR_EL0 is a read-only identification register.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    CacheGeometry::from_ctr_el0(ctr)
}

/// What a DC loop executed: the operation its instruction names (`None` for any other
/// instruction), its first line, the lines it issued and where its address ended. In
/// test kernels the loop itself counts the `DC` instructions it executes (one `add` per
/// line, in the loop's own code), so the maintenance trace shows what ran, and a broken
/// loop changes it; elsewhere `lines` is 0 and nothing is counted (the loop is the
/// same instructions without the counting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Executed {
    /// The operation of the executed instruction.
    pub op: Option<CacheOp>,
    /// Address of the first line.
    pub start: u64,
    /// `DC` instructions executed (test kernels).
    pub lines: u64,
    /// The loop's address after its last line (test kernels).
    pub end: u64,
    /// Line size.
    pub line: u64,
}

impl Executed {
    /// `(op, start, lines)` if the loop executed a clean or invalidate on every line from
    /// `start` to `end`, one instruction per line; `None` if its count and its end
    /// address disagree or its instruction is not one of the three.
    pub fn covered(&self) -> Option<(CacheOp, u64, u64)> {
        let span = self.end.checked_sub(self.start)?;
        (span == self.lines * self.line).then_some((self.op?, self.start, self.lines))
    }
}

/// The operation `dc <mnemonic>` performs, from the mnemonic the loop was written with.
const fn op_named(m: &str) -> Option<CacheOp> {
    const fn eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let m = m.as_bytes();
    if eq(m, b"cvac") {
        Some(CacheOp::Clean)
    } else if eq(m, b"ivac") {
        Some(CacheOp::Invalidate)
    } else if eq(m, b"civac") {
        Some(CacheOp::CleanInvalidate)
    } else {
        None
    }
}

/// The instructions of a `dc <op>` loop over `[{va}, {end})` in steps of `{line}`,
/// unrolled by 8 (`{bend}`: where fewer than 8 lines are left); `$count` follows every
/// `DC` (test kernels: `add {n}, {n}, #1`; elsewhere nothing). One template for both
/// builds, so the trace checks the loop that runs everywhere.
macro_rules! dc_loop_asm {
    ($op:literal, $count:literal) => {
        concat!(
            "cmp {va}, {bend}\n",
            "b.hs 2f\n",
            "1:\n",
            ".rept 8\n",
            "dc ",
            $op,
            ", {va}\n",
            $count,
            "add {va}, {va}, {line}\n",
            ".endr\n",
            "cmp {va}, {bend}\n",
            "b.lo 1b\n",
            "2:\n",
            "cmp {va}, {end}\n",
            "b.hs 4f\n",
            "3:\n",
            "dc ",
            $op,
            ", {va}\n",
            $count,
            "add {va}, {va}, {line}\n",
            "cmp {va}, {end}\n",
            "b.lo 3b\n",
            "4:",
        )
    };
}

/// `dc <op>` over `[va, end)` in steps of `line`, unrolled by 8; no barrier. Evaluates
/// to what it [`Executed`].
macro_rules! dc_loop {
    ($op:literal, $va:expr, $end:expr, $line:expr) => {{
        let mut va: u64 = $va;
        let start = va;
        let end: u64 = $end;
        let line: u64 = $line;
        // The unrolled part stops where fewer than 8 lines are left.
        let block_end = end - ((end - va) % (8 * line));
        #[cfg(feature = "ktest")]
        let lines = {
            let mut n: u64 = 0;
            // SAFETY: the caller guarantees every line in [va, end) is mapped at EL1; DC
            // by VA only moves data between cache and memory; `n` only counts.
            unsafe {
                core::arch::asm!(
                    dc_loop_asm!($op, "add {n}, {n}, #1\n"),
                    va = inout(reg) va,
                    bend = in(reg) block_end,
                    end = in(reg) end,
                    line = in(reg) line,
                    n = inout(reg) n,
                    options(nostack)
                );
            }
            n
        };
        #[cfg(not(feature = "ktest"))]
        let lines = {
            // SAFETY: the caller guarantees every line in [va, end) is mapped at EL1; DC
            // by VA only moves data between cache and memory.
            unsafe {
                core::arch::asm!(
                    dc_loop_asm!($op, ""),
                    va = inout(reg) va,
                    bend = in(reg) block_end,
                    end = in(reg) end,
                    line = in(reg) line,
                    options(nostack)
                );
            }
            0
        };
        Executed {
            op: op_named($op),
            start,
            lines,
            end: va,
            line,
        }
    }};
}

/// The instructions of `dc <op>` over `{lines}` lines from `{row}`, then the same at
/// `{row} + {stride}`, ... for `{rows}` rows; `$count` follows every `DC` and `$row`
/// every row (test kernels: counters; elsewhere nothing).
#[cfg(feature = "ktest")]
macro_rules! dc_rows_asm {
    ($op:literal, $count:literal, $row:literal) => {
        concat!(
            "1:\n",
            "mov {va}, {row}\n",
            "mov {n}, {lines}\n",
            "2:\n",
            "dc ",
            $op,
            ", {va}\n",
            $count,
            "add {va}, {va}, {line}\n",
            "subs {n}, {n}, #1\n",
            "b.ne 2b\n",
            $row,
            "add {row}, {row}, {stride}\n",
            "subs {rows}, {rows}, #1\n",
            "b.ne 1b",
        )
    };
}

/// The unrolled rectangle loop of `cache_rows.rs` for op `"cvac"`, `"ivac"` or `"civac"`.
#[cfg(not(feature = "ktest"))]
macro_rules! dc_rows_fast {
    ("cvac", $($a:expr),+) => { dc_rows_unrolled!("dc cvac, {va}", $($a),+) };
    ("ivac", $($a:expr),+) => { dc_rows_unrolled!("dc ivac, {va}", $($a),+) };
    ("civac", $($a:expr),+) => { dc_rows_unrolled!("dc civac, {va}", $($a),+) };
}

/// `dc <op>` over `lines` lines from `start`, then the same at `start + stride`, ... for
/// `rows` rows (a rectangle whose every row is one run); no barrier. Evaluates to `(op,
/// DC instructions executed, rows executed)`. Test kernels run the simple loop, which
/// counts what it executes for the trace (a DC, an add, a count and a branch per line);
/// other kernels the unrolled one of `cache_rows.rs` (about 2.25 instructions per line
/// for rows of up to 8 lines), which counts nothing (0, 0); `mark_rows` checks in test
/// kernels that the unrolled loop visits exactly the rows' lines.
macro_rules! dc_rows {
    ($op:tt, $start:expr, $lines:expr, $line:expr, $rows:expr, $stride:expr) => {{
        #[cfg(feature = "ktest")]
        let done = {
            let (mut done, mut rows_done) = (0u64, 0u64);
            // SAFETY: the caller guarantees every line of every row is mapped at EL1; DC
            // by VA only moves data between cache and memory. `lines` and `rows` are at
            // least 1; the two counters only count.
            unsafe {
                core::arch::asm!(
                    dc_rows_asm!($op, "add {done}, {done}, #1\n", "add {rdone}, {rdone}, #1\n"),
                    row = inout(reg) $start => _,
                    rows = inout(reg) $rows => _,
                    va = out(reg) _,
                    n = out(reg) _,
                    lines = in(reg) $lines,
                    line = in(reg) $line,
                    stride = in(reg) $stride,
                    done = inout(reg) done,
                    rdone = inout(reg) rows_done,
                    options(nostack)
                );
            }
            (done, rows_done)
        };
        #[cfg(not(feature = "ktest"))]
        let done = {
            dc_rows_fast!($op, $start, $lines, $line, $rows, $stride);
            (0u64, 0u64)
        };
        (op_named($op), done.0, done.1)
    }};
}

/// Run one planned line run, moved up by `shift` bytes, without a trailing barrier;
/// returns what the loop executed.
///
/// # Safety
/// Every line in the (shifted) run must be mapped at EL1 for the duration of the call,
/// and an invalidate must not discard data that someone still needs (the planner makes
/// partial edge lines clean+invalidate for that reason).
unsafe fn run_lines(run: &LineRun, shift: u64) -> Executed {
    let (start, end, line) = (run.start + shift, run.end() + shift, run.line);
    match run.op {
        CacheOp::Clean => dc_loop!("cvac", start, end, line),
        CacheOp::Invalidate => dc_loop!("ivac", start, end, line),
        CacheOp::CleanInvalidate => dc_loop!("civac", start, end, line),
    }
}

/// Add a run's lines, `times` over, to the event counters.
fn count(run: &LineRun, times: u64) {
    let counter = match run.op {
        CacheOp::Clean => &counters::LINES_CLEANED,
        CacheOp::Invalidate => &counters::LINES_INVALIDATED,
        CacheOp::CleanInvalidate => &counters::LINES_CLEAN_INVALIDATED,
    };
    counters::add(counter, run.lines * times);
}

/// Perform `op` over `[va, va + len)` and finish with one DSB SY. `each` sees what every
/// loop executed (for the trace).
///
/// An `Invalidate` clean+invalidates partial edge lines so that bytes outside the range
/// sharing a line with it are not lost. The runs are issued as the planner decides them,
/// with nothing copied in between.
///
/// # Safety
/// The whole range must be mapped at EL1 (cacheable or not) for the duration of the call.
pub unsafe fn maintain_range(
    op: CacheOp,
    va: u64,
    len: u64,
    mut each: impl FnMut(&Executed),
) -> Result<(), RangeError> {
    plan_each(geometry(), op, va, len, |run| {
        // SAFETY: the caller guarantees the range is mapped; the run stays inside the lines
        // the range touches.
        let done = unsafe { run_lines(&run, 0) };
        count(&run, 1);
        each(&done);
    })?;
    barrier::dsb(barrier::SY);
    Ok(())
}

/// Perform `op` over `rows` ranges of `row_len` bytes, `stride` bytes apart, starting at
/// `va` (a rectangle of an image), with one DSB SY at the end. Every row's partial edge
/// lines are handled as in [`maintain_range`]. When `stride` is a whole number of lines
/// every row has the same line structure, so the first row's plan is reused, shifted;
/// otherwise each row is planned. `each` sees what every loop executed, one row at a
/// time (for the trace).
///
/// # Safety
/// Every row must be mapped at EL1 for the duration of the call.
pub unsafe fn maintain_rows(
    op: CacheOp,
    va: u64,
    row_len: u64,
    rows: u64,
    stride: u64,
    mut each: impl FnMut(&Executed),
) -> Result<(), RangeError> {
    let geom = geometry();
    let last = rows
        .checked_sub(1)
        .and_then(|r| r.checked_mul(stride))
        .and_then(|s| va.checked_add(s));
    let last = last.ok_or(RangeError::Wraps)?;
    plan(geom, op, last, row_len)?; // the last row must not wrap either
    if stride.is_multiple_of(geom.line()) {
        let first = plan(geom, op, va, row_len)?;
        if let [run] = first.runs() {
            // Every row is one run (always for clean; for invalidate when rows are
            // line-aligned): one tight loop over all rows.
            let (start, lines, line) = (run.start, run.lines, run.line);
            let (op, done, rows_done) = match run.op {
                CacheOp::Clean => dc_rows!("cvac", start, lines, line, rows, stride),
                CacheOp::Invalidate => dc_rows!("ivac", start, lines, line, rows, stride),
                CacheOp::CleanInvalidate => dc_rows!("civac", start, lines, line, rows, stride),
            };
            // One entry per row the loop executed, each with the lines it executed
            // (the same for every row, or the entry says the loop is broken).
            let per_row = done.checked_div(rows_done).unwrap_or(0);
            for i in 0..rows_done {
                let row_start = start + i * stride;
                let even = per_row * rows_done == done;
                each(&Executed {
                    op,
                    start: row_start,
                    lines: per_row,
                    end: row_start + if even { per_row * line } else { 0 },
                    line,
                });
            }
            count(run, rows);
            barrier::dsb(barrier::SY);
            return Ok(());
        }
        for i in 0..rows {
            for run in first.iter() {
                // SAFETY: the caller guarantees every row is mapped; shifted by whole
                // strides the runs stay inside row i.
                let done = unsafe { run_lines(run, i * stride) };
                each(&done);
            }
        }
        for run in first.iter() {
            count(run, rows);
        }
    } else {
        for i in 0..rows {
            plan_each(geom, op, va + i * stride, row_len, |run| {
                // SAFETY: the caller guarantees every row is mapped; the run stays inside it.
                let done = unsafe { run_lines(&run, 0) };
                count(&run, 1);
                each(&done);
            })?;
        }
    }
    barrier::dsb(barrier::SY);
    Ok(())
}

/// Benchmark limit: the bare DC loop over `[va, va + len)` (line-aligned, whole lines)
/// and its DSB, timed with the cycle counter; nothing else.
///
/// # Safety
/// The range must be mapped at EL1, and for `Invalidate` nobody may need its dirty data.
#[cfg(feature = "bench")]
pub unsafe fn bare_loop_cycles(op: CacheOp, va: u64, len: u64) -> u64 {
    let line = geometry().line();
    let (start, end) = (va & !(line - 1), (va + len).next_multiple_of(line));
    let t0 = super::pmu::cycles();
    let _ = match op {
        CacheOp::Clean => dc_loop!("cvac", start, end, line),
        CacheOp::Invalidate => dc_loop!("ivac", start, end, line),
        CacheOp::CleanInvalidate => dc_loop!("civac", start, end, line),
    };
    barrier::dsb(barrier::SY);
    super::pmu::cycles() - t0
}

/// The naive alternative to maintenance by address: clean+invalidate every line of
/// every data/unified cache level up to the point of coherency by set/way (DC CISW).
/// Returns the cycles it took. Only meaningful on one CPU with nothing else running.
#[cfg(feature = "bench")]
pub fn clean_all_by_set_way() -> u64 {
    let t0 = super::pmu::cycles();
    let clidr: u64;
    // SAFETY: CLIDR_EL1 is a read-only identification register.
    unsafe { core::arch::asm!("mrs {}, clidr_el1", out(reg) clidr, options(nomem, nostack)) };
    let loc = (clidr >> 24) & 0x7;
    let mut ops = 0u64;
    for level in 0..loc {
        let ctype = (clidr >> (level * 3)) & 0x7;
        if ctype < 2 {
            continue; // no data cache at this level
        }
        let ccsidr: u64;
        // SAFETY: selecting a cache level and reading its geometry has no side effects
        // beyond CSSELR itself, which nothing else in this kernel uses.
        unsafe {
            core::arch::asm!("msr csselr_el1, {}", "isb", "mrs {}, ccsidr_el1",
                in(reg) level << 1, lateout(reg) ccsidr, options(nostack))
        };
        let line_shift = (ccsidr & 0x7) + 4;
        let ways = ((ccsidr >> 3) & 0x3ff) + 1;
        let sets = ((ccsidr >> 13) & 0x7fff) + 1;
        let way_shift = (ways as u32 - 1).leading_zeros();
        for way in 0..ways {
            for set in 0..sets {
                let operand = if ways > 1 { way << way_shift } else { 0 }
                    | (set << line_shift)
                    | (level << 1);
                // SAFETY: DC CISW writes back and invalidates one cache line by set/way;
                // no data is lost (dirty lines are written back first).
                unsafe { core::arch::asm!("dc cisw, {}", in(reg) operand, options(nostack)) };
                ops += 1;
            }
        }
    }
    barrier::dsb(barrier::SY);
    counters::add(&counters::SETWAY_OPS, ops);
    super::pmu::cycles() - t0
}
