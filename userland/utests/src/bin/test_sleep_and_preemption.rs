//! `sleep` lasts at least as long as asked (30 ms = 3 ticks of 10 ms), and the timer
//! preempts a task that never gives up the CPU: while this test busy-loops (making no
//! syscall but `stats`), a helper woken by the tick records the time, and that stamp
//! must fall inside the busy loop. (On several CPUs the helper may run beside us rather
//! than preempt us; either way it runs. Time is the virtual counter, `counter()`, which
//! all CPUs share: each CPU's cycle counter is its own.)

#![no_std]
#![no_main]

use urt::{ExitHow, StartArgs, Stat};
use utests::{check, check_eq, ok, recv_u64, send_u64, TestResult};

/// Ticks the busy loop lasts.
const BUSY_TICKS: u64 = 8;

fn sleep() -> TestResult {
    // Start right after a tick so the measurement is not skewed by a partial tick.
    let t = ok!(urt::stats(Stat::Ticks));
    while ok!(urt::stats(Stat::Ticks)) == t {}

    let t0 = ok!(urt::stats(Stat::Ticks));
    let c0 = urt::counter();
    ok!(urt::sleep_ns(30_000_000));
    let t1 = ok!(urt::stats(Stat::Ticks));
    let c1 = urt::counter();
    urt::println!(
        "test_sleep_and_preemption: sleep(30 ms) took {} ticks, {} counter ticks",
        t1 - t0,
        c1.wrapping_sub(c0)
    );
    check!(
        t1 >= t0 + 3,
        "sleep(30 ms) lasted {} ticks, expected >= 3",
        t1 - t0
    );
    check!(
        c1 > c0,
        "the counter did not advance across a sleep ({} -> {})",
        c0,
        c1
    );

    // sleep(0) returns (without error) and does not take long.
    let t0 = ok!(urt::stats(Stat::Ticks));
    ok!(urt::sleep_ns(0));
    let t1 = ok!(urt::stats(Stat::Ticks));
    check!(t1 - t0 <= 2, "sleep(0) took {} ticks", t1 - t0);
    Ok(())
}

fn preemption() -> TestResult {
    let (mine, theirs) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("h_stamp", &[theirs]));

    let start = urt::counter();
    ok!(send_u64(mine, 1), "send go");
    // Busy loop: no syscall but `stats`, never blocks or yields.
    let t0 = ok!(urt::stats(Stat::Ticks));
    let mut spins = 0u64;
    while ok!(urt::stats(Stat::Ticks)) < t0 + BUSY_TICKS {
        spins = core::hint::black_box(spins + 1);
    }
    let end = urt::counter();

    let stamp = ok!(recv_u64(mine), "recv stamp");
    let (code, how) = ok!(urt::wait(task));
    check!(
        how == ExitHow::Exited && code == 0,
        "h_stamp ended {:?} code {}",
        how,
        code
    );
    ok!(urt::handle_close(task));
    ok!(urt::handle_close(mine));
    urt::println!(
        "test_sleep_and_preemption: busy loop {}..{} ({} spins), helper stamp {}",
        start,
        end,
        spins,
        stamp
    );
    check!(
        start < stamp && stamp < end,
        "helper ran at {} outside the busy loop {}..{}: the timer did not preempt us",
        stamp,
        start,
        end
    );
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    check_eq!(
        urt::sleep_ns(1_000_000_000_001),
        Err(urt::Error::InvalidArgument),
        "sleep > 10^12"
    );
    sleep()?;
    preemption()
}

utests::test_main!(test);
