//! Exception handling: the TrapFrame saved by `vectors.S`, decoding of ESR_EL1, the fatal
//! report, and the access probes used to test (without dying) whether an access faults.
//!
//! The assembly shell saves registers and calls [`handle_exception`]; this safe core
//! decides what the exception means and hands IRQs to the generic kernel.

use aarch64_cpu::registers::{Readable, ESR_EL1, FAR_EL1};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

/// Register state saved on exception entry. Layout shared with `vectors.S`.
#[repr(C)]
#[derive(Clone)]
pub struct TrapFrame {
    /// x0..x30.
    pub x: [u64; 31],
    /// The interrupted context's SP_EL0.
    pub sp_el0: u64,
    /// Exception link register: where `eret` resumes.
    pub elr: u64,
    /// Saved program status.
    pub spsr: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 272);

/// Which vector was taken (the `kind` the assembly passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorKind {
    /// Synchronous exception from EL1.
    CurrentSync,
    /// IRQ taken at EL1 while in EL1.
    CurrentIrq,
    /// IRQ or sync from EL0 and everything else.
    LowerSync,
    /// IRQ from EL0.
    LowerIrq,
    /// EL1 sync exception whose frame did not fit on the stack (guard page hit).
    StackOverflow,
    /// Any vector this kernel never expects (SP_EL0 at EL1, FIQ, SError, AArch32).
    Unexpected(u64),
}

impl VectorKind {
    fn from_raw(kind: u64) -> Self {
        match kind {
            4 => Self::CurrentSync,
            5 => Self::CurrentIrq,
            8 => Self::LowerSync,
            9 => Self::LowerIrq,
            16 => Self::StackOverflow,
            other => Self::Unexpected(other),
        }
    }

    fn name(raw: u64) -> &'static str {
        const NAMES: [&str; 16] = [
            "EL1t sync",
            "EL1t IRQ",
            "EL1t FIQ",
            "EL1t SError",
            "EL1h sync",
            "EL1h IRQ",
            "EL1h FIQ",
            "EL1h SError",
            "EL0 sync",
            "EL0 IRQ",
            "EL0 FIQ",
            "EL0 SError",
            "AArch32 sync",
            "AArch32 IRQ",
            "AArch32 FIQ",
            "AArch32 SError",
        ];
        NAMES.get(raw as usize).copied().unwrap_or("unknown vector")
    }
}

/// A decoded exception syndrome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syndrome {
    /// ESR_EL1 as read.
    pub esr: u64,
    /// FAR_EL1 (meaningful for aborts).
    pub far: u64,
}

/// Exception classes this kernel names (ESR_EL1.EC, Arm ARM D17.2.37).
pub mod ec {
    /// Unknown reason (e.g. an undefined instruction).
    pub const UNKNOWN: u64 = 0x00;
    /// SVC from AArch64.
    pub const SVC64: u64 = 0x15;
    /// Instruction abort from a lower EL.
    pub const IABT_LOWER: u64 = 0x20;
    /// Instruction abort from the current EL.
    pub const IABT_CURRENT: u64 = 0x21;
    /// PC alignment fault.
    pub const PC_ALIGN: u64 = 0x22;
    /// Data abort from a lower EL.
    pub const DABT_LOWER: u64 = 0x24;
    /// Data abort from the current EL.
    pub const DABT_CURRENT: u64 = 0x25;
    /// SP alignment fault.
    pub const SP_ALIGN: u64 = 0x26;
    /// BRK instruction.
    pub const BRK: u64 = 0x3c;
}

impl Syndrome {
    /// Read ESR_EL1 and FAR_EL1.
    pub fn read() -> Self {
        Self {
            esr: ESR_EL1.get(),
            far: FAR_EL1.get(),
        }
    }

    /// Exception class.
    pub fn class(&self) -> u64 {
        (self.esr >> 26) & 0x3f
    }

    /// Fault status code of an abort (DFSC/IFSC).
    pub fn fault_status(&self) -> u64 {
        self.esr & 0x3f
    }

    /// True for a data abort caused by a write (WnR).
    pub fn is_write(&self) -> bool {
        self.esr & (1 << 6) != 0
    }

    /// Human name of the exception class.
    pub fn class_name(&self) -> &'static str {
        match self.class() {
            ec::UNKNOWN => "Unknown reason (undefined instruction)",
            0x01 => "Trapped WFI/WFE",
            0x07 => "Trapped FP/SIMD access",
            0x0e => "Illegal execution state",
            ec::SVC64 => "SVC (AArch64)",
            0x18 => "Trapped MSR/MRS/system instruction",
            ec::IABT_LOWER => "Instruction Abort from EL0",
            ec::IABT_CURRENT => "Instruction Abort from EL1",
            ec::PC_ALIGN => "PC alignment fault",
            ec::DABT_LOWER => "Data Abort from EL0",
            ec::DABT_CURRENT => "Data Abort from EL1",
            ec::SP_ALIGN => "SP alignment fault",
            0x2f => "SError",
            0x30..=0x35 => "Debug exception",
            ec::BRK => "BRK instruction",
            _ => "Other exception class",
        }
    }

    /// Human name of an abort's fault status code.
    pub fn fault_name(&self) -> &'static str {
        match self.fault_status() {
            0x00..=0x03 => "address size fault",
            0x04..=0x07 => "translation fault",
            0x09..=0x0b => "access flag fault",
            0x0d..=0x0f => "permission fault",
            0x10 => "synchronous external abort",
            0x21 => "alignment fault",
            _ => "other fault",
        }
    }

    fn is_abort(&self) -> bool {
        matches!(
            self.class(),
            ec::IABT_LOWER | ec::IABT_CURRENT | ec::DABT_LOWER | ec::DABT_CURRENT
        )
    }
}

