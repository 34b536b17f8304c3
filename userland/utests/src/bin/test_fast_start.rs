//! The hand-written START (`kernel/src/syscall/fast_start.rs`: START READ, WRITE and RW
//! of `buffer_sync` in assembly, at the vector) against what it must keep, over state
//! built by many calls:
//! - every register but x0..x2 comes back as it went in, whichever path took the call
//!   (the assembly's hold, the Rust fast path or the full path after it stood aside, an
//!   error);
//! - a fault that is not an `svc` starts nothing, even with x8 and x1 of a START (a
//!   legacy FAULT mapping's first touch, which the kernel resumes);
//! - the open-access table filled to 16 in mixed directions, the 17th START refused,
//!   a START on an open buffer refused through any handle, ENDs in every order and the
//!   table refilled, cycle after cycle;
//! - each counted once in the syscall count;
//! - handle values after slot reuse (the old generation), beyond the table, with upper
//!   bits, slot 0, another object's (a GPU resource's, with the mapping rights); rights
//!   narrowed by a duplicate; ranges at and past the end, wrapping, length 0 at an
//!   offset.
//!
//! Test kernels also check every START the assembly takes hold of against the Rust fast
//! path's lookup and the full path's planner, so a wrong acceptance panics the kernel.

#![no_std]
#![no_main]

use core::arch::asm;
use urt::sync::{END, READ, RW, START, WRITE};
use urt::trace::{Entry, OP_FAULT};
use urt::{format, legacy, policy, prot, Error, Handle, Rights, StartArgs, Sys};
use utests::{check, check_eq, clear_trace, expect_err, ok, read_trace, TestResult};

const PAGE: u64 = 4096;
/// Each START word with its END.
const WORDS: [(u64, u64); 3] = [
    (START | READ, END | READ),
    (START | WRITE, END | WRITE),
    (START | RW, END | RW),
];

/// A register's sentinel.
const fn s(i: u64) -> u64 {
    0x5a00_0000_0000_0000 | i << 32 | i
}

/// `buffer_sync(h, flags, offset, len)` with every register the kernel must keep set to
/// a sentinel: the call's x0 (0 or the error) and the registers that did not come back
/// (bit n for xn).
fn sync_keeping(h: u64, flags: u64, offset: u64, len: u64) -> (u64, u64) {
    // What each register must hold after the call (x0..x2 are its results; x19 and x29
    // cannot be operands).
    let mut want: [u64; 31] = core::array::from_fn(|i| s(i as u64));
    (want[3], want[8]) = (len, Sys::BufferSync as u64);
    let mut r = want;
    // SAFETY: `buffer_sync` reads no user memory; every register the block names is an
    // operand, and the kernel changes no other (x0..x2 are its results).
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") h => r[0],
            inlateout("x1") flags => _,
            inlateout("x2") offset => _,
            inout("x3") r[3],
            inout("x4") r[4],
            inout("x5") r[5],
            inout("x6") r[6],
            inout("x7") r[7],
            inout("x8") r[8],
            inout("x9") r[9],
            inout("x10") r[10],
            inout("x11") r[11],
            inout("x12") r[12],
            inout("x13") r[13],
            inout("x14") r[14],
            inout("x15") r[15],
            inout("x16") r[16],
            inout("x17") r[17],
            inout("x20") r[20],
            inout("x21") r[21],
            inout("x22") r[22],
            inout("x23") r[23],
            inout("x24") r[24],
            inout("x25") r[25],
            inout("x26") r[26],
            inout("x27") r[27],
            inout("x28") r[28],
            inout("x30") r[30],
            options(nostack),
        );
    }
    // Registers the block does not name keep their sentinels in `r`.
    let lost = (3..31)
        .filter(|&n| r[n] != want[n])
        .fold(0, |m, n| m | 1 << n);
    (r[0], lost)
}

/// [`sync_keeping`], which must come back with `want` (0 or an error) and every
/// register.
fn sync_expect(
    h: u64,
    flags: u64,
    offset: u64,
    len: u64,
    want: Result<(), Error>,
    what: &str,
) -> TestResult {
    let (r0, lost) = sync_keeping(h, flags, offset, len);
    check_eq!(lost, 0, "{}: registers not kept (bit n: xn)", what);
    let want = match want {
        Ok(()) => 0,
        Err(e) => e as u64,
    };
    check_eq!(r0, want, "{}: x0", what);
    Ok(())
}

