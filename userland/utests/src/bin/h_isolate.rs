//! Helper for `test_fault_isolation` and `test_exhaustion`: started with a channel end,
//! then optionally a buffer handle and a resource handle (of that buffer, 64x64
//! pixels); receives `[mode, arg]` (`utests::isolate`) and does that.
//!
//! - Fault modes die with the exception class the mode names (`FAULT_SURVIVED` if the
//!   access went through). `TOUCH_AFTER_UNMAP` writes back the word it read, so the
//!   buffer's content is unchanged for the other holders.
//! - `LEGACY_WAIT`: maps the resource through the legacy path (fault policy), presents
//!   it (retrying while the keeper holds it for write) and at once reads page 0: the fault must wait for the device, not kill; then
//!   the fence must have signalled. Replies `[0, word]` (or `[1, ..]`), exits 0.
//! - `KEEPER`: `arg` rounds of START WRITE / pattern in pages 2..3 / END WRITE, START READ
//!   / check pages 0..1 / END READ, present, fence_wait; replies `[0 or 1, bad offset]`.
//! - `HOLD`: blocks on the channel until the other end closes; exits 0.

#![no_std]
#![no_main]

use core::arch::asm;
use urt::sync::{END, READ, START, WRITE};
use urt::{legacy, Handle, StartArgs};
use utests::isolate::*;
use utests::{find_mismatch, recv_u64s, send_u64s, write_pattern, FAULT_SURVIVED, SP_UNCHECKED};

const SETUP_FAILED: i32 = 97;
const PAGE: u64 = 4096;

fn setup<T>(r: urt::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            urt::println!("h_isolate: setup failed: {e:?}");
            urt::exit(SETUP_FAILED as u64)
        }
    }
}

fn keeper(ch: Handle, buf: Handle, res: Handle, rounds: u64) -> i32 {
    let p = setup(urt::buffer_map(buf, 3));
    let mut bad = u64::MAX;
    for _ in 0..rounds {
        setup(urt::buffer_sync(buf, START | WRITE, 2 * PAGE, 2 * PAGE));
        // SAFETY: pages 2..3 of our RW mapping of the 4-page buffer; no reference.
        unsafe { write_pattern(p.add(2 * PAGE as usize), 2 * PAGE as usize, KEEPER_SEED) };
        setup(urt::buffer_sync(buf, END | WRITE, 2 * PAGE, 2 * PAGE));
        setup(urt::buffer_sync(buf, START | READ, 0, 2 * PAGE));
        // SAFETY: pages 0..1 of our mapping.
        if let Some(off) = unsafe { find_mismatch(p, 2 * PAGE as usize, PARENT_SEED) } {
            bad = off as u64;
        }
        setup(urt::buffer_sync(buf, END | READ, 0, 2 * PAGE));
        if bad != u64::MAX {
            break;
        }
        // The parent may hold the buffer for write at this moment: Busy is fine.
        match urt::gpu_present(res, 0, 0, 64, 64) {
            Ok(f) => setup(urt::fence_wait(f, 1_000_000_000)),
            Err(urt::Error::Busy) => {}
            Err(e) => setup(Err(e)),
        }
        urt::yield_now();
    }
    // SAFETY: nothing references the mapping any more.
    setup(unsafe { urt::buffer_unmap(p) });
    setup(send_u64s(ch, &[u64::from(bad != u64::MAX), bad]));
    0
}

