//! Board discovery: turns the FDT into a [`BoardInfo`].
//!
//! [`BoardInfo::parse`] first validates the blob's structure (see `validate`), then
//! walks it with the `fdt` crate, decoding only what the kernel needs. Any missing or
//! unusable piece is reported as a [`BoardError`] naming the node and property.

mod bootargs;
mod chosen;
mod decode;
mod devices;
mod early;
mod error;
mod normalize;
mod pci;
mod tree;
mod validate;

use arrayvec::ArrayVec;
use fdt::Fdt;

pub use bootargs::BootArgs;
pub use early::early_uart;
pub use error::BoardError;
pub use normalize::{normalize, normalize_dropping};
pub use pci::{pci_address_hi, IntxRoute, MsiController, PciHost, PciMsi, PciSpace, PciWindow};
pub use validate::{check as check_blob, fdt_total_size};

use tree::NodeRef;

/// A physical address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Region {
    /// One past the last byte (saturating at `u64::MAX`).
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    /// Whether `addr` lies inside the region.
    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr < self.end()
    }
}

/// How an interrupt line signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Edge-triggered (rising or falling).
    Edge,
    /// Level-sensitive (high or low).
    Level,
}

/// A GIC interrupt: SPI n is INTID 32 + n, PPI n is INTID 16 + n.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Irq {
    /// GIC interrupt ID.
    pub intid: u32,
    /// Trigger mode, from the specifier's flags cell.
    pub trigger: Trigger,
}

/// The interrupt controller and its MMIO frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GicInfo {
    /// GICv2 (`arm,cortex-a15-gic`, `arm,gic-400`, ...).
    V2 {
        /// Distributor (GICD).
        dist: Region,
        /// CPU interface (GICC).
        cpu: Region,
    },
    /// GICv3 (`arm,gic-v3`).
    V3 {
        /// Distributor (GICD).
        dist: Region,
        /// First redistributor region (GICR frames for all CPUs).
        redist: Region,
    },
}

/// The PSCI conduit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciMethod {
    /// `hvc #0` (firmware at EL2 — QEMU's default).
    Hvc,
    /// `smc #0` (firmware at EL3, or QEMU with `virtualization=on`).
    Smc,
}

/// One CPU of `/cpus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuInfo {
    /// Its `reg`: the MPIDR_EL1 affinity fields (Aff3..Aff0), the target of PSCI
    /// `CPU_ON`.
    pub mpidr: u64,
    /// `enable-method = "psci"` (others, e.g. `spin-table`, cannot be started here).
    pub psci: bool,
}

/// Most CPUs the kernel knows about.
pub const MAX_CPUS: usize = 16;

/// The console UART (PL011).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartInfo {
    /// MMIO registers.
    pub reg: Region,
    /// Its interrupt, if the node has one.
    pub irq: Option<Irq>,
}

/// The ARM generic timer's interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerInfo {
    /// EL1 virtual timer PPI (CNTV).
    pub virt_irq: Irq,
    /// EL1 non-secure physical timer PPI (CNTP).
    pub phys_irq: Irq,
}

/// One `virtio,mmio` transport slot (possibly empty — probe it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioMmioSlot {
    /// MMIO registers.
    pub reg: Region,
    /// Its interrupt.
    pub irq: Irq,
    /// The node has `dma-coherent` (no cache maintenance needed for DMA).
    pub dma_coherent: bool,
}

/// Everything the kernel needs to know about the machine, from the FDT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardInfo<'a> {
    /// First string of the root `compatible` (`"linux,dummy-virt"` on QEMU).
    pub model: &'a str,
    /// RAM regions (`device_type = "memory"`), sorted by base.
    pub memory: ArrayVec<Region, 8>,
    /// Memory not to be used: the reservation block plus `/reserved-memory`
    /// children that have a `reg`.
    pub reserved: ArrayVec<Region, 16>,
    /// Console UART.
    pub uart: UartInfo,
    /// Interrupt controller.
    pub gic: GicInfo,
    /// Generic timer interrupts.
    pub timer: TimerInfo,
    /// PSCI conduit.
    pub psci: PsciMethod,
    /// `virtio,mmio` slots, sorted by base address.
    pub virtio_mmio: ArrayVec<VirtioMmioSlot, 32>,
    /// Generic ECAM PCIe host bridges (`pci-host-ecam-generic`), in tree order.
    pub pci: ArrayVec<PciHost, 2>,
    /// The CPUs of `/cpus` (enabled ones, `device_type = "cpu"`), in tree order; empty
    /// if the tree lists none (the boot CPU still runs).
    pub cpus: ArrayVec<CpuInfo, MAX_CPUS>,
    /// `/chosen/bootargs`, `""` if absent.
    pub bootargs: &'a str,
    /// Initial ramdisk from `/chosen/linux,initrd-start` and `-end`.
    pub initrd: Option<Region>,
    /// The blob's `totalsize`.
    pub dtb_size: usize,
}

impl<'a> BoardInfo<'a> {
    /// Parses a flattened device tree.
    ///
    /// `dtb` may be longer than the blob (only `totalsize` bytes are used). Never
    /// panics: malformed, truncated or incomplete trees give a [`BoardError`].
    pub fn parse(dtb: &'a [u8]) -> Result<Self, BoardError> {
        let size = fdt_total_size(dtb)?;
        let blob = dtb.get(..size).ok_or(BoardError::Truncated {
            needed: size,
            got: dtb.len(),
        })?;
        validate::check(blob)?;
        let fdt = Fdt::new(blob).map_err(error::from_fdt)?;
        let root = NodeRef::root(&fdt)?;
        let model = root_model(&root)?;
        let mut found = devices::scan(&fdt, root)?;
        devices::add_reservation_block(&fdt, &mut found.reserved)?;
        let chosen = chosen::parse(root)?;
        let uart = devices::console_uart(&fdt, chosen.stdout, found.first_uart)?;
        Ok(Self {
            model,
            memory: found.memory,
            reserved: found.reserved,
            uart,
            gic: found.gic,
            timer: found.timer,
            psci: found.psci,
            virtio_mmio: found.virtio,
            pci: found.pci,
            cpus: found.cpus,
            bootargs: chosen.bootargs,
            initrd: chosen.initrd,
            dtb_size: size,
        })
    }

    /// The kernel command line as key/value tokens.
    pub fn boot_args(&self) -> BootArgs<'a> {
        BootArgs::new(self.bootargs)
    }
}

fn root_model<'a>(root: &NodeRef<'_, 'a>) -> Result<&'a str, BoardError> {
    let raw = root.prop("compatible").ok_or(BoardError::MissingProperty {
        node: "/",
        property: "compatible",
    })?;
    let first = raw.split(|&b| b == 0).next().unwrap_or_default();
    match core::str::from_utf8(first) {
        Ok(s) if !s.is_empty() => Ok(s),
        Ok(_) => Err(BoardError::Invalid {
            node: "/",
            what: "compatible is empty",
        }),
        Err(_) => Err(BoardError::Invalid {
            node: "/",
            what: "compatible is not UTF-8",
        }),
    }
}
