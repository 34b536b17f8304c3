//! Enumeration against a model of PCI functions (registers with the write masks real
//! devices have) behind the host bridge of QEMU's own DTB.

use super::virtio::{self, Area};
use super::{enumerate, Bar, Bdf, ConfigSpace, Function, Kind};
use crate::board::{BoardInfo, Irq, PciHost, Trigger};
use std::cell::RefCell;

const QEMU_DTB: &[u8] = include_bytes!("../../tests/data/virt-gicv3-pci.dtb");

fn host() -> PciHost {
    BoardInfo::parse(QEMU_DTB).unwrap().pci[0].clone()
}

/// One function: 4 KiB of registers, which bits of each BAR are writable, and for a
/// bridge the bus behind it.
#[derive(Clone)]
struct Fake {
    regs: [u32; 1024],
    bar_masks: [u32; 6],
    behind: Vec<(u8, u8, Fake)>,
}

impl Fake {
    fn new(vendor: u16, device: u16, class: u32, header: u8) -> Self {
        let mut regs = [0u32; 1024];
        regs[0] = u32::from(vendor) | (u32::from(device) << 16);
        regs[2] = class << 8;
        regs[3] = u32::from(header) << 16;
        Self {
            regs,
            bar_masks: [0; 6],
            behind: Vec::new(),
        }
    }

    /// BAR `i`: `size` bytes of 32-bit memory (`flags` in the low bits).
    fn bar(mut self, i: usize, size: u64, flags: u32) -> Self {
        self.regs[4 + i] = flags;
        if flags & 0b110 == 0b100 {
            let mask = !(size - 1);
            self.bar_masks[i] = mask as u32 & !0xf;
            self.bar_masks[i + 1] = (mask >> 32) as u32;
        } else if flags & 1 == 1 {
            self.bar_masks[i] = !(size as u32 - 1) & !0b11;
        } else {
            self.bar_masks[i] = !(size as u32 - 1) & !0xf;
        }
        self
    }

    /// A capability at `at` with `words` (the first word's next pointer is filled in).
    fn cap(mut self, at: u8, next: u8, words: &[u32]) -> Self {
        self.regs[1] |= 1 << 20; // status: capability list
        if self.regs[13] == 0 {
            self.regs[13] = u32::from(at);
        }
        for (k, w) in words.iter().enumerate() {
            self.regs[usize::from(at) / 4 + k] = *w;
        }
        self.regs[usize::from(at) / 4] |= u32::from(next) << 8;
        self
    }

    fn pin(mut self, pin: u8) -> Self {
        self.regs[15] = u32::from(pin) << 8;
        self
    }
}

/// The root bus of a host bridge with `bus_start` 0.
struct Model {
    root: RefCell<Vec<(u8, u8, Fake)>>,
    opened: RefCell<Vec<u8>>,
}

impl Model {
    fn new(root: Vec<(u8, u8, Fake)>) -> Self {
        Self {
            root: RefCell::new(root),
            opened: RefCell::new(Vec::new()),
        }
    }

    /// Run `f` on function (bus, dev, fn) as the bridges' bus numbers route it.
    fn with<R>(&self, bus: u8, d: u8, f: u8, act: impl FnOnce(&mut Fake) -> R) -> Option<R> {
        fn find(list: &mut [(u8, u8, Fake)], cur: u8, bus: u8, d: u8, f: u8) -> Option<&mut Fake> {
            if cur == bus {
                return list
                    .iter_mut()
                    .find(|x| x.0 == d && x.1 == f)
                    .map(|x| &mut x.2);
            }
            for (_, _, fake) in list.iter_mut() {
                let r = fake.regs[6];
                let (sec, sub) = ((r >> 8) as u8, (r >> 16) as u8);
                if fake.regs[3] >> 16 & 0x7f == 1 && sec != 0 && sec <= bus && bus <= sub {
                    return find(&mut fake.behind, sec, bus, d, f);
                }
            }
            None
        }
        let mut root = self.root.borrow_mut();
        find(&mut root, 0, bus, d, f).map(act)
    }

