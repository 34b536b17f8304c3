//! Threads: several threads of one task run (on any CPU), share its memory and handles,
//! end with `thread_exit` (whose code `wait` on the thread handle returns), and the task
//! ends with its last thread; a thread cannot wait on itself, the stack must be aligned,
//! and a task has at most 16 threads. Then four threads bump one counter each a million
//! times with atomic adds while the first thread waits: the sum is exact.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use urt::{Error, ExitHow, Handle, ObjectKind, Rights, StartArgs};
use utests::{check_eq, expect_err, ok, TestResult};

const STACK: usize = 16 * 1024;
const THREADS: usize = 4;
const ROUNDS: u64 = 1_000_000;

#[repr(align(16))]
struct Stacks(#[allow(dead_code)] [[u8; STACK]; urt::limits::MAX_THREADS]);

static mut STACKS: Stacks = Stacks([[0; STACK]; urt::limits::MAX_THREADS]);
static COUNTER: AtomicU64 = AtomicU64::new(0);
static SEEN: AtomicU64 = AtomicU64::new(0);

fn stack_top(i: usize) -> u64 {
    // Only the address is taken (no reference is formed); each thread gets its own.
    let base = core::ptr::addr_of_mut!(STACKS) as u64 + (i * STACK) as u64;
    base + STACK as u64
}

extern "C" fn adder(arg: u64) -> ! {
    for _ in 0..ROUNDS {
        COUNTER.fetch_add(1, Ordering::Relaxed);
    }
    urt::thread_exit(arg)
}

extern "C" fn marker(arg: u64) -> ! {
    SEEN.fetch_add(arg, Ordering::Relaxed);
    urt::thread_exit(arg * 10)
}

static SELF: AtomicU64 = AtomicU64::new(0);
static RELEASE: AtomicU64 = AtomicU64::new(0);

extern "C" fn self_joiner(_: u64) -> ! {
    // Its own handle arrives in SELF: waiting on it must fail at once.
    let h = loop {
        match SELF.load(Ordering::Acquire) {
            0 => urt::yield_now(),
            v => break Handle(v as u32),
        }
    };
    let r = urt::wait(h);
    urt::thread_exit(u64::from(r == Err(Error::InvalidArgument)))
}

extern "C" fn holder(_: u64) -> ! {
    while RELEASE.load(Ordering::Acquire) == 0 {
        urt::yield_now();
    }
    urt::thread_exit(7)
}

fn test(_args: StartArgs) -> TestResult {
    // Create, join, exit codes, shared memory.
    let mut hs = [Handle(0); 3];
    for (i, h) in hs.iter_mut().enumerate() {
        // SAFETY: `marker` ends with thread_exit; stack i is used by this thread only.
        *h = ok!(unsafe { urt::thread_create(marker, stack_top(i), i as u64 + 1) });
        check_eq!(
            ok!(urt::handle_info(*h)),
            (ObjectKind::Thread, Rights::WAIT.with(Rights::SHARE)),
            "thread handle"
        );
    }
    for (i, &h) in hs.iter().enumerate() {
        check_eq!(
            ok!(urt::wait(h)),
            ((i as u64 + 1) * 10, ExitHow::Exited),
            "thread {} exit code",
            i
        );
        ok!(urt::handle_close(h));
    }
    check_eq!(
        SEEN.load(Ordering::Relaxed),
        1 + 2 + 3,
        "threads wrote shared memory"
    );

    // A thread waiting on itself.
    // SAFETY: `self_joiner` ends with thread_exit; stack 0 is its own.
    let h = ok!(unsafe { urt::thread_create(self_joiner, stack_top(0), 0) });
    SELF.store(u64::from(h.0), Ordering::Release);
    check_eq!(
        ok!(urt::wait(h)),
        (1, ExitHow::Exited),
        "a thread waiting on its own handle gets InvalidArgument"
    );
    ok!(urt::handle_close(h));

    // Bad arguments.
    // SAFETY: the calls fail before any thread runs.
    expect_err!(
        unsafe { urt::thread_create(marker, stack_top(0) - 8, 0) },
        Error::InvalidArgument,
        "misaligned stack"
    );
    // SAFETY: as above.
    expect_err!(
        unsafe { urt::thread_create(marker, 1 << 60, 0) },
        Error::BadAddress,
        "stack beyond user space"
    );

    // At most 16 threads, this one included: 15 more that wait, then TableFull.
    let mut held = urt::alloc::vec::Vec::new();
    for i in 1..urt::limits::MAX_THREADS {
        // SAFETY: `holder` ends with thread_exit; stack i is its own.
        held.push(ok!(
            unsafe { urt::thread_create(holder, stack_top(i), 0) },
            "thread {}",
            i
        ));
    }
    // SAFETY: refused: no thread runs.
    expect_err!(
        unsafe { urt::thread_create(holder, stack_top(0), 0) },
        Error::TableFull,
        "a 17th thread"
    );
    RELEASE.store(1, Ordering::Release);
    for h in held {
        check_eq!(ok!(urt::wait(h)), (7, ExitHow::Exited), "holder");
        ok!(urt::handle_close(h));
    }

    // Four threads adding concurrently (on several CPUs, when there are).
    let mut adders = [Handle(0); THREADS];
    for (i, h) in adders.iter_mut().enumerate() {
        // SAFETY: `adder` ends with thread_exit; stack i is its own.
        *h = ok!(unsafe { urt::thread_create(adder, stack_top(i), i as u64) });
    }
    for &h in &adders {
        ok!(urt::wait(h));
        ok!(urt::handle_close(h));
    }
    check_eq!(
        COUNTER.load(Ordering::Relaxed),
        THREADS as u64 * ROUNDS,
        "atomic adds from {} threads",
        THREADS
    );
    Ok(())
}

utests::test_main!(test);
