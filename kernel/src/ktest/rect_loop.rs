//! The unrolled rectangle loop (`arch::cache_rows`) visits exactly the lines
//! of every row: its test variant stores a mark at each line it visits, over a scratch
//! buffer, for rows of 1 to 12 lines (the unrolled shapes and the simple loop), row
//! counts that do and do not fill an unrolled iteration, and strides with and without
//! gaps; every other byte must stay zero.

use crate::arch::cache_rows::{mark_rows, MARK};
use crate::ensure;
use alloc::string::String;
use alloc::vec;

pub fn rect_loop_visits_exactly_each_row(_: &crate::boot::Machine) -> Result<(), String> {
    let line = crate::arch::cache::geometry().line();
    for lines in 1..=12u64 {
        for rows in [1u64, 2, 3, 5, 8, 9, 17] {
            for gap in [0u64, 1, 3] {
                let stride = (lines + gap) * line;
                let offset = line; // the rectangle starts one line into the buffer
                let size = offset + rows * stride + line;
                let mut buf = vec![0u8; size as usize];
                let base = buf.as_mut_ptr() as u64;
                // SAFETY: every line start of every row lies inside `buf`, which only this
                // test uses.
                unsafe { mark_rows(base + offset, lines, line, rows, stride) };
                for (i, &b) in buf.iter().enumerate() {
                    let i = i as u64;
                    let rel = i.wrapping_sub(offset);
                    let want = i >= offset
                        && rel / stride < rows
                        && (rel % stride).is_multiple_of(line)
                        && (rel % stride) / line < lines;
                    ensure!(
                        (b == MARK as u8) == want,
                        "{lines} lines x {rows} rows, stride {stride}: byte {i} is {b:#x}"
                    );
                }
            }
        }
    }
    Ok(())
}
