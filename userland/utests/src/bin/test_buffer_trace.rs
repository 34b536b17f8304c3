//! `test_buffer_trace`: [`utests::cases::buffer_trace`] in the non-coherent boot (`dma=noncoherent`, strict
//! misuse detector), which it asserts.

#![no_std]
#![no_main]

use urt::StartArgs;
use utests::{Boot, TestResult};

fn test(_args: StartArgs) -> TestResult {
    utests::cases::buffer_trace::run(Boot::NONCOHERENT)
}

utests::test_main!(test);