impl fmt::Display for Syndrome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (EC {:#04x})", self.class_name(), self.class())?;
        if self.is_abort() {
            write!(f, ", {}", self.fault_name())?;
            if matches!(self.class(), ec::DABT_LOWER | ec::DABT_CURRENT) {
                f.write_str(if self.is_write() {
                    " on write"
                } else {
                    " on read"
                })?;
            }
        }
        write!(
            f,
            "\n  ESR_EL1 {:#018x}  FAR_EL1 {:#018x}",
            self.esr, self.far
        )
    }
}

impl fmt::Display for TrapFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  ELR_EL1 {:#018x}  SPSR_EL1 {:#018x}  SP_EL0 {:#018x}",
            self.elr, self.spsr, self.sp_el0
        )?;
        for (i, pair) in self.x.chunks(3).enumerate() {
            f.write_str(" ")?;
            for (j, r) in pair.iter().enumerate() {
                write!(f, " x{:<2} {:#018x}", i * 3 + j, r)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

// Probe routines and the user entry in vectors.S.
#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // the probes: used by the QEMU tests
extern "C" {
    fn enter_user_frame(frame: *const TrapFrame, stack_top: u64) -> !;
    fn probe_read_u8(addr: u64, value: u64, out: *mut [u64; 3]);
    fn probe_write_u8(addr: u64, value: u64, out: *mut [u64; 3]);
    fn probe_exec(addr: u64, value: u64, out: *mut [u64; 3]);
    static probe_read_u8_insn: u8;
    static probe_write_u8_insn: u8;
}

/// The frames `enter_user` erets from, one per CPU (statics, so copying one onto the
/// stack top cannot overlap the caller's own stack frame).
struct FirstFrames(core::cell::UnsafeCell<[TrapFrame; platform::board::MAX_CPUS]>);

// SAFETY: each CPU touches only its own element, in `enter_user`, once per boot, with
// interrupts masked.
unsafe impl Sync for FirstFrames {}

static FIRST_FRAMES: FirstFrames = FirstFrames(core::cell::UnsafeCell::new(
    [const {
        TrapFrame {
            x: [0; 31],
            sp_el0: 0,
            elr: 0,
            spsr: 0,
        }
    }; platform::board::MAX_CPUS],
));

/// Leave the kernel's boot path for EL0: reset this CPU's kernel stack to `stack_top`
/// and `eret` into `frame`.
///
/// # Safety
/// `frame` must be a valid EL0 context (SPSR for EL0t) whose address space is installed
/// in TTBR0; `stack_top` must be the top of this CPU's kernel stack; nothing on that
/// stack may be needed again.
pub unsafe fn enter_user(frame: &TrapFrame, cpu: usize, stack_top: u64) -> ! {
    // SAFETY: each CPU uses only its own slot, with interrupts masked.
    let slot = unsafe { &mut (*FIRST_FRAMES.0.get())[cpu] };
    *slot = frame.clone();
    // SAFETY: forwarded from the caller; the assembly copies the frame to the stack top
    // and restores it exactly as an exception return would.
    unsafe { enter_user_frame(slot, stack_top) }
}

/// Armed while `probe_exec` runs: an EL1 instruction abort then resumes at x30.
static EXEC_PROBE_ARMED: AtomicBool = AtomicBool::new(false);

#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
/// Outcome of an access probe: the byte read (for reads) or the fault it raised.
pub type ProbeResult = Result<u8, Syndrome>;

#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
fn probe_outcome(out: [u64; 3]) -> ProbeResult {
    if out[1] == 0 {
        Ok(out[0] as u8)
    } else {
        Err(Syndrome {
            esr: out[1],
            far: out[2],
        })
    }
}

#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
/// Read one byte at `addr`; a fault is caught and returned instead of being fatal.
pub fn probe_read(addr: u64) -> ProbeResult {
    let mut out = [0u64; 3];
    // SAFETY: the probe's load is covered by the fault fixup in `handle_exception`, so a
    // fault resumes after it; a successful read of a mapped byte has no side effect on
    // normal memory (callers must not probe device registers with read side effects).
    unsafe { probe_read_u8(addr, 0, &mut out) };
    probe_outcome(out)
}

#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
/// Write `value` at `addr`; a fault is caught and returned instead of being fatal.
///
/// # Safety
/// If the write succeeds it really happens: `addr` must be memory the caller may change.
pub unsafe fn probe_write(addr: u64, value: u8) -> ProbeResult {
    let mut out = [0u64; 3];
    // SAFETY: covered by the fault fixup; the caller vouches for the effect of success.
    unsafe { probe_write_u8(addr, u64::from(value), &mut out) };
    probe_outcome(out)
}

#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
/// Branch to `addr`; an instruction abort is caught and returned.
///
/// # Safety
/// If `addr` is executable, the code there runs: it must be a function that returns
/// (e.g. a single `ret`).
pub unsafe fn probe_execute(addr: u64) -> ProbeResult {
    let mut out = [0u64; 3];
    EXEC_PROBE_ARMED.store(true, Ordering::SeqCst);
    // SAFETY: an abort is resumed at the return address by the armed handler; the caller
    // vouches for what runs if the target is executable.
    unsafe { probe_exec(addr, 0, &mut out) };
    EXEC_PROBE_ARMED.store(false, Ordering::SeqCst);
    probe_outcome(out)
}

/// If the fault came from a probe, record it in the frame and resume; returns true then.
fn fixup_probe(frame: &mut TrapFrame, syn: &Syndrome) -> bool {
    let read_pc = core::ptr::addr_of!(probe_read_u8_insn) as u64;
    let write_pc = core::ptr::addr_of!(probe_write_u8_insn) as u64;
    let is_dabt = syn.class() == ec::DABT_CURRENT;
    if is_dabt && (frame.elr == read_pc || frame.elr == write_pc) {
        frame.x[9] = syn.esr;
        frame.x[10] = syn.far;
        frame.elr += 4;
        return true;
    }
    if syn.class() == ec::IABT_CURRENT && EXEC_PROBE_ARMED.load(Ordering::SeqCst) {
        frame.x[9] = syn.esr;
        frame.x[10] = syn.far;
        frame.elr = frame.x[30];
        return true;
    }
    false
}

/// Print everything known about a fatal exception and stop the kernel.
fn fatal(frame: &TrapFrame, kind: u64, syn: Option<&Syndrome>) -> ! {
    let mut out = crate::console::PanicWriter;
    let _ = writeln!(out, "\n*** FATAL EXCEPTION: {} ***", VectorKind::name(kind));
    if let Some(syn) = syn {
        let _ = writeln!(out, "  {syn}");
    }
    let _ = write!(out, "{frame}");
    crate::power::fail(crate::power::ExitCode::FatalException)
}

/// The syscall fast path's entry (`el0_sync` in vectors.S, for an `svc` only): the
/// call's arguments (x0..x5) and number (x8). Returns 0 if the call was handled (every
/// result of such a call is 0: the assembly zeroes x0..x2), nonzero to take the full
/// path, which then finds the whole call in its frame.
#[no_mangle]
extern "C" fn fast_syscall(a0: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, sys: u64) -> u64 {
    crate::latency::enter();
    let taken = crate::syscall::fast(sys, [a0, a1, a2, a3, a4, a5]);
    if taken == 0 {
        crate::latency::point();
    }
    taken
}

/// Rust entry for every exception vector. Called from `vectors.S` with the saved frame.
#[no_mangle]
extern "C" fn handle_exception(frame: &mut TrapFrame, kind: u64) {
    match VectorKind::from_raw(kind) {
        VectorKind::CurrentIrq => {
            crate::latency::enter();
            let ticked = crate::irq::dispatch();
            crate::task::on_idle_irq(ticked);
        }
        VectorKind::LowerIrq => {
            crate::latency::enter();
            // The thread may be preempted and moved to another CPU: complete its EL0
            // cleans here, on the CPU that issued them.
            super::cpu::complete_el0_maintenance();
            let ticked = crate::irq::dispatch();
            crate::task::on_lower_irq(frame, ticked);
        }
        VectorKind::CurrentSync => {
            let syn = Syndrome::read();
            if !fixup_probe(frame, &syn) && !super::semihosting::fixup(frame, &syn) {
                fatal(frame, kind, Some(&syn));
            }
        }
        VectorKind::LowerSync => {
            // An `svc`'s stretch began in `fast_syscall`, which it entered first.
            if cfg!(feature = "latency") && ESR_EL1.read(ESR_EL1::EC) != ec::SVC64 {
                crate::latency::enter();
            }
            crate::task::on_lower_sync(frame)
        }
        VectorKind::StackOverflow => {
            let syn = Syndrome::read();
            let _ = writeln!(
                crate::console::PanicWriter,
                "\n*** KERNEL STACK OVERFLOW: no room for an exception frame above the guard page ***"
            );
            fatal(frame, 4, Some(&syn));
        }
        VectorKind::Unexpected(raw) => {
            let syn = Syndrome::read();
            fatal(frame, raw, Some(&syn));
        }
    }
    crate::latency::point();
}
