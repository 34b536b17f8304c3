//! Owned DMA memory from [`crate::buffer::dma_alloc`]: zeroed, physically contiguous and
//! mapped Normal non-cacheable, so the CPU and the device agree on its contents without
//! cache maintenance in every coherency mode.

use super::VirtioError;
use core::ptr::NonNull;
use mm::addr::{PhysAddr, PAGE_SIZE};

/// Plain data exchanged with the device.
///
/// # Safety
/// Implementors must be `repr(C)` types made only of integers (and arrays or structs of
/// them) with no implicit padding: every bit pattern is a valid value, and every byte
/// of a value is initialised.
pub unsafe trait Pod: Copy {}

// SAFETY: integers: no padding, every bit pattern valid.
unsafe impl Pod for u8 {}
// SAFETY: as above.
unsafe impl Pod for u16 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}

/// `pages` pages of DMA memory, freed on drop.
///
/// Dropping it while the device may still access the memory would hand the pages to
/// someone else under the device's feet: owners drop it only once the device is done
/// with it (its request completed, or the device was reset).
pub struct DmaRegion {
    pa: PhysAddr,
    va: NonNull<u8>,
    pages: usize,
}

// SAFETY: the region is plain memory owned by this value; moving the owner to another
// CPU context does not change who may access it.
unsafe impl Send for DmaRegion {}

impl DmaRegion {
    /// Allocate `pages` (at least 1) zeroed pages.
    pub fn new(pages: usize) -> Result<Self, VirtioError> {
        let (pa, va) = crate::buffer::dma_alloc(pages.max(1)).ok_or(VirtioError::NoMemory)?;
        Ok(Self {
            pa,
            va,
            pages: pages.max(1),
        })
    }

    /// Allocate enough pages for `bytes` bytes.
    pub fn for_bytes(bytes: usize) -> Result<Self, VirtioError> {
        Self::new(bytes.div_ceil(PAGE_SIZE as usize))
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.pages * PAGE_SIZE as usize
    }

    /// Physical address of byte `offset` (the device's view).
    pub fn pa(&self, offset: usize) -> u64 {
        debug_assert!(offset <= self.len());
        self.pa.as_u64() + offset as u64
    }

    /// Kernel pointer to a `T` at byte `offset`, or `None` if it does not fit inside the
    /// region or is misaligned for `T`.
    fn slot<T>(&self, offset: usize) -> Option<*mut T> {
        let end = offset.checked_add(core::mem::size_of::<T>())?;
        let p = self.va.as_ptr().wrapping_add(offset).cast::<T>();
        (end <= self.len() && p.is_aligned()).then_some(p)
    }

    /// Write `value` at byte `offset` (volatile: the device reads it). Out-of-range or
    /// misaligned writes are refused with [`VirtioError::InvalidArgument`].
    pub fn write<T: Pod>(&self, offset: usize, value: T) -> Result<(), VirtioError> {
        let p = self.slot::<T>(offset).ok_or(VirtioError::InvalidArgument)?;
        // SAFETY: `slot` checked that the whole `T` lies inside this mapped region, which
        // this value owns, and that the pointer is aligned for `T`.
        unsafe { core::ptr::write_volatile(p, value) };
        Ok(())
    }

    /// Read a `T` at byte `offset` (volatile: the device wrote it), or `None` if out of
    /// range or misaligned. Any bytes the device left are a valid `T` (`Pod`).
    pub fn read<T: Pod>(&self, offset: usize) -> Option<T> {
        let p = self.slot::<T>(offset)?;
        // SAFETY: inside this mapped, owned region and aligned (checked by `slot`); every
        // bit pattern is a valid `T` (`Pod`), and the memory was zeroed at allocation, so
        // it is initialised.
        Some(unsafe { core::ptr::read_volatile(p) })
    }
}

impl Drop for DmaRegion {
    fn drop(&mut self) {
        // SAFETY: the owner drops the region only when neither the CPU (no pointer into it
        // outlives `self`) nor the device (its request completed or it was reset) uses it.
        unsafe { crate::buffer::dma_free(self.pa, self.va, self.pages) };
    }
}
