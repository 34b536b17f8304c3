//! virtio-blk (device ID 2) reads over a modern virtio transport (mmio or pci): the capture
//! device. [`BlkDevice::read`] has the device write sectors straight into caller-given
//! physical pages (a buffer object's own pages: the buffer is the DMA target, nothing
//! is copied through a bounce buffer) and returns at once with a sequence number that
//! completes, in order, from the request queue's used-ring interrupt
//! ([`BlkDevice::handle_irq`]).
//!
//! ## Requests
//! One read is one or more requests on queue 0, each a descriptor chain: the 16-byte
//! request header (type IN, sector; device-readable), the data segments (runs of
//! physically adjacent pages; device-writable), the status byte (device-writable). The
//! descriptor table is divided into fixed blocks, one per request slot, so a chain's
//! head names its slot. A read needing more segments than one chain may carry (the
//! block, or the device's `seg_max`) is split into several requests sharing the read's
//! sequence number; it completes when all of them have. A status other than OK (or no
//! status at all) fails that sequence number ([`BlkDevice::seq_failed`]); nothing the
//! device reports makes the driver panic.
//!
//! ## Memory and coherency
//! Headers, status bytes and rings live in `crate::buffer::dma_alloc` memory (Normal
//! non-cacheable). The data pages are cacheable buffer memory reached by physical
//! address: the kernel cleans/zaps what must be in memory before the read and the
//! buffer manager invalidates the range at the reader's `buffer_sync` START, never the
//! driver. The caller must keep the pages allocated until the read completes.

mod device;
mod error;

pub use device::BlkDevice;
pub use error::BlkError;
