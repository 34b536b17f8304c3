//! Numbers outside the table return `UnknownSyscall`, whatever the other registers hold,
//! and the full 64-bit `x8` is the number (no truncation to a known call).

#![no_std]
#![no_main]

use urt::{Error, StartArgs, Sys};
use utests::{expect_raw, TestResult};

/// The first number past the table.
const FIRST_UNKNOWN: u64 = Sys::ALL.len() as u64;

const NUMBERS: &[u64] = &[
    FIRST_UNKNOWN,
    FIRST_UNKNOWN + 1,
    64,
    255,
    256,
    999,
    0x8000,
    u32::MAX as u64,
    // These would be known calls if the kernel looked only at the low 32 bits
    // (yield, cycles, stats).
    (1 << 32) | 1,
    (1 << 32) | 6,
    (1 << 32) | 13,
    (1 << 63) | 2,
    i64::MAX as u64,
    u64::MAX - 1,
    u64::MAX,
];

fn test(_args: StartArgs) -> TestResult {
    let arg_sets: [[u64; 6]; 3] = [
        [0; 6],
        [1, 2, 3, 4, 5, 6],
        [u64::MAX, 0xffff_ff80_0000_0000, 0, 0x1_0001, 4097, u64::MAX],
    ];
    for &num in NUMBERS {
        for args in arg_sets {
            // SAFETY: an unknown call number does nothing; the pointers in `args` are
            // never used.
            let r = unsafe { urt::sys::raw_syscall(num, args) };
            expect_raw!(r, Error::UnknownSyscall, "syscall {:#x} {:x?}", num, args);
        }
    }
    Ok(())
}

utests::test_main!(test);
