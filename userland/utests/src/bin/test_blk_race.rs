//! A reader thread STARTs and ENDs CPU read on a buffer as fast as it can (the syscall
//! fast path, which takes no kernel lock) while the first thread has the block device
//! write the buffer over and over (`blk_read`, the full path, under the kernel lock): on
//! 4 CPUs they run at the same time. Every `blk_read` must either fail with `Busy` (the
//! reader holds the buffer) or be submitted with no CPU holder counted on the buffer;
//! test kernels check the latter after each submission, inside the buffer's closed
//! gate, and stop with a panic if a START slipped in between the read's misuse check
//! and its fence (what the gate, `kobj::gate`, exists to prevent). The reader's START
//! and END never fail (a START meeting the device's fence waits for it); after a
//! completed write it reads the disk's sectors. `test_sync_race` is the same for
//! `gpu_present` and a writer.
//!
//! Two rounds: an uncached buffer first (never maintained: every START takes the fast
//! path, so the gate alone stands between it and the whole submission), then a cached
//! one (a write marks its lines stale at submission, which sends the next START to the
//! full path to invalidate them, so only the moment before that is at stake; test
//! kernels also check on every START that a buffer whose `stale_seen` is false has no
//! stale line, the fast path's shortcut).
//!
//! Without a block device the test checks `NotSupported` and passes.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use scene::capture::{test_word, TEST_SECTOR_BASE};
use urt::sync::{END, READ, START};
use urt::{policy, Error, Handle, StartArgs};
use utests::{check, check_eq, ok, TestResult};

const STACK: usize = 16 * 1024;
/// Reads per round on several CPUs (each a window for the gate to be tested), and on
/// one (where nothing runs in parallel: the protocol only, and a run under the
/// sanitizer's plugin stays short).
const READS: [u64; 2] = [5_000, 300];
const SIZE: u64 = 4096;
const SECTORS: u64 = SIZE / 512;
/// Spins between the reader's brackets (about as long as a bracket).
const PAUSE: u32 = 400;

#[repr(align(16))]
struct Stack(#[allow(dead_code)] [u8; STACK]);

static mut READER_STACK: Stack = Stack([0; STACK]);
static BUF: AtomicU64 = AtomicU64::new(0);
static VA: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicU64 = AtomicU64::new(0);
static BRACKETS: AtomicU64 = AtomicU64::new(0);
static READER_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Set by the first thread once a read completed: from then on every bracket must see
/// the disk's sectors (every read writes the same ones).
static WRITTEN: AtomicU64 = AtomicU64::new(0);
static WRONG: AtomicU64 = AtomicU64::new(0);

extern "C" fn reader(_: u64) -> ! {
    let buf = Handle(BUF.load(Ordering::Acquire) as u32);
    let va = VA.load(Ordering::Acquire) as *const u32;
    while STOP.load(Ordering::Acquire) == 0 {
        let written = WRITTEN.load(Ordering::Acquire) != 0;
        match urt::buffer_sync(buf, START | READ, 0, SIZE) {
            Ok(()) => {
                // SAFETY: `va` maps the whole buffer for read; in bounds and aligned.
                let first = unsafe { va.read_volatile() };
                if written && first != test_word(TEST_SECTOR_BASE, 0) {
                    WRONG.fetch_add(1, Ordering::Relaxed);
                }
                BRACKETS.fetch_add(1, Ordering::Relaxed);
                if urt::buffer_sync(buf, END | READ, 0, SIZE).is_err() {
                    READER_ERRORS.fetch_add(1, Ordering::Relaxed);
                }
                // Leave the buffer free for a while, or nearly every read is refused.
                for _ in 0..PAUSE {
                    core::hint::spin_loop();
                }
            }
            Err(_) => {
                READER_ERRORS.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    urt::thread_exit(0)
}

/// One round on a fresh buffer of `policy`: (reads submitted, refused `Busy`, reader
/// brackets).
fn race(policy: u64) -> Result<(u64, u64, u64), utests::Failed> {
    let buf = ok!(urt::buffer_create(SIZE, policy));
    let va = ok!(urt::buffer_map(buf, urt::prot::READ));
    BUF.store(u64::from(buf.0), Ordering::Release);
    VA.store(va as u64, Ordering::Release);
    for c in [&STOP, &BRACKETS, &READER_ERRORS, &WRITTEN, &WRONG] {
        c.store(0, Ordering::Release);
    }
    // SAFETY: `reader` ends with thread_exit; the stack is its own, and the previous
    // round's reader has exited (waited for below).
    let top = core::ptr::addr_of_mut!(READER_STACK) as u64 + STACK as u64;
    let w = ok!(unsafe { urt::thread_create(reader, top, 0) });
    // On one CPU the reader runs only when this thread blocks or yields (or a tick
    // preempts it), and a read whose fence is already complete blocks nowhere: let it
    // start now, or a run may end with no bracket.
    urt::yield_now();

    let (mut submitted, mut busy) = (0u64, 0u64);
    let reads = READS[usize::from(ok!(urt::stats(urt::Stat::Cpus)) == 1)];
    for i in 0..reads {
        match urt::blk_read(buf, 0, TEST_SECTOR_BASE, SECTORS) {
            Ok(fence) => {
                submitted += 1;
                ok!(urt::fence_wait(fence, 5_000_000_000), "fence of read {}", i);
                WRITTEN.store(1, Ordering::Release);
            }
            Err(Error::Busy) => {
                busy += 1;
                // If the scheduler put the reader on this CPU, let it finish its bracket.
                urt::yield_now();
            }
            Err(e) => {
                STOP.store(1, Ordering::Release);
                check_eq!(e as u64, 0, "blk_read {}", i);
            }
        }
    }
    STOP.store(1, Ordering::Release);
    ok!(urt::wait(w));
    check_eq!(
        READER_ERRORS.load(Ordering::Relaxed),
        0,
        "the reader's START/END never failed (a read in flight makes START wait)"
    );
    check_eq!(
        WRONG.load(Ordering::Relaxed),
        0,
        "a START READ after a completed device write saw other bytes than the disk's"
    );
    check!(submitted > 0, "no read was submitted");
    let brackets = BRACKETS.load(Ordering::Relaxed);
    check!(brackets > 0, "the reader never started");
    ok!(urt::handle_close(buf));
    Ok((submitted, busy, brackets))
}

fn test(_args: StartArgs) -> TestResult {
    match urt::blk_info() {
        Err(Error::NotSupported) => {
            urt::println!("test_blk_race: no block device (NotSupported): nothing to race");
            return Ok(());
        }
        r => {
            ok!(r, "blk_info");
        }
    }
    for (name, policy) in [("uncached", policy::UNCACHED), ("cached", policy::CACHED)] {
        let (submitted, busy, brackets) = race(policy)?;
        urt::println!(
            "test_blk_race ({name}): {submitted} reads submitted, {busy} refused Busy, {brackets} reader brackets"
        );
    }
    Ok(())
}

utests::test_main!(test);