    fn get(&self, bus: u8, d: u8, f: u8) -> Fake {
        self.with(bus, d, f, |x| x.clone()).expect("function")
    }
}

impl ConfigSpace for &Model {
    fn open_bus(&mut self, bus: u8) -> bool {
        self.opened.borrow_mut().push(bus);
        true
    }

    fn read32(&self, bus: u8, d: u8, f: u8, off: u16) -> u32 {
        assert_eq!(off % 4, 0);
        self.with(bus, d, f, |x| x.regs[usize::from(off) / 4])
            .unwrap_or(u32::MAX)
    }

    fn write32(&self, bus: u8, d: u8, f: u8, off: u16, v: u32) {
        assert_eq!(off % 4, 0);
        self.with(bus, d, f, |x| {
            let i = usize::from(off) / 4;
            let bridge = (x.regs[3] >> 16) & 0x7f == 1;
            let bars = if bridge { 4..6 } else { 4..10 };
            match i {
                0 | 2 | 3 | 11 | 13 => {} // IDs, class, header type, subsystem, cap pointer
                1 => x.regs[1] = (x.regs[1] & 0xffff_0000) | (v & 0xffff),
                i if bars.contains(&i) => {
                    let m = x.bar_masks[i - 4];
                    let flags =
                        if i > 4 && x.regs[i - 1] & 0b110 == 0b100 && x.bar_masks[i - 5] != 0 {
                            0 // upper half of a 64-bit BAR
                        } else {
                            x.regs[i] & 0xf
                        };
                    x.regs[i] = (v & m) | flags;
                }
                i => x.regs[i] = v,
            }
        });
    }
}

/// Virtio vendor capability words: cfg_type, BAR, offset, length (+ extra).
fn vcap(cfg_type: u32, bar: u32, offset: u32, len: u32, extra: &[u32]) -> Vec<u32> {
    let cap_len = 16 + 4 * extra.len() as u32;
    let mut v = vec![0x09 | (cap_len << 16) | (cfg_type << 24), bar, offset, len];
    v.extend_from_slice(extra);
    v
}

/// QEMU's virtio-gpu-pci, as `info pci` shows it: BAR1 4 KiB (MSI-X), BAR4 16 KiB
/// 64-bit prefetchable (the virtio structures).
fn virtio_gpu() -> Fake {
    Fake::new(0x1af4, 0x1050, 0x03_80_00, 0)
        .bar(1, 0x1000, 0)
        .bar(4, 0x4000, 0b1100)
        .pin(1)
        .cap(0x98, 0x84, &[0x11 | (1 << 16), 1, 0x801])
        .cap(0x84, 0x70, &vcap(5, 0, 0, 0, &[0]))
        .cap(0x70, 0x60, &vcap(2, 4, 0x3000, 0x1000, &[4]))
        .cap(0x60, 0x50, &vcap(4, 4, 0x2000, 0x1000, &[]))
        .cap(0x50, 0x40, &vcap(3, 4, 0x1000, 0x1000, &[]))
        .cap(0x40, 0, &vcap(1, 4, 0, 0x1000, &[]))
}

fn irq(intid: u32) -> Option<Irq> {
    Some(Irq {
        intid,
        trigger: Trigger::Level,
    })
}

fn find(e: &super::Enumeration, bus: u8, d: u8) -> Function {
    *e.functions
        .iter()
        .find(|f| {
            f.bdf
                == Bdf {
                    bus,
                    device: d,
                    function: 0,
                }
        })
        .expect("function enumerated")
}

