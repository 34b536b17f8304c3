//! Rights only shrink through whatever is derived from a handle, and a moved handle
//! takes its START with it.
//!
//! - `gpu_import` gives a resource handle with at most the buffer handle's SHARE,
//!   MAP_READ and MAP_WRITE (plus DEVICE, which the import needs): a holder given the
//!   buffer without MAP_WRITE cannot map it writable through the GPU driver (the legacy
//!   path), one given DEVICE alone cannot map it at all, and one without SHARE cannot
//!   pass the resource on.
//! - Moving the last handle of a buffer with a START WRITE open (over a channel, or to
//!   `spawn`) ends the START as closing it would: the buffer can be presented at once
//!   (before, it stayed `Busy` until the sender exited).

#![no_std]
#![no_main]

use urt::sync::{START, WRITE};
use urt::{format, legacy, policy, prot, Error, ExitHow, Handle, Rights, StartArgs};
use utests::{check, check_eq, expect_err, ok, TestResult};

const SIDE: u32 = 64;
const SIZE: u64 = (SIDE * SIDE * 4) as u64;

fn import(buf: Handle) -> Result<Handle, Error> {
    urt::gpu_import(buf, SIDE, SIDE, format::B8G8R8X8)
}

fn imports() -> TestResult {
    let buf = ok!(urt::buffer_create(SIZE, policy::CACHED));
    // Full rights: the resource maps read-write.
    let res = ok!(import(buf));
    let (_, rights) = ok!(urt::handle_info(res));
    check_eq!(
        rights,
        Rights::SHARE
            .with(Rights::DEVICE)
            .with(Rights::MAP_READ)
            .with(Rights::MAP_WRITE),
        "resource from a full buffer handle"
    );
    ok!(urt::handle_close(res));

    // Read-only holder: the resource is read-only; a writable legacy map is refused.
    let ro = ok!(urt::handle_dup(
        buf,
        Rights::DEVICE.with(Rights::MAP_READ).with(Rights::SHARE)
    ));
    let res = ok!(import(ro));
    check_eq!(
        ok!(urt::handle_info(res)).1,
        Rights::SHARE.with(Rights::DEVICE).with(Rights::MAP_READ),
        "resource from a read-only buffer handle"
    );
    let off = ok!(urt::gpu_map_offset(res));
    for policy in [legacy::FAULT, legacy::UNCACHED] {
        expect_err!(
            urt::gpu_mmap(off, SIZE, prot::READ | prot::WRITE, policy),
            Error::AccessDenied,
            "writable legacy map of a read-only import (policy {})",
            policy
        );
    }
    let p = ok!(urt::gpu_mmap(off, SIZE, prot::READ, legacy::FAULT));
    // SAFETY: just mapped; nothing else refers to it.
    ok!(unsafe { urt::buffer_unmap(p) });
    ok!(urt::handle_close(res));

    // DEVICE alone: presentable, not mappable, not shareable.
    let dev = ok!(urt::handle_dup(buf, Rights::DEVICE));
    let res = ok!(import(dev));
    check_eq!(
        ok!(urt::handle_info(res)).1,
        Rights::DEVICE,
        "resource from a DEVICE-only buffer handle"
    );
    let off = ok!(urt::gpu_map_offset(res));
    expect_err!(
        urt::gpu_mmap(off, SIZE, prot::READ, legacy::FAULT),
        Error::AccessDenied,
        "legacy map of a device-only import"
    );
    expect_err!(
        urt::handle_dup(res, Rights::DEVICE),
        Error::AccessDenied,
        "sharing a resource whose buffer handle had no SHARE"
    );
    let fence = ok!(urt::gpu_present(res, 0, 0, SIDE, SIDE), "present");
    ok!(urt::fence_wait(fence, 1_000_000_000));
    for h in [res, dev, ro, buf] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn moved_start() -> TestResult {
    let buf = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let res = ok!(import(buf));
    // Over a channel: the handle leaves with its START.
    let moving = ok!(urt::handle_dup(
        buf,
        Rights::MAP_READ.with(Rights::MAP_WRITE).with(Rights::SHARE)
    ));
    ok!(urt::handle_close(buf));
    ok!(urt::buffer_sync(moving, START | WRITE, 0, 0));
    expect_err!(
        urt::gpu_present(res, 0, 0, SIDE, SIDE),
        Error::Busy,
        "present while we hold START WRITE"
    );
    let (a, b) = ok!(urt::channel_create());
    ok!(urt::channel_send(a, b"buffer", &[moving]));
    let fence = ok!(
        urt::gpu_present(res, 0, 0, SIDE, SIDE),
        "present once the START WRITE left with the handle"
    );
    ok!(urt::fence_wait(fence, 1_000_000_000));
    // And to spawn: the child gets the handle, our START ends.
    let mut buf8 = [0u8; 8];
    let mut hs = [Handle(0); 1];
    check_eq!(ok!(urt::channel_recv(b, &mut buf8, &mut hs)), (6, 1));
    let again = hs[0];
    ok!(urt::buffer_sync(again, START | WRITE, 0, 0));
    let task = ok!(urt::spawn("h_exit", &[again]));
    let fence = ok!(
        urt::gpu_present(res, 0, 0, SIDE, SIDE),
        "present once the START WRITE left with spawn"
    );
    ok!(urt::fence_wait(fence, 1_000_000_000));
    let (code, how) = ok!(urt::wait(task));
    check!(
        how == ExitHow::Exited && code == utests::H_EXIT_CODE,
        "h_exit ended {:?} {}",
        how,
        code
    );
    for h in [task, a, b, res] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    if urt::gpu_display_info() == Err(Error::NotSupported) {
        urt::println!("test_rights_derived: no GPU; nothing to test");
        return Ok(());
    }
    imports()?;
    moved_start()?;
    Ok(())
}

utests::test_main!(test);
