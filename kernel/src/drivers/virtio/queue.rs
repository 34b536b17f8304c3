//! A split virtqueue (virtio 1.2, section 2.7) in physically contiguous DMA memory.
//!
//! Layout: the descriptor table at 0 (16 bytes per entry), the driver (available) ring
//! right after it, the device (used) ring after that at the next 4-byte boundary; every
//! part is aligned as the spec asks (16, 2 and 4 bytes).
//!
//! The queue hands out no descriptors itself: a driver divides the table into fixed
//! blocks, one per request slot, and writes a request's chain into its slot's block
//! ([`SplitQueue::set_chain`]), so the head of a chain names its request and no free
//! list is needed. The driver rewrites the descriptors on every submission and never
//! reads them back, so a device scribbling on them cannot mislead it; everything read
//! from the used ring is validated by the caller.
//!
//! Ordering: the ring memory is Normal non-cacheable, the registers Device-nGnRE.
//! `fence(SeqCst)` (a `DMB ISH` on AArch64) orders the ring writes before the index
//! update and the index update before the notify, and `fence(Acquire)` orders the
//! used-index read before the reads of the entry and the response. Inner-shareable
//! barriers are what Linux uses for virtio-mmio rings too (`weak_barriers`): the device
//! is emulated by the host CPUs. A DMA master outside the inner-shareable domain would
//! need outer-shareable barriers (`DMB OSH`) instead.

use super::dma::{DmaRegion, Pod};
use super::VirtioError;
use core::sync::atomic::{fence, Ordering};
use mm::addr::PAGE_SIZE;

/// Most entries a queue gets (the device may offer fewer; drivers may ask for fewer).
pub const MAX_SIZE: u16 = 256;

const DESC_OFFSET: usize = 0;

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

/// One buffer of a chain: physical address, length, and whether the device writes it
/// (otherwise it reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Physical address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
    /// The device writes this buffer.
    pub device_writes: bool,
}

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
    /// Offsets of the driver and device rings in `mem`.
    avail: usize,
    used: usize,
    /// Our copy of the available index (the device never writes it).
    avail_idx: u16,
    /// Next used-ring entry to look at.
    last_used: u16,
}

impl SplitQueue {
    /// A queue of `size` entries (a power of two, at most [`MAX_SIZE`]).
    pub fn new(size: u16) -> Result<Self, VirtioError> {
        if !size.is_power_of_two() || !(2..=MAX_SIZE).contains(&size) {
            return Err(VirtioError::Transport("unusable queue size"));
        }
        let n = usize::from(size);
        let avail = DESC_OFFSET + 16 * n;
        let used = (avail + 6 + 2 * n).next_multiple_of(4);
        let bytes = used + 6 + 8 * n;
        Ok(Self {
            mem: DmaRegion::new(bytes.div_ceil(PAGE_SIZE as usize))?,
            size,
            avail,
            used,
            avail_idx: 0,
            last_used: 0,
        })
    }

    /// Entries in the queue (descriptors in the table).
    pub fn size(&self) -> u16 {
        self.size
    }

    /// Physical addresses of the descriptor table, driver ring and device ring.
    pub fn addresses(&self) -> (u64, u64, u64) {
        (
            self.mem.pa(DESC_OFFSET),
            self.mem.pa(self.avail),
            self.mem.pa(self.used),
        )
    }

    /// Write the chain `parts` into descriptors `head`, `head + 1`, ... (each but the last
    /// linked to the next). Not visible to the device until [`Self::push`] and
    /// [`Self::publish`]. Refused if the chain is empty or does not fit in the table.
    pub fn set_chain(&mut self, head: u16, parts: &[Part]) -> Result<(), VirtioError> {
        let count = u16::try_from(parts.len()).map_err(|_| VirtioError::InvalidArgument)?;
        let fits = head
            .checked_add(count)
            .is_some_and(|end| count > 0 && end <= self.size);
        if !fits {
            return Err(VirtioError::InvalidArgument);
        }
        for (i, part) in (head..).zip(parts) {
            let last = i + 1 == head + count;
            let mut flags = if last { 0 } else { DESC_F_NEXT };
            if part.device_writes {
                flags |= DESC_F_WRITE;
            }
            let d = Descriptor {
                addr: part.addr,
                len: part.len,
                flags,
                next: if last { 0 } else { i + 1 },
            };
            self.mem.write(DESC_OFFSET + 16 * usize::from(i), d)?;
        }
        Ok(())
    }

    /// Put the chain starting at descriptor `head` in the next available-ring slot (the
    /// device does not see it before [`Self::publish`]).
    pub fn push(&mut self, head: u16) -> Result<(), VirtioError> {
        if head >= self.size {
            return Err(VirtioError::InvalidArgument);
        }
        let slot = usize::from(self.avail_idx % self.size);
        self.mem.write(self.avail + 4 + 2 * slot, head)?;
        self.avail_idx = self.avail_idx.wrapping_add(1);
        Ok(())
    }

    /// Make every pushed chain visible to the device (the caller then notifies it).
    pub fn publish(&mut self) -> Result<(), VirtioError> {
        // Descriptors and ring entries before the index.
        fence(Ordering::SeqCst);
        self.mem.write(self.avail + 2, self.avail_idx)?;
        // The index before the notify register write.
        fence(Ordering::SeqCst);
        Ok(())
    }

    /// The next entry of the used ring, if the device added one.
    pub fn pop_used(&mut self) -> Option<Used> {
        let device_idx: u16 = self.mem.read(self.used + 2)?;
        if device_idx == self.last_used {
            return None;
        }
        // The index before the entry (and the response it announces).
        fence(Ordering::Acquire);
        let slot = usize::from(self.last_used % self.size);
        let elem: UsedElem = self.mem.read(self.used + 4 + 8 * slot)?;
        self.last_used = self.last_used.wrapping_add(1);
        Some(Used {
            id: elem.id,
            len: elem.len,
        })
    }
}
