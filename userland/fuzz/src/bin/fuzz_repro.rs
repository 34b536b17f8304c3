//! Minimal reproducers of the kernel deviations the fuzzer found, kept as regression
//! tests (boot with `cargo xtask fuzz --init fuzz_repro`; `cargo xtask test` runs it as
//! `qemu/fuzz-repro`). Each prints `repro NAME: BUG ...` or `repro NAME: ok`; the program
//! exits with the number of bugs still present. Cases 2, 6 and 7 were deviations from an
//! older SYSCALLS.md, which now documents what the kernel does; they check that it
//! still does.

#![no_std]
#![no_main]

use fuzz::urt::{
    self, alloc::vec::Vec, format, policy, sync, Error, Handle, Rights, StartArgs, Stat, Sys,
};
use fuzz::{code_name, raw};

#[path = "../repro_depth.rs"]
mod depth;
#[path = "../repro_heap.rs"]
mod heap;

fn report(name: &str, got: u64, doc: &str, bug: bool, bugs: &mut i32) {
    if bug {
        *bugs += 1;
        urt::println!(
            "repro {name}: BUG: got {} ({got}), SYSCALLS.md says {doc}",
            code_name(got)
        );
    } else {
        urt::println!("repro {name}: ok ({})", code_name(got));
    }
}

fn fill_table() -> Vec<Handle> {
    let mut v = Vec::new();
    while let Ok(h) = urt::buffer_create(4096, policy::CACHED) {
        v.push(h);
    }
    v
}

fn close(v: Vec<Handle>) {
    for h in v {
        let _ = urt::handle_close(h);
    }
}

fn settled(want: u64) -> u64 {
    let mut f = 0;
    for _ in 0..10 {
        f = urt::stats(Stat::FreeFrames).unwrap_or(0);
        if f == want {
            break;
        }
        let _ = urt::sleep_ns(10_000_000);
    }
    f
}

fn main(args: StartArgs) -> i32 {
    // Started with a handle: a link of the account-depth chain.
    if args.count > 0 {
        return depth::link(&args);
    }
    let mut bugs = 0;

    // 0. The kernel heap back exactly where it was (first: before anything here has
    //    used the GPU).
    heap::cases(&mut bugs);

    // 1. handle_dup: a handle that is not live with rights above bit 31. SYSCALLS.md
    //    checks the handle first (BadHandle); the kernel converts the rights first.
    // SAFETY: no pointer; the handle names nothing of ours.
    let r = unsafe { raw(Sys::HandleDup as u64, [0xdead_0001, 1 << 32, 0, 0, 0, 0]) };
    report(
        "dup-order",
        r[0],
        "BadHandle",
        r[0] != Error::BadHandle as u64,
        &mut bugs,
    );

    // 2. buffer_sync: a START on a 17th buffer while 16 are open: TableFull, which
    //    SYSCALLS.md now documents ("a START while 16 are open in this task").
    let bufs: Vec<Handle> = (0..17)
        .filter_map(|_| urt::buffer_create(4096, policy::CACHED).ok())
        .collect();
    let mut last = 0;
    for &b in &bufs {
        last = match urt::buffer_sync(b, sync::START | sync::READ, 0, 0) {
            Ok(()) => 0,
            Err(e) => e as u64,
        };
    }
    report(
        "sync-17th-start",
        last,
        "TableFull",
        last != Error::TableFull as u64,
        &mut bugs,
    );
    for &b in &bufs {
        let _ = urt::buffer_sync(b, sync::END | sync::READ, 0, 0);
    }
    close(bufs);

    // 3. buffer_create with a full table and size > 64 MiB: TooLarge comes before
    //    TableFull in SYSCALLS.md; the kernel checks the table first.
    let full = fill_table();
    // SAFETY: no pointer.
    let r = unsafe { raw(Sys::BufferCreate as u64, [(64 << 20) + 1, 0, 0, 0, 0, 0]) };
    report(
        "create-order",
        r[0],
        "TooLarge",
        r[0] != Error::TooLarge as u64,
        &mut bugs,
    );

    // 4. spawn with a full table and a name that is not UTF-8: TableFull comes before
    //    NotFound in SYSCALLS.md; the kernel rejects the name first.
    let name = [0xffu8, 0xfe];
    // SAFETY: reads our name array only.
    let r = unsafe { raw(Sys::Spawn as u64, [name.as_ptr() as u64, 2, 0, 0, 0, 0]) };
    report(
        "spawn-order",
        r[0],
        "TableFull",
        r[0] != Error::TableFull as u64,
        &mut bugs,
    );
    close(full);

    // 5. START, then close the last handle: "its pages are freed when the last handle
    //    and the last mapping are gone", but the task's open START keeps the buffer (and
    //    one of its 16 START slots) until the task exits.
    let free0 = settled(urt::stats(Stat::FreeFrames).unwrap_or(0));
    if let Ok(b) = urt::buffer_create(1 << 20, policy::CACHED) {
        let _ = urt::buffer_sync(b, sync::START | sync::WRITE, 0, 0);
        let _ = urt::handle_close(b);
        let free = settled(free0);
        urt::println!(
            "repro close-with-start: {} frames free before, {} after closing",
            free0,
            free
        );
        report(
            "close-with-start",
            0,
            "the buffer's 256 frames back",
            free != free0,
            &mut bugs,
        );
    }

    // 6. A resource under 16x16 pixels is accepted by gpu_import, and its present's
    //    fence fails (QEMU's SET_SCANOUT refuses such a scanout): DeviceError, as
    //    SYSCALLS.md now says ("The device may refuse what it cannot display").
    if let Ok(b) = urt::buffer_create(4096, policy::CACHED) {
        if let Ok(res) = urt::gpu_import(b, 8, 8, format::B8G8R8X8) {
            let r = match urt::gpu_present(res, 0, 0, 8, 8) {
                Ok(f) => urt::fence_wait(f, 1_000_000_000).map_or_else(|e| e as u64, |_| 0),
                Err(e) => e as u64,
            };
            report(
                "present-8x8",
                r,
                "DeviceError (the device refuses the scanout)",
                r != Error::DeviceError as u64,
                &mut bugs,
            );
            let _ = urt::handle_close(res);
        }
        let _ = urt::handle_close(b);
    }

    // 7. A handle queued at end b, b closed, a still open: the messages queued for an
    //    end that closes are dropped with it, and their handles closed (SYSCALLS.md,
    //    "Channels"): the buffer's frames come back at once.
    let free0 = settled(urt::stats(Stat::FreeFrames).unwrap_or(0));
    if let (Ok((a, b)), Ok(buf)) = (
        urt::channel_create(),
        urt::buffer_create(1 << 20, policy::CACHED),
    ) {
        let _ = urt::channel_send(a, b"x", &[buf]);
        let _ = urt::handle_close(b);
        let free = settled(free0);
        report(
            "queue-dropped-with-its-end",
            0,
            "the queued buffer freed with the end it was queued for",
            free != free0,
            &mut bugs,
        );
        let _ = urt::handle_close(a);
    }
    // 8. Accounts are at most 16 deep.
    depth::case(&mut bugs);

    let _ = Rights::NONE;
    urt::println!("repro: {bugs} deviations present");
    bugs
}

urt::entry!(main);
