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
#[inline(always)]
pub fn known_completed(f: u64) -> bool {
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

/// The first of `fences` that has not completed, if any: what a START or a legacy
/// refault must wait for. In test kernels a fence (not 0) met here for the first time
/// counts as pending even if the device already completed it, so the caller takes its
/// wait path on every run, not only when the device happens to be slow (the task blocks
/// and is woken at once by the scheduler, which asks [`completed`]).
pub fn first_pending(fences: &[u64]) -> Option<u64> {
    // Fence 0 (no device work yet) is the common case on the sync path: no lookup.
    fences.iter().copied().find(|&f| {
        // Remembered even when really pending, so the re-issued call does not wait twice.
        let first = cfg!(feature = "ktest") && f != 0 && first_meeting(f);
        f != 0 && (!completed(f) || first)
    })
}

/// Test kernels: true the first time `f` is met (remembered in a ring of the last
/// [`MET_RING`] fences; one met again after falling out blocks once more, harmlessly).
/// The fences [`first_meeting`] has seen, and where the next goes.
static MET: spin::Mutex<([u64; MET_RING], usize)> = spin::Mutex::new(([0; MET_RING], 0));

fn first_meeting(f: u64) -> bool {
    let mut met = MET.lock();
    if met.0.contains(&f) {
        return false;
    }
    let at = met.1;
    met.0[at] = f;
    met.1 = (at + 1) % MET_RING;
    true
}

/// True in test kernels for a fence (not 0) that no START or refault has met yet: the
/// syscall fast path leaves such a call to the full path, which takes its wait once
/// ([`first_pending`]); always false in other kernels.
pub fn unmet(f: u64) -> bool {
    cfg!(feature = "ktest") && f != 0 && !first_meeting_seen(f)
}

fn first_meeting_seen(f: u64) -> bool {
    MET.lock().0.contains(&f)
}

/// Fences remembered by [`first_meeting`].
const MET_RING: usize = 256;
