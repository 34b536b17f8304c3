//! PCI behind the FDT's generic ECAM host bridges: configuration space mapped bus by bus
//! as enumeration reaches it, enumeration itself (`platform::pci`: bus numbers, BARs in
//! the bridge's windows, INTx routes), the assigned BARs mapped Device-nGnRE, and the
//! record of which driver took which function for the boot report.
//!
//! Drivers find their functions through [`virtio_functions`]; the virtio transport
//! (`drivers::virtio::transport::pci`) claims the one it drives with [`claim`].
//! Interrupts are MSI-X through the GICv3 ITS where the host's `msi-map` names one
//! ([`msix`], `msi`), else INTx (level, through `interrupt-map`); the kernel argument
//! `pci=intx` forces INTx. GICv2m frames are not used (INTx there).

mod ecam;
mod msi;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use ecam::Ecam;
use platform::board::{GicInfo, Irq, MsiController, PciHost};
use platform::pci::{enumerate, Bar, Bdf, Enumeration, Function, Kind};
use spin::Mutex;

/// One host bridge after enumeration.
struct HostState {
    host: PciHost,
    ecam: Ecam,
    found: Enumeration,
    /// The driver of each function of `found` (same index), if one took it, and its
    /// interrupt.
    driver: Vec<Option<(&'static str, Via)>>,
}

/// How a driven function interrupts.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// Its INTx line (the GIC SPI).
    Intx(u32),
    /// MSI-X vector 0 through the ITS (the LPI).
    Msix(u32),
}

static HOSTS: Mutex<Vec<HostState>> = Mutex::new(Vec::new());
/// `pci=intx`: never set up MSI-X.
static INTX_ONLY: AtomicBool = AtomicBool::new(false);

/// Enumerate every host bridge and map what its functions decode. Errors mapping a
/// bus or a BAR leave that bus unscanned or that function without a usable BAR; they
/// are reported, never fatal.
pub fn init(hosts: &[PciHost], gic: &GicInfo, intx_only: bool) {
    msi::set_gic(gic);
    INTX_ONLY.store(intx_only, Ordering::SeqCst);
    let mut out = HOSTS.lock();
    for host in hosts {
        let mut ecam = Ecam::new(host);
        let found = enumerate(host, &mut ecam);
        for f in &found.functions {
            for bar in &f.bars {
                if let Bar::Mem { cpu, size, .. } = *bar {
                    if f.memory_enabled && crate::memory::kspace::map_device(cpu, size).is_err() {
                        log::warn!("pci: {}: could not map BAR at {cpu:#x}", f.bdf);
                    }
                }
            }
        }
        let driver = alloc::vec![None; found.functions.len()];
        out.push(HostState {
            host: host.clone(),
            ecam,
            found,
            driver,
        });
    }
}

/// A virtio function some driver may take: its host, its place, everything
/// enumeration recorded.
#[derive(Clone, Copy)]
pub struct Candidate {
    /// Index of its host bridge.
    pub host: usize,
    /// The function.
    pub function: Function,
}

/// Every virtio function with its memory decoding on, not yet claimed, in enumeration
/// order (QEMU's order of `-device` options on one bus).
pub fn virtio_functions(device_type: u32) -> Vec<Candidate> {
    let hosts = HOSTS.lock();
    let mut out = Vec::new();
    for (h, state) in hosts.iter().enumerate() {
        for (f, drv) in state.found.functions.iter().zip(&state.driver) {
            let wanted = platform::pci::virtio::device_type(f) == Some(device_type);
            if wanted && f.memory_enabled && drv.is_none() {
                out.push(Candidate {
                    host: h,
                    function: *f,
                });
            }
        }
    }
    out
}

/// Run `f` with the configuration space of host `host`.
pub fn with_config<R>(host: usize, f: impl FnOnce(&Ecam) -> R) -> Option<R> {
    HOSTS.lock().get(host).map(|s| f(&s.ecam))
}

/// Route MSI-X vector 0 of function `f` of host `host` to a new LPI through the ITS
/// (see `msi`); `Err` says why not (then use INTx).
pub fn msix(host: usize, f: &Function) -> Result<Irq, &'static str> {
    if INTX_ONLY.load(Ordering::SeqCst) {
        return Err("pci=intx");
    }
    let hosts = HOSTS.lock();
    let state = hosts.get(host).ok_or("no such host")?;
    let m = state.host.msi.ok_or("the host has no msi-map")?;
    if m.controller != MsiController::GicV3Its {
        return Err("the host's MSI controller is not a GICv3 ITS");
    }
    msi::enable_msix(&state.ecam, f, &m)
}

