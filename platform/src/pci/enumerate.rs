//! Depth-first enumeration: scan a bus, give every bridge the next bus number and scan
//! behind it, assign BARs in discovery order, and close each bridge's memory window
//! around what was assigned behind it.

use arrayvec::ArrayVec;
use pci_types::{CommandRegister, HeaderType, PciHeader, PciPciBridgeHeader};

use super::bars::{size_bars, Sized, Windows};
use super::{Access, Bar, Bdf, ConfigSpace, Function, Kind};
use crate::board::PciHost;

/// Most functions recorded (the rest are counted in [`Enumeration::dropped`]).
pub const MAX_FUNCTIONS: usize = 32;
/// Deepest bridge nesting followed.
const MAX_DEPTH: usize = 6;

/// What enumeration found.
#[derive(Debug, Clone, Default)]
pub struct Enumeration {
    /// Every function, in bus/device/function order of discovery.
    pub functions: ArrayVec<Function, MAX_FUNCTIONS>,
    /// Functions found beyond [`MAX_FUNCTIONS`] (present, not recorded).
    pub dropped: usize,
    /// Buses that could not be opened (not scanned).
    pub unreachable_buses: usize,
}

struct Walk<'h, C> {
    host: &'h PciHost,
    cfg: C,
    windows: Windows,
    next_bus: u16,
    out: Enumeration,
}

/// Enumerate everything behind `host`: bus numbers, BARs, memory decoding, INTx
/// routes. Bus mastering is left to drivers ([`Function::enable_bus_master`]).
pub fn enumerate<C: ConfigSpace>(host: &PciHost, cfg: C) -> Enumeration {
    let mut w = Walk {
        host,
        cfg,
        windows: Windows::new(host),
        next_bus: u16::from(host.bus_start) + 1,
        out: Enumeration::default(),
    };
    let mut path = ArrayVec::new();
    w.scan_bus(host.bus_start, &mut path);
    w.out
}

/// The INTx swizzle across one bridge (PCI-PCI Bridge spec 9.1).
fn swizzle(pin: u8, device: u8) -> u8 {
    ((pin - 1 + device % 4) % 4) + 1
}

