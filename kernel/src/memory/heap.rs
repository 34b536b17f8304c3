//! The kernel heap behind `alloc`: a buddy allocator over a block of RAM taken from the
//! linear map at boot.

use buddy_system_allocator::LockedHeap;

/// Size of the kernel heap.
pub const HEAP_SIZE: u64 = 16 * 1024 * 1024;

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Give the heap its memory.
///
/// # Safety
/// `[start_va, start_va + size)` must be mapped read-write, unused by anything else for
/// the life of the kernel, and this must be called once.
pub unsafe fn init(start_va: u64, size: u64) {
    // SAFETY: forwarded from the caller.
    unsafe { HEAP.lock().init(start_va as usize, size as usize) };
}

#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
/// Bytes currently allocated from the heap.
pub fn used() -> usize {
    HEAP.lock().stats_alloc_actual()
}
