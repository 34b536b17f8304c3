//! The device side of the hand-over: what the exporter checks before a device
//! submission that references the buffer.

/// Verdict of [`plan_device_handover`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Handover {
    /// The device may access the buffer; no cache maintenance is needed.
    Ready,
    /// Some holder is inside a START WRITE/RW bracket: its dirty lines may not have
    /// reached RAM and could later be evicted on top of what the device writes. A
    /// misuse: refuse the submission (strict mode) or report it.
    CpuWriteHeld,
}

/// Decides whether a device submission (read, write or both) may go ahead, given
/// whether any holder currently holds CPU write access ([`crate::CpuAccess::holds_write`]
/// over all holders).
///
/// Nothing else is needed, for either direction, because the protocol moves all
/// maintenance to the CPU side:
/// * Before the device **reads**: every CPU write happened inside a WRITE/RW bracket, and
///   its END cleaned the range to the point of coherency, so RAM already holds it.
/// * Before the device **writes**: no line is dirty (same argument), so no eviction can
///   land on top of the device's data. Clean lines that are present, or that the CPU
///   speculatively fills while the device works, go stale; the next START READ/RW
///   invalidates them *after* waiting for the device's fence, which is the only moment
///   that works (an invalidate at submission time would be undone by speculation).
///
/// The same holds for an uncached buffer or a coherent device, trivially.
pub const fn plan_device_handover(cpu_write_held: bool) -> Handover {
    if cpu_write_held {
        Handover::CpuWriteHeld
    } else {
        Handover::Ready
    }
}
