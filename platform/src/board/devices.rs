//! Finding the devices the kernel needs in one walk over the tree.

use arrayvec::ArrayVec;
use fdt::Fdt;

use super::decode::{irq, reg, regs, required_irq};
use super::pci::{self, PciHost, PCI_HOST, PCI_ROLE};
use super::tree::NodeRef;
use super::{
    BoardError, CpuInfo, GicInfo, PsciMethod, Region, TimerInfo, UartInfo, VirtioMmioSlot, MAX_CPUS,
};

pub(crate) const GIC_ROLE: &str = "interrupt controller (arm,gic-v3 / arm,cortex-a15-gic)";
pub(crate) const TIMER_ROLE: &str = "arm,armv8-timer";
pub(crate) const PSCI_ROLE: &str = "/psci";
pub(crate) const UART_ROLE: &str = "arm,pl011 UART";
const MEMORY_ROLE: &str = "memory";
const RESERVED_ROLE: &str = "/reserved-memory";
const VIRTIO_ROLE: &str = "virtio,mmio";

const GIC_V2: &[&str] = &[
    "arm,cortex-a15-gic",
    "arm,gic-400",
    "arm,cortex-a9-gic",
    "arm,cortex-a7-gic",
];
const GIC_V3: &[&str] = &["arm,gic-v3"];
const TIMER: &[&str] = &["arm,armv8-timer", "arm,armv7-timer"];
const PSCI: &[&str] = &["arm,psci-1.0", "arm,psci-0.2", "arm,psci"];
pub(crate) const PL011: &[&str] = &["arm,pl011"];
const VIRTIO: &[&str] = &["virtio,mmio"];

/// What one walk over the tree found.
pub(crate) struct Found<'b, 'a> {
    pub memory: ArrayVec<Region, 8>,
    pub reserved: ArrayVec<Region, 16>,
    pub gic: GicInfo,
    pub timer: TimerInfo,
    pub psci: PsciMethod,
    pub virtio: ArrayVec<VirtioMmioSlot, 32>,
    pub pci: ArrayVec<PciHost, 2>,
    pub cpus: ArrayVec<CpuInfo, MAX_CPUS>,
    pub first_uart: Option<NodeRef<'b, 'a>>,
}

/// Nodes of interest, located by the walk and decoded afterwards, so that a missing
/// interrupt controller is reported as such rather than as a dangling phandle.
struct Nodes<'b, 'a> {
    gic: Option<NodeRef<'b, 'a>>,
    timer: Option<NodeRef<'b, 'a>>,
    psci: Option<NodeRef<'b, 'a>>,
    uart: Option<NodeRef<'b, 'a>>,
    virtio: ArrayVec<NodeRef<'b, 'a>, 32>,
    pci: ArrayVec<NodeRef<'b, 'a>, 2>,
    /// MSI controllers (GICv3 ITS, GICv2m frames) that have a phandle.
    msi: ArrayVec<NodeRef<'b, 'a>, 4>,
}

fn push<T, const N: usize>(
    v: &mut ArrayVec<T, N>,
    x: T,
    node: &'static str,
    what: &'static str,
) -> Result<(), BoardError> {
    v.try_push(x)
        .map_err(|_| BoardError::Invalid { node, what })
}

/// Walks every enabled node once, then decodes what the kernel needs.
pub(crate) fn scan<'b, 'a: 'b>(
    fdt: &'b Fdt<'a>,
    root: NodeRef<'b, 'a>,
) -> Result<Found<'b, 'a>, BoardError> {
    let mut memory = ArrayVec::<Region, 8>::new();
    let mut reserved = ArrayVec::new();
    let mut cpus = ArrayVec::<CpuInfo, MAX_CPUS>::new();
    let mut nodes = Nodes {
        gic: None,
        timer: None,
        psci: None,
        uart: None,
        virtio: ArrayVec::new(),
        pci: ArrayVec::new(),
        msi: ArrayVec::new(),
    };
    root.walk(&mut |n: &NodeRef<'b, 'a>| {
        if n.prop_str("device_type") == Some("memory") {
            for r in regs(n, MEMORY_ROLE)? {
                push(&mut memory, r, MEMORY_ROLE, "more than 8 memory regions")?;
            }
        }
        if n.depth == 2 && n.parent_name == "cpus" && n.prop_str("device_type") == Some("cpu") {
            push(&mut cpus, cpu(n)?, CPU_ROLE, "more than 16 CPUs")?;
        }
        if n.depth == 2 && n.parent_name == "reserved-memory" && n.prop("reg").is_some() {
            for r in regs(n, RESERVED_ROLE)? {
                push(
                    &mut reserved,
                    r,
                    RESERVED_ROLE,
                    "more than 16 reserved regions",
                )?;
            }
        }
        let first = |slot: &mut Option<NodeRef<'b, 'a>>, matches: bool| {
            if slot.is_none() && matches {
                *slot = Some(*n);
            }
        };
        first(
            &mut nodes.gic,
            n.is_compatible(GIC_V3) || n.is_compatible(GIC_V2),
        );
        first(&mut nodes.timer, n.is_compatible(TIMER));
        first(
            &mut nodes.psci,
            n.is_compatible(PSCI) || (n.depth == 1 && n.node.name == "psci"),
        );
        first(&mut nodes.uart, n.is_compatible(PL011));
        if n.prop("msi-controller").is_some() && n.prop("phandle").is_some() {
            let _ = nodes.msi.try_push(*n);
        }
        if n.is_compatible(PCI_HOST) {
            push(
                &mut nodes.pci,
                *n,
                PCI_ROLE,
                "more than 2 PCIe host bridges",
            )?;
        }
        if n.is_compatible(VIRTIO) {
            push(
                &mut nodes.virtio,
                *n,
                VIRTIO_ROLE,
                "more than 32 virtio,mmio nodes",
            )?;
        }
        Ok(())
    })?;
    if memory.is_empty() {
        return Err(BoardError::MissingNode(MEMORY_ROLE));
    }
    memory.sort_unstable_by_key(|r| r.base);
    let gic = gic(&nodes.gic.ok_or(BoardError::MissingNode(GIC_ROLE))?)?;
    let timer = timer(
        fdt,
        &nodes.timer.ok_or(BoardError::MissingNode(TIMER_ROLE))?,
    )?;
    let psci = psci(&nodes.psci.ok_or(BoardError::MissingNode(PSCI_ROLE))?)?;
    let mut virtio = ArrayVec::<VirtioMmioSlot, 32>::new();
    for n in &nodes.virtio {
        virtio.push(VirtioMmioSlot {
            reg: reg(n, VIRTIO_ROLE, 0)?,
            irq: required_irq(fdt, n, VIRTIO_ROLE, 0)?,
            dma_coherent: n.prop("dma-coherent").is_some(),
        });
    }
    virtio.sort_unstable_by_key(|s| s.reg.base);
    let mut hosts = ArrayVec::new();
    for n in &nodes.pci {
        let mut h = pci::host(fdt, n)?;
        if let Some(msi) = h.msi.as_mut() {
            let controller = nodes
                .msi
                .iter()
                .find(|m| m.prop("phandle").and_then(super::tree::cell) == Some(msi.phandle));
            msi.reg = controller.and_then(|m| reg(m, "MSI controller", 0).ok());
        }
        hosts.push(h);
    }
    Ok(Found {
        memory,
        reserved,
        gic,
        timer,
        psci,
        virtio,
        pci: hosts,
        cpus,
        first_uart: nodes.uart,
    })
}

