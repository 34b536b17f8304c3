//! Not a test: a fixed sequence for profiling the clean of a rectangle before a present
//! instruction by instruction (QEMU `-d exec` with one instruction per block): a
//! 1920x1080 buffer imported as a GPU resource; three times, between two `yield`s that
//! mark it in the log, the present of a 64-pixel-wide column of 1080 rows whose rows were
//! ENDed for write (it cleans 4 lines per row).

#![no_std]
#![no_main]

use urt::sync::{END, START, WRITE};
use urt::{format, policy, StartArgs};
use utests::{ok, TestResult};

const STRIDE: u64 = 1920 * 4;

fn test(_args: StartArgs) -> TestResult {
    let h = ok!(urt::buffer_create(STRIDE * 1080, policy::CACHED));
    let res = ok!(urt::gpu_import(h, 1920, 1080, format::B8G8R8X8));
    for _ in 0..3 {
        ok!(urt::buffer_sync_rect(
            h,
            START | WRITE,
            2048,
            256,
            1080,
            STRIDE
        ));
        ok!(urt::buffer_sync_rect(
            h,
            END | WRITE,
            2048,
            256,
            1080,
            STRIDE
        ));
        urt::yield_now();
        let fence = ok!(urt::gpu_present(res, 512, 0, 64, 1080));
        urt::yield_now();
        ok!(urt::fence_wait(fence, 1_000_000_000));
    }
    Ok(())
}

utests::test_main!(test);
