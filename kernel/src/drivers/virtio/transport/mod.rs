//! The virtio transports the drivers run on, behind one interface: the modern
//! virtio-mmio register block (`mmio`) and the modern virtio-pci capabilities (`pci`).
//! A driver asks [`find`] for the first device of its type and gets a [`Transport`]
//! with the same operations whichever bus the device is on: the status handshake and
//! feature negotiation, queue registration, notification, interrupt acknowledgement
//! and the device configuration space.
//!
//! An enum rather than a trait object: two transports, both known here, and the
//! drivers keep a plain field (no allocation, no generic device types).

pub mod mmio;
pub mod pci;

use super::VirtioError;
use mmio::MmioTransport;
use pci::PciTransport;
use platform::board::{Irq, VirtioMmioSlot};

/// Interrupt cause bit 1 (virtio-mmio InterruptStatus, virtio-pci ISR): the device
/// configuration changed (bit 0: it used a buffer, which drivers find out from the used
/// ring itself).
pub const INT_CONFIG_CHANGE: u32 = 2;

/// VIRTIO_F_VERSION_1 (feature bit 32): the device follows virtio 1.x.
const F_VERSION_1: u64 = 1 << 32;

/// Device status bits (virtio 1.2, section 2.1).
mod status {
    pub const ACKNOWLEDGE: u32 = 1;
    pub const DRIVER: u32 = 2;
    pub const DRIVER_OK: u32 = 4;
    pub const FEATURES_OK: u32 = 8;
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    pub const FAILED: u32 = 128;
}

/// Find the first device of type `device_id` whose configuration space has at least
/// `config_len` bytes: among the FDT's virtio-mmio slots first (QEMU's creation order:
/// the one QEMU shows, for a GPU), then among the PCI functions in enumeration order.
/// `Ok(None)`: there is none. `Err`: the first one found cannot be driven (a legacy
/// transport, a window too small, missing capabilities, no INTx route).
pub fn find(
    slots: &[VirtioMmioSlot],
    device_id: u32,
    config_len: u64,
) -> Result<Option<(Transport, Irq)>, VirtioError> {
    if let Some((t, irq)) = mmio::find(slots, device_id, config_len)? {
        return Ok(Some((Transport::Mmio(t), irq)));
    }
    Ok(pci::find(device_id, config_len)?.map(|(t, irq)| (Transport::Pci(t), irq)))
}

/// A modern virtio transport on either bus.
pub enum Transport {
    /// virtio-mmio, version 2.
    Mmio(MmioTransport),
    /// virtio-pci, modern capabilities.
    Pci(PciTransport),
}

/// A device's configuration space as both transports map it: `len` bytes of device
/// memory at kernel address `base` (after the virtio-mmio registers; the virtio-pci
/// device-configuration capability). Every access is bounds- and alignment-checked.
#[derive(Clone, Copy)]
pub struct ConfigSpace {
    base: u64,
    len: u64,
}

impl ConfigSpace {
    /// # Safety
    /// `[base, base + len)` must be device memory mapped for the kernel's life, the
    /// configuration space of a device only this driver drives.
    unsafe fn new(base: u64, len: u64) -> Self {
        Self { base, len }
    }

    /// Pointer to the field of `T` at byte `offset`, if it lies inside the window and is
    /// aligned for `T`.
    fn field<T>(&self, offset: u64) -> Option<*mut T> {
        let size = core::mem::size_of::<T>() as u64;
        let fits = offset.checked_add(size).is_some_and(|e| e <= self.len);
        (fits && offset.is_multiple_of(size)).then_some((self.base + offset) as *mut T)
    }

    fn u32(&self, offset: u64) -> Option<u32> {
        let p = self.field::<u32>(offset)?;
        // SAFETY: inside the mapped configuration window and 4-byte aligned (checked by
        // `field`); a volatile read of device memory.
        Some(unsafe { core::ptr::read_volatile(p) })
    }

