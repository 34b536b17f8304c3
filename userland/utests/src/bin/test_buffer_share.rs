//! A buffer shared between two tasks, and its lifetime.
//!
//! The producer writes a pattern into a cached buffer under START WRITE / END WRITE
//! through its direct mapping, duplicates the handle read-only (`MAP_READ | SHARE`) and
//! passes it to `h_buffer_consumer` with a channel end. The consumer checks that it can
//! neither map writable nor START WRITE/RW, maps read-only, verifies the whole pattern
//! under START READ / END READ and reports; the producer checks the report and the
//! consumer's exit.
//!
//! Lifetime: after the producer closes its last handle, its mapping keeps the pages
//! (still counted as used, data still readable); unmapping frees them (the free frame
//! count returns to where it was before the buffer was created, allowing a few ticks).

#![no_std]
#![no_main]

use urt::sync::{END, START, WRITE};
use urt::{policy, prot, Error, ExitHow, ObjectKind, Rights, StartArgs, Stat};
use utests::{check, check_eq, expect_err, ok, TestResult};

const PAGES: u64 = 5;
const SIZE: u64 = PAGES * 4096;
const SEED: u64 = 0x5eed_0fb0_ff00_1234;

fn test(_args: StartArgs) -> TestResult {
    // Warm up: any page tables the first mapping needs stay, so the free frame count
    // below measures the buffer alone.
    let w = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let wm = ok!(urt::buffer_map(w, prot::READ | prot::WRITE));
    // SAFETY: nothing references the mapping.
    ok!(unsafe { urt::buffer_unmap(wm) });
    ok!(urt::handle_close(w));
    let free0 = ok!(urt::stats(Stat::FreeFrames));

    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    check_eq!(
        ok!(urt::handle_info(h)),
        (
            ObjectKind::Buffer,
            Rights::MAP_READ
                .with(Rights::MAP_WRITE)
                .with(Rights::SHARE)
                .with(Rights::DEVICE)
                .with(Rights::DEVICE_WRITE)
        ),
        "new buffer handle"
    );
    let info = ok!(urt::buffer_info(h));
    check_eq!(info.size, SIZE, "size");
    check_eq!(info.policy, policy::CACHED, "policy");
    let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: `map` is our live read-write mapping of SIZE bytes; nothing references it.
    unsafe { utests::write_pattern(map, SIZE as usize, SEED) };
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    let in_use = ok!(urt::stats(Stat::FreeFrames));
    check!(
        in_use + PAGES <= free0,
        "free frames {} with the buffer, {} before: its {} pages are not accounted",
        in_use,
        free0,
        PAGES
    );

    let ro = ok!(urt::handle_dup(h, Rights::MAP_READ.with(Rights::SHARE)));
    check_eq!(
        ok!(urt::handle_info(ro)),
        (ObjectKind::Buffer, Rights::MAP_READ.with(Rights::SHARE)),
        "read-only duplicate"
    );
    let (mine, theirs) = ok!(urt::channel_create());
    ok!(utests::send_u64(mine, SEED));
    let task = ok!(urt::spawn("h_buffer_consumer", &[ro, theirs]));
    expect_err!(
        urt::handle_info(ro),
        Error::BadHandle,
        "passed handle moved"
    );
    let mut report = [0u64; 4];
    let n = ok!(utests::recv_u64s(mine, &mut report), "consumer report");
    check_eq!(n, 4, "words in the report");
    check_eq!(
        report,
        [0, SIZE, info.id, u64::MAX],
        "consumer report [status, size, id, first bad offset]"
    );
    let (code, how) = ok!(urt::wait(task));
    check!(
        how == ExitHow::Exited && code == 0,
        "consumer ended {:?} code {:#x}",
        how,
        code
    );
    ok!(urt::handle_close(task));
    ok!(urt::handle_close(mine));

    // Close the last handle: the mapping keeps the pages.
    ok!(urt::handle_close(h));
    expect_err!(urt::buffer_info(h), Error::BadHandle, "closed handle");
    let held = ok!(urt::stats(Stat::FreeFrames));
    check!(
        held + PAGES <= free0,
        "after closing the last handle: {} free frames, {} before the buffer; its {} pages \
         must still be in use",
        held,
        free0,
        PAGES
    );
    // SAFETY: `map` is still our live mapping of SIZE bytes.
    let bad = unsafe { utests::find_mismatch(map, SIZE as usize, SEED) };
    check_eq!(
        bad,
        None,
        "data through the mapping after closing the handle"
    );
    // SAFETY: as above; still read-write.
    let bad = unsafe {
        utests::write_pattern(map, SIZE as usize, !SEED);
        utests::find_mismatch(map, SIZE as usize, !SEED)
    };
    check_eq!(
        bad,
        None,
        "writing through the mapping after closing the handle"
    );

    // Unmapping frees them.
    // SAFETY: nothing references the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    // SAFETY: the call must fail; `map` is no longer a mapping.
    expect_err!(
        unsafe { urt::buffer_unmap(map) },
        Error::InvalidArgument,
        "unmapping twice"
    );
    let free1 = ok!(utests::free_frames_settled(free0));
    urt::println!(
        "test_buffer_share: free frames {} before, {} with the buffer, {} mapped only, {} after",
        free0,
        in_use,
        held,
        free1
    );
    check_eq!(free1, free0, "free frames after the last unmap");
    Ok(())
}

utests::test_main!(test);
