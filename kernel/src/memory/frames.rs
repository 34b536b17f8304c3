//! Physical page frames: a buddy allocator (buddy_system_allocator) over the free RAM,
//! with a free-frame count so tests can prove nothing leaks.

use buddy_system_allocator::FrameAllocator;
use mm::addr::{PhysAddr, PAGE_SHIFT, PAGE_SIZE};
use mm::ranges::PhysRange;
use spin::Mutex;

struct Frames {
    alloc: FrameAllocator<32>,
    free: usize,
    total: usize,
}

static FRAMES: Mutex<Option<Frames>> = Mutex::new(None);

/// Hand the free RAM ranges (page-aligned) to the allocator. Called once at boot.
pub fn init(ranges: impl Iterator<Item = PhysRange>) {
    let mut f = Frames {
        alloc: FrameAllocator::new(),
        free: 0,
        total: 0,
    };
    for r in ranges {
        let (start, end) = (
            (r.start >> PAGE_SHIFT) as usize,
            (r.end >> PAGE_SHIFT) as usize,
        );
        if end > start {
            f.alloc.add_frame(start, end);
            f.free += end - start;
            f.total += end - start;
        }
    }
    *FRAMES.lock() = Some(f);
}

/// Allocate `count` contiguous frames (aligned to the next power of two of `count`).
pub fn alloc(count: usize) -> Option<PhysAddr> {
    let mut guard = FRAMES.lock();
    let f = guard.as_mut()?;
    let first = f.alloc.alloc(count)?;
    f.free -= count;
    Some(PhysAddr::new((first as u64) << PAGE_SHIFT))
}

/// Allocate `count` frames and zero them through the linear map.
pub fn alloc_zeroed(count: usize) -> Option<PhysAddr> {
    let pa = alloc(count)?;
    let va = super::layout::phys_to_virt(pa).as_u64() as *mut u8;
    // SAFETY: the frames were just allocated (nobody else uses them) and the linear map
    // covers all RAM read-write.
    unsafe { core::ptr::write_bytes(va, 0, count * PAGE_SIZE as usize) };
    Some(pa)
}

/// Return frames obtained from [`alloc`] with the same `count`.
pub fn free(pa: PhysAddr, count: usize) {
    let mut guard = FRAMES.lock();
    if let Some(f) = guard.as_mut() {
        f.alloc.dealloc((pa.as_u64() >> PAGE_SHIFT) as usize, count);
        f.free += count;
    }
}

/// (free, total) frame counts.
pub fn counts() -> (usize, usize) {
    FRAMES.lock().as_ref().map_or((0, 0), |f| (f.free, f.total))
}
