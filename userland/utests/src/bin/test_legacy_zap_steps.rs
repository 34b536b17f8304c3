//! The legacy hand-over in bounded steps, at scale: a 1920x1080 buffer mapped through the
//! GPU driver (FAULT policy) has every one of its 2,025 pages written (one fault each),
//! then presented whole. The zap takes many bounded steps; afterwards every page must be
//! unmapped (re-reading the frame faults exactly once per page, and finds every value
//! written), and every written page must have been cleaned before the device read (the
//! present cleans all 129,600 lines: the kernel's counters). Then the same with the odd
//! pages only (1,012 runs of one page, more than the buffer's dirty set holds: it merges
//! them, so the present cleans at least every odd page and at most the frame).
//! Needs `dma=noncoherent`.

#![no_std]
#![no_main]

use urt::{format, legacy, policy, prot, Counters, StartArgs};
use utests::{check, check_eq, ok, TestResult};

const W: u32 = 1920;
const H: u32 = 1080;
const PAGE: u64 = 4096;
const PAGES: u64 = (W as u64 * H as u64 * 4) / PAGE;

fn counters() -> Result<Counters, utests::Failed> {
    Ok(ok!(urt::counters()))
}

/// Write `tag ^ page` into the first word of every page that `pick` selects.
fn write(map: *mut u8, tag: u64, pick: impl Fn(u64) -> bool) {
    for p in (0..PAGES).filter(|&p| pick(p)) {
        // SAFETY: inside the RW legacy mapping of PAGES pages.
        unsafe { (map.add((p * PAGE) as usize) as *mut u64).write_volatile(tag ^ p) };
    }
}

/// Read every page's first word; the pages `pick` selects must hold `tag ^ page`.
fn read(map: *mut u8, tag: u64, pick: impl Fn(u64) -> bool) -> TestResult {
    for p in 0..PAGES {
        // SAFETY: inside the mapping.
        let v = unsafe { (map.add((p * PAGE) as usize) as *const u64).read_volatile() };
        if pick(p) {
            check_eq!(v, tag ^ p, "page {}", p);
        }
    }
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    let buf = ok!(urt::buffer_create(PAGES * PAGE, policy::CACHED));
    let res = ok!(urt::gpu_import(buf, W, H, format::B8G8R8X8));
    let fake = ok!(urt::gpu_map_offset(res));
    let map = ok!(urt::gpu_mmap(
        fake,
        PAGES * PAGE,
        prot::READ | prot::WRITE,
        legacy::FAULT
    ));

    // Every page written, then the whole frame presented.
    write(map, 0xabc0_0000, |_| true);
    let c0 = counters()?;
    let f = ok!(urt::gpu_present(res, 0, 0, W, H));
    let c1 = counters()?;
    ok!(urt::fence_wait(f, 5_000_000_000));
    check_eq!(
        c1.lines_cleaned - c0.lines_cleaned,
        PAGES * 64,
        "lines cleaned by the present"
    );
    check!(
        c1.zaps - c0.zaps > 1,
        "a zap of {} pages in one step: {} zaps",
        PAGES,
        c1.zaps - c0.zaps
    );
    read(map, 0xabc0_0000, |_| true)?;
    let c2 = counters()?;
    check_eq!(
        c2.faults - c1.faults,
        PAGES,
        "one fault per page after the zap"
    );

    // The odd pages written (runs of one page), the whole frame presented.
    write(map, 0xdef0_0000, |p| p % 2 == 1);
    let c3 = counters()?;
    let f = ok!(urt::gpu_present(res, 0, 0, W, H));
    let c4 = counters()?;
    ok!(urt::fence_wait(f, 5_000_000_000));
    let cleaned = c4.lines_cleaned - c3.lines_cleaned;
    let odd = PAGES / 2;
    check!(
        (odd * 64..=PAGES * 64).contains(&cleaned),
        "lines cleaned for {} odd pages: {}",
        odd,
        cleaned
    );
    read(map, 0xdef0_0000, |p| p % 2 == 1)?;
    read(map, 0xabc0_0000, |p| p % 2 == 0)?;
    let c5 = counters()?;
    check_eq!(
        c5.faults - c4.faults,
        PAGES,
        "one fault per page after the zap"
    );
    // SAFETY: nothing uses the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    ok!(urt::handle_close(res));
    ok!(urt::handle_close(buf));
    Ok(())
}

utests::test_main!(test);
