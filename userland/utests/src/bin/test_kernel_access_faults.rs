//! A task that touches kernel memory, unmapped memory, its own read-only or
//! non-executable memory, executes an undefined instruction or misaligns is killed with
//! `ExitHow::Killed` and code = ESR_EL1.EC; this test (the parent) keeps running, and the
//! killed tasks' memory comes back.

#![no_std]
#![no_main]

use urt::{ExitHow, StartArgs, Stat};
use utests::{check, check_eq, fault, ok, run_fault, TestResult, FAULT_SURVIVED, SP_UNCHECKED};

/// Data abort from a lower exception level.
const EC_DABT_LOW: u64 = 0x24;
/// Instruction abort from a lower exception level.
const EC_IABT_LOW: u64 = 0x20;
/// Unknown reason (undefined instruction).
const EC_UNKNOWN: u64 = 0x00;
/// PC alignment fault.
const EC_PC_ALIGN: u64 = 0x22;
/// SP alignment fault.
const EC_SP_ALIGN: u64 = 0x26;
/// BRK instruction (AArch64).
const EC_BRK: u64 = 0x3c;
/// Trapped MSR/MRS/system instruction (a system register EL0 may not access).
const EC_SYSREG: u64 = 0x18;

const CASES: &[(u64, &str, u64)] = &[
    (
        fault::READ_KERNEL_IMAGE,
        "read 0xffff_ff80_0000_0000",
        EC_DABT_LOW,
    ),
    (
        fault::WRITE_KERNEL_IMAGE,
        "write 0xffff_ff80_0000_0000",
        EC_DABT_LOW,
    ),
    (
        fault::EXEC_KERNEL_IMAGE,
        "jump to 0xffff_ff80_0000_0000",
        EC_IABT_LOW,
    ),
    (
        fault::READ_KERNEL_LINEAR,
        "read 0xffff_0000_4000_0000",
        EC_DABT_LOW,
    ),
    (
        fault::WRITE_KERNEL_LINEAR,
        "write 0xffff_0000_4000_0000",
        EC_DABT_LOW,
    ),
    (
        fault::READ_UNMAPPED,
        "read unmapped user address",
        EC_DABT_LOW,
    ),
    (
        fault::WRITE_UNMAPPED,
        "write unmapped user address",
        EC_DABT_LOW,
    ),
    (fault::READ_NULL, "read address 0", EC_DABT_LOW),
    (fault::READ_TOP_OF_USER, "read 2^48 - 8", EC_DABT_LOW),
    (fault::READ_NONCANONICAL, "read 2^48", EC_DABT_LOW),
    (
        fault::EXEC_UNMAPPED,
        "jump to unmapped user address",
        EC_IABT_LOW,
    ),
    (fault::UDF, "udf #0", EC_UNKNOWN),
    (fault::MRS_EL1_REG, "mrs ttbr1_el1 at EL0", EC_UNKNOWN),
    (fault::HVC, "hvc #0 at EL0", EC_UNKNOWN),
    (fault::WRITE_PMCR, "write PMCR_EL0 at EL0", EC_SYSREG),
    (
        fault::STOP_CYCLE_COUNTER,
        "stop the cycle counter at EL0",
        EC_SYSREG,
    ),
    (fault::WRITE_TIMER, "write CNTV_CTL_EL0 at EL0", EC_SYSREG),
    (fault::DC_CVAC, "dc cvac at EL0 (no uci)", EC_SYSREG),
    (fault::DC_CIVAC, "dc civac at EL0 (no uci)", EC_SYSREG),
    (fault::DC_IVAC, "dc ivac at EL0", EC_UNKNOWN),
    (fault::BRK, "brk #0", EC_BRK),
    (fault::WRITE_TEXT, "write own .text (RX)", EC_DABT_LOW),
    (fault::WRITE_RODATA, "write own .rodata (R)", EC_DABT_LOW),
    (
        fault::EXEC_DATA,
        "jump into own .data (RW, must be XN)",
        EC_IABT_LOW,
    ),
    (
        fault::EXEC_STACK,
        "jump into the stack (must be XN)",
        EC_IABT_LOW,
    ),
    (
        fault::WRITE_STACK_GUARD,
        "write the stack guard page",
        EC_DABT_LOW,
    ),
    (
        fault::MISALIGNED_EXCLUSIVE,
        "ldxr from a misaligned address",
        EC_DABT_LOW,
    ),
    (
        fault::MISALIGNED_PC,
        "branch to a misaligned pc",
        EC_PC_ALIGN,
    ),
];

fn test(_args: StartArgs) -> TestResult {
    let free0 = ok!(urt::stats(Stat::FreeFrames));
    let tasks0 = ok!(urt::stats(Stat::Tasks));

    // Control: the bottom of the stack is mapped (the guard is the page below it).
    let (code, how) = run_fault(fault::WRITE_STACK_BOTTOM)?;
    check!(
        how == ExitHow::Exited && code == 0,
        "writing the lowest stack word: ended {:?} code {:#x}, expected Exited 0",
        how,
        code
    );

    for &(mode, what, ec) in CASES {
        let (code, how) = run_fault(mode)?;
        check!(
            how == ExitHow::Killed,
            "{}: ended {:?} with code {:#x}{}, expected Killed with EC {:#x}",
            what,
            how,
            code,
            if code == FAULT_SURVIVED {
                " (the access succeeded)"
            } else {
                ""
            },
            ec
        );
        check_eq!(code, ec, "{}: EC", what);
        urt::println!(
            "test_kernel_access_faults: {} -> killed, EC {:#x}",
            what,
            code
        );
    }

    // SP alignment checking at EL0 is the kernel's choice (SCTLR_EL1.SA0); either it
    // faults with EC 0x26 or the load completes and the helper exits normally.
    let (code, how) = run_fault(fault::MISALIGNED_SP)?;
    match (how, code) {
        (ExitHow::Killed, EC_SP_ALIGN) => {
            urt::println!("test_kernel_access_faults: misaligned sp -> killed, EC 0x26")
        }
        (ExitHow::Exited, SP_UNCHECKED) => {
            urt::println!("test_kernel_access_faults: misaligned sp not checked (SA0 = 0)")
        }
        _ => check!(false, "misaligned sp: ended {:?} code {:#x}", how, code),
    }

    // Every killed task was reaped and its memory returned.
    check_eq!(
        ok!(urt::stats(Stat::Tasks)),
        tasks0,
        "live tasks after all the faults"
    );
    check_eq!(
        ok!(utests::free_frames_settled(free0)),
        free0,
        "free frames after all the faults"
    );
    Ok(())
}

utests::test_main!(test);
