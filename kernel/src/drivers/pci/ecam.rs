//! The kernel's window on ECAM configuration space: 1 MiB per bus at
//! `ecam.base + (bus - bus_start) << 20`, mapped Device-nGnRE bus by bus the first time
//! enumeration opens it; buses never opened read as all ones (no function).

use crate::memory::kspace;
use crate::memory::layout::LINEAR_BASE;
use platform::board::PciHost;
use platform::pci::ConfigSpace;

/// One host bridge's configuration space.
pub struct Ecam {
    base: u64,
    bus_start: u8,
    bus_end: u8,
    /// Bit `bus` set: that bus's 1 MiB is mapped.
    open: [u64; 4],
}

impl Ecam {
    /// The ECAM of `host`, nothing mapped yet.
    pub fn new(host: &PciHost) -> Self {
        Self {
            base: host.ecam.base,
            bus_start: host.bus_start,
            bus_end: host.bus_end,
            open: [0; 4],
        }
    }

    fn is_open(&self, bus: u8) -> bool {
        self.open[usize::from(bus / 64)] & (1 << (bus % 64)) != 0
    }

    /// Kernel address of a register, if its bus is mapped.
    fn register(&self, bus: u8, device: u8, function: u8, offset: u16) -> Option<*mut u32> {
        if !self.is_open(bus) || device >= 32 || function >= 8 {
            return None;
        }
        let off = (u64::from(bus - self.bus_start) << 20)
            | (u64::from(device) << 15)
            | (u64::from(function) << 12)
            | u64::from(offset & 0xffc);
        Some((LINEAR_BASE + self.base + off) as *mut u32)
    }
}

impl ConfigSpace for Ecam {
    fn open_bus(&mut self, bus: u8) -> bool {
        if bus < self.bus_start || bus > self.bus_end {
            return false;
        }
        if !self.is_open(bus) {
            let pa = self.base + (u64::from(bus - self.bus_start) << 20);
            if kspace::map_device(pa, 1 << 20).is_err() {
                return false;
            }
            self.open[usize::from(bus / 64)] |= 1 << (bus % 64);
        }
        true
    }

    fn read32(&self, bus: u8, device: u8, function: u8, offset: u16) -> u32 {
        match self.register(bus, device, function, offset) {
            // SAFETY: the register lies in the bus's 1 MiB of ECAM, mapped Device-nGnRE
            // by `open_bus` for the kernel's life; an aligned 32-bit read of
            // configuration space (absent functions read as all ones).
            Some(p) => unsafe { core::ptr::read_volatile(p) },
            None => u32::MAX,
        }
    }

    fn write32(&self, bus: u8, device: u8, function: u8, offset: u16, value: u32) {
        if let Some(p) = self.register(bus, device, function, offset) {
            // SAFETY: as in `read32`; configuration writes are how enumeration and the
            // drivers program the function, which the kernel alone owns.
            unsafe { core::ptr::write_volatile(p, value) };
        }
    }
}
