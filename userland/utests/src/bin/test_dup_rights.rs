//! A duplicated handle with fewer rights cannot do what was removed, and rights never
//! grow (dup, send or spawn).

#![no_std]
#![no_main]

use urt::{Error, ExitHow, Handle, ObjectKind, Rights, StartArgs};
use utests::{check, check_eq, expect_err, ok, TestResult};

const SHARE: Rights = Rights::SHARE;
const WAIT: Rights = Rights::WAIT;
const SEND: Rights = Rights::SEND;
const RECV: Rights = Rights::RECV;

fn rights(h: Handle) -> Result<Rights, utests::Failed> {
    let (_, r) = ok!(urt::handle_info(h), "handle_info {:#x}", h.0);
    Ok(r)
}

fn test(_args: StartArgs) -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    let mut buf = [0u8; 16];

    // Without SEND: send is denied, receive still works.
    let no_send = ok!(urt::handle_dup(a, RECV.with(SHARE)));
    check_eq!(
        ok!(urt::handle_info(no_send)),
        (ObjectKind::Channel, RECV.with(SHARE))
    );
    expect_err!(
        urt::channel_send(no_send, b"x", &[]),
        Error::AccessDenied,
        "send without SEND"
    );
    ok!(urt::channel_send(b, b"to a", &[]));
    check_eq!(
        ok!(urt::channel_recv(no_send, &mut buf, &mut [])),
        (4, 0),
        "recv with RECV"
    );

    // Without RECV: receive is denied (and does not block), send still works.
    let no_recv = ok!(urt::handle_dup(a, SEND.with(SHARE)));
    ok!(urt::channel_send(b, b"queued", &[]));
    expect_err!(
        urt::channel_recv(no_recv, &mut buf, &mut []),
        Error::AccessDenied,
        "recv without RECV"
    );
    ok!(urt::channel_send(no_recv, b"to b", &[]), "send with SEND");
    check_eq!(ok!(urt::channel_recv(b, &mut buf, &mut [])), (4, 0));
    // The denied recv consumed nothing.
    check_eq!(
        ok!(urt::channel_recv(a, &mut buf, &mut [])),
        (6, 0),
        "message still queued"
    );

    // Without SHARE: no dup (not even with fewer rights), no send, no spawn.
    let no_share = ok!(urt::handle_dup(a, SEND.with(RECV)));
    expect_err!(
        urt::handle_dup(no_share, SEND),
        Error::AccessDenied,
        "dup without SHARE"
    );
    expect_err!(
        urt::handle_dup(no_share, Rights::NONE),
        Error::AccessDenied,
        "dup to NONE"
    );
    expect_err!(
        urt::channel_send(b, b"h", &[no_share]),
        Error::AccessDenied,
        "send it"
    );
    expect_err!(
        urt::spawn("h_exit", &[no_share]),
        Error::AccessDenied,
        "spawn with it"
    );
    // Still ours and still usable for what it has.
    check_eq!(rights(no_share)?, SEND.with(RECV));
    ok!(urt::channel_send(no_share, b"ok", &[]));
    check_eq!(ok!(urt::channel_recv(b, &mut buf, &mut [])), (2, 0));

    // Rights never grow: from a reduced handle, from a full one with an extra bit.
    expect_err!(
        urt::handle_dup(no_send, SEND.with(SHARE)),
        Error::AccessDenied,
        "add SEND"
    );
    expect_err!(
        urt::handle_dup(a, WAIT),
        Error::AccessDenied,
        "WAIT on a channel end"
    );
    expect_err!(
        urt::handle_dup(a, Rights::ALL),
        Error::AccessDenied,
        "ALL on a channel end"
    );
    // Equal rights are fine; so are none at all.
    let same = ok!(urt::handle_dup(a, SEND.with(RECV).with(SHARE)));
    check_eq!(rights(same)?, rights(a)?);
    let none = ok!(urt::handle_dup(a, Rights::NONE));
    check_eq!(
        ok!(urt::handle_info(none)),
        (ObjectKind::Channel, Rights::NONE)
    );
    expect_err!(urt::channel_send(none, b"x", &[]), Error::AccessDenied);
    expect_err!(
        urt::channel_recv(none, &mut buf, &mut []),
        Error::AccessDenied
    );
    expect_err!(urt::handle_dup(none, Rights::NONE), Error::AccessDenied);

    // A reduced handle sent over a channel arrives reduced, and cannot be raised there.
    // (Over another channel: an end never travels over its own channel.)
    let (c, d) = ok!(urt::channel_create());
    let send_only = ok!(urt::handle_dup(a, SEND.with(SHARE)));
    ok!(urt::channel_send(c, b"r", &[send_only]));
    let mut hs = [Handle(0); 1];
    check_eq!(ok!(urt::channel_recv(d, &mut buf, &mut hs)), (1, 1));
    ok!(urt::handle_close(c));
    ok!(urt::handle_close(d));
    check_eq!(rights(hs[0])?, SEND.with(SHARE), "rights after transfer");
    expect_err!(
        urt::handle_dup(hs[0], SEND.with(RECV).with(SHARE)),
        Error::AccessDenied
    );

    // Task handles: WAIT | SHARE; without WAIT, wait is denied.
    let task = ok!(urt::spawn("h_exit", &[]));
    check_eq!(
        ok!(urt::handle_info(task)),
        (ObjectKind::Task, WAIT.with(SHARE)),
        "task handle"
    );
    let no_wait = ok!(urt::handle_dup(task, SHARE));
    expect_err!(urt::wait(no_wait), Error::AccessDenied, "wait without WAIT");
    expect_err!(
        urt::handle_dup(no_wait, WAIT),
        Error::AccessDenied,
        "re-add WAIT"
    );
    expect_err!(
        urt::handle_dup(task, SEND),
        Error::AccessDenied,
        "SEND on a task"
    );
    let waiter = ok!(urt::handle_dup(task, WAIT));
    expect_err!(
        urt::handle_dup(waiter, WAIT),
        Error::AccessDenied,
        "dup of a no-SHARE task"
    );
    let (code, how) = ok!(urt::wait(waiter));
    check!(
        how == ExitHow::Exited && code == utests::H_EXIT_CODE,
        "h_exit: {:?} {}",
        how,
        code
    );
    // Waiting again (any holder) returns the same at once.
    check_eq!(ok!(urt::wait(task)), (code, how), "second wait");

    for h in [
        no_send, no_recv, no_share, same, none, hs[0], task, no_wait, waiter, a, b,
    ] {
        ok!(urt::handle_close(h), "close {:#x}", h.0);
    }
    Ok(())
}

utests::test_main!(test);