#[test]
fn qemu_root_bus() {
    let blk = Fake::new(0x1af4, 0x1001, 0x01_00_00, 0)
        .bar(0, 0x80, 1)
        .bar(1, 0x1000, 0)
        .bar(4, 0x4000, 0b1100)
        .pin(1);
    let m = Model::new(vec![
        (0, 0, Fake::new(0x1b36, 0x0008, 0x06_00_00, 0)),
        (1, 0, virtio_gpu()),
        (2, 0, {
            let mut b = blk;
            b.regs[11] = 0x0002_1af4; // subsystem: virtio type 2
            b
        }),
    ]);
    let e = enumerate(&host(), &m);
    assert_eq!(e.functions.len(), 3);
    assert_eq!(e.dropped, 0);
    let gpu = find(&e, 0, 1);
    assert_eq!((gpu.vendor, gpu.device, gpu.class.0), (0x1af4, 0x1050, 3));
    assert_eq!(virtio::device_type(&gpu), Some(16));
    assert_eq!(gpu.intx, irq(32 + 4), "device 1 INTA: SPI 4");
    assert_eq!(gpu.msix, Some(2));
    assert!(gpu.memory_enabled);
    let regs = m.get(0, 1, 0);
    assert_eq!(
        regs.regs[1] & 0b111,
        0b010,
        "memory on, I/O and bus master off"
    );
    // Every memory BAR inside the 32-bit window, aligned, programmed, not overlapping.
    let mut taken: Vec<(u64, u64)> = Vec::new();
    for f in &e.functions {
        for (i, b) in f.bars.iter().enumerate() {
            if let Bar::Mem { cpu, pci, size, .. } = *b {
                assert!(cpu >= 0x1000_0000 && cpu + size <= 0x3eff_0000, "{b:?}");
                assert_eq!(cpu, pci, "QEMU's 32-bit window is 1:1");
                assert_eq!(cpu % size.max(4096), 0);
                let r = m.get(f.bdf.bus, f.bdf.device, f.bdf.function).regs[4 + i];
                assert_eq!(u64::from(r & !0xf), pci);
                assert!(taken.iter().all(|&(a, s)| cpu + size <= a || a + s <= cpu));
                taken.push((cpu, size));
            }
        }
    }
    assert_eq!(taken.len(), 4);
    let blk = find(&e, 0, 2);
    assert_eq!(virtio::device_type(&blk), Some(2));
    assert_eq!(
        blk.bars[0],
        Bar::Io { size: 0x80 },
        "I/O BAR reported, not assigned"
    );
    assert_eq!(blk.intx, irq(32 + 5));
    assert_eq!(virtio::device_type(&find(&e, 0, 0)), None);

    let (bar4, _) = gpu.mem_bar(4).unwrap();
    let caps = virtio::caps(&&m, &gpu).unwrap();
    let area = |off: u64| Area {
        pa: bar4 + off,
        len: 0x1000,
    };
    assert_eq!(caps.common, area(0));
    assert_eq!(caps.isr, area(0x1000));
    assert_eq!(caps.device, Some(area(0x2000)));
    assert_eq!(caps.notify, area(0x3000));
    assert_eq!(caps.notify_multiplier, 4);
}

