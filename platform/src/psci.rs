//! PSCI (ARM DEN 0022) power control through the conduit named by the FDT.

use core::arch::asm;

use crate::board::PsciMethod;

/// `PSCI_VERSION` function ID.
pub const PSCI_VERSION: u32 = 0x8400_0000;
/// `SYSTEM_OFF` function ID.
pub const SYSTEM_OFF: u32 = 0x8400_0008;
/// `SYSTEM_RESET` function ID.
pub const SYSTEM_RESET: u32 = 0x8400_0009;

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
