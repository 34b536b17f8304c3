//! The block-device calls (SYSCALLS.md 30, 31): the virtio-blk capture device's size, and
//! reads that have the device write straight into a buffer's pages.

use crate::calls::call;
use crate::gpu::Fence;
use crate::Result;
use abi::{Handle, Sys};

/// `blk_info()`: `(sectors, sector_size)` of the virtio-blk device (`sector_size` is
/// 512). `NotSupported` without one.
pub fn blk_info() -> Result<(u64, u64)> {
    call(Sys::BlkInfo, [0; 6])
}

/// `blk_read(buffer, offset, sector, count)`: have the device write `count` sectors
/// (at most 2048) starting at `sector` into `buffer` (which needs `DEVICE`) at byte
/// `offset` (512-aligned). Returns at once with the [`Fence`] that signals when the data
/// is in memory; `buffer_sync` START READ/RW of the range waits for it and invalidates.
/// `Busy` while any task has a START open on the buffer (strict mode).
pub fn blk_read(buffer: Handle, offset: u64, sector: u64, count: u64) -> Result<Fence> {
    call(Sys::BlkRead, [buffer.0 as u64, offset, sector, count, 0, 0]).map(|(f, _)| Fence(f))
}
