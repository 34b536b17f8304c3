//! Helper: receives one `u64` fault mode (`utests::fault::*`) on the channel end it is
//! given as its first handle, then does that bad thing. Every mode but
//! `WRITE_STACK_BOTTOM` must get the task killed; if the instruction completes anyway
//! the helper exits with `utests::FAULT_SURVIVED`. Extra handles it is given are simply
//! held until it dies.

#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};
use urt::abi::{USER_STACK_SIZE, USER_STACK_TOP};
use utests::{fault, FAULT_BAD_MODE, FAULT_SURVIVED, SP_UNCHECKED};

/// `ret`, as an instruction word.
const RET: u32 = 0xd65f_03c0;

/// Writable data (in `.data`: non-zero initial value) holding a `ret` instruction.
static DATA_RET: AtomicU64 = AtomicU64::new(RET as u64 | (RET as u64) << 32);

/// Read-only data (in `.rodata`).
static RODATA: [u64; 2] = [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210];

const KERNEL_IMAGE: u64 = 0xffff_ff80_0000_0000;
const KERNEL_LINEAR: u64 = 0xffff_0000_4000_0000;
const UNMAPPED: u64 = 0x10_0000_0000;

fn read(addr: u64) {
    let _v: u64;
    // SAFETY: deliberately faulting load; the kernel kills this task. `addr` is never
    // memory Rust code relies on.
    unsafe { asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) _v, options(nostack)) };
}

fn write(addr: u64) {
    // SAFETY: deliberately faulting store to memory no Rust code uses (kernel, unmapped,
    // read-only or the guard page); the kernel kills this task.
    unsafe {
        asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) 0x5a5a_5a5a_u64, options(nostack))
    };
}

fn call(addr: u64) {
    // SAFETY: deliberately branches to `addr`, which must fault (not executable). If it
    // were executable it holds `ret` (data/stack cases) and comes straight back, having
    // clobbered only x30, which is declared.
    unsafe { asm!("blr {a}", a = in(reg) addr, out("x30") _, options(nostack)) };
}

