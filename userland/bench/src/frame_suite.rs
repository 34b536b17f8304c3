//! Suite `frame`: drawing into a 1920x1080 buffer imported as a GPU resource and
//! presenting it, with each way of keeping the device's view coherent ([`Variant`]).
//!
//! Cases ([`Case`]): `full-frame` writes every pixel and presents the whole frame;
//! `dirty-64x64` writes a 64x64 rectangle at (512, 256) and presents that rectangle;
//! `dirty-1-page` writes the first 1024 pixels of row 0 (exactly the buffer's first
//! page) and presents them: what a legacy mapping's hand-over costs when one page of
//! 2,025 was written. The
//! CPU writes with the same code for every variant (`fill`: one u64 store per two
//! pixels, a pattern that changes every frame); `size` is the bytes written per frame.
//!
//! Each (case, variant) gets a fresh buffer, resource and mapping. One warm-up frame
//! comes first (a fresh mapping's first-touch faults, and the first present's
//! SET_SCANOUT, are not the steady state), then [`FRAMES`] frames are measured. A frame
//! is timed in three phases (per frame; `cycles` is their sum): `write_cycles`, the
//! call of `fill` (with a legacy mapping's faults); `sync_cycles`, the START and END
//! WRITE calls or the set/way clean, each timed at its `svc`; `present_cycles`, the
//! `gpu_present` call timed at its `svc` (with a legacy mapping's zap and clean). The
//! kernel's events are counted over all three. The
//! present's fence is waited for after the counters are read, so each frame starts with
//! the device idle and nothing waits inside a measured region; and each frame starts
//! right after a timer tick ([`between_ticks`]), so no tick lands in it. The benchmark
//! kernel boots with `devirq=poll`: the GPU's completion interrupt, whose arrival
//! depends on the host and not on icount, is never enabled; the fence is found complete
//! by polling the used ring when it is waited for, after the timed window.

use crate::gpu_target::Target;
pub use crate::gpu_target::{Variant, BYTES_PER_PIXEL};
use crate::measure::{
    between_ticks, now, timed_clean_all, timed_present, timed_sync, timed_sync_rect, Span, Totals,
    Window,
};
use crate::report::{Phases, Record};
use crate::windows::{self, PRESENT, SYNC, WRITE as WRITE_PHASE};
use crate::{fail, Failed, OrFail, FENCE_TIMEOUT_NS, TASK};
use urt::sync::{END, START, WRITE};
use urt::{prot, Fence};

/// Frame width in pixels.
pub const WIDTH: u32 = 1920;
/// Frame height in pixels.
pub const HEIGHT: u32 = 1080;
/// Bytes from one row to the next.
pub const STRIDE: u64 = WIDTH as u64 * BYTES_PER_PIXEL;
/// Bytes in a frame (and in its buffer: 2025 pages).
pub const FRAME_BYTES: u64 = STRIDE * HEIGHT as u64;

/// Frames measured after the warm-up frame.
pub const FRAMES: u64 = 3;

/// A rectangle of pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

impl Rect {
    /// Offset of its first byte in the buffer.
    pub fn offset(&self) -> u64 {
        u64::from(self.y) * STRIDE + u64::from(self.x) * BYTES_PER_PIXEL
    }

    /// Bytes in one of its rows.
    pub fn row_bytes(&self) -> u64 {
        u64::from(self.w) * BYTES_PER_PIXEL
    }

    /// Bytes it covers.
    pub fn bytes(&self) -> u64 {
        self.row_bytes() * u64::from(self.h)
    }

    /// Its rows are whole rows of the frame, so its bytes are one contiguous range.
    pub fn is_contiguous(&self) -> bool {
        self.x == 0 && self.w == WIDTH
    }
}

/// What a frame draws and presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// Every pixel.
    FullFrame,
    /// A 64x64 rectangle at (512, 256).
    Dirty64,
    /// The first 1024 pixels of row 0: the buffer's first page.
    Dirty1Page,
}

impl Case {
    /// Every case, in output order.
    pub const ALL: [Case; 3] = [Case::FullFrame, Case::Dirty64, Case::Dirty1Page];

    /// The `case` in the output.
    pub fn name(self) -> &'static str {
        match self {
            Case::FullFrame => "full-frame",
            Case::Dirty64 => "dirty-64x64",
            Case::Dirty1Page => "dirty-1-page",
        }
    }

    /// The pixels written and presented.
    pub fn rect(self) -> Rect {
        match self {
            Case::FullFrame => Rect {
                x: 0,
                y: 0,
                w: WIDTH,
                h: HEIGHT,
            },
            Case::Dirty64 => Rect {
                x: 512,
                y: 256,
                w: 64,
                h: 64,
            },
            Case::Dirty1Page => Rect {
                x: 0,
                y: 0,
                w: 1024,
                h: 1,
            },
        }
    }
}

/// The frame suite's operations on a [`Target`] of [`WIDTH`] x [`HEIGHT`] pixels mapped
/// read-write.
impl Target {
    /// `buffer_sync` with `flags` over exactly the bytes of `rect`; returns its cycles.
    fn sync_rect(&self, flags: u64, rect: Rect) -> urt::Result<u64> {
        if rect.is_contiguous() {
            timed_sync(self.buffer, flags, rect.offset(), rect.bytes())
        } else {
            timed_sync_rect(
                self.buffer,
                flags,
                rect.offset(),
                rect.row_bytes(),
                u64::from(rect.h),
                STRIDE,
            )
        }
    }