/// Registers, whichever path takes the call.
fn registers(h: Handle, others: (Handle, Handle)) -> TestResult {
    let v = u64::from(h.0);
    for (start, end) in WORDS {
        sync_expect(v, start, 0, 0, Ok(()), "a START held")?;
        sync_expect(v, start, 0, 0, Err(Error::AlreadyStarted), "a second START")?;
        sync_expect(v, end, 0, 0, Ok(()), "its END")?;
        sync_expect(v, start, 64, PAGE - 64, Ok(()), "a ranged START")?;
        sync_expect(v, end, 64, PAGE - 64, Ok(()), "its END")?;
        sync_expect(
            v,
            start,
            PAGE,
            1,
            Err(Error::OutOfRange),
            "a START past the end",
        )?;
        sync_expect(
            v | 1 << 40,
            start,
            0,
            0,
            Err(Error::BadHandle),
            "upper bits",
        )?;
        sync_expect(
            u64::from(others.0 .0),
            start,
            0,
            0,
            Err(Error::WrongType),
            "a channel",
        )?;
        if start != START | READ {
            let ro = u64::from(others.1 .0);
            sync_expect(ro, start, 0, 0, Err(Error::AccessDenied), "no MAP_WRITE")?;
        }
    }
    // START READ through the read-only duplicate holds; so does its END.
    sync_expect(
        u64::from(others.1 .0),
        START | READ,
        0,
        0,
        Ok(()),
        "START READ, read-only",
    )?;
    sync_expect(u64::from(others.1 .0), END | READ, 0, 0, Ok(()), "its END")?;
    // With an access open on another buffer, the path that searches the table.
    let b = ok!(urt::buffer_create(PAGE, policy::CACHED));
    let bv = u64::from(b.0);
    sync_expect(bv, START | WRITE, 0, 0, Ok(()), "START, another buffer")?;
    for (start, end) in WORDS {
        sync_expect(v, start, 0, 0, Ok(()), "a START with another open")?;
        sync_expect(v, start, 0, 0, Err(Error::AlreadyStarted), "again")?;
        sync_expect(v, end, 0, 0, Ok(()), "its END")?;
    }
    sync_expect(
        bv,
        START | READ,
        0,
        0,
        Err(Error::AlreadyStarted),
        "the other, again",
    )?;
    sync_expect(bv, END | WRITE, 0, 0, Ok(()), "the other's END")?;
    ok!(urt::handle_close(b));
    Ok(())
}

/// A fault that is not an `svc`, with x8 = buffer_sync and x1 a START word, x0 a quiet
/// buffer's handle: the fault is handled (the legacy page mapped, the load done) and
/// the buffer is not started.
fn faults(quiet: Handle) -> TestResult {
    let pages = WORDS.len() as u64;
    let buf = ok!(urt::buffer_create(pages * PAGE, policy::CACHED));
    let res = ok!(urt::gpu_import(
        buf,
        64,
        (pages * PAGE / 256) as u32,
        format::B8G8R8X8
    ));
    let offset = ok!(urt::gpu_map_offset(res));
    let map = ok!(urt::gpu_mmap(
        offset,
        pages * PAGE,
        prot::READ | prot::WRITE,
        legacy::FAULT
    ));
    for (i, (start, end)) in WORDS.into_iter().enumerate() {
        let at = map as u64 + i as u64 * PAGE;
        ok!(clear_trace());
        let v: u64;
        // SAFETY: `at` is in the legacy mapping, readable; the first touch of its page
        // faults and the kernel resumes the load. x0..x3 and x8 are only inputs.
        unsafe {
            asm!(
                "ldr {v}, [{at}]",
                at = in(reg) at,
                v = lateout(reg) v,
                in("x0") u64::from(quiet.0),
                in("x1") start,
                in("x2") 0u64,
                in("x3") 0u64,
                in("x8") Sys::BufferSync as u64,
                options(nostack, readonly),
            );
        }
        check_eq!(v, 0, "the legacy page reads zero");
        let mut e = [Entry::default(); 8];
        let n = read_trace(&mut e)?;
        check!(
            e[..n].iter().any(|x| x.op == OP_FAULT && x.va == at),
            "the load faulted (else this shows nothing): {:?}",
            &e[..n]
        );
        ok!(
            urt::buffer_sync(quiet, start, 0, 0),
            "a START after the fault (word {})",
            start
        );
        ok!(urt::buffer_sync(quiet, end, 0, 0));
    }
    // A GPU resource's handle carries the mapping rights too: not a buffer still.
    let (_, rights) = ok!(urt::handle_info(res));
    check!(
        rights.contains(Rights::MAP_READ) && rights.contains(Rights::MAP_WRITE),
        "the resource's handle has the mapping rights ({:?}), else this shows nothing",
        rights
    );
    for (start, _) in WORDS {
        sync_expect(
            u64::from(res.0),
            start,
            0,
            0,
            Err(Error::WrongType),
            "a resource",
        )?;
    }
    ok!(unsafe { urt::buffer_unmap(map) });
    ok!(urt::handle_close(res));
    ok!(urt::handle_close(buf));
    Ok(())
}

