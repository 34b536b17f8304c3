//! The modern virtio-pci transport (virtio 1.2, section 4.1): the common configuration
//! structure (tock-registers), the notification area, the ISR status byte and the
//! device configuration, each where the function's vendor capabilities say, inside BARs
//! that enumeration assigned and mapped (`crate::drivers::pci`). Interrupts: MSI-X
//! vector 0 for every queue through the GICv3 ITS where there is one
//! (`crate::drivers::pci::msix`), else INTx, which reading the ISR byte acknowledges
//! (the line drops). Configuration-change interrupts are not requested under MSI-X.

use super::super::VirtioError;
use super::{status, ConfigSpace, F_VERSION_1};
use crate::drivers::pci;
use crate::memory::layout::LINEAR_BASE;
use platform::board::Irq;
use platform::pci::virtio::{self, Area};
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

register_structs! {
    /// struct virtio_pci_common_cfg (virtio 1.2, section 4.1.4.3).
    pub CommonCfg {
        (0x00 => device_feature_select: ReadWrite<u32>),
        (0x04 => device_feature: ReadOnly<u32>),
        (0x08 => driver_feature_select: ReadWrite<u32>),
        (0x0c => driver_feature: ReadWrite<u32>),
        (0x10 => config_msix_vector: ReadWrite<u16>),
        (0x12 => _num_queues: ReadOnly<u16>),
        (0x14 => device_status: ReadWrite<u8>),
        (0x15 => config_generation: ReadOnly<u8>),
        (0x16 => queue_select: ReadWrite<u16>),
        (0x18 => queue_size: ReadWrite<u16>),
        (0x1a => queue_msix_vector: ReadWrite<u16>),
        (0x1c => queue_enable: ReadWrite<u16>),
        (0x1e => queue_notify_off: ReadOnly<u16>),
        (0x20 => queue_desc_lo: ReadWrite<u32>),
        (0x24 => queue_desc_hi: ReadWrite<u32>),
        (0x28 => queue_driver_lo: ReadWrite<u32>),
        (0x2c => queue_driver_hi: ReadWrite<u32>),
        (0x30 => queue_device_lo: ReadWrite<u32>),
        (0x34 => queue_device_hi: ReadWrite<u32>),
        (0x38 => @END),
    }
}

/// Queues whose notification address is remembered (the drivers use queue 0).
const MAX_QUEUES: usize = 4;
/// VIRTIO_MSI_NO_VECTOR.
const NO_VECTOR: u16 = 0xffff;

/// Find the first unclaimed virtio PCI function of `device_id` with at least
/// `config_len` bytes of device configuration, enable its bus mastering and claim it.
pub fn find(device_id: u32, config_len: u64) -> Result<Option<(PciTransport, Irq)>, VirtioError> {
    let Some(c) = pci::virtio_functions(device_id).into_iter().next() else {
        return Ok(None);
    };
    let f = c.function;
    let caps = pci::with_config(c.host, |cfg| virtio::caps(cfg, &f))
        .ok_or(VirtioError::Transport("PCI host vanished"))?
        .map_err(VirtioError::Transport)?;
    if (caps.common.len as usize) < core::mem::size_of::<CommonCfg>() {
        return Err(VirtioError::Transport("common configuration too small"));
    }
    let device = caps
        .device
        .ok_or(VirtioError::Transport("no device configuration capability"))?;
    if u64::from(device.len) < config_len {
        return Err(VirtioError::Transport("device configuration too small"));
    }
    let name = match device_id {
        2 => "virtio-blk",
        16 => "virtio-gpu",
        _ => "virtio",
    };
    let (irq, via, msix) = match pci::msix(c.host, &f) {
        Ok(irq) => (irq, pci::Via::Msix(irq.intid), true),
        Err(why) => {
            let irq = f.intx.ok_or(VirtioError::Transport(
                "no MSI-X and no INTx route for the PCI function (interrupt-map)",
            ))?;
            log::info!("pci: {} {name}: INTx ({why})", f.bdf);
            (irq, pci::Via::Intx(irq.intid), false)
        }
    };
    pci::with_config(c.host, |cfg| f.enable_bus_master(cfg));
    pci::claim(c.host, f.bdf, name, via);
    // SAFETY: every area lies inside a memory BAR that enumeration assigned and
    // `pci::init` mapped Device-nGnRE for the kernel's life (checked by `caps`); the
    // function was just claimed, so this is its only driver.
    let mut t = unsafe {
        PciTransport::new(
            caps.common,
            caps.notify,
            caps.notify_multiplier,
            caps.isr,
            device,
        )
    };
    t.msix = msix;
    Ok(Some((t, irq)))
}

/// A modern virtio-pci transport.
pub struct PciTransport {
    common: &'static CommonCfg,
    notify: Area,
    multiplier: u32,
    isr: u64,
    /// The device-specific configuration capability.
    device: ConfigSpace,
    /// Notification address of each registered queue.
    notify_at: [Option<u64>; MAX_QUEUES],
    /// MSI-X is on: queues signal vector 0.
    msix: bool,
}

fn va(pa: u64) -> u64 {
    LINEAR_BASE + pa
}

