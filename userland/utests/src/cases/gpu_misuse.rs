//! The misuse detector in both modes: presenting a buffer while a task (here another
//! one, so the holder is not the presenter) holds it for CPU write fails with `Busy` in
//! strict mode (the default) and goes through, reported on the console, with
//! `misuse=report`. Either way the present succeeds once the holder ENDs.

use crate::{check_eq, expect_raw, ok, recv_u64, send_u64, TestResult};
use urt::sync::{END, START, WRITE};
use urt::{format, policy, Error, Rights, StartArgs, Sys};

fn call(num: Sys, a: [u64; 6]) -> [u64; 3] {
    // SAFETY: the GPU calls only read their integer arguments; no pointers are passed.
    unsafe { urt::sys::raw_syscall(num as u64, a) }
}

fn child(args: StartArgs) -> TestResult {
    // Holder: START WRITE on the buffer it was given, report, wait, END WRITE.
    let (buf, chan) = (args.handles[0], args.handles[1]);
    ok!(urt::buffer_sync(buf, START | WRITE, 0, 0));
    ok!(send_u64(chan, 1));
    let _ = ok!(recv_u64(chan));
    ok!(urt::buffer_sync(buf, END | WRITE, 0, 0));
    ok!(send_u64(chan, 2));
    Ok(())
}

/// The test, run by program `name` (it spawns itself as the holder) in a boot `boot`
/// describes.
pub fn run(args: StartArgs, boot: crate::Boot, name: &str) -> TestResult {
    if args.count == 2 {
        return child(args);
    }
    crate::expect_boot(boot)?;
    let strict = boot.misuse_strict;
    let buf = ok!(urt::buffer_create(64 * 64 * 4, policy::CACHED));
    let r = call(
        Sys::GpuImport,
        [buf.0 as u64, 64, 64, format::B8G8R8X8, 0, 0],
    );
    check_eq!(r[0], 0, "import");
    let res = r[1];
    let share = ok!(urt::handle_dup(
        buf,
        Rights::MAP_READ.with(Rights::MAP_WRITE).with(Rights::SHARE)
    ));
    let (mine, theirs) = ok!(urt::channel_create());
    let task = ok!(urt::spawn(name, &[share, theirs]));
    check_eq!(ok!(recv_u64(mine)), 1, "holder started");
    let r = call(Sys::GpuPresent, [res, 0, 0, 64, 64, 0]);
    if strict {
        expect_raw!(
            r,
            Error::Busy,
            "present while another task holds CPU write (strict)"
        );
    } else {
        expect_raw!(
            r,
            0,
            "present while another task holds CPU write (report mode)"
        );
    }
    ok!(send_u64(mine, 0));
    check_eq!(ok!(recv_u64(mine)), 2, "holder ended");
    expect_raw!(
        call(Sys::GpuPresent, [res, 0, 0, 64, 64, 0]),
        0,
        "present after END WRITE"
    );
    let (code, how) = ok!(urt::wait(task));
    check_eq!((code, how), (0, urt::ExitHow::Exited), "holder exit");
    Ok(())
}