#[test]
fn bridge_buses_windows_and_swizzle() {
    let mut port = Fake::new(0x1b36, 0x000c, 0x06_04_00, 1).bar(0, 0x1000, 0);
    // (Slot 2 behind a PCI-PCI bridge: PCIe root ports have only slot 0, but the
    // swizzle is the point here.)
    port.behind = vec![(2, 0, virtio_gpu())];
    let m = Model::new(vec![(3, 0, port), (4, 0, virtio_gpu())]);
    let e = enumerate(&host(), &m);
    let port = find(&e, 0, 3);
    assert_eq!(
        port.kind,
        Kind::Bridge {
            secondary: 1,
            subordinate: 1
        }
    );
    let behind = find(&e, 1, 2);
    assert_eq!(virtio::device_type(&behind), Some(16));
    // Slot 2 INTA behind the bridge in slot 3: pin swizzle(1, 2) = INTC at slot 3,
    // SPI 3 + (3 + 3 - 1) % 4 = SPI 4.
    assert_eq!(behind.intx, irq(32 + 4));
    // The bridge's memory window covers every BAR behind it, 1 MiB granular.
    let r = m.get(0, 3, 0).regs[8];
    let (base, limit) = (
        u64::from(r & 0xfff0) << 16,
        u64::from(r & 0xfff0_0000) | 0xf_ffff,
    );
    for b in behind.bars.iter() {
        if let Bar::Mem { pci, size, .. } = *b {
            assert!(
                base <= pci && pci + size - 1 <= limit,
                "{b:?} in {base:#x}..{limit:#x}"
            );
        }
    }
    // The device on the root bus after the bridge is outside that window.
    let (after, _) = find(&e, 0, 4).mem_bar(4).unwrap();
    assert!(after > limit);
    assert_eq!(*m.opened.borrow(), vec![0, 1]);
    // Depth first, each bridge before what is behind it.
    let order: Vec<(u8, u8)> = e
        .functions
        .iter()
        .map(|f| (f.bdf.bus, f.bdf.device))
        .collect();
    assert_eq!(order, vec![(0, 3), (1, 2), (0, 4)]);
}

#[test]
fn what_does_not_fit_or_is_broken_is_reported_not_fatal() {
    // A 1 GiB 32-bit BAR cannot fit QEMU's 751 MiB window; a 1 GiB 64-bit one goes to
    // the 64-bit window; a reserved BAR type; a capability list that loops.
    let big32 = Fake::new(0x1234, 1, 0x02_00_00, 0).bar(0, 1 << 30, 0);
    let big64 = Fake::new(0x1234, 2, 0x02_00_00, 0).bar(0, 1 << 30, 0b100);
    let mut odd = Fake::new(0x1234, 3, 0xff_00_00, 0).cap(0x40, 0x40, &[0x09]);
    odd.regs[4] = 0b010; // memory BAR of the reserved type
    odd.bar_masks[0] = 0xffff_f000;
    let m = Model::new(vec![(1, 0, big32), (2, 0, big64), (3, 0, odd)]);
    let e = enumerate(&host(), &m);
    let f = find(&e, 0, 1);
    assert_eq!(f.bars[0], Bar::Unfit { size: 1 << 30 });
    assert!(!f.memory_enabled);
    assert_eq!(m.get(0, 1, 0).regs[1] & 0b11, 0, "decoding left off");
    let f = find(&e, 0, 2);
    assert!(
        matches!(
            f.bars[0],
            Bar::Mem {
                cpu: 0x80_0000_0000,
                is64: true,
                ..
            }
        ),
        "{:?}",
        f.bars[0]
    );
    let f = find(&e, 0, 3);
    assert_eq!(f.bars[0], Bar::Reserved);
    assert_eq!(super::capabilities(&&m, &f).count(), 48, "bounded");
    assert!(virtio::caps(&&m, &f).is_err());
}

#[test]
fn multifunction_and_absent_functions() {
    let mut f0 = Fake::new(0x1234, 0x10, 0x02_00_00, 0x80);
    f0.regs[3] |= 0x80 << 16;
    let f3 = Fake::new(0x1234, 0x13, 0x02_00_00, 0);
    let single = Fake::new(0x1234, 0x20, 0x02_00_00, 0);
    // A function 1 under a single-function device must not be looked for.
    let m = Model::new(vec![
        (5, 0, f0),
        (5, 3, f3),
        (6, 0, single),
        (6, 1, Fake::new(0x1234, 0x21, 0, 0)),
    ]);
    let e = enumerate(&host(), &m);
    let ids: Vec<u16> = e.functions.iter().map(|f| f.device).collect();
    assert_eq!(ids, vec![0x10, 0x13, 0x20]);
}
