//! Fences of every device, one number space (`abi::fence`): the top byte names the
//! device (0 GPU, so GPU fences are plain sequence numbers; 1 block device), the rest is
//! that device's sequence number. Each device's fences complete in order.
//!
//! Buffers keep the last fence of device work that reads them and the last that writes
//! them; waits ask [`completed`] of each fence separately (fences of different devices
//! are not ordered against each other).

use abi::fence::{self, BLK, GPU};

/// True if `f` has completed. Fence 0 (no work), fences of a device that is not there
/// and fences of unknown devices count as completed: nothing is left to wait for.
/// With device interrupts polled (`devirq=poll`), a fence not yet known to be complete
/// makes the devices collect their completions first.
pub fn completed(f: u64) -> bool {
    known_completed(f) || {
        crate::irq::poll_devices();
        known_completed(f)
    }
}

/// True if `f` is known to have completed, without asking the devices.
fn known_completed(f: u64) -> bool {
    let seq = fence::seq(f);
    match fence::device(f) {
        GPU => seq <= crate::gpu::completed(),
        BLK => seq <= crate::blk::completed(),
        _ => true,
    }
}

/// True if the device reported that the work of `f` failed.
pub fn failed(f: u64) -> bool {
    let seq = fence::seq(f);
    match fence::device(f) {
        GPU => crate::gpu::with(|d| d.fence_failed(seq)).unwrap_or(false),
        BLK => crate::blk::with(|d| d.seq_failed(seq)).unwrap_or(false),
        _ => false,
    }
}

/// True if `f` names work that was handed out (its device exists and gave out that
/// sequence number; never 0).
pub fn issued(f: u64) -> bool {
    let seq = fence::seq(f);
    seq != 0
        && match fence::device(f) {
            GPU => crate::gpu::with(|d| seq <= d.issued_fence()).unwrap_or(false),
            BLK => crate::blk::with(|d| seq <= d.issued_seq()).unwrap_or(false),
            _ => false,
        }
}

/// True if `f` is older than the last `FAILURE_WINDOW` fences of its device, so whether
/// it failed is no longer known (it has completed).
pub fn expired(f: u64) -> bool {
    use crate::drivers::virtio::expired;
    let seq = fence::seq(f);
    match fence::device(f) {
        GPU => crate::gpu::with(|d| expired(seq, d.issued_fence())).unwrap_or(false),
        BLK => crate::blk::with(|d| expired(seq, d.issued_seq())).unwrap_or(false),
        _ => false,
    }
}

/// The first of `fences` that has not completed, if any.
pub fn first_pending(fences: &[u64]) -> Option<u64> {
    // Fence 0 (no device work yet) is the common case on the sync path: no lookup.
    fences.iter().copied().find(|&f| f != 0 && !completed(f))
}