fn do_fault(mode: u64) -> u64 {
    match mode {
        fault::READ_KERNEL_IMAGE => read(KERNEL_IMAGE),
        fault::WRITE_KERNEL_IMAGE => write(KERNEL_IMAGE),
        fault::EXEC_KERNEL_IMAGE => call(KERNEL_IMAGE),
        fault::READ_KERNEL_LINEAR => read(KERNEL_LINEAR),
        fault::WRITE_KERNEL_LINEAR => write(KERNEL_LINEAR),
        fault::READ_UNMAPPED => read(UNMAPPED),
        fault::WRITE_UNMAPPED => write(UNMAPPED),
        fault::READ_NULL => read(0),
        fault::EXEC_UNMAPPED => call(UNMAPPED),
        fault::UDF => {
            // SAFETY: permanently undefined instruction; the task is killed.
            unsafe { asm!("udf #0", options(nostack)) }
        }
        fault::WRITE_TEXT => write(do_fault as *const () as u64),
        fault::WRITE_RODATA => write(RODATA.as_ptr() as u64),
        fault::EXEC_DATA => call(DATA_RET.as_ptr() as u64),
        fault::EXEC_STACK => {
            let code = [RET; 4];
            call(core::hint::black_box(&code).as_ptr() as u64);
        }
        fault::WRITE_STACK_GUARD => write(USER_STACK_TOP - USER_STACK_SIZE - 8),
        fault::MISALIGNED_EXCLUSIVE => {
            let addr = DATA_RET.as_ptr() as u64 + 1;
            let _v: u64;
            // SAFETY: an exclusive load from a misaligned address always takes an
            // alignment fault; it would only read our own static otherwise.
            unsafe { asm!("ldxr {v}, [{a}]", a = in(reg) addr, v = out(reg) _v, options(nostack)) };
        }
        fault::MISALIGNED_PC => {
            // SAFETY: branches to a PC that is not 4-byte aligned: PC alignment fault.
            // Were it not to fault, nothing is executed there (it cannot be decoded at
            // all), so this never falls through.
            unsafe {
                asm!(
                    "adr {t}, 2f",
                    "add {t}, {t}, #2",
                    "br {t}",
                    "2:",
                    "nop",
                    t = out(reg) _,
                    options(nostack),
                )
            };
        }
        fault::MISALIGNED_SP => {
            // SAFETY: moves sp 4 bytes down (misaligned), loads through it (our own
            // stack memory, below the live frame) and restores sp. With SCTLR_EL1.SA0
            // the load takes an SP alignment fault; without, it completes harmlessly.
            unsafe {
                asm!(
                    "mov {save}, sp",
                    "sub {t}, {save}, #4",
                    "mov sp, {t}",
                    "ldr {t}, [sp]",
                    "mov sp, {save}",
                    save = out(reg) _,
                    t = out(reg) _,
                )
            };
            return SP_UNCHECKED;
        }
        fault::MRS_EL1_REG => {
            let _v: u64;
            // SAFETY: EL1 register access from EL0 is UNDEFINED; the task is killed.
            unsafe { asm!("mrs {v}, ttbr1_el1", v = out(reg) _v, options(nomem, nostack)) };
        }
        fault::HVC => {
            // SAFETY: HVC at EL0 is UNDEFINED; the task is killed.
            unsafe { asm!("hvc #0", options(nostack)) };
        }
        fault::BRK => {
            // SAFETY: software breakpoint; with no debugger the task is killed.
            unsafe { asm!("brk #0", options(nostack)) };
        }
        fault::WRITE_STACK_BOTTOM => {
            let bottom = (USER_STACK_TOP - USER_STACK_SIZE) as *mut u64;
            // SAFETY: the lowest word of our 64 KiB stack: mapped read-write and far below
            // anything this program's frames use.
            unsafe {
                bottom.write_volatile(0x1234_5678);
                if bottom.read_volatile() != 0x1234_5678 {
                    return 1;
                }
            }
            return 0;
        }
        fault::READ_TOP_OF_USER => read(urt::abi::USER_END - 8),
        fault::READ_NONCANONICAL => read(urt::abi::USER_END),
        fault::WRITE_PMCR => {
            // SAFETY: EL0 has no write access to the PMU; the task is killed (were it
            // allowed, it would only reset the counters).
            unsafe { asm!("msr pmcr_el0, xzr", options(nomem, nostack)) };
        }
        fault::STOP_CYCLE_COUNTER => {
            // SAFETY: as above (were it allowed, the cycle counter would stop).
            unsafe { asm!("msr pmcntenclr_el0, {}", in(reg) 1u64 << 31, options(nomem, nostack)) };
        }
        fault::WRITE_TIMER => {
            // SAFETY: EL0 has no access to the timer registers; the task is killed (were
            // it allowed, it would disable the virtual timer).
            unsafe { asm!("msr cntv_ctl_el0, xzr", options(nomem, nostack)) };
        }
        fault::DC_CVAC => {
            // SAFETY: a clean of our own static's line changes no value; without UCI the
            // instruction traps and the task is killed.
            unsafe { asm!("dc cvac, {}", in(reg) DATA_RET.as_ptr(), options(nostack)) };
        }
        fault::DC_CIVAC => {
            // SAFETY: as above; a clean+invalidate changes no value either.
            unsafe { asm!("dc civac, {}", in(reg) DATA_RET.as_ptr(), options(nostack)) };
        }
        fault::DC_IVAC => {
            // SAFETY: UNDEFINED at EL0 (the task is killed). Were it allowed it would
            // discard a dirty line of our own static, which nothing relies on after.
            unsafe { asm!("dc ivac, {}", in(reg) DATA_RET.as_ptr(), options(nostack)) };
        }
        _ => return FAULT_BAD_MODE,
    }
    // Keep the atomic "used" as data the optimiser cannot fold away.
    DATA_RET.load(Ordering::Relaxed);
    FAULT_SURVIVED
}

fn main(args: urt::StartArgs) -> i32 {
    let Some(ch) = args.get(0) else {
        urt::println!("h_fault: no channel");
        return FAULT_BAD_MODE as i32;
    };
    let mode = match utests::recv_u64(ch) {
        Ok(m) => m,
        Err(e) => {
            urt::println!("h_fault: recv mode: {}", e);
            return FAULT_BAD_MODE as i32;
        }
    };
    let code = do_fault(mode);
    if code == FAULT_SURVIVED {
        urt::println!("h_fault: mode {} did not fault", mode);
    }
    code as i32
}

urt::entry!(main);
