//! Every documented error of the buffer calls and `trace` (14..=19), for its bad input,
//! and "a call that fails changes nothing".
//!
//! Where the table's order decides between two errors (BadHandle before WrongType before
//! InvalidArgument before AccessDenied for `buffer_map`; BadFlags before OutOfRange
//! before AccessDenied before AlreadyStarted/NotStarted for `buffer_sync`; InvalidArgument
//! before TooLarge for `buffer_create`) the test checks that too. Handles without
//! `MAP_READ` / `MAP_WRITE` are made with `handle_dup`. Not covered: `NoMemory`.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use urt::abi::{USER_END, USER_MAP_END, USER_STACK_TOP};
use urt::limits::{MAX_BUFFER, MAX_HANDLES, MAX_MAPPINGS};
use urt::sync::{END, READ, RW, START, WRITE};
use urt::trace::Entry;
use urt::{policy, prot, Error, ExitHow, Handle, Rights, StartArgs, Stat, Sys};
use utests::{check, check_eq, expect_err, expect_raw, ok, Failed, TestResult};

const KERNEL_IMAGE: u64 = 0xffff_ff80_0000_0000;
const SIZE: u64 = 2 * 4096;
const MAP_READ: Rights = Rights::MAP_READ;
const MAP_WRITE: Rights = Rights::MAP_WRITE;
const SHARE: Rights = Rights::SHARE;

static RODATA: [u64; 16] = [0x1111; 16];

/// Raw call, for inputs the typed wrappers cannot express.
fn sys(num: Sys, args: [u64; 6]) -> [u64; 3] {
    // SAFETY: every raw call in this test passes pointers that are either rejected by the
    // kernel or name memory the test owns and does not rely on; handle arguments are
    // not live handles, or handles the call cannot close or move.
    unsafe { utests::raw(num, args) }
}

fn a4(a: u64, b: u64, c: u64, d: u64) -> [u64; 6] {
    [a, b, c, d, 0, 0]
}

/// Handle values that are not live handles of this task, derived from the live handle
/// `h`, plus `stale` (a closed one).
fn forged(h: Handle, stale: Handle) -> Vec<(u64, &'static str)> {
    let slot = h.slot().unwrap_or(0);
    let g = h.generation();
    alloc::vec![
        (0, "0"),
        (1 << 16, "slot field 0 with a generation"),
        (0xdead_beef, "random"),
        (u32::MAX as u64, "u32::MAX"),
        (Handle::new(MAX_HANDLES as u16, 1).0 as u64, "slot 256"),
        (Handle::new(200, 1).0 as u64, "unused slot 200"),
        (
            Handle::new(slot, g.wrapping_add(1)).0 as u64,
            "right slot, next generation"
        ),
        (h.0 as u64 | 1 << 32, "live value with bit 32 set"),
        (
            h.0 as u64 | 0xffff_ffff_0000_0000,
            "live value, high half set"
        ),
        (u64::MAX, "u64::MAX"),
        (stale.0 as u64, "stale (closed) buffer handle"),
    ]
}

/// Handles of other kinds: a channel end and an ended task's handle.
struct Others {
    chan: Handle,
    peer: Handle,
    task: Handle,
}

impl Others {
    fn new() -> Result<Self, Failed> {
        let (chan, peer) = ok!(urt::channel_create());
        let task = ok!(urt::spawn("h_exit", &[]));
        let (code, how) = ok!(urt::wait(task));
        check!(
            how == ExitHow::Exited && code == utests::H_EXIT_CODE,
            "h_exit ended {:?} {}",
            how,
            code
        );
        Ok(Others { chan, peer, task })
    }

