//! Two tasks cannot see each other's memory. The test spawns *itself* (same binary,
//! same layout) and hands the child a channel end; the child looks at the same virtual
//! addresses the parent has written (a `.data` static, a `.bss` static, a heap block,
//! the lowest stack word), must see its own initial values, writes its own, and reports.
//! The parent's values must be unchanged, and vice versa.
//!
//! Mode: started with no handles (by the harness) = parent; with one handle = child.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use urt::abi::{USER_STACK_SIZE, USER_STACK_TOP};
use urt::{ExitHow, Handle, StartArgs};
use utests::{check, check_eq, ok, recv_u64, recv_u64s, send_u64, send_u64s, TestResult};

/// Initial value of the `.data` static (non-zero, so it is in `.data`, not `.bss`).
const INITIAL: u64 = 0x1234_5678_9abc_def0;
const PARENT: u64 = 0xaaaa_0000_aaaa_0001;
const CHILD: u64 = 0xcccc_0000_cccc_0002;

static DATA: AtomicU64 = AtomicU64::new(INITIAL);
static BSS: AtomicU64 = AtomicU64::new(0);

/// Lowest word of the stack: mapped, and far below any frame this program uses.
const STACK_BOTTOM: u64 = USER_STACK_TOP - USER_STACK_SIZE;

fn stack_word() -> u64 {
    // SAFETY: the lowest 8 bytes of this task's own 64 KiB stack are mapped read-write
    // and never used by its frames (which stay within a few KiB of the top).
    unsafe { (STACK_BOTTOM as *const u64).read_volatile() }
}

fn set_stack_word(v: u64) {
    // SAFETY: as in `stack_word`.
    unsafe { (STACK_BOTTOM as *mut u64).write_volatile(v) }
}

fn test(args: StartArgs) -> TestResult {
    match args.handles() {
        [] => parent(),
        [ch] => child(*ch),
        _ => {
            urt::println!("test_isolation: unexpected handles {:?}", args.handles());
            Err(utests::Failed)
        }
    }
}

fn parent() -> TestResult {
    check_eq!(
        DATA.load(Relaxed),
        INITIAL,
        "parent's own .data before writing"
    );
    let heap = Box::new(PARENT);
    DATA.store(PARENT, Relaxed);
    BSS.store(PARENT, Relaxed);
    set_stack_word(PARENT);

    let (mine, theirs) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("test_isolation", &[theirs]), "spawn myself");

    // The child's report: what it saw at each address, and the addresses.
    let mut rep = [0u64; 6];
    let n = ok!(recv_u64s(mine, &mut rep), "recv report");
    check_eq!(n, 6, "report words");
    let [seen_data, seen_bss, seen_stack, data_addr, heap_addr, heap_seen] = rep;
    check_eq!(
        data_addr,
        DATA.as_ptr() as u64,
        "child's .data static address"
    );
    check_eq!(
        seen_data,
        INITIAL,
        "child's view of the .data static the parent wrote"
    );
    check_eq!(
        seen_bss,
        0,
        "child's view of the .bss static the parent wrote"
    );
    check_eq!(
        seen_stack,
        0,
        "child's view of the stack word the parent wrote"
    );
    check_eq!(
        heap_addr,
        &*heap as *const u64 as u64,
        "child's first heap block address (same layout)"
    );
    check_eq!(heap_seen, CHILD, "child's heap block");

    // The child has now written CHILD everywhere; ours must be untouched.
    check_eq!(
        DATA.load(Relaxed),
        PARENT,
        "parent's .data after the child wrote"
    );
    check_eq!(
        BSS.load(Relaxed),
        PARENT,
        "parent's .bss after the child wrote"
    );
    check_eq!(
        stack_word(),
        PARENT,
        "parent's stack word after the child wrote"
    );
    check_eq!(*heap, PARENT, "parent's heap block after the child wrote");

    // Write again and let the child check that it still sees its own values.
    DATA.store(!PARENT, Relaxed);
    BSS.store(!PARENT, Relaxed);
    set_stack_word(!PARENT);
    ok!(send_u64(mine, 1), "send go-check");
    let verdict = ok!(recv_u64(mine), "recv verdict");
    check_eq!(
        verdict,
        0,
        "child's second look (bit mask of changed locations)"
    );

    let (code, how) = ok!(urt::wait(task));
    check!(
        how == ExitHow::Exited && code == 0,
        "child ended {:?} code {:#x}",
        how,
        code
    );
    ok!(urt::handle_close(task));
    ok!(urt::handle_close(mine));
    check_eq!(DATA.load(Relaxed), !PARENT, "parent's .data at the end");
    Ok(())
}

fn child(ch: Handle) -> TestResult {
    let seen_data = DATA.load(Relaxed);
    let seen_bss = BSS.load(Relaxed);
    let seen_stack = stack_word();
    DATA.store(CHILD, Relaxed);
    BSS.store(CHILD, Relaxed);
    set_stack_word(CHILD);
    let heap = Box::new(CHILD);
    let report = [
        seen_data,
        seen_bss,
        seen_stack,
        DATA.as_ptr() as u64,
        &*heap as *const u64 as u64,
        *heap,
    ];
    ok!(send_u64s(ch, &report), "child: send report");
    ok!(recv_u64(ch), "child: recv go-check");
    let mut changed = 0u64;
    if DATA.load(Relaxed) != CHILD {
        changed |= 1;
    }
    if BSS.load(Relaxed) != CHILD {
        changed |= 2;
    }
    if stack_word() != CHILD {
        changed |= 4;
    }
    if *core::hint::black_box(&heap) != Box::new(CHILD) {
        changed |= 8;
    }
    ok!(send_u64(ch, changed), "child: send verdict");
    Ok(())
}

utests::test_main!(test);
