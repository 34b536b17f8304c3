//! The capture path's cache maintenance, read back with `trace`: a device write
//! (`blk_read` from the capture disk) followed by START READ invalidates exactly the
//! captured range before the CPU reads it, and the CPU then reads the disk's bytes, not
//! what the cache held before.
//!
//! Needs the capture disk (`scene::capture`'s layout; `cargo xtask test` attaches it).
//! For each of two captures: a 16-page buffer, stale data in it first (written under
//! START/END WRITE, so its lines sit dirty in the cache: nobody but the CPU has seen
//! them), then `blk_read` of test sectors into `[4608, 14848)` (20 sectors, not at the
//! buffer's start), and a 64-page buffer with pipeline frame 1 (500 sectors) at offset
//! 0, as the `capture` task reads it. Twice per buffer, once for the writer and once
//! for a read-only duplicate:
//!
//! 1. `blk_read` records the clean of exactly the range's lines (non-coherent, the
//!    first time: the stale pattern is dirty there; nothing the second time), then one
//!    device-write entry (op 7) for exactly the range, `va` 0;
//! 2. `fence_wait` on the returned fence (a block-device fence, `1 << 56 | n`);
//! 3. the trace is cleared, START READ of exactly the captured range: non-coherent
//!    (`dma=noncoherent`), exactly one DC IVAC over the range for the writer (it is
//!    line-aligned), exactly one DC CIVAC over it for the read-only duplicate;
//!    coherent, no entries at all;
//! 4. the bytes in the range are the disk's, the bytes around it the stale pattern
//!    (the device wrote nothing else); END READ records nothing, and a second START
//!    READ (no device write since) neither.

use crate::{check, check_eq, clear_trace, ok, TestResult, TraceCheck};
use scene::capture::{
    disk_sector, frame_sector, DISK_SECTORS, FRAME_BYTES, SECTORS_PER_FRAME, SECTOR_SIZE,
    TEST_SECTOR_BASE,
};
use urt::sync::{END, READ, START, WRITE};
use urt::trace::{OP_CLEAN, OP_CLEAN_INVALIDATE, OP_DEVICE_WRITE, OP_INVALIDATE};
use urt::{abi, policy, prot, Error, Rights};

const FENCE_TIMEOUT_NS: u64 = 5_000_000_000;
/// Seed of the stale pattern written before each capture.
const STALE: u64 = 0x5eed;

/// One capture: `count` sectors from `sector` into `[offset, ..)` of a `size`-byte
/// buffer.
struct Capture {
    size: u64,
    offset: u64,
    sector: u64,
    count: u64,
}

impl Capture {
    fn len(&self) -> u64 {
        self.count * SECTOR_SIZE
    }
}

/// The disk's bytes at `[p, p + c.len())` (sector by sector); the offset of the first
/// differing byte relative to `p`, if any.
///
/// # Safety
///
/// `[p, p + c.len())` must be mapped readable.
unsafe fn disk_mismatch(p: *const u8, c: &Capture) -> Option<u64> {
    let mut want = [0u8; 512];
    for i in 0..c.count {
        disk_sector(c.sector + i, &mut want);
        for (j, &w) in want.iter().enumerate() {
            let at = i * SECTOR_SIZE + j as u64;
            // SAFETY: inside the range (the caller's contract).
            if unsafe { p.add(at as usize).read_volatile() } != w {
                return Some(at);
            }
        }
    }
    None
}

