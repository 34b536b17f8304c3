//! The modern (version 2) virtio-mmio transport (virtio 1.2, section 4.2.2): the
//! register block, the status handshake and queue registration.

use super::GpuError;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_structs! {
    /// virtio-mmio registers (virtio 1.2, table 4.1) followed by the virtio-gpu
    /// configuration space (section 5.7.4).
    pub Registers {
        // MagicValue, Version, DeviceID, VendorID: read by `platform::virtio_mmio::probe`.
        (0x000 => _identity),
        (0x010 => device_features: ReadOnly<u32>),
        (0x014 => device_features_sel: WriteOnly<u32>),
        (0x018 => _reserved0),
        (0x020 => driver_features: WriteOnly<u32>),
        (0x024 => driver_features_sel: WriteOnly<u32>),
        (0x028 => _reserved1),
        (0x030 => queue_sel: WriteOnly<u32>),
        (0x034 => queue_num_max: ReadOnly<u32>),
        (0x038 => queue_num: WriteOnly<u32>),
        (0x03c => _reserved2),
        (0x044 => queue_ready: ReadWrite<u32>),
        (0x048 => _reserved3),
        (0x050 => queue_notify: WriteOnly<u32>),
        (0x054 => _reserved4),
        (0x060 => interrupt_status: ReadOnly<u32>),
        (0x064 => interrupt_ack: WriteOnly<u32>),
        (0x068 => _reserved5),
        (0x070 => status: ReadWrite<u32>),
        (0x074 => _reserved6),
        (0x080 => queue_desc_low: WriteOnly<u32>),
        (0x084 => queue_desc_high: WriteOnly<u32>),
        (0x088 => _reserved7),
        (0x090 => queue_driver_low: WriteOnly<u32>),
        (0x094 => queue_driver_high: WriteOnly<u32>),
        (0x098 => _reserved8),
        (0x0a0 => queue_device_low: WriteOnly<u32>),
        (0x0a4 => queue_device_high: WriteOnly<u32>),
        // SHMSel/SHMLen/SHMBase (unused), QueueReset, ConfigGeneration.
        (0x0a8 => _reserved9),
        // virtio-gpu configuration (struct virtio_gpu_config).
        (0x100 => gpu_events_read: ReadOnly<u32>),
        (0x104 => gpu_events_clear: WriteOnly<u32>),
        (0x108 => gpu_num_scanouts: ReadOnly<u32>),
        (0x10c => _gpu_num_capsets),
        (0x110 => @END),
    }
}

/// Bytes of the register block this driver touches (the slot must be at least this big).
pub const REGS_SIZE: u64 = 0x110;

/// Device status bits (virtio 1.2, section 2.1).
mod status {
    pub const ACKNOWLEDGE: u32 = 1;
    pub const DRIVER: u32 = 2;
    pub const DRIVER_OK: u32 = 4;
    pub const FEATURES_OK: u32 = 8;
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    pub const FAILED: u32 = 128;
}

/// VIRTIO_F_VERSION_1 (feature bit 32): the device follows virtio 1.x.
const F_VERSION_1: u64 = 1 << 32;

/// InterruptStatus bit 1: the device configuration changed (bit 0: it used a buffer).
const INT_CONFIG_CHANGE: u32 = 2;

/// A virtio-mmio transport in version 2 (modern) mode.
pub struct Transport {
    regs: &'static Registers,
}

impl Transport {
    /// Wraps the register block at `base_va`.
    ///
    /// # Safety
    /// `base_va` must be the virtual address of a virtio-mmio register block of at least
    /// [`REGS_SIZE`] bytes, mapped as device memory for the rest of the kernel's life, and
    /// no other code may drive the same device.
    pub unsafe fn new(base_va: u64) -> Self {
        // SAFETY: the caller guarantees a live, mapped register block for 'static; every
        // access through `Registers` is volatile.
        let regs = unsafe { &*(base_va as *const Registers) };
        Self { regs }
    }

