//! In-kernel QEMU tests (built with the `ktest` feature, run by `cargo xtask test`).
//!
//! Bootargs select what runs: `ktest=all` runs every case below and prints one line per
//! case plus a summary; the exit status (semihosting) is 0 only if all passed.
//! `ktest=fatal-abort`, `ktest=panic` and `ktest=stack-overflow` deliberately die, so the runner can check that a
//! fatal exception and a panic are reported and fail the run with their exit codes.

mod boot_tests;
mod rect_loop;

use crate::boot::Machine;
use crate::power::{self, ExitCode};
use alloc::string::String;

/// One test case: `Ok(())` passes, `Err(reason)` fails.
pub type TestFn = fn(&Machine) -> Result<(), String>;

/// Run the selection named by the `ktest=` boot argument; never returns.
pub fn run(which: &str, m: &Machine) -> ! {
    match which {
        "fatal-abort" => boot_tests::deliberate_fatal_abort(),
        "panic" => panic!("deliberate test panic (ktest=panic)"),
        "stack-overflow" => boot_tests::deliberate_stack_overflow(),
        "all" => run_all(m),
        other => {
            crate::kprintln!("ktest: unknown selection '{other}'");
            power::fail(ExitCode::TestFailure)
        }
    }
}

fn run_all(m: &Machine) -> ! {
    let (mut passed, mut failed) = (0u32, 0u32);
    for (name, test) in boot_tests::TESTS {
        match test(m) {
            Ok(()) => {
                passed += 1;
                crate::kprintln!("ktest {name} ... ok");
            }
            Err(why) => {
                failed += 1;
                crate::kprintln!("ktest {name} ... FAILED: {why}");
            }
        }
    }
    crate::kprintln!("ktest summary: {passed} passed, {failed} failed");
    if failed == 0 {
        power::power_off()
    } else {
        power::fail(ExitCode::TestFailure)
    }
}

/// `ensure!(cond, "fmt", args)`: fail the test with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($arg)*));
        }
    };
}
