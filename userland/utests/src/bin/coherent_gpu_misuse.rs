//! `coherent_gpu_misuse`: [`utests::cases::gpu_misuse`] in the coherent boot (QEMU's `dma-coherent`
//! honoured, `misuse=report`), which it asserts.

#![no_std]
#![no_main]

use urt::StartArgs;
use utests::{Boot, TestResult};

fn test(args: StartArgs) -> TestResult {
    utests::cases::gpu_misuse::run(args, Boot::COHERENT, "coherent_gpu_misuse")
}

utests::test_main!(test);