    /// Before writing: START WRITE, if the variant calls it. Returns its cycles.
    fn begin_write(&self, rect: Rect) -> urt::Result<u64> {
        match self.variant {
            Variant::ExplicitWhole => timed_sync(self.buffer, START | WRITE, 0, 0),
            Variant::ExplicitRanged => self.sync_rect(START | WRITE, rect),
            Variant::LegacyFault | Variant::LegacyUncached | Variant::SetwayCleanAll => Ok(0),
        }
    }

    /// After writing: END WRITE, or the set/way clean, if the variant calls it. Returns
    /// its cycles.
    fn end_write(&self, rect: Rect) -> urt::Result<u64> {
        match self.variant {
            Variant::ExplicitWhole => timed_sync(self.buffer, END | WRITE, 0, 0),
            Variant::ExplicitRanged => self.sync_rect(END | WRITE, rect),
            Variant::SetwayCleanAll => timed_clean_all(),
            Variant::LegacyFault | Variant::LegacyUncached => Ok(0),
        }
    }

    /// Draw and present frame number `n` of `case`; returns the cycles of each phase,
    /// the kernel's events over all three and the present's fence.
    fn frame(&self, case: Case, n: u32) -> Result<(Phases, Span, Fence), Failed> {
        let rect = case.rect();
        let window = Window::open().or_fail("counters")?;
        let mut p = Phases::default();
        windows::discard();
        p.sync += self.begin_write(rect).or_fail("START WRITE")?;
        p.windows.claim(SYNC);
        let t0 = now();
        // SAFETY: `pixels` is this target's writable mapping of the whole frame, which
        // `rect` lies inside; nothing else in this task refers to it.
        unsafe { fill(self.pixels, rect, n) };
        p.write += windows::window(t0, now());
        p.windows.claim(WRITE_PHASE);
        p.sync += self.end_write(rect).or_fail("END WRITE")?;
        p.windows.claim(SYNC);
        let (fence, cycles) =
            timed_present(self.resource, rect.x, rect.y, rect.w, rect.h).or_fail("gpu_present")?;
        p.present += cycles;
        p.windows.claim(PRESENT);
        let span = window.close().or_fail("counters")?;
        Ok((p, span, fence))
    }
}

/// The colour of row `y` in frame `n` (B8G8R8X8 as a little-endian u32: 0x00RRGGBB).
fn row_colour(n: u32, y: u32) -> u32 {
    ((n.wrapping_mul(40) & 0xff) << 16) | ((y & 0xff) << 8) | 0x80
}

/// The CPU write phase: fill `rect` of the frame at `pixels` for frame number `n`, the
/// way a fast software renderer without SIMD (kernel and user code are softfloat) writes
/// a span: 16-byte `stp` stores, four per 64-byte block, so the pixel work is what a real
/// renderer would cost and the coherency overhead around it is not drowned out. Not
/// inlined, so every variant runs the very same code.
///
/// # Safety
///
/// `pixels` must be a writable mapping of a [`FRAME_BYTES`] frame that `rect` lies inside,
/// with no live reference into it; each row of `rect` must start 16-byte aligned and be
/// a whole number of 64-byte blocks long (`rect.x` a multiple of 4, `rect.w` of 16).
#[inline(never)]
unsafe fn fill(pixels: *mut u8, rect: Rect, n: u32) {
    let blocks = u64::from(rect.w) * BYTES_PER_PIXEL / 64;
    for y in rect.y..rect.y + rect.h {
        let colour = u64::from(row_colour(n, y));
        let two = colour | colour << 32;
        let row = u64::from(y) * STRIDE + u64::from(rect.x) * BYTES_PER_PIXEL;
        // SAFETY: `row` is inside the frame (the caller's contract: `rect` is).
        let row = unsafe { pixels.add(row as usize) };
        // SAFETY: the row's `blocks` 64-byte blocks lie inside `rect`, so inside the
        // mapping, 16-byte aligned (the caller's contract); asm stores happen exactly once.
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

/// Measure one (case, variant) on a fresh target.
fn measure(case: Case, variant: Variant) -> Result<(), Failed> {
    let target = Target::new(variant, WIDTH, HEIGHT, prot::READ | prot::WRITE)?;
    let mut frames: [Option<(Phases, Span)>; FRAMES as usize] = [None; FRAMES as usize];
    for n in 0..=FRAMES as u32 {
        let (p, span) = between_ticks(|| {
            let (p, span, fence) = target.frame(case, n)?;
            urt::fence_wait(fence, FENCE_TIMEOUT_NS).or_fail("fence_wait")?;
            Ok((p, span))
        })?;
        if n > 0 {
            frames[n as usize - 1] = Some((p, span)); // frame 0 is the warm-up
        }
    }
    let mut totals = Totals::default();
    let mut phases = Phases::default();
    for (p, span) in frames.into_iter().flatten() {
        totals.add(p.sum(), &span);
        phases += p;
    }
    target.close()?;
    Record {
        suite: "frame",
        case: case.name(),
        variant: variant.name(),
        size: case.rect().bytes(),
        totals,
        phases: Some(phases),
        extra: &[],
    }
    .print();
    Ok(())
}

/// Run the suite.
pub fn run() -> Result<(), Failed> {
    match urt::gpu_display_info() {
        Ok((w, h)) if (w, h) != (WIDTH, HEIGHT) => urt::println!(
            "{TASK}: display is {w}x{h}; the frame suite still draws {WIDTH}x{HEIGHT}"
        ),
        Ok(_) => {}
        Err(e) => return Err(fail(TASK, "gpu_display_info", e)),
    }
    for case in Case::ALL {
        for variant in Variant::ALL {
            measure(case, variant)?;
        }
    }
    Ok(())
}