    /// Reset the device (write 0 to Status and wait until it reads back 0) and begin the
    /// handshake: ACKNOWLEDGE, DRIVER, negotiate exactly VIRTIO_F_VERSION_1, FEATURES_OK
    /// (and check that the device kept it).
    pub fn begin_init(&mut self) -> Result<(), GpuError> {
        self.reset()?;
        self.regs.status.set(status::ACKNOWLEDGE);
        self.regs.status.set(status::ACKNOWLEDGE | status::DRIVER);
        let offered = self.device_features();
        if offered & F_VERSION_1 == 0 {
            return Err(GpuError::Transport(
                "device does not offer VIRTIO_F_VERSION_1",
            ));
        }
        // Nothing else (VIRGL, EDID, ...) is needed for 2D scanout.
        self.set_driver_features(F_VERSION_1);
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        self.regs.status.set(s);
        if self.regs.status.get() & status::FEATURES_OK == 0 {
            return Err(GpuError::Transport("device rejected the feature set"));
        }
        Ok(())
    }

    /// Set DRIVER_OK: the device is live.
    pub fn finish_init(&mut self) {
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK;
        self.regs.status.set(s);
    }

    /// Tell the device the driver gave up (FAILED).
    pub fn fail(&mut self) {
        self.regs
            .status
            .set(self.regs.status.get() | status::FAILED);
    }

    /// Write 0 to Status; the device stops using every queue once it reads back 0.
    pub fn reset(&mut self) -> Result<(), GpuError> {
        self.regs.status.set(0);
        for _ in 0..1_000_000 {
            if self.regs.status.get() == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(GpuError::Transport("device did not complete reset"))
    }

    /// True if the device asks to be reset (it hit an error it cannot recover from).
    pub fn needs_reset(&self) -> bool {
        self.regs.status.get() & status::DEVICE_NEEDS_RESET != 0
    }

    fn device_features(&mut self) -> u64 {
        self.regs.device_features_sel.set(0);
        let low = u64::from(self.regs.device_features.get());
        self.regs.device_features_sel.set(1);
        let high = u64::from(self.regs.device_features.get());
        high << 32 | low
    }

    fn set_driver_features(&mut self, features: u64) {
        self.regs.driver_features_sel.set(0);
        self.regs.driver_features.set(features as u32);
        self.regs.driver_features_sel.set(1);
        self.regs.driver_features.set((features >> 32) as u32);
    }

    /// Largest size the device supports for queue `index` (0 = the queue does not exist),
    /// or `None` if the queue is already live.
    pub fn queue_max(&mut self, index: u32) -> Option<u32> {
        self.regs.queue_sel.set(index);
        (self.regs.queue_ready.get() == 0).then(|| self.regs.queue_num_max.get())
    }

    /// Register queue `index` with `size` entries at the given physical addresses of its
    /// descriptor table, driver (available) ring and device (used) ring, and enable it.
    pub fn setup_queue(&mut self, index: u32, size: u32, desc: u64, driver: u64, device: u64) {
        let r = self.regs;
        r.queue_sel.set(index);
        r.queue_num.set(size);
        r.queue_desc_low.set(desc as u32);
        r.queue_desc_high.set((desc >> 32) as u32);
        r.queue_driver_low.set(driver as u32);
        r.queue_driver_high.set((driver >> 32) as u32);
        r.queue_device_low.set(device as u32);
        r.queue_device_high.set((device >> 32) as u32);
        r.queue_ready.set(1);
    }

    /// Tell the device that queue `index` has new available buffers. The caller must have
    /// published the ring update (barrier) before.
    pub fn notify(&mut self, index: u32) {
        self.regs.queue_notify.set(index);
    }

    /// Read and acknowledge the pending interrupt causes; a configuration change also
    /// clears the GPU's pending display events. Returns the causes.
    pub fn ack_interrupt(&mut self) -> u32 {
        let pending = self.regs.interrupt_status.get();
        if pending != 0 {
            self.regs.interrupt_ack.set(pending);
        }
        if pending & INT_CONFIG_CHANGE != 0 {
            let events = self.regs.gpu_events_read.get();
            self.regs.gpu_events_clear.set(events);
        }
        pending
    }

    /// Number of scanouts the GPU has (virtio-gpu configuration).
    pub fn num_scanouts(&self) -> u32 {
        self.regs.gpu_num_scanouts.get()
    }
}
