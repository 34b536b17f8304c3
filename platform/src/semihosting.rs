//! ARM semihosting (`hlt #0xf000`), for QEMU runs with `-semihosting`: lets tests
//! report an exit status and print without a UART.

use core::arch::asm;
use core::ffi::CStr;

/// `SYS_WRITE0`: write a NUL-terminated string to the debug console.
const SYS_WRITE0: u64 = 0x04;
/// `SYS_EXIT`: report an exception/exit to the debugger.
const SYS_EXIT: u64 = 0x18;
/// `ADP_Stopped_ApplicationExit`: normal program exit, status in the second word.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Performs semihosting operation `op` with parameter `arg`; returns `x0`.
///
/// # Safety
///
/// `arg` must be what `op` expects (for most operations, the address of a valid
/// parameter block or string that stays alive for the call), and the CPU must be run
/// under a debugger/emulator with semihosting enabled, else `hlt` traps.
pub unsafe fn call(op: u64, arg: usize) -> u64 {
    let ret;
    // SAFETY: per the caller's contract; the host reads (or writes) only the memory
    // described by `arg`.
    unsafe { asm!("hlt #0xf000", inout("x0") op => ret, in("x1") arg, options(nostack)) };
    ret
}

/// Ends the emulation with exit status `code` (`qemu-system-aarch64 -semihosting`
/// exits with that status).
pub fn exit(code: u32) -> ! {
    let block: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, u64::from(code)];
    // SAFETY: SYS_EXIT on AArch64 takes the address of a two-word parameter block,
    // which lives on our stack for the duration of the call.
    unsafe { call(SYS_EXIT, block.as_ptr() as usize) };
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// Prints `s` on the host's console.
pub fn write0(s: &CStr) {
    // SAFETY: SYS_WRITE0 takes the address of a NUL-terminated string, which `s` is.
    unsafe { call(SYS_WRITE0, s.as_ptr() as usize) };
}
