//! Channel ends can never become unreachable, and any nesting tears down.
//!
//! - Nesting: 2,000 channels, each end queued in the one before, are freed when the
//!   top end is closed, when the task holding it exits, and when it is killed; every
//!   charge (channels, messages, kernel heap) comes back. A kernel that frees nested
//!   messages recursively overflows its stack long before 2,000.
//! - The cycle rule: an end may not travel over its own channel (the peer-through-itself
//!   trick that made a queue unreachable for ever), nor while a channel end is queued
//!   for it (which is how a longer cycle would close); a queue of plain bytes does not
//!   count, and receiving the queued end lifts the rule.

#![no_std]
#![no_main]

use urt::{Error, ExitHow, Handle, Quota, Rights, StartArgs, Stat};
use utests::{check, check_eq, expect_err, ok, TestResult};

const DEPTH: u64 = 2000;

fn recv_one(h: Handle) -> Result<Handle, utests::Failed> {
    let mut buf = [0u8; 8];
    let mut hs = [Handle(0); 1];
    let (_, n) = ok!(
        urt::channel_recv(h, &mut buf, &mut hs),
        "recv on {:#x}",
        h.0
    );
    check_eq!(n, 1, "one handle in the message");
    Ok(hs[0])
}

fn nesting() -> TestResult {
    let q0 = utests::quota_used()?;
    let heap0 = ok!(urt::stats(Stat::HeapUsed));
    let top = ok!(utests::nest(DEPTH), "nest {}", DEPTH);
    let (channels, _) = ok!(urt::quota(Quota::Channels));
    let (messages, _) = ok!(urt::quota(Quota::Messages));
    check_eq!(channels - q0[3], DEPTH, "channels charged while nested");
    check_eq!(messages - q0[4], DEPTH - 1, "messages charged while nested");
    ok!(urt::handle_close(top));
    utests::expect_quota_back(&q0, "after closing the top end")?;

    // A task holding the chain exits, or is killed: the same.
    for (fault, how) in [(0, ExitHow::Exited), (1, ExitHow::Killed)] {
        let (mine, theirs) = ok!(urt::channel_create());
        let t = ok!(urt::spawn("h_nest", &[theirs]));
        ok!(utests::send_u64s(mine, &[DEPTH, fault]));
        check_eq!(
            utests::recv_u64(mine).ok(),
            Some(DEPTH),
            "h_nest built its chain"
        );
        let (_, ended) = ok!(urt::wait(t));
        check_eq!(ended, how, "h_nest ended");
        ok!(urt::handle_close(t));
        ok!(urt::handle_close(mine));
        utests::expect_quota_back(&q0, "after h_nest ended holding its chain")?;
    }
    let heap1 = ok!(urt::stats(Stat::HeapUsed));
    check!(
        heap1 <= heap0 + 16 * 1024,
        "kernel heap {} bytes after, {} before",
        heap1,
        heap0
    );
    Ok(())
}

fn rule() -> TestResult {
    let q0 = utests::quota_used()?;
    let all = Rights::SEND.with(Rights::RECV).with(Rights::SHARE);
    let (a, b) = ok!(urt::channel_create());
    expect_err!(
        urt::channel_send(a, b"", &[a]),
        Error::InvalidArgument,
        "an end over itself"
    );
    expect_err!(
        urt::channel_send(a, b"", &[b]),
        Error::InvalidArgument,
        "the peer end over its own channel (it would be queued for itself)"
    );
    let b2 = ok!(urt::handle_dup(b, all));
    expect_err!(
        urt::channel_send(b, b"", &[b2]),
        Error::InvalidArgument,
        "a duplicate of the sending end"
    );
    expect_err!(
        urt::channel_send(b, b"", &[a]),
        Error::InvalidArgument,
        "the peer end the other way"
    );
    ok!(urt::handle_close(b2));

    // c is queued for a; a may not then be queued for c (a -> c -> a).
    let (c, d) = ok!(urt::channel_create());
    ok!(urt::channel_send(b, b"c", &[c]), "c queued for a");
    expect_err!(
        urt::channel_send(d, b"a", &[a]),
        Error::Busy,
        "an end with a channel end queued for it"
    );
    // Plain bytes queued for an end do not stop it travelling.
    let (e, f) = ok!(urt::channel_create());
    ok!(urt::channel_send(f, b"hi", &[]));
    ok!(
        urt::channel_send(d, b"e", &[e]),
        "an end with only bytes queued"
    );
    // Receiving c lifts the rule for a; c now has e queued, so c is held back.
    let c = recv_one(a)?;
    let (g, h) = ok!(urt::channel_create());
    expect_err!(
        urt::channel_send(g, b"c", &[c]),
        Error::Busy,
        "c with e queued for it"
    );
    ok!(
        urt::channel_send(d, b"a", &[a]),
        "a once nothing is queued for it"
    );
    let e = recv_one(c)?;
    let a = recv_one(c)?;
    ok!(
        urt::channel_send(g, b"c", &[c]),
        "c once nothing is queued for it"
    );
    // e still has its bytes.
    let mut buf = [0u8; 4];
    check_eq!(
        ok!(urt::channel_recv(e, &mut buf, &mut [])),
        (2, 0),
        "e's message survived its trip"
    );
    check_eq!(&buf[..2], b"hi");
    for x in [a, b, d, e, f, g, h] {
        ok!(urt::handle_close(x));
    }
    utests::expect_quota_back(&q0, "after the rule checks")?;
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    let tasks0 = ok!(urt::stats(Stat::Tasks));
    nesting()?;
    rule()?;
    check_eq!(ok!(urt::stats(Stat::Tasks)), tasks0, "live tasks");
    Ok(())
}

utests::test_main!(test);
