//! The GPU as the buffer manager's importer: the one virtio-gpu device, GPU resources
//! backed by buffer objects, and fences signalled from the device's completion
//! interrupt.

use crate::buffer::Buffer;
use crate::drivers::virtio_gpu::GpuDevice;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use kobj::vrange::RangeAllocator;
use platform::board::VirtioMmioSlot;
use spin::Mutex;

static GPU: Mutex<Option<GpuDevice>> = Mutex::new(None);
/// Highest fence the device has completed (fences complete in order).
static COMPLETED: AtomicU64 = AtomicU64::new(0);

/// Find and start the GPU; without one the GPU calls answer `NotSupported`.
pub fn init(slots: &[VirtioMmioSlot]) {
    match GpuDevice::probe(slots) {
        Ok(Some(dev)) => {
            let irq = dev.irq();
            *GPU.lock() = Some(dev);
            // Made now rather than on first use, so no import grows the kernel heap for
            // good (the heap in use is back at its baseline once every resource is gone).
            *OFFSETS.lock() = Some(RangeAllocator::new(
                OFFSET_BASE,
                OFFSET_END,
                mm::addr::PAGE_SIZE,
            ));
            if crate::irq::register(irq, on_irq).is_err() {
                log::warn!("gpu: no interrupt slot; fences will not signal");
            }
        }
        Ok(None) => {}
        Err(e) => log::warn!("gpu: virtio-gpu failed to start: {e}"),
    }
}

/// The device's completion interrupt.
fn on_irq() {
    if let Some(dev) = GPU.lock().as_mut() {
        dev.handle_irq();
        COMPLETED.store(dev.completed_fence(), Ordering::SeqCst);
    }
}

/// Run `f` on the device, if there is one. The lock is also taken by the completion
/// interrupt, so callers must have IRQs masked (syscalls and boot do).
pub fn with<R>(f: impl FnOnce(&mut GpuDevice) -> R) -> Option<R> {
    let mut guard = GPU.lock();
    let dev = guard.as_mut()?;
    let r = f(dev);
    // The driver's polling paths may have collected completions the interrupt will not
    // report again.
    COMPLETED.store(dev.completed_fence(), Ordering::SeqCst);
    Some(r)
}

/// One line for the boot report.
pub fn describe() -> Option<(u32, u32, u32)> {
    with(|d| {
        let (w, h) = d.display_size();
        (w, h, d.irq().intid)
    })
}

/// Highest completed fence.
pub fn completed() -> u64 {
    COMPLETED.load(Ordering::SeqCst)
}

/// A GPU resource backed by a buffer object. Dropping the last reference detaches the
/// backing and destroys the host resource; the buffer lives on for its other holders.
pub struct Resource {
    /// Device resource id.
    pub id: u32,
    /// The backing buffer (the exporter's object).
    pub buffer: Arc<Buffer>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The fake mmap offset of the legacy path (`gpu_map_offset`); the resource owns
    /// `[map_offset, map_offset + buffer.size)` of the offset space.
    pub map_offset: u64,
    /// One of the importer's GPU resources, its device memory and its kernel heap.
    pub _charges: [kobj::quota::Charge; 3],
}

/// The fake offset space of the legacy path, like DRM's vma offset manager: unique,
/// page-aligned, far from anything real so a wrong offset is never accepted by chance.
static OFFSETS: Mutex<Option<RangeAllocator>> = Mutex::new(None);
const OFFSET_BASE: u64 = 1 << 32;
const OFFSET_END: u64 = 1 << 44;

/// Reserve a fake offset range of `len` bytes (`None` without a GPU, or when the
/// offset space is used up).
pub fn alloc_map_offset(len: u64) -> Option<u64> {
    OFFSETS.lock().as_mut()?.alloc(len)
}

impl Drop for Resource {
    fn drop(&mut self) {
        if let Some(a) = OFFSETS.lock().as_mut() {
            a.free(self.map_offset, self.buffer.size);
        }
        if let Some(Err(e)) = with(|dev| dev.release(self.id)) {
            log::warn!("gpu: releasing resource {}: {e}", self.id);
        }
    }
}
