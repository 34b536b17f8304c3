//! The kernel never copies to or from user memory mapped non-cacheable: it copies
//! through its cacheable linear map, whose lines would then shadow the non-cacheable
//! mapping (on hardware, silent corruption). Such a pointer is `BadAddress`, and the
//! call changes nothing: a message `channel_recv` could not deliver stays queued.
//! Covered: a direct mapping of an uncached buffer, and a legacy UNCACHED mapping, as
//! the destination of `channel_recv` and `counters`, and as the source of
//! `log` and `channel_send`; a cached mapping of the same kind works.

#![no_std]
#![no_main]

use urt::{format, legacy, policy, prot, Error, Handle, StartArgs, Sys};
use utests::{check, check_eq, expect_err, expect_raw, ok, TestResult};

const SIZE: u64 = 64 * 64 * 4;

fn call(num: Sys, a: [u64; 6]) -> [u64; 3] {
    // SAFETY: each call below writes at most 64 bytes into the mapping passed, which is
    // ours, mapped read-write, and referred to by nothing else.
    unsafe { urt::sys::raw_syscall(num as u64, a) }
}

/// Every copy in and out of `p` (a writable mapping of at least 4 KiB): refused if
/// `uncached`, done otherwise.
fn copies(p: *mut u8, uncached: bool, what: &str) -> TestResult {
    let at = p as u64;
    let (a, b) = ok!(urt::channel_create());
    ok!(urt::channel_send(a, b"hello", &[]));
    let r = call(Sys::ChannelRecv, [b.0 as u64, at, 64, 0, 0, 0]);
    // SAFETY: the mapping is ours and at least 4 KiB long.
    let got = unsafe { core::slice::from_raw_parts(p, 5) };
    let received = got == b"hello";
    let cnt = call(Sys::Counters, [at, 0, 0, 0, 0, 0]);
    let log = call(Sys::Log, [at, 8, 0, 0, 0, 0]);
    let send = call(Sys::ChannelSend, [a.0 as u64, at, 8, 0, 0, 0]);
    if uncached {
        expect_raw!(r, Error::BadAddress, "channel_recv into {}", what);
        expect_raw!(cnt, Error::BadAddress, "counters into {}", what);
        expect_raw!(log, Error::BadAddress, "log from {}", what);
        expect_raw!(send, Error::BadAddress, "channel_send from {}", what);
        // The message was not consumed.
        let mut buf = [0u8; 8];
        check_eq!(
            ok!(urt::channel_recv(b, &mut buf, &mut [])),
            (5, 0),
            "the message stayed queued"
        );
        check_eq!(&buf[..5], b"hello");
    } else {
        expect_raw!(r, 0, "channel_recv into {}", what);
        check!(received, "the message arrived in {}", what);
        expect_raw!(cnt, 0, "counters into {}", what);
        expect_raw!(log, 0, "log from {}", what);
        expect_raw!(send, 0, "channel_send from {}", what);
    }
    ok!(urt::handle_close(a));
    ok!(urt::handle_close(b));
    Ok(())
}

fn direct(policy: u64) -> TestResult {
    let h = ok!(urt::buffer_create(SIZE, policy));
    let p = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    copies(p, policy == policy::UNCACHED, "a direct mapping")?;
    // SAFETY: nothing refers to the mapping any more.
    ok!(unsafe { urt::buffer_unmap(p) });
    ok!(urt::handle_close(h));
    Ok(())
}

fn forwarded(h: Handle) -> TestResult {
    let res = ok!(urt::gpu_import(h, 64, 64, format::B8G8R8X8));
    let off = ok!(urt::gpu_map_offset(res));
    for (pol, uncached) in [(legacy::UNCACHED, true), (legacy::FAULT, false)] {
        let p = ok!(urt::gpu_mmap(off, SIZE, prot::READ | prot::WRITE, pol));
        // Fault the first page in (the fault policy maps on demand).
        // SAFETY: the mapping is ours and writable.
        unsafe { p.write_volatile(1) };
        copies(p, uncached, "a legacy mapping")?;
        // SAFETY: nothing refers to the mapping any more.
        ok!(unsafe { urt::buffer_unmap(p) });
    }
    ok!(urt::handle_close(res));
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    direct(policy::UNCACHED)?;
    direct(policy::CACHED)?;
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    match urt::gpu_display_info() {
        Err(Error::NotSupported) => {}
        _ => forwarded(h)?,
    }
    ok!(urt::handle_close(h));
    expect_err!(
        urt::buffer_create(0, policy::UNCACHED),
        Error::InvalidArgument,
        "sanity"
    );
    Ok(())
}

utests::test_main!(test);
