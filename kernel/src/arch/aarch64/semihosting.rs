//! Semihosting that survives its absence: the console of last resort (before a UART is
//! known, or when there is none) and the exit status of runs under QEMU `-semihosting`.
//!
//! Every call goes through `semihosting_checked` (boot.S), whose `hlt #0xf000` is an
//! undefined instruction when semihosting is not enabled (QEMU without `-semihosting`,
//! real hardware without a debugger). The exception handler recognises that one
//! instruction ([`fixup`]), skips it and records that semihosting is absent; from then
//! on every call here is a no-op. (`platform::semihosting` has the plain calls, which
//! would be a fatal exception there.)

use super::exception::{ec, Syndrome, TrapFrame};
use core::sync::atomic::{AtomicBool, Ordering};

extern "C" {
    fn semihosting_checked(op: u64, arg: u64) -> u64;
    static semihosting_hlt_insn: u8;
}

/// Set once a call trapped as an undefined instruction.
static ABSENT: AtomicBool = AtomicBool::new(false);

const SYS_WRITE0: u64 = 0x04;
const SYS_EXIT: u64 = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Perform `op` with `arg` unless semihosting is known to be absent; `None` if it is (or
/// just turned out to be).
///
/// # Safety
/// `arg` must be what `op` expects (the address of a parameter block or string that
/// stays valid for the call).
unsafe fn call(op: u64, arg: u64) -> Option<u64> {
    if ABSENT.load(Ordering::SeqCst) {
        return None;
    }
    // SAFETY: forwarded from the caller; an undefined-instruction trap on the `hlt` is
    // skipped by `fixup`, which sets ABSENT.
    let r = unsafe { semihosting_checked(op, arg) };
    (!ABSENT.load(Ordering::SeqCst)).then_some(r)
}

/// Write `s` to the host's console (stderr under QEMU), if semihosting is there. NUL
/// bytes in `s` are dropped.
pub fn write_str(s: &str) {
    let mut buf = [0u8; 128];
    let mut n = 0;
    for &b in s.as_bytes().iter().filter(|&&b| b != 0) {
        buf[n] = b;
        n += 1;
        if n == buf.len() - 1 {
            buf[n] = 0;
            // SAFETY: SYS_WRITE0 reads the NUL-terminated string in `buf`, alive here.
            if unsafe { call(SYS_WRITE0, buf.as_ptr() as u64) }.is_none() {
                return;
            }
            n = 0;
        }
    }
    if n > 0 {
        buf[n] = 0;
        // SAFETY: as above.
        unsafe { call(SYS_WRITE0, buf.as_ptr() as u64) };
    }
}

/// End the run with exit status `code`, if semihosting is there; returns if it is not.
pub fn exit(code: u32) {
    let block: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, u64::from(code)];
    // SAFETY: SYS_EXIT takes the address of a two-word parameter block, on our stack.
    unsafe { call(SYS_EXIT, block.as_ptr() as u64) };
}

/// Called for a synchronous exception at EL1: if it is the checked call's `hlt` being
/// undefined, record that semihosting is absent and resume after it. Returns true then.
pub fn fixup(frame: &mut TrapFrame, syn: &Syndrome) -> bool {
    let hlt = core::ptr::addr_of!(semihosting_hlt_insn) as u64;
    if syn.class() == ec::UNKNOWN && frame.elr == hlt {
        ABSENT.store(true, Ordering::SeqCst);
        frame.elr += 4;
        return true;
    }
    false
}
