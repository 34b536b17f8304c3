//! Not a test: a fixed sequence for profiling the sync path instruction by instruction
//! (QEMU `-d exec` with one instruction per block): a 4 KiB buffer, START WRITE and END
//! WRITE, three times, each pair between two `yield`s that mark it in the log.

#![no_std]
#![no_main]

use urt::sync::{END, START, WRITE};
use urt::{policy, StartArgs};
use utests::{ok, TestResult};

fn test(_args: StartArgs) -> TestResult {
    let h = ok!(urt::buffer_create(4096, policy::CACHED));
    for _ in 0..3 {
        urt::yield_now();
        ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
        ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
        urt::yield_now();
    }
    ok!(urt::handle_close(h));
    Ok(())
}

utests::test_main!(test);
