//! The documented errors of the legacy path: `gpu_map_offset` on something that is not a
//! resource, and `gpu_mmap` of an offset the caller holds no resource for (never made,
//! or released), beyond the resource's size, misaligned, empty, with bad prot or policy,
//! or writable through a handle without `MAP_WRITE`. Also the UNCACHED policy: mapped
//! whole at once, never faults, never zapped or cleaned.

#![no_std]
#![no_main]

use urt::trace::{Entry, OP_CLEAN, OP_FAULT, OP_ZAP};
use urt::{format, legacy, policy, prot, Error, Rights, StartArgs};
use utests::{check, check_eq, clear_trace, expect_err, ok, read_trace, TestResult};

const PAGE: u64 = 4096;
const SIZE: u64 = 4 * PAGE;

fn test(_args: StartArgs) -> TestResult {
    let buf = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let res = ok!(urt::gpu_import(buf, 64, 64, format::B8G8R8X8));
    let off = ok!(urt::gpu_map_offset(res));
    check!(off % PAGE == 0 && off != 0, "offset {:#x}", off);
    let rw = prot::READ | prot::WRITE;

    expect_err!(
        urt::gpu_map_offset(buf),
        Error::WrongType,
        "map_offset of a buffer"
    );
    expect_err!(
        urt::gpu_map_offset(urt::Handle(0x7777)),
        Error::BadHandle,
        "forged handle"
    );
    expect_err!(
        urt::gpu_mmap(off + 1, PAGE, rw, legacy::FAULT),
        Error::InvalidArgument,
        "misaligned"
    );
    expect_err!(
        urt::gpu_mmap(off, 0, rw, legacy::FAULT),
        Error::InvalidArgument,
        "len 0"
    );
    expect_err!(
        urt::gpu_mmap(off, PAGE, 0, legacy::FAULT),
        Error::InvalidArgument,
        "prot 0"
    );
    expect_err!(
        urt::gpu_mmap(off, PAGE, 4, legacy::FAULT),
        Error::InvalidArgument,
        "prot 4"
    );
    expect_err!(
        urt::gpu_mmap(off, PAGE, rw, 2),
        Error::InvalidArgument,
        "policy 2"
    );
    expect_err!(
        urt::gpu_mmap(off, SIZE + PAGE, rw, legacy::FAULT),
        Error::OutOfRange,
        "beyond the size"
    );
    expect_err!(
        urt::gpu_mmap(off + 3 * PAGE, 2 * PAGE, rw, legacy::FAULT),
        Error::OutOfRange,
        "tail beyond"
    );
    expect_err!(
        urt::gpu_mmap(off + SIZE, PAGE, rw, legacy::FAULT),
        Error::NotFound,
        "just past the resource"
    );
    expect_err!(
        urt::gpu_mmap(PAGE, PAGE, rw, legacy::FAULT),
        Error::NotFound,
        "an offset nobody owns"
    );
    let ro = ok!(urt::handle_dup(res, Rights::MAP_READ.with(Rights::SHARE)));
    ok!(urt::handle_close(res));
    expect_err!(
        urt::gpu_mmap(off, PAGE, rw, legacy::FAULT),
        Error::AccessDenied,
        "writable without MAP_WRITE"
    );
    let m = ok!(
        urt::gpu_mmap(off + PAGE, PAGE, prot::READ, legacy::FAULT),
        "read-only through the duplicate"
    );
    // SAFETY: inside the read-only mapping.
    check_eq!(
        unsafe { (m as *const u64).read_volatile() },
        0,
        "reads zero"
    );
    // SAFETY: from gpu_mmap, unused afterwards.
    ok!(unsafe { urt::buffer_unmap(m) });
    ok!(urt::handle_close(ro));
    expect_err!(
        urt::gpu_mmap(off, PAGE, rw, legacy::FAULT),
        Error::NotFound,
        "released resource"
    );

    // UNCACHED: whole mapping at once, no faults, present does no zap and no clean.
    let res = ok!(urt::gpu_import(buf, 64, 64, format::B8G8R8X8));
    let off = ok!(urt::gpu_map_offset(res));
    let m = ok!(urt::gpu_mmap(off, SIZE, rw, legacy::UNCACHED)) as *mut u64;
    ok!(clear_trace());
    for p in 0..SIZE / PAGE {
        // SAFETY: inside the RW mapping.
        unsafe { m.add((p * PAGE / 8) as usize).write_volatile(p + 1) };
    }
    let f = ok!(urt::gpu_present(res, 0, 0, 64, 64));
    ok!(urt::fence_wait(f, 1_000_000_000));
    let mut e = [Entry::default(); 16];
    let n = read_trace(&mut e)?;
    check!(
        e[..n]
            .iter()
            .all(|x| x.op != OP_FAULT && x.op != OP_ZAP && x.op != OP_CLEAN),
        "uncached legacy mapping maintained: {:?}",
        &e[..n]
    );
    // SAFETY: inside the mapping.
    check_eq!(
        unsafe { m.add((3 * PAGE / 8) as usize).read_volatile() },
        4,
        "data"
    );
    // SAFETY: from gpu_mmap, unused afterwards.
    ok!(unsafe { urt::buffer_unmap(m as *mut u8) });
    Ok(())
}

utests::test_main!(test);
