//! MSI-X through the GICv3 ITS: LPIs enabled on this CPU's redistributor, the ITS given
//! its tables and a command queue, then per function: its device ID mapped to an
//! interrupt translation table, event 0 mapped to a fresh LPI, and MSI-X table entry 0
//! pointed at `GITS_TRANSLATER` with that event. Set up on first use; any failure is
//! reported to the caller, which falls back to INTx.
//!
//! Memory for the tables comes from `buffer::dma_alloc` (zeroed, non-cacheable; the
//! GIC registers say so) and is never freed: the ITS and the redistributor own it for
//! the kernel's life.

use super::ecam::Ecam;
use crate::memory::kspace;
use crate::memory::layout::LINEAR_BASE;
use aarch64_cpu::registers::{Readable, MPIDR_EL1};
use mm::addr::PAGE_SIZE;
use platform::board::{GicInfo, Irq, PciMsi, Region, Trigger};
use platform::gic::its::{self, Its, FIRST_LPI, ID_BITS};
use platform::pci::{capabilities, ConfigSpace, Function};
use spin::Mutex;

/// The one collection (this CPU).
const ICID: u16 = 0;
/// Event ID bits per device (vector 0 only; the ITT has room for two).
const EVENT_BITS: u32 = 1;

/// The ITS and what this module keeps about it.
struct ItsState {
    its: Its,
    /// Doorbell: `GITS_TRANSLATER`'s physical address.
    translater: u64,
    /// Kernel address of the LPI configuration table.
    prop_va: u64,
    /// The MAPC/SYNC target of this CPU's redistributor.
    rdbase: u64,
    next_lpi: u32,
}

enum Slot {
    Untried,
    Ready(ItsState),
    Failed(&'static str),
}

// SAFETY: the ITS registers and tables are reached only through the ITS lock.
unsafe impl Send for ItsState {}

static ITS: Mutex<Slot> = Mutex::new(Slot::Untried);
static GIC: Mutex<Option<GicInfo>> = Mutex::new(None);

/// Remember the interrupt controller (the ITS is set up on first use).
pub fn set_gic(gic: &GicInfo) {
    *GIC.lock() = Some(*gic);
}

/// Zeroed, non-cacheable, physically contiguous pages owned forever: (pa, va).
fn table(pages: usize) -> Option<(u64, u64)> {
    let (pa, va) = crate::buffer::dma_alloc(pages)?;
    Some((pa.as_u64(), va.as_ptr() as u64))
}

fn bring_up(its_reg: Region) -> Result<ItsState, &'static str> {
    let Some(GicInfo::V3 { redist, .. }) = *GIC.lock() else {
        return Err("the interrupt controller is not a GICv3");
    };
    kspace::map_device(its_reg.base, 0x1_0000).map_err(|_| "cannot map the ITS")?;
    // SAFETY: the redistributor region was mapped Device-nGnRE at boot (GIC regions are
    // in the kernel's device map).
    let rd_va = unsafe {
        platform::gic::redistributor_for(
            (LINEAR_BASE + redist.base) as usize,
            redist.size as usize,
            MPIDR_EL1.get(),
        )
    };
    let (prop_pa, prop_va) = table(its::PROP_TABLE_BYTES.div_ceil(PAGE_SIZE as usize))
        .ok_or("no memory for the LPI configuration table")?;
    // 16 pages from the buddy allocator are 64 KiB aligned, as the pending table must be.
    let (pend_pa, _) = table(16).ok_or("no memory for the LPI pending table")?;
    if pend_pa % 0x1_0000 != 0 {
        return Err("the LPI pending table is not 64 KiB aligned");
    }
    // SAFETY: `rd_va` is this CPU's mapped RD_base frame; both tables are fresh, zeroed,
    // non-cacheable and never given to anyone else.
    let proc_num = unsafe { its::enable_lpis(rd_va, prop_pa, pend_pa) }?;
    let (queue_pa, queue_va) = table(1).ok_or("no memory for the ITS command queue")?;
    // SAFETY: the ITS control frame was just mapped; the queue and the tables the closure
    // hands out are fresh, zeroed, non-cacheable and owned by the ITS from now on.
    let its = unsafe {
        Its::new(
            (LINEAR_BASE + its_reg.base) as usize,
            queue_va as usize,
            queue_pa,
            PAGE_SIZE as usize,
            |_ty, entry| {
                // Room for device IDs (and collections) up to 4095: every requester ID
                // of buses 0..=15.
                let pages = (4096 * entry).div_ceil(PAGE_SIZE).max(1);
                table(pages as usize).map(|(pa, _)| (pa, pages))
            },
        )
    }?;
    let rd_pa = rd_va as u64 - LINEAR_BASE;
    let rdbase = if its.info().pta {
        rd_pa >> 16
    } else {
        proc_num
    };
    let mut state = ItsState {
        its,
        translater: its_reg.base + its::TRANSLATER,
        prop_va,
        rdbase,
        next_lpi: FIRST_LPI,
    };
    state
        .its
        .run(&[its::mapc(ICID, rdbase), its::sync(rdbase)])?;
    Ok(state)
}

