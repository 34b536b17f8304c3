//! Direct and legacy mappings of one buffer at once, one task on each path. The legacy
//! task (a helper started with the resource) writes page 0 through its forwarded
//! mapping; a present hands the buffer over (zap + clean); the direct task then sees the
//! bytes under START READ. The direct task writes page 1 under START/END WRITE; the
//! legacy task's next touch of page 1 faults, invalidates and sees them. Then the legacy
//! task writes page 2 and, with no present in between, the direct task's START READ of
//! page 2 maintains nothing (as the trace shows): the legacy writes are dirty lines in
//! the CPU's cache, not stale ones, so there is nothing to invalidate, and an invalidate
//! would discard them; the direct task sees them. Last, the block device writes page 2
//! (its lines are stale for the CPU now), the legacy task refaults and writes it again,
//! and the direct task's START READ of page 2 must invalidate the stale lines without
//! discarding the legacy writes, which no END will clean and no submission has recorded:
//! it cleans and invalidates (DC CIVAC, the legacy-aware upgrade of the planned DC IVAC,
//! as the trace shows) and sees both the device's bytes and the legacy writer's word.

#![no_std]
#![no_main]

use urt::sync::{END, READ, START, WRITE};
use urt::trace::OP_CLEAN_INVALIDATE;
use urt::{format, legacy, policy, prot, StartArgs};
use utests::{check_eq, ok, recv_u64, send_u64, TestResult};

const PAGE: u64 = 4096;
const SIZE: u64 = 4 * PAGE;

fn legacy_side(res: urt::Handle, ch: urt::Handle) -> TestResult {
    let off = ok!(urt::gpu_map_offset(res));
    let m = ok!(urt::gpu_mmap(
        off,
        SIZE,
        prot::READ | prot::WRITE,
        legacy::FAULT
    )) as *mut u64;
    // SAFETY: inside the RW legacy mapping.
    unsafe { m.write_volatile(0xA0A0) };
    let f = ok!(urt::gpu_present(res, 0, 0, 32, 32));
    ok!(urt::fence_wait(f, 1_000_000_000));
    ok!(send_u64(ch, 1));
    check_eq!(ok!(recv_u64(ch)), 2, "direct side wrote page 1");
    // SAFETY: inside the mapping (page 1).
    let v = unsafe { m.add((PAGE / 8) as usize).read_volatile() };
    check_eq!(v, 0xB1B1, "legacy side sees the direct writer's page");
    // SAFETY: inside the mapping (page 2).
    unsafe { m.add((2 * PAGE / 8) as usize).write_volatile(0xC2C2) };
    ok!(send_u64(ch, 3));
    check_eq!(ok!(recv_u64(ch)), 4, "the device wrote page 2");
    // SAFETY: inside the mapping (page 2): refaults after the device write.
    unsafe { m.add((2 * PAGE / 8) as usize).write_volatile(0xD2D2) };
    ok!(send_u64(ch, 5));
    check_eq!(ok!(recv_u64(ch)), 6, "direct side read page 2 again");
    Ok(())
}

fn test(args: StartArgs) -> TestResult {
    if args.count == 2 {
        return legacy_side(args.handles[0], args.handles[1]);
    }
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    let buf = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let res = ok!(urt::gpu_import(buf, 32, 32, format::B8G8R8X8));
    let direct = ok!(urt::buffer_map(buf, prot::READ | prot::WRITE)) as *mut u64;
    let (mine, theirs) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("test_legacy_coexist", &[res, theirs]));
    check_eq!(ok!(recv_u64(mine)), 1, "legacy side wrote page 0");
    ok!(urt::buffer_sync(buf, START | READ, 0, PAGE));
    // SAFETY: inside the direct mapping.
    let v = unsafe { direct.read_volatile() };
    ok!(urt::buffer_sync(buf, END | READ, 0, PAGE));
    check_eq!(v, 0xA0A0, "direct side sees the legacy writer's page");
    ok!(urt::buffer_sync(buf, START | WRITE, PAGE, PAGE));
    // SAFETY: inside the direct mapping (page 1).
    unsafe { direct.add((PAGE / 8) as usize).write_volatile(0xB1B1) };
    ok!(urt::buffer_sync(buf, END | WRITE, PAGE, PAGE));
    ok!(send_u64(mine, 2));
    check_eq!(ok!(recv_u64(mine)), 3, "legacy side wrote page 2");
    let id = ok!(urt::buffer_info(buf)).id;
    utests::clear_trace()?;
    ok!(urt::buffer_sync(buf, START | READ, 2 * PAGE, PAGE));
    utests::TraceCheck::new(id).expect("START READ of a page a legacy mapping wrote", &[])?;
    // SAFETY: inside the direct mapping (page 2).
    let v = unsafe { direct.add((2 * PAGE / 8) as usize).read_volatile() };
    ok!(urt::buffer_sync(buf, END | READ, 2 * PAGE, PAGE));
    check_eq!(v, 0xC2C2, "direct side sees the legacy writer's page 2");
    // The device writes page 2 (the submission zaps the legacy mapping and cleans the
    // legacy writes first).
    let fence = ok!(urt::blk_read(
        buf,
        2 * PAGE,
        scene::capture::TEST_SECTOR_BASE,
        8
    ));
    ok!(urt::fence_wait(fence, 5_000_000_000));
    ok!(send_u64(mine, 4));
    check_eq!(ok!(recv_u64(mine)), 5, "legacy side wrote page 2 again");
    utests::clear_trace()?;
    ok!(urt::buffer_sync(buf, START | READ, 2 * PAGE, PAGE));
    utests::TraceCheck::new(id).expect(
        "START READ of stale lines a legacy mapping wrote",
        &[(OP_CLEAN_INVALIDATE, 2 * PAGE, PAGE)],
    )?;
    // SAFETY: inside the direct mapping (page 2).
    let (v, device) = unsafe {
        let p = direct.add((2 * PAGE / 8) as usize);
        (p.read_volatile(), p.add(1).read_volatile())
    };
    ok!(urt::buffer_sync(buf, END | READ, 2 * PAGE, PAGE));
    check_eq!(v, 0xD2D2, "direct side sees the legacy writer's word");
    let mut sector = [0u8; 512];
    scene::capture::fill_test_sector(scene::capture::TEST_SECTOR_BASE, &mut sector);
    let want = u64::from_le_bytes(sector[8..16].try_into().unwrap_or_default());
    check_eq!(device, want, "direct side sees the device's bytes");
    ok!(send_u64(mine, 6));
    let (code, how) = ok!(urt::wait(task));
    check_eq!((code, how), (0, urt::ExitHow::Exited), "legacy side exit");
    Ok(())
}

utests::test_main!(test);
