//! Suite `frame`: the CPU draws a 1920x1080x4 frame (`full-frame`) or a 64x64 rectangle
//! of it at (512, 256) (`dirty-64x64`) into a udmabuf through its dma-buf mapping, with
//! the project's frame-suite code (`userland/bench/src/frame_suite.rs`: the same `fill`,
//! 16-byte `stp` stores, the same colours; one warm-up frame, then [`FRAMES`] measured).
//!
//! Variants: `linux-ioctl` brackets the write with `DMA_BUF_IOCTL_SYNC` START and END
//! WRITE (whole buffer: Linux has no ranged sync, so the dirty rectangle pays for the
//! whole frame's clean); `linux-mmap-nosync` writes through the mapping with no sync,
//! as a legacy client of a dma-buf mmap does (on a non-coherent device the writes may
//! never reach memory: this is the cost of doing nothing, not a correct strategy).
//! No device imports a udmabuf here, so there is no present phase: a record has
//! `write_cycles` and `sync_cycles`, and `cycles` is their sum; its `windows` are the
//! measured frames' ioctls and writes ([`crate::record`]).

use crate::dmabuf::sync::{END, START, WRITE};
use crate::dmabuf::DmaBuf;
use crate::pmu::now;
use crate::quiet::{until_quiet, Totals, Window};
use crate::record::{cycles, Record, SYNC_PHASE, WRITE_PHASE};

/// Frame width in pixels.
pub const WIDTH: u32 = 1920;
/// Frame height in pixels.
pub const HEIGHT: u32 = 1080;
/// Bytes per row.
pub const STRIDE: u64 = WIDTH as u64 * 4;
/// Bytes in a frame (2025 pages).
pub const FRAME_BYTES: u64 = STRIDE * HEIGHT as u64;
/// Frames measured after the warm-up frame (the project's).
pub const FRAMES: u32 = 3;

/// A rectangle of pixels `(x, y, w, h)`.
#[derive(Clone, Copy)]
pub struct Rect {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

/// The cases: name and rectangle.
pub const CASES: [(&str, Rect); 2] = [
    (
        "full-frame",
        Rect {
            x: 0,
            y: 0,
            w: WIDTH,
            h: HEIGHT,
        },
    ),
    (
        "dirty-64x64",
        Rect {
            x: 512,
            y: 256,
            w: 64,
            h: 64,
        },
    ),
];

/// The variants: name and whether it syncs.
pub const VARIANTS: [(&str, bool); 2] = [("linux-ioctl", true), ("linux-mmap-nosync", false)];

/// The colour of row `y` in frame `n` (the project's `row_colour`).
fn row_colour(n: u32, y: u32) -> u32 {
    ((n.wrapping_mul(40) & 0xff) << 16) | ((y & 0xff) << 8) | 0x80
}

/// The project's CPU write phase, instruction for instruction: fill `r` of the frame at
/// `pixels` for frame `n` with four 16-byte `stp` per 64-byte block. Not inlined, so
/// both variants run the same code.
///
/// # Safety
///
/// `pixels` must be a writable mapping of a [`FRAME_BYTES`] frame that `r` lies in,
/// rows 16-byte aligned and whole 64-byte blocks long.
#[inline(never)]
unsafe fn fill(pixels: *mut u8, r: Rect, n: u32) {
    let blocks = u64::from(r.w) * 4 / 64;
    for y in r.y..r.y + r.h {
        let colour = u64::from(row_colour(n, y));
        let two = colour | colour << 32;
        let row = u64::from(y) * STRIDE + u64::from(r.x) * 4;
        // SAFETY: inside the frame (the caller's contract).
        let row = unsafe { pixels.add(row as usize) };
        // SAFETY: the row's blocks lie inside `r`, 16-byte aligned (the caller's
        // contract); the asm stores exactly once.
        unsafe {
            core::arch::asm!(
                "1:",
                "stp {v}, {v}, [{p}]",
                "stp {v}, {v}, [{p}, #16]",
                "stp {v}, {v}, [{p}, #32]",
                "stp {v}, {v}, [{p}, #48]",
                "add {p}, {p}, #64",
                "subs {n}, {n}, #1",
                "b.ne 1b",
                p = inout(reg) row => _,
                n = inout(reg) blocks => _,
                v = in(reg) two,
                options(nostack)
            );
        }
    }
}

/// One frame's timed windows (raw counter values): the START and END WRITE ioctls (if it
/// syncs) and the write.
#[derive(Clone, Copy)]
struct Frame {
    start: Option<(u64, u64)>,
    write: (u64, u64),
    end: Option<(u64, u64)>,
}

impl Frame {
    /// `(write, sync)` cycles.
    fn cycles(&self) -> (u64, u64) {
        let sync = [self.start, self.end]
            .into_iter()
            .flatten()
            .map(cycles)
            .sum();
        (self.write.1 - self.write.0, sync)
    }

    /// Its windows, `(phase, start, end)`, in the order they were timed.
    fn windows(&self) -> impl Iterator<Item = (u8, u64, u64)> {
        let sync = |w: Option<(u64, u64)>| w.map(|(s, e)| (SYNC_PHASE, s, e));
        sync(self.start)
            .into_iter()
            .chain([(WRITE_PHASE, self.write.0, self.write.1)])
            .chain(sync(self.end))
    }
}

/// One frame.
fn frame(buf: &DmaBuf, r: Rect, n: u32, syncs: bool) -> Result<Frame, String> {
    let start = if syncs {
        Some(buf.sync_span(START | WRITE)?)
    } else {
        None
    };
    let t0 = now();
    // SAFETY: `buf.map` is the read-write mapping of a FRAME_BYTES buffer, `r` inside it
    // with 64-byte-multiple rows starting 16-byte aligned (x = 0 or 512, w = 1920 or 64).
    unsafe { fill(buf.map, r, n) };
    let t1 = now();
    let end = if syncs {
        Some(buf.sync_span(END | WRITE)?)
    } else {
        None
    };
    Ok(Frame {
        start,
        write: (t0, t1),
        end,
    })
}

/// Run the suite.
pub fn run(udmabuf: i32) -> Result<(), String> {
    for (case, r) in CASES {
        for (variant, syncs) in VARIANTS {
            let buf = DmaBuf::new(udmabuf, FRAME_BYTES as usize)?;
            let (mut totals, mut write, mut sync) = (Totals::default(), 0, 0);
            let mut windows = Vec::with_capacity(3 * FRAMES as usize);
            for n in 0..=FRAMES {
                let (f, span, thrown) = until_quiet(case, || {
                    let win = Window::open()?;
                    let f = frame(&buf, r, n, syncs)?;
                    Ok((f, win.close()?))
                })?;
                if n == 0 {
                    continue; // the warm-up frame
                }
                let (w, s) = f.cycles();
                windows.extend(f.windows());
                totals.reps += 1;
                totals.cycles += w + s;
                totals.faults += span.faults;
                totals.syscalls += if syncs { 2 } else { 0 };
                totals.thrown += u64::from(thrown);
                write += w;
                sync += s;
            }
            let reps = u64::from(FRAMES);
            Record {
                suite: "frame",
                case,
                variant,
                size: u64::from(r.w) * u64::from(r.h) * 4,
                totals,
                extra: vec![("write_cycles", write / reps), ("sync_cycles", sync / reps)],
                windows,
            }
            .print();
        }
    }
    Ok(())
}
