//! `uci_clean` (the `uci` boot: `dma=noncoherent uci`): the EL0 option of END, through
//! the trace.
//!
//! 1. A buffer created with `USER_CLEAN` says so in `buffer_info`; imported and
//!    presented once, it cleans the creation's zeros.
//! 2. Control: START/END WRITE of `[1000, 3000)` the plain way; the present cleans
//!    exactly those lines.
//! 3. The EL0 path: START WRITE, the task writes and cleans the range itself
//!    (`urt::uclean::clean_dcache_range`: `DC CVAC` at EL0 + `DSB SY`), END WRITE with
//!    `USER_CLEANED`: the END maintains nothing, and the present cleans nothing (the
//!    device reads at once). Same for END RW and for a rectangle.
//! 4. The claim covers only its own END: lines a plain END left dirty stay dirty and the
//!    present still cleans them.
//! 5. The misuse detector still holds: a present while the START WRITE is open is
//!    `Busy`, and passes once the EL0-cleaned END is made.
//! 6. With a legacy uncached mapping of the buffer (a reader no submission announces)
//!    the kernel cleans at END as for any END, claim or not.
//! 7. Errors on this boot: `BadFlags` for a buffer created without `USER_CLEAN` (the
//!    START stays open), for START and END READ with the flag; `InvalidArgument` for
//!    `USER_CLEAN` with `UNCACHED`.

#![no_std]
#![no_main]

use urt::sync::{END, READ, RW, START, USER_CLEANED, WRITE};
use urt::trace::{OP_CLEAN, OP_DEVICE_READ};
use urt::uclean::{clean_dcache_range, end_write_cleaned};
use urt::{format, legacy, policy, prot, Error, Handle, StartArgs};
use utests::{check_eq, clear_trace, expect_err, ok, whole_lines, TestResult, TraceCheck};

const SIZE: u64 = 4 * 4096;
const SIDE: u32 = 64;

/// Present the whole resource; the trace must show `cleaned` then the device read.
fn present(t: &mut TraceCheck, res: Handle, what: &str, cleaned: &[(u64, u64)]) -> TestResult {
    clear_trace()?;
    let fence = ok!(urt::gpu_present(res, 0, 0, SIDE, SIDE), "{}", what);
    let mut want: urt::alloc::vec::Vec<_> =
        cleaned.iter().map(|&(o, l)| (OP_CLEAN, o, l)).collect();
    want.push((OP_DEVICE_READ, 0, SIZE));
    t.expect(what, &want)?;
    ok!(urt::fence_wait(fence, 1_000_000_000));
    Ok(())
}

