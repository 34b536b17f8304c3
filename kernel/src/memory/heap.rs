//! The kernel heap behind `alloc`: a buddy allocator over a block of RAM taken from the
//! linear map at boot, sized from the RAM ([`size_for`]).
//!
//! It does not grow; instead user-caused use is accounted (`task::account`): tasks
//! together may be charged at most [`user_share`] of it, at per-object sizes that are at
//! least what the objects take, so the other half always remains for the kernel's own
//! structures (the frame allocator's free lists, the trace, drivers, the transient
//! buffers of a syscall) and the kernel's infallible allocations cannot fail.

use buddy_system_allocator::LockedHeap;
use core::sync::atomic::{AtomicU64, Ordering};

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();
static SIZE: AtomicU64 = AtomicU64::new(0);

/// The heap size for `ram` bytes of RAM: 1/32 of it, between 8 and 64 MiB.
pub fn size_for(ram: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    (ram / 32).clamp(8 * MIB, 64 * MIB) & !(MIB - 1)
}

/// Give the heap its memory.
///
/// # Safety
/// `[start_va, start_va + size)` must be mapped read-write, unused by anything else for
/// the life of the kernel, and this must be called once.
pub unsafe fn init(start_va: u64, size: u64) {
    // SAFETY: forwarded from the caller.
    unsafe { HEAP.lock().init(start_va as usize, size as usize) };
    SIZE.store(size, Ordering::Relaxed);
}

/// Size of the heap in bytes.
pub fn size() -> u64 {
    SIZE.load(Ordering::Relaxed)
}

/// How much of the heap tasks may be charged for, together.
pub fn user_share() -> u64 {
    size() / 2
}

/// Bytes currently allocated from the heap.
pub fn used() -> usize {
    HEAP.lock().stats_alloc_actual()
}
