//! The block device as a capture source: the one virtio-blk device, reads straight into
//! buffer objects' pages, and their completion (block fences) from the device's
//! interrupt.

use crate::buffer::Buffer;
use crate::drivers::virtio_blk::BlkDevice;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use platform::board::VirtioMmioSlot;
use spin::Mutex;

static BLK: Mutex<Option<BlkDevice>> = Mutex::new(None);
/// Highest read sequence number the device has completed (they complete in order).
static COMPLETED: AtomicU64 = AtomicU64::new(0);
/// Buffers the device is writing: (sequence number, buffer). Each is kept alive until its
/// read completed, so the device never writes pages that were given back.
static TARGETS: Mutex<Vec<(u64, Arc<Buffer>)>> = Mutex::new(Vec::new());

/// Find and start the block device; without one the block calls answer `NotSupported`.
pub fn init(slots: &[VirtioMmioSlot]) {
    match BlkDevice::probe(slots) {
        Ok(Some(dev)) => {
            let irq = dev.irq();
            *BLK.lock() = Some(dev);
            if crate::irq::register(irq, on_irq).is_err() {
                log::warn!("blk: no interrupt slot; reads will not complete");
            }
        }
        Ok(None) => {}
        Err(e) => log::warn!("blk: virtio-blk failed to start: {e}"),
    }
}

/// The device's completion interrupt.
fn on_irq() {
    if let Some(dev) = BLK.lock().as_mut() {
        dev.handle_irq();
        COMPLETED.store(dev.completed_seq(), Ordering::SeqCst);
    }
}

/// Run `f` on the device, if there is one. The lock is also taken by the completion
/// interrupt, so callers must have IRQs masked (syscalls and boot do).
pub fn with<R>(f: impl FnOnce(&mut BlkDevice) -> R) -> Option<R> {
    let mut guard = BLK.lock();
    let dev = guard.as_mut()?;
    let r = f(dev);
    // The driver's polling paths may have collected completions the interrupt will not
    // report again.
    COMPLETED.store(dev.completed_seq(), Ordering::SeqCst);
    Some(r)
}

/// One line for the boot report: (sectors, completion IRQ).
pub fn describe() -> Option<(u64, u32)> {
    with(|d| (d.capacity(), d.irq().intid))
}

/// Highest completed read sequence number.
pub fn completed() -> u64 {
    COMPLETED.load(Ordering::SeqCst)
}

/// Keep `buf` alive until read `seq` completed (see [`retire`]).
pub fn hold(seq: u64, buf: Arc<Buffer>) {
    TARGETS.lock().push((seq, buf));
}

/// Let go of the buffers whose reads completed (called from the scheduler's fence
/// wake-ups and before each read, never from the interrupt handler: dropping the last
/// reference frees the buffer).
pub fn retire() {
    let done = completed();
    let finished: Vec<(u64, Arc<Buffer>)> = {
        let mut targets = TARGETS.lock();
        if targets.iter().all(|&(seq, _)| seq > done) {
            return;
        }
        let (finished, pending) = core::mem::take(&mut *targets)
            .into_iter()
            .partition(|&(seq, _)| seq <= done);
        *targets = pending;
        finished
    };
    // Dropped outside the lock.
    drop(finished);
}