impl PciTransport {
    /// # Safety
    /// Every area must be mapped device memory for the kernel's life (`common` at least
    /// `size_of::<CommonCfg>()` bytes), and nothing else may drive the function.
    unsafe fn new(common: Area, notify: Area, multiplier: u32, isr: Area, device: Area) -> Self {
        // SAFETY: forwarded from the caller: a live, mapped common configuration
        // structure; every access through `CommonCfg` is volatile.
        let common = unsafe { &*(va(common.pa) as *const CommonCfg) };
        Self {
            common,
            notify,
            multiplier,
            isr: va(isr.pa),
            // SAFETY: forwarded from the caller: mapped device memory of a function only
            // this driver drives.
            device: unsafe { ConfigSpace::new(va(device.pa), u64::from(device.len)) },
            notify_at: [None; MAX_QUEUES],
            msix: false,
        }
    }

    fn status(&self) -> u32 {
        u32::from(self.common.device_status.get())
    }

    fn set_status(&self, s: u32) {
        self.common.device_status.set(s as u8);
    }

    /// See [`super::Transport::begin_init`].
    pub fn begin_init(&mut self, wanted: u64) -> Result<u64, VirtioError> {
        self.reset()?;
        self.set_status(status::ACKNOWLEDGE);
        self.set_status(status::ACKNOWLEDGE | status::DRIVER);
        let c = self.common;
        c.device_feature_select.set(0);
        let low = u64::from(c.device_feature.get());
        c.device_feature_select.set(1);
        let offered = (u64::from(c.device_feature.get()) << 32) | low;
        if offered & F_VERSION_1 == 0 {
            return Err(VirtioError::Transport(
                "device does not offer VIRTIO_F_VERSION_1",
            ));
        }
        let features = F_VERSION_1 | (offered & wanted);
        c.driver_feature_select.set(0);
        c.driver_feature.set(features as u32);
        c.driver_feature_select.set(1);
        c.driver_feature.set((features >> 32) as u32);
        self.set_status(status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK);
        if self.status() & status::FEATURES_OK == 0 {
            return Err(VirtioError::Transport("device rejected the feature set"));
        }
        Ok(features)
    }

    /// See [`super::Transport::finish_init`].
    pub fn finish_init(&mut self) {
        self.set_status(
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
        );
    }

    /// See [`super::Transport::fail`].
    pub fn fail(&mut self) {
        self.set_status(self.status() | status::FAILED);
    }

    /// See [`super::Transport::reset`].
    pub fn reset(&mut self) -> Result<(), VirtioError> {
        self.set_status(0);
        for _ in 0..1_000_000 {
            if self.status() == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(VirtioError::Transport("device did not complete reset"))
    }

    /// See [`super::Transport::needs_reset`].
    pub fn needs_reset(&self) -> bool {
        self.status() & status::DEVICE_NEEDS_RESET != 0
    }

    /// See [`super::Transport::queue_max`].
    pub fn queue_max(&mut self, index: u32) -> Option<u32> {
        self.common.queue_select.set(index as u16);
        (self.common.queue_enable.get() == 0).then(|| u32::from(self.common.queue_size.get()))
    }

    /// See [`super::Transport::setup_queue`]. A queue whose notification address falls
    /// outside the notification area is left disabled (its notify is then a no-op and
    /// the driver's requests time out).
    pub fn setup_queue(&mut self, index: u32, size: u32, desc: u64, driver: u64, device: u64) {
        let c = self.common;
        c.queue_select.set(index as u16);
        c.queue_size.set(size as u16);
        c.queue_desc_lo.set(desc as u32);
        c.queue_desc_hi.set((desc >> 32) as u32);
        c.queue_driver_lo.set(driver as u32);
        c.queue_driver_hi.set((driver >> 32) as u32);
        c.queue_device_lo.set(device as u32);
        c.queue_device_hi.set((device >> 32) as u32);
        if self.msix {
            c.config_msix_vector.set(NO_VECTOR);
            c.queue_msix_vector.set(0);
            if c.queue_msix_vector.get() != 0 {
                log::warn!("virtio-pci: the device refused MSI-X vector 0 for queue {index}");
            }
        }
        let off = u64::from(c.queue_notify_off.get()) * u64::from(self.multiplier);
        let inside = off + 2 <= u64::from(self.notify.len);
        if let Some(slot) = self.notify_at.get_mut(index as usize) {
            if inside {
                *slot = Some(va(self.notify.pa + off));
                c.queue_enable.set(1);
            }
        }
    }

    /// See [`super::Transport::notify`]: the queue index, written to the queue's
    /// notification address.
    pub fn notify(&mut self, index: u32) {
        if let Some(Some(at)) = self.notify_at.get(index as usize) {
            // SAFETY: inside the mapped notification area (checked in `setup_queue`),
            // 2-byte aligned (the multiplier and area offsets are; a device that says
            // otherwise gets an unaligned device write, which faults loudly).
            unsafe { core::ptr::write_volatile(*at as *mut u16, index as u16) };
        }
    }

    /// See [`super::Transport::ack_interrupt`]: reading the ISR byte returns the causes
    /// and clears them (the INTx line drops).
    pub fn ack_interrupt(&mut self) -> u32 {
        // SAFETY: the ISR byte of this function, mapped device memory (see `new`).
        u32::from(unsafe { core::ptr::read_volatile(self.isr as *const u8) })
    }

    /// The device configuration space (its capability's area).
    pub fn config(&self) -> ConfigSpace {
        self.device
    }

    /// The common configuration's config_generation.
    pub fn config_generation(&self) -> u32 {
        u32::from(self.common.config_generation.get())
    }
}
