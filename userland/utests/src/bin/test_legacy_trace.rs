//! The legacy forwarded-mmap path with the FAULT policy, asserted through the trace:
//! first touches fault page by page (invalidate, then map); a present zaps every legacy
//! PTE of the buffer and cleans exactly the pages written since the last present (no
//! more, no fewer) before the device is told to read; the next touches fault and
//! invalidate page by page again, after waiting for the device (the trace shows the
//! wait, for a GPU fence and for a block fence). Needs `dma=noncoherent` and the capture
//! disk.
//! The buffer is presented once before the mapping exists: that present cleans the
//! creation's zeros (the whole buffer, once), so what follows is the legacy path's own.
//! The zap records the written pages as dirty lines of the buffer, and the present
//! cleans those it reads: a written page the device does not read is not cleaned, and
//! its refault cleans and invalidates it.

#![no_std]
#![no_main]

use scene::capture::{test_word, TEST_SECTOR_BASE};
use urt::sync::{END, START, WRITE};
use urt::trace::{
    Entry, OP_CLEAN, OP_CLEAN_INVALIDATE, OP_DEVICE_READ, OP_FAULT, OP_INVALIDATE, OP_ZAP,
};
use urt::{format, legacy, limits::SECTOR, policy, prot, StartArgs};
use utests::{check, check_eq, clear_trace, ok, read_trace, TestResult};

const PAGE: u64 = 4096;
const PAGES: u64 = 8;
const W: u32 = 64;
const H: u32 = (PAGES * PAGE / 4 / W as u64) as u32;

fn trace() -> Result<([Entry; 64], usize), utests::Failed> {
    let mut e = [Entry::default(); 64];
    let n = read_trace(&mut e)?;
    Ok((e, n))
}

/// The trace must be, for each `(page, op)` in order: `op` over exactly that page, then
/// a fault mapping it at `base + page * PAGE`; and nothing else.
fn expect_fault_ops(id: u64, base: u64, faults: &[(u64, u64)]) -> TestResult {
    let (e, n) = trace()?;
    check_eq!(n, faults.len() * 2, "trace entries: {:?}", &e[..n]);
    for (i, &(p, op)) in faults.iter().enumerate() {
        check_eq!(
            (e[2 * i].op, e[2 * i].offset, e[2 * i].len),
            (op, p * PAGE, PAGE),
            "page {} maintenance",
            p
        );
        check_eq!(
            (e[2 * i + 1].op, e[2 * i + 1].buffer, e[2 * i + 1].va),
            (OP_FAULT, id, base + p * PAGE),
            "page {} fault entry",
            p
        );
    }
    Ok(())
}