fn capture(c: &Capture, coherent: bool, line: u64) -> TestResult {
    let what = urt::alloc::format!(
        "capture of {} sectors from {} at offset {:#x} of {:#x} bytes",
        c.count,
        c.sector,
        c.offset,
        c.size
    );
    let h = ok!(urt::buffer_create(c.size, policy::CACHED), "{}", what);
    let id = ok!(urt::buffer_info(h)).id;
    let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    let ro = ok!(urt::handle_dup(h, Rights::MAP_READ.with(Rights::SHARE)));

    // Stale data, cleaned to memory; its lines may stay in the cache.
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: `map` is our live read-write mapping of `size` bytes; nothing references it.
    unsafe { crate::write_pattern(map, c.size as usize, STALE) };
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    // SAFETY: as above, read-only use.
    let before = unsafe { crate::find_mismatch(map, c.size as usize, STALE) };
    check_eq!(before, None, "{}: stale pattern", what);

    let mut t = TraceCheck::new(id);
    let (s, e) = (
        c.offset & !(line - 1),
        (c.offset + c.len()).next_multiple_of(line),
    );
    check!(
        (s, e) == (c.offset, c.offset + c.len()),
        "{}: the range is line-aligned",
        what
    );
    for (round, (holder, op, who)) in [
        (h, OP_INVALIDATE, "writer"),
        (ro, OP_CLEAN_INVALIDATE, "read-only"),
    ]
    .into_iter()
    .enumerate()
    {
        let step = urt::alloc::format!("{}: {} capture", what, who);
        // 1. The device write, after the clean of the dirty lines it covers.
        clear_trace()?;
        let fence = ok!(urt::blk_read(h, c.offset, c.sector, c.count), "{}", step);
        let mut want = urt::alloc::vec::Vec::new();
        if round == 0 && !coherent {
            want.push((OP_CLEAN, c.offset, c.len()));
        }
        want.push((OP_DEVICE_WRITE, c.offset, c.len()));
        t.expect(&step, &want)?;

        // 2. The data is in memory once the fence has signalled.
        check_eq!(
            abi::fence::device(fence.0),
            abi::fence::BLK,
            "{}: fence {:#x} device",
            step,
            fence.0
        );
        ok!(
            urt::fence_wait(fence, FENCE_TIMEOUT_NS),
            "{}: fence_wait",
            step
        );

        // 3. START READ of exactly the captured range: invalidate exactly it.
        clear_trace()?;
        ok!(
            urt::buffer_sync(holder, START | READ, c.offset, c.len()),
            "{}: START READ",
            step
        );
        let want = [(op, c.offset, c.len())];
        t.expect(&step, if coherent { &[] } else { &want })?;

        // 4. The disk's bytes in the range, the stale ones around it.
        // SAFETY: the range lies inside our live mapping of `size` bytes.
        let bad = unsafe { disk_mismatch(map.add(c.offset as usize), c) };
        check_eq!(bad, None, "{}: first byte differing from the disk", step);
        // SAFETY: as above; the words before the range.
        let head = unsafe { crate::find_mismatch(map, c.offset as usize, STALE) };
        check_eq!(head, None, "{}: bytes before the range", step);
        let after = c.offset + c.len();
        let tail = (0..(c.size - after) / 8).find(|&i| {
            let word = (after / 8 + i) as usize;
            // SAFETY: inside the mapping, word-aligned.
            let got = unsafe { (map as *const u64).add(word).read_volatile() };
            got != crate::pattern_word(STALE, word)
        });
        check_eq!(tail, None, "{}: words after the range", step);

        clear_trace()?;
        ok!(urt::buffer_sync(holder, END | READ, c.offset, c.len()));
        ok!(urt::buffer_sync(holder, START | READ, c.offset, c.len()));
        ok!(urt::buffer_sync(holder, END | READ, c.offset, c.len()));
        t.expect("END READ, then START and END READ again", &[])?;
    }

    // SAFETY: nothing references the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    ok!(urt::handle_close(ro));
    ok!(urt::handle_close(h));
    clear_trace()?;
    Ok(())
}

/// The test, in a boot `boot` describes.
pub fn run(boot: crate::Boot) -> TestResult {
    crate::expect_boot(boot)?;
    let coherent = boot.coherent;
    let line = urt::dcache_line_size();
    let (sectors, size) = match urt::blk_info() {
        Ok(v) => v,
        Err(Error::NotSupported) => {
            check!(false, "no virtio-blk device: boot with the capture disk");
            return Ok(());
        }
        Err(e) => {
            check!(false, "blk_info: {:?}", e);
            return Ok(());
        }
    };
    check_eq!(size, SECTOR_SIZE, "sector size");
    check!(
        sectors >= DISK_SECTORS,
        "disk of {} sectors, the capture disk has {}",
        sectors,
        DISK_SECTORS
    );
    urt::println!(
        "test_capture_trace: devices {}, {} sectors",
        if coherent { "coherent" } else { "non-coherent" },
        sectors
    );
    capture(
        &Capture {
            size: 16 * 4096,
            offset: 4096 + 512,
            sector: TEST_SECTOR_BASE + 100,
            count: 20,
        },
        coherent,
        line,
    )?;
    capture(
        &Capture {
            size: FRAME_BYTES.next_multiple_of(4096),
            offset: 0,
            sector: frame_sector(1),
            count: SECTORS_PER_FRAME,
        },
        coherent,
        line,
    )?;
    Ok(())
}