/// Write a pattern into `[offset, offset + len)` of the mapping at `map`.
fn scribble(map: *mut u8, offset: u64, len: u64, seed: u8) {
    for i in 0..len {
        // SAFETY: inside our live read-write mapping of SIZE bytes (callers stay inside).
        unsafe {
            map.add((offset + i) as usize)
                .write_volatile(seed ^ i as u8)
        };
    }
}

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    // 1.
    let h = ok!(urt::buffer_create(
        SIZE,
        policy::CACHED | policy::USER_CLEAN
    ));
    let info = ok!(urt::buffer_info(h));
    check_eq!(
        info.policy,
        policy::CACHED | policy::USER_CLEAN,
        "buffer_info policy word"
    );
    let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    let mut t = TraceCheck::new(info.id);
    let res = ok!(urt::gpu_import(h, SIDE, SIDE, format::B8G8R8X8));
    present(&mut t, res, "first present", &[(0, SIZE)])?;

    // 2. The plain path.
    ok!(urt::buffer_sync(h, START | WRITE, 1000, 2000));
    scribble(map, 1000, 2000, 1);
    clear_trace()?;
    ok!(urt::buffer_sync(h, END | WRITE, 1000, 2000));
    t.expect("plain END WRITE", &[])?;
    present(
        &mut t,
        res,
        "present after a plain END",
        &[whole_lines(1000, 3000)],
    )?;

    // 3. The EL0 path.
    ok!(urt::buffer_sync(h, START | WRITE, 1000, 2000));
    scribble(map, 1000, 2000, 2);
    clean_dcache_range(map.wrapping_add(1000), 2000);
    clear_trace()?;
    ok!(end_write_cleaned(h, 1000, 2000));
    t.expect("END WRITE, USER_CLEANED", &[])?;
    present(&mut t, res, "present after an EL0-cleaned END", &[])?;
    ok!(urt::buffer_sync(h, START | RW, 0, 0));
    scribble(map, 0, SIZE, 3);
    clean_dcache_range(map, SIZE as usize);
    ok!(urt::buffer_sync(h, END | RW | USER_CLEANED, 0, 0));
    present(&mut t, res, "present after an EL0-cleaned END RW", &[])?;
    let (offset, row, rows, stride) = (256, 512, 8, 2048);
    ok!(urt::buffer_sync_rect(
        h,
        START | WRITE,
        offset,
        row,
        rows,
        stride
    ));
    for r in 0..rows {
        scribble(map, offset + r * stride, row, 4);
        clean_dcache_range(
            map.wrapping_add((offset + r * stride) as usize),
            row as usize,
        );
    }
    ok!(urt::buffer_sync_rect(
        h,
        END | WRITE | USER_CLEANED,
        offset,
        row,
        rows,
        stride
    ));
    present(&mut t, res, "present after an EL0-cleaned rectangle", &[])?;

    // 4. Lines another END left dirty stay dirty.
    ok!(urt::buffer_sync(h, START | WRITE, 0, 4096));
    ok!(urt::buffer_sync(h, END | WRITE, 0, 4096));
    ok!(urt::buffer_sync(h, START | WRITE, 0, 4096));
    clean_dcache_range(map, 4096);
    ok!(end_write_cleaned(h, 0, 4096));
    present(
        &mut t,
        res,
        "present after a plain END then an EL0-cleaned one",
        &[(0, 4096)],
    )?;

    // 5. The misuse detector.
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    expect_err!(
        urt::gpu_present(res, 0, 0, SIDE, SIDE),
        Error::Busy,
        "present while a START WRITE is open"
    );
    clean_dcache_range(map, SIZE as usize);
    ok!(end_write_cleaned(h, 0, 0));
    present(&mut t, res, "present after the EL0-cleaned END", &[])?;

    // 6. A legacy uncached mapping: the kernel cleans at END anyway.
    let fake = ok!(urt::gpu_map_offset(res));
    let nc = ok!(urt::gpu_mmap(fake, 4096, prot::READ, legacy::UNCACHED));
    ok!(urt::buffer_sync(h, START | WRITE, 4096, 4096));
    clean_dcache_range(map.wrapping_add(4096), 4096);
    clear_trace()?;
    ok!(end_write_cleaned(h, 4096, 4096));
    t.expect(
        "EL0-cleaned END with an uncached mapping",
        &[(OP_CLEAN, 4096, 4096)],
    )?;
    // SAFETY: nothing uses the uncached mapping.
    ok!(unsafe { urt::buffer_unmap(nc) });

    // 7. Errors on this boot.
    expect_err!(
        urt::buffer_sync(h, START | WRITE | USER_CLEANED, 0, 0),
        Error::BadFlags,
        "START with USER_CLEANED"
    );
    ok!(urt::buffer_sync(h, START | READ, 0, 0));
    expect_err!(
        urt::buffer_sync(h, END | READ | USER_CLEANED, 0, 0),
        Error::BadFlags,
        "END READ with USER_CLEANED"
    );
    ok!(urt::buffer_sync(h, END | READ, 0, 0));
    let plain = ok!(urt::buffer_create(4096, policy::CACHED));
    ok!(urt::buffer_sync(plain, START | WRITE, 0, 0));
    expect_err!(
        end_write_cleaned(plain, 0, 0),
        Error::BadFlags,
        "USER_CLEANED on a buffer created without USER_CLEAN"
    );
    ok!(urt::buffer_sync(plain, END | WRITE, 0, 0));
    expect_err!(
        urt::buffer_create(4096, policy::UNCACHED | policy::USER_CLEAN),
        Error::InvalidArgument,
        "USER_CLEAN with UNCACHED"
    );

    // SAFETY: nothing references the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    for x in [res, h, plain] {
        ok!(urt::handle_close(x));
    }
    clear_trace()?;
    Ok(())
}

utests::test_main!(test);
