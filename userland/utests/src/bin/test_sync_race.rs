//! A writer thread STARTs and ENDs CPU write on a buffer as fast as it can (the syscall
//! fast path, which takes no kernel lock) while the first thread presents the buffer
//! over and over (the full path, under the kernel lock): on 4 CPUs they run at the same
//! time. Every present must either fail with `Busy` (the writer holds the buffer) or be
//! submitted with no CPU writer counted on the buffer; test kernels check the latter
//! after each submission, inside the buffer's closed gate, and stop with a panic if a
//! START slipped in between the present's misuse check and its fence (what the gate,
//! `kobj::gate`, exists to prevent). The writer's START and END never fail (a START
//! meeting a present's fence waits for it). Pixels are the screendump tests' business;
//! this test is about the protocol.
//!
//! The presents go to a fresh buffer every `PER_ROUND`: until its first present no
//! closer has marked a buffer, so the writer's START takes hold in one step of the
//! gate's word (`Gate::try_change_unmarked`), and each round's first present races
//! that step; the rest race the pass a marked buffer takes.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use urt::sync::{END, START, WRITE};
use urt::{format, policy, Error, Handle, StartArgs, Sys};
use utests::{check, check_eq, ok, TestResult};

const STACK: usize = 16 * 1024;
/// Presents on several CPUs (each a window for the gate to be tested), and on one
/// (where nothing runs in parallel: the protocol only, and a run under the sanitizer's
/// plugin stays short).
const PRESENTS: [u64; 2] = [5_000, 300];
/// Presents per buffer (one round).
const PER_ROUND: u64 = 50;
/// Spins between the writer's brackets (about as long as a bracket).
const PAUSE: u32 = 400;
const SIDE: u64 = 64;