fn legacy_wait(ch: Handle, res: Handle) -> i32 {
    let off = setup(urt::gpu_map_offset(res));
    let m = setup(urt::gpu_mmap(off, 4 * PAGE, 3, legacy::FAULT)) as *const u64;
    // The keeper may hold the buffer for write at this moment (on another CPU, or
    // preempted inside its bracket): the misuse detector's Busy is transient, so retry.
    let f = loop {
        match urt::gpu_present(res, 0, 0, 64, 64) {
            Err(urt::Error::Busy) => urt::yield_now(),
            r => break setup(r),
        }
    };
    // SAFETY: inside the legacy mapping: the fault waits for the device, then maps.
    let word = unsafe { m.read_volatile() };
    // The touch waited for the device's read of the buffer: the fence is done.
    let done = urt::fence_wait(f, 0);
    let ok = word == utests::pattern_word(PARENT_SEED, 0) && done.is_ok();
    if !ok {
        urt::println!("h_isolate: legacy touch read {word:#x}, fence poll after it {done:?}");
    }
    // SAFETY: nothing references the mapping.
    setup(unsafe { urt::buffer_unmap(m as *mut u8) });
    setup(send_u64s(ch, &[u64::from(!ok), word]));
    0
}

fn main(args: StartArgs) -> i32 {
    let Some(ch) = args.get(0) else {
        return SETUP_FAILED;
    };
    let mut w = [0u64; 2];
    if setup(recv_u64s(ch, &mut w).map_err(urt::Error::from)) != 2 {
        return SETUP_FAILED;
    }
    let (mode, arg) = (w[0], w[1]);
    let buf = args.get(1).unwrap_or(Handle(0));
    let res = args.get(2).unwrap_or(Handle(0));
    match mode {
        HOLD => {
            let mut b = [0u8; 8];
            while urt::channel_recv(ch, &mut b, &mut []).is_ok() {}
            return 0;
        }
        KEEPER => return keeper(ch, buf, res, arg),
        LEGACY_WAIT => return legacy_wait(ch, res),
        TOUCH_AFTER_UNMAP => {
            let p = setup(urt::buffer_map(buf, 3)) as *mut u64;
            // Under START/END WRITE like any CPU write (on non-coherent hardware a write
            // outside them can be lost to another holder's invalidate).
            setup(urt::buffer_sync(buf, START | WRITE, 0, 8));
            // SAFETY: mapped RW; writes back the value read, so nothing changes.
            unsafe { p.write_volatile(p.read_volatile()) };
            setup(urt::buffer_sync(buf, END | WRITE, 0, 8));
            // SAFETY: nothing references the mapping; the touch below must fault.
            setup(unsafe { urt::buffer_unmap(p as *mut u8) });
            // SAFETY: deliberately faulting load from the unmapped range.
            let _ = unsafe { p.read_volatile() };
        }
        WRITE_READONLY_DIRECT => {
            let p = setup(urt::buffer_map(buf, 1)) as *mut u64;
            // SAFETY: deliberately faulting store to a read-only mapping.
            unsafe { p.write_volatile(0xdead) };
        }
        WRITE_READONLY_LEGACY | WRITE_READONLY_LEGACY_UNCACHED => {
            let off = setup(urt::gpu_map_offset(res));
            let policy = if mode == WRITE_READONLY_LEGACY {
                legacy::FAULT
            } else {
                legacy::UNCACHED
            };
            let p = setup(urt::gpu_mmap(off, PAGE, 1, policy)) as *mut u64;
            // SAFETY: readable (faults in under the fault policy).
            let _ = unsafe { p.read_volatile() };
            // SAFETY: deliberately faulting store to a read-only legacy mapping.
            unsafe { p.write_volatile(0xdead) };
        }
        UDF_HOLDING_START => {
            setup(urt::buffer_sync(buf, START | WRITE, 0, 0));
            // SAFETY: permanently undefined: the task dies holding its START.
            unsafe { asm!("udf #2", options(nostack)) };
        }
        MISALIGNED_SP => {
            // SAFETY: moves sp 4 bytes down (misaligned), loads through it (our own
            // stack, below the live frame) and restores it.
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
            let _ = unsafe { (0xffff_ff80_0000_0000u64 as *const u64).read_volatile() };
        }
        _ => return SETUP_FAILED,
    }
    FAULT_SURVIVED as i32
}

urt::entry!(main);
