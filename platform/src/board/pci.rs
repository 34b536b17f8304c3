//! The generic PCIe host bridge (`pci-host-ecam-generic`, QEMU virt's `pcie@10000000`):
//! where its configuration space (ECAM) is, which buses it decodes, the windows through
//! which the CPU reaches its devices' BARs, how legacy interrupts (INTx) reach the GIC
//! (`interrupt-map`), the MSI controller (`msi-map`/`msi-parent`) and `dma-coherent`.
//!
//! Bindings: Linux `Documentation/devicetree/bindings/pci/host-generic-pci.yaml`,
//! `pci.txt` (the 3-cell PCI address), `pci-msi.txt`; Devicetree spec 2.4.3
//! (interrupt nexus, `interrupt-map`).

use arrayvec::ArrayVec;
use fdt::Fdt;

use super::decode::{gic_specifier, reg};
use super::tree::{cell, NodeRef};
use super::{BoardError, Irq, Region};

pub(crate) const PCI_ROLE: &str = "pci-host-ecam-generic PCIe host";
pub(crate) const PCI_HOST: &[&str] = &["pci-host-ecam-generic"];

/// What a `ranges` window maps (bits 25:24 of the PCI address's first cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PciSpace {
    /// I/O space (ss = 01).
    Io,
    /// 32-bit memory space (ss = 10).
    Mem32,
    /// 64-bit memory space (ss = 11).
    Mem64,
}

/// One `ranges` entry: `size` bytes of PCI space at `pci_base` seen by the CPU at
/// `cpu_base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciWindow {
    /// Address space.
    pub space: PciSpace,
    /// The `p` bit: prefetchable memory.
    pub prefetchable: bool,
    /// First PCI bus address.
    pub pci_base: u64,
    /// The CPU physical address of `pci_base`.
    pub cpu_base: u64,
    /// Length in bytes.
    pub size: u64,
}

/// One `interrupt-map` entry: a (device, pin) pattern and the GIC interrupt it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntxRoute {
    /// First cell of the child unit address (bus, device, function bits).
    pub child_hi: u32,
    /// INTx pin (1 = INTA .. 4 = INTD).
    pub pin: u32,
    /// The parent interrupt.
    pub irq: Irq,
}

/// The MSI controller the host's requester IDs are mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsiController {
    /// A GICv3 ITS (`arm,gic-v3-its`).
    GicV3Its,
    /// A GICv2m frame (`arm,gic-v2m-frame`).
    GicV2m,
    /// Something else.
    Other,
}

/// `msi-map` (or `msi-parent`): requester IDs from `rid_base` on, `length` of them, go
/// to `controller` as device IDs from `msi_base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciMsi {
    /// The controller's kind.
    pub controller: MsiController,
    /// The controller's phandle.
    pub phandle: u32,
    /// First requester ID mapped.
    pub rid_base: u32,
    /// Device ID of `rid_base` at the controller.
    pub msi_base: u32,
    /// How many IDs are mapped.
    pub length: u32,
    /// The controller's registers (for a GICv3 ITS: the control frame, then
    /// `GITS_TRANSLATER` at +0x10040), when the tree gives them.
    pub reg: Option<Region>,
}

impl PciMsi {
    /// The controller's device ID for requester ID `rid` (bus << 8 | devfn), if mapped.
    pub fn device_id(&self, rid: u32) -> Option<u32> {
        let off = rid.checked_sub(self.rid_base)?;
        (off < self.length).then(|| self.msi_base.wrapping_add(off))
    }
}

/// A generic ECAM PCIe host bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciHost {
    /// The ECAM configuration space (1 MiB per bus from `bus_start`).
    pub ecam: Region,
    /// First bus number (`bus-range`, default 0).
    pub bus_start: u8,
    /// Last bus number, clamped to what `ecam` can hold.
    pub bus_end: u8,
    /// `linux,pci-domain` (0 if absent).
    pub domain: u32,
    /// `ranges`.
    pub windows: ArrayVec<PciWindow, 4>,
    /// `interrupt-map-mask`: (first address cell, pin).
    pub intx_mask: (u32, u32),
    /// `interrupt-map`.
    pub intx: ArrayVec<IntxRoute, 32>,
    /// `msi-map` / `msi-parent`, if any.
    pub msi: Option<PciMsi>,
    /// The host has `dma-coherent`.
    pub dma_coherent: bool,
}

