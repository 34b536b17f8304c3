//! Garbage in every argument register of every call (1..=LAST_SYSCALL) and of unknown numbers,
//! from a fixed-seed xorshift64: every result must be 0 or a defined error code, known
//! numbers never say `UnknownSyscall`, unknown ones always do, and nothing panics or
//! hangs.
//!
//! Phase 1 runs with an empty handle table, so no garbage value can name a live
//! handle: `wait` and `channel_recv` cannot block and nothing of ours can be closed or
//! moved. Handles a garbage call happens to create (`channel_create`, an unlikely
//! `spawn`) are closed at once.
//!
//! Phase 2 keeps one channel (`a`, `b`) and aims the handle-taking calls at it with
//! garbage everywhere else. Garbage never equals `a`/`b`; the test tracks how many
//! messages each end has queued and tops the queue up before every `channel_recv` on
//! it, so a receive can never block. Pointers the kernel could write through are
//! only ever aimed at a scratch buffer (or at memory the kernel must refuse).
//!
//! The buffer calls never see a live buffer: a buffer a garbage `buffer_create` makes is
//! closed at once (and a mapping, could one ever be made, unmapped), so garbage cannot
//! map, unmap or sync anything of ours; `trace` reads land only in scratch, with a
//! capacity that fits.
//!
//! `sleep` with a valid (small) duration is rare; `exit` (0) is never called.

#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use urt::abi::{USER_END, USER_STACK_TOP};
use urt::{Handle, StartArgs, Stat, Sys};
use utests::{check, check_eq, ok, TestResult, XorShift64};

const SEED: u64 = 0x2545_f491_4f6c_dd1d;
const PHASE1_CALLS: u32 = 20_000;
const PHASE2_CALLS: u32 = 10_000;
const SCRATCH_SIZE: usize = 16 * 1024;
const HIGHEST_ERROR: u64 = urt::Error::ALL.len() as u64;
/// The highest defined syscall number.
const LAST_SYSCALL: u64 = Sys::ALL.len() as u64 - 1;
/// Most `trace` entries (40 bytes) that fit in scratch after the first 4 KiB.
const TRACE_CAP_IN_SCRATCH: u64 = (SCRATCH_SIZE as u64 - 4096) / 40;

/// Garbage the kernel may read and (for `channel_recv`, `trace`) write. Pointers into it
/// start in the first 4 KiB and the kernel writes at most 256 bytes + 8 handles, or
/// [`TRACE_CAP_IN_SCRATCH`] trace entries, so writes stay inside.
#[repr(C, align(4096))]
struct Scratch(UnsafeCell<[u8; SCRATCH_SIZE]>);

// SAFETY: single-threaded program; the array is only accessed through raw pointers
// (by this code before the calls, and by the kernel during them).
unsafe impl Sync for Scratch {}

static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; SCRATCH_SIZE]));

/// Read-only bytes for pointer arguments.
static RODATA: [u8; 512] = [0x5a; 512];

fn scratch() -> u64 {
    SCRATCH.0.get() as u64
}

struct Gen {
    rng: XorShift64,
    /// Values garbage must never take (our live handles), compared on the low 32 bits.
    avoid: [u32; 2],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ptr {
    /// The kernel must refuse it (or it is never dereferenced).
    Invalid,
    /// Points at readable memory we do not mind being read (or written, for scratch).
    Scratch,
    /// Points at our read-only memory (text or rodata).
    ReadOnly,
}

impl Gen {
    fn u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A value that is not one of our live handles, even truncated to 32 bits.
    fn not_ours(&mut self, v: u64) -> u64 {
        if self.avoid.contains(&(v as u32)) {
            v ^ 0x8000_0000
        } else {
            v
        }
    }

    fn handle(&mut self) -> u64 {
        let v = match self.rng.below(8) {
            0 => 0,
            1 => self.u64(),
            2 => self.u64() & 0xffff_ffff,
            3 => Handle::new(self.rng.below(260) as u16, self.rng.below(4) as u16).0 as u64,
            4 => Handle::new(self.rng.below(300) as u16, self.u64() as u16).0 as u64,
            5 => self.rng.below(0x30000),
            6 => self.u64() | 0x1_0001,
            _ => u64::MAX - self.rng.below(4),
        };
        self.not_ours(v)
    }