#[repr(align(16))]
struct Stack(#[allow(dead_code)] [u8; STACK]);

static mut WRITER_STACK: Stack = Stack([0; STACK]);
static BUF: AtomicU64 = AtomicU64::new(0);
static VA: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicU64 = AtomicU64::new(0);
static STARTS: AtomicU64 = AtomicU64::new(0);
/// The first thread asks the writer to stand aside while it changes buffers (`HOLD`:
/// the round it changes to, 0: go on); the writer says it does (`PARKED`: that round),
/// between brackets.
static HOLD: AtomicU64 = AtomicU64::new(0);
static PARKED: AtomicU64 = AtomicU64::new(0);
static WRITER_ERRORS: AtomicU64 = AtomicU64::new(0);

fn call(num: Sys, a: [u64; 6]) -> [u64; 3] {
    // SAFETY: the GPU calls only read their integer arguments; no pointers are passed.
    unsafe { urt::sys::raw_syscall(num as u64, a) }
}

extern "C" fn writer(_: u64) -> ! {
    let mut n = 0u32;
    while STOP.load(Ordering::Acquire) == 0 {
        let hold = HOLD.load(Ordering::Acquire);
        if hold != 0 {
            PARKED.store(hold, Ordering::Release);
            while HOLD.load(Ordering::Acquire) == hold && STOP.load(Ordering::Acquire) == 0 {
                urt::yield_now();
            }
            continue;
        }
        let buf = Handle(BUF.load(Ordering::Acquire) as u32);
        let va = VA.load(Ordering::Acquire) as *mut u32;
        match urt::buffer_sync(buf, START | WRITE, 0, 4096) {
            Ok(()) => {
                n = n.wrapping_add(1);
                for i in 0..16 {
                    // SAFETY: `va` maps the whole buffer for write; in bounds.
                    unsafe { va.add(i * 16).write_volatile(n) };
                }
                STARTS.fetch_add(1, Ordering::Relaxed);
                if urt::buffer_sync(buf, END | WRITE, 0, 4096).is_err() {
                    WRITER_ERRORS.fetch_add(1, Ordering::Relaxed);
                }
                // Leave the buffer free for a while, or nearly every present is refused.
                for _ in 0..PAUSE {
                    core::hint::spin_loop();
                }
            }
            Err(_) => {
                WRITER_ERRORS.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    urt::thread_exit(0)
}

/// A fresh buffer, mapped and imported as a GPU resource: (buffer, its mapping,
/// resource id).
fn fresh() -> Result<(Handle, *mut u8, u64), utests::Failed> {
    let buf = ok!(urt::buffer_create(SIDE * SIDE * 4, policy::CACHED));
    let va = ok!(urt::buffer_map(buf, urt::prot::READ | urt::prot::WRITE));
    let r = call(
        Sys::GpuImport,
        [u64::from(buf.0), SIDE, SIDE, format::B8G8R8X8, 0, 0],
    );
    check_eq!(r[0], 0, "import");
    Ok((buf, va, r[1]))
}

fn test(_args: StartArgs) -> TestResult {
    let (mut buf, va, mut res) = fresh()?;
    BUF.store(u64::from(buf.0), Ordering::Release);
    VA.store(va as u64, Ordering::Release);
    // SAFETY: `writer` ends with thread_exit; the stack is its own.
    let top = core::ptr::addr_of_mut!(WRITER_STACK) as u64 + STACK as u64;
    let w = ok!(unsafe { urt::thread_create(writer, top, 0) });

    let (mut submitted, mut busy) = (0u64, 0u64);
    let presents = PRESENTS[usize::from(ok!(urt::stats(urt::Stat::Cpus)) == 1)];
    for i in 0..presents {
        if i > 0 && i % PER_ROUND == 0 {
            // The writer stands aside between brackets; the last round's buffer goes
            // and the next one's is fresh.
            let round = i / PER_ROUND;
            HOLD.store(round, Ordering::Release);
            while PARKED.load(Ordering::Acquire) != round {
                urt::yield_now();
            }
            // SAFETY: the writer, the only user of the mapping, stands aside, and it
            // loads the next round's `VA` before it writes again.
            ok!(unsafe { urt::buffer_unmap(VA.load(Ordering::Acquire) as *mut u8) });
            ok!(urt::handle_close(buf));
            ok!(urt::handle_close(Handle(res as u32)));
            let (b, va, r) = fresh()?;
            (buf, res) = (b, r);
            BUF.store(u64::from(buf.0), Ordering::Release);
            VA.store(va as u64, Ordering::Release);
            HOLD.store(0, Ordering::Release);
            // On one CPU the writer runs only when this thread blocks or yields (or a
            // tick preempts it), and a present whose fence is already complete blocks
            // nowhere: let it take the new buffer now, or a run may end with no START.
            urt::yield_now();
        }
        let r = call(Sys::GpuPresent, [res, 0, 0, SIDE, SIDE, 0]);
        match r[0] {
            0 => {
                submitted += 1;
                ok!(
                    urt::fence_wait(urt::Fence(r[1]), 1_000_000_000),
                    "fence of present {}",
                    i
                );
            }
            e if e == Error::Busy as u64 => {
                busy += 1;
                // If the scheduler put the writer on this CPU, let it finish its bracket.
                urt::yield_now();
            }
            e => {
                STOP.store(1, Ordering::Release);
                check_eq!(e, 0, "present {}", i);
            }
        }
    }
    STOP.store(1, Ordering::Release);
    ok!(urt::wait(w));
    check_eq!(
        WRITER_ERRORS.load(Ordering::Relaxed),
        0,
        "the writer's START/END never failed (a present in flight makes START wait)"
    );
    check!(submitted > 0, "no present was submitted");
    check!(
        STARTS.load(Ordering::Relaxed) > 0,
        "the writer never started"
    );
    urt::println!(
        "test_sync_race: {submitted} presents submitted, {busy} refused Busy, {} writer brackets",
        STARTS.load(Ordering::Relaxed)
    );
    Ok(())
}

utests::test_main!(test);
