//! Channels carry bytes and handles: within one task (both directions, the largest
//! message, FIFO order, empty messages, rights kept on transfer) and across tasks
//! (`h_echo` echoes bytes and handles, uses a handle we send it, and passes back a
//! handle to a channel it created).

#![no_std]
#![no_main]

use urt::limits::{MAX_MSG_BYTES, MAX_MSG_HANDLES};
use urt::{Error, ExitHow, Handle, ObjectKind, Rights, StartArgs};
use utests::{check, check_eq, expect_err, ok, TestResult};

const CHANNEL_RIGHTS: Rights = Rights(Rights::SEND.0 | Rights::RECV.0 | Rights::SHARE.0);

fn recv(h: Handle, buf: &mut [u8], hs: &mut [Handle]) -> Result<(usize, usize), utests::Failed> {
    Ok(ok!(urt::channel_recv(h, buf, hs), "recv on {:#x}", h.0))
}

fn local() -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    check!(a != b && a.0 != 0 && b.0 != 0, "ends {:#x} {:#x}", a.0, b.0);
    for h in [a, b] {
        check_eq!(
            ok!(urt::handle_info(h)),
            (ObjectKind::Channel, CHANNEL_RIGHTS),
            "new end"
        );
    }
    let mut buf = [0u8; MAX_MSG_BYTES];
    let mut hs = [Handle(0); MAX_MSG_HANDLES];

    // Bytes, both directions.
    ok!(urt::channel_send(a, b"hello", &[]));
    ok!(urt::channel_send(b, b"world!", &[]));
    check_eq!(recv(b, &mut buf, &mut hs)?, (5, 0), "a -> b");
    check_eq!(&buf[..5], b"hello", "a -> b bytes");
    check_eq!(recv(a, &mut buf, &mut hs)?, (6, 0), "b -> a");
    check_eq!(&buf[..6], b"world!", "b -> a bytes");

    // Empty message; null pointers are fine with length 0.
    // SAFETY: lengths are 0, so the kernel touches no memory.
    let r = unsafe { utests::raw(urt::Sys::ChannelSend, [a.0 as u64, 0, 0, 0, 0, 0]) };
    check_eq!(r[0], 0, "empty send with null pointers");
    check_eq!(recv(b, &mut [], &mut [])?, (0, 0), "empty message");

    // FIFO order, up to the queue depth.
    for i in 0..urt::limits::CHANNEL_DEPTH as u8 {
        ok!(urt::channel_send(a, &[i; 3], &[]), "send #{}", i);
    }
    for i in 0..urt::limits::CHANNEL_DEPTH as u8 {
        check_eq!(recv(b, &mut buf, &mut hs)?, (3, 0), "recv #{}", i);
        check_eq!(buf[..3], [i; 3], "FIFO order at #{}", i);
    }

    // A handle travels: it leaves the sender's table and arrives with the same rights.
    let (x, y) = ok!(urt::channel_create());
    let x_send = ok!(urt::handle_dup(x, Rights::SEND.with(Rights::SHARE)));
    ok!(urt::channel_send(a, b"here", &[x_send]));
    expect_err!(
        urt::handle_info(x_send),
        Error::BadHandle,
        "sent handle left our table"
    );
    check_eq!(recv(b, &mut buf, &mut hs)?, (4, 1), "message with a handle");
    let got = hs[0];
    check_eq!(
        ok!(urt::handle_info(got)),
        (ObjectKind::Channel, Rights::SEND.with(Rights::SHARE)),
        "received handle keeps its rights"
    );
    ok!(
        urt::channel_send(got, b"via", &[]),
        "send on received handle"
    );
    check_eq!(recv(y, &mut buf, &mut hs)?, (3, 0));
    check_eq!(&buf[..3], b"via");
    for h in [got, x, y] {
        ok!(urt::handle_close(h));
    }

    // The largest message: 256 bytes and 8 handles.
    let mut pairs = [(Handle(0), Handle(0)); MAX_MSG_HANDLES];
    for p in pairs.iter_mut() {
        *p = ok!(urt::channel_create());
    }
    let big: [u8; MAX_MSG_BYTES] = core::array::from_fn(|i| (i * 7 + 1) as u8);
    let sent: [Handle; MAX_MSG_HANDLES] = core::array::from_fn(|i| pairs[i].0);
    ok!(urt::channel_send(b, &big, &sent), "largest message");
    hs = [Handle(0); MAX_MSG_HANDLES];
    check_eq!(
        recv(a, &mut buf, &mut hs)?,
        (MAX_MSG_BYTES, MAX_MSG_HANDLES),
        "largest message"
    );
    check!(buf == big, "largest message bytes differ");
    for (i, (&h, &(_, peer))) in hs.iter().zip(pairs.iter()).enumerate() {
        // Handle order is kept: end i is the peer of pairs[i].1.
        ok!(
            urt::channel_send(h, &[i as u8], &[]),
            "send on received handle {}",
            i
        );
        check_eq!(recv(peer, &mut buf, &mut [])?, (1, 0));
        check_eq!(
            buf[0],
            i as u8,
            "received handle {} is the right channel",
            i
        );
        ok!(urt::handle_close(h));
        ok!(urt::handle_close(peer));
    }

    // Close one end: the other drains what is queued, then sees PeerClosed.
    ok!(urt::channel_send(a, b"last", &[]));
    ok!(urt::handle_close(a));
    check_eq!(
        recv(b, &mut buf, &mut hs)?,
        (4, 0),
        "queued message survives the close"
    );
    expect_err!(urt::channel_recv(b, &mut buf, &mut hs), Error::PeerClosed);
    expect_err!(urt::channel_send(b, b"x", &[]), Error::PeerClosed);
    ok!(urt::handle_close(b));
    Ok(())
}

