//! Every documented error of every call, for its bad input (SYSCALLS.md table), and
//! "a call that fails changes nothing": no handle moved, no message consumed, nothing
//! written.
//!
//! Each case has exactly one thing wrong, so the result does not depend on the order in
//! which the kernel checks arguments; where the table's order is unambiguous (a length
//! limit before the pointer, an invalid rights value before the SHARE check) the test
//! also checks it.
//!
//! `BadProgram` uses `h_bad_program`, a well-formed ELF that `utests/build.rs` links into
//! kernel space. Not covered: `NoMemory` (cannot be provoked without exhausting RAM).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use urt::abi::{USER_END, USER_IMAGE_BASE, USER_STACK_SIZE, USER_STACK_TOP};
use urt::limits::{CHANNEL_DEPTH, MAX_HANDLES, MAX_LOG, MAX_MSG_BYTES, MAX_MSG_HANDLES, MAX_NAME};
use urt::{Error, ExitHow, Handle, ObjectKind, Rights, StartArgs, Stat, Sys};
use utests::{check, check_eq, expect_err, expect_raw, ok, Failed, TestResult};

const KERNEL_IMAGE: u64 = 0xffff_ff80_0000_0000;
const KERNEL_LINEAR: u64 = 0xffff_0000_4000_0000;
const UNMAPPED: u64 = 0x10_0000_0000;

/// Read-only data the kernel may read but must not write.
static RODATA: [u8; 64] = [0x11; 64];

/// `(ptr, len, what)` ranges that are not readable user memory, each `len` > 0 and
/// within every call's length limit (at most 16 bytes, and 8-byte aligned for arrays).
fn bad_ranges() -> [(u64, u64, &'static str); 11] {
    [
        (0, 8, "null"),
        (8, 8, "page 0"),
        (KERNEL_IMAGE, 8, "kernel image"),
        (KERNEL_LINEAR, 8, "kernel linear map"),
        (UNMAPPED, 8, "unmapped user address"),
        (USER_END, 8, "2^48 (first non-user address)"),
        (USER_END - 8, 16, "crosses 2^48"),
        (u64::MAX - 7, 16, "wraps around"),
        (USER_STACK_TOP - 8, 16, "runs off the top of the stack"),
        (
            USER_STACK_TOP - USER_STACK_SIZE - 8,
            16,
            "starts in the stack guard page",
        ),
        (USER_IMAGE_BASE - 8, 16, "starts below the image"),
    ]
}

/// Handle values that are not live handles of this task, derived from the live handle
/// `h` (its slot with other generations, other slots, out-of-range slots, high bits).
fn forged(h: Handle) -> Vec<(u64, &'static str)> {
    let slot = h.slot().unwrap_or(0);
    let g = h.generation();
    let mut v = alloc::vec![
        (0, "0"),
        (1 << 16, "slot field 0 with a generation"),
        (0xdead_beef, "random"),
        (0x1234_5678, "random"),
        (u32::MAX as u64, "u32::MAX"),
        (Handle::new(MAX_HANDLES as u16, 1).0 as u64, "slot 256"),
        (Handle::new(300, g).0 as u64, "slot 300"),
        (Handle::new(u16::MAX - 1, g).0 as u64, "slot 65534"),
        (Handle::new(200, 1).0 as u64, "unused slot 200"),
        (
            Handle::new(slot, g.wrapping_add(1)).0 as u64,
            "right slot, next generation"
        ),
        (
            Handle::new(slot, g ^ 0x8000).0 as u64,
            "right slot, far generation"
        ),
        (h.0 as u64 | 1 << 32, "live value with bit 32 set"),
        (
            h.0 as u64 | 0xffff_ffff_0000_0000,
            "live value with the high half set"
        ),
        (u64::MAX, "u64::MAX"),
    ];
    if g > 0 {
        v.push((
            Handle::new(slot, g - 1).0 as u64,
            "right slot, previous generation",
        ));
    }
    v
}

/// Raw call, for inputs the typed wrappers cannot express.
fn sys(num: Sys, args: [u64; 6]) -> [u64; 3] {
    // SAFETY: every raw call in this test passes pointers that are either rejected by
    // the kernel or name memory the test owns and does not rely on (scratch buffers);
    // handles are ones the test is prepared to lose.
    unsafe { utests::raw(num, args) }
}

fn a6(a: u64, b: u64, c: u64, d: u64, e: u64) -> [u64; 6] {
    [a, b, c, d, e, 0]
}

/// Duplicate `src` into every free slot; returns the duplicates (the table is full).
fn fill_table(src: Handle) -> Result<Vec<Handle>, Failed> {
    let mut v = Vec::with_capacity(MAX_HANDLES);
    loop {
        match urt::handle_dup(src, Rights::NONE) {
            Ok(h) => v.push(h),
            Err(Error::TableFull) => return Ok(v),
            Err(e) => {
                check!(
                    false,
                    "filling the table: dup #{} failed with {:?}",
                    v.len(),
                    e
                );
            }
        }
        check!(v.len() <= MAX_HANDLES, "more than {} handles", MAX_HANDLES);
    }
}

/// `n` duplicates of `src` that keep `SHARE` (so they may be passed on).
fn shareable_dups(src: Handle, n: usize) -> Result<Vec<Handle>, Failed> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        v.push(ok!(urt::handle_dup(src, Rights::SHARE), "dup #{}", i));
    }
    Ok(v)
}