    fn list(&self) -> [(Handle, &'static str); 2] {
        [(self.chan, "a channel end"), (self.task, "a task")]
    }

    fn close(self) -> TestResult {
        for h in [self.chan, self.peer, self.task] {
            ok!(urt::handle_close(h));
        }
        Ok(())
    }
}

/// Duplicates of a channel end into every free slot (the table is then full).
fn fill_table(src: Handle) -> Result<Vec<Handle>, Failed> {
    let mut v = Vec::with_capacity(MAX_HANDLES);
    loop {
        match urt::handle_dup(src, Rights::NONE) {
            Ok(h) => v.push(h),
            Err(Error::TableFull) => return Ok(v),
            Err(e) => check!(false, "filling the table: dup #{}: {:?}", v.len(), e),
        }
        check!(v.len() <= MAX_HANDLES, "more than {} handles", MAX_HANDLES);
    }
}

fn create(o: &Others) -> TestResult {
    let free0 = ok!(urt::stats(Stat::FreeFrames));
    for (size, pol, err, what) in [
        (0, policy::CACHED, Error::InvalidArgument, "size 0, cached"),
        (
            0,
            policy::UNCACHED,
            Error::InvalidArgument,
            "size 0, uncached",
        ),
        (4096, 2, Error::InvalidArgument, "policy 2"),
        (4096, 1 << 32, Error::InvalidArgument, "policy 2^32"),
        (4096, u64::MAX, Error::InvalidArgument, "policy u64::MAX"),
        (0, 2, Error::InvalidArgument, "size 0 and policy 2"),
        (
            MAX_BUFFER + 1,
            policy::CACHED,
            Error::TooLarge,
            "64 MiB + 1",
        ),
        (
            MAX_BUFFER + 4096,
            policy::UNCACHED,
            Error::TooLarge,
            "64 MiB + 4 KiB",
        ),
        (1 << 40, policy::CACHED, Error::TooLarge, "1 TiB"),
        (u64::MAX, policy::CACHED, Error::TooLarge, "u64::MAX"),
        (
            MAX_BUFFER + 1,
            2,
            Error::InvalidArgument,
            "unknown policy before TooLarge",
        ),
    ] {
        expect_err!(
            urt::buffer_create(size, pol),
            err,
            "buffer_create({:#x}, {}): {}",
            size,
            pol,
            what
        );
    }

    // Sizes round up to pages.
    for (size, want) in [(1, 4096), (4095, 4096), (4096, 4096), (4097, 8192)] {
        let h = ok!(urt::buffer_create(size, policy::CACHED), "size {}", size);
        check_eq!(
            ok!(urt::buffer_info(h)).size,
            want,
            "size of a {}-byte buffer",
            size
        );
        ok!(urt::handle_close(h));
    }

    // TableFull, and nothing allocated for it.
    let mut fill = fill_table(o.chan)?;
    let free1 = ok!(urt::stats(Stat::FreeFrames));
    expect_err!(
        urt::buffer_create(4096, policy::CACHED),
        Error::TableFull,
        "create with a full handle table"
    );
    check_eq!(
        ok!(urt::stats(Stat::FreeFrames)),
        free1,
        "free frames after a create that failed with TableFull"
    );
    let last = fill.pop();
    if let Some(h) = last {
        ok!(urt::handle_close(h));
    }
    let h = ok!(
        urt::buffer_create(4096, policy::CACHED),
        "create into the freed slot"
    );
    ok!(urt::handle_close(h));
    for h in fill {
        ok!(urt::handle_close(h));
    }
    check_eq!(
        ok!(utests::free_frames_settled(free0)),
        free0,
        "free frames after the create cases"
    );
    Ok(())
}

fn map(h: Handle, stale: Handle, o: &Others) -> TestResult {
    for (v, what) in forged(h, stale) {
        for p in [prot::READ, 0] {
            expect_raw!(
                sys(Sys::BufferMap, a4(v, p, 0, 0)),
                Error::BadHandle,
                "map {:#x} ({}) prot {}",
                v,
                what,
                p
            );
        }
    }
    for (x, what) in o.list() {
        for p in [prot::READ, 0] {
            expect_err!(
                urt::buffer_map(x, p),
                Error::WrongType,
                "map {} prot {}",
                what,
                p
            );
        }
    }
    let no_read = ok!(urt::handle_dup(h, MAP_WRITE.with(SHARE)));
    for p in [0, 4, 5, 7, 8, 1 << 32 | 1, u64::MAX] {
        expect_err!(
            urt::buffer_map(h, p),
            Error::InvalidArgument,
            "map prot {:#x}",
            p
        );
        expect_err!(
            urt::buffer_map(no_read, p),
            Error::InvalidArgument,
            "prot {:#x} checked before the rights",
            p
        );
    }
    // AccessDenied: no MAP_READ (whatever the prot), write without MAP_WRITE.
    let ro = ok!(urt::handle_dup(h, MAP_READ.with(SHARE)));
    let none = ok!(urt::handle_dup(h, Rights::NONE));
    let device = ok!(urt::handle_dup(h, Rights::DEVICE));
    for (x, what) in [
        (no_read, "MAP_WRITE | SHARE"),
        (none, "no rights"),
        (device, "DEVICE"),
    ] {
        for p in [1, 2, 3] {
            expect_err!(
                urt::buffer_map(x, p),
                Error::AccessDenied,
                "map prot {} with {}",
                p,
                what
            );
        }
    }
    for p in [2, 3] {
        expect_err!(
            urt::buffer_map(ro, p),
            Error::AccessDenied,
            "map prot {} without MAP_WRITE",
            p
        );
    }
    let m = ok!(
        urt::buffer_map(ro, prot::READ),
        "read-only map with MAP_READ"
    );
    // SAFETY: nothing references the mapping.
    ok!(unsafe { urt::buffer_unmap(m) });

    // TableFull at the 65th mapping (this task has none open now).
    let mut maps: Vec<*mut u8> = Vec::with_capacity(MAX_MAPPINGS);
    for i in 0..MAX_MAPPINGS {
        maps.push(ok!(
            urt::buffer_map(if i % 2 == 0 { h } else { ro }, prot::READ),
            "mapping #{}",
            i
        ));
    }
    let mut sorted: Vec<u64> = maps.iter().map(|&p| p as u64).collect();
    sorted.sort_unstable();
    for w in sorted.windows(2) {
        check!(
            w[1] >= w[0] + SIZE,
            "mappings at {:#x} and {:#x} overlap ({} bytes each)",
            w[0],
            w[1],
            SIZE
        );
    }
    expect_err!(
        urt::buffer_map(h, prot::READ),
        Error::TableFull,
        "65th mapping"
    );
    expect_err!(
        urt::buffer_map(ro, prot::READ | prot::WRITE),
        Error::AccessDenied,
        "AccessDenied before TableFull"
    );
    let other = ok!(urt::buffer_create(4096, policy::UNCACHED));
    expect_err!(
        urt::buffer_map(other, prot::READ),
        Error::TableFull,
        "65th mapping, of another buffer"
    );
    ok!(urt::handle_close(other));
    if let Some(p) = maps.pop() {
        // SAFETY: nothing references the mapping.
        ok!(unsafe { urt::buffer_unmap(p) });
    }
    maps.push(ok!(urt::buffer_map(h, prot::WRITE), "map after an unmap"));
    for p in maps {
        // SAFETY: nothing references the mappings.
        ok!(unsafe { urt::buffer_unmap(p) });
    }
    for x in [no_read, ro, none, device] {
        ok!(urt::handle_close(x));
    }
    Ok(())
}

fn unmap(h: Handle) -> TestResult {
    let m = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    let at = m as u64;
    let text = unmap as *const () as u64;
    for addr in [
        0,
        1,
        4096,
        at + 1,
        at + 8,
        at + 4096,
        at + SIZE,
        at - 4096,
        USER_MAP_END,
        text,
        RODATA.as_ptr() as u64,
        USER_STACK_TOP - 4096,
        USER_END,
        KERNEL_IMAGE,
        u64::MAX,
        !0xfff,
    ] {
        // SAFETY: none of these is the start of a mapping, so the call must fail and
        // change nothing.
        let r = unsafe { urt::buffer_unmap(addr as *mut u8) };
        expect_err!(r, Error::InvalidArgument, "unmap {:#x}", addr);
    }
    // The mapping survived every failed unmap (written under START/END WRITE, as every
    // CPU write must be on non-coherent hardware).
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: `m` is our live read-write mapping of SIZE bytes; nothing references it.
    let v = unsafe {
        let w = m as *mut u64;
        w.write_volatile(0x1234);
        w.add(SIZE as usize / 8 - 1).write_volatile(0x5678);
        (
            w.read_volatile(),
            w.add(SIZE as usize / 8 - 1).read_volatile(),
        )
    };
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    check_eq!(v, (0x1234, 0x5678), "mapping after failed unmaps");
    // SAFETY: nothing references the mapping.
    ok!(unsafe { urt::buffer_unmap(m) });
    // SAFETY: as above; it is gone, so this must fail.
    let r = unsafe { urt::buffer_unmap(m) };
    expect_err!(r, Error::InvalidArgument, "unmap twice");
    Ok(())
}

fn sync(h: Handle, stale: Handle, o: &Others) -> TestResult {
    let s = |x: Handle, f: u64, off: u64, len: u64| urt::buffer_sync(x, f, off, len);
    for (v, what) in forged(h, stale) {
        for f in [START | READ, 0] {
            expect_raw!(
                sys(Sys::BufferSync, a4(v, f, 0, 0)),
                Error::BadHandle,
                "sync {:#x} ({}) flags {:#x}",
                v,
                what,
                f
            );
        }
    }
    for (x, what) in o.list() {
        for f in [START | READ, 0] {
            expect_err!(
                s(x, f, 0, 0),
                Error::WrongType,
                "sync {} flags {:#x}",
                what,
                f
            );
        }
    }

    // BadFlags (before the range and the rights).
    let none = ok!(urt::handle_dup(h, Rights::NONE));
    for f in [
        0,
        START,
        END,
        READ,
        WRITE,
        RW,
        START | END,
        START | END | READ,
        START | END | RW,
        START | READ | 1 << 16,
        END | WRITE | 1 << 16,
        START | READ | 1 << 4,
        START | READ | 1 << 32,
        START | READ | 1 << 63,
        u64::MAX,
    ] {
        expect_err!(s(h, f, 0, 0), Error::BadFlags, "flags {:#x}", f);
        expect_err!(
            s(h, f, SIZE, 1),
            Error::BadFlags,
            "flags {:#x} checked before the range",
            f
        );
        expect_err!(
            s(none, f, 0, 0),
            Error::BadFlags,
            "flags {:#x} checked before the rights",
            f
        );
    }

    // OutOfRange (before the rights).
    for (off, len) in [
        (SIZE, 1),
        (0, SIZE + 1),
        (SIZE - 1, 2),
        (1, SIZE),
        (4096, 4097),
        (SIZE, 0),
        (1, 0),
        (4096, 0),
        (u64::MAX, 1),
        (u64::MAX, 2),
        (1, u64::MAX),
        (8, u64::MAX - 7),
        (SIZE / 2, u64::MAX - SIZE / 2 + 1),
        (u64::MAX, u64::MAX),
    ] {
        for f in [START | READ, END | WRITE] {
            expect_err!(
                s(h, f, off, len),
                Error::OutOfRange,
                "flags {:#x} offset {:#x} len {:#x}",
                f,
                off,
                len
            );
        }
        expect_err!(
            s(none, START | WRITE, off, len),
            Error::OutOfRange,
            "range checked before the rights (offset {:#x} len {:#x})",
            off,
            len
        );
    }
    // Nothing was opened by those: END finds no START.
    for d in [READ, WRITE, RW] {
        expect_err!(
            s(h, END | d, 0, 0),
            Error::NotStarted,
            "END {:#x} without START",
            d
        );
    }
    // The edges are in range.
    for (off, len) in [(0, SIZE), (SIZE - 1, 1), (0, 1), (4095, 2)] {
        ok!(
            s(h, START | RW, off, len),
            "START RW offset {} len {}",
            off,
            len
        );
        ok!(
            s(h, END | RW, off, len),
            "END RW offset {} len {}",
            off,
            len
        );
    }

    // AccessDenied: no MAP_READ (any direction, START or END); WRITE/RW without
    // MAP_WRITE.
    let no_read = ok!(urt::handle_dup(h, MAP_WRITE.with(SHARE)));
    let device = ok!(urt::handle_dup(h, Rights::DEVICE));
    let ro = ok!(urt::handle_dup(h, MAP_READ.with(SHARE)));
    for (x, what) in [
        (no_read, "MAP_WRITE"),
        (none, "no rights"),
        (device, "DEVICE"),
    ] {
        for f in [
            START | READ,
            START | WRITE,
            START | RW,
            END | READ,
            END | WRITE,
        ] {
            expect_err!(
                s(x, f, 0, 0),
                Error::AccessDenied,
                "flags {:#x} with {}",
                f,
                what
            );
        }
    }
    for f in [START | WRITE, START | RW, END | WRITE, END | RW] {
        expect_err!(
            s(ro, f, 0, 0),
            Error::AccessDenied,
            "flags {:#x} without MAP_WRITE",
            f
        );
        expect_err!(
            s(ro, f, 100, 10),
            Error::AccessDenied,
            "flags {:#x} on a range without MAP_WRITE",
            f
        );
    }
    // ... and before AlreadyStarted.
    ok!(s(h, START | READ, 0, 0));
    expect_err!(
        s(ro, START | WRITE, 0, 0),
        Error::AccessDenied,
        "AccessDenied before AlreadyStarted"
    );
    expect_err!(
        s(no_read, START | READ, 0, 0),
        Error::AccessDenied,
        "AccessDenied before AlreadyStarted"
    );
    ok!(s(h, END | READ, 0, 0), "END after the denied STARTs");
    // A read-only holder may START/END READ.
    ok!(s(ro, START | READ, 0, 0));
    ok!(s(ro, END | READ, 0, 0));

    // NotStarted: END with nothing open, or in another direction than the START.
    for d in [READ, WRITE, RW] {
        expect_err!(
            s(h, END | d, 0, 0),
            Error::NotStarted,
            "END {:#x} with none open",
            d
        );
    }
    for (open, wrong) in [
        (READ, [WRITE, RW]),
        (WRITE, [READ, RW]),
        (RW, [READ, WRITE]),
    ] {
        ok!(s(h, START | open, 100, 1000), "START {:#x}", open);
        for w in wrong {
            expect_err!(
                s(h, END | w, 100, 1000),
                Error::NotStarted,
                "END {:#x} after START {:#x}",
                w,
                open
            );
        }
        // AlreadyStarted: a second START, any direction, through any handle to the
        // buffer; none of them replaces the open one.
        for d in [READ, WRITE, RW] {
            expect_err!(
                s(h, START | d, 0, 0),
                Error::AlreadyStarted,
                "START {:#x} while START {:#x} is open",
                d,
                open
            );
        }
        expect_err!(
            s(ro, START | READ, 0, 0),
            Error::AlreadyStarted,
            "START READ through a duplicate while START {:#x} is open",
            open
        );
        ok!(
            s(h, END | open, 100, 1000),
            "END {:#x} closes the original START",
            open
        );
        expect_err!(
            s(h, END | open, 100, 1000),
            Error::NotStarted,
            "END {:#x} twice",
            open
        );
    }
    // A START on another buffer is independent.
    let other = ok!(urt::buffer_create(4096, policy::CACHED));
    ok!(s(h, START | WRITE, 0, 0));
    ok!(s(other, START | READ, 0, 0), "START on another buffer");
    ok!(s(other, END | READ, 0, 0));
    ok!(s(h, END | WRITE, 0, 0));
    ok!(urt::handle_close(other));

    for x in [none, no_read, device, ro] {
        ok!(urt::handle_close(x));
    }
    Ok(())
}

fn info(h: Handle, stale: Handle, o: &Others) -> TestResult {
    for (v, what) in forged(h, stale) {
        expect_raw!(
            sys(Sys::BufferInfo, a4(v, 0, 0, 0)),
            Error::BadHandle,
            "info {:#x} ({})",
            v,
            what
        );
    }
    for (x, what) in o.list() {
        expect_err!(urt::buffer_info(x), Error::WrongType, "info of {}", what);
    }
    // Any rights suffice; duplicates name the same buffer, other buffers differ.
    let i = ok!(urt::buffer_info(h));
    let none = ok!(urt::handle_dup(h, Rights::NONE));
    check_eq!(
        ok!(urt::buffer_info(none)),
        i,
        "info through a handle without rights"
    );
    ok!(urt::handle_close(none));
    let other = ok!(urt::buffer_create(3 * 4096, policy::UNCACHED));
    let j = ok!(urt::buffer_info(other));
    check!(
        j.id != i.id && j.size == 3 * 4096 && j.policy == policy::UNCACHED,
        "second buffer {:?}, first {:?}",
        j,
        i
    );
    ok!(urt::handle_close(other));
    // The raw x2 is exactly policy | id << 32.
    let r = sys(Sys::BufferInfo, a4(h.0 as u64, 0, 0, 0));
    check_eq!(r, [0, SIZE, i.policy | i.id << 32], "raw buffer_info");
    Ok(())
}

fn trace(h: Handle) -> TestResult {
    // Have something recorded where the mode records anything.
    ok!(urt::trace_clear(), "trace(CLEAR)");
    ok!(urt::buffer_sync(h, START | READ, 100, 1000));
    ok!(urt::buffer_sync(h, END | READ, 100, 1000));
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    let (_, recorded) = ok!(urt::trace_read(&mut []), "trace(READ) of 0 entries");

    for cmd in [2, 3, 0x100, 1 << 32, 1 << 32 | 1, u64::MAX] {
        let mut buf = [Entry::default(); 4];
        let r = sys(Sys::Trace, a4(cmd, buf.as_mut_ptr() as u64, 4, 0));
        expect_raw!(r, Error::InvalidArgument, "trace cmd {:#x}", cmd);
        check!(
            buf.iter().all(|e| *e == Entry::default()),
            "trace cmd {:#x} wrote the buffer",
            cmd
        );
    }

    let mut arr = [Entry {
        op: 0xaa,
        buffer: 0xbb,
        offset: 0xcc,
        len: 0xdd,
        va: 0xee,
    }; 4];
    let sentinel = arr;
    let base = arr.as_mut_ptr() as u64;
    for (ptr, cap, what) in [
        (0, 1, "null"),
        (8, 1, "page 0"),
        (base + 4, 1, "misaligned by 4"),
        (base + 1, 1, "misaligned by 1"),
        (RODATA.as_ptr() as u64, 1, "read-only data"),
        (unmap as *const () as u64 & !7, 1, "text"),
        (KERNEL_IMAGE, 1, "kernel image"),
        (USER_MAP_END - 4096, 1, "unmapped buffer area"),
        (USER_END - 8, 1, "crosses 2^48"),
        (USER_STACK_TOP - 16, 1, "runs off the top of the stack"),
        (base, u64::MAX, "cap u64::MAX"),
        (base, u64::MAX / 40 + 1, "cap * 40 overflows"),
        (base, 1 << 40, "cap far past the array"),
        (!7, 1, "wraps around"),
    ] {
        let r = sys(Sys::Trace, a4(urt::trace::READ, ptr, cap, 0));
        expect_raw!(
            r,
            Error::BadAddress,
            "trace read to {} ({:#x}, cap {:#x})",
            what,
            ptr,
            cap
        );
    }
    check!(arr == sentinel, "a failed trace read wrote our array");
    // Capacity 0 never touches memory, whatever the pointer.
    for ptr in [0, KERNEL_IMAGE, u64::MAX] {
        let r = sys(Sys::Trace, a4(urt::trace::READ, ptr, 0, 0));
        check_eq!(
            r,
            [0, 0, recorded as u64],
            "trace read of 0 entries at {:#x}",
            ptr
        );
    }
    // Nothing was consumed or cleared by the failures.
    check_eq!(
        ok!(urt::trace_read(&mut arr)),
        (recorded.min(4), recorded),
        "trace after the failed reads"
    );
    ok!(urt::trace_clear());
    check_eq!(ok!(urt::trace_read(&mut arr)), (0, 0), "trace after CLEAR");
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    let o = Others::new()?;
    let stale = ok!(urt::buffer_create(4096, policy::CACHED));
    ok!(urt::handle_close(stale));
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    check!(
        h != stale,
        "a new handle reuses the closed value {:#x}",
        h.0
    );
    expect_err!(
        urt::handle_dup(h, Rights(1 << 8)),
        Error::InvalidArgument,
        "undefined right on a buffer"
    );

    create(&o)?;
    map(h, stale, &o)?;
    unmap(h)?;
    sync(h, stale, &o)?;
    info(h, stale, &o)?;
    trace(h)?;

    ok!(urt::handle_close(h));
    o.close()
}

utests::test_main!(test);
