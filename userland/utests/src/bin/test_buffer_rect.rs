//! `buffer_sync_rect`: one START or END over exactly the rows of a rectangle (each row
//! planned like a `buffer_sync` range, partial edge lines included), its errors, and the
//! `counters` call that benchmarks read (the lines it reports match the trace).
//!
//! Maintenance needs a non-coherent party (`dma=noncoherent`; coherent: none at all):
//! 1. CPU only: START and END of rectangles maintain nothing.
//! 2. After the block device wrote the buffer (its lines are stale), START READ of a
//!    rectangle invalidates every row (a partial line: DC CIVAC).
//! 3. With a legacy uncached mapping of the buffer's first page (a reader and writer no
//!    submission announces), START RW of a line-aligned rectangle invalidates each row
//!    (DC IVAC) and END RW cleans the same lines (DC CVAC) at once.
//! 4. The same mapping of a fresh buffer (nothing but the mapping makes the fast path
//!    look): START READ of the rectangle still invalidates each row.

#![no_std]
#![no_main]

use urt::sync::{END, READ, START, WRITE};
use urt::trace::{Entry, OP_CLEAN, OP_CLEAN_INVALIDATE, OP_INVALIDATE};
use urt::{policy, Counters, Error, Handle, StartArgs, Sys};
use utests::{check, check_eq, clear_trace, expect_raw, ok, read_trace, TestResult};

const STRIDE: u64 = 1024;
const ROWS_IN_BUFFER: u64 = 16;

fn rect(h: u64, flags: u64, offset: u64, row_len: u64, rows: u64, stride: u64) -> [u64; 3] {
    // SAFETY: integer arguments only.
    unsafe {
        urt::sys::raw_syscall(
            Sys::BufferSyncRect as u64,
            [h, flags, offset, row_len, rows, stride],
        )
    }
}

fn counters() -> Result<Counters, utests::Failed> {
    let mut c = Counters::default();
    // SAFETY: `c` is a writable, 8-aligned, 64-byte repr(C) struct.
    let r = unsafe {
        urt::sys::raw_syscall(
            Sys::Counters as u64,
            [&mut c as *mut Counters as u64, 0, 0, 0, 0, 0],
        )
    };
    check_eq!(r[0], 0, "counters");
    Ok(c)
}

