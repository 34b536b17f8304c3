//! The modern (version 2) virtio-mmio transport (virtio 1.2, section 4.2.2): finding a
//! device among the FDT's slots, the register block, the status handshake, queue
//! registration and the device-specific configuration space.

use super::super::VirtioError;
use super::{status, ConfigSpace};
use crate::memory::layout::LINEAR_BASE;
use platform::board::{Irq, VirtioMmioSlot};
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_structs! {
    /// virtio-mmio registers (virtio 1.2, table 4.1); the device configuration space
    /// follows at [`CONFIG_OFFSET`] (its layout depends on the device type).
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
        // SHMSel/SHMLen/SHMBase (unused), QueueReset.
        (0x0a8 => _reserved9),
        (0x0fc => config_generation: ReadOnly<u32>),
        (0x100 => @END),
    }
}

/// Where the device configuration space starts in the register block.
pub const CONFIG_OFFSET: u64 = 0x100;

use super::F_VERSION_1;

/// Find the first device of type `device_id` among `slots` and wrap its registers.
///
/// `Ok(None)`: there is none. `Err`: there is one, but on a legacy (version 1) transport
/// or with a register window smaller than the common registers plus `config_len` bytes
/// of configuration space. The first device of a type is probed once, at boot, by its
/// one driver.
///
/// "First" is the first one QEMU created: QEMU plugs `-device virtio-*-device` into the
/// free slot with the *highest* address, so slots are searched from the top down. With
/// two GPUs that is the one whose scanout QEMU shows (its first graphic console).
pub fn find(
    slots: &[VirtioMmioSlot],
    device_id: u32,
    config_len: u64,
) -> Result<Option<(MmioTransport, Irq)>, VirtioError> {
    for slot in slots.iter().rev() {
        if slot.reg.size < 0x10 {
            continue;
        }
        let va = LINEAR_BASE + slot.reg.base;
        // SAFETY: boot maps every virtio-mmio slot of the FDT Device-nGnRE at
        // LINEAR_BASE + base for the kernel's life; the slot is at least 0x10 bytes
        // (checked) and the ID registers have no side effects.
        let Some(id) = (unsafe { platform::virtio_mmio::probe(va as usize) }) else {
            continue;
        };
        if id.device_id != device_id {
            continue;
        }
        if id.version != 2 {
            return Err(VirtioError::Transport(
                "legacy virtio-mmio (version 1); QEMU needs -global virtio-mmio.force-legacy=false",
            ));
        }
        if slot.reg.size < CONFIG_OFFSET + config_len {
            return Err(VirtioError::Transport("register window too small"));
        }
        // SAFETY: as above, and the window covers the common registers and `config_len`
        // bytes of configuration space (checked); the caller is the only driver of the
        // first device of this type.
        let transport = unsafe { MmioTransport::new(va, config_len) };
        return Ok(Some((transport, slot.irq)));
    }
    Ok(None)
}

/// A virtio-mmio transport in version 2 (modern) mode.
pub struct MmioTransport {
    regs: &'static Registers,
    /// The configuration space at `base + CONFIG_OFFSET`, `config_len` bytes (checked at
    /// creation).
    config: ConfigSpace,
}

impl MmioTransport {
    /// Wraps the register block at `base_va`, with `config_len` bytes of device
    /// configuration space after the common registers.
    ///
    /// # Safety
    /// `base_va` must be the virtual address of a virtio-mmio register block of at least
    /// [`CONFIG_OFFSET`]` + config_len` bytes, mapped as device memory for the rest of the
    /// kernel's life, and no other code may drive the same device.
    pub unsafe fn new(base_va: u64, config_len: u64) -> Self {
        // SAFETY: the caller guarantees a live, mapped register block for 'static; every
        // access through `Registers` is volatile.
        let regs = unsafe { &*(base_va as *const Registers) };
        // SAFETY: the caller guarantees the block covers `CONFIG_OFFSET + config_len`
        // bytes of mapped device memory of a device only this driver drives.
        let config = unsafe { ConfigSpace::new(base_va + CONFIG_OFFSET, config_len) };
        Self { regs, config }
    }

    /// Reset the device (write 0 to Status and wait until it reads back 0) and begin the
    /// handshake: ACKNOWLEDGE, DRIVER, negotiate VIRTIO_F_VERSION_1 plus whichever of
    /// the device-type features `wanted` the device offers, FEATURES_OK (and check that
    /// the device kept it). Returns the negotiated features.
    pub fn begin_init(&mut self, wanted: u64) -> Result<u64, VirtioError> {
        self.reset()?;
        self.regs.status.set(status::ACKNOWLEDGE);
        self.regs.status.set(status::ACKNOWLEDGE | status::DRIVER);
        let offered = self.device_features();
        if offered & F_VERSION_1 == 0 {
            return Err(VirtioError::Transport(
                "device does not offer VIRTIO_F_VERSION_1",
            ));
        }
        let features = F_VERSION_1 | (offered & wanted);
        self.set_driver_features(features);
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        self.regs.status.set(s);
        if self.regs.status.get() & status::FEATURES_OK == 0 {
            return Err(VirtioError::Transport("device rejected the feature set"));
        }
        Ok(features)
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
    pub fn reset(&mut self) -> Result<(), VirtioError> {
        self.regs.status.set(0);
        for _ in 0..1_000_000 {
            if self.regs.status.get() == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(VirtioError::Transport("device did not complete reset"))
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

    /// Read and acknowledge the pending interrupt causes (used buffer,
    /// [`INT_CONFIG_CHANGE`]); returns them.
    pub fn ack_interrupt(&mut self) -> u32 {
        let pending = self.regs.interrupt_status.get();
        if pending != 0 {
            self.regs.interrupt_ack.set(pending);
        }
        pending
    }

    /// The device configuration space (after the registers).
    pub fn config(&self) -> ConfigSpace {
        self.config
    }

    /// ConfigGeneration.
    pub fn config_generation(&self) -> u32 {
        self.regs.config_generation.get()
    }
}
