//! PSCI (ARM DEN 0022) power control through the conduit named by the FDT.

use core::arch::asm;

use crate::board::PsciMethod;

/// `PSCI_VERSION` function ID.
pub const PSCI_VERSION: u32 = 0x8400_0000;
/// `SYSTEM_OFF` function ID.
pub const SYSTEM_OFF: u32 = 0x8400_0008;
/// `SYSTEM_RESET` function ID.
pub const SYSTEM_RESET: u32 = 0x8400_0009;

/// `CPU_ON` (SMC64) function ID.
pub const CPU_ON: u32 = 0xc400_0003;

/// Why a `CPU_ON` failed (the PSCI return codes, DEN 0022 5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuOnError {
    /// `INVALID_PARAMETERS` (-2): no such CPU, or a bad entry point.
    InvalidParameters,
    /// `DENIED` (-3).
    Denied,
    /// `ALREADY_ON` (-4).
    AlreadyOn,
    /// `ON_PENDING` (-5).
    OnPending,
    /// `INTERNAL_FAILURE` (-6).
    InternalFailure,
    /// `INVALID_ADDRESS` (-9): the entry point is not valid.
    InvalidAddress,
    /// Any other value (including `NOT_SUPPORTED`, -1).
    Other(i32),
}

impl core::fmt::Display for CpuOnError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InvalidParameters => f.write_str("PSCI CPU_ON: invalid parameters"),
            Self::Denied => f.write_str("PSCI CPU_ON: denied"),
            Self::AlreadyOn => f.write_str("PSCI CPU_ON: already on"),
            Self::OnPending => f.write_str("PSCI CPU_ON: on pending"),
            Self::InternalFailure => f.write_str("PSCI CPU_ON: internal failure"),
            Self::InvalidAddress => f.write_str("PSCI CPU_ON: invalid address"),
            Self::Other(c) => write!(f, "PSCI CPU_ON: error {c}"),
        }
    }
}

/// `CPU_ON`: start the CPU whose MPIDR is `target` at physical address `entry`, with
/// MMU off, in the kernel's exception level, `context` in x0.
pub fn cpu_on(method: PsciMethod, target: u64, entry: u64, context: u64) -> Result<(), CpuOnError> {
    match call(method, CPU_ON, [target, entry, context]) as u32 as i32 {
        0 => Ok(()),
        -2 => Err(CpuOnError::InvalidParameters),
        -3 => Err(CpuOnError::Denied),
        -4 => Err(CpuOnError::AlreadyOn),
        -5 => Err(CpuOnError::OnPending),
        -6 => Err(CpuOnError::InternalFailure),
        -9 => Err(CpuOnError::InvalidAddress),
        c => Err(CpuOnError::Other(c)),
    }
}

/// Makes an SMC32/HVC32 call with up to three arguments; returns `x0`.
pub fn call(method: PsciMethod, function: u32, args: [u64; 3]) -> u64 {
    let mut x0 = u64::from(function);
    match method {
        // SAFETY: PSCI calls follow the SMCCC: only x0-x3 may change (x4-x17 are
        // preserved by SMCCC v1.1+, but marked clobbered to be safe), no memory is
        // touched on our behalf for these functions.
        PsciMethod::Hvc => unsafe {
            asm!("hvc #0", inout("x0") x0, inout("x1") args[0] => _, inout("x2") args[1] => _,
                 inout("x3") args[2] => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
                 out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
                 out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                 options(nostack))
        },
        // SAFETY: as above, with the secure monitor as the callee.
        PsciMethod::Smc => unsafe {
            asm!("smc #0", inout("x0") x0, inout("x1") args[0] => _, inout("x2") args[1] => _,
                 inout("x3") args[2] => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
                 out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
                 out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                 options(nostack))
        },
    }
    x0
}

/// `PSCI_VERSION`: major version in bits 31:16, minor in bits 15:0 (`0x1_0000` = 1.0).
pub fn psci_version(method: PsciMethod) -> u32 {
    call(method, PSCI_VERSION, [0; 3]) as u32
}

/// `SYSTEM_OFF`. Never returns (parks the CPU if firmware refuses).
pub fn system_off(method: PsciMethod) -> ! {
    call(method, SYSTEM_OFF, [0; 3]);
    park()
}

/// `SYSTEM_RESET`. Never returns (parks the CPU if firmware refuses).
pub fn system_reset(method: PsciMethod) -> ! {
    call(method, SYSTEM_RESET, [0; 3]);
    park()
}

fn park() -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}

impl crate::Power for PsciMethod {
    fn system_off(&self) -> ! {
        system_off(*self)
    }

    fn system_reset(&self) -> ! {
        system_reset(*self)
    }
}
