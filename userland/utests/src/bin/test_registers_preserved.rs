//! The kernel preserves every register except x0..x2 across a syscall (SYSCALLS.md):
//! x3..x18, x20..x28, x30 and sp are loaded with patterns, a syscall is made (a cheap
//! one, an error, an unknown number, one that blocks and switches tasks), and every
//! register must come back unchanged. (x19 and x29 are reserved by the compiler, so
//! they are not asm operands; the compiler itself relies on them being preserved.)

#![no_std]
#![no_main]

use core::arch::asm;
use urt::{StartArgs, Sys};
use utests::{check, TestResult};

fn pattern(seed: u64, i: u64) -> u64 {
    seed.rotate_left(i as u32 * 7) ^ (0x0101_0101_0101_0101 * i)
}

/// Make syscall `num` with `x0 = a0` and every other tracked register set to a pattern;
/// returns `[x0, x1, x2]` and the tracked registers afterwards.
fn probe(num: u64, a0: u64, seed: u64) -> ([u64; 3], [u64; 28], [u64; 28]) {
    let mut before = [0u64; 28];
    for (i, v) in before.iter_mut().enumerate() {
        *v = pattern(seed, i as u64);
    }
    let mut r = before;
    let (r0, r1, r2): (u64, u64, u64);
    let (sp0, sp1): (u64, u64);
    // SAFETY: a syscall with no pointer arguments that the kernel could write through
    // (the calls used here take none: yield, stats, handle_close of a forged value, an
    // unknown number, sleep); every register the asm changes is an output, and sp is
    // only read.
    unsafe {
        asm!(
            "mov {sp0}, sp",
            "svc #0",
            "mov {sp1}, sp",
            sp0 = out(reg) sp0,
            sp1 = out(reg) sp1,
            inlateout("x0") a0 => r0,
            lateout("x1") r1,
            lateout("x2") r2,
            inout("x3") r[0],
            inout("x4") r[1],
            inout("x5") r[2],
            inout("x6") r[3],
            inout("x7") r[4],
            inout("x8") num => r[5],
            inout("x9") r[6],
            inout("x10") r[7],
            inout("x11") r[8],
            inout("x12") r[9],
            inout("x13") r[10],
            inout("x14") r[11],
            inout("x15") r[12],
            inout("x16") r[13],
            inout("x17") r[14],
            inout("x18") r[15],
            inout("x20") r[16],
            inout("x21") r[17],
            inout("x22") r[18],
            inout("x23") r[19],
            inout("x24") r[20],
            inout("x25") r[21],
            inout("x26") r[22],
            inout("x27") r[23],
            inout("x28") r[24],
            inout("x30") r[25],
        );
    }
    before[5] = num;
    before[26] = sp0;
    r[26] = sp1;
    ([r0, r1, r2], before, r)
}

const NAMES: [&str; 28] = [
    "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",
    "x17", "x18", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x30", "sp", "-",
];

fn test(_args: StartArgs) -> TestResult {
    let calls: [(u64, u64, &str); 6] = [
        (Sys::Yield as u64, 0, "yield"),
        (Sys::Stats as u64, 3, "stats(ticks)"),
        (Sys::Stats as u64, 99, "stats(99) -> InvalidArgument"),
        (
            Sys::HandleClose as u64,
            0xdead_beef,
            "handle_close(forged) -> BadHandle",
        ),
        (999, 0, "unknown syscall 999"),
        (Sys::Sleep as u64, 1_000_000, "sleep(1 ms), switches tasks"),
    ];
    for (k, &(num, a0, what)) in calls.iter().enumerate() {
        for round in 0..4u64 {
            let seed = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(k as u64 * 4 + round + 1);
            let (ret, before, after) = probe(num, a0, seed);
            for i in 0..27 {
                check!(
                    before[i] == after[i],
                    "{}: {} changed from {:#x} to {:#x} (x0 = {})",
                    what,
                    NAMES[i],
                    before[i],
                    after[i],
                    ret[0]
                );
            }
        }
    }
    Ok(())
}

utests::test_main!(test);