fn across_tasks() -> TestResult {
    let (mine, theirs) = ok!(urt::channel_create());
    let (w, z) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("h_echo", &[theirs, z]), "spawn h_echo");
    expect_err!(
        urt::handle_info(theirs),
        Error::BadHandle,
        "spawned handle moved"
    );
    let mut buf = [0u8; MAX_MSG_BYTES];
    let mut hs = [Handle(0); MAX_MSG_HANDLES];

    // The second start handle: h_echo says hello on it and closes it.
    check_eq!(recv(w, &mut buf, &mut hs)?, (5, 0), "hello from the helper");
    check_eq!(&buf[..5], b"hello");
    expect_err!(
        urt::channel_recv(w, &mut buf, &mut hs),
        Error::PeerClosed,
        "helper closed z"
    );
    ok!(urt::handle_close(w));

    // Echo bytes (blocks until the helper runs).
    ok!(urt::channel_send(mine, b"Echo me", &[]));
    check_eq!(recv(mine, &mut buf, &mut hs)?, (7, 0), "echo");
    check_eq!(&buf[..7], b"echo me");

    // Echo a handle: it goes to the helper and comes back, still the same channel.
    let (p, q) = ok!(urt::channel_create());
    ok!(urt::channel_send(mine, b"E+handle", &[p]));
    check_eq!(recv(mine, &mut buf, &mut hs)?, (8, 1), "echo with handle");
    let p2 = hs[0];
    check_eq!(
        ok!(urt::handle_info(p2)),
        (ObjectKind::Channel, CHANNEL_RIGHTS)
    );
    ok!(urt::channel_send(p2, b"round trip", &[]));
    check_eq!(recv(q, &mut buf, &mut hs)?, (10, 0));
    check_eq!(&buf[..10], b"round trip");

    // The helper uses a handle we give it.
    ok!(urt::channel_send(mine, b"P", &[p2]));
    check_eq!(recv(mine, &mut buf, &mut hs)?, (1, 0), "ping ack");
    check_eq!(buf[0], b'p');
    check_eq!(recv(q, &mut buf, &mut hs)?, (4, 0), "pong");
    check_eq!(&buf[..4], b"pong");
    expect_err!(
        urt::channel_recv(q, &mut buf, &mut hs),
        Error::PeerClosed,
        "helper closed p"
    );
    ok!(urt::handle_close(q));

    // The helper passes back a handle it created.
    ok!(urt::channel_send(mine, b"M", &[]));
    check_eq!(recv(mine, &mut buf, &mut hs)?, (1, 1), "made a channel");
    check_eq!(buf[0], b'm');
    let made = hs[0];
    check_eq!(
        ok!(urt::handle_info(made)),
        (ObjectKind::Channel, CHANNEL_RIGHTS)
    );
    check_eq!(
        recv(made, &mut buf, &mut hs)?,
        (6, 0),
        "message inside the made channel"
    );
    check_eq!(&buf[..6], b"inside");
    expect_err!(
        urt::channel_recv(made, &mut buf, &mut hs),
        Error::PeerClosed
    );
    ok!(urt::handle_close(made));

    ok!(urt::channel_send(mine, b"Q", &[]));
    let (code, how) = ok!(urt::wait(task));
    check!(
        how == ExitHow::Exited && code == 0,
        "h_echo ended {:?} code {}",
        how,
        code
    );
    ok!(urt::handle_close(task));
    expect_err!(
        urt::channel_recv(mine, &mut buf, &mut hs),
        Error::PeerClosed,
        "helper gone"
    );
    ok!(urt::handle_close(mine));
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    local()?;
    across_tasks()
}

utests::test_main!(test);