fn close_all(v: &mut Vec<Handle>) -> TestResult {
    for h in v.drain(..) {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn is_live(h: Handle) -> bool {
    urt::handle_info(h).is_ok()
}

/// Nothing is queued at `rx` (sent from `tx`): a marker sent now is the next message.
fn check_queue_empty(tx: Handle, rx: Handle, what: &str) -> TestResult {
    ok!(
        urt::channel_send(tx, b"marker", &[]),
        "{}: send marker",
        what
    );
    let mut buf = [0u8; MAX_MSG_BYTES];
    let mut hs = [Handle(0); MAX_MSG_HANDLES];
    let (n, m) = ok!(
        urt::channel_recv(rx, &mut buf, &mut hs),
        "{}: recv marker",
        what
    );
    check!(
        (n, m) == (6, 0) && &buf[..6] == b"marker",
        "{}: a failed send left a message ({} bytes, {} handles) queued",
        what,
        n,
        m
    );
    Ok(())
}

fn log() -> TestResult {
    let msg = b"test_syscall_errors: log ok\n";
    ok!(urt::log(msg));
    let p = msg.as_ptr() as u64;
    expect_raw!(
        sys(Sys::Log, a6(p, MAX_LOG as u64 + 1, 0, 0, 0)),
        Error::TooLarge,
        "log 4097"
    );
    expect_raw!(
        sys(Sys::Log, a6(p, u64::MAX, 0, 0, 0)),
        Error::TooLarge,
        "log len u64::MAX"
    );
    expect_raw!(
        sys(Sys::Log, a6(0, MAX_LOG as u64 + 1, 0, 0, 0)),
        Error::TooLarge,
        "TooLarge before BadAddress"
    );
    for (ptr, len, what) in bad_ranges() {
        expect_raw!(
            sys(Sys::Log, a6(ptr, len, 0, 0, 0)),
            Error::BadAddress,
            "log from {}",
            what
        );
    }
    for ptr in [0, KERNEL_IMAGE, u64::MAX] {
        expect_raw!(
            sys(Sys::Log, a6(ptr, 0, 0, 0, 0)),
            0,
            "log len 0 at {:#x}",
            ptr
        );
    }
    Ok(())
}

fn spawn() -> TestResult {
    let (c, peer) = ok!(urt::channel_create());
    let name = b"h_exit";
    let np = name.as_ptr() as u64;
    let one = [c];

    // InvalidArgument: empty name (any pointer), a handle listed twice.
    expect_raw!(
        sys(Sys::Spawn, a6(KERNEL_IMAGE, 0, 0, 0, 0)),
        Error::InvalidArgument,
        "empty name"
    );
    expect_raw!(
        sys(Sys::Spawn, a6(np, 0, 0, 0, 0)),
        Error::InvalidArgument,
        "empty name"
    );
    expect_err!(
        urt::spawn("h_exit", &[c, c]),
        Error::InvalidArgument,
        "handle twice"
    );
    check!(is_live(c), "a failed spawn moved a handle");

    // TooLarge: name over 64 bytes (checked before the pointer), more than 4 handles.
    let long = [b'a'; MAX_NAME + 1];
    expect_err!(
        urt::spawn_bytes(&long, &[]),
        Error::TooLarge,
        "65-byte name"
    );
    expect_raw!(
        sys(Sys::Spawn, a6(0, MAX_NAME as u64 + 1, 0, 0, 0)),
        Error::TooLarge,
        "65-byte name at null"
    );
    expect_raw!(
        sys(Sys::Spawn, a6(np, u64::MAX, 0, 0, 0)),
        Error::TooLarge,
        "name len u64::MAX"
    );
    // Five distinct handles with SHARE, so nothing but the count is wrong.
    let mut five = shareable_dups(c, 5)?;
    expect_err!(urt::spawn("h_exit", &five), Error::TooLarge, "5 handles");
    check!(
        five.iter().all(|&h| is_live(h)),
        "a failed spawn moved a handle"
    );
    close_all(&mut five)?;

    // BadAddress: the name; the handle array (bad, or not 4-byte aligned).
    for (ptr, len, what) in bad_ranges() {
        expect_raw!(
            sys(Sys::Spawn, a6(ptr, len, 0, 0, 0)),
            Error::BadAddress,
            "name at {}",
            what
        );
        expect_raw!(
            sys(Sys::Spawn, a6(np, 6, ptr, len / 4, 0)),
            Error::BadAddress,
            "handles at {}",
            what
        );
    }
    // Zeros, so a kernel that ignored the alignment would read handle 0 (BadHandle).
    let zeros = [0u32; 4];
    for off in 1..4 {
        expect_raw!(
            sys(Sys::Spawn, a6(np, 6, zeros.as_ptr() as u64 + off, 1, 0)),
            Error::BadAddress,
            "handles array misaligned by {}",
            off
        );
    }
    // Length 0 never touches memory.
    let t = sys(Sys::Spawn, a6(np, 6, KERNEL_IMAGE, 0, 0));
    expect_raw!(t, 0, "0 handles at a kernel address");
    ok!(urt::wait(Handle(t[1] as u32)));
    ok!(urt::handle_close(Handle(t[1] as u32)));

    // BadHandle: forged, and a good one alongside a forged one (nothing moves).
    for (v, what) in forged(c) {
        let arr = [v as u32, 0];
        if v > u32::MAX as u64 {
            continue; // a u32 array cannot hold it
        }
        expect_raw!(
            sys(Sys::Spawn, a6(np, 6, arr.as_ptr() as u64, 1, 0)),
            Error::BadHandle,
            "spawn passing {} ({:#x})",
            what,
            v
        );
    }
    expect_err!(
        urt::spawn("h_exit", &[c, Handle(0xdead_beef)]),
        Error::BadHandle,
        "good + forged"
    );
    check!(is_live(c), "a failed spawn moved a handle");

    // AccessDenied: a passed handle without SHARE.
    let no_share = ok!(urt::handle_dup(c, Rights::SEND.with(Rights::RECV)));
    expect_err!(
        urt::spawn("h_exit", &[no_share]),
        Error::AccessDenied,
        "handle without SHARE"
    );
    expect_err!(
        urt::spawn("h_exit", &[c, no_share]),
        Error::AccessDenied,
        "one without SHARE"
    );
    check!(
        is_live(c) && is_live(no_share),
        "a failed spawn moved a handle"
    );
    ok!(urt::handle_close(no_share));

    // NotFound, and nothing moves.
    expect_err!(
        urt::spawn("no_such_program", &[c]),
        Error::NotFound,
        "unknown name"
    );
    expect_err!(
        urt::spawn("h_exi", &[]),
        Error::NotFound,
        "prefix of a name"
    );
    expect_err!(
        urt::spawn("h_exit_", &[]),
        Error::NotFound,
        "name plus a byte"
    );
    expect_err!(
        urt::spawn_bytes(&[0xff, 0xfe, 0], &[]),
        Error::NotFound,
        "non-UTF-8 name"
    );
    let max_name = [b'z'; MAX_NAME];
    expect_err!(
        urt::spawn_bytes(&max_name, &[]),
        Error::NotFound,
        "64-byte name"
    );
    check!(is_live(c), "a failed spawn moved a handle");

    // BadProgram: an ELF linked outside user space; nothing moves, no task starts.
    let tasks0 = ok!(urt::stats(Stat::Tasks));
    expect_err!(
        urt::spawn("h_bad_program", &[c]),
        Error::BadProgram,
        "ELF in kernel space"
    );
    check!(is_live(c), "a failed spawn moved a handle");
    check_eq!(
        ok!(urt::stats(Stat::Tasks)),
        tasks0,
        "live tasks after BadProgram"
    );

    // TableFull: no slot for the task handle, and no task is started.
    let tasks0 = ok!(urt::stats(Stat::Tasks));
    let mut fill = fill_table(c)?;
    expect_err!(
        urt::spawn("h_exit", &[]),
        Error::TableFull,
        "spawn with a full table"
    );
    check_eq!(
        ok!(urt::stats(Stat::Tasks)),
        tasks0,
        "live tasks after a TableFull spawn"
    );
    close_all(&mut fill)?;

    // The good call moves the handle.
    let task = ok!(urt::spawn("h_exit", &one));
    check!(!is_live(c), "spawn did not move the handle");
    ok!(urt::wait(task));
    ok!(urt::handle_close(task));
    ok!(urt::handle_close(peer));
    Ok(())
}

fn wait() -> TestResult {
    let task = ok!(urt::spawn("h_exit", &[]));
    for (v, what) in forged(task) {
        expect_raw!(
            sys(Sys::Wait, a6(v, 0, 0, 0, 0)),
            Error::BadHandle,
            "wait on {} ({:#x})",
            what,
            v
        );
    }
    let (a, b) = ok!(urt::channel_create());
    expect_err!(urt::wait(a), Error::WrongType, "wait on a channel");
    let no_wait = ok!(urt::handle_dup(task, Rights::SHARE));
    expect_err!(urt::wait(no_wait), Error::AccessDenied, "wait without WAIT");
    let r = ok!(urt::wait(task));
    check_eq!(r, (utests::H_EXIT_CODE, ExitHow::Exited), "h_exit");
    check_eq!(ok!(urt::wait(task)), r, "second wait on an ended task");
    ok!(urt::handle_close(task));
    expect_err!(urt::wait(task), Error::BadHandle, "wait on a closed handle");
    for h in [no_wait, a, b] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn sleep() -> TestResult {
    for ns in [1_000_000_000_001u64, 1 << 40, 1 << 63, u64::MAX] {
        expect_raw!(
            sys(Sys::Sleep, a6(ns, 0, 0, 0, 0)),
            Error::InvalidArgument,
            "sleep {}",
            ns
        );
    }
    expect_raw!(sys(Sys::Sleep, a6(0, 0, 0, 0, 0)), 0, "sleep 0");
    Ok(())
}

fn close() -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    for (v, what) in forged(a) {
        expect_raw!(
            sys(Sys::HandleClose, a6(v, 0, 0, 0, 0)),
            Error::BadHandle,
            "close {} ({:#x})",
            what,
            v
        );
    }
    check!(is_live(a), "a forged close closed a live handle");
    ok!(urt::handle_close(a));
    expect_err!(urt::handle_close(a), Error::BadHandle, "double close");
    expect_err!(
        urt::handle_info(a),
        Error::BadHandle,
        "info on a closed handle"
    );
    // The slot comes back with a new generation; the old value stays dead.
    let (c, d) = ok!(urt::channel_create());
    check!(
        c != a && d != a,
        "a new handle reused a closed value {:#x}",
        a.0
    );
    expect_err!(
        urt::handle_close(a),
        Error::BadHandle,
        "stale close after reuse"
    );
    check!(is_live(c) && is_live(d), "stale close hit the new handle");
    for h in [b, c, d] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn dup() -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    for (v, what) in forged(a) {
        expect_raw!(
            sys(Sys::HandleDup, a6(v, 0, 0, 0, 0)),
            Error::BadHandle,
            "dup {} ({:#x})",
            what,
            v
        );
        // BadHandle comes before InvalidArgument.
        expect_raw!(
            sys(Sys::HandleDup, a6(v, 1 << 20, 0, 0, 0)),
            Error::BadHandle,
            "dup {} with bad rights",
            what
        );
    }
    let no_share = ok!(urt::handle_dup(a, Rights::SEND));
    for r in [
        Rights::ALL.0 as u64 + 1,
        0x1ff,
        1 << 31,
        1 << 32,
        (1 << 32) | 1,
        u64::MAX,
    ] {
        expect_raw!(
            sys(Sys::HandleDup, a6(a.0 as u64, r, 0, 0, 0)),
            Error::InvalidArgument,
            "rights {:#x}",
            r
        );
        // InvalidArgument comes before AccessDenied.
        expect_raw!(
            sys(Sys::HandleDup, a6(no_share.0 as u64, r, 0, 0, 0)),
            Error::InvalidArgument,
            "rights {:#x} on a handle without SHARE",
            r
        );
    }
    expect_err!(
        urt::handle_dup(no_share, Rights::SEND),
        Error::AccessDenied,
        "no SHARE"
    );
    expect_err!(
        urt::handle_dup(a, Rights::WAIT),
        Error::AccessDenied,
        "not a subset"
    );
    let mut fill = fill_table(a)?;
    check!(!fill.is_empty(), "the table was already full");
    expect_err!(
        urt::handle_dup(a, Rights::SEND),
        Error::TableFull,
        "dup into a full table"
    );
    close_all(&mut fill)?;
    for h in [a, b, no_share] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn info() -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    for (v, what) in forged(a) {
        expect_raw!(
            sys(Sys::HandleInfo, a6(v, 0, 0, 0, 0)),
            Error::BadHandle,
            "info {} ({:#x})",
            what,
            v
        );
    }
    let r = sys(Sys::HandleInfo, a6(a.0 as u64, 0, 0, 0, 0));
    check_eq!(
        r,
        [0, ObjectKind::Channel as u64, 0xd],
        "raw handle_info of a new channel end"
    );
    for h in [a, b] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn create() -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    let mut fill = fill_table(a)?;
    expect_err!(urt::channel_create(), Error::TableFull, "no free slot");
    // One free slot is not enough either, and the failed call does not use it up.
    let one = fill.pop().unwrap_or(Handle(0));
    ok!(urt::handle_close(one));
    expect_err!(urt::channel_create(), Error::TableFull, "one free slot");
    let again = ok!(
        urt::handle_dup(a, Rights::NONE),
        "the free slot is still free"
    );
    fill.push(again);
    expect_err!(urt::handle_dup(a, Rights::NONE), Error::TableFull);
    close_all(&mut fill)?;
    // Both slots free: fine.
    let (c, d) = ok!(urt::channel_create());
    for h in [a, b, c, d] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn send() -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    let (x, y) = ok!(urt::channel_create());
    let msg = b"payload";
    let mp = msg.as_ptr() as u64;

    for (v, what) in forged(a) {
        expect_raw!(
            sys(Sys::ChannelSend, a6(v, mp, 7, 0, 0)),
            Error::BadHandle,
            "send on {} ({:#x})",
            what,
            v
        );
    }
    let task = ok!(urt::spawn("h_exit", &[]));
    expect_err!(
        urt::channel_send(task, msg, &[]),
        Error::WrongType,
        "send on a task"
    );
    ok!(urt::wait(task));
    let recv_only = ok!(urt::handle_dup(a, Rights::RECV.with(Rights::SHARE)));
    expect_err!(
        urt::channel_send(recv_only, msg, &[]),
        Error::AccessDenied,
        "no SEND"
    );
    let no_share = ok!(urt::handle_dup(x, Rights::SEND));
    expect_err!(
        urt::channel_send(a, msg, &[no_share]),
        Error::AccessDenied,
        "passed without SHARE"
    );
    expect_err!(
        urt::channel_send(a, msg, &[x, no_share]),
        Error::AccessDenied,
        "one without SHARE"
    );
    check!(
        is_live(x) && is_live(no_share),
        "a failed send moved a handle"
    );

    // TooLarge, before the pointers are looked at.
    let big = [0u8; MAX_MSG_BYTES + 1];
    expect_err!(
        urt::channel_send(a, &big, &[]),
        Error::TooLarge,
        "257 bytes"
    );
    expect_raw!(
        sys(Sys::ChannelSend, a6(a.0 as u64, 0, 257, 0, 0)),
        Error::TooLarge,
        "257 bytes at null"
    );
    expect_raw!(
        sys(Sys::ChannelSend, a6(a.0 as u64, mp, u64::MAX, 0, 0)),
        Error::TooLarge,
        "len u64::MAX"
    );
    // Nine distinct handles with SHARE, so nothing but the count is wrong.
    let mut nine = shareable_dups(x, MAX_MSG_HANDLES + 1)?;
    expect_err!(
        urt::channel_send(a, msg, &nine),
        Error::TooLarge,
        "9 handles"
    );
    check!(
        nine.iter().all(|&h| is_live(h)),
        "a failed send moved a handle"
    );
    close_all(&mut nine)?;

    // BadAddress: bytes, handles.
    for (ptr, len, what) in bad_ranges() {
        expect_raw!(
            sys(Sys::ChannelSend, a6(a.0 as u64, ptr, len, 0, 0)),
            Error::BadAddress,
            "bytes at {}",
            what
        );
        expect_raw!(
            sys(Sys::ChannelSend, a6(a.0 as u64, mp, 7, ptr, len / 4)),
            Error::BadAddress,
            "handles at {}",
            what
        );
    }
    // Zero lengths never touch memory.
    expect_raw!(
        sys(
            Sys::ChannelSend,
            a6(a.0 as u64, KERNEL_IMAGE, 0, u64::MAX, 0)
        ),
        0,
        "empty message, bad pointers"
    );
    let mut tmp = [0u8; 1];
    check_eq!(
        ok!(urt::channel_recv(b, &mut tmp, &mut [])),
        (0, 0),
        "the empty message"
    );

    // BadHandle for a passed handle.
    expect_err!(
        urt::channel_send(a, msg, &[Handle(0)]),
        Error::BadHandle,
        "passing handle 0"
    );
    expect_err!(
        urt::channel_send(a, msg, &[x, Handle(0xdead_beef)]),
        Error::BadHandle,
        "good + forged"
    );
    check!(is_live(x), "a failed send moved a handle");

    // InvalidArgument: a handle twice, the channel end itself.
    expect_err!(
        urt::channel_send(a, msg, &[x, x]),
        Error::InvalidArgument,
        "handle twice"
    );
    expect_err!(
        urt::channel_send(a, msg, &[a]),
        Error::InvalidArgument,
        "sending h itself"
    );
    expect_err!(
        urt::channel_send(a, msg, &[x, a]),
        Error::InvalidArgument,
        "h itself among others"
    );
    check!(is_live(x) && is_live(a), "a failed send moved a handle");

    check_queue_empty(a, b, "after the failed sends")?;

    // QueueFull after 16, and the handle in the refused message stays ours.
    for i in 0..CHANNEL_DEPTH {
        ok!(urt::channel_send(a, &[i as u8], &[]), "send #{}", i);
    }
    expect_err!(
        urt::channel_send(a, msg, &[x]),
        Error::QueueFull,
        "17th message"
    );
    check!(is_live(x), "a refused message took a handle");
    let mut buf = [0u8; MAX_MSG_BYTES];
    for i in 0..CHANNEL_DEPTH {
        check_eq!(ok!(urt::channel_recv(b, &mut buf, &mut [])), (1, 0));
        check_eq!(buf[0], i as u8, "message #{} after QueueFull", i);
    }
    // The other direction has its own queue.
    ok!(urt::channel_send(b, msg, &[]));
    check_eq!(ok!(urt::channel_recv(a, &mut buf, &mut [])), (7, 0));

    // PeerClosed, and the handle stays ours.
    ok!(urt::handle_close(b));
    expect_err!(
        urt::channel_send(a, msg, &[x]),
        Error::PeerClosed,
        "peer closed"
    );
    check!(is_live(x), "a failed send moved a handle");

    for h in [a, x, y, no_share, recv_only, task] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn recv() -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    let mut buf = [0u8; MAX_MSG_BYTES];
    let mut hs = [Handle(0); MAX_MSG_HANDLES];
    let bp = buf.as_mut_ptr() as u64;
    let hp = hs.as_mut_ptr() as u64;

    // Something queued, so no case below could block whatever the check order.
    ok!(urt::channel_send(a, b"queued", &[]));

    for (v, what) in forged(b) {
        expect_raw!(
            sys(Sys::ChannelRecv, a6(v, bp, 256, hp, 8)),
            Error::BadHandle,
            "recv on {} ({:#x})",
            what,
            v
        );
    }
    let task = ok!(urt::spawn("h_exit", &[]));
    expect_err!(
        urt::channel_recv(task, &mut buf, &mut hs),
        Error::WrongType,
        "recv on a task"
    );
    ok!(urt::wait(task));
    ok!(urt::handle_close(task));
    let send_only = ok!(urt::handle_dup(b, Rights::SEND.with(Rights::SHARE)));
    expect_err!(
        urt::channel_recv(send_only, &mut buf, &mut hs),
        Error::AccessDenied,
        "no RECV"
    );

    // BadAddress: unreadable ranges, and read-only memory (the call writes).
    let text = recv as *const () as u64;
    let ro = RODATA.as_ptr() as u64;
    let mut bad: Vec<(u64, u64, &str)> = bad_ranges().to_vec();
    bad.push((text, 16, "own .text"));
    bad.push((ro, 16, "own .rodata"));
    for &(ptr, len, what) in &bad {
        expect_raw!(
            sys(Sys::ChannelRecv, a6(b.0 as u64, ptr, len, hp, 8)),
            Error::BadAddress,
            "buffer at {}",
            what
        );
        expect_raw!(
            sys(Sys::ChannelRecv, a6(b.0 as u64, bp, 256, ptr, len / 4)),
            Error::BadAddress,
            "handles at {}",
            what
        );
    }
    check!(
        RODATA.iter().all(|&x| x == 0x11),
        "recv wrote read-only data"
    );
    check_eq!(
        ok!(urt::channel_recv(b, &mut buf, &mut hs)),
        (6, 0),
        "message kept through the failures"
    );
    check_eq!(&buf[..6], b"queued");

    // BufferTooSmall: sizes reported, nothing written, message kept.
    let (x, y) = ok!(urt::channel_create());
    let body: [u8; 100] = core::array::from_fn(|i| i as u8);
    ok!(urt::channel_send(a, &body, &[x]));
    let mut small = [0xeeu8; 99];
    let mut slot = [Handle(0xeeee_eeee); 1];
    check_eq!(
        urt::channel_recv(b, &mut small, &mut slot),
        Err(urt::RecvError::TooSmall {
            bytes: 100,
            handles: 1
        }),
        "99-byte buffer"
    );
    check_eq!(
        urt::channel_recv(b, &mut buf[..100], &mut []),
        Err(urt::RecvError::TooSmall {
            bytes: 100,
            handles: 1
        }),
        "no handle slots"
    );
    let r = sys(Sys::ChannelRecv, a6(b.0 as u64, 0, 0, 0, 0));
    check_eq!(
        r,
        [Error::BufferTooSmall as u64, 100, 1],
        "raw BufferTooSmall with empty buffers"
    );
    check!(
        small.iter().all(|&x| x == 0xee),
        "BufferTooSmall wrote the buffer"
    );
    check_eq!(
        slot[0],
        Handle(0xeeee_eeee),
        "BufferTooSmall wrote the handle array"
    );
    check_eq!(
        ok!(urt::channel_recv(b, &mut buf, &mut hs)),
        (100, 1),
        "the message, after all"
    );
    check!(buf[..100] == body, "message body");
    let x2 = hs[0];
    check!(is_live(x2), "received handle");

    // TableFull: the message (with a handle) stays queued until a slot frees up.
    ok!(urt::channel_send(a, b"h", &[x2]));
    let mut fill = fill_table(a)?;
    expect_err!(
        urt::channel_recv(b, &mut buf, &mut hs),
        Error::TableFull,
        "recv into a full table"
    );
    let one = fill.pop().unwrap_or(Handle(0));
    ok!(urt::handle_close(one));
    check_eq!(
        ok!(urt::channel_recv(b, &mut buf, &mut hs)),
        (1, 1),
        "after freeing a slot"
    );
    // A message with no handles needs no slot.
    ok!(urt::channel_send(a, b"plain", &[]));
    check_eq!(
        ok!(
            urt::channel_recv(b, &mut buf, &mut []),
            "plain message, full table"
        ),
        (5, 0)
    );
    close_all(&mut fill)?;
    let x3 = hs[0];
    ok!(
        urt::channel_send(x3, b"alive", &[]),
        "handle received after TableFull"
    );
    check_eq!(ok!(urt::channel_recv(y, &mut buf, &mut [])), (5, 0));

    // PeerClosed: queued messages first, then PeerClosed, repeatedly.
    ok!(urt::channel_send(a, b"one", &[]));
    ok!(urt::handle_close(a));
    check_eq!(
        ok!(urt::channel_recv(b, &mut buf, &mut hs)),
        (3, 0),
        "drain after close"
    );
    expect_err!(
        urt::channel_recv(b, &mut buf, &mut hs),
        Error::PeerClosed,
        "empty and closed"
    );
    expect_err!(
        urt::channel_recv(b, &mut buf, &mut hs),
        Error::PeerClosed,
        "again"
    );
    // BadAddress still wins over PeerClosed (arguments before state).
    expect_raw!(
        sys(Sys::ChannelRecv, a6(b.0 as u64, 0, 8, 0, 0)),
        Error::BadAddress,
        "null buffer, peer closed"
    );

    for h in [b, send_only, x3, y] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn stats() -> TestResult {
    let first_undefined = Stat::ALL.len() as u64;
    for what in [first_undefined, first_undefined + 1, 1 << 32, u64::MAX] {
        expect_raw!(
            sys(Sys::Stats, a6(what, 0, 0, 0, 0)),
            Error::InvalidArgument,
            "stats({:#x})",
            what
        );
    }
    let free = ok!(urt::stats(Stat::FreeFrames));
    let total = ok!(urt::stats(Stat::TotalFrames));
    check!(free > 0 && free <= total, "free {} total {}", free, total);
    check!(
        ok!(urt::stats(Stat::Tasks)) >= 1,
        "at least this task is live"
    );
    let t0 = ok!(urt::stats(Stat::Ticks));
    ok!(urt::sleep_ns(10_000_000));
    check!(
        ok!(urt::stats(Stat::Ticks)) > t0,
        "ticks advance across a sleep"
    );
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    let free0 = ok!(urt::stats(Stat::FreeFrames));
    log()?;
    spawn()?;
    wait()?;
    sleep()?;
    close()?;
    dup()?;
    info()?;
    create()?;
    send()?;
    recv()?;
    stats()?;
    check_eq!(
        ok!(utests::free_frames_settled(free0)),
        free0,
        "free frames at the end"
    );
    Ok(())
}

utests::test_main!(test);