/// Route MSI-X vector 0 of `f` through the ITS `msi` names to a new LPI and enable
/// MSI-X; returns the LPI. On error nothing is enabled on the function.
pub fn enable_msix(cfg: &Ecam, f: &Function, msi: &PciMsi) -> Result<Irq, &'static str> {
    let reg = msi
        .reg
        .ok_or("the MSI controller has no reg in the device tree")?;
    let (_, cap) = capabilities(cfg, f)
        .find(|&(id, _)| id == 0x11)
        .ok_or("no MSI-X capability")?;
    let bdf = f.bdf;
    let rd = |off: u16| cfg.read32(bdf.bus, bdf.device, bdf.function, off);
    let table = rd(u16::from(cap) + 4);
    let (bar_pa, bar_size) = f
        .mem_bar((table & 7) as u8)
        .ok_or("the MSI-X table's BAR is not assigned")?;
    let offset = u64::from(table & !7);
    if offset + 16 > bar_size {
        return Err("the MSI-X table lies outside its BAR");
    }
    let rid = (u32::from(bdf.bus) << 8) | (u32::from(bdf.device) << 3) | u32::from(bdf.function);
    let devid = msi
        .device_id(rid)
        .ok_or("msi-map does not cover the function")?;

    let mut slot = ITS.lock();
    if let Slot::Untried = *slot {
        *slot = match bring_up(reg) {
            Ok(s) => Slot::Ready(s),
            Err(e) => Slot::Failed(e),
        };
    }
    let state = match &mut *slot {
        Slot::Ready(s) => s,
        Slot::Failed(e) => return Err(e),
        Slot::Untried => return Err("ITS not set up"),
    };
    if devid >= 4096 {
        return Err("device ID beyond the ITS device table");
    }
    if state.next_lpi >= 1 << ID_BITS {
        return Err("out of LPIs");
    }
    let lpi = state.next_lpi;
    let itt_bytes = u64::from(state.its.info().itt_entry) << EVENT_BITS;
    let (itt_pa, _) = self::table(itt_bytes.div_ceil(PAGE_SIZE) as usize)
        .ok_or("no memory for the interrupt translation table")?;
    // SAFETY: the LPI's byte lies inside the configuration table (lpi < 1 << ID_BITS),
    // which this module owns and maps non-cacheable.
    unsafe {
        core::ptr::write_volatile(
            (state.prop_va + u64::from(lpi - FIRST_LPI)) as *mut u8,
            its::LPI_ENABLED_PRIO_A0,
        )
    };
    state.its.run(&[
        its::mapd(devid, itt_pa, EVENT_BITS),
        its::mapti(devid, 0, lpi, ICID),
        its::invall(ICID),
        its::sync(state.rdbase),
    ])?;
    state.next_lpi += 1;

    // MSI-X table entry 0: doorbell address, event 0, unmasked; then MSI-X on.
    let entry = LINEAR_BASE + bar_pa + offset;
    let words = [
        state.translater as u32,
        (state.translater >> 32) as u32,
        0,
        0,
    ];
    for (k, w) in words.iter().enumerate() {
        // SAFETY: entry 0 lies inside the assigned, mapped BAR (checked above).
        unsafe { core::ptr::write_volatile((entry + 4 * k as u64) as *mut u32, *w) };
    }
    let control = rd(u16::from(cap));
    let control = (control | (1 << 31)) & !(1 << 30);
    cfg.write32(bdf.bus, bdf.device, bdf.function, u16::from(cap), control);
    Ok(Irq {
        intid: lpi,
        trigger: Trigger::Edge,
    })
}