/// Record that `driver` drives function `bdf` of host `host`, interrupting `via`.
pub fn claim(host: usize, bdf: Bdf, driver: &'static str, via: Via) {
    if let Some(state) = HOSTS.lock().get_mut(host) {
        let at = state.found.functions.iter().position(|f| f.bdf == bdf);
        if let Some(i) = at {
            state.driver[i] = Some((driver, via));
        }
    }
}

/// The boot report's PCI lines: the host, then each function with its IDs, class,
/// BARs, interrupt and what drives it (or why nothing does).
pub fn report() {
    let hosts = HOSTS.lock();
    for state in hosts.iter() {
        let h = &state.host;
        let msi = match h.msi.map(|m| m.controller) {
            Some(MsiController::GicV3Its) if INTX_ONLY.load(Ordering::SeqCst) => {
                "GICv3 ITS (not used: pci=intx)"
            }
            Some(MsiController::GicV3Its) => "GICv3 ITS",
            Some(MsiController::GicV2m) => "GICv2m (not used: INTx)",
            Some(MsiController::Other) => "unknown controller (not used: INTx)",
            None => "none",
        };
        log::info!(
            "  pci     ECAM {:#x} buses {}..={}, {} functions{}, MSI {msi}",
            h.ecam.base,
            h.bus_start,
            h.bus_end,
            state.found.functions.len(),
            if h.dma_coherent { ", dma-coherent" } else { "" }
        );
        for (f, drv) in state.found.functions.iter().zip(&state.driver) {
            log_function(f, *drv);
        }
        if state.found.dropped > 0 {
            log::warn!(
                "  pci     {} more functions present but not enumerated (limit {})",
                state.found.dropped,
                platform::pci::MAX_FUNCTIONS
            );
        }
        if state.found.unreachable_buses > 0 {
            log::warn!(
                "  pci     {} buses could not be mapped and were not scanned",
                state.found.unreachable_buses
            );
        }
    }
}

fn log_function(f: &Function, driver: Option<(&'static str, Via)>) {
    let what = match platform::pci::virtio::device_type(f) {
        Some(t) => alloc::format!("virtio {}", platform::virtio_mmio::device_name(t)),
        None => alloc::format!("{:?}", f.class_name()),
    };
    let irq = match (f.pin, f.intx) {
        (0, _) => alloc::string::String::from("no INTx"),
        (p, Some(irq)) => alloc::format!("INT{} -> IRQ {}", (b'A' + p - 1) as char, irq.intid),
        (p, None) => alloc::format!("INT{} unrouted", (b'A' + p - 1) as char),
    };
    let mut bars = alloc::string::String::new();
    for (i, b) in f.bars.iter().enumerate() {
        use core::fmt::Write;
        let _ = match *b {
            Bar::Mem { cpu, size, .. } => write!(bars, " BAR{i} {cpu:#x}+{size:#x}"),
            Bar::Unfit { size } => write!(bars, " BAR{i} {size:#x} did not fit"),
            Bar::Io { size } => write!(bars, " BAR{i} I/O {size:#x} unassigned"),
            Bar::Reserved => write!(bars, " BAR{i} reserved type"),
            Bar::None => Ok(()),
        };
    }
    let status = match (driver, f.kind) {
        (Some((d, Via::Intx(n))), _) => alloc::format!("driven by {d} (INTx, IRQ {n})"),
        (Some((d, Via::Msix(n))), _) => {
            alloc::format!("driven by {d} (MSI-X through the ITS, LPI {n})")
        }
        (
            None,
            Kind::Bridge {
                secondary,
                subordinate,
            },
        ) => {
            alloc::format!("bridge to buses {secondary}..={subordinate}")
        }
        (None, Kind::BridgeNotScanned(why)) => alloc::format!("bridge not scanned: {why}"),
        (None, Kind::Other(t)) => alloc::format!("header type {t}: not supported"),
        (None, Kind::Endpoint) if f.class == (6, 0, 0) => "host bridge".into(),
        (None, Kind::Endpoint) if !f.memory_enabled => {
            "not supported: a BAR could not be assigned".into()
        }
        (None, Kind::Endpoint) => "not supported (no driver)".into(),
    };
    log::info!(
        "  pci     {} {:04x}:{:04x} {what},{bars} {irq}: {status}",
        f.bdf,
        f.vendor,
        f.device
    );
}