    fn len(&mut self) -> u64 {
        match self.rng.below(10) {
            0 => 0,
            1 => 1 + self.rng.below(16),
            2 => self.rng.below(300),
            3 => [4, 5, 8, 9, 64, 65, 256, 257, 4096, 4097][self.rng.below(10) as usize],
            4 => self.u64(),
            5 => u64::MAX - self.rng.below(16),
            6 => 1 << self.rng.below(64),
            7 => self.rng.below(10),
            _ => self.rng.below(5000),
        }
    }

    fn ptr(&mut self) -> (u64, Ptr) {
        match self.rng.below(12) {
            0 => (0, Ptr::Invalid),
            1 => (self.u64(), Ptr::Invalid),
            2 => (
                0xffff_ff80_0000_0000 + self.rng.below(1 << 20),
                Ptr::Invalid,
            ),
            3 => (
                0xffff_0000_0000_0000 | self.u64() & 0x0000_ffff_ffff_fff8,
                Ptr::Invalid,
            ),
            4 => (0x10_0000_0000 + self.rng.below(1 << 30), Ptr::Invalid),
            5 => (USER_END - self.rng.below(64), Ptr::Invalid),
            6 => (u64::MAX - self.rng.below(64), Ptr::Invalid),
            7 => (USER_STACK_TOP + self.rng.below(64), Ptr::Invalid),
            8 => (self.rng.below(0x40_0000), Ptr::Invalid),
            9 => (RODATA.as_ptr() as u64 + self.rng.below(512), Ptr::ReadOnly),
            10 => (test as *const () as u64 + self.rng.below(64), Ptr::ReadOnly),
            _ => (scratch() + self.rng.below(4096), Ptr::Scratch),
        }
    }
}

/// One garbage call. Returns the raw result.
fn fire(num: u64, args: [u64; 6]) -> [u64; 3] {
    // SAFETY: the caller built `args` so that any pointer the kernel may write through is
    // either refused by the kernel or inside SCRATCH (which nothing relies on), and no
    // handle argument names a handle we rely on except as planned in phase 2.
    unsafe { urt::sys::raw_syscall(num, args) }
}

struct Tally {
    calls: u64,
    ok: u64,
    sleeps: u64,
    by_code: [u64; HIGHEST_ERROR as usize + 1],
}

impl Tally {
    fn check(&mut self, num: u64, args: &[u64; 6], r: [u64; 3]) -> TestResult {
        self.calls += 1;
        check!(
            r[0] <= HIGHEST_ERROR,
            "syscall {:#x} {:x?} returned undefined code {:#x}",
            num,
            args,
            r[0]
        );
        self.by_code[r[0] as usize] += 1;
        if r[0] == 0 {
            self.ok += 1;
        }
        let known = (1..=LAST_SYSCALL).contains(&num);
        if known {
            check!(
                r[0] != 1,
                "known syscall {} {:x?} returned UnknownSyscall",
                num,
                args
            );
        } else {
            check_eq!(r[0], 1, "unknown syscall {:#x} {:x?}", num, args);
        }
        Ok(())
    }
}

/// Close handles a successful garbage call created, so they can never be hit later.
fn reap(num: u64, r: [u64; 3]) -> TestResult {
    if r[0] != 0 {
        return Ok(());
    }
    let created: &[u64] = match num {
        n if n == Sys::ChannelCreate as u64 => &[r[1], r[2]],
        n if n == Sys::HandleDup as u64 => &[r[1]],
        n if n == Sys::Spawn as u64 => &[r[1]],
        n if n == Sys::BufferCreate as u64 => &[r[1]],
        n if n == Sys::BufferMap as u64 => {
            // No live buffer handle exists while garbage flies (every buffer a garbage
            // create makes is closed at once), so this cannot happen; should it, the
            // mapping goes too, so that garbage can never unmap or fill it.
            // SAFETY: nothing references a mapping made by a garbage call.
            ok!(
                unsafe { urt::buffer_unmap(r[1] as *mut u8) },
                "unmapping {:#x} from garbage buffer_map",
                r[1]
            );
            &[]
        }
        _ => &[],
    };
    for &h in created {
        ok!(
            urt::handle_close(Handle(h as u32)),
            "closing handle {:#x} from garbage call {}",
            h,
            num
        );
    }
    Ok(())
}

fn number(g: &mut Gen) -> u64 {
    match g.rng.below(20) {
        0 => [LAST_SYSCALL + 1, LAST_SYSCALL + 2, 100, 255, 999][g.rng.below(5) as usize],
        1 => match g.u64() {
            // Never a defined number by accident.
            v if v <= LAST_SYSCALL => v + LAST_SYSCALL + 1,
            v => v,
        },
        2 => (1 << 32) | (1 + g.rng.below(LAST_SYSCALL)),
        // Not thread_exit: it would end this (single-threaded) task, like exit.
        _ => match 1 + g.rng.below(LAST_SYSCALL) {
            n if n == urt::Sys::ThreadExit as u64 => urt::Sys::Yield as u64,
            n => n,
        },
    }
}

/// Garbage arguments for `num`, adjusted so the call cannot block for long, print
/// garbage or write outside SCRATCH.
fn args_for(g: &mut Gen, num: u64, sleeps: &mut u64) -> [u64; 6] {
    let mut a = [0u64; 6];
    for v in a.iter_mut() {
        *v = match g.rng.below(4) {
            0 => g.handle(),
            1 => g.len(),
            2 => g.ptr().0,
            _ => g.u64(),
        };
    }
    match num {
        n if n == urt::Sys::ThreadCreate as u64 => {
            // thread_create(entry, stack, arg): garbage, but never a thread running
            // garbage code (it would fault and take this task with it): the stack is
            // always misaligned.
            a[1] |= 8;
        }
        2 => {
            // log(ptr, len): never print garbage; a valid pointer gets len 0 or > 4096.
            let (p, kind) = g.ptr();
            a[0] = p;
            a[1] = g.len();
            if kind != Ptr::Invalid && a[1] <= 4096 {
                a[1] = if g.rng.chance(1, 2) {
                    0
                } else {
                    4097 + g.rng.below(1 << 20)
                };
            }
        }
        3 => {
            // spawn(name, len, handles, len): a readable name pointer never comes with a
            // plausible length, so no garbage name can start a program.
            let (p, kind) = g.ptr();
            a[0] = p;
            a[1] = g.len();
            if kind != Ptr::Invalid && (1..=64).contains(&a[1]) {
                a[1] = 65 + g.rng.below(100);
            }
            let (hp, _) = g.ptr();
            a[2] = hp;
            a[3] = g.len();
        }
        4 | 7 | 8 | 9 | 15 | 17 | 18 => a[0] = g.handle(),
        5 => {
            // sleep(ns): almost always > 10^12 (InvalidArgument); rarely a short sleep.
            if g.rng.chance(1, 500) {
                a[0] = g.rng.below(2_000_000);
                *sleeps += 1;
            } else {
                a[0] = 1_000_000_000_001 + g.u64() % (u64::MAX - 1_000_000_000_001);
            }
        }
        11 | 12 => {
            a[0] = g.handle();
            let (p, _) = g.ptr();
            a[1] = p;
            a[2] = g.len();
            let (hp, _) = g.ptr();
            a[3] = hp;
            a[4] = g.len();
        }
        13 if g.rng.chance(1, 3) => a[0] = g.rng.below(6),
        19 => {
            // trace(cmd, ptr, cap): a read into scratch never runs past it, however many
            // entries are recorded (the kernel writes at most `cap` of 40 bytes each).
            if g.rng.chance(1, 2) {
                a[0] = g.rng.below(3);
            }
            let (p, kind) = g.ptr();
            a[1] = p;
            a[2] = g.len();
            if kind == Ptr::Scratch && a[2] > TRACE_CAP_IN_SCRATCH {
                a[2] = g.rng.below(TRACE_CAP_IN_SCRATCH + 1);
            }
        }
        _ => {}
    }
    a
}

fn phase1(g: &mut Gen, t: &mut Tally) -> TestResult {
    for _ in 0..PHASE1_CALLS {
        let num = number(g);
        let args = args_for(g, num, &mut t.sleeps);
        let r = fire(num, args);
        t.check(num, &args, r)?;
        reap(num, r)?;
    }
    Ok(())
}

/// Queue bookkeeping for phase 2: `queued[0]` at `a`, `queued[1]` at `b`.
struct Chan {
    ends: [Handle; 2],
    queued: [usize; 2],
}

impl Chan {
    fn top_up(&mut self, i: usize) -> TestResult {
        if self.queued[i] == 0 {
            ok!(
                urt::channel_send(self.ends[1 - i], b"top-up", &[]),
                "top-up send"
            );
            self.queued[i] += 1;
        }
        Ok(())
    }
}

fn phase2(g: &mut Gen, t: &mut Tally) -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    g.avoid = [a.0, b.0];
    let mut ch = Chan {
        ends: [a, b],
        queued: [0, 0],
    };
    for i in 0..PHASE2_CALLS {
        let num = number(g);
        let mut args = args_for(g, num, &mut t.sleeps);
        // Aim the handle-taking calls (not close) at our channel half of the time.
        let target = match num {
            4 | 8 | 9 | 11 | 12 | 15 | 17 | 18 if g.rng.chance(1, 2) => {
                Some(g.rng.below(2) as usize)
            }
            _ => None,
        };
        if let Some(e) = target {
            args[0] = ch.ends[e].0 as u64;
            if num == 12 {
                ch.top_up(e)?;
                // Receive only into scratch (or memory the kernel must refuse).
                let (p, kind) = g.ptr();
                args[1] = if kind == Ptr::Invalid {
                    p
                } else {
                    scratch() + g.rng.below(4096)
                };
                let (hp, kind) = g.ptr();
                args[3] = if kind == Ptr::Invalid {
                    hp
                } else {
                    scratch() + g.rng.below(4096)
                };
            }
            if num == 11 {
                // The handle array never holds our handles: point it away from scratch
                // (which received messages may have filled), at refused or read-only
                // memory.
                let (hp, kind) = g.ptr();
                args[3] = if kind == Ptr::Scratch {
                    RODATA.as_ptr() as u64
                } else {
                    hp
                };
            }
        }
        let r = fire(num, args);
        t.check(num, &args, r)?;
        if let Some(e) = target {
            if r[0] == 0 && num == 11 {
                ch.queued[1 - e] += 1;
            }
            if r[0] == 0 && num == 12 {
                ch.queued[e] -= 1;
                check_eq!(r[2], 0, "garbage recv #{} received handles", i);
            }
        }
        reap(num, r)?;
        // Our ends must survive everything (a garbage handle array could only move them
        // if it held their values, which the generator avoids).
        for (k, &h) in ch.ends.iter().enumerate() {
            check!(
                urt::handle_info(h).is_ok(),
                "phase 2 call #{} (syscall {} {:x?}) lost channel end {}",
                i,
                num,
                args,
                k
            );
        }
    }
    ok!(urt::handle_close(a));
    ok!(urt::handle_close(b));
    g.avoid = [0, 0];
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    // Fill the scratch buffer with garbage.
    let mut g = Gen {
        rng: XorShift64(SEED),
        avoid: [0, 0],
    };
    for i in 0..SCRATCH_SIZE / 8 {
        let v = g.u64();
        // SAFETY: in bounds of SCRATCH (8-byte aligned), which only this code and the
        // kernel touch; no reference to it exists.
        unsafe { (SCRATCH.0.get() as *mut u64).add(i).write_volatile(v) };
    }
    let free0 = ok!(urt::stats(Stat::FreeFrames));
    let tasks0 = ok!(urt::stats(Stat::Tasks));
    let ticks0 = ok!(urt::stats(Stat::Ticks));
    let mut t = Tally {
        calls: 0,
        ok: 0,
        sleeps: 0,
        by_code: [0; HIGHEST_ERROR as usize + 1],
    };

    phase1(&mut g, &mut t)?;
    phase2(&mut g, &mut t)?;

    let ticks = ok!(urt::stats(Stat::Ticks)) - ticks0;
    urt::println!(
        "test_garbage_args: {} calls ({} ok, {} short sleeps) in {} ticks; by code {:?}",
        t.calls,
        t.ok,
        t.sleeps,
        ticks,
        t.by_code
    );
    check_eq!(
        ok!(urt::stats(Stat::Tasks)),
        tasks0,
        "live tasks after the garbage"
    );
    check_eq!(
        ok!(utests::free_frames_settled(free0)),
        free0,
        "free frames after the garbage"
    );
    Ok(())
}

utests::test_main!(test);