/// A legacy uncached mapping of `buf`'s first page, through a GPU resource imported
/// from it: (the resource, the mapping).
fn uncached_alias(buf: Handle) -> Result<(Handle, *mut u8), utests::Failed> {
    let res = ok!(urt::gpu_import(
        buf,
        (STRIDE / 4) as u32,
        ROWS_IN_BUFFER as u32,
        urt::format::B8G8R8X8
    ));
    let fake = ok!(urt::gpu_map_offset(res));
    let nc = ok!(urt::gpu_mmap(
        fake,
        4096,
        urt::prot::READ | urt::prot::WRITE,
        urt::legacy::UNCACHED
    ));
    Ok((res, nc))
}

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    let coherent = false;
    let line = urt::dcache_line_size();
    let buf = ok!(urt::buffer_create(STRIDE * ROWS_IN_BUFFER, policy::CACHED));
    let id = ok!(urt::buffer_info(buf)).id;
    let h = buf.0 as u64;
    // A 40-byte-wide, 4-row rectangle starting 8 bytes into row 2: every row has a partial
    // head line (offset 8) and ends inside its first line.
    let (x, y, w, rows) = (8, 2, 40, 4);
    let off = y * STRIDE + x;

    // 1: nobody but the CPU: nothing to maintain.
    ok!(clear_trace());
    let c = counters()?;
    for (flags, row_len, line_rows) in [(READ, w, rows), (READ | WRITE, 2 * line, 3)] {
        expect_raw!(
            rect(h, START | flags, off, row_len, line_rows, STRIDE),
            0,
            "START"
        );
        expect_raw!(
            rect(h, END | flags, off, row_len, line_rows, STRIDE),
            0,
            "END"
        );
    }
    check_eq!(
        read_trace(&mut [Entry::default(); 4])?,
        0,
        "CPU-only rectangles"
    );
    let lines = |c: &Counters| c.lines_cleaned + c.lines_invalidated + c.lines_clean_invalidated;
    check_eq!(lines(&counters()?), lines(&c), "no line counted");

    // 2: the device writes the whole buffer.
    let sectors = STRIDE * ROWS_IN_BUFFER / 512;
    let fence = ok!(urt::blk_read(
        buf,
        0,
        scene::capture::TEST_SECTOR_BASE,
        sectors
    ));
    ok!(urt::fence_wait(fence, 5_000_000_000));
    ok!(clear_trace());
    let c0 = counters()?;
    expect_raw!(
        rect(h, START | READ, off, w, rows, STRIDE),
        0,
        "START READ rect"
    );
    let c1 = counters()?;
    let mut e = [Entry::default(); 32];
    let n = read_trace(&mut e)?;
    if coherent {
        check_eq!(n, 0, "coherent devices: no maintenance");
    } else {
        check_eq!(n, rows as usize, "one entry per row: {:?}", &e[..n]);
        for (i, en) in e[..n].iter().enumerate() {
            let row = (y + i as u64) * STRIDE;
            check_eq!(
                (en.op, en.buffer, en.offset, en.len),
                (OP_CLEAN_INVALIDATE, id, row, line),
                "row {}",
                i
            );
        }
        check_eq!(
            c1.lines_clean_invalidated - c0.lines_clean_invalidated,
            rows,
            "counted lines"
        );
    }
    // Test kernels block a START once on a device fence it meets for the first time (the
    // block device's, here), and the blocked call is re-issued: one more syscall counted.
    let mut all = [Entry::default(); 32];
    let all_n = utests::read_trace_all(&mut all)?;
    let waits = all[..all_n]
        .iter()
        .filter(|en| en.op == urt::trace::OP_FENCE_WAIT && en.offset == fence.0)
        .count() as u64;
    check_eq!(waits, 1, "the START blocked once on the block fence");
    check_eq!(
        c1.syscalls - c0.syscalls,
        2 + waits,
        "syscalls counted (the rect, its re-issue after the fence wait, one counters call)"
    );
    expect_raw!(
        rect(h, END | READ, off, w, rows, STRIDE),
        0,
        "END READ rect"
    );

    // 3: a legacy uncached mapping of page 0; a line-aligned rectangle: pure invalidate
    // per row; END RW cleans the same lines at once.
    let (res, nc) = uncached_alias(buf)?;
    ok!(clear_trace());
    expect_raw!(
        rect(h, START | WRITE | READ, 0, 2 * line, 3, STRIDE),
        0,
        "START RW rect"
    );
    expect_raw!(
        rect(h, END | WRITE | READ, 0, 2 * line, 3, STRIDE),
        0,
        "END RW rect"
    );
    let n = read_trace(&mut e)?;
    if !coherent {
        check_eq!(n, 6, "3 invalidates then 3 cleans: {:?}", &e[..n]);
        for i in 0..3 {
            check_eq!(
                (e[i].op, e[i].offset, e[i].len),
                (OP_INVALIDATE, i as u64 * STRIDE, 2 * line),
                "row {} invalidate",
                i
            );
            check_eq!(
                (e[3 + i].op, e[3 + i].offset, e[3 + i].len),
                (OP_CLEAN, i as u64 * STRIDE, 2 * line),
                "row {} clean",
                i
            );
        }
    }

    // SAFETY: nothing uses the uncached mapping.
    ok!(unsafe { urt::buffer_unmap(nc) });
    ok!(urt::handle_close(res));

    // 4: the same mapping of a buffer nothing else ever touched (no device work, no
    // stale line: nothing but the mapping tells the fast path to look): START READ of
    // the rectangle still invalidates each row.
    let fresh = ok!(urt::buffer_create(STRIDE * ROWS_IN_BUFFER, policy::CACHED));
    let (res, nc) = uncached_alias(fresh)?;
    ok!(clear_trace());
    let f = fresh.0 as u64;
    expect_raw!(
        rect(f, START | READ, 0, 2 * line, 3, STRIDE),
        0,
        "START READ rect, fresh buffer"
    );
    expect_raw!(
        rect(f, END | READ, 0, 2 * line, 3, STRIDE),
        0,
        "END READ rect, fresh buffer"
    );
    let n = read_trace(&mut e)?;
    if !coherent {
        check_eq!(n, 3, "3 invalidates: {:?}", &e[..n]);
        for (i, entry) in e[..3].iter().enumerate() {
            check_eq!(
                (entry.op, entry.offset, entry.len),
                (OP_INVALIDATE, i as u64 * STRIDE, 2 * line),
                "row {} invalidate, fresh buffer",
                i
            );
        }
    }
    // SAFETY: nothing uses the uncached mapping.
    ok!(unsafe { urt::buffer_unmap(nc) });
    ok!(urt::handle_close(res));
    ok!(urt::handle_close(fresh));

    // Errors.
    let size = STRIDE * ROWS_IN_BUFFER;
    expect_raw!(
        rect(h, START | READ, 0, 0, 1, STRIDE),
        Error::OutOfRange,
        "row_len 0"
    );
    expect_raw!(
        rect(h, START | READ, 0, 8, 0, STRIDE),
        Error::OutOfRange,
        "rows 0"
    );
    expect_raw!(
        rect(h, START | READ, 0, STRIDE + 1, 2, STRIDE),
        Error::OutOfRange,
        "rows overlap"
    );
    expect_raw!(
        rect(h, START | READ, size - 8, 16, 1, STRIDE),
        Error::OutOfRange,
        "past the end"
    );
    expect_raw!(
        rect(h, START | READ, 0, 8, u64::MAX, STRIDE),
        Error::OutOfRange,
        "overflow"
    );
    expect_raw!(
        rect(h, START, 0, 8, 1, STRIDE),
        Error::BadFlags,
        "no direction"
    );
    expect_raw!(
        rect(0x7777, START | READ, 0, 8, 1, STRIDE),
        Error::BadHandle,
        "forged handle"
    );
    expect_raw!(
        rect(h, END | READ, 0, 8, 1, STRIDE),
        Error::NotStarted,
        "END without START"
    );
    expect_raw!(rect(h, START | WRITE, 0, 8, 1, STRIDE), 0, "START WRITE");
    expect_raw!(
        rect(h, START | WRITE, 0, 8, 1, STRIDE),
        Error::AlreadyStarted,
        "START twice"
    );
    expect_raw!(rect(h, END | WRITE, 0, 8, 1, STRIDE), 0, "END WRITE");
    // SAFETY: a misaligned pointer is refused before anything is written.
    let r = unsafe { urt::sys::raw_syscall(Sys::Counters as u64, [0x1001, 0, 0, 0, 0, 0]) };
    expect_raw!(r, Error::BadAddress, "counters to a bad pointer");
    check!(counters()?.syscalls > c1.syscalls, "syscalls keep counting");
    Ok(())
}

utests::test_main!(test);
