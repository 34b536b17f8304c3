//! PCI enumeration behind a generic ECAM host bridge ([`crate::board::PciHost`]): find
//! every function, number the buses behind PCI-PCI bridges, size and assign memory
//! BARs inside the bridge's windows, route INTx through `interrupt-map`, and read the
//! capabilities a driver needs (virtio's vendor capabilities, MSI-X).
//!
//! Portable and host-tested: configuration space is reached through [`ConfigSpace`]
//! (the kernel implements it over the mapped ECAM; the tests over a model of devices).
//! Nothing a device reports makes this code panic or loop: capability lists and bridge
//! nesting are bounded, out-of-range values are reported per function.
//!
//! The `pci_types` crate supplies the configuration-space types (addresses, the common
//! header, the command register, bridge bus numbers, capability decoding, class names).
//! BAR sizing is written here: the crate's `EndpointHeader::bar` sizes with decoding
//! left on and panics on a reserved memory-BAR type, which a device could report.
//!
//! Not done here: I/O BARs are reported but not assigned (their decoding stays off;
//! virtio-pci modern devices need none); MSI-X is found ([`Function::msix`]) but
//! enabled by the kernel (through the GICv3 ITS, `gic::its`), plain MSI is not used;
//! bridges' prefetchable windows are left closed (prefetchable BARs go in the 32-bit
//! window, which PCI allows).

mod bars;
mod enumerate;
#[cfg(test)]
mod tests;
pub mod virtio;

pub use enumerate::{enumerate, Enumeration, MAX_FUNCTIONS};

use crate::board::Irq;
use pci_types::{ConfigRegionAccess, PciAddress};

/// Access to a host bridge's configuration space, one function's 4 KiB at a time.
pub trait ConfigSpace {
    /// Make bus `bus`'s configuration space reachable (e.g. map its 1 MiB of ECAM);
    /// `false` if it cannot be, and the bus is then not scanned.
    fn open_bus(&mut self, bus: u8) -> bool;
    /// The 32-bit register at `offset` (a multiple of 4, below 4096) of a function.
    /// Functions that do not exist read as all ones.
    fn read32(&self, bus: u8, device: u8, function: u8, offset: u16) -> u32;
    /// Write the 32-bit register at `offset` of a function.
    fn write32(&self, bus: u8, device: u8, function: u8, offset: u16, value: u32);
}

impl<T: ConfigSpace + ?Sized> ConfigSpace for &mut T {
    fn open_bus(&mut self, bus: u8) -> bool {
        (**self).open_bus(bus)
    }

    fn read32(&self, bus: u8, device: u8, function: u8, offset: u16) -> u32 {
        (**self).read32(bus, device, function, offset)
    }

    fn write32(&self, bus: u8, device: u8, function: u8, offset: u16, value: u32) {
        (**self).write32(bus, device, function, offset, value)
    }
}

/// The `pci_types` view of a [`ConfigSpace`] (offsets aligned down to 4 bytes, kept below
/// 4096, whatever a capability pointer said).
pub(crate) struct Access<'c, C: ?Sized>(pub &'c C);

// The trait's methods are `unsafe` for implementations that touch memory directly; these
// only forward to `ConfigSpace`'s safe accessors, which check the address themselves, so
// no caller obligation is relied on.
impl<C: ConfigSpace + ?Sized> ConfigRegionAccess for Access<'_, C> {
    /// # Safety
    /// None beyond the trait's: forwards to the safe [`ConfigSpace::read32`].
    unsafe fn read(&self, a: PciAddress, offset: u16) -> u32 {
        self.0
            .read32(a.bus(), a.device(), a.function(), offset & 0xffc)
    }

    /// # Safety
    /// None beyond the trait's: forwards to the safe [`ConfigSpace::write32`].
    unsafe fn write(&self, a: PciAddress, offset: u16, value: u32) {
        self.0
            .write32(a.bus(), a.device(), a.function(), offset & 0xffc, value)
    }
}

/// A bus/device/function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device (slot) number, 0..32.
    pub device: u8,
    /// Function number, 0..8.
    pub function: u8,
}

impl Bdf {
    pub(crate) fn address(&self) -> PciAddress {
        PciAddress::new(0, self.bus, self.device, self.function)
    }
}

