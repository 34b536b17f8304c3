//! Suite `boundary`: where the cache maintenance went. With coherence-boundary
//! maintenance an END WRITE records its lines and cleans nothing; the clean happens in
//! the device submission that reads them, so it is measured there.
//!
//! For every size in [`SIZES`] a fresh cached buffer is created, mapped read-write and
//! imported as a GPU resource of `min(size / 64, 1024)` pixels by as many rows as fill it
//! (at least 16: QEMU refuses smaller scanouts), so that the whole buffer is one
//! present of whole rows (one byte range). Cases, variant `whole`:
//!
//! - `START+END WRITE`: the pair on the imported buffer (a device may read it now, but
//!   nothing is maintained until it does);
//! - `present, all lines dirty`: the present that follows an (untimed) START+END WRITE
//!   of the whole buffer: it cleans every line (DC CVAC), then tells the device;
//! - `present, nothing dirty`: a present right after another one: nothing to clean. The
//!   difference between the two is the clean: [`cycles`](crate::report::Record) per line
//!   in the report;
//! - `END WRITE, uncached alias`: the Linux way, for comparison: the buffer also has a
//!   one-page legacy `UNCACHED` mapping (a reader no submission announces), so END WRITE
//!   cleans its whole range at once.
//!
//! And on a 1920x1080x4 buffer ([`RECT_ROWS`] rows of [`RECT_ROW_BYTES`], the width of a
//! 64-pixel column, [`RECT_STRIDE`] apart), case `present rectangle`: variant
//! `dirty` presents the rectangle after an (untimed) START+END WRITE of it
//! (`buffer_sync_rect`), which cleans its rows (four lines each), variant `clean`
//! presents it after a present of the whole buffer (nothing dirty): the difference per
//! line is the cost of rectangle maintenance.
//!
//! Each resource is presented once before anything is measured (the first present of a
//! resource waits for the device in the driver, for a host-dependent time), and each
//! present's fence is waited for outside the measurement. `masked_max` is the
//! longest stretch the kernel ran with IRQs masked during the measured call (the clean
//! runs in steps, with a preemption point between two).

use crate::measure::{repeat, timed_present, timed_sync, timed_sync_rect, Totals};
use crate::report::Record;
use crate::sync_suite::{reps_for, SIZES};
use crate::{Failed, MappedBuffer, OrFail, FENCE_TIMEOUT_NS};
use core::cell::Cell;
use urt::sync::{END, START, WRITE};
use urt::{format, legacy, prot, Fence, Handle};

/// Pixels per row of the resource of a `size`-byte buffer: at least 16 rows.
pub fn width(size: u64) -> u32 {
    (size / 64).min(1024) as u32
}

/// Rows of the measured rectangle.
pub const RECT_ROWS: u64 = 1080;
/// Bytes per row of the rectangle: 64 pixels.
pub const RECT_ROW_BYTES: u64 = 256;
/// Bytes from one row of the rectangle to the next (a 1920-pixel frame).
pub const RECT_STRIDE: u64 = 1920 * 4;

/// A mapped buffer imported as a `width` x `height` resource (also the `uci` suite's).
pub(crate) struct Imported {
    pub(crate) buf: MappedBuffer,
    res: Handle,
    width: u32,
    height: u32,
}

impl Imported {
    fn new(size: u64, width: u32) -> Result<Imported, Failed> {
        Self::with_policy(size, width, urt::policy::CACHED)
    }

    /// [`Imported::new`] of a buffer created with `policy`.
    pub(crate) fn with_policy(size: u64, width: u32, policy: u64) -> Result<Imported, Failed> {
        let buf = MappedBuffer::with_policy(size, policy)?;
        let height = (size / (u64::from(width) * 4)) as u32;
        let res =
            urt::gpu_import(buf.handle, width, height, format::B8G8R8X8).or_fail("gpu_import")?;
        let t = Imported {
            buf,
            res,
            width,
            height,
        };
        // A first present, not measured: it makes the resource the scanout's (the driver
        // may wait there for the device to finish with the previous one, for as long as
        // the host takes) and cleans the creation's zeros.
        let (fence, _) = t.present().or_fail("gpu_present")?;
        urt::fence_wait(fence, FENCE_TIMEOUT_NS).or_fail("fence_wait")?;
        Ok(t)
    }

    pub(crate) fn close(self) -> Result<(), Failed> {
        urt::handle_close(self.res).or_fail("handle_close")?;
        self.buf.close()
    }

    /// The whole resource, timed at the `svc`.
    pub(crate) fn present(&self) -> urt::Result<(Fence, u64)> {
        timed_present(self.res, 0, 0, self.width, self.height)
    }
}

