//! Stopping the machine: PSCI SYSTEM_OFF for a normal end, a semihosting exit code when
//! the run asked for one (bootargs `exit=semihosting`, as `cargo xtask` does) so a failure
//! reaches the host as a non-zero status.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use platform::board::PsciMethod;

/// Exit status of a run, as seen by the host through semihosting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything passed.
    Success = 0,
    /// A kernel test failed.
    TestFailure = 1,
    /// The kernel panicked.
    Panic = 2,
    /// An unexpected exception reached the kernel.
    FatalException = 3,
    /// The boot could not complete (bad FDT, missing device, no memory).
    BootError = 4,
}

const PSCI_UNKNOWN: u8 = 0;
const PSCI_HVC: u8 = 1;
const PSCI_SMC: u8 = 2;

static PSCI: AtomicU8 = AtomicU8::new(PSCI_UNKNOWN);
static SEMIHOSTING_EXIT: AtomicBool = AtomicBool::new(false);

/// Record how to power off (from the FDT) and whether failures exit through semihosting.
pub fn configure(psci: Option<PsciMethod>, semihosting_exit: bool) {
    let v = match psci {
        Some(PsciMethod::Hvc) => PSCI_HVC,
        Some(PsciMethod::Smc) => PSCI_SMC,
        None => PSCI_UNKNOWN,
    };
    PSCI.store(v, Ordering::SeqCst);
    SEMIHOSTING_EXIT.store(semihosting_exit, Ordering::SeqCst);
}

fn psci_method() -> Option<PsciMethod> {
    match PSCI.load(Ordering::SeqCst) {
        PSCI_HVC => Some(PsciMethod::Hvc),
        PSCI_SMC => Some(PsciMethod::Smc),
        _ => None,
    }
}

/// Normal end of a run: power off through PSCI.
pub fn power_off() -> ! {
    crate::arch::cpu::disable_irqs();
    if let Some(m) = psci_method() {
        log::info!("powering off (PSCI SYSTEM_OFF via {m:?})");
        platform::psci::system_off(m);
    }
    if SEMIHOSTING_EXIT.load(Ordering::SeqCst) {
        crate::arch::semihosting::exit(ExitCode::Success as u32);
    }
    crate::kprintln!("no PSCI conduit known: halting");
    crate::arch::cpu::halt()
}

/// Abnormal end of a run with `code`.
pub fn fail(code: ExitCode) -> ! {
    crate::arch::cpu::disable_irqs();
    let _ = writeln!(
        crate::console::PanicWriter,
        "kernel stopping with exit code {} ({:?})",
        code as u32,
        code
    );
    // Test kernels always run under xtask with semihosting on, so they use it even when the
    // failure came before the command line could be read.
    if SEMIHOSTING_EXIT.load(Ordering::SeqCst) || cfg!(feature = "ktest") {
        crate::arch::semihosting::exit(code as u32);
    }
    if let Some(m) = psci_method() {
        platform::psci::system_off(m);
    }
    // No PSCI known (the failure came before the FDT was read): semihosting is the only
    // way left to report the status (a no-op where it is absent).
    crate::arch::semihosting::exit(code as u32);
    crate::arch::cpu::halt()
}