/// The trace must be, for each page in `pages` in order: an invalidate of exactly that
/// page, then a fault mapping it at `base + page * PAGE`; and nothing else.
fn expect_faults(id: u64, base: u64, pages: &[u64]) -> TestResult {
    let (e, n) = trace()?;
    let e = &e[..n];
    check_eq!(
        n,
        pages.len() * 2,
        "trace entries for faults on pages {:?}: {:?}",
        pages,
        e
    );
    for (i, &p) in pages.iter().enumerate() {
        let (inv, fault) = (e[2 * i], e[2 * i + 1]);
        check!(
            inv.op == OP_INVALIDATE || inv.op == OP_CLEAN_INVALIDATE,
            "page {} fault: first entry {:?} is not an invalidate",
            p,
            inv
        );
        check_eq!(
            (inv.buffer, inv.offset, inv.len),
            (id, p * PAGE, PAGE),
            "page {} invalidate",
            p
        );
        check_eq!(
            (fault.op, fault.buffer, fault.offset, fault.len, fault.va),
            (OP_FAULT, id, p * PAGE, PAGE, base + p * PAGE),
            "page {} fault entry",
            p
        );
    }
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    let buf = ok!(urt::buffer_create(PAGES * PAGE, policy::CACHED));
    let id = ok!(urt::buffer_info(buf)).id;
    let res = ok!(urt::gpu_import(buf, W, H, format::B8G8R8X8));
    ok!(clear_trace());
    let f0 = ok!(urt::gpu_present(res, 0, 0, W, H));
    let (e, n) = trace()?;
    let got: urt::alloc::vec::Vec<_> = e[..n].iter().map(|x| (x.op, x.offset, x.len)).collect();
    let size = PAGES * PAGE;
    check!(
        got == [(OP_CLEAN, 0, size), (OP_DEVICE_READ, 0, size)],
        "first present: the creation's zeros cleaned once, then read: {:?}",
        &e[..n]
    );
    ok!(urt::fence_wait(f0, 1_000_000_000));
    let offset = ok!(urt::gpu_map_offset(res));
    let map = ok!(urt::gpu_mmap(
        offset,
        PAGES * PAGE,
        prot::READ | prot::WRITE,
        legacy::FAULT
    ));
    let base = map as u64;
    let word = |page: u64| (base + page * PAGE) as *mut u64;

    // First touches: writes to pages 1, 3, 4 and a read of page 6, one fault each.
    ok!(clear_trace());
    for p in [1, 3, 4] {
        // SAFETY: inside the RW legacy mapping.
        unsafe { word(p).write_volatile(0x1000 + p) };
    }
    // SAFETY: inside the mapping.
    let v6 = unsafe { word(6).read_volatile() };
    check_eq!(v6, 0, "fresh page reads zero");
    expect_faults(id, base, &[1, 3, 4, 6])?;

    // A present: zap, clean exactly pages 1, 3 and 4, then the device read.
    ok!(clear_trace());
    let fence = ok!(urt::gpu_present(res, 0, 0, W, H));
    let (e, n) = trace()?;
    let e = &e[..n];
    let zap = e.iter().position(|x| x.op == OP_ZAP);
    let read = e.iter().position(|x| x.op == OP_DEVICE_READ);
    check!(
        zap.is_some() && read.is_some(),
        "zap and device read in {:?}",
        e
    );
    let (zap, read) = (zap.unwrap_or(0), read.unwrap_or(0));
    check_eq!(
        (e[zap].buffer, e[zap].offset, e[zap].len, e[zap].va),
        (id, 0, PAGES * PAGE, base),
        "zap entry"
    );
    let mut cleaned = [false; PAGES as usize];
    for x in &e[..read] {
        if x.op == OP_CLEAN {
            check!(
                x.offset % PAGE == 0 && x.len % PAGE == 0,
                "clean {:?} not whole pages",
                x
            );
            for p in x.offset / PAGE..(x.offset + x.len) / PAGE {
                check!(!cleaned[p as usize], "page {} cleaned twice", p);
                cleaned[p as usize] = true;
            }
        }
    }
    let want: [bool; 8] = core::array::from_fn(|p| [1, 3, 4].contains(&p));
    check_eq!(
        cleaned,
        want,
        "pages cleaned before the device read (trace {:?})",
        e
    );
    check!(
        e[..read]
            .iter()
            .all(|x| x.op != OP_INVALIDATE && x.op != OP_CLEAN_INVALIDATE),
        "no invalidate at submission: {:?}",
        e
    );
    check!(
        e.iter()
            .position(|x| x.op == OP_CLEAN)
            .is_none_or(|c| c > zap),
        "cleans come after the zap: {:?}",
        e
    );

    // Next touches fault again, page by page, after the device finished: the first one
    // blocks on the present's fence (on every run: a test kernel blocks a refault once
    // on every fence it meets).
    ok!(clear_trace());
    // SAFETY: inside the mapping.
    let v1 = unsafe { word(1).read_volatile() };
    utests::expect_waited("the refault after a present", &[fence.0])?;
    ok!(
        urt::fence_wait(fence, 0),
        "the refault waited for the device"
    );
    // SAFETY: inside the mapping.
    let v3 = unsafe { word(3).read_volatile() };
    check_eq!((v1, v3), (0x1001, 0x1003), "data survives the hand-over");
    expect_faults(id, base, &[1, 3])?;

    // A device write (a block read into page 2) zaps the legacy PTEs too; the next
    // touch blocks on the block fence before the page is invalidated and mapped again,
    // and reads what the device wrote.
    let sector = TEST_SECTOR_BASE + 3;
    let bf = ok!(urt::blk_read(buf, 2 * PAGE, sector, PAGE / SECTOR));
    ok!(clear_trace());
    // SAFETY: inside the mapping.
    let v2 = unsafe { word(2).read_volatile() };
    utests::expect_waited("the refault after a block read", &[bf.0])?;
    expect_faults(id, base, &[2])?;
    let want = u64::from(test_word(sector, 0)) | u64::from(test_word(sector, 1)) << 32;
    check_eq!(v2, want, "the refault reads the device's bytes");

    // Pages mapped read-only are zapped but not cleaned.
    ok!(clear_trace());
    let f2 = ok!(urt::gpu_present(res, 0, 0, W, H));
    let (e, n) = trace()?;
    check!(
        e[..n].iter().any(|x| x.op == OP_ZAP),
        "zap of the read-only pages: {:?}",
        &e[..n]
    );
    check!(
        e[..n].iter().all(|x| x.op != OP_CLEAN),
        "nothing written, nothing cleaned: {:?}",
        &e[..n]
    );
    ok!(urt::fence_wait(f2, 1_000_000_000));

    // A write to a read-only page upgrades it (no new invalidate) and is cleaned later.
    // SAFETY: inside the mapping.
    let _ = unsafe { word(5).read_volatile() };
    ok!(clear_trace());
    // SAFETY: inside the RW mapping.
    unsafe { word(5).write_volatile(0x55) };
    let (_, n) = trace()?;
    check_eq!(n, 0, "upgrading a read-only page needs no maintenance");
    let f3 = ok!(urt::gpu_present(res, 0, 0, W, H));
    let (e, n) = trace()?;
    let cleans: u64 = e[..n]
        .iter()
        .filter(|x| x.op == OP_CLEAN)
        .map(|x| x.len)
        .sum();
    check_eq!(
        cleans,
        PAGE,
        "only the upgraded page is cleaned: {:?}",
        &e[..n]
    );
    ok!(urt::fence_wait(f3, 1_000_000_000));

    // The direct path ENDs a write into page 2: its lines are dirty, and no device has
    // read them, so nothing cleaned them. A refault of page 2 must clean and invalidate
    // it (a plain invalidate would discard those bytes); page 7 is plainly invalidated.
    let direct = ok!(urt::buffer_map(buf, prot::READ | prot::WRITE));
    ok!(urt::buffer_sync(buf, START | WRITE, 2 * PAGE + 100, 50));
    // SAFETY: inside the direct mapping, under START WRITE.
    unsafe { (direct.add(2 * PAGE as usize + 104) as *mut u32).write_volatile(0xd1ec7) };
    ok!(urt::buffer_sync(buf, END | WRITE, 2 * PAGE + 100, 50));
    ok!(clear_trace());
    // SAFETY: inside the legacy mapping.
    let (v2, _) = unsafe {
        (
            ((base + 2 * PAGE + 104) as *const u32).read_volatile(),
            word(7).read_volatile(),
        )
    };
    check_eq!(
        v2,
        0xd1ec7,
        "the direct path's bytes through the legacy mapping"
    );
    expect_fault_ops(id, base, &[(2, OP_CLEAN_INVALIDATE), (7, OP_INVALIDATE)])?;
    // SAFETY: nothing uses the direct mapping any more.
    ok!(unsafe { urt::buffer_unmap(direct) });

    // Writes to pages 1 and 6, then a present that reads page 1 only (rows 16..32): the
    // zap records both written pages as dirty, the present cleans what the device reads
    // (page 1) and nothing else; page 6 stays dirty, so its refault cleans and
    // invalidates it.
    for p in [1, 6] {
        // SAFETY: inside the RW legacy mapping.
        unsafe { word(p).write_volatile(0x600 + p) };
    }
    ok!(clear_trace());
    let rows = (PAGE / (u64::from(W) * 4)) as u32;
    let f4 = ok!(urt::gpu_present(res, 0, rows, W, rows));
    let (e, n) = trace()?;
    let got: urt::alloc::vec::Vec<_> = e[..n].iter().map(|x| (x.op, x.offset, x.len)).collect();
    check!(
        got == [
            (OP_ZAP, 0, PAGES * PAGE),
            (OP_CLEAN, PAGE, PAGE),
            (OP_DEVICE_READ, PAGE, PAGE)
        ],
        "present of page 1 after writes to pages 1 and 6: {:?}",
        &e[..n]
    );
    ok!(urt::fence_wait(f4, 1_000_000_000));
    ok!(clear_trace());
    // SAFETY: inside the mapping.
    let v6 = unsafe { word(6).read_volatile() };
    check_eq!(v6, 0x606, "page 6's write survives");
    expect_fault_ops(id, base, &[(6, OP_CLEAN_INVALIDATE)])?;
    // SAFETY: the mapping came from gpu_mmap and nothing uses it any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    Ok(())
}

utests::test_main!(test);
