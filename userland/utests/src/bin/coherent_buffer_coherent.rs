//! `coherent_buffer_coherent`: [`utests::cases::buffer_coherent`] in the coherent boot (QEMU's `dma-coherent`
//! honoured, `misuse=report`), which it asserts.

#![no_std]
#![no_main]

use urt::StartArgs;
use utests::{Boot, TestResult};

fn test(_args: StartArgs) -> TestResult {
    utests::cases::buffer_coherent::run(Boot::COHERENT)
}

utests::test_main!(test);