/// Print one record of this suite.
fn print(case: &str, variant: &str, size: u64, totals: Totals) {
    Record {
        suite: "boundary",
        case,
        variant,
        size,
        totals,
        phases: None,
        extra: &[],
    }
    .print();
}

/// The last present's fence, waited for outside the measurements.
type Pending = Cell<Option<Fence>>;

fn wait(fence: &Pending) -> urt::Result<()> {
    match fence.take() {
        Some(f) => urt::fence_wait(f, FENCE_TIMEOUT_NS),
        None => Ok(()),
    }
}

/// The pair, and the presents with and without dirty lines, on one size.
fn presents(size: u64) -> Result<(), Failed> {
    let t = Imported::new(size, width(size))?;
    let h = t.buf.handle;
    let reps = reps_for(size);
    let pair = repeat(
        reps,
        || Ok(()),
        || Ok(timed_sync(h, START | WRITE, 0, 0)? + timed_sync(h, END | WRITE, 0, 0)?),
        || Ok(()),
    )
    .or_fail("START+END WRITE")?;
    print("START+END WRITE", "whole", size, pair);
    let fence = Pending::new(None);
    for (case, dirty) in [
        ("present, all lines dirty", true),
        ("present, nothing dirty", false),
    ] {
        let totals = repeat(
            reps,
            || {
                wait(&fence)?;
                if dirty {
                    urt::buffer_sync(h, START | WRITE, 0, 0)?;
                    urt::buffer_sync(h, END | WRITE, 0, 0)?;
                } else {
                    // A present before the measured one: nothing is left dirty.
                    fence.set(Some(t.present()?.0));
                    wait(&fence)?;
                }
                Ok(())
            },
            || {
                let (f, cycles) = t.present()?;
                fence.set(Some(f));
                Ok(cycles)
            },
            || wait(&fence),
        )
        .or_fail(case)?;
        print(case, "whole", size, totals);
    }
    t.close()
}

/// END WRITE with a one-page legacy uncached mapping of the buffer: cleaned at once.
fn uncached_alias(size: u64) -> Result<(), Failed> {
    let t = Imported::new(size, width(size))?;
    let h = t.buf.handle;
    let fake = urt::gpu_map_offset(t.res).or_fail("gpu_map_offset")?;
    let nc = urt::gpu_mmap(fake, 4096, prot::READ | prot::WRITE, legacy::UNCACHED)
        .or_fail("gpu_mmap")?;
    let totals = repeat(
        reps_for(size),
        || urt::buffer_sync(h, START | WRITE, 0, 0),
        || timed_sync(h, END | WRITE, 0, 0),
        || Ok(()),
    )
    .or_fail("END WRITE with an uncached alias")?;
    print("END WRITE, uncached alias", "whole", size, totals);
    // SAFETY: nothing uses the uncached mapping.
    unsafe { urt::buffer_unmap(nc) }.or_fail("buffer_unmap")?;
    t.close()
}

/// The rectangle presented dirty and clean.
fn rectangle() -> Result<(), Failed> {
    let t = Imported::new(RECT_STRIDE * RECT_ROWS, (RECT_STRIDE / 4) as u32)?;
    let h = t.buf.handle;
    let (x, w) = (512, (RECT_ROW_BYTES / 4) as u32);
    let offset = u64::from(x) * 4;
    let present = || timed_present(t.res, x, 0, w, RECT_ROWS as u32);
    let fence = Pending::new(None);
    for (variant, dirty) in [("dirty", true), ("clean", false)] {
        let totals = repeat(
            4,
            || {
                wait(&fence)?;
                if dirty {
                    let rect = |flags| {
                        timed_sync_rect(h, flags, offset, RECT_ROW_BYTES, RECT_ROWS, RECT_STRIDE)
                    };
                    rect(START | WRITE)?;
                    rect(END | WRITE)?;
                } else {
                    // A present of whole rows cleans every dirty line and forgets them.
                    fence.set(Some(t.present()?.0));
                    wait(&fence)?;
                }
                Ok(())
            },
            || {
                let (f, cycles) = present()?;
                fence.set(Some(f));
                Ok(cycles)
            },
            || wait(&fence),
        )
        .or_fail("present rectangle")?;
        print(
            "present rectangle",
            variant,
            RECT_ROW_BYTES * RECT_ROWS,
            totals,
        );
    }
    t.close()
}

/// Run the suite.
pub fn run() -> Result<(), Failed> {
    for size in SIZES {
        presents(size)?;
        uncached_alias(size)?;
    }
    rectangle()
}
