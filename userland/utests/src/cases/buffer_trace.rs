//! Exactly the cache maintenance each `buffer_sync` flavour issues on a 4-page cached
//! buffer, read back with `trace` (cleared before each step), in either device
//! coherency mode (`stats(DevicesCoherent)`).
//!
//! 1. While only CPU tasks use the buffer, no flavour issues anything: CPU caches are
//!    coherent with each other (ENDs record their lines, STARTs find nothing stale).
//! 2. Then a legacy `UNCACHED` mapping of the whole buffer appears (through a GPU
//!    import): a non-coherent reader and writer that no submission announces, in
//!    either mode. From then on, with L the line size from CTR_EL0 and offsets in
//!    buffer bytes:
//!    - START READ / RW / WRITE of a range: DC CIVAC on a partial line at either edge,
//!      DC IVAC over the whole lines between (one entry each, in address order); an
//!      aligned range is one pure IVAC; `len == 0` is the whole buffer;
//!    - END WRITE / END RW: one DC CVAC over exactly the touched lines, at once;
//!    - END READ: nothing;
//!    - a read-only duplicate's START READ: DC CIVAC over the lines, never IVAC.
//! 3. When the uncached mapping goes, the next START READ invalidates the whole buffer
//!    (the mapping may have written anywhere behind the cache), and the one after it
//!    nothing.
//!
//! Every entry names the buffer's id and a kernel address `va` with `va - offset` the
//! same for all entries (the buffer's kernel mapping). The trace itself must exist
//! (`NotSupported` fails: test kernels have it), and a read into a short array copies
//! what fits, reports the full count and consumes nothing.

use crate::{
    check, check_eq, clear_trace, expect_clean, expect_invalidate, line_span, ok, TestResult,
    TraceCheck, TraceOp,
};
use urt::sync::{END, READ, RW, START, WRITE};
use urt::trace::{Entry, OP_CLEAN, OP_CLEAN_INVALIDATE, OP_INVALIDATE};
use urt::{policy, prot, Handle, Rights};

const PAGES: u64 = 4;
const SIZE: u64 = PAGES * 4096;

struct Ctx {
    h: Handle,
    line: u64,
    /// A legacy uncached mapping exists: maintenance at every sync.
    uncached_alias: bool,
    t: TraceCheck,
}

impl Ctx {
    /// Clear the trace, sync, and require exactly `want` (with the uncached mapping) or
    /// nothing (CPU only).
    fn step(
        &mut self,
        h: Handle,
        flags: u64,
        offset: u64,
        len: u64,
        want: &[TraceOp],
    ) -> TestResult {
        let what = urt::alloc::format!(
            "sync(flags {:#x}, offset {}, len {}) on {:#x}",
            flags,
            offset,
            len,
            h.0
        );
        clear_trace()?;
        ok!(urt::buffer_sync(h, flags, offset, len), "{}", what);
        let want = if self.uncached_alias { want } else { &[][..] };
        self.t.expect(&what, want)
    }

    /// A START READ/RW + matching END pair on the writer handle.
    fn start_end(&mut self, dir: u64, offset: u64, len: u64) -> TestResult {
        let inv = expect_invalidate(offset, len, SIZE, self.line);
        let clean = expect_clean(offset, len, SIZE, self.line);
        let (start_want, end_want): (&[TraceOp], &[TraceOp]) = match dir {
            READ => (&inv, &[]),
            _ => (&inv, &clean),
        };
        self.step(self.h, START | dir, offset, len, start_want)?;
        self.step(self.h, END | dir, offset, len, end_want)
    }
}

