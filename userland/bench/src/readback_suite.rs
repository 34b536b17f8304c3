//! Suite `readback`: the device writes a buffer (a `blk_read` from the capture disk),
//! then the CPU reads what it wrote, with each way of making the CPU see the device's
//! bytes rather than stale cache lines ([`Variant`]).
//!
//! One case, `1MiB`: [`SECTORS`] sectors (1 MiB, the most one `blk_read` may ask for)
//! from sector 0 of the capture disk (its first frames, `scene::capture`) into the
//! first 1 MiB of a 1920x1080x4 buffer (8100 KiB, the frame suite's size) imported as a
//! GPU resource, as a capture into a frame buffer would be; then the CPU reads the 1 MiB
//! with the same code for every variant (`read`: 16-byte `ldp` loads, XOR-folded into a
//! checksum). Every read is checked against the disk's bytes (the checksum of
//! `scene::capture::disk_sector` over the same sectors, computed once up front), so a
//! strategy that read stale data would fail the run.
//!
//! Each variant gets a fresh buffer, resource and mapping; one warm-up readback, then
//! [`REPS`] measured. A readback is timed in three phases: `device_cycles`, the
//! `blk_read` call timed at its `svc` (for legacy mappings with the zap of the mapping);
//! `sync_cycles`, the START and END READ calls or the set/way clean, each timed at its
//! `svc`; `read_cycles`, the CPU read (with a legacy mapping's faults). The device's
//! work itself is not timed: between the device phase and the other two the program
//! waits for the fence and for the next timer tick, so each phase starts right after a
//! tick with the device idle, and a phase that a tick interrupted anyway is run again.
//! The kernel's events are counted over the three phases (not the wait).
//!
//! The block device signals completion with an interrupt whose arrival depends on the
//! host; when it lands right at the end of the `blk_read` call it adds its handler (a
//! few hundred cycles) to `device_cycles`. So each readback has the device write
//! [`DEVICE_TRIES`] times (the same bytes; between tries the CPU side runs untimed, so
//! every try starts from the same state) and keeps the cheapest tick-free call: the
//! figure is then the call without the interrupt unless every try caught it.

pub use crate::gpu_target::Variant;
use crate::gpu_target::{Target, BYTES_PER_PIXEL};
use crate::measure::{
    now, timed_blk_read, timed_clean_all, timed_sync, wait_for_tick, Span, Totals, Window,
};
use crate::report::{Phases, Record};
use crate::windows::{self, Windows, PRESENT as READ_PHASE, SYNC, WRITE as DEVICE};
use crate::{fail, mib, Failed, OrFail, FENCE_TIMEOUT_NS, TASK};
use scene::capture::{disk_sector, SECTOR_SIZE};
use urt::prot;
use urt::sync::{END, READ, START};

/// Width of the buffer in pixels (the frame suite's).
pub const WIDTH: u32 = 1920;
/// Height of the buffer in pixels.
pub const HEIGHT: u32 = 1080;
/// Bytes in the buffer.
pub const BUFFER_BYTES: u64 = WIDTH as u64 * HEIGHT as u64 * BYTES_PER_PIXEL;
/// Bytes the device writes and the CPU reads.
pub const READ_BYTES: u64 = mib(1);
/// Sectors per readback.
pub const SECTORS: u64 = READ_BYTES / SECTOR_SIZE;
/// Readbacks measured after the warm-up.
pub const REPS: u64 = 3;
/// How many times a readback a timer tick interrupted is run again.
const RETRIES: u32 = 4;
/// Device writes per readback, of which the cheapest quiet one is kept (see the module
/// docs).
const DEVICE_TRIES: u32 = 3;

/// The readback suite's operations on a [`Target`] of [`WIDTH`] x [`HEIGHT`] pixels
/// mapped read-only.
impl Target {
    /// Before reading: START READ, or the set/way clean. Returns its cycles.
    fn begin_read(&self) -> urt::Result<u64> {
        match self.variant {
            Variant::ExplicitWhole => timed_sync(self.buffer, START | READ, 0, 0),
            Variant::ExplicitRanged => timed_sync(self.buffer, START | READ, 0, READ_BYTES),
            Variant::SetwayCleanAll => timed_clean_all(),
            Variant::LegacyFault | Variant::LegacyUncached => Ok(0),
        }
    }

    /// After reading: END READ, if the variant calls it. Returns its cycles.
    fn end_read(&self) -> urt::Result<u64> {
        match self.variant {
            Variant::ExplicitWhole => timed_sync(self.buffer, END | READ, 0, 0),
            Variant::ExplicitRanged => timed_sync(self.buffer, END | READ, 0, READ_BYTES),
            Variant::SetwayCleanAll | Variant::LegacyFault | Variant::LegacyUncached => Ok(0),
        }
    }

    /// The CPU side of a readback: START READ (or the set/way clean), the read, END
    /// READ. Returns the cycles of the sync calls and of the read, and their windows;
    /// fails if the CPU read anything but the disk's bytes.
    fn consume(&self, want: u64) -> Result<(u64, u64, Windows), Failed> {
        let mut w = Windows::default();
        windows::discard();
        let mut sync = self.begin_read().or_fail("START READ")?;
        w.claim(SYNC);
        let t0 = now();
        // SAFETY: `pixels` is this target's readable mapping of the whole buffer, of
        // which the first READ_BYTES are read; nothing writes it meanwhile (the device
        // has finished: its fence signalled).
        let sum = unsafe { read(self.pixels, READ_BYTES) };
        let read = windows::window(t0, now());
        w.claim(READ_PHASE);
        sync += self.end_read().or_fail("END READ")?;
        w.claim(SYNC);
        if sum != want {
            return Err(fail(
                TASK,
                self.variant.name(),
                format_args!("read checksum {sum:#018x}, the disk's is {want:#018x}"),
            ));
        }
        Ok((sync, read, w))
    }

