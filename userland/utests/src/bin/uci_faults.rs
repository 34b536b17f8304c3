//! `uci_faults` (the `uci` boot): with SCTLR_EL1.UCI set, EL0 may clean (`DC CVAC`) and
//! clean+invalidate (`DC CIVAC`) by address and goes on; `DC IVAC`, which would discard
//! dirty data, is still UNDEFINED at EL0 and the task is killed (EC 0x00). The same
//! helper on the main boot (no `uci`) is trapped for all three
//! (`test_kernel_access_faults`).

#![no_std]
#![no_main]

use urt::{ExitHow, StartArgs};
use utests::{check_eq, fault, ok, send_u64, TestResult, FAULT_SURVIVED};

/// Unknown reason (an UNDEFINED instruction).
const EC_UNKNOWN: u64 = 0x00;

/// Run `h_fault` in `mode`; returns how it ended.
fn run_mode(mode: u64) -> Result<(u64, ExitHow), utests::Failed> {
    let (mine, theirs) = ok!(urt::channel_create());
    ok!(send_u64(mine, mode), "send mode {}", mode);
    let task = ok!(urt::spawn("h_fault", &[theirs]), "spawn h_fault");
    let r = ok!(urt::wait(task), "wait h_fault mode {}", mode);
    ok!(urt::handle_close(task));
    ok!(urt::handle_close(mine));
    Ok(r)
}

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    for (mode, what) in [(fault::DC_CVAC, "dc cvac"), (fault::DC_CIVAC, "dc civac")] {
        check_eq!(
            run_mode(mode)?,
            (FAULT_SURVIVED, ExitHow::Exited),
            "{} at EL0 with uci",
            what
        );
    }
    check_eq!(
        run_mode(fault::DC_IVAC)?,
        (EC_UNKNOWN, ExitHow::Killed),
        "dc ivac at EL0 with uci"
    );
    Ok(())
}

utests::test_main!(test);