impl core::fmt::Display for Bdf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// One base address register after enumeration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bar {
    /// Not implemented (or the upper half of a 64-bit BAR).
    None,
    /// Memory, assigned: the device decodes `size` bytes at `pci`, which the CPU reaches
    /// at `cpu`.
    Mem {
        /// CPU physical address.
        cpu: u64,
        /// PCI bus address programmed into the BAR.
        pci: u64,
        /// Length in bytes (a power of two).
        size: u64,
        /// A 64-bit BAR (uses the next slot too).
        is64: bool,
        /// Prefetchable.
        prefetchable: bool,
    },
    /// Memory that did not fit the host's windows: left unassigned.
    Unfit {
        /// Length in bytes.
        size: u64,
    },
    /// I/O space: not assigned (I/O decoding stays off).
    Io {
        /// Length in bytes.
        size: u32,
    },
    /// A memory BAR of the reserved type (bits 2:1 = 01 or 11): unusable.
    Reserved,
}

/// What kind of function it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A type 0 header (an endpoint).
    Endpoint,
    /// A PCI-PCI bridge (type 1) and the buses it was given.
    Bridge {
        /// Its secondary bus.
        secondary: u8,
        /// The last bus behind it.
        subordinate: u8,
    },
    /// A bridge whose buses could not be numbered or scanned (the reason).
    BridgeNotScanned(&'static str),
    /// Another header type (CardBus bridge, unknown).
    Other(u8),
}

/// One PCI function as enumeration left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Where it is.
    pub bdf: Bdf,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Subsystem vendor and ID (endpoints; 0 for bridges).
    pub subsystem: (u16, u16),
    /// Base class, subclass, programming interface.
    pub class: (u8, u8, u8),
    /// Revision ID.
    pub revision: u8,
    /// Header type.
    pub kind: Kind,
    /// BARs 0..6 (bridges: 0..2).
    pub bars: [Bar; 6],
    /// Memory decoding was enabled (every memory BAR got an address).
    pub memory_enabled: bool,
    /// INTx pin (1 = INTA .. 4 = INTD), 0 for none.
    pub pin: u8,
    /// The GIC interrupt INTx reaches, through the swizzle and `interrupt-map`.
    pub intx: Option<Irq>,
    /// Offset of the first capability, 0 for none.
    pub capabilities: u8,
    /// MSI-X table size, if the function has MSI-X.
    pub msix: Option<u16>,
}

impl Function {
    /// A human name for the function's class (from `pci_types::device_type`).
    pub fn class_name(&self) -> pci_types::device_type::DeviceType {
        pci_types::device_type::DeviceType::from((self.class.0, self.class.1))
    }

    /// The memory BAR `index`, if it was assigned.
    pub fn mem_bar(&self, index: u8) -> Option<(u64, u64)> {
        match self.bars.get(usize::from(index))? {
            Bar::Mem { cpu, size, .. } => Some((*cpu, *size)),
            _ => None,
        }
    }

    /// Let the function master the bus (issue DMA): what a driver does before starting
    /// the device. Also keeps INTx enabled.
    pub fn enable_bus_master(&self, cfg: &impl ConfigSpace) {
        let access = Access(cfg);
        let mut header = pci_types::PciHeader::new(self.bdf.address());
        header.update_command(&access, |c| {
            (c | pci_types::CommandRegister::BUS_MASTER_ENABLE)
                - pci_types::CommandRegister::INTERRUPT_DISABLE
        });
    }
}

/// Iterate a function's capability list as (id, offset): bounded (48 entries, the most
/// 192 bytes of header space can hold) and with pointers aligned, so a looping or
/// garbage list ends.
pub fn capabilities<'c, C: ConfigSpace + ?Sized>(
    cfg: &'c C,
    f: &Function,
) -> impl Iterator<Item = (u8, u8)> + 'c {
    let bdf = f.bdf;
    let mut at = f.capabilities & 0xfc;
    (0..48).map_while(move |_| {
        if at < 0x40 {
            return None;
        }
        let word = cfg.read32(bdf.bus, bdf.device, bdf.function, u16::from(at));
        let here = at;
        at = ((word >> 8) as u8) & 0xfc;
        Some((word as u8, here))
    })
}
