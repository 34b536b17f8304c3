//! `coherent_capture_trace`: [`utests::cases::capture_trace`] in the coherent boot (QEMU's `dma-coherent`
//! honoured, `misuse=report`), which it asserts.

#![no_std]
#![no_main]

use urt::StartArgs;
use utests::{Boot, TestResult};

fn test(_args: StartArgs) -> TestResult {
    utests::cases::capture_trace::run(Boot::COHERENT)
}

utests::test_main!(test);
