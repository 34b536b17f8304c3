//! A task the fuzzer expects to die (or, in one mode, to exit after garbage calls):
//! spawned with a channel end, then optionally a buffer handle and a resource handle;
//! reads `[mode, seed]` (`fuzz::victim`) and does that.
//!
//! The buffers it is given are shared with the fuzzer, which goes on using them after
//! this task is killed: a killed holder must leave them valid, and its open START
//! (`UDF_HOLDING_START`) must die with it.

#![no_std]
#![no_main]

use core::arch::asm;
use core::cell::UnsafeCell;
use fuzz::urt::{self, sync, Handle, StartArgs};
use fuzz::{check, peek, poke, raw, recv_words, victim::*, Mask, Rng};

const SCRATCH_SIZE: usize = 8192;

#[repr(C, align(4096))]
struct Scratch(UnsafeCell<[u8; SCRATCH_SIZE]>);

// SAFETY: single-threaded; only the kernel (on our behalf) and raw pointers touch it.
unsafe impl Sync for Scratch {}

static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; SCRATCH_SIZE]));

fn setup<T>(r: urt::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            urt::println!("fuzz_victim: setup failed: {e:?}");
            urt::exit(SETUP_FAILED)
        }
    }
}

fn garbage(seed: u64, handles: &[Handle]) -> ! {
    let scratch = SCRATCH.0.get() as u64;
    for i in 0..300u64 {
        let mut g = Rng::derive(seed, 7, i);
        // Never exit (or end its only thread), wait or receive (a receive on a channel
        // it made could block).
        let num = loop {
            let n = if g.chance(1, 10) {
                g.next_u64()
            } else {
                g.below(fuzz::LAST_SYSCALL + 3)
            };
            if n != 0 && n != 4 && n != 12 && n != urt::Sys::ThreadExit as u64 {
                break n;
            }
        };
        let mut a = [0u64; 6];
        for v in a.iter_mut() {
            *v = match g.below(5) {
                0 if !handles.is_empty() => g.pick(handles).0 as u64,
                1 => g.length(),
                2 => g.pick(&[0, 0xffff_ff80_0000_0000, 0x10_0000_0000, u64::MAX - 7]),
                3 => g.below(16),
                _ => g.next_u64(),
            };
        }
        match num {
            // Printing and writing: only refused pointers or scratch.
            2 => {
                a[1] = if g.chance(1, 2) {
                    0
                } else {
                    4097 + g.below(100)
                }
            }
            5 => {
                a[0] = if g.chance(1, 20) {
                    g.below(1_000_000)
                } else {
                    u64::MAX
                }
            }
            19 | 27 => {
                a[1] = scratch;
                a[2] = g.below(SCRATCH_SIZE as u64 / 40);
                if num == 27 {
                    a[0] = scratch;
                }
            }
            3 => a[1] = 65 + g.below(10),
            // thread_create: never a thread running garbage (its fault would end this
            // task otherwise than its mode says): the stack is always misaligned.
            n if n == urt::Sys::ThreadCreate as u64 => a[1] |= 8,
            _ => {}
        }
        // SAFETY: pointers the kernel may write through are refused or in SCRATCH;
        // this task's handles are its own to lose; it never exits here.
        let r = unsafe { raw(num, a) };
        if let Err(v) = check(i, num, a, r, Mask::NONE) {
            urt::println!("fuzz_victim: VIOLATION {v}");
            urt::exit(1);
        }
    }
    urt::exit(GARBAGE_EXIT_CODE)
}

fn main(args: StartArgs) -> i32 {
    let Some(ch) = args.get(0) else {
        return SETUP_FAILED as i32;
    };
    let mut w = [0u64; 2];
    setup(recv_words(ch, &mut w));
    let (mode, seed) = (w[0], w[1]);
    let buf = args.get(1).filter(|h| h.0 != 0);
    let res = args.get(2).filter(|h| h.0 != 0);
    match mode {
        TOUCH_AFTER_UNMAP => {
            let b = setup(buf.ok_or(urt::Error::BadHandle));
            let p = setup(urt::buffer_map(b, 3)) as u64;
            // SAFETY: just mapped writable, 8-aligned; no reference covers it.
            unsafe { poke(p, seed) };
            // SAFETY: nothing references the mapping; the touch below must fault.
            setup(unsafe { urt::buffer_unmap(p as *mut u8) });
            // SAFETY: deliberately faulting load.
            let _ = unsafe { peek(p) };
        }
        WRITE_READONLY_DIRECT => {
            let b = setup(buf.ok_or(urt::Error::BadHandle));
            let p = setup(urt::buffer_map(b, 1)) as u64;
            // SAFETY: mapped readable.
            let _ = unsafe { peek(p) };
            // SAFETY: deliberately faulting store to a read-only mapping.
            unsafe { poke(p, seed) };
        }
        WRITE_READONLY_LEGACY | WRITE_READONLY_LEGACY_UNCACHED => {
            let r = setup(res.ok_or(urt::Error::BadHandle));
            let off = setup(urt::gpu_map_offset(r));
            let policy = if mode == WRITE_READONLY_LEGACY {
                urt::legacy::FAULT
            } else {
                urt::legacy::UNCACHED
            };
            let p = setup(urt::gpu_mmap(off, 4096, 1, policy)) as u64;
            // SAFETY: mapped readable (a fault-policy page faults in on this read).
            let _ = unsafe { peek(p) };
            // SAFETY: deliberately faulting store to a read-only legacy mapping.
            unsafe { poke(p, seed) };
        }
        UDF_HOLDING_START => {
            let b = setup(buf.ok_or(urt::Error::BadHandle));
            setup(urt::buffer_sync(b, sync::START | sync::WRITE, 0, 0));
            // SAFETY: permanently undefined; the task is killed holding its START.
            unsafe { asm!("udf #1", options(nostack)) };
        }
        MISALIGNED_SP => {
            // SAFETY: moves sp 4 bytes down (misaligned) and loads through it (our own
            // stack, below the live frame), then restores it. SCTLR_EL1.SA0 makes the
            // load fault.
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
            return SP_UNCHECKED as i32;
        }
        EXEC_UNMAPPED => {
            // SAFETY: branches to an unmapped address; the instruction abort kills us.
            unsafe {
                asm!("blr {a}", a = in(reg) 0x7f_0000_0000u64, out("x30") _, options(nostack))
            };
        }
        READ_KERNEL => {
            // SAFETY: deliberately faulting load from kernel space.
            let _ = unsafe { peek(0xffff_ff80_0000_0000) };
        }
        GARBAGE_EXIT => {
            let _ = urt::handle_close(ch);
            let mut hs = [Handle(0); 2];
            let mut n = 0;
            for h in [buf, res].into_iter().flatten() {
                hs[n] = h;
                n += 1;
            }
            garbage(seed, &hs[..n]);
        }
        _ => return SETUP_FAILED as i32,
    }
    SURVIVED as i32
}

urt::entry!(main);
