//! The device side of the hand-over: what the exporter checks before a device
//! submission that references the buffer, for each direction of the device's access.
//!
//! # Checklist for a driver submitting device work on a buffer
//!
//! | step | device **reads** the buffer (e.g. `gpu_present`) | device **writes** it (e.g. `blk_read`, a capture) |
//! |------|--------------------------------------------------|---------------------------------------------------|
//! | 1. misuse check | [`plan_device_handover`]: refuse if any holder is inside a START WRITE/RW | [`plan_device_write_handover`]: refuse if any holder has *any* START open |
//! | 2. legacy mappings | [`LegacyPages::on_device_submit`] of every legacy mapping of the buffer: zap, and record the written pages as dirty ([`Boundary::mark_dirty`]) | the same |
//! | 3. the dirty lines | clean [`Boundary::device_read`]'s work (the `dirty` lines the device reads), `DSB SY`, then [`Boundary::device_read_done`] | clean [`Boundary::device_write`]'s work (the `dirty` lines it writes: rule (a)), `DSB SY`, then [`Boundary::device_write_done`] (the written lines join `stale`) |
//! | 4. bookkeeping | record the fence as a *reader* fence | record the fence as a *writer* fence |
//! | 5. | notify the device | notify the device |
//!
//! Every byte a direct-path holder wrote is in `dirty` from its END on (and step 1
//! guarantees no bracket is open whose lines are not there yet); every byte a legacy
//! mapping wrote is in it from step 2 on; step 3 cleans those the device touches. An
//! *invalidate* at submission time is never enough for a device write (the core may
//! speculatively refill any line while the device works): the invalidate that makes the
//! device's bytes visible is the START READ/RW's, after it waited the writer fence, over
//! the lines step 3 marked stale.
//!
//! [`Boundary::mark_dirty`]: crate::Boundary::mark_dirty
//! [`Boundary::device_read`]: crate::Boundary::device_read
//! [`Boundary::device_read_done`]: crate::Boundary::device_read_done
//! [`Boundary::device_write`]: crate::Boundary::device_write
//! [`Boundary::device_write_done`]: crate::Boundary::device_write_done
//!
//! [`LegacyPages::on_device_submit`]: crate::legacy::LegacyPages::on_device_submit

/// Verdict of [`plan_device_handover`] and [`plan_device_write_handover`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Handover {
    /// The device may access the buffer once the boundary's dirty lines it touches are
    /// cleaned and the legacy mappings are handled
    /// ([`crate::legacy::LegacyPages::on_device_submit`]).
    Ready,
    /// Some holder is inside a START WRITE/RW bracket: its dirty lines are not known to
    /// the boundary yet (its END records them), so they may not reach RAM (a reading
    /// device sees old data) and could later be evicted on top of what a writing device
    /// writes. A misuse: refuse the submission (strict mode) or report it.
    CpuWriteHeld,
    /// A device *write* was asked for while some holder has a START (of any direction)
    /// open: a writer's dirty lines could be evicted over the device's data, and a reader
    /// would see stale lines or half of the device's data (its START invalidated before
    /// the device wrote). A misuse: refuse the submission (`Busy`).
    CpuAccessHeld,
}

/// Decides whether a device submission that only **reads** the buffer may go ahead,
/// given whether any holder currently holds CPU write access
/// ([`crate::CpuAccess::holds_write`] over all holders).
///
/// Holders inside a START READ bracket do not matter: the device and the CPU may read
/// at the same time. Every CPU write happened inside a WRITE/RW bracket, whose END put
/// its lines in the boundary's `dirty` set: the submission cleans the ones the device
/// reads ([`crate::Boundary::device_read`]) before telling it (legacy mappings, which
/// have no END, are cleaned by [`crate::legacy::LegacyPages::on_device_submit`]).
///
/// For a submission that **writes** the buffer (or reads and writes it) use
/// [`plan_device_write_handover`], which is stricter.
pub const fn plan_device_handover(cpu_write_held: bool) -> Handover {
    if cpu_write_held {
        Handover::CpuWriteHeld
    } else {
        Handover::Ready
    }
}

/// Decides whether a device submission that **writes** the buffer (a capture: the
/// buffer is the DMA target; also a job that reads and writes it) may go ahead, given
/// whether any holder currently has a START of *any* direction open
/// ([`crate::CpuAccess::is_started`] over all holders).
///
/// The rules for the device-write direction:
/// * **No START may be open** (else [`Handover::CpuAccessHeld`]). A holder inside a
///   WRITE/RW bracket may have dirty lines that are not in RAM; evicted later, they
///   would overwrite the device's bytes. A holder inside a READ bracket already
///   invalidated its range, before the device wrote: it would read stale lines or half
///   a frame. Once every bracket is closed, every direct-path line that may be dirty is
///   in the boundary's `dirty` set, and the submission cleans those the device writes
///   ([`crate::Boundary::device_write`]): the "clean before handing a CPU-dirtied
///   buffer to a writing device" on the direct path.
/// * **Legacy mappings are zapped and their written pages cleaned**, exactly as before
///   a device read ([`crate::legacy::LegacyPages::on_device_submit`] of each): their
///   dirty lines would otherwise be evicted over the device's data later, or discarded
///   by the next refault's invalidate while the device wrote only part of the page.
/// * The kernel then **marks the written lines stale**
///   ([`crate::Boundary::device_write_done`]; at submission, not at completion: a START
///   WRITE decides its direction before it waits the fence), which
///   [`crate::Boundary::may_be_stale`] and [`crate::effective_dir`] read and
///   [`crate::Boundary::start_done`] clears line by line.
///
/// After the device's fence, a START READ/RW waits for it ([`crate::FenceWait::Writers`]
/// or [`crate::FenceWait::All`]) and only then invalidates its stale lines; no
/// invalidate is planned at submission, since speculative fills during the write would
/// undo it.
pub const fn plan_device_write_handover(cpu_access_held: bool) -> Handover {
    if cpu_access_held {
        Handover::CpuAccessHeld
    } else {
        Handover::Ready
    }
}
