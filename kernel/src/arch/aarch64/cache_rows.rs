//! The rectangle loop of `cache.rs` (`dc_rows!`), unrolled: `DC <op>` over `lines`
//! lines of every row of a rectangle, rows `stride` bytes apart, at the per-line cost of
//! a plain range.
//!
//! For rows of 1 to 8 lines the row is straight-line code (a DC and an add per line),
//! and the add after a row's last line steps straight to the next row's first
//! (`skip = stride - (lines - 1) * line`), so a row costs `2 * lines` instructions plus
//! the loop's compare and branch, which short rows share by unrolling several rows per
//! iteration: 2.25 instructions per line for rows of 1, 2, 4 and 8 lines, at most 2.4
//! for the others. Longer rows take the simple loop (a DC, an add, a count and a branch
//! per line, and five instructions per row), where the row overhead matters less.

/// `"<ins>; add {va}, {va}, {line}"`: one line of a row, not its last (`ins` names the
/// line's address `{va}`: `"dc cvac, {va}"`).
macro_rules! dc_line {
    ($ins:tt) => {
        concat!($ins, "\n", "add {va}, {va}, {line}\n")
    };
}

/// One row of N lines (`rN`): N - 1 [`dc_line!`]s, then the last line and the step to the
/// next row. The optional token only lets the rows be repeated by a `$(...)+`.
macro_rules! r1 {
    ($ins:tt $($x:tt)?) => {
        concat!($ins, "\n", "add {va}, {va}, {skip}\n")
    };
}
macro_rules! r2 {
    ($ins:tt $($x:tt)?) => {
        concat!(dc_line!($ins), r1!($ins))
    };
}
macro_rules! r3 {
    ($ins:tt $($x:tt)?) => {
        concat!(dc_line!($ins), r2!($ins))
    };
}
macro_rules! r4 {
    ($ins:tt $($x:tt)?) => {
        concat!(dc_line!($ins), r3!($ins))
    };
}
macro_rules! r5 {
    ($ins:tt $($x:tt)?) => {
        concat!(dc_line!($ins), r4!($ins))
    };
}
macro_rules! r6 {
    ($ins:tt $($x:tt)?) => {
        concat!(dc_line!($ins), r5!($ins))
    };
}
macro_rules! r7 {
    ($ins:tt $($x:tt)?) => {
        concat!(dc_line!($ins), r6!($ins))
    };
}
macro_rules! r8 {
    ($ins:tt $($x:tt)?) => {
        concat!(dc_line!($ins), r7!($ins))
    };
}

/// `rows` rows of `$row`, as many per iteration as there are tokens in `[...]` (the
/// rows that do not fill an iteration first, one at a time).
macro_rules! rows_loop {
    ($ins:tt, $row:ident, [$($u:tt)+], $va:expr, $line:expr, $skip:expr, $rows:expr) => {{
        let unroll = [$(stringify!($u)),+].len() as u64;
        let rows: u64 = $rows;
        let (rem, blocks) = (rows % unroll, rows / unroll);
        // SAFETY: the caller of `dc_rows!` guarantees every line of every row is mapped
        // at EL1; DC by VA only moves data between cache and memory (the test variant's
        // caller, `mark_rows`, that every line start is writable).
        unsafe {
            core::arch::asm!(
                "cbz {rem}, 2f",
                "1:",
                $row!($ins),
                "subs {rem}, {rem}, #1",
                "b.ne 1b",
                "2:",
                "cbz {blocks}, 4f",
                "3:",
                $($row!($ins $u),)+
                "subs {blocks}, {blocks}, #1",
                "b.ne 3b",
                "4:",
                "// {line} {skip} {mark}",
                va = inout(reg) $va => _,
                rem = inout(reg) rem => _,
                blocks = inout(reg) blocks => _,
                line = in(reg) $line,
                skip = in(reg) $skip,
                mark = in(reg) MARK,
                options(nostack)
            );
        }
    }};
}

/// `ins` (an instruction on the address `{va}`: `"dc cvac, {va}"`) over `lines` lines
/// from `start`, then the same at `start + stride`, ... for `rows` rows; no barrier.
/// `lines` and `rows` are at least 1 and `stride` at least `lines * line`.
macro_rules! dc_rows_unrolled {
    ($ins:tt, $start:expr, $lines:expr, $line:expr, $rows:expr, $stride:expr) => {{
        let (start, lines, line, rows, stride): (u64, u64, u64, u64, u64) =
            ($start, $lines, $line, $rows, $stride);
        let skip = stride - (lines - 1) * line;
        match lines {
            1 => rows_loop!($ins, r1, [a a a a a a a a], start, line, skip, rows),
            2 => rows_loop!($ins, r2, [a a a a], start, line, skip, rows),
            3 => rows_loop!($ins, r3, [a a], start, line, skip, rows),
            4 => rows_loop!($ins, r4, [a a], start, line, skip, rows),
            5 => rows_loop!($ins, r5, [a], start, line, skip, rows),
            6 => rows_loop!($ins, r6, [a], start, line, skip, rows),
            7 => rows_loop!($ins, r7, [a], start, line, skip, rows),
            8 => rows_loop!($ins, r8, [a], start, line, skip, rows),
            _ => {
                // SAFETY: as above.
                unsafe {
                    core::arch::asm!(
                        "1:",
                        "mov {va}, {row}",
                        "mov {n}, {lines}",
                        "2:",
                        $ins,
                        "add {va}, {va}, {line}",
                        "subs {n}, {n}, #1",
                        "b.ne 2b",
                        "add {row}, {row}, {stride}",
                        "subs {rows}, {rows}, #1",
                        "b.ne 1b",
                        "// {mark}",
                        row = inout(reg) start => _,
                        rows = inout(reg) rows => _,
                        va = out(reg) _,
                        n = out(reg) _,
                        lines = in(reg) lines,
                        line = in(reg) line,
                        stride = in(reg) stride,
                        mark = in(reg) MARK,
                        options(nostack)
                    );
                }
            }
        }
    }};
}

/// What the test variant of the loop stores at each line it visits.
pub const MARK: u64 = 0xa5;

/// The rectangle loop with a store of [`MARK`] (one byte) at each line's address instead
/// of its `DC`: the kernel test `rect_loop_visits_exactly_each_row` checks that the
/// unrolled loop visits exactly the lines of every row, which the data of a `DC` (a no-op
/// under QEMU) could never show.
///
/// # Safety
/// Every line start of every row must be writable memory that nothing else uses.
#[cfg(feature = "ktest")]
pub unsafe fn mark_rows(start: u64, lines: u64, line: u64, rows: u64, stride: u64) {
    dc_rows_unrolled!("strb {mark:w}, [{va}]", start, lines, line, rows, stride)
}

#[cfg(not(feature = "ktest"))]
pub(super) use {dc_line, dc_rows_unrolled, r1, r2, r3, r4, r5, r6, r7, r8, rows_loop};
