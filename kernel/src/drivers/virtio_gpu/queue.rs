//! A split virtqueue (virtio 1.2, section 2.7) in one page of DMA memory.
//!
//! Layout in the page: the descriptor table at 0 (16 bytes per entry), the driver
//! (available) ring at 1024, the device (used) ring at 2048; with at most 64 entries each
//! part fits its slice and is aligned as the spec asks (16, 2 and 4 bytes).
//!
//! Descriptors are used in fixed pairs: request `n` is the chain `2n` (device-readable
//! command, NEXT) -> `2n + 1` (device-writable response), so the head of a chain names
//! its request and no free list is needed. The driver rewrites both descriptors on every
//! submission and never reads them back, so a device scribbling on them cannot mislead
//! it; everything read from the used ring is validated by the caller.
//!
//! Ordering: the ring memory is Normal non-cacheable, the registers Device-nGnRE.
//! `fence(SeqCst)` (a `DMB ISH` on AArch64) orders the ring writes before the index
//! update and the index update before the notify, and `fence(Acquire)` orders the
//! used-index read before the reads of the entry and the response. Inner-shareable
//! barriers are what Linux uses for virtio-mmio rings too (`weak_barriers`): the device
//! is emulated by the host CPUs. A DMA master outside the inner-shareable domain would
//! need outer-shareable barriers (`DMB OSH`) instead.

use super::dma::{DmaRegion, Pod};
use super::GpuError;
use core::sync::atomic::{fence, Ordering};

/// Most entries a queue gets (the device may offer fewer).
pub const MAX_SIZE: u16 = 64;

const DESC_OFFSET: usize = 0;
const AVAIL_OFFSET: usize = 1024;
const USED_OFFSET: usize = 2048;

/// Descriptor flag: the chain continues at `next`.
const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the device writes this buffer.
const DESC_F_WRITE: u16 = 2;

/// struct virtq_desc.
#[repr(C)]
#[derive(Clone, Copy)]
struct Descriptor {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

// SAFETY: repr(C) integers, 16 bytes, no padding.
unsafe impl Pod for Descriptor {}
// SAFETY: an integer.
unsafe impl Pod for u16 {}

/// struct virtq_used_elem.
#[repr(C)]
#[derive(Clone, Copy)]
struct UsedElem {
    id: u32,
    len: u32,
}

// SAFETY: repr(C) integers, 8 bytes, no padding.
unsafe impl Pod for UsedElem {}

const _: () = assert!(core::mem::size_of::<Descriptor>() == 16);
const _: () = assert!(DESC_OFFSET + 16 * MAX_SIZE as usize <= AVAIL_OFFSET);
const _: () = assert!(AVAIL_OFFSET + 6 + 2 * MAX_SIZE as usize <= USED_OFFSET);
const _: () = assert!(USED_OFFSET + 6 + 8 * MAX_SIZE as usize <= 4096);

/// One completed chain from the used ring: its head descriptor index (as the device
/// reported it, unvalidated) and the bytes the device says it wrote.
#[derive(Clone, Copy, Debug)]
pub struct Used {
    /// Head descriptor index.
    pub id: u32,
    /// Bytes written to the device-writable part.
    pub len: u32,
}

/// A split virtqueue.
pub struct SplitQueue {
    mem: DmaRegion,
    size: u16,
    /// Our copy of the available index (the device never writes it).
    avail_idx: u16,
    /// Next used-ring entry to look at.
    last_used: u16,
}

impl SplitQueue {
    /// A queue of `size` entries (a power of two, at most [`MAX_SIZE`]).
    pub fn new(size: u16) -> Result<Self, GpuError> {
        if !size.is_power_of_two() || !(2..=MAX_SIZE).contains(&size) {
            return Err(GpuError::Transport("unusable queue size"));
        }
        Ok(Self {
            mem: DmaRegion::new(1)?,
            size,
            avail_idx: 0,
            last_used: 0,
        })
    }

    /// Physical addresses of the descriptor table, driver ring and device ring.
    pub fn addresses(&self) -> (u64, u64, u64) {
        (
            self.mem.pa(DESC_OFFSET),
            self.mem.pa(AVAIL_OFFSET),
            self.mem.pa(USED_OFFSET),
        )
    }

    /// Fill the descriptor pair of request `n`: `cmd` (physical address, length) for the
    /// device to read, then `resp` for it to write. Not visible to the device until
    /// [`Self::push`] and [`Self::publish`].
    pub fn set_request(
        &mut self,
        n: u16,
        cmd: (u64, u32),
        resp: (u64, u32),
    ) -> Result<(), GpuError> {
        let head = n.checked_mul(2).filter(|h| h + 1 < self.size);
        let head = head.ok_or(GpuError::InvalidArgument)?;
        let first = Descriptor {
            addr: cmd.0,
            len: cmd.1,
            flags: DESC_F_NEXT,
            next: head + 1,
        };
        let second = Descriptor {
            addr: resp.0,
            len: resp.1,
            flags: DESC_F_WRITE,
            next: 0,
        };
        self.mem
            .write(DESC_OFFSET + 16 * usize::from(head), first)?;
        self.mem
            .write(DESC_OFFSET + 16 * usize::from(head + 1), second)
    }

    /// Put request `n`'s chain in the next available-ring slot (the device does not see
    /// it before [`Self::publish`]).
    pub fn push(&mut self, n: u16) -> Result<(), GpuError> {
        let slot = usize::from(self.avail_idx % self.size);
        self.mem.write(AVAIL_OFFSET + 4 + 2 * slot, n * 2)?;
        self.avail_idx = self.avail_idx.wrapping_add(1);
        Ok(())
    }

    /// Make every pushed chain visible to the device (the caller then notifies it).
    pub fn publish(&mut self) -> Result<(), GpuError> {
        // Descriptors and ring entries before the index.
        fence(Ordering::SeqCst);
        self.mem.write(AVAIL_OFFSET + 2, self.avail_idx)?;
        // The index before the notify register write.
        fence(Ordering::SeqCst);
        Ok(())
    }

    /// The next entry of the used ring, if the device added one.
    pub fn pop_used(&mut self) -> Option<Used> {
        let device_idx: u16 = self.mem.read(USED_OFFSET + 2)?;
        if device_idx == self.last_used {
            return None;
        }
        // The index before the entry (and the response it announces).
        fence(Ordering::Acquire);
        let slot = usize::from(self.last_used % self.size);
        let elem: UsedElem = self.mem.read(USED_OFFSET + 4 + 8 * slot)?;
        self.last_used = self.last_used.wrapping_add(1);
        Some(Used {
            id: elem.id,
            len: elem.len,
        })
    }
}