/// The open-access table filled and emptied in every order, cycle after cycle.
fn filling() -> TestResult {
    const N: usize = 17;
    let mut b = [Handle(0); N];
    for h in b.iter_mut() {
        *h = ok!(urt::buffer_create(PAGE, policy::CACHED));
    }
    let (_, all) = ok!(urt::handle_info(b[3]));
    let dup = ok!(urt::handle_dup(b[3], all));
    let mut rng = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for cycle in 0..40 {
        let word = |i: usize| WORDS[(i + cycle) % 3];
        for (i, &h) in b.iter().enumerate().take(N - 1) {
            ok!(
                urt::buffer_sync(h, word(i).0, 0, 0),
                "cycle {} START {}",
                cycle,
                i
            );
        }
        expect_err!(
            urt::buffer_sync(b[N - 1], word(N - 1).0, 0, 0),
            Error::TableFull,
            "cycle {}: a 17th START",
            cycle
        );
        expect_err!(
            urt::buffer_sync(dup, START | READ, 0, 0),
            Error::AlreadyStarted,
            "cycle {}: a START through a duplicate",
            cycle
        );
        // END a random one, START the 17th in its place, then END all in a random order.
        let gone = (next() % (N as u64 - 1)) as usize;
        ok!(urt::buffer_sync(b[gone], word(gone).1, 0, 0));
        ok!(
            urt::buffer_sync(b[N - 1], word(N - 1).0, 0, 0),
            "cycle {}: the 17th",
            cycle
        );
        let mut open: [usize; N - 1] = core::array::from_fn(|i| if i == gone { N - 1 } else { i });
        for k in (1..open.len()).rev() {
            open.swap(k, (next() % (k as u64 + 1)) as usize);
        }
        for &i in &open {
            ok!(
                urt::buffer_sync(b[i], word(i).1, 0, 0),
                "cycle {} END {}",
                cycle,
                i
            );
            expect_err!(urt::buffer_sync(b[i], word(i).1, 0, 0), Error::NotStarted);
        }
    }
    ok!(urt::handle_close(dup));
    for h in b {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

/// Every START and END counted once (and the `counters` call).
fn counted(h: Handle) -> TestResult {
    let before = ok!(urt::counters()).syscalls;
    for _ in 0..10 {
        for (start, end) in WORDS {
            ok!(urt::buffer_sync(h, start, 0, 0));
            ok!(urt::buffer_sync(h, end, 0, 0));
        }
    }
    check_eq!(
        ok!(urt::counters()).syscalls - before,
        61,
        "syscalls counted: 60 syncs and one counters call"
    );
    Ok(())
}

/// Handle values: a slot reused many times (each old value stale), forged ones.
fn handles() -> TestResult {
    let keep = ok!(urt::buffer_create(PAGE, policy::CACHED));
    let mut old = ok!(urt::buffer_create(PAGE, policy::CACHED));
    ok!(urt::handle_close(old));
    for round in 0..200 {
        let h = ok!(urt::buffer_create(2 * PAGE, policy::CACHED));
        check_eq!(
            h.0 & 0xffff,
            old.0 & 0xffff,
            "round {}: the slot reused",
            round
        );
        check!(h != old, "round {}: a new generation", round);
        let (start, end) = WORDS[round % 3];
        expect_err!(
            urt::buffer_sync(old, start, 0, 0),
            Error::BadHandle,
            "round {}: the old value",
            round
        );
        ok!(
            urt::buffer_sync(h, start, PAGE, PAGE),
            "round {}: the new one",
            round
        );
        expect_err!(urt::buffer_sync(old, end, PAGE, PAGE), Error::BadHandle);
        ok!(urt::buffer_sync(h, end, PAGE, PAGE));
        ok!(urt::handle_close(h));
        old = h;
    }
    let v = u64::from(keep.0);
    for (forged, what) in [
        (v & !0xffff, "slot 0"),
        (v | 0xffff, "the last slot"),
        ((v & !0xffff) | 0x8000, "a slot beyond the table"),
        (v | 1 << 32, "bit 32"),
        (v | 1 << 63, "bit 63"),
        (v ^ 1 << 16, "another generation"),
    ] {
        for (start, _) in WORDS {
            let (r0, lost) = sync_keeping(forged, start, 0, 0);
            check_eq!(
                (r0, lost),
                (Error::BadHandle as u64, 0),
                "{} ({:#x})",
                what,
                forged
            );
        }
    }
    // Ranges at the edge.
    for (start, end) in WORDS {
        ok!(urt::buffer_sync(keep, start, PAGE - 1, 1));
        ok!(urt::buffer_sync(keep, end, PAGE - 1, 1));
        for (off, len) in [
            (PAGE, 1),
            (0, PAGE + 1),
            (1, 0),
            (u64::MAX, 2),
            (2, u64::MAX),
        ] {
            expect_err!(
                urt::buffer_sync(keep, start, off, len),
                Error::OutOfRange,
                "{} {}",
                off,
                len
            );
        }
    }
    ok!(urt::handle_close(keep));
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    let h = ok!(urt::buffer_create(PAGE, policy::CACHED));
    let (c0, c1) = ok!(urt::channel_create());
    let (_, all) = ok!(urt::handle_info(h));
    let ro = ok!(urt::handle_dup(h, Rights(all.0 & !Rights::MAP_WRITE.0)));
    registers(h, (c0, ro))?;
    counted(h)?;
    faults(h)?;
    filling()?;
    handles()?;
    for x in [h, c0, c1, ro] {
        ok!(urt::handle_close(x));
    }
    Ok(())
}

utests::test_main!(test);