/// The first cell of a PCI unit address for bus/device/function (`pci.txt`).
pub const fn pci_address_hi(bus: u8, device: u8, function: u8) -> u32 {
    ((bus as u32) << 16) | ((device as u32 & 0x1f) << 11) | ((function as u32 & 7) << 8)
}

impl PciHost {
    /// The GIC interrupt of INTx `pin` (1..=4) of a function on the host's root bus, per
    /// `interrupt-map` (devices behind bridges: swizzle to the root-bus ancestor first).
    pub fn route_intx(&self, bus: u8, device: u8, function: u8, pin: u8) -> Option<Irq> {
        if !(1..=4).contains(&pin) {
            return None;
        }
        let (hi_mask, pin_mask) = self.intx_mask;
        let hi = pci_address_hi(bus, device, function) & hi_mask;
        let pin = u32::from(pin) & pin_mask;
        self.intx
            .iter()
            .find(|r| r.child_hi & hi_mask == hi && r.pin & pin_mask == pin)
            .map(|r| r.irq)
    }

    /// The window of `space` (the first one, if there are several).
    pub fn window(&self, space: PciSpace) -> Option<&PciWindow> {
        self.windows.iter().find(|w| w.space == space)
    }
}

fn cells_of(raw: &[u8]) -> impl Iterator<Item = u32> + '_ {
    raw.chunks_exact(4).map(|c| cell(c).unwrap_or(0))
}

fn join(cells: &[u32]) -> u64 {
    cells.iter().fold(0, |acc, &c| (acc << 32) | u64::from(c))
}

/// Decodes a `pci-host-ecam-generic` node.
pub(crate) fn host(fdt: &Fdt<'_>, n: &NodeRef<'_, '_>) -> Result<PciHost, BoardError> {
    let invalid = |what| BoardError::Invalid {
        node: PCI_ROLE,
        what,
    };
    let own_cells = |name, default| n.prop(name).and_then(cell).unwrap_or(default);
    if own_cells("#address-cells", 0) != 3 {
        return Err(invalid("#address-cells is not 3 (a PCI address)"));
    }
    let size_cells = own_cells("#size-cells", 0) as usize;
    if !(1..=2).contains(&size_cells) {
        return Err(invalid("#size-cells is not 1 or 2"));
    }
    let ecam = reg(n, PCI_ROLE, 0)?;
    let (bus_start, mut bus_end) = match n.prop("bus-range") {
        None => (0u32, 255u32),
        Some(raw) if raw.len() == 8 => (cell(raw).unwrap_or(0), cell(&raw[4..]).unwrap_or(0)),
        Some(_) => return Err(invalid("bus-range is not two cells")),
    };
    if bus_start > bus_end || bus_end > 255 {
        return Err(invalid("bus-range is not a range of bus numbers 0..=255"));
    }
    // 1 MiB of ECAM per bus: a window smaller than the range limits the buses (as Linux).
    let fits = ecam.size >> 20;
    if fits == 0 {
        return Err(invalid("ECAM reg is smaller than one bus (1 MiB)"));
    }
    bus_end = bus_end.min(bus_start + (fits - 1).min(255) as u32).min(255);

    let parent_ac = n.address_cells as usize;
    let entry = 3 + parent_ac + size_cells;
    let raw = n.prop("ranges").unwrap_or_default();
    if !raw.len().is_multiple_of(4 * entry) {
        return Err(invalid("ranges is not a whole number of entries"));
    }
    let mut windows = ArrayVec::new();
    for e in raw.chunks_exact(4 * entry) {
        let c: ArrayVec<u32, 7> = cells_of(e).collect();
        let space = match (c[0] >> 24) & 3 {
            1 => PciSpace::Io,
            2 => PciSpace::Mem32,
            3 => PciSpace::Mem64,
            _ => continue, // configuration space: not a window
        };
        let w = PciWindow {
            space,
            prefetchable: c[0] & (1 << 30) != 0,
            pci_base: join(&c[1..3]),
            cpu_base: join(&c[3..3 + parent_ac]),
            size: join(&c[3 + parent_ac..]),
        };
        if w.size == 0 || w.cpu_base.checked_add(w.size).is_none() {
            return Err(invalid("ranges entry is empty or wraps"));
        }
        windows
            .try_push(w)
            .map_err(|_| invalid("more than 4 ranges entries"))?;
    }
    if !windows.iter().any(|w| w.space != PciSpace::Io) {
        return Err(invalid("ranges has no memory window for BARs"));
    }

    let intx_mask = match n.prop("interrupt-map-mask") {
        None => (u32::MAX, u32::MAX),
        Some(raw) if raw.len() == 16 => {
            let c: ArrayVec<u32, 4> = cells_of(raw).collect();
            (c[0], c[3])
        }
        Some(_) => {
            return Err(invalid(
                "interrupt-map-mask is not 3 address cells + 1 pin cell",
            ))
        }
    };
    let intx = interrupt_map(fdt, n)?;
    Ok(PciHost {
        ecam,
        bus_start: bus_start as u8,
        bus_end: bus_end as u8,
        domain: n.prop("linux,pci-domain").and_then(cell).unwrap_or(0),
        windows,
        intx_mask,
        intx,
        msi: msi(fdt, n)?,
        dma_coherent: n.prop("dma-coherent").is_some(),
    })
}

