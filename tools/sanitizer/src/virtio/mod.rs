//! The devices' DMA, decoded from what the driver tells them, as the device will read
//! it: the transport's registers (where the queues are, which queue is notified), the
//! split virtqueues (descriptor chains in guest memory) and the device commands in the
//! chains (virtio-gpu 2D, virtio-blk).
//!
//! Two small interfaces keep the pieces apart:
//! - a [`Transport`] turns the driver's register accesses into [`TransportEvent`]s
//!   (queue registered, queue notified, device reset, device identified). The
//!   virtio-mmio decoder is [`mmio::Mmio`]; a virtio-pci decoder (common configuration
//!   and notification regions in BARs) implements the same trait and nothing else
//!   changes.
//! - a [`DeviceModel`] turns one available descriptor chain into the memory the device
//!   will read and write ([`Submission`]). [`gpu::Gpu`] and [`blk::Blk`] are the
//!   models; any other device type only has its descriptors' buffers accounted.
//!
//! [`Bus`] ties them together: on a notify it walks the new chains and reports each as
//! begun; when the used ring shows a chain completed it reports it ended.

pub mod blk;
pub mod bus;
pub mod gpu;
pub mod mmio;
pub mod queue;

pub use bus::{Bus, Completed, Submitted};

/// Identifies one device across transports (transport index in the top 16 bits).
pub type DevId = u32;

/// A split virtqueue's addresses as the driver registered them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueLayout {
    /// Entries.
    pub size: u16,
    /// Descriptor table.
    pub desc: u64,
    /// Driver (available) ring.
    pub driver: u64,
    /// Device (used) ring.
    pub device: u64,
}

/// What a transport saw the driver do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportEvent {
    /// The driver read the device's type (virtio device ID).
    Identified {
        /// The device.
        dev: DevId,
        /// virtio device ID (2 block, 16 GPU, ...).
        device_id: u32,
        /// Where it is, for reports (`virtio-mmio@0xa003e00`).
        name: String,
    },
    /// A queue became live.
    QueueReady {
        /// The device.
        dev: DevId,
        /// Queue index.
        queue: u16,
        /// Its rings.
        layout: QueueLayout,
    },
    /// The driver notified a queue.
    Notify {
        /// The device.
        dev: DevId,
        /// Queue index.
        queue: u16,
    },
    /// The driver reset the device (it stops using every queue).
    Reset {
        /// The device.
        dev: DevId,
    },
    /// The driver looked at the device's interrupt state: completions may be due.
    Poll,
}

/// A virtio transport decoder.
pub trait Transport: Send {
    /// True if `pa` is in one of this transport's register windows.
    fn claims(&self, pa: u64) -> bool;
    /// The driver accessed the register at `pa` (`value` is what was written, or what
    /// the load returned).
    fn access(
        &mut self,
        pa: u64,
        size: u32,
        value: u64,
        store: bool,
        out: &mut Vec<TransportEvent>,
    );
}

/// One buffer of a descriptor chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    /// Physical address.
    pub addr: u64,
    /// Bytes.
    pub len: u32,
    /// The device writes it (else reads it).
    pub write: bool,
}

/// A memory range a device reads or writes for a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dma {
    /// The device writes (else reads).
    pub write: bool,
    /// Physical address.
    pub pa: u64,
    /// Bytes.
    pub len: u64,
}

/// What the frame-image mode needs to know about a GPU command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameOp {
    /// TRANSFER_TO_HOST_2D: `(pa, len, offset in the resource's image)` pieces.
    Transfer {
        /// Resource id.
        resource: u32,
        /// Resource size and format.
        width: u32,
        /// Height.
        height: u32,
        /// virtio-gpu format.
        format: u32,
        /// Pieces copied.
        pieces: Vec<(u64, u64, u64)>,
    },
    /// RESOURCE_FLUSH of a resource (to the scanouts showing it).
    Flush {
        /// Resource id.
        resource: u32,
    },
}

/// What a device will do for one chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Submission {
    /// One line for reports (command, resource, rectangle, sector ...).
    pub what: String,
    /// The payload memory it reads and writes (not counting the chain's own command
    /// and response buffers, which the bus accounts).
    pub dma: Vec<Dma>,
    /// For the frame-image mode.
    pub frame: Option<FrameOp>,
}

/// A device type's command decoder.
pub trait DeviceModel: Send {
    /// The device type's name.
    fn name(&self) -> &'static str;
    /// Decode the chain the driver made available on `queue`.
    fn submit(&mut self, queue: u16, chain: &[Desc], mem: &dyn crate::phys::PhysMem) -> Submission;
    /// The device was reset: forget its state.
    fn reset(&mut self) {}
    /// The GPU model, if this is one.
    fn as_gpu(&self) -> Option<&gpu::Gpu> {
        None
    }
}

/// The device-readable bytes of a chain, concatenated (as a device reads its command),
/// at most `max` bytes.
pub fn readable_bytes(chain: &[Desc], mem: &dyn crate::phys::PhysMem, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for d in chain.iter().filter(|d| !d.write) {
        let take = (d.len as usize).min(max - out.len());
        let at = out.len();
        out.resize(at + take, 0);
        if !mem.read(d.addr, &mut out[at..]) {
            out.truncate(at);
            break;
        }
        if out.len() == max {
            break;
        }
    }
    out
}

/// Little-endian field readers over a command's bytes.
pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