const CPU_ROLE: &str = "/cpus/cpu";

/// A `/cpus/cpu@N` node: its MPIDR (`reg`, one or two cells by the parent's
/// `#address-cells`) and whether PSCI starts it.
fn cpu(n: &NodeRef<'_, '_>) -> Result<CpuInfo, BoardError> {
    let invalid = |what| BoardError::Invalid {
        node: CPU_ROLE,
        what,
    };
    let raw = n.prop("reg").ok_or(BoardError::MissingProperty {
        node: CPU_ROLE,
        property: "reg",
    })?;
    let mpidr = match (n.address_cells, raw.len()) {
        (1, 4) => u64::from(super::tree::cell(raw).unwrap_or(0)),
        (2, 8) => raw
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0),
        _ => {
            return Err(invalid(
                "reg is not one MPIDR of #address-cells (1 or 2) cells",
            ))
        }
    };
    Ok(CpuInfo {
        mpidr,
        psci: n.prop_str("enable-method") == Some("psci"),
    })
}

fn gic(n: &NodeRef<'_, '_>) -> Result<GicInfo, BoardError> {
    let (first, second) = (reg(n, GIC_ROLE, 0)?, reg(n, GIC_ROLE, 1)?);
    Ok(if n.is_compatible(GIC_V3) {
        GicInfo::V3 {
            dist: first,
            redist: second,
        }
    } else {
        GicInfo::V2 {
            dist: first,
            cpu: second,
        }
    })
}

/// Timer `interrupts` order: secure phys, non-secure phys, virtual, hypervisor.
fn timer(fdt: &Fdt<'_>, n: &NodeRef<'_, '_>) -> Result<TimerInfo, BoardError> {
    Ok(TimerInfo {
        phys_irq: required_irq(fdt, n, TIMER_ROLE, 1)?,
        virt_irq: required_irq(fdt, n, TIMER_ROLE, 2)?,
    })
}

fn psci(n: &NodeRef<'_, '_>) -> Result<PsciMethod, BoardError> {
    match n.prop_str("method") {
        Some("hvc") => Ok(PsciMethod::Hvc),
        Some("smc") => Ok(PsciMethod::Smc),
        Some(_) => Err(BoardError::Invalid {
            node: PSCI_ROLE,
            what: "method is neither \"hvc\" nor \"smc\"",
        }),
        None => Err(BoardError::MissingProperty {
            node: PSCI_ROLE,
            property: "method",
        }),
    }
}

/// The console: the `stdout-path` node if it is a PL011, else the first PL011.
pub(crate) fn console_uart(
    fdt: &Fdt<'_>,
    stdout: Option<NodeRef<'_, '_>>,
    first: Option<NodeRef<'_, '_>>,
) -> Result<UartInfo, BoardError> {
    let node = stdout
        .filter(|n| n.is_compatible(PL011))
        .or(first)
        .ok_or(BoardError::MissingNode(UART_ROLE))?;
    Ok(UartInfo {
        reg: reg(&node, UART_ROLE, 0)?,
        irq: irq(fdt, &node, UART_ROLE, 0)?,
    })
}

/// Adds the header's memory reservation block (`/memreserve/`) entries.
pub(crate) fn add_reservation_block(
    fdt: &Fdt<'_>,
    out: &mut ArrayVec<Region, 16>,
) -> Result<(), BoardError> {
    const ROLE: &str = "memory reservation block";
    for entry in fdt.memory_reservations() {
        let (base, size) = (entry.address() as u64, entry.size() as u64);
        if size == 0 {
            continue;
        }
        if base.checked_add(size).is_none() {
            return Err(BoardError::Invalid {
                node: ROLE,
                what: "entry wraps past the end of the address space",
            });
        }
        push(
            out,
            Region { base, size },
            ROLE,
            "more than 16 reserved regions",
        )?;
    }
    Ok(())
}
