//! When a task is killed its handles are closed: a helper holding channel ends faults,
//! and the parent's blocked `recv` on the other end returns `PeerClosed`; handles sitting
//! in messages nobody can receive any more are closed once the last end goes.

#![no_std]
#![no_main]

use urt::{Error, ExitHow, Handle, StartArgs, Stat};
use utests::{check, check_eq, expect_err, fault, ok, send_u64, TestResult};

fn test(_args: StartArgs) -> TestResult {
    let free0 = ok!(urt::stats(Stat::FreeFrames));
    let (a, b) = ok!(urt::channel_create());
    let (c, d) = ok!(urt::channel_create());
    let (e, f) = ok!(urt::channel_create());
    // h_fault takes the first message (its mode) and faults; the second, carrying e,
    // is never received.
    ok!(send_u64(a, fault::READ_NULL));
    ok!(urt::channel_send(a, b"carry", &[e]));
    let task = ok!(urt::spawn("h_fault", &[b, d]));

    let mut buf = [0u8; 16];
    let mut hs = [Handle(0); 1];
    // Blocks until the helper dies (or returns at once if it already has).
    expect_err!(
        urt::channel_recv(a, &mut buf, &mut hs),
        Error::PeerClosed,
        "recv on a"
    );
    expect_err!(
        urt::channel_recv(c, &mut buf, &mut hs),
        Error::PeerClosed,
        "recv on c"
    );
    expect_err!(
        urt::channel_send(a, b"x", &[]),
        Error::PeerClosed,
        "send on a"
    );
    expect_err!(
        urt::channel_send(c, b"x", &[]),
        Error::PeerClosed,
        "send on c"
    );

    let (code, how) = ok!(urt::wait(task));
    check!(
        how == ExitHow::Killed,
        "helper ended {:?} code {:#x}, expected Killed",
        how,
        code
    );
    check_eq!(code, 0x24, "EC of a null read");
    ok!(urt::handle_close(task));

    // The message holding e sat in b's queue; once a (the last end) goes, e is closed.
    ok!(urt::handle_close(a));
    expect_err!(
        urt::channel_recv(f, &mut buf, &mut hs),
        Error::PeerClosed,
        "recv on f"
    );

    for h in [c, f] {
        ok!(urt::handle_close(h));
    }
    check_eq!(
        ok!(utests::free_frames_settled(free0)),
        free0,
        "free frames at the end"
    );
    Ok(())
}

utests::test_main!(test);
