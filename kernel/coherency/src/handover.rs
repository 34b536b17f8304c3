//! The device side of the hand-over: what the exporter checks before a device
//! submission that references the buffer, for each direction of the device's access.
//!
//! # Checklist for a driver submitting device work on a buffer
//!
//! | step | device **reads** the buffer (e.g. `gpu_present`) | device **writes** it (e.g. `blk_read`, a capture) |
//! |------|--------------------------------------------------|---------------------------------------------------|
//! | 1. misuse check | [`plan_device_handover`]: refuse if any holder is inside a START WRITE/RW | [`plan_device_write_handover`]: refuse if any holder has *any* START open |
//! | 2. legacy mappings | [`LegacyPages::on_device_submit`] of every legacy mapping of the buffer: zap, clean the written pages, `DSB SY` | the same |
//! | 3. bookkeeping | record the fence as a *reader* fence | record the fence as a *writer* fence, and set the buffer's `device_wrote` bit (see [`crate::effective_dir`]) |
//! | 4. | notify the device | notify the device |
//!
//! No other cache maintenance is needed at submission time, in either direction: every
//! byte a direct-path holder wrote was cleaned by its END (and step 1 guarantees no
//! bracket is open), every byte a legacy mapping wrote is cleaned in step 2. An
//! *invalidate* at submission time is never enough for a device write (the core may
//! speculatively refill any line while the device works): the invalidate that makes the
//! device's bytes visible is the START READ/RW's, after it waited the writer fence.
//!
//! [`LegacyPages::on_device_submit`]: crate::legacy::LegacyPages::on_device_submit

/// Verdict of [`plan_device_handover`] and [`plan_device_write_handover`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Handover {
    /// The device may access the buffer once the legacy mappings are handled
    /// ([`crate::legacy::LegacyPages::on_device_submit`]); no other cache maintenance is
    /// needed.
    Ready,
    /// Some holder is inside a START WRITE/RW bracket: its dirty lines may not have
    /// reached RAM (a reading device sees old data) and could later be evicted on top of
    /// what a writing device writes. A misuse: refuse the submission (strict mode) or
    /// report it.
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
/// at the same time. Nothing else is needed because the protocol moves all maintenance
/// to the CPU side: every CPU write happened inside a WRITE/RW bracket, and its END
/// cleaned the range to the point of coherency, so RAM already holds it (legacy
/// mappings, which have no END, are cleaned by
/// [`crate::legacy::LegacyPages::on_device_submit`]).
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
///   a frame. Once every bracket is closed, no direct-path line is dirty (each END
///   WRITE/RW cleaned its range), which is the "clean before handing a CPU-dirtied
///   buffer to a writing device" on the direct path.
/// * **Legacy mappings are zapped and their written pages cleaned**, exactly as before
///   a device read ([`crate::legacy::LegacyPages::on_device_submit`] of each): their
///   dirty lines would otherwise be evicted over the device's data later, or discarded
///   by the next refault's invalidate while the device wrote only part of the page.
/// * The kernel then **sets the buffer's `device_wrote` bit** (at submission, not at
///   completion: a START WRITE decides its direction before it waits the fence), which
///   [`crate::effective_dir`] reads and [`crate::device_wrote_after_sync`] clears.
///
/// After the device's fence, a START READ/RW waits for it ([`crate::FenceWait::Writers`]
/// or [`crate::FenceWait::All`]) and only then invalidates its range; no invalidate is
/// planned at submission, since speculative fills during the write would undo it.
pub const fn plan_device_write_handover(cpu_access_held: bool) -> Handover {
    if cpu_access_held {
        Handover::CpuAccessHeld
    } else {
        Handover::Ready
    }
}
