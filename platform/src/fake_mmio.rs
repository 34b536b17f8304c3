//! Zeroed, page-aligned memory standing in for device registers in host tests.

use std::alloc::{alloc_zeroed, dealloc, Layout};

/// A heap allocation whose address can be handed to an MMIO driver.
pub(crate) struct FakeMmio {
    ptr: *mut u8,
    layout: Layout,
}

impl FakeMmio {
    /// `size` zeroed bytes, 4 KiB aligned.
    pub fn new(size: usize) -> Self {
        let layout = Layout::from_size_align(size.max(8), 4096).unwrap();
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }

    /// The buffer's address.
    pub fn base(&self) -> usize {
        self.ptr as usize
    }

    fn at(&self, offset: usize, width: usize) -> *mut u8 {
        assert!(offset.is_multiple_of(width) && offset + width <= self.layout.size());
        self.ptr.wrapping_add(offset)
    }

    /// Reads the 32-bit "register" at `offset`.
    pub fn read32(&self, offset: usize) -> u32 {
        // SAFETY: in bounds and aligned (checked by `at`).
        unsafe { self.at(offset, 4).cast::<u32>().read_volatile() }
    }

    /// Writes the 32-bit "register" at `offset`.
    pub fn write32(&self, offset: usize, value: u32) {
        // SAFETY: in bounds and aligned (checked by `at`).
        unsafe { self.at(offset, 4).cast::<u32>().write_volatile(value) }
    }

    /// Reads the 64-bit "register" at `offset`.
    pub fn read64(&self, offset: usize) -> u64 {
        // SAFETY: in bounds and aligned (checked by `at`).
        unsafe { self.at(offset, 8).cast::<u64>().read_volatile() }
    }

    /// Writes the 64-bit "register" at `offset`.
    pub fn write64(&self, offset: usize, value: u64) {
        // SAFETY: in bounds and aligned (checked by `at`).
        unsafe { self.at(offset, 8).cast::<u64>().write_volatile(value) }
    }

    /// The byte at `offset`.
    pub fn read8(&self, offset: usize) -> u8 {
        // SAFETY: in bounds (checked by `at`).
        unsafe { self.at(offset, 1).read_volatile() }
    }
}

impl Drop for FakeMmio {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}