/// The test, in a boot `boot` describes.
pub fn run(boot: crate::Boot) -> TestResult {
    crate::expect_boot(boot)?;
    let coherent = boot.coherent;
    let line = urt::dcache_line_size();
    check!(
        line.is_power_of_two() && (16..=2048).contains(&line),
        "CTR_EL0 line size {}",
        line
    );
    urt::println!(
        "test_buffer_trace: devices {}, D-cache line {} bytes",
        if coherent { "coherent" } else { "non-coherent" },
        line
    );

    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let info = ok!(urt::buffer_info(h));
    check_eq!(info.size, SIZE, "buffer size");
    check_eq!(info.policy, policy::CACHED, "buffer policy");
    let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    let mut c = Ctx {
        h,
        line,
        uncached_alias: false,
        t: TraceCheck::new(info.id),
    };

    // 1: CPU only. Every flavour, over the ranges below: nothing.
    for (off, len) in [(100, 1000), (0, 0), (4095, 2), (SIZE - 1, 1)] {
        for dir in [READ, WRITE, RW] {
            c.start_end(dir, off, len)?;
        }
    }

    // 2: a legacy uncached mapping of the whole buffer.
    let res = ok!(urt::gpu_import(h, 64, 64, urt::format::B8G8R8X8));
    let fake = ok!(urt::gpu_map_offset(res));
    let nc = ok!(urt::gpu_mmap(
        fake,
        SIZE,
        prot::READ | prot::WRITE,
        urt::legacy::UNCACHED
    ));
    c.uncached_alias = true;

    // START READ of [100, 1100): CIVAC head line, IVAC between, CIVAC tail line.
    let want = expect_invalidate(100, 1000, SIZE, line);
    let (s, e) = line_span(100, 1000, SIZE, line);
    // (Spelled out for the usual line sizes, so a wrong helper cannot pass vacuously.)
    check!(
        line > 512
            || want.len() == 3
                && want[0] == (OP_CLEAN_INVALIDATE, s, line)
                && want[1] == (OP_INVALIDATE, s + line, e - s - 2 * line)
                && want[2] == (OP_CLEAN_INVALIDATE, e - line, line),
        "expectation for [100, 1100) with {}-byte lines: {:x?}",
        line,
        want
    );
    check_eq!(
        expect_clean(100, 1000, SIZE, line),
        [(OP_CLEAN, s, e - s)],
        "END WRITE expectation for [100, 1100)"
    );
    c.start_end(READ, 100, 1000)?;

    // A short read keeps the rest: copied = what fits, recorded = all, nothing consumed.
    {
        ok!(urt::buffer_sync(h, START | READ, 100, 1000));
        let mut one = [Entry::default(); 1];
        check_eq!(
            ok!(urt::trace_read(&mut one)),
            (1, want.len()),
            "trace read with room for 1"
        );
        check_eq!(
            (one[0].op, one[0].offset, one[0].len),
            want[0],
            "first entry"
        );
        check_eq!(
            ok!(urt::trace_read(&mut [])),
            (0, want.len()),
            "trace read with room for 0"
        );
        c.t.expect("re-reading after short reads", &want)?;
        ok!(urt::buffer_sync(h, END | READ, 100, 1000));
    }

    // Aligned ranges: pure invalidate (one crossing a page boundary), pure clean.
    c.start_end(READ, 4096 - line, 2 * line)?;
    c.start_end(READ, 2 * line, line)?;
    c.start_end(RW, 4096, 4096)?;
    // One partial line; a range that ends at the end of the buffer; the last byte.
    c.start_end(READ, 5, 1)?;
    c.start_end(READ, SIZE - 100, 100)?;
    c.start_end(READ, SIZE - 1, 1)?;
    c.start_end(READ, line, line + 1)?;
    // len == 0: the whole buffer.
    c.start_end(READ, 0, 0)?;
    c.start_end(RW, 0, 0)?;
    c.start_end(WRITE, 0, 0)?;
    // WRITE and RW of a range: START invalidate, END one clean.
    c.start_end(WRITE, 100, 1000)?;
    c.start_end(RW, 100, 1000)?;
    c.start_end(WRITE, 4095, 2)?;
    c.start_end(RW, 4095, 2)?;

    // Data written under START/END WRITE through the mapping survives START READ's
    // partial-line CIVAC (bytes next to the range are not lost).
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: `map` is our live read-write mapping of SIZE bytes; nothing references it.
    unsafe { crate::write_pattern(map, SIZE as usize, 7) };
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    c.start_end(READ, 100, 1000)?;
    // SAFETY: as above, read-only use.
    let bad = unsafe { crate::find_mismatch(map, SIZE as usize, 7) };
    check_eq!(bad, None, "pattern after START/END READ");

    // A holder without MAP_WRITE: START READ cleans and invalidates, never invalidates.
    let ro = ok!(urt::handle_dup(h, Rights::MAP_READ.with(Rights::SHARE)));
    for (off, len) in [(100, 1000), (0, 0), (4096 - line, 2 * line), (5, 1)] {
        let what = urt::alloc::format!("read-only START READ offset {} len {}", off, len);
        clear_trace()?;
        ok!(urt::buffer_sync(ro, START | READ, off, len), "{}", what);
        let (s, e) = line_span(off, len, SIZE, line);
        c.t.expect_cover(&what, &[OP_CLEAN_INVALIDATE], s, e)?;
        clear_trace()?;
        ok!(
            urt::buffer_sync(ro, END | READ, off, len),
            "END of {}",
            what
        );
        c.t.expect("read-only END READ", &[])?;
    }
    check!(
        c.t.base.is_some(),
        "no entry ever showed the kernel address"
    );

    // 3: the uncached mapping goes. What it may have written is stale for the cache:
    // the next START READ invalidates the whole buffer, the one after it nothing.
    // SAFETY: nothing references the uncached mapping any more.
    ok!(unsafe { urt::buffer_unmap(nc) });
    ok!(urt::handle_close(res));
    c.step(h, START | READ, 0, 0, &expect_invalidate(0, 0, SIZE, line))?;
    c.step(h, END | READ, 0, 0, &[])?;
    c.uncached_alias = false;
    c.start_end(READ, 0, 0)?;
    // SAFETY: as above.
    ok!(unsafe { urt::buffer_unmap(map) });
    ok!(urt::handle_close(ro));
    ok!(urt::handle_close(h));
    clear_trace()?;
    Ok(())
}