    /// One readback, its phases and events, once both of its windows were free of timer
    /// ticks (or after [`RETRIES`]).
    fn readback(&self, want: u64) -> Result<(Phases, Span), Failed> {
        let mut retries = 0;
        loop {
            let mut device: Option<(u64, Span, Windows)> = None;
            for t in 0..DEVICE_TRIES {
                if t > 0 {
                    // Back to the state the first try started from (for a legacy
                    // fault mapping: every page mapped again, so the call zaps).
                    self.consume(want)?;
                }
                wait_for_tick().or_fail("sleep")?;
                let window = Window::open().or_fail("counters")?;
                windows::discard();
                let (fence, cycles) =
                    timed_blk_read(self.buffer, 0, 0, SECTORS).or_fail("blk_read")?;
                let mut w = Windows::default();
                w.claim(DEVICE);
                let span = window.close().or_fail("counters")?;
                urt::fence_wait(fence, FENCE_TIMEOUT_NS).or_fail("fence_wait")?;
                // Prefer a tick-free call, then the cheapest.
                let better = device.is_none_or(|(c, s, _)| {
                    (span.quiet && !s.quiet) || (span.quiet == s.quiet && cycles < c)
                });
                if better {
                    device = Some((cycles, span, w));
                }
            }
            let (cycles, a, mut w) = device.expect("DEVICE_TRIES > 0");
            wait_for_tick().or_fail("sleep")?;
            let cpu = Window::open().or_fail("counters")?;
            let (sync, read, cpu_windows) = self.consume(want)?;
            let b = cpu.close().or_fail("counters")?;
            if (a.quiet && b.quiet) || retries == RETRIES {
                w.extend(&cpu_windows);
                let p = Phases {
                    write: cycles,
                    sync,
                    present: read,
                    windows: w,
                };
                let span = Span {
                    events: a.events + b.events,
                    quiet: a.quiet && b.quiet,
                    masked_max: a.masked_max.max(b.masked_max),
                };
                return Ok((p, span));
            }
            retries += 1;
        }
    }
}

/// The CPU read phase: XOR of every 64-bit word of `[pixels, pixels + len)`, loaded
/// with 16-byte `ldp`s, four per 64-byte block. Not inlined, so every variant runs the
/// very same code.
///
/// # Safety
///
/// `[pixels, pixels + len)` must be mapped readable, `pixels` 16-byte aligned and `len`
/// a non-zero multiple of 64.
#[inline(never)]
unsafe fn read(pixels: *const u8, len: u64) -> u64 {
    let blocks = len / 64;
    let (mut a, mut b) = (0u64, 0u64);
    // SAFETY: the loads stay inside the range (the caller's contract), 16-byte aligned.
    unsafe {
        core::arch::asm!(
            "1:",
            "ldp {t0}, {t1}, [{p}]",
            "ldp {t2}, {t3}, [{p}, #16]",
            "eor {a}, {a}, {t0}",
            "eor {b}, {b}, {t1}",
            "ldp {t0}, {t1}, [{p}, #32]",
            "eor {a}, {a}, {t2}",
            "eor {b}, {b}, {t3}",
            "ldp {t2}, {t3}, [{p}, #48]",
            "eor {a}, {a}, {t0}",
            "eor {b}, {b}, {t1}",
            "eor {a}, {a}, {t2}",
            "eor {b}, {b}, {t3}",
            "add {p}, {p}, #64",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            p = inout(reg) pixels => _,
            n = inout(reg) blocks => _,
            a = inout(reg) a,
            b = inout(reg) b,
            t0 = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
            t3 = out(reg) _,
            options(nostack, readonly)
        );
    }
    a ^ b
}

/// What [`read`] must return: the XOR of every 64-bit word of the disk's first
/// [`SECTORS`] sectors.
fn disk_checksum() -> u64 {
    let mut sector = [0u8; 512];
    let mut sum = 0u64;
    for s in 0..SECTORS {
        disk_sector(s, &mut sector);
        for w in sector.chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            sum ^= u64::from_le_bytes(b);
        }
    }
    sum
}

/// Measure one variant on a fresh target.
fn measure(variant: Variant, want: u64) -> Result<(), Failed> {
    let target = Target::new(variant, WIDTH, HEIGHT, prot::READ)?;
    let mut totals = Totals::default();
    let mut phases = Phases::default();
    for n in 0..=REPS {
        let (p, span) = target.readback(want)?;
        if n == 0 {
            continue; // the warm-up readback
        }
        totals.add(p.sum(), &span);
        phases += p;
    }
    target.close()?;
    Record {
        suite: "readback",
        case: "1MiB",
        variant: variant.name(),
        size: READ_BYTES,
        totals,
        phases: Some(phases),
        extra: &[],
    }
    .print();
    Ok(())
}

/// Run the suite (needs the capture disk).
pub fn run() -> Result<(), Failed> {
    let (sectors, size) = urt::blk_info()
        .map_err(|e| fail(TASK, "blk_info (boot with the capture disk attached)", e))?;
    if size != SECTOR_SIZE || sectors < SECTORS {
        return Err(fail(
            TASK,
            "disk",
            format_args!("{sectors} sectors of {size} bytes, need {SECTORS} of {SECTOR_SIZE}"),
        ));
    }
    let want = disk_checksum();
    for variant in Variant::ALL {
        measure(variant, want)?;
    }
    Ok(())
}