/// `interrupt-map`: `<child-addr(3) pin(1) parent-phandle parent-addr(#address-cells of
/// the parent, 0 if absent) parent-spec(#interrupt-cells of the parent, 3 for a GIC)>`.
fn interrupt_map(
    fdt: &Fdt<'_>,
    n: &NodeRef<'_, '_>,
) -> Result<ArrayVec<IntxRoute, 32>, BoardError> {
    let invalid = |what| BoardError::Invalid {
        node: PCI_ROLE,
        what,
    };
    let mut out = ArrayVec::new();
    let Some(raw) = n.prop("interrupt-map") else {
        return Ok(out);
    };
    if n.prop("#interrupt-cells").and_then(cell) != Some(1) {
        return Err(invalid("#interrupt-cells is not 1 (an INTx pin)"));
    }
    if raw.len() / 4 > 512 {
        return Err(invalid("interrupt-map is longer than 512 cells"));
    }
    let c: ArrayVec<u32, 512> = cells_of(raw).collect();
    let mut i = 0;
    while i < c.len() {
        let get = |k: usize| {
            c.get(k)
                .copied()
                .ok_or(invalid("interrupt-map entry is cut short"))
        };
        let (hi, pin, phandle) = (get(i)?, get(i + 3)?, get(i + 4)?);
        let parent = fdt.find_phandle(phandle).ok_or(invalid(
            "interrupt-map names a phandle that matches no node",
        ))?;
        let parent_ac = parent
            .property("#address-cells")
            .and_then(|p| cell(p.value))
            .unwrap_or(0) as usize;
        if parent.interrupt_cells() != Some(3) || parent_ac > 3 {
            return Err(invalid(
                "interrupt-map parent is not a GIC (#interrupt-cells = 3)",
            ));
        }
        let spec = i + 5 + parent_ac;
        let irq = gic_specifier([get(spec)?, get(spec + 1)?, get(spec + 2)?], PCI_ROLE)?;
        out.try_push(IntxRoute {
            child_hi: hi,
            pin,
            irq,
        })
        .map_err(|_| invalid("interrupt-map has more than 32 entries"))?;
        i = spec + 3;
    }
    Ok(out)
}

fn msi(fdt: &Fdt<'_>, n: &NodeRef<'_, '_>) -> Result<Option<PciMsi>, BoardError> {
    let (phandle, rid_base, msi_base, length) = match (n.prop("msi-map"), n.prop("msi-parent")) {
        (Some(raw), _) => {
            if raw.len() < 16 {
                return Err(BoardError::Invalid {
                    node: PCI_ROLE,
                    what: "msi-map is shorter than one entry",
                });
            }
            let c: ArrayVec<u32, 4> = cells_of(raw).take(4).collect();
            (c[1], c[0], c[2], c[3])
        }
        (None, Some(raw)) => match cell(raw) {
            Some(p) => (p, 0, 0, 0x1_0000),
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    let controller = match fdt.find_phandle(phandle).and_then(|m| m.compatible()) {
        Some(c) if c.all().any(|s| s == "arm,gic-v3-its") => MsiController::GicV3Its,
        Some(c) if c.all().any(|s| s == "arm,gic-v2m-frame") => MsiController::GicV2m,
        _ => MsiController::Other,
    };
    Ok(Some(PciMsi {
        controller,
        phandle,
        rid_base,
        msi_base,
        length,
        reg: None,
    }))
}
