//! The `cycles` call and a direct `mrs pmccntr_el0` at EL0 (which SYSCALLS.md allows)
//! read the same, advancing counter.

#![no_std]
#![no_main]

use urt::StartArgs;
use utests::{check, TestResult};

fn test(_args: StartArgs) -> TestResult {
    let mut last = 0;
    for i in 0..100 {
        let a = urt::cycles();
        let b = urt::sys::read_pmccntr();
        let c = urt::cycles();
        check!(
            a <= b && b <= c,
            "#{}: syscall {} / direct {} / syscall {} out of order",
            i,
            a,
            b,
            c
        );
        check!(
            a >= last,
            "#{}: counter went backwards ({} -> {})",
            i,
            last,
            a
        );
        last = c;
    }
    let a = urt::cycles();
    for _ in 0..10_000 {
        core::hint::black_box(0);
    }
    let b = urt::cycles();
    check!(
        b > a,
        "cycle counter did not advance over a loop ({} -> {})",
        a,
        b
    );
    Ok(())
}

utests::test_main!(test);