impl<C: ConfigSpace> Walk<'_, C> {
    fn read(&self, bdf: Bdf, off: u16) -> u32 {
        self.cfg.read32(bdf.bus, bdf.device, bdf.function, off)
    }

    /// `path`: the bridges from the root bus down to this bus (device numbers).
    fn scan_bus(&mut self, bus: u8, path: &mut ArrayVec<Bdf, MAX_DEPTH>) {
        if !self.cfg.open_bus(bus) {
            self.out.unreachable_buses += 1;
            return;
        }
        for device in 0..32u8 {
            for function in 0..8u8 {
                let bdf = Bdf {
                    bus,
                    device,
                    function,
                };
                let access = Access(&self.cfg);
                let header = PciHeader::new(bdf.address());
                let (vendor, _) = header.id(&access);
                if vendor == 0xffff || vendor == 0 {
                    if function == 0 {
                        break;
                    }
                    continue;
                }
                let multi = header.has_multiple_functions(&access);
                self.function(bdf, &header, path);
                if function == 0 && !multi {
                    break;
                }
            }
        }
    }

    fn function(&mut self, bdf: Bdf, header: &PciHeader, path: &mut ArrayVec<Bdf, MAX_DEPTH>) {
        let access = Access(&self.cfg);
        let (vendor, device) = header.id(&access);
        let (revision, base, sub, prog_if) = header.revision_and_class(&access);
        let header_type = header.header_type(&access);
        let int_reg = self.read(bdf, 0x3c);
        let pin = ((int_reg >> 8) & 0xff) as u8;
        let has_caps = header.status(&access).has_capability_list();
        let capabilities = if has_caps {
            (self.read(bdf, 0x34) & 0xfc) as u8
        } else {
            0
        };
        let subsystem = match header_type {
            HeaderType::Endpoint => {
                let s = self.read(bdf, 0x2c);
                (s as u16, (s >> 16) as u16)
            }
            _ => (0, 0),
        };
        let root_bus = path.is_empty();
        let bar_count = match header_type {
            HeaderType::Endpoint => 6,
            HeaderType::PciPciBridge => 2,
            _ => 0,
        };
        let sized = size_bars(&self.cfg, bdf, bar_count);
        let (bars, all_assigned) = self.assign(bdf, &sized, root_bus);
        let mut f = Function {
            bdf,
            vendor,
            device,
            subsystem,
            class: (base, sub, prog_if),
            revision,
            kind: Kind::Endpoint,
            bars,
            memory_enabled: false,
            pin: if (1..=4).contains(&pin) { pin } else { 0 },
            intx: None,
            capabilities,
            msix: None,
        };
        f.intx = self.route(&f, path);
        f.msix = super::capabilities(&self.cfg, &f)
            .find(|&(id, _)| id == 0x11)
            .map(|(_, at)| ((self.read(bdf, u16::from(at)) >> 16) as u16 & 0x7ff) + 1);
        let enable = |cfg: &C, on: bool| {
            let mut h = PciHeader::new(bdf.address());
            h.update_command(Access(cfg), |c| {
                let c = c - CommandRegister::IO_ENABLE;
                if on {
                    c | CommandRegister::MEMORY_ENABLE
                } else {
                    c - CommandRegister::MEMORY_ENABLE
                }
            });
        };
        match header_type {
            HeaderType::Endpoint => {
                f.memory_enabled = all_assigned;
                enable(&self.cfg, all_assigned);
            }
            HeaderType::PciPciBridge => {
                // Recorded before what is behind it (depth-first, in bus order).
                let at = self.record(f);
                f.kind = self.bridge(bdf, path);
                f.memory_enabled = all_assigned && matches!(f.kind, Kind::Bridge { .. });
                enable(&self.cfg, f.memory_enabled);
                if let Some(slot) = at.and_then(|i| self.out.functions.get_mut(i)) {
                    *slot = f;
                }
                return;
            }
            HeaderType::CardBusBridge => f.kind = Kind::Other(2),
            HeaderType::Unknown(t) => f.kind = Kind::Other(t),
            _ => f.kind = Kind::Other(0xff),
        }
        self.record(f);
    }

    /// Keep `f` (its index), or count it as dropped.
    fn record(&mut self, f: Function) -> Option<usize> {
        match self.out.functions.try_push(f) {
            Ok(()) => Some(self.out.functions.len() - 1),
            Err(_) => {
                self.out.dropped += 1;
                None
            }
        }
    }

    /// Addresses for the sized BARs; true if every memory BAR got one.
    fn assign(&mut self, bdf: Bdf, sized: &[Sized; 6], root_bus: bool) -> ([Bar; 6], bool) {
        let mut bars = [Bar::None; 6];
        let mut all = true;
        for (i, s) in sized.iter().enumerate() {
            bars[i] = match *s {
                Sized::Mem {
                    size,
                    is64,
                    prefetchable,
                } => match self.windows.alloc(size, is64, root_bus) {
                    Some((pci, cpu)) => {
                        let off = 0x10 + 4 * i as u16;
                        let low = self.read(bdf, off) & 0xf;
                        let w = |o, v| self.cfg.write32(bdf.bus, bdf.device, bdf.function, o, v);
                        w(off, (pci as u32 & !0xf) | low);
                        if is64 {
                            w(off + 4, (pci >> 32) as u32);
                        }
                        Bar::Mem {
                            cpu,
                            pci,
                            size,
                            is64,
                            prefetchable,
                        }
                    }
                    None => {
                        all = false;
                        s.unassigned()
                    }
                },
                other => other.unassigned(),
            };
        }
        (bars, all)
    }

    /// Number the bridge's buses, scan behind it, and open its memory window around what
    /// was assigned there.
    fn bridge(&mut self, bdf: Bdf, path: &mut ArrayVec<Bdf, MAX_DEPTH>) -> Kind {
        if path.is_full() {
            return Kind::BridgeNotScanned("bridges nested too deeply");
        }
        if self.next_bus > u16::from(self.host.bus_end) {
            return Kind::BridgeNotScanned("no bus number left in the host's bus-range");
        }
        let secondary = self.next_bus as u8;
        self.next_bus += 1;
        let bridge =
            PciPciBridgeHeader::from_header(PciHeader::new(bdf.address()), Access(&self.cfg));
        let Some(bridge) = bridge else {
            return Kind::BridgeNotScanned("header type changed under enumeration");
        };
        let set_buses = |cfg: &C, subordinate: u8| {
            bridge.update_bus_number(Access(cfg), |mut b| {
                b.primary = bdf.bus;
                b.secondary = secondary;
                b.subordinate = subordinate;
                b
            });
        };
        set_buses(&self.cfg, self.host.bus_end);
        let w = |cfg: &C, off: u16, v: u32| cfg.write32(bdf.bus, bdf.device, bdf.function, off, v);
        // I/O and prefetchable windows closed (base above limit).
        w(&self.cfg, 0x1c, 0x0000_00f0);
        w(&self.cfg, 0x24, 0x0000_fff0);
        w(&self.cfg, 0x28, 0);
        w(&self.cfg, 0x2c, 0);
        let start = self.windows.bridge_start();
        path.push(bdf);
        self.scan_bus(secondary, path);
        path.pop();
        let subordinate = (self.next_bus - 1) as u8;
        set_buses(&self.cfg, subordinate);
        // Memory window [start, end) in 1 MiB units: base in bits 15:4, limit in 31:20.
        let window = start.and_then(|s| Some((s, self.windows.bridge_end(s)?)));
        let reg = match window {
            Some((s, e)) => (((s >> 16) as u32) & 0xfff0) | (((e - 1) as u32) & 0xfff0_0000),
            None => 0x0000_fff0,
        };
        w(&self.cfg, 0x20, reg);
        Kind::Bridge {
            secondary,
            subordinate,
        }
    }

    /// INTx: swizzle up to the root bus, then the host's `interrupt-map`.
    fn route(&self, f: &Function, path: &ArrayVec<Bdf, MAX_DEPTH>) -> Option<crate::board::Irq> {
        if f.pin == 0 {
            return None;
        }
        let Some(top) = path.first() else {
            return self
                .host
                .route_intx(f.bdf.bus, f.bdf.device, f.bdf.function, f.pin);
        };
        // The function's own slot, then every bridge's but the one on the root bus.
        let mut pin = swizzle(f.pin, f.bdf.device);
        for b in path.iter().skip(1).rev() {
            pin = swizzle(pin, b.device);
        }
        self.host.route_intx(top.bus, top.device, top.function, pin)
    }
}