    fn set_u32(&self, offset: u64, value: u32) {
        if let Some(p) = self.field::<u32>(offset) {
            // SAFETY: as in `u32`; the driver owns the device (`new`).
            unsafe { core::ptr::write_volatile(p, value) };
        }
    }

    /// The 64-bit field at `offset`, read as two 32-bit halves and retried until the
    /// transport's ConfigGeneration (`generation`) shows the device did not change it in
    /// between (virtio 1.2, section 2.5.1).
    fn u64(&self, offset: u64, generation: impl Fn() -> u32) -> Option<u64> {
        self.field::<u64>(offset)?;
        for _ in 0..100 {
            let before = generation();
            let low = u64::from(self.u32(offset)?);
            let high = u64::from(self.u32(offset + 4)?);
            if generation() == before {
                return Some(high << 32 | low);
            }
        }
        None
    }
}

macro_rules! each {
    ($self:ident, $t:ident => $e:expr) => {
        match $self {
            Transport::Mmio($t) => $e,
            Transport::Pci($t) => $e,
        }
    };
}

impl Transport {
    /// Reset the device and begin the handshake: ACKNOWLEDGE, DRIVER, negotiate
    /// VIRTIO_F_VERSION_1 plus whichever of `wanted` the device offers, FEATURES_OK (and
    /// check that the device kept it). Returns the negotiated features.
    pub fn begin_init(&mut self, wanted: u64) -> Result<u64, VirtioError> {
        each!(self, t => t.begin_init(wanted))
    }

    /// Set DRIVER_OK: the device is live.
    pub fn finish_init(&mut self) {
        each!(self, t => t.finish_init())
    }

    /// Tell the device the driver gave up (FAILED).
    pub fn fail(&mut self) {
        each!(self, t => t.fail())
    }

    /// Write 0 to the device status and wait until it reads back 0; the device then no
    /// longer uses any queue.
    pub fn reset(&mut self) -> Result<(), VirtioError> {
        each!(self, t => t.reset())
    }

    /// True if the device asks to be reset.
    pub fn needs_reset(&self) -> bool {
        each!(self, t => t.needs_reset())
    }

    /// Largest size the device supports for queue `index` (0: no such queue), or `None`
    /// if the queue is already live.
    pub fn queue_max(&mut self, index: u32) -> Option<u32> {
        each!(self, t => t.queue_max(index))
    }

    /// Register queue `index` with `size` entries at the given physical addresses of its
    /// descriptor table, driver ring and device ring, and enable it.
    pub fn setup_queue(&mut self, index: u32, size: u32, desc: u64, driver: u64, device: u64) {
        each!(self, t => t.setup_queue(index, size, desc, driver, device))
    }

    /// Tell the device that queue `index` has new available buffers (the ring update
    /// must have been published before).
    pub fn notify(&mut self, index: u32) {
        each!(self, t => t.notify(index))
    }

    /// Read and acknowledge the pending interrupt causes; returns them (bit 0 used
    /// buffer, [`INT_CONFIG_CHANGE`]).
    pub fn ack_interrupt(&mut self) -> u32 {
        each!(self, t => t.ack_interrupt())
    }

    /// The 32-bit configuration field at byte `offset` (`None` outside the window).
    pub fn config_u32(&self, offset: u64) -> Option<u32> {
        each!(self, t => t.config().u32(offset))
    }

    /// Write the 32-bit configuration field at byte `offset` (ignored outside it).
    pub fn set_config_u32(&mut self, offset: u64, value: u32) {
        each!(self, t => t.config().set_u32(offset, value))
    }

    /// The 64-bit configuration field at byte `offset`, consistent across the two
    /// halves (configuration generation), `None` outside the window or if it never
    /// settles.
    pub fn config_u64(&self, offset: u64) -> Option<u64> {
        each!(self, t => t.config().u64(offset, || t.config_generation()))
    }
}
