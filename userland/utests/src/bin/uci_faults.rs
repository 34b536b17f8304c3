//! `uci_faults` (the `uci` boot): with SCTLR_EL1.UCI set, EL0 may clean (`DC CVAC`) and
//! clean+invalidate (`DC CIVAC`) by address and goes on; `DC IVAC`, which would discard
//! dirty data, is still UNDEFINED at EL0 and the task is killed (EC 0x00). The same
//! helper on the main boot (no `uci`) is trapped for all three
//! (`test_kernel_access_faults`).

#![no_std]
#![no_main]

use urt::{ExitHow, StartArgs};
use utests::{check_eq, fault, run_fault, TestResult, FAULT_SURVIVED};

/// Unknown reason (an UNDEFINED instruction).
const EC_UNKNOWN: u64 = 0x00;

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    for (mode, what) in [(fault::DC_CVAC, "dc cvac"), (fault::DC_CIVAC, "dc civac")] {
        check_eq!(
            run_fault(mode)?,
            (FAULT_SURVIVED, ExitHow::Exited),
            "{} at EL0 with uci",
            what
        );
    }
    check_eq!(
        run_fault(fault::DC_IVAC)?,
        (EC_UNKNOWN, ExitHow::Killed),
        "dc ivac at EL0 with uci"
    );
    Ok(())
}

utests::test_main!(test);
