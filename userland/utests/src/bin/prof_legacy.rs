//! Not a test: a fixed sequence for profiling the legacy hand-over instruction by
//! instruction (QEMU `-d exec` with one instruction per block): a 1920x1080 buffer
//! imported and mapped through the GPU driver (FAULT policy); three times, between two
//! `yield`s that mark it in the log, one page written (one fault) and the written row
//! presented (the zap and clean of that page, the device notified).

#![no_std]
#![no_main]

use urt::{format, legacy, policy, prot, StartArgs};
use utests::{ok, TestResult};

fn test(_args: StartArgs) -> TestResult {
    let h = ok!(urt::buffer_create(1920 * 1080 * 4, policy::CACHED));
    let res = ok!(urt::gpu_import(h, 1920, 1080, format::B8G8R8X8));
    let fake = ok!(urt::gpu_map_offset(res));
    let map = ok!(urt::gpu_mmap(
        fake,
        1920 * 1080 * 4,
        prot::READ | prot::WRITE,
        legacy::FAULT
    ));
    for i in 0..4u64 {
        urt::yield_now();
        // SAFETY: inside the writable legacy mapping.
        unsafe { (map as *mut u64).write_volatile(i) };
        let fence = ok!(urt::gpu_present(res, 0, 0, 1024, 1));
        urt::yield_now();
        ok!(urt::fence_wait(fence, 1_000_000_000));
    }
    Ok(())
}

utests::test_main!(test);
