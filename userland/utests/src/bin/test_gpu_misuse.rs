//! `test_gpu_misuse`: [`utests::cases::gpu_misuse`] in the non-coherent boot (`dma=noncoherent`, strict
//! misuse detector), which it asserts.

#![no_std]
#![no_main]

use urt::StartArgs;
use utests::{Boot, TestResult};

fn test(args: StartArgs) -> TestResult {
    utests::cases::gpu_misuse::run(args, Boot::NONCOHERENT, "test_gpu_misuse")
}

utests::test_main!(test);
