//! The modern (version 2) virtio-mmio transport (virtio 1.2, 4.2.2), decoded from the
//! driver's register accesses: which device type each slot holds, queue registration,
//! notifications, resets, interrupt-status reads.

use super::{DevId, QueueLayout, Transport, TransportEvent};
use std::collections::HashMap;

/// Register offsets (virtio 1.2, table 4.1).
mod reg {
    pub const DEVICE_ID: u64 = 0x008;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
}

#[derive(Default)]
struct Slot {
    queue_sel: u16,
    /// Per queue: the layout being registered.
    pending: HashMap<u16, QueueLayout>,
}

/// Register windows of `stride` bytes each, `count` of them from `base` (QEMU virt:
/// 32 slots of 0x200 from 0x0a00_0000).
pub struct Mmio {
    index: u16,
    base: u64,
    stride: u64,
    count: u64,
    slots: HashMap<u64, Slot>,
}

impl Mmio {
    /// A decoder for `count` windows of `stride` bytes at `base`; `index` is the
    /// transport's number (the top half of its [`DevId`]s).
    pub fn new(index: u16, base: u64, stride: u64, count: u64) -> Mmio {
        Mmio {
            index,
            base,
            stride,
            count,
            slots: HashMap::new(),
        }
    }

    /// QEMU `virt`'s windows.
    pub fn qemu_virt(index: u16) -> Mmio {
        Mmio::new(index, 0x0a00_0000, 0x200, 32)
    }

    fn dev(&self, slot: u64) -> DevId {
        (u32::from(self.index) << 16) | slot as u32
    }
}

fn set_low(v: &mut u64, low: u64) {
    *v = (*v & !0xffff_ffff) | (low & 0xffff_ffff);
}

fn set_high(v: &mut u64, high: u64) {
    *v = (*v & 0xffff_ffff) | (high << 32);
}

impl Transport for Mmio {
    fn claims(&self, pa: u64) -> bool {
        pa >= self.base && pa < self.base + self.stride * self.count
    }

    fn access(
        &mut self,
        pa: u64,
        _size: u32,
        value: u64,
        store: bool,
        out: &mut Vec<TransportEvent>,
    ) {
        if !self.claims(pa) {
            return;
        }
        let slot_no = (pa - self.base) / self.stride;
        let off = (pa - self.base) % self.stride;
        let dev = self.dev(slot_no);
        let base = self.base + slot_no * self.stride;
        let slot = self.slots.entry(slot_no).or_default();
        if !store {
            match off {
                reg::DEVICE_ID if value != 0 => out.push(TransportEvent::Identified {
                    dev,
                    device_id: value as u32,
                    name: format!("virtio-mmio@{base:#x}"),
                }),
                reg::INTERRUPT_STATUS => out.push(TransportEvent::Poll),
                _ => {}
            }
            return;
        }
        let q = slot.queue_sel;
        match off {
            reg::QUEUE_SEL => slot.queue_sel = value as u16,
            reg::QUEUE_NUM => slot.pending.entry(q).or_default().size = value as u16,
            reg::QUEUE_DESC_LOW => set_low(&mut slot.pending.entry(q).or_default().desc, value),
            reg::QUEUE_DESC_HIGH => set_high(&mut slot.pending.entry(q).or_default().desc, value),
            reg::QUEUE_DRIVER_LOW => set_low(&mut slot.pending.entry(q).or_default().driver, value),
            reg::QUEUE_DRIVER_HIGH => {
                set_high(&mut slot.pending.entry(q).or_default().driver, value)
            }
            reg::QUEUE_DEVICE_LOW => set_low(&mut slot.pending.entry(q).or_default().device, value),
            reg::QUEUE_DEVICE_HIGH => {
                set_high(&mut slot.pending.entry(q).or_default().device, value)
            }
            reg::QUEUE_READY if value == 1 => {
                let layout = slot.pending.get(&q).copied().unwrap_or_default();
                out.push(TransportEvent::QueueReady {
                    dev,
                    queue: q,
                    layout,
                });
            }
            reg::QUEUE_NOTIFY => out.push(TransportEvent::Notify {
                dev,
                queue: value as u16,
            }),
            reg::STATUS if value == 0 => {
                slot.pending.clear();
                out.push(TransportEvent::Reset { dev });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_driver_s_bring_up_and_notify() {
        let mut m = Mmio::qemu_virt(0);
        let mut ev = Vec::new();
        let base = 0x0a00_3e00;
        assert!(m.claims(base) && !m.claims(0x0a00_4000) && !m.claims(0x0900_0000));
        m.access(base + 0x008, 4, 16, false, &mut ev);
        m.access(base + 0x070, 4, 0, true, &mut ev);
        m.access(base + 0x030, 4, 0, true, &mut ev);
        m.access(base + 0x038, 4, 64, true, &mut ev);
        m.access(base + 0x080, 4, 0x4123_4000, true, &mut ev);
        m.access(base + 0x084, 4, 0, true, &mut ev);
        m.access(base + 0x090, 4, 0x4123_4400, true, &mut ev);
        m.access(base + 0x094, 4, 0, true, &mut ev);
        m.access(base + 0x0a0, 4, 0x4123_4484, true, &mut ev);
        m.access(base + 0x0a4, 4, 1, true, &mut ev);
        m.access(base + 0x044, 4, 1, true, &mut ev);
        m.access(base + 0x050, 4, 0, true, &mut ev);
        m.access(base + 0x060, 4, 1, false, &mut ev);
        let dev = 0x1f;
        assert_eq!(
            ev,
            vec![
                TransportEvent::Identified {
                    dev,
                    device_id: 16,
                    name: "virtio-mmio@0xa003e00".into()
                },
                TransportEvent::Reset { dev },
                TransportEvent::QueueReady {
                    dev,
                    queue: 0,
                    layout: QueueLayout {
                        size: 64,
                        desc: 0x4123_4000,
                        driver: 0x4123_4400,
                        device: 0x1_4123_4484
                    }
                },
                TransportEvent::Notify { dev, queue: 0 },
                TransportEvent::Poll,
            ]
        );
    }
}
