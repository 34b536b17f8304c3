//! Identifying virtio PCI functions and reading their virtio capabilities (virtio 1.2,
//! section 4.1.4): where in which BAR the common configuration, the notification area,
//! the ISR status byte and the device configuration are.

use super::{capabilities, ConfigSpace, Function};

/// PCI vendor ID of virtio devices (Red Hat / Qumranet).
pub const VENDOR: u16 = 0x1af4;

/// The virtio device type (1 network, 2 block, 16 GPU, ...) of a virtio PCI function:
/// device IDs 0x1040 + type (modern), or 0x1000..=0x103f (transitional) with the type in
/// the subsystem ID. `None` for anything else.
pub fn device_type(f: &Function) -> Option<u32> {
    if f.vendor != VENDOR {
        return None;
    }
    match f.device {
        0x1040..=0x107f => Some(u32::from(f.device - 0x1040)),
        0x1000..=0x103f => Some(u32::from(f.subsystem.1)),
        _ => None,
    }
}

/// A structure the capabilities point at, as a CPU physical address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// CPU physical address.
    pub pa: u64,
    /// Length in bytes.
    pub len: u32,
}

/// Where a modern virtio PCI device's structures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// `struct virtio_pci_common_cfg`.
    pub common: Area,
    /// The notification area; queue `q` is notified at
    /// `notify.pa + queue_notify_off(q) * notify_multiplier`.
    pub notify: Area,
    /// `notify_off_multiplier`.
    pub notify_multiplier: u32,
    /// The ISR status byte.
    pub isr: Area,
    /// The device-specific configuration (absent for some device types).
    pub device: Option<Area>,
}

const CAP_VENDOR: u8 = 0x09;
const COMMON: u8 = 1;
const NOTIFY: u8 = 2;
const ISR: u8 = 3;
const DEVICE: u8 = 4;

/// Read the virtio capabilities of `f` (whose memory BARs must be assigned). Each
/// structure is the first capability of its type whose range lies inside an assigned
/// memory BAR; the common, notify and ISR ones are required.
pub fn caps<C: ConfigSpace + ?Sized>(cfg: &C, f: &Function) -> Result<Caps, &'static str> {
    let (mut common, mut notify, mut isr, mut device) = (None, None, None, None);
    let mut multiplier = 0;
    let bdf = f.bdf;
    let rd = |off: u16| cfg.read32(bdf.bus, bdf.device, bdf.function, off);
    for (id, at) in capabilities(cfg, f) {
        if id != CAP_VENDOR {
            continue;
        }
        let at = u16::from(at);
        let head = rd(at);
        let (cap_len, cfg_type) = ((head >> 16) as u8, (head >> 24) as u8);
        let bar = rd(at + 4) as u8;
        let (offset, length) = (rd(at + 8), rd(at + 12));
        if cap_len < 16 {
            continue;
        }
        let Some((base, size)) = f.mem_bar(bar) else {
            continue;
        };
        let fits = u64::from(offset) + u64::from(length) <= size;
        if !fits || length == 0 {
            continue;
        }
        let area = Area {
            pa: base + u64::from(offset),
            len: length,
        };
        let slot = match cfg_type {
            COMMON => &mut common,
            NOTIFY if cap_len >= 20 => {
                if notify.is_none() {
                    multiplier = rd(at + 16);
                }
                &mut notify
            }
            ISR => &mut isr,
            DEVICE => &mut device,
            _ => continue,
        };
        slot.get_or_insert(area);
    }
    Ok(Caps {
        common: common.ok_or("no usable common configuration capability")?,
        notify: notify.ok_or("no usable notification capability")?,
        notify_multiplier: multiplier,
        isr: isr.ok_or("no usable ISR capability")?,
        device,
    })
}
